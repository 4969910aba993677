//! A legacy Android `.backup` into records: frames authenticated and
//! decrypted, SQL statements replayed into a temporary SQLite database,
//! attachment bytes authenticated and hashed as they stream by (and
//! decrypted again from the backup when their message is built), then the
//! messages read with a column map chosen by what the database holds
//! (docs/FORMAT.md §16).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use rusqlite::types::Value as Sql;
use rusqlite::Connection;
use serde_json::{json, Value};
use spoor_normalize::text::normalize_text;
use spoor_normalize::{
    BlobRef, Conversation, Deletion, Links, Locator, Party, Record, RecordId, RecordKind, Revision,
    Sha256, Source, RECORD_SCHEMA,
};

use super::crypto::Passphrase;
use super::frames::{BlobDecryptor, BlobSpan, Fault, Frames};
use super::plaintext::time_from_millis;
use super::proto::{self, BlobKind, Frame, Param};
use crate::read::{Item, Limits, Quarantined, Stop, PARSER};

/// Format name of the legacy backup.
pub(crate) const FORMAT: &str = "signal/android-backup";

/// What every package made from a backup states.
pub(crate) const LIMITATIONS: &str = "Signal never backs up disappearing or view-once messages; \
     what they said is not in the backup";

/// Where the backup is and how to open it.
pub(crate) struct BackupContext<'a> {
    pub(crate) path: &'a Path,
    pub(crate) export_sha256: Sha256,
    pub(crate) limits: &'a Limits,
    pub(crate) passphrase: &'a Passphrase,
    /// Where the decrypted database is replayed (see `ReadOptions`).
    pub(crate) work_dir: &'a Path,
}

/// What reading decided and met.
pub(crate) struct Outcome {
    pub(crate) decisions: Vec<Value>,
    /// Why the import is partial (the file was cut, a frame was damaged,
    /// statements could not be replayed, attachments are damaged): each
    /// reason with its count and first cause.
    pub(crate) partial: Vec<String>,
    /// Message rows met: each rows of a message table in the replayed
    /// database, or an `INSERT` into one that could not be replayed. Each
    /// became exactly one item (record or quarantined).
    pub(crate) message_rows: u64,
}

/// An empty database to replay the backup into, in a folder of its own
/// (mode 0700, removed when the returned guard drops) under `work_dir`, the
/// file itself readable by its owner only: it holds every message in plain
/// text. Foreign keys are not enforced, as Signal's own restore does not:
/// the frames put rows before the rows they reference.
fn replay_database(work_dir: &Path) -> Result<(tempfile::TempDir, Connection), Fault> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let work = tempfile::Builder::new()
        .prefix("signal-replay-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(work_dir)
        .map_err(Fault::Io)?;
    let path = work.path().join("replay.sqlite");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(Fault::Io)?;
    let db = Connection::open(&path).map_err(|e| Fault::Io(io::Error::other(e)))?;
    db.execute_batch(
        "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;",
    )
    .map_err(|e| Fault::Io(io::Error::other(e)))?;
    Ok((work, db))
}

/// Reads the backup and hands out its records.
pub(crate) fn read_backup<E>(
    context: &BackupContext<'_>,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<Outcome, Stop<Fault, E>> {
    let file = File::open(context.path).map_err(|e| Stop::Input(Fault::Io(e)))?;
    // A second handle, with its own offset, reads blobs back when their
    // messages are built.
    let blob_file = File::open(context.path).map_err(|e| Stop::Input(Fault::Io(e)))?;
    let mut frames = Frames::open(BufReader::with_capacity(1 << 16, file), context.passphrase)
        .map_err(Stop::Input)?;
    let (_work, db) = replay_database(context.work_dir).map_err(Stop::Input)?;
    let mut replay = Replay::default();
    replay.run(&mut frames, &db, context.limits.max_message_bytes, emit)?;
    let _ = db.execute_batch("COMMIT;");
    crate::internal::kill_point("signal-replayed");
    let mut decisions = replay.decisions(frames.version);
    let mut partial = std::mem::take(&mut replay.partial);
    let blobs = StoredBlobs {
        spans: std::mem::take(&mut replay.blobs),
        file: blob_file,
        decryptor: frames.blob_decryptor(),
    };
    let reader = Messages::new(&db, context, &blobs);
    if reader.tables().is_empty() {
        // A schema this reader does not know must never pass as an empty
        // archive.
        partial.push(
            "no message table (message, mms or sms) in the replayed database: nothing could be read as messages"
                .to_owned(),
        );
    }
    let (schema, note) = reader.schema();
    decisions.push(json!({
        "decision": "signal-schema",
        "path": null,
        "value": schema,
        "basis": note,
    }));
    let rows = reader.emit_all(emit).map_err(|e| match e {
        Stop::Sink(e) => Stop::Sink(e),
        Stop::Input(e) => Stop::Input(Fault::Io(e)),
    })?;
    if rows.read != rows.emitted {
        partial.push(format!(
            "{} of {} message rows could not be read from the replayed database",
            rows.read.saturating_sub(rows.emitted),
            rows.read
        ));
    }
    let damaged = reader.damaged.get();
    if damaged > 0 {
        partial.push(format!(
            "{damaged} attachments are damaged in the backup (their tag does not match); their messages name them as damaged"
        ));
    }
    let unlinked = reader.unlinked_blobs();
    if unlinked.values().any(|n| *n > 0) {
        decisions.push(json!({
            "decision": "signal-unlinked-blobs",
            "path": null,
            "value": unlinked,
            "basis": "blobs in the backup no message row names (avatars, stickers, attachments of rows not in the database); kept only in the encrypted original",
        }));
    }
    Ok(Outcome {
        decisions,
        partial,
        message_rows: rows.emitted + replay.failed_message_rows,
    })
}

