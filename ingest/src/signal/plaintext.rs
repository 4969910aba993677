//! Signal's plaintext chat export (Signal Android 8.10 and later): a folder
//! with `metadata.json`, `main.jsonl` (first line BackupInfo, then one
//! backup `Frame` per line in proto3 JSON: 64-bit integers as strings, bytes
//! as base64) and the decrypted media under `files/` (docs/FORMAT.md §15),
//! or the same zipped. A message backup's frames, decrypted and decoded,
//! are read by the same reader.
//!
//! `main.jsonl` is read line by line; recipients and chats come before the
//! chat items that name them, so only those two small tables are held.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use serde_json::{json, Value};
use spoor_normalize::text::normalize_text;
use spoor_normalize::{
    BlobRef, Conversation, Deletion, Links, Locator, Party, Record, RecordId, RecordKind,
    RecordTime, Revision, Sha256, Source, RECORD_SCHEMA,
};

use super::message_backup::{self, Fault, RecoveryKey};
use crate::read::{stream_out, Blob, Item, Limits, Quarantined, Stop, Store, PARSER};
use crate::zipped::{self, Entry};
use zip::ZipArchive;

/// Format name of the plaintext export, as a folder.
pub(crate) const FORMAT: &str = "signal/plaintext-export";
/// Format name of the plaintext export delivered as a zip.
pub(crate) const FORMAT_ZIP: &str = "signal/plaintext-export-zip";

/// What the export never holds, stated in every package made from one.
pub(crate) const LIMITATIONS: &str =
    "Signal leaves disappearing and view-once message content out of its exports; \
     a chat item with an expiry timer holds no text, and view-once media is absent";

/// Is `dir` a plaintext export (`main.jsonl` and `metadata.json`)?
pub(crate) fn is_export(dir: &Path) -> bool {
    dir.join("main.jsonl").is_file() && dir.join("metadata.json").is_file()
}

/// Where the export's `main.jsonl` and `metadata.json` are inside a zip:
/// at its root or in one folder (the prefix, ending in `/`).
pub(crate) fn export_root_in_zip(entries: &[Entry]) -> Option<String> {
    let safe = |name: &str| {
        entries
            .iter()
            .any(|e| e.unsafe_name.is_none() && e.name == name)
    };
    entries
        .iter()
        .filter(|e| e.unsafe_name.is_none())
        .filter_map(|e| e.name.strip_suffix("main.jsonl"))
        .filter(|prefix| {
            prefix.is_empty() || (prefix.ends_with('/') && prefix.matches('/').count() == 1)
        })
        .find(|prefix| safe(&format!("{prefix}metadata.json")))
        .map(str::to_owned)
}

/// Where the export is and what it may cost.
pub(crate) struct ExportContext<'a> {
    /// The folder, or the zip file.
    pub(crate) root: &'a Path,
    pub(crate) export_sha256: Sha256,
    pub(crate) limits: &'a Limits,
}

impl<'a> ExportContext<'a> {
    /// The export at `root`, read with `options`.
    pub(crate) fn new(root: &'a Path, options: &'a crate::read::ReadOptions) -> Self {
        ExportContext {
            root,
            export_sha256: options.export_sha256,
            limits: &options.limits,
        }
    }
}

/// A recipient as the chat items need it.
#[derive(Clone, Debug)]
struct Person {
    /// Stable key: `aci:<uuid>`, `e164:+…`, `group:<hash>`, `self`…
    key: String,
    party: Party,
    /// Group title, for group recipients.
    title: Option<String>,
}

/// Reads the export folder at `context.root`, handing records out in file
/// order.
pub(crate) fn read_export_folder<E>(
    context: &ExportContext<'_>,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<Vec<Value>, Stop<io::Error, E>> {
    let media = MediaIndex::of_folder(&context.root.join("files")).map_err(Stop::Input)?;
    let main = File::open(context.root.join("main.jsonl")).map_err(Stop::Input)?;
    let source = Opened {
        main: BufReader::with_capacity(1 << 20, main),
        main_path: "main.jsonl".to_owned(),
        format: FORMAT,
        media,
        frames: false,
    };
    read_main(context, source, emit)
}

