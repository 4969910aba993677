//! One Graph `chatMessage` into a record (docs/FORMAT.md §14).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use spoor_normalize::text::{html_to_text, normalize_text, path_component};
use spoor_normalize::{
    format_utc, jcs, BlobRef, Conversation, Deletion, Links, Locator, Party, Record, RecordId,
    RecordKind, RecordTime, Revision, Sha256, Source, RECORD_SCHEMA,
};

use super::{PageContext, FORMAT};
use crate::read::{Blob, Store, PARSER};

/// Is an `@odata.context` that of a chatMessage collection?
pub(crate) fn is_message_context(context: &str) -> bool {
    let lower = context.to_ascii_lowercase();
    ["messages", "chatmessage", "replies"]
        .iter()
        .any(|k| lower.contains(k))
}

/// The conversation key a page's `@odata.context` names:
/// `…#chats('19%3A…')/messages` or `…#teams('…')/channels('…')/messages`.
pub(crate) fn conversation_from_context(context: &str) -> Option<String> {
    let quoted = |after: &str| -> Option<String> {
        let start = context.find(after)? + after.len();
        let end = context[start..].find("')")? + start;
        Some(percent_decode(&context[start..end]))
    };
    if let Some(chat) = quoted("chats('") {
        return Some(format!("chat:{chat}"));
    }
    match (quoted("teams('"), quoted("channels('")) {
        (Some(team), Some(channel)) => Some(format!("channel:{team}/{channel}")),
        _ => None,
    }
}