/// The replay of a backup's frames into the database: what it met on the
/// way, and the blobs it streamed to the sink.
#[derive(Default)]
struct Replay {
    blobs: HashMap<(BlobKind, String), StoredBlob>,
    database_version: Option<u32>,
    skipped_statements: u64,
    first_errors: Vec<String>,
    unknown_frames: u64,
    left_out: BTreeMap<&'static str, u64>,
    failed_message_rows: u64,
    /// Why the import is partial.
    partial: Vec<String>,
    /// The header is frame 0.
    frame_index: u64,
}

impl Replay {
    /// Reads every frame up to the End frame (or the first fault, after
    /// which what came before stands), replaying statements into `db` and
    /// streaming blobs to the sink.
    fn run<R: io::Read, E>(
        &mut self,
        frames: &mut Frames<R>,
        db: &Connection,
        max: usize,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<(), Stop<Fault, E>> {
        loop {
            let frame = match frames.next(max) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(Fault::WrongPassphrase) => return Err(Stop::Input(Fault::WrongPassphrase)),
                Err(fault) => {
                    self.partial.push(format!(
                        "{fault}; the records before that point were archived"
                    ));
                    return Ok(());
                }
            };
            self.frame_index += 1;
            match frame {
                Frame::Version(v) => self.database_version = Some(v),
                Frame::Statement { sql, params } => self.statement(db, &sql, params, emit)?,
                Frame::Blob {
                    kind,
                    row_id,
                    name,
                    length,
                } => {
                    let key = row_id.map(|r| r.to_string()).or(name).unwrap_or_default();
                    if !self.blob(frames, kind, key, length, emit)? {
                        return Ok(());
                    }
                }
                Frame::End => return Ok(()),
                Frame::Header { .. } | Frame::Setting => {}
                Frame::Unknown => self.unknown_frames += 1,
            }
        }
        self.partial.push(
            "the file ends without an End frame: truncated; the records before that point were archived"
                .to_owned(),
        );
        Ok(())
    }