/// Reads a message backup folder (`SignalBackups/`, or one snapshot of it)
/// at `context.root` with the recovery key: its newest complete snapshot,
/// media from the pool when the export holds it.
pub(crate) fn read_message_backup<E>(
    context: &ExportContext<'_>,
    key: &RecoveryKey,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<Vec<Value>, Stop<Fault, E>> {
    let snapshot = message_backup::choose_snapshot(context.root).map_err(Stop::Input)?;
    let frames = message_backup::open_snapshot(&snapshot, key).map_err(Stop::Input)?;
    let keys = message_backup::MediaKeys::default();
    let lines =
        message_backup::JsonLines::new(frames, context.limits.max_message_bytes, keys.clone());
    let main_path = if snapshot.rel.is_empty() {
        "main".to_owned()
    } else {
        format!("{}/main", snapshot.rel)
    };
    let pool = match snapshot.pool {
        Some(dir) => Pool::Here { dir, keys },
        None => Pool::NotDelivered,
    };
    let source = Opened {
        main: BufReader::with_capacity(1 << 20, lines),
        main_path,
        format: message_backup::FORMAT,
        media: MediaIndex::of_pool(pool),
        frames: true,
    };
    let mut decisions = vec![json!({
        "decision": "signal-backup-snapshot",
        "path": null,
        "value": { "read": snapshot.rel, "not_read": snapshot.others },
        "basis": "the newest complete snapshot (signal-backup-YYYY-MM-DD-HH-MM-SS with main and metadata); a -tmp one is unfinished, older ones are earlier states of the same account; all stay in the original",
    })];
    decisions.extend(read_main(context, source, emit).map_err(|e| match e {
        Stop::Input(e) => Stop::Input(Fault::BrokeOff(e)),
        Stop::Sink(e) => Stop::Sink(e),
    })?);
    Ok(decisions)
}

/// Reads a bare, unencrypted message-backup frame stream (`.binproto`).
pub(crate) fn read_message_stream<E>(
    context: &ExportContext<'_>,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<Vec<Value>, Stop<io::Error, E>> {
    let file = File::open(context.root).map_err(Stop::Input)?;
    let lines = message_backup::JsonLines::new(
        BufReader::with_capacity(1 << 16, file),
        context.limits.max_message_bytes,
        message_backup::MediaKeys::default(),
    );
    let source = Opened {
        main: BufReader::with_capacity(1 << 20, lines),
        main_path: String::new(),
        format: message_backup::FORMAT_PLAIN,
        media: MediaIndex::of_pool(Pool::NotDelivered),
        frames: true,
    };
    read_main(context, source, emit)
}

/// Reads the export zipped at `context.root`, its files under `prefix`
/// (from [`export_root_in_zip`]); entries are read by name, bounded, never
/// extracted.
pub(crate) fn read_export_zip<E>(
    context: &ExportContext<'_>,
    prefix: &str,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<Vec<Value>, Stop<io::Error, E>> {
    let open = |path| zipped::open(path).map_err(|e| Stop::Input(io::Error::other(e)));
    let (mut main_archive, media_archive) = (open(context.root)?, open(context.root)?);
    let entries = zipped::entries(&main_archive);
    let main_path = format!("{prefix}main.jsonl");
    let Some(main) = entries.iter().find(|e| e.name == main_path) else {
        return Err(Stop::Input(io::Error::other(format!(
            "{main_path} is not in the zip"
        ))));
    };
    let media = MediaIndex::of_zip(
        media_archive,
        &entries,
        &format!("{prefix}files/"),
        context.limits,
    );
    let main = zipped::open_entry(&mut main_archive, main.index, context.limits)
        .map_err(|e| Stop::Input(io::Error::other(format!("{main_path}: {e}"))))?;
    let source = Opened {
        main: BufReader::with_capacity(1 << 20, main),
        main_path,
        format: FORMAT_ZIP,
        media,
        frames: false,
    };
    read_main(context, source, emit)
}

/// What an export is read from.
struct Opened<R> {
    main: R,
    /// `main.jsonl`'s path in the export, for locators.
    main_path: String,
    format: &'static str,
    media: MediaIndex,
    /// Each line is a frame of a message backup, decoded: locators name
    /// the frame (the BackupInfo being frame 0), not the line.
    frames: bool,
}

fn read_main<E, R: BufRead>(
    context: &ExportContext<'_>,
    source: Opened<R>,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<Vec<Value>, Stop<io::Error, E>> {
    let main_path = source.main_path.clone();
    let mut reader = Reader {
        context,
        format: source.format,
        recipients: HashMap::new(),
        chats: HashMap::new(),
        media: source.media,
        account_name: None,
    };
    let lines = source.main.split(b'\n');
    let mut number = 0u64;
    let mut decisions = vec![json!({
        "decision": "signal-limitations",
        "path": main_path,
        "value": LIMITATIONS,
        "basis": "Signal's export rules (docs/FORMAT.md §15)",
    })];
    for line in lines {
        let line = line.map_err(Stop::Input)?;
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let locator = Locator {
            path: (!main_path.is_empty()).then(|| main_path.clone()),
            lines: (!source.frames).then_some([number, number]),
            frame: source.frames.then_some(number - 1),
            ..Locator::default()
        };
        let frame: Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) => {
                let item = quarantine(locator, format!("not JSON: {e}"), line);
                emit(item).map_err(Stop::Sink)?;
                continue;
            }
        };
        if number == 1 {
            // The media root key is a secret; the rest describes the export.
            let mut frame = frame;
            if let Some(info) = frame.as_object_mut() {
                info.remove("mediaRootBackupKey");
            }
            decisions.push(json!({
                "decision": "signal-backup-info",
                "path": main_path,
                "value": frame,
                "basis": "the first line of main.jsonl (BackupInfo)",
            }));
            continue;
        }
        // Attachments are streamed to the store while the frame is read,
        // ahead of the records that name them.
        let mut stopped = None;
        let items = reader.frame(&frame, locator, &line, &mut |bytes| {
            stream_out(emit, &mut stopped, bytes)
        });
        if let Some(e) = stopped {
            return Err(Stop::Sink(e));
        }
        for item in items {
            emit(item).map_err(Stop::Sink)?;
        }
    }
    if !reader.media.unreadable.is_empty() {
        decisions.push(json!({
            "decision": "signal-unreadable-files",
            "path": reader.media.root,
            "value": reader.media.unreadable,
            "basis": "media entries of the zip that could not be read (damaged, or unpacking past the bound); kept in the original",
        }));
    }
    let unlinked = reader.media.unreferenced();
    if !unlinked.is_empty() {
        decisions.push(json!({
            "decision": "signal-unreferenced-files",
            "path": reader.media.root,
            "value": unlinked,
            "basis": "media files whose SHA-256 no attachment names; kept in the original",
        }));
    }
    Ok(decisions)
}

fn quarantine(locator: Locator, reason: String, raw: Vec<u8>) -> Item<'static> {
    Item::Quarantine(Quarantined {
        locator,
        reason,
        raw_size: raw.len() as u64,
        raw,
    })
}