/// The conversation key a message names itself: its `chatId`, or its
/// `channelIdentity`.
pub(crate) fn conversation_of(message: &Value) -> Option<String> {
    if let Some(chat) = message.get("chatId").and_then(Value::as_str) {
        return Some(format!("chat:{chat}"));
    }
    let channel = message.get("channelIdentity")?;
    let team = channel.get("teamId").and_then(Value::as_str)?;
    let channel = channel.get("channelId").and_then(Value::as_str)?;
    Some(format!("channel:{team}/{channel}"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// An identity set (`from`, `initiator`, a reaction's `user`) as a party:
/// the user, application or device in it, and the kind of identity.
fn party(identity: &Value) -> Option<(Party, String)> {
    for (slot, address_type, kind_key) in [
        ("user", "aad", "userIdentityType"),
        (
            "application",
            "teams-application",
            "applicationIdentityType",
        ),
        ("device", "teams-device", "deviceIdentityType"),
    ] {
        if let Some(who) = identity.get(slot).filter(|w| w.is_object()) {
            let party = Party {
                name: text_of(who, "displayName").map(normalize_text),
                address: text_of(who, "id").map(str::to_owned),
                address_type: Some(address_type.to_owned()),
            };
            let kind = text_of(who, kind_key).unwrap_or(slot).to_owned();
            return Some((party, kind));
        }
    }
    None
}

fn party_json(identity: &Value) -> Value {
    match party(identity) {
        Some((p, kind)) => json!({ "name": p.name, "id": p.address, "identity_type": kind }),
        None => Value::Null,
    }
}

/// A Graph time (`2024-03-01T09:30:00.123Z`) as a record time.
fn time(text: Option<&str>) -> RecordTime {
    match text {
        None => RecordTime::unresolved(None, "no createdDateTime"),
        Some(t) => match t.parse::<jiff::Timestamp>() {
            Ok(ts) => RecordTime {
                utc: Some(format_utc(ts)),
                source_text: Some(t.to_owned()),
                ..RecordTime::default()
            },
            Err(e) => RecordTime::unresolved(Some(t), &format!("unparseable time: {e}")),
        },
    }
}

/// A Graph time normalised to UTC text, or kept as written when it does not
/// parse.
fn utc(text: Option<&str>) -> Option<String> {
    let t = text?;
    Some(
        t.parse::<jiff::Timestamp>()
            .map_or_else(|_| t.to_owned(), format_utc),
    )
}

/// Turns one chatMessage into a record. `Err` is the reason to quarantine.
pub(crate) fn record(
    message: &Value,
    locator: Locator,
    page_conversation: Option<&str>,
    context: &PageContext<'_>,
    store: &mut Store<'_>,
) -> Result<(Record, Vec<Blob>), String> {
    if !message.is_object() {
        return Err("not a JSON object".to_owned());
    }
    let Some(id) = text_of(message, "id").filter(|i| !i.is_empty()) else {
        return Err("chatMessage without an id".to_owned());
    };
    let conversation = conversation_of(message)
        .or_else(|| page_conversation.map(str::to_owned))
        .unwrap_or_default();
    let last_modified = utc(text_of(message, "lastModifiedDateTime"));
    let etag = text_of(message, "etag")
        .map(str::to_owned)
        .or_else(|| last_modified.clone())
        .unwrap_or_default();
    let record_id = RecordId::derive("teams", &[&conversation, id, &etag]);

    let mut warnings = Vec::new();
    let mut flags = Vec::new();
    let mut extra = BTreeMap::new();
    if conversation.is_empty() {
        warnings
            .push("no chatId, channelIdentity or page context names the conversation".to_owned());
    }

    let event = message.get("eventDetail").filter(|e| e.is_object());
    let kind = if event.is_some() {
        RecordKind::SystemEvent
    } else {
        RecordKind::Message
    };
    if let Some(event) = event {
        extra.insert("system_event".to_owned(), system_event(event));
    }
    let sender = match kind {
        RecordKind::SystemEvent => None,
        _ => message.get("from").and_then(party).map(|(p, kind)| {
            extra.insert("sender_identity_type".to_owned(), Value::from(kind));
            p
        }),
    };

    let (content, text, body) = body_of(message);
    let mut bodies = Vec::new();
    let mut blobs = Vec::new();
    if let Some((body_ref, blob)) = body {
        bodies.push(body_ref);
        blobs.push(blob);
    }

    let mut links = Links {
        source_id: Some(id.to_owned()),
        ..Links::default()
    };
    if let Some(parent) = text_of(message, "replyToId") {
        links.in_reply_to.push(parent.to_owned());
    }

    let mut attachments = Vec::new();
    for attachment in message
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        attachments.push(attachment_ref(
            attachment, &mut links, &mut extra, &mut flags, &mut blobs,
        ));
    }
    for hosted in hosted_content_ids(content) {
        attachments.push(hosted_ref(id, &hosted, context, store));
    }

    let mentions = mentions(message);
    if !mentions.is_empty() {
        extra.insert("mentions".to_owned(), Value::Array(mentions));
    }
    let reactions = reactions(message);
    if !reactions.is_empty() {
        extra.insert("reactions".to_owned(), Value::Array(reactions));
    }
    for (key, name) in [
        ("importance", "importance"),
        ("messageType", "message_type"),
        ("webUrl", "web_url"),
    ] {
        if let Some(v) = text_of(message, key) {
            extra.insert(name.to_owned(), Value::from(v));
        }
    }
    if let Some(modified) = &last_modified {
        extra.insert("last_modified".to_owned(), Value::from(modified.clone()));
    }
    if let Some(channel) = message.get("channelIdentity").filter(|c| c.is_object()) {
        extra.insert("channel".to_owned(), channel.clone());
    }

    let edited_at = utc(text_of(message, "lastEditedDateTime"));
    if edited_at.is_some() {
        flags.push("edited".to_owned());
    }
    let deletion = utc(text_of(message, "deletedDateTime")).map(|at| {
        flags.push("deleted".to_owned());
        Deletion {
            deleted_at: Some(at),
            deleted_by: None,
        }
    });

    let record = Record {
        schema: RECORD_SCHEMA.to_owned(),
        id: record_id,
        kind,
        source: Source {
            format: FORMAT.to_owned(),
            export_sha256: context.export_sha256,
            locator,
            item_sha256: Some(Sha256::of(&jcs::to_canonical(message))),
            parser: PARSER.to_owned(),
        },
        conversation: Conversation {
            id: (!conversation.is_empty()).then_some(conversation),
            title: None,
            participants: Vec::new(),
        },
        sender,
        recipients: Vec::new(),
        time: time(text_of(message, "createdDateTime")),
        subject: text_of(message, "subject")
            .map(normalize_text)
            .filter(|s| !s.is_empty()),
        text: (!text.is_empty()).then_some(text),
        bodies,
        attachments,
        links,
        revision: Some(Revision {
            version: (!etag.is_empty()).then_some(etag),
            supersedes: None,
            edited_at,
        }),
        deletion,
        flags,
        warnings,
        extra,
    };
    Ok((record, blobs))
}

/// A system event's detail, without its OData type annotation.
fn system_event(event: &Value) -> Value {
    let odata_type = text_of(event, "@odata.type").unwrap_or("");
    let name = odata_type
        .rsplit('.')
        .next()
        .unwrap_or("")
        .trim_end_matches("EventMessageDetail");
    let mut detail = event.as_object().cloned().unwrap_or_default();
    detail.remove("@odata.type");
    let initiator = detail
        .get("initiator")
        .map(party_json)
        .unwrap_or(Value::Null);
    json!({ "type": name, "odata_type": odata_type, "initiator": initiator, "detail": detail })
}

/// The body: its raw content, its text (HTML by the one rule, plain text
/// literally), and the raw body kept as a blob.
fn body_of(message: &Value) -> (&str, String, Option<(BlobRef, Blob)>) {
    let body = message.get("body");
    let content = body.and_then(|b| text_of(b, "content")).unwrap_or("");
    let html = body
        .and_then(|b| text_of(b, "contentType"))
        .is_none_or(|t| t.eq_ignore_ascii_case("html"));
    let text = if html {
        html_to_text(content)
    } else {
        content.replace("\r\n", "\n").trim().to_owned()
    };
    let text = normalize_text(&text);
    if content.is_empty() {
        return (content, text, None);
    }
    let bytes = content.as_bytes().to_vec();
    let blob = Blob {
        sha256: Sha256::of(&bytes),
        bytes,
    };
    let body_ref = blob_ref(
        if html { "html" } else { "text" },
        None,
        Some(if html { "text/html" } else { "text/plain" }),
        &blob,
    );
    (content, text, Some((body_ref, blob)))
}

/// The people, apps, conversations and tags a message mentions.
fn mentions(message: &Value) -> Vec<Value> {
    message
        .get("mentions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            let mentioned = m.get("mentioned").cloned().unwrap_or(Value::Null);
            let (kind, who) = ["user", "application", "conversation", "tag"]
                .iter()
                .find_map(|k| mentioned.get(*k).map(|w| (*k, w)))
                .map_or(("unknown", &Value::Null), |(k, w)| (k, w));
            json!({
                "id": m.get("id"),
                "text": text_of(m, "mentionText"),
                "kind": kind,
                "target_id": who.get("id"),
                "target_name": who.get("displayName"),
            })
        })
        .collect()
}

/// The reactions on a message, each with who and when.
fn reactions(message: &Value) -> Vec<Value> {
    message
        .get("reactions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "type": text_of(r, "reactionType"),
                "display_name": text_of(r, "displayName"),
                "content_url": text_of(r, "reactionContentUrl"),
                "time": utc(text_of(r, "createdDateTime")),
                "user": r.get("user").map(party_json).unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn blob_ref(role: &str, name: Option<&str>, media_type: Option<&str>, blob: &Blob) -> BlobRef {
    BlobRef {
        role: role.to_owned(),
        name: name.map(str::to_owned),
        media_type: media_type.map(str::to_owned),
        size: Some(blob.bytes.len() as u64),
        sha256: Some(blob.sha256),
        missing: false,
        details: BTreeMap::new(),
    }
}

/// One entry of `attachments[]`, in source order. A file `reference` is a
/// link only (the bytes live in SharePoint/OneDrive); a `messageReference`
/// (quoted reply) links to the quoted message; any `content` (cards, quotes,
/// forwarded messages) is kept as a blob.
fn attachment_ref(
    attachment: &Value,
    links: &mut Links,
    extra: &mut BTreeMap<String, Value>,
    flags: &mut Vec<String>,
    blobs: &mut Vec<Blob>,
) -> BlobRef {
    let content_type = text_of(attachment, "contentType").unwrap_or("");
    let name = text_of(attachment, "name");
    let mut details = BTreeMap::new();
    for (key, detail) in [
        ("id", "attachment_id"),
        ("contentType", "content_type"),
        ("contentUrl", "content_url"),
        ("thumbnailUrl", "thumbnail_url"),
        ("teamsAppId", "teams_app_id"),
    ] {
        if let Some(v) = text_of(attachment, key) {
            details.insert(detail.to_owned(), Value::from(v));
        }
    }
    if content_type == "messageReference" {
        let quoted: Value = text_of(attachment, "content")
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Value::Null);
        let quoted_id = text_of(&quoted, "messageId").or(text_of(attachment, "id"));
        if let Some(quoted_id) = quoted_id {
            links.in_reply_to.push(quoted_id.to_owned());
        }
        extra.insert(
            "quoted".to_owned(),
            json!({
                "message_id": quoted_id,
                "preview": text_of(&quoted, "messagePreview"),
                "sender": quoted.get("messageSender").map(party_json),
            }),
        );
    }
    let content = match attachment.get("content") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    match content {
        Some(content) => {
            let bytes = content.into_bytes();
            let blob = Blob {
                sha256: Sha256::of(&bytes),
                bytes,
            };
            let role = if content_type == "messageReference" {
                "message-reference"
            } else {
                "card"
            };
            let mut r = blob_ref(role, name, Some(content_type), &blob);
            r.details = details;
            blobs.push(blob);
            r
        }
        None => {
            if content_type == "reference" {
                details.insert("link_only".to_owned(), Value::Bool(true));
                if !flags.iter().any(|f| f == "link-only-attachment") {
                    flags.push("link-only-attachment".to_owned());
                }
            }
            BlobRef {
                role: "attachment".to_owned(),
                name: name.map(str::to_owned),
                media_type: None,
                size: None,
                sha256: None,
                missing: true,
                details,
            }
        }
    }
}

/// Hosted-content ids referenced by `<img src=".../hostedContents/ID/$value">`
/// in a body, in order, each once.
fn hosted_content_ids(html: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("/hostedContents/") {
        rest = &rest[at + "/hostedContents/".len()..];
        let end = rest.find(['/', '"', '\'', '?', ' ']).unwrap_or(rest.len());
        let id = percent_decode(&rest[..end]);
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// An inline image from `hostedContents/<message id>/<hosted content id>`
/// beside the pages, streamed to the store whatever its size, or recorded
/// as missing.
fn hosted_ref(
    message_id: &str,
    hosted_id: &str,
    context: &PageContext<'_>,
    store: &mut Store<'_>,
) -> BlobRef {
    let mut r = BlobRef {
        role: "inline".to_owned(),
        name: None,
        media_type: None,
        size: None,
        sha256: None,
        missing: true,
        details: BTreeMap::from([("hosted_content_id".to_owned(), Value::from(hosted_id))]),
    };
    let relative = format!(
        "hostedContents/{}/{}",
        path_component(message_id.as_bytes()),
        path_component(hosted_id.as_bytes())
    );
    let Some(root) = context.root else {
        r.details.insert(
            "missing".to_owned(),
            Value::from("the export is a single page; hosted contents come in a folder export"),
        );
        return r;
    };
    let stored = std::fs::File::open(root.join(&relative)).and_then(|mut file| store(&mut file));
    match stored {
        Ok((sha256, size)) => {
            r.size = Some(size);
            r.sha256 = Some(sha256);
            r.missing = false;
            r.details.insert("path".to_owned(), Value::from(relative));
        }
        Err(e) => {
            r.details.insert(
                "missing".to_owned(),
                Value::from(format!("{relative}: {e}")),
            );
        }
    }
    r
}