    /// Replays one statement. A message row the replay cannot take is
    /// quarantined as the statement and its values, with the reason;
    /// another failed statement is counted (schema drift).
    fn statement<E>(
        &mut self,
        db: &Connection,
        sql: &str,
        params: Vec<Param>,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<(), Stop<Fault, E>> {
        if let Some(what) = left_out_by_design(sql) {
            *self.left_out.entry(what).or_default() += 1;
            return Ok(());
        }
        let values: Vec<Sql> = params.into_iter().map(sql_value).collect();
        let Err(e) = db.execute(sql, rusqlite::params_from_iter(values.iter())) else {
            return Ok(());
        };
        if inserts_into_message_table(sql) {
            self.failed_message_rows += 1;
            let params: Vec<Value> = values.iter().map(sql_json).collect();
            let raw =
                spoor_normalize::jcs::to_canonical(&json!({ "sql": sql, "parameters": params }));
            let item = Quarantined {
                locator: Locator {
                    frame: Some(self.frame_index),
                    ..Locator::default()
                },
                reason: format!("a message row the replay could not take: {e}"),
                raw_size: raw.len() as u64,
                raw,
            };
            return emit(Item::Quarantine(item)).map_err(Stop::Sink);
        }
        self.skipped_statements += 1;
        if self.first_errors.len() < 5 {
            self.first_errors
                .push(format!("{}: {e}", sql.chars().take(80).collect::<String>()));
        }
        Ok(())
    }

    /// Streams one blob's plaintext to the sink, which stores and hashes
    /// it; a blob whose tag fails is left unreferenced. `false` when the
    /// file broke off there (the import is partial).
    fn blob<R: io::Read, E>(
        &mut self,
        frames: &mut Frames<R>,
        kind: BlobKind,
        key: String,
        length: u32,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<bool, Stop<Fault, E>> {
        let (mut stored, mut stopped) = (None, None);
        let read = frames.blob(length, &mut |plain| {
            emit(Item::Stream {
                bytes: plain,
                stored: &mut stored,
            })
            .map_err(|e| {
                stopped = Some(e);
                io::Error::other("the sink stopped")
            })
        });
        match (read, stopped, stored) {
            (Err(fault), _, _) => {
                self.partial.push(format!(
                    "{fault}; the records before that point were archived"
                ));
                Ok(false)
            }
            (Ok(_), Some(e), _) => Err(Stop::Sink(e)),
            (Ok((span, Ok(()))), None, Some(Ok((sha256, _)))) => {
                self.blobs.insert((kind, key), StoredBlob { span, sha256 });
                Ok(true)
            }
            (Ok((_, consumed)), None, _) => {
                let why = consumed
                    .err()
                    .map_or_else(|| "no digest".to_owned(), |e| e.to_string());
                Err(Stop::Input(Fault::Io(io::Error::other(why))))
            }
        }
    }

    /// The decisions the replay made and met.
    fn decisions(&mut self, backup_version: u32) -> Vec<Value> {
        let mut decisions = vec![
            json!({
                "decision": "signal-limitations",
                "path": null,
                "value": LIMITATIONS,
                "basis": "Signal's backup rules (docs/FORMAT.md §16)",
            }),
            json!({
                "decision": "signal-backup-format",
                "path": null,
                "value": { "backup_version": backup_version, "database_version": self.database_version },
                "basis": "the header frame and the DatabaseVersion frame",
            }),
        ];
        let skipped = self.skipped_statements;
        if skipped > 0 {
            decisions.push(json!({
                "decision": "signal-statements-skipped",
                "path": null,
                "value": skipped,
                "basis": format!("statements the replay could not run (schema drift), first: {}", self.first_errors.join("; ")),
            }));
            self.partial.push(format!(
                "{skipped} statements of the backup could not be replayed, so what they held is missing; first: {}",
                self.first_errors.first().map_or("?", String::as_str)
            ));
        }
        if !self.left_out.is_empty() {
            decisions.push(json!({
                "decision": "signal-statements-left-out",
                "path": null,
                "value": self.left_out,
                "basis": "statements not replayed by design: SQLite's own tables, full-text indexes (their tables and the triggers that fill them), which hold only copies of message text",
            }));
        }
        if self.unknown_frames > 0 {
            decisions.push(json!({
                "decision": "signal-unknown-frames",
                "path": null,
                "value": self.unknown_frames,
                "basis": "frames of a type this reader does not know (newer versions, forks); skipped",
            }));
        }
        decisions
    }
}

/// Whether a statement inserts a row into a message table (`message`,
/// `mms`, `sms`), as the backup writes them: `INSERT INTO <table> ...`.
fn inserts_into_message_table(sql: &str) -> bool {
    let mut words = sql.split_whitespace();
    let insert = words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("INSERT"));
    let into = words.next().is_some_and(|w| w.eq_ignore_ascii_case("INTO"));
    let table = words.next().map(|w| {
        w.trim_matches(|c| c == '"' || c == '`')
            .to_ascii_lowercase()
    });
    insert && into && matches!(table.as_deref(), Some("message" | "mms" | "sms"))
}

/// Statements the replay leaves out by design, named by what they are:
/// SQLite's own tables (`sqlite_sequence`, made by AUTOINCREMENT itself),
/// full-text indexes (virtual tables, their shadow tables and rows), and
/// triggers (Signal's fill those indexes; replayed, each message `INSERT`
/// would fail without them). None holds anything the tables do not.
fn left_out_by_design(sql: &str) -> Option<&'static str> {
    let upper = sql.trim_start().to_ascii_uppercase();
    if upper.starts_with("CREATE TABLE SQLITE_") || upper.starts_with("INSERT INTO SQLITE_") {
        Some("sqlite-internal")
    } else if upper.starts_with("CREATE TRIGGER") {
        Some("triggers")
    } else if upper.starts_with("CREATE VIRTUAL TABLE") || upper.contains("_FTS") {
        Some("full-text-index")
    } else {
        None
    }
}

fn sql_value(param: Param) -> Sql {
    match param {
        Param::Text(t) => Sql::Text(t),
        Param::Integer(i) => Sql::Integer(i),
        Param::Real(r) => Sql::Real(r),
        Param::Blob(b) => Sql::Blob(b),
        Param::Null => Sql::Null,
    }
}

/// The message tables of the replayed database and how to read them.
struct Messages<'a> {
    db: &'a Connection,
    context: &'a BackupContext<'a>,
    blobs: &'a StoredBlobs,
    /// Attachment blobs a message named.
    linked: std::cell::RefCell<std::collections::HashSet<String>>,
    /// Attachments a message named whose bytes are damaged.
    damaged: std::cell::Cell<u64>,
}