struct Reader<'a> {
    context: &'a ExportContext<'a>,
    format: &'static str,
    recipients: HashMap<String, Person>,
    /// Chat id → recipient id.
    chats: HashMap<String, String>,
    media: MediaIndex,
    account_name: Option<String>,
}

/// What a chat item adds to its record, gathered step by step.
struct Body {
    kind: RecordKind,
    text: Option<String>,
    deletion: Option<Deletion>,
    flags: Vec<String>,
    warnings: Vec<String>,
    attachments: Vec<BlobRef>,
    blobs: Vec<Blob>,
    links: Links,
    extra: std::collections::BTreeMap<String, Value>,
}

impl Body {
    /// A message with no content yet, known in its source as `source_id`.
    fn new(source_id: String) -> Body {
        Body {
            kind: RecordKind::Message,
            text: None,
            deletion: None,
            flags: Vec::new(),
            warnings: Vec::new(),
            attachments: Vec::new(),
            blobs: Vec::new(),
            links: Links {
                source_id: Some(source_id),
                ..Links::default()
            },
            extra: std::collections::BTreeMap::new(),
        }
    }

    /// The envelope around the item: direction, time received, expiry.
    fn envelope(&mut self, outer: &Value) {
        let direction = ["incoming", "outgoing", "directionless"]
            .into_iter()
            .find(|d| outer.get(*d).is_some())
            .unwrap_or("unknown");
        self.extra
            .insert("direction".to_owned(), Value::from(direction));
        if let Some(received) = outer
            .pointer(&format!("/{direction}/dateReceived"))
            .and_then(int)
        {
            self.extra
                .insert("date_received_ms".to_owned(), Value::from(received));
        }
        if outer
            .get("expiresInMs")
            .and_then(int)
            .is_some_and(|ms| ms > 0)
        {
            self.flags.push("disappearing".to_owned());
        }
    }

    /// A group or chat update: a system event.
    fn update(&mut self, update: &Value) {
        self.kind = RecordKind::SystemEvent;
        let (name, detail) = update
            .as_object()
            .and_then(|o| o.iter().next())
            .map_or(("unknown".to_owned(), Value::Null), |(k, v)| {
                (k.clone(), v.clone())
            });
        let label = detail
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.extra.insert(
            "system_event".to_owned(),
            json!({ "type": name, "subtype": label, "detail": detail }),
        );
    }

    /// Contacts, stickers, polls and the rest: kept whole, flagged by kind.
    fn other_kind(&mut self, item: &Value) {
        let Some((name, value)) = item.as_object().and_then(|o| {
            [
                "contactMessage",
                "stickerMessage",
                "viewOnceMessage",
                "poll",
                "paymentNotification",
                "giftBadge",
                "directStoryReplyMessage",
            ]
            .into_iter()
            .find_map(|k| o.get(k).map(|v| (k, v)))
        }) else {
            return;
        };
        self.flags.push(name.to_owned());
        self.extra.insert(name.to_owned(), value.clone());
        if name == "viewOnceMessage" {
            self.flags.push("view-once".to_owned());
        }
    }
}