/// Message rows of the replayed database: how many the tables hold, and
/// how many became items.
struct RowCount {
    read: u64,
    emitted: u64,
}

/// A blob streamed to the sink: where it is in the backup and the digest
/// the sink stored it under.
struct StoredBlob {
    span: BlobSpan,
    sha256: Sha256,
}

/// The blobs of a backup, by frame kind and row id or name.
struct StoredBlobs {
    spans: HashMap<(BlobKind, String), StoredBlob>,
    file: File,
    decryptor: BlobDecryptor,
}

impl StoredBlobs {
    /// The plaintext of a blob, decrypted again from the backup (for long
    /// texts, whose words the record needs).
    fn bytes(&self, span: &BlobSpan) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; span.length as usize];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(span.offset))?;
        file.read_exact(&mut bytes)?;
        self.decryptor.decrypt(span, &mut bytes);
        Ok(bytes)
    }
}

fn columns(db: &Connection, table: &str) -> Vec<String> {
    db.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .and_then(|mut q| q.query_map([], |r| r.get::<_, String>(0))?.collect())
        .unwrap_or_default()
}

/// The first of `names` that `present` holds.
fn pick<'n>(present: &[String], names: &[&'n str]) -> Option<&'n str> {
    names
        .iter()
        .copied()
        .find(|n| present.iter().any(|p| p == n))
}

/// A row as column name → value.
type Row = BTreeMap<String, Sql>;

fn rows(db: &Connection, sql: &str, params: &[Sql]) -> Vec<Row> {
    let Ok(mut statement) = db.prepare(sql) else {
        return Vec::new();
    };
    let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let Ok(mapped) = statement.query_map(rusqlite::params_from_iter(params.iter()), |r| {
        let mut row = Row::new();
        for (i, name) in names.iter().enumerate() {
            row.insert(name.clone(), r.get::<_, Sql>(i)?);
        }
        Ok(row)
    }) else {
        return Vec::new();
    };
    mapped.flatten().collect()
}

fn int(row: &Row, key: Option<&str>) -> Option<i64> {
    match row.get(key?)? {
        Sql::Integer(i) => Some(*i),
        Sql::Text(t) => t.parse().ok(),
        _ => None,
    }
}

fn text(row: &Row, key: Option<&str>) -> Option<String> {
    match row.get(key?)? {
        Sql::Text(t) if !t.is_empty() => Some(t.clone()),
        Sql::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Outgoing base types (`type & 0x1F`): sent, sending, failed, fallbacks,
/// and outgoing calls.
fn is_outgoing(kind: i64) -> bool {
    matches!(kind & 0x1f, 2 | 11 | 21..=26)
}

/// A user message (inbox or outbox), not a call or other event.
fn is_user_message(kind: i64) -> bool {
    matches!(kind & 0x1f, 20..=26) && kind & 0x10000 == 0
}

impl<'a> Messages<'a> {
    fn new(
        db: &'a Connection,
        context: &'a BackupContext<'a>,
        blobs: &'a StoredBlobs,
    ) -> Messages<'a> {
        Messages {
            db,
            context,
            blobs,
            linked: Default::default(),
            damaged: Default::default(),
        }
    }

    /// How many blobs of each kind no message named.
    fn unlinked_blobs(&self) -> BTreeMap<&'static str, u64> {
        let linked = self.linked.borrow();
        let mut counts = BTreeMap::from([("attachments", 0), ("avatars", 0), ("stickers", 0)]);
        for (kind, key) in self.blobs.spans.keys() {
            let name = match kind {
                BlobKind::Attachment if linked.contains(key) => continue,
                BlobKind::Attachment => "attachments",
                BlobKind::Avatar => "avatars",
                BlobKind::Sticker => "stickers",
            };
            *counts.entry(name).or_default() += 1;
        }
        counts
    }

    /// The message tables, by era: `message` (2023 on), else `mms` and `sms`.
    fn tables(&self) -> Vec<&'static str> {
        let present = |t: &&str| !columns(self.db, t).is_empty();
        if present(&"message") {
            return vec!["message"];
        }
        ["mms", "sms"].into_iter().filter(present).collect()
    }

    fn schema(&self) -> (Value, String) {
        let tables = self.tables();
        let attachments = ["attachment", "part"]
            .into_iter()
            .find(|t| !columns(self.db, t).is_empty());
        let note = if tables.is_empty() {
            "no message table (message, mms or sms) in the replayed database: no records".to_owned()
        } else {
            "tables found in the replayed database; columns mapped by name (pragma table_info)"
                .to_owned()
        };
        (
            json!({ "messages": tables, "attachments": attachments }),
            note,
        )
    }

    /// Recipient id → (key, party), and the group titles.
    fn recipients(&self) -> HashMap<i64, (String, Party, Option<String>)> {
        let cols = columns(self.db, "recipient");
        let phone = pick(&cols, &["e164", "phone"]);
        let aci = pick(&cols, &["aci", "uuid"]);
        let group = pick(&cols, &["group_id"]);
        let names = [
            "system_joined_name",
            "system_display_name",
            "profile_joined_name",
            "signal_profile_name",
            "profile_given_name",
        ];
        let titles: HashMap<String, String> = rows(self.db, "SELECT * FROM groups", &[])
            .into_iter()
            .filter_map(|r| Some((text(&r, Some("group_id"))?, text(&r, Some("title"))?)))
            .collect();
        rows(self.db, "SELECT * FROM recipient", &[])
            .into_iter()
            .filter_map(|r| {
                let id = int(&r, Some("_id"))?;
                let e164 = text(&r, phone);
                let aci = text(&r, aci);
                let group_id = text(&r, group);
                let title = group_id.as_ref().and_then(|g| titles.get(g).cloned());
                let name = names
                    .iter()
                    .find_map(|n| text(&r, pick(&cols, &[n])))
                    .or_else(|| title.clone());
                let key = match (&aci, &e164, &group_id) {
                    (_, _, Some(g)) => {
                        format!("group:{}", &Sha256::of(g.as_bytes()).to_hex()[..32])
                    }
                    (Some(a), _, _) => format!("aci:{a}"),
                    (None, Some(e), _) => format!("e164:{e}"),
                    _ => format!("recipient:{id}"),
                };
                let (address, address_type) = match (&e164, &aci) {
                    (Some(e), _) => (Some(e.clone()), Some("e164".to_owned())),
                    (None, Some(a)) => (Some(a.clone()), Some("signal-aci".to_owned())),
                    _ => (None, None),
                };
                let party = Party {
                    name: name.map(|n| normalize_text(&n)),
                    address,
                    address_type,
                };
                Some((id, (key, party, title)))
            })
            .collect()
    }

    /// Thread id → recipient id.
    fn threads(&self) -> HashMap<i64, i64> {
        let cols = columns(self.db, "thread");
        let recipient = pick(
            &cols,
            &["recipient_id", "thread_recipient_id", "recipient_ids"],
        );
        rows(self.db, "SELECT * FROM thread", &[])
            .into_iter()
            .filter_map(|r| Some((int(&r, Some("_id"))?, int(&r, recipient)?)))
            .collect()
    }

    fn emit_all<E>(
        &self,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<RowCount, Stop<io::Error, E>> {
        let mut count = RowCount {
            read: 0,
            emitted: 0,
        };
        let people = Directory {
            recipients: self.recipients(),
            threads: self.threads(),
        };
        let attachment_table = ["attachment", "part"]
            .into_iter()
            .find(|t| !columns(self.db, t).is_empty());
        for table in self.tables() {
            let cols = columns(self.db, table);
            let map = ColumnMap {
                sent: pick(&cols, &["date_sent", "date"]),
                received: pick(&cols, &["date_received", "date"]),
                kind: pick(&cols, &["type", "msg_box"]),
                sender: pick(&cols, &["from_recipient_id", "recipient_id", "address"]),
                thread: pick(&cols, &["thread_id"]),
                body: pick(&cols, &["body"]),
                deleted: pick(&cols, &["remote_deleted"]),
                quote_id: pick(&cols, &["quote_id"]),
                quote_author: pick(&cols, &["quote_author"]),
                quote_body: pick(&cols, &["quote_body"]),
                original: pick(&cols, &["original_message_id"]),
                revision: pick(&cols, &["revision_number"]),
                expires: pick(&cols, &["expires_in"]),
                view_once: pick(&cols, &["view_once"]),
                reactions: pick(&cols, &["reactions"]),
                from_column: cols.iter().any(|c| c == "from_recipient_id"),
            };
            // Counted apart from the reading, so a row the reading misses
            // shows.
            count.read += self
                .db
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_or(0, |n| u64::try_from(n).unwrap_or(0));
            for row in rows(self.db, &format!("SELECT * FROM {table} ORDER BY _id"), &[]) {
                let item = self.record(table, &row, &map, &people, attachment_table);
                let item = item.map_err(Stop::Input)?;
                emit(item).map_err(Stop::Sink)?;
                count.emitted += 1;
            }
        }
        Ok(count)
    }

    /// The reactions to a row: from the `reaction` table (database version
    /// 121 on; while it has `is_mms`, that tells `sms` rows from the rest,
    /// which share their _ids), else from the row's protobuf `reactions`
    /// column.
    fn reactions(
        &self,
        table: &str,
        row: &Row,
        map: &ColumnMap,
        people: &Directory,
        warnings: &mut Vec<String>,
    ) -> Vec<Value> {
        let row_id = int(row, Some("_id")).unwrap_or_default();
        let author = |id: i64| people.recipients.get(&id).map(|w| w.0.clone());
        let reaction_cols = columns(self.db, "reaction");
        if !reaction_cols.is_empty() {
            let mut sql = "SELECT * FROM reaction WHERE message_id = ?1".to_owned();
            if reaction_cols.iter().any(|c| c == "is_mms") {
                sql.push_str(if table == "sms" {
                    " AND is_mms = 0"
                } else {
                    " AND is_mms = 1"
                });
            }
            return rows(self.db, &sql, &[Sql::Integer(row_id)])
                .into_iter()
                .map(|r| {
                    json!({
                        "emoji": text(&r, Some("emoji")),
                        "author": int(&r, Some("author_id")).and_then(author),
                        "sent": time_from_millis(int(&r, Some("date_sent"))).utc,
                    })
                })
                .collect();
        }
        let Some(Sql::Blob(bytes)) = map.reactions.and_then(|c| row.get(c)) else {
            return Vec::new();
        };
        let Some(list) = proto::reaction_list(bytes) else {
            warnings.push("the reactions column does not decode as a reaction list".to_owned());
            return Vec::new();
        };
        list.into_iter()
            .map(|r| {
                json!({
                    "emoji": r.emoji,
                    "author": i64::try_from(r.author).ok().and_then(author),
                    "sent": time_from_millis(i64::try_from(r.sent_ms).ok()).utc,
                })
            })
            .collect()
    }

    /// The record id of the revision an edit replaces: the row with the
    /// same original message and the revision number before (the original
    /// itself for revision 1).
    fn previous_revision(
        &self,
        table: &str,
        row: &Row,
        map: &ColumnMap,
        people: &Directory,
    ) -> Option<RecordId> {
        let number = int(row, map.revision).filter(|n| *n > 0)?;
        let original = int(row, map.original)?;
        let (original_col, revision_col) = (map.original?, map.revision?);
        let sql = format!("SELECT * FROM {table} WHERE _id = ?1 OR {original_col} = ?1");
        rows(self.db, &sql, &[Sql::Integer(original)])
            .into_iter()
            .find(|r| int(r, Some(revision_col)).unwrap_or(0) == number - 1)
            .map(|r| identity(&r, map, people).id)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        table: &str,
        row: &Row,
        map: &ColumnMap,
        people: &Directory,
        attachment_table: Option<&str>,
    ) -> io::Result<Item<'static>> {
        let row_id = int(row, Some("_id")).unwrap_or_default();
        let kind_bits = int(row, map.kind).unwrap_or(0);
        let outgoing = is_outgoing(kind_bits);
        let Identity {
            chat_key,
            chat,
            author_key,
            sender,
            id,
        } = identity(row, map, people);
        let sent = int(row, map.sent);
        let revision_number = int(row, map.revision);
        let mut flags = Vec::new();
        let mut extra = BTreeMap::new();
        let mut warnings = Vec::new();
        extra.insert("table".to_owned(), Value::from(table));
        extra.insert("row_id".to_owned(), Value::from(row_id));
        extra.insert("type".to_owned(), Value::from(kind_bits));
        extra.insert(
            "direction".to_owned(),
            Value::from(if outgoing { "outgoing" } else { "incoming" }),
        );
        if let Some(received) = int(row, map.received) {
            extra.insert("date_received_ms".to_owned(), Value::from(received));
        }
        let mut body = text(row, map.body);
        let attachments = match attachment_table {
            Some(table) => self.attachments(table, row_id, &mut body, &mut warnings)?,
            None => Vec::new(),
        };
        let mut links = Links {
            source_id: Some(format!("{author_key}/{}", sent.unwrap_or(0))),
            ..Links::default()
        };
        quote(row, map, people, &mut links, &mut extra);
        let reactions = self.reactions(table, row, map, people, &mut warnings);
        if !reactions.is_empty() {
            extra.insert("reactions".to_owned(), Value::Array(reactions));
        }
        let mentions = self.mentions(table, row_id, people);
        if !mentions.is_empty() {
            extra.insert("mentions".to_owned(), Value::Array(mentions));
        }
        let deletion = (int(row, map.deleted).unwrap_or(0) != 0).then(|| {
            flags.push("deleted".to_owned());
            Deletion {
                deleted_at: None,
                deleted_by: sender.clone(),
            }
        });
        if int(row, map.expires).unwrap_or(0) > 0 {
            flags.push("disappearing".to_owned());
        }
        if int(row, map.view_once).unwrap_or(0) != 0 {
            flags.push("view-once".to_owned());
        }
        let revision = revision_number.map(|n| {
            if let Some(original) = int(row, map.original) {
                extra.insert("original_message_row".to_owned(), Value::from(original));
            }
            Revision {
                version: Some(n.to_string()),
                supersedes: self.previous_revision(table, row, map, people),
                edited_at: (n > 0).then(|| time_from_millis(sent).utc).flatten(),
            }
        });
        let kind = if is_user_message(kind_bits) {
            RecordKind::Message
        } else {
            RecordKind::SystemEvent
        };
        if kind == RecordKind::SystemEvent {
            extra.insert(
                "system_event".to_owned(),
                json!({ "base_type": kind_bits & 0x1f, "group_update": kind_bits & 0x10000 != 0 }),
            );
        }
        let text = match kind {
            // A group update's body is an encoded group context, not text.
            RecordKind::SystemEvent => {
                if let Some(raw) = body.take() {
                    extra.insert("body".to_owned(), Value::from(raw));
                }
                None
            }
            _ => body.map(|b| normalize_text(&b)).filter(|b| !b.is_empty()),
        };
        let canonical = spoor_normalize::jcs::to_canonical(&Value::Object(
            row.iter().map(|(k, v)| (k.clone(), sql_json(v))).collect(),
        ));
        let record = Record {
            schema: RECORD_SCHEMA.to_owned(),
            id,
            kind,
            source: Source {
                format: FORMAT.to_owned(),
                export_sha256: self.context.export_sha256,
                locator: Locator {
                    pointer: Some(format!("/{table}/{row_id}")),
                    ..Locator::default()
                },
                item_sha256: Some(Sha256::of(&canonical)),
                parser: PARSER.to_owned(),
            },
            conversation: Conversation {
                id: Some(format!("signal:{chat_key}")),
                title: chat.and_then(|c| c.2.clone().or_else(|| c.1.name.clone())),
                participants: Vec::new(),
            },
            sender,
            recipients: Vec::new(),
            time: time_from_millis(sent),
            subject: None,
            text,
            bodies: Vec::new(),
            attachments,
            links,
            revision,
            deletion,
            flags,
            warnings,
            extra,
        };
        Ok(Item::Record(Box::new(record), Vec::new()))
    }

    /// The attachments of message row `row_id` (quoted ones excluded), in
    /// row order: their bytes when the backup holds them intact. A long
    /// message's full text is one of them and becomes `body`.
    fn attachments(
        &self,
        table: &str,
        row_id: i64,
        body: &mut Option<String>,
        warnings: &mut Vec<String>,
    ) -> io::Result<Vec<BlobRef>> {
        let cols = columns(self.db, table);
        let message = pick(&cols, &["message_id", "mid"]);
        let content_type = pick(&cols, &["content_type", "ct"]);
        let quote = pick(&cols, &["quote"]);
        let Some(message) = message else {
            return Ok(Vec::new());
        };
        let mut attachments = Vec::new();
        let sql = format!("SELECT * FROM {table} WHERE {message} = ?1 ORDER BY _id");
        for part in rows(self.db, &sql, &[Sql::Integer(row_id)]) {
            if int(&part, quote).unwrap_or(0) != 0 {
                continue;
            }
            let part_id = int(&part, Some("_id")).unwrap_or_default();
            let media_type = text(&part, content_type).map(|t| t.to_ascii_lowercase());
            let key = part_id.to_string();
            let stored = self.blobs.spans.get(&(BlobKind::Attachment, key.clone()));
            if stored.is_some() {
                self.linked.borrow_mut().insert(key);
            }
            let mut r = BlobRef {
                role: "attachment".to_owned(),
                name: text(&part, Some("file_name")),
                media_type: media_type.clone(),
                size: None,
                sha256: None,
                missing: true,
                details: BTreeMap::from([("row_id".to_owned(), Value::from(part_id))]),
            };
            if let Some(caption) = text(&part, Some("caption")) {
                r.details.insert("caption".to_owned(), Value::from(caption));
            }
            match stored {
                None => {
                    r.details.insert(
                        "missing".to_owned(),
                        Value::from("no attachment bytes in the backup (never downloaded)"),
                    );
                }
                Some(s) if !s.span.intact => {
                    r.size = Some(u64::from(s.span.length));
                    r.details.insert(
                        "damaged".to_owned(),
                        Value::from("the attachment's tag does not match: damaged in the backup"),
                    );
                    r.details
                        .insert("content_sha256".to_owned(), Value::from(s.sha256.to_hex()));
                    warnings.push(format!("attachment {part_id} is damaged in the backup"));
                    self.damaged.set(self.damaged.get() + 1);
                }
                Some(s) => {
                    let long_text = media_type.as_deref() == Some("text/x-signal-plain")
                        && s.span.length as usize <= self.context.limits.max_message_bytes;
                    if long_text {
                        let bytes = self.blobs.bytes(&s.span)?;
                        *body = Some(String::from_utf8_lossy(&bytes).into_owned());
                        r.role = "long-text".to_owned();
                    }
                    r.size = Some(u64::from(s.span.length));
                    r.sha256 = Some(s.sha256);
                    r.missing = false;
                }
            }
            attachments.push(r);
        }
        Ok(attachments)
    }

    /// The mentions of a message row. They belong to `mms`/`message` rows;
    /// an `sms` row with the same _id is another message.
    fn mentions(&self, table: &str, row_id: i64, people: &Directory) -> Vec<Value> {
        if table == "sms" {
            return Vec::new();
        }
        rows(
            self.db,
            "SELECT * FROM mention WHERE message_id = ?1",
            &[Sql::Integer(row_id)],
        )
        .into_iter()
        .map(|m| {
            let who = int(&m, Some("recipient_id")).and_then(|a| people.recipients.get(&a));
            json!({ "recipient": who.map(|w| w.0.clone()), "start": int(&m, Some("range_start")), "length": int(&m, Some("range_length")) })
        })
        .collect()
    }
}