/// A proto3-JSON 64-bit integer (a string) or a plain number, as text.
fn int_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    int_text(value)?.parse().ok()
}

/// Epoch milliseconds as a record time.
fn millis(value: &Value) -> RecordTime {
    time_from_millis(int(value))
}

/// Epoch milliseconds (Signal's times) as a record time.
pub(crate) fn time_from_millis(ms: Option<i64>) -> RecordTime {
    let Some(ms) = ms else {
        return RecordTime::unresolved(None, "no time in the source");
    };
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => RecordTime {
            utc: Some(spoor_normalize::format_utc(ts)),
            source_text: Some(ms.to_string()),
            ..RecordTime::default()
        },
        Err(_) => RecordTime::unresolved(Some(&ms.to_string()), "instant out of range"),
    }
}

/// A 16-byte service id (base64 in the export) as a UUID.
fn uuid(base64: &str) -> Option<String> {
    let bytes = BASE64.decode(base64.as_bytes()).ok()?;
    if bytes.len() != 16 {
        return None;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

fn text_of<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Reader<'_> {
    fn frame(
        &mut self,
        frame: &Value,
        locator: Locator,
        line: &[u8],
        store: &mut Store<'_>,
    ) -> Vec<Item<'static>> {
        if let Some(account) = frame.get("account") {
            let name = [
                text_of(account, "givenName"),
                text_of(account, "familyName"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            self.account_name = (!name.is_empty()).then_some(name);
            return Vec::new();
        }
        if let Some(recipient) = frame.get("recipient") {
            match self.recipient(recipient) {
                Some((id, person)) => {
                    self.recipients.insert(id, person);
                    return Vec::new();
                }
                None => {
                    return vec![quarantine(
                        locator,
                        "recipient without an id".to_owned(),
                        line.to_vec(),
                    )];
                }
            }
        }
        if let Some(chat) = frame.get("chat") {
            if let (Some(id), Some(recipient)) = (
                chat.get("id").and_then(int_text),
                chat.get("recipientId").and_then(int_text),
            ) {
                self.chats.insert(id, recipient);
            }
            return Vec::new();
        }
        if let Some(item) = frame.get("chatItem") {
            return self.chat_item(item, locator, line, store);
        }
        // Sticker packs, calls, folders, profiles: kept in the original.
        Vec::new()
    }

    fn recipient(&self, recipient: &Value) -> Option<(String, Person)> {
        let id = recipient.get("id").and_then(int_text)?;
        let person = if let Some(contact) = recipient.get("contact") {
            let name = [
                text_of(contact, "systemGivenName"),
                text_of(contact, "systemFamilyName"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let profile = [
                text_of(contact, "profileGivenName"),
                text_of(contact, "profileFamilyName"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let name = [name, profile].into_iter().find(|n| !n.is_empty());
            let aci = text_of(contact, "aci").and_then(uuid);
            let e164 = contact
                .get("e164")
                .and_then(int_text)
                .map(|n| format!("+{n}"));
            let (address, address_type) = match (&e164, &aci) {
                (Some(e), _) => (Some(e.clone()), Some("e164".to_owned())),
                (None, Some(a)) => (Some(a.clone()), Some("signal-aci".to_owned())),
                _ => (None, None),
            };
            let key = aci
                .as_ref()
                .map(|a| format!("aci:{a}"))
                .or_else(|| e164.as_ref().map(|e| format!("e164:{e}")))
                .unwrap_or_else(|| format!("recipient:{id}"));
            Person {
                key,
                party: Party {
                    name: name.map(|n| normalize_text(&n)),
                    address,
                    address_type,
                },
                title: None,
            }
        } else if let Some(group) = recipient.get("group") {
            // The master key is a secret: the group is named by its hash.
            let key = text_of(group, "masterKey")
                .map(|k| format!("group:{}", &Sha256::of(k.as_bytes()).to_hex()[..32]))
                .unwrap_or_else(|| format!("recipient:{id}"));
            let title = group
                .pointer("/snapshot/title/title")
                .and_then(Value::as_str)
                .map(normalize_text);
            Person {
                key,
                party: Party {
                    name: title.clone(),
                    ..Party::default()
                },
                title,
            }
        } else if recipient.get("self").is_some() {
            Person {
                key: "self".to_owned(),
                party: Party {
                    name: self
                        .account_name
                        .clone()
                        .or_else(|| Some("self".to_owned())),
                    ..Party::default()
                },
                title: None,
            }
        } else {
            let kind = recipient
                .as_object()
                .and_then(|o| o.keys().find(|k| *k != "id").cloned())
                .unwrap_or_default();
            Person {
                key: format!("{kind}:{id}"),
                party: Party {
                    name: Some(kind),
                    ..Party::default()
                },
                title: None,
            }
        };
        Some((id, person))
    }

    fn person(&self, id: Option<String>) -> Option<&Person> {
        self.recipients.get(&id?)
    }

    /// A chat item, and before it its earlier revisions (edits), each a
    /// record linked to the one before.
    fn chat_item(
        &mut self,
        item: &Value,
        locator: Locator,
        line: &[u8],
        store: &mut Store<'_>,
    ) -> Vec<Item<'static>> {
        let Some(chat_id) = item.get("chatId").and_then(int_text) else {
            return vec![quarantine(
                locator,
                "chat item without a chatId".to_owned(),
                line.to_vec(),
            )];
        };
        let chat_recipient = self.chats.get(&chat_id).cloned();
        let Some(chat) = self.person(chat_recipient.clone()).cloned() else {
            return vec![quarantine(
                locator,
                format!(
                    "chat item of chat {chat_id}, which no earlier chat or recipient frame defines"
                ),
                line.to_vec(),
            )];
        };
        if !CHAT_ITEM_KINDS.iter().any(|k| item.get(*k).is_some()) {
            let keys: Vec<&str> = item
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return vec![quarantine(
                locator,
                format!(
                    "a chat item of a kind this reader does not know (fields {}); kept with its JSON, never as an empty message",
                    keys.join(", ")
                ),
                line.to_vec(),
            )];
        }
        let mut items = Vec::new();
        let mut previous: Option<RecordId> = None;
        let revisions = item
            .get("revisions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let count = revisions.len();
        for (index, revision) in revisions.iter().enumerate() {
            let (record, blobs) = self.record(
                revision,
                &chat,
                &locator,
                Some((index, previous.clone())),
                item,
                store,
            );
            previous = Some(record.id.clone());
            items.push(Item::Record(Box::new(record), blobs));
        }
        let current = (count > 0).then_some((count, previous));
        let (record, blobs) = self.record(item, &chat, &locator, current, item, store);
        items.push(Item::Record(Box::new(record), blobs));
        items
    }

    fn record(
        &mut self,
        item: &Value,
        chat: &Person,
        locator: &Locator,
        revision: Option<(usize, Option<RecordId>)>,
        outer: &Value,
        store: &mut Store<'_>,
    ) -> (Record, Vec<Blob>) {
        // Revisions carry their own dateSent; the author is the item's.
        let author = self
            .person(
                item.get("authorId")
                    .or_else(|| outer.get("authorId"))
                    .and_then(int_text),
            )
            .cloned();
        let author_key = author
            .as_ref()
            .map_or("unknown", |a| a.key.as_str())
            .to_owned();
        let sent = item.get("dateSent").and_then(int_text).unwrap_or_default();
        let version = revision
            .as_ref()
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        let id = RecordId::derive("signal", &[&chat.key, &author_key, &sent, &version]);
        let mut body = Body::new(format!("{author_key}/{sent}"));
        body.envelope(outer);
        if let Some(standard) = item.get("standardMessage") {
            self.standard_message(standard, store, &mut body);
        } else if item.get("remoteDeletedMessage").is_some() {
            body.flags.push("deleted".to_owned());
            body.deletion = Some(Deletion {
                deleted_at: None,
                deleted_by: author.as_ref().map(|a| a.party.clone()),
            });
        } else if let Some(admin_deleted) = item.get("adminDeletedMessage") {
            // Deleted for everyone by a group admin, not by its author.
            body.flags
                .extend(["deleted".to_owned(), "admin-deleted".to_owned()]);
            let admin = self
                .person(admin_deleted.get("adminId").and_then(int_text))
                .map(|a| a.party.clone());
            body.extra
                .insert("admin_deleted".to_owned(), admin_deleted.clone());
            body.deletion = Some(Deletion {
                deleted_at: None,
                deleted_by: admin,
            });
        } else if let Some(update) = item.get("updateMessage") {
            body.update(update);
        } else {
            body.other_kind(item);
        }
        let Body {
            kind,
            text,
            deletion,
            flags,
            warnings,
            attachments,
            blobs,
            links,
            extra,
        } = body;
        let sender = author.as_ref().map(|a| a.party.clone());
        let record = Record {
            schema: RECORD_SCHEMA.to_owned(),
            id,
            kind,
            source: Source {
                format: self.format.to_owned(),
                export_sha256: self.context.export_sha256,
                locator: Locator {
                    pointer: revision
                        .as_ref()
                        .filter(|_| !std::ptr::eq(item, outer))
                        .map(|(n, _)| format!("/chatItem/revisions/{n}")),
                    ..locator.clone()
                },
                item_sha256: Some(Sha256::of(&spoor_normalize::jcs::to_canonical(item))),
                parser: PARSER.to_owned(),
            },
            conversation: Conversation {
                id: Some(format!("signal:{}", chat.key)),
                title: chat.title.clone().or_else(|| chat.party.name.clone()),
                participants: Vec::new(),
            },
            sender,
            recipients: Vec::new(),
            time: millis(item.get("dateSent").unwrap_or(&Value::Null)),
            subject: None,
            text: text.map(|t| normalize_text(&t)).filter(|t| !t.is_empty()),
            bodies: Vec::new(),
            attachments,
            links,
            // Version 0 is the message as first sent; each later one an edit.
            revision: revision.map(|(n, supersedes)| Revision {
                version: Some(n.to_string()),
                supersedes,
                edited_at: (n > 0)
                    .then(|| millis(item.get("dateSent").unwrap_or(&Value::Null)).utc)
                    .flatten(),
            }),
            deletion,
            flags,
            warnings,
            extra,
        };
        (record, blobs)
    }

    /// A standard message: text (or its long form from the media), its
    /// attachments, a quoted message, reactions and mentions.
    fn standard_message(&mut self, standard: &Value, store: &mut Store<'_>, body: &mut Body) {
        body.text = standard
            .pointer("/text/body")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(long) = standard.get("longText") {
            match self.media.fetch(long, self.context.limits) {
                Ok((blob, path)) => {
                    let full = String::from_utf8_lossy(&blob.bytes).into_owned();
                    let stored = (blob.sha256, blob.bytes.len() as u64);
                    body.attachments
                        .push(pointer_ref("long-text", long, Some(stored), Some(path)));
                    body.blobs.push(blob);
                    body.text = Some(full);
                }
                Err(why) => {
                    body.warnings.push(format!(
                        "long text not in the export ({why}); the body is the truncated preview"
                    ));
                    body.attachments.push(missing_ref("long-text", long, &why));
                }
            }
        }
        for attachment in standard
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pointer = attachment.get("pointer").unwrap_or(&Value::Null);
            let mut r = match self.media.stream(pointer, self.context.limits, store) {
                Ok((stored, path)) => pointer_ref("attachment", pointer, Some(stored), Some(path)),
                Err(why) => missing_ref("attachment", pointer, &why),
            };
            if let Some(flag) = text_of(attachment, "flag") {
                r.details.insert("flag".to_owned(), Value::from(flag));
            }
            body.attachments.push(r);
        }
        if let Some(quote) = standard.get("quote") {
            self.quote(quote, body);
        }
        let reactions = self.reactions(standard);
        if !reactions.is_empty() {
            body.extra
                .insert("reactions".to_owned(), Value::Array(reactions));
        }
        let mentions: Vec<Value> = standard
            .pointer("/text/bodyRanges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let aci = text_of(r, "mentionAci").and_then(uuid)?;
                Some(json!({ "aci": aci, "start": r.get("start").and_then(int).unwrap_or(0), "length": r.get("length").and_then(int).unwrap_or(0) }))
            })
            .collect();
        if !mentions.is_empty() {
            body.extra
                .insert("mentions".to_owned(), Value::Array(mentions));
        }
    }

    /// A quoted message: a reply link to its target and what it showed.
    fn quote(&self, quote: &Value, body: &mut Body) {
        let quoted_author = self
            .person(quote.get("authorId").and_then(int_text))
            .map(|p| p.key.clone());
        if let (Some(author), Some(ts)) = (
            &quoted_author,
            quote.get("targetSentTimestamp").and_then(int_text),
        ) {
            body.links.in_reply_to.push(format!("{author}/{ts}"));
        }
        body.extra.insert(
            "quote".to_owned(),
            json!({
                "author": quoted_author,
                "target_sent_ms": quote.get("targetSentTimestamp").and_then(int),
                "text": quote.pointer("/text/body"),
            }),
        );
    }

    fn reactions(&self, message: &Value) -> Vec<Value> {
        message
            .get("reactions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| {
                let who = self.person(r.get("authorId").and_then(int_text));
                json!({
                    "emoji": r.get("emoji"),
                    "author": who.map(|p| p.key.clone()),
                    "author_name": who.and_then(|p| p.party.name.clone()),
                    "sent": millis(r.get("sentTimestamp").unwrap_or(&Value::Null)).utc,
                })
            })
            .collect()
    }
}

/// The kinds of chat item (the `item` oneof of Signal's `ChatItem`) this
/// reader turns into records; an item of any other kind is quarantined.
const CHAT_ITEM_KINDS: &[&str] = &[
    "standardMessage",
    "contactMessage",
    "stickerMessage",
    "remoteDeletedMessage",
    "updateMessage",
    "paymentNotification",
    "giftBadge",
    "viewOnceMessage",
    "directStoryReplyMessage",
    "poll",
    "adminDeletedMessage",
];

/// The reference to a file a pointer names; `stored` is its digest and size
/// in the store, `None` when it is not there.
fn pointer_ref(
    role: &str,
    pointer: &Value,
    stored: Option<(Sha256, u64)>,
    path: Option<String>,
) -> BlobRef {
    let mut details = std::collections::BTreeMap::new();
    if let Some(caption) = text_of(pointer, "caption") {
        details.insert("caption".to_owned(), Value::from(caption));
    }
    if let Some(path) = path {
        details.insert("path".to_owned(), Value::from(path));
    }
    BlobRef {
        role: role.to_owned(),
        name: text_of(pointer, "fileName").map(str::to_owned),
        media_type: text_of(pointer, "contentType").map(|t| t.to_ascii_lowercase()),
        size: stored.map(|(_, size)| size),
        sha256: stored.map(|(digest, _)| digest),
        missing: stored.is_none(),
        details,
    }
}

/// A file the message names but the export does not hold (or holds
/// damaged): why, and the SHA-256 the message gives for its bytes, so it
/// can be matched if it turns up.
fn missing_ref(role: &str, pointer: &Value, why: &str) -> BlobRef {
    let mut r = pointer_ref(role, pointer, None, None);
    r.details.insert("missing".to_owned(), Value::from(why));
    let digest = pointer
        .pointer("/locatorInfo/plaintextHash")
        .and_then(Value::as_str)
        .and_then(|h| BASE64.decode(h.as_bytes()).ok())
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok());
    if let Some(digest) = digest {
        r.details.insert(
            "expected_sha256".to_owned(),
            Value::from(Sha256::from_bytes(digest).to_hex()),
        );
    }
    r
}

/// A media file's bytes, from the folder or the zip.
fn open_place<'z>(
    zip: &'z mut Option<ZipArchive<File>>,
    place: &Place,
    limits: &Limits,
) -> Result<Box<dyn Read + 'z>, String> {
    match (place, zip.as_mut()) {
        (Place::File(path), _) => File::open(path)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| e.to_string()),
        (Place::Entry(index), Some(zip)) => {
            zipped::open_entry(zip, *index, limits).map(|r| Box::new(r) as Box<dyn Read>)
        }
        (Place::Entry(_), None) => Err("the zip is not open".to_owned()),
        (
            Place::Pool {
                path, key, size, ..
            },
            _,
        ) => message_backup::open_media(path, key, *size).map_err(|e| e.to_string()),
    }
}