/// A replayed cell as JSON (blobs as lowercase hex), for the item hash.
fn sql_json(value: &Sql) -> Value {
    match value {
        Sql::Null => Value::Null,
        Sql::Integer(i) => Value::from(*i),
        Sql::Real(r) => Value::from(*r),
        Sql::Text(t) => Value::from(t.clone()),
        Sql::Blob(b) => Value::from(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
    }
}

/// A quoted message: a reply link to its target and what it showed.
fn quote(
    row: &Row,
    map: &ColumnMap,
    people: &Directory,
    links: &mut Links,
    extra: &mut BTreeMap<String, Value>,
) {
    let Some(quoted) = int(row, map.quote_id).filter(|q| *q > 0) else {
        return;
    };
    let quoted_author = int(row, map.quote_author)
        .and_then(|a| people.recipients.get(&a))
        .map(|a| a.0.clone());
    links.in_reply_to.push(format!(
        "{}/{quoted}",
        quoted_author
            .clone()
            .unwrap_or_else(|| "unknown".to_owned())
    ));
    extra.insert("quote".to_owned(), json!({ "author": quoted_author, "target_sent_ms": quoted, "text": text(row, map.quote_body) }));
}

/// Which column holds what, decided per table from the columns it has.
/// Who is who in the replayed database.
struct Directory {
    /// Recipient id → (key, party, group title).
    recipients: HashMap<i64, (String, Party, Option<String>)>,
    /// Thread id → recipient id.
    threads: HashMap<i64, i64>,
}

/// Who wrote a row, in which conversation, and the record id that follows.
struct Identity<'r> {
    chat_key: String,
    chat: Option<&'r (String, Party, Option<String>)>,
    author_key: String,
    sender: Option<Party>,
    id: RecordId,
}