/// A pool file must decrypt to the bytes its frame names by hash.
fn check_pool_digest(place: &Place, digest: &Sha256) -> Result<(), String> {
    match place {
        Place::Pool { hash, .. } if hash != digest => Err(
            "decrypted, it does not hash to the plaintextHash its message names: damaged"
                .to_owned(),
        ),
        _ => Ok(()),
    }
}

/// The files under `files/`, by the SHA-256 of their content: attachments
/// name their `plaintextHash`, which is how a file is linked to its message.
struct MediaIndex {
    /// `files` in a folder, `<prefix>files` in a zip.
    root: String,
    /// For a message backup: its encrypted media pool.
    pool: Option<Pool>,
    by_hash: HashMap<Sha256, (Place, String)>,
    used: std::collections::BTreeSet<String>,
    /// Entries of a zip that could not be hashed (damaged, a zip bomb).
    unreadable: Vec<String>,
    zip: Option<ZipArchive<File>>,
}

/// Where a message backup's media are.
enum Pool {
    /// The pool `files/XX/<media name>`, and the keys the frames gave.
    Here {
        dir: PathBuf,
        keys: message_backup::MediaKeys,
    },
    /// Not part of the export (a snapshot delivered without its pool).
    NotDelivered,
}

/// Where a media file's bytes are.
#[derive(Clone)]
enum Place {
    File(PathBuf),
    /// An entry of the zip, by index.
    Entry(usize),
    /// A file of a message backup's pool, encrypted under its local key;
    /// `size` plaintext bytes whose SHA-256 is `hash`.
    Pool {
        path: PathBuf,
        key: [u8; 64],
        size: u64,
        hash: Sha256,
    },
}

impl MediaIndex {
    fn empty(root: &str, zip: Option<ZipArchive<File>>) -> MediaIndex {
        MediaIndex {
            root: root.to_owned(),
            pool: None,
            by_hash: HashMap::new(),
            used: std::collections::BTreeSet::new(),
            unreadable: Vec::new(),
            zip,
        }
    }

    fn of_pool(pool: Pool) -> MediaIndex {
        MediaIndex {
            pool: Some(pool),
            ..MediaIndex::empty("files", None)
        }
    }

    fn of_folder(files: &Path) -> io::Result<MediaIndex> {
        let mut index = MediaIndex::empty("files", None);
        if files.is_dir() {
            index.add_dir(files, "files")?;
        }
        Ok(index)
    }

    /// Indexes the safe-named entries under `files` (ending in `/`).
    fn of_zip(
        mut archive: ZipArchive<File>,
        entries: &[Entry],
        files: &str,
        limits: &Limits,
    ) -> MediaIndex {
        let mut index = MediaIndex::empty(files.trim_end_matches('/'), None);
        for entry in entries
            .iter()
            .filter(|e| e.unsafe_name.is_none() && e.name.starts_with(files))
        {
            let hashed = zipped::open_entry(&mut archive, entry.index, limits)
                .and_then(|r| spoor_normalize::hash_reader(r).map_err(|e| e.to_string()));
            match hashed {
                Ok((digest, _)) => {
                    index
                        .by_hash
                        .insert(digest, (Place::Entry(entry.index), entry.name.clone()));
                }
                Err(why) => index.unreadable.push(format!("{}: {why}", entry.name)),
            }
        }
        index.zip = Some(archive);
        index
    }