/// The identity of a message row: conversation, author, sending time and
/// revision number, so every revision of an edit is its own record.
fn identity<'r>(row: &Row, map: &ColumnMap, people: &'r Directory) -> Identity<'r> {
    let outgoing = is_outgoing(int(row, map.kind).unwrap_or(0));
    let chat = int(row, map.thread)
        .and_then(|t| people.threads.get(&t))
        .and_then(|r| people.recipients.get(r));
    let chat_key = chat.map_or_else(
        || format!("thread:{}", int(row, map.thread).unwrap_or(0)),
        |c| c.0.clone(),
    );
    // Before from_recipient_id, the recipient column names the other
    // party (the group, for outgoing group messages): outgoing is self.
    let author = if outgoing && !map.from_column {
        None
    } else {
        int(row, map.sender).and_then(|id| people.recipients.get(&id))
    };
    let (author_key, sender) = match (author, outgoing) {
        (Some(a), _) => (a.0.clone(), Some(a.1.clone())),
        (None, true) => (
            "self".to_owned(),
            Some(Party {
                name: Some("self".to_owned()),
                ..Party::default()
            }),
        ),
        (None, false) => ("unknown".to_owned(), None),
    };
    let id = RecordId::derive(
        "signal",
        &[
            &chat_key,
            &author_key,
            &int(row, map.sent)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            &int(row, map.revision)
                .map(|r| r.to_string())
                .unwrap_or_default(),
        ],
    );
    Identity {
        chat_key,
        chat,
        author_key,
        sender,
        id,
    }
}

struct ColumnMap {
    sent: Option<&'static str>,
    received: Option<&'static str>,
    kind: Option<&'static str>,
    sender: Option<&'static str>,
    thread: Option<&'static str>,
    body: Option<&'static str>,
    deleted: Option<&'static str>,
    quote_id: Option<&'static str>,
    quote_author: Option<&'static str>,
    quote_body: Option<&'static str>,
    original: Option<&'static str>,
    revision: Option<&'static str>,
    expires: Option<&'static str>,
    view_once: Option<&'static str>,
    /// The protobuf reaction list of database versions 37–120.
    reactions: Option<&'static str>,
    /// `from_recipient_id` exists (2023 on): it names the author, self too.
    from_column: bool,
}