    fn add_dir(&mut self, dir: &Path, rel: &str) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = format!("{rel}/{name}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.add_dir(&entry.path(), &child)?;
            } else if kind.is_file() {
                let (digest, _) = spoor_normalize::hash_reader(File::open(entry.path())?)?;
                self.by_hash
                    .insert(digest, (Place::File(entry.path()), child));
            }
        }
        Ok(())
    }

    /// The file a pointer names by its `plaintextHash`, and its path.
    fn locate(&self, pointer: &Value) -> Result<(Place, String), String> {
        let hash = pointer
            .pointer("/locatorInfo/plaintextHash")
            .and_then(Value::as_str)
            .and_then(|h| BASE64.decode(h.as_bytes()).ok())
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(Sha256::from_bytes)
            .ok_or("the attachment was never downloaded (no plaintextHash)")?;
        match &self.pool {
            None => {}
            Some(Pool::NotDelivered) => {
                return Err(
                    "the media pool (files/ beside the snapshot) is not part of the delivered export; deliver the SignalBackups folder"
                        .to_owned(),
                )
            }
            Some(Pool::Here { dir, keys }) => {
                let (name, key) = keys
                    .borrow()
                    .get(hash.as_bytes().as_slice())
                    .cloned()
                    .ok_or("the attachment has no local key: not in the local backup")?;
                let rel = format!("files/{}/{name}", &name[..2.min(name.len())]);
                let path = dir.join(name.get(..2).unwrap_or_default()).join(&name);
                if !path.is_file() {
                    return Err(format!("{rel} is not in the media pool"));
                }
                let size = pointer
                    .pointer("/locatorInfo/size")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                return Ok((
                    Place::Pool {
                        path,
                        key,
                        size,
                        hash,
                    },
                    rel,
                ));
            }
        }
        self.by_hash
            .get(&hash)
            .cloned()
            .ok_or_else(|| "no file under files/ has its plaintextHash".to_owned())
    }

    /// The bytes of the file a pointer names (a long text: it becomes the
    /// record's body, so it must fit in `max_message_bytes`), and its path.
    fn fetch(&mut self, pointer: &Value, limits: &Limits) -> Result<(Blob, String), String> {
        let (place, rel) = self.locate(pointer)?;
        let max = limits.max_message_bytes as u64;
        let mut bytes = Vec::new();
        open_place(&mut self.zip, &place, limits)
            .and_then(|r| {
                r.take(max + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| format!("{rel}: {e}"))?;
        if bytes.len() as u64 > max {
            return Err(format!(
                "{rel}: larger than {max} bytes; kept only in the original"
            ));
        }
        let sha256 = Sha256::of(&bytes);
        check_pool_digest(&place, &sha256).map_err(|e| format!("{rel}: {e}"))?;
        self.used.insert(rel.clone());
        Ok((Blob { sha256, bytes }, rel))
    }

    /// Streams the file a pointer names to the store, whatever its size:
    /// its digest and size there, and its path.
    fn stream(
        &mut self,
        pointer: &Value,
        limits: &Limits,
        store: &mut Store<'_>,
    ) -> Result<((Sha256, u64), String), String> {
        let (place, rel) = self.locate(pointer)?;
        let stored = open_place(&mut self.zip, &place, limits)
            .and_then(|mut r| store(&mut r).map_err(|e| e.to_string()))
            .and_then(|stored| check_pool_digest(&place, &stored.0).map(|()| stored))
            .map_err(|e| format!("{rel}: {e}"))?;
        self.used.insert(rel.clone());
        Ok((stored, rel))
    }

    fn unreferenced(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_hash
            .values()
            .map(|(_, rel)| rel.clone())
            .filter(|rel| !self.used.contains(rel))
            .collect();
        names.sort();
        names
    }
}
