//! The common record (schema `spoor.record/1`): one message or event from any
//! source, as documented field by field in docs/FORMAT.md.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::Sha256;
use crate::jcs;
use crate::time::RecordTime;
use crate::Error;

/// The schema tag every record carries.
pub const RECORD_SCHEMA: &str = "spoor.record/1";

/// A record's stable identity: 64 lowercase hex digits, the SHA-256 of the
/// canonical JSON array `["spoor.id/1", kind-of-source, part…]`.
///
/// Built only from the source's own identity of the message, never from the
/// clock or the run, so re-ingesting an export yields the same ids.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    /// Derives an id from a source family (`"email"`) and identity parts.
    pub fn derive(family: &str, parts: &[&str]) -> RecordId {
        // The canonical form of an array of strings, written directly.
        let mut array = Vec::with_capacity(128 + parts.iter().map(|p| p.len()).sum::<usize>());
        array.extend_from_slice(b"[\"spoor.id/1\",");
        jcs::write_string(family, &mut array);
        for part in parts {
            array.push(b',');
            jcs::write_string(part, &mut array);
        }
        array.push(b']');
        RecordId(Sha256::of(&array).to_hex())
    }

    /// Checks that `text` is a well-formed id.
    ///
    /// # Errors
    /// [`Error::BadRecordId`] unless it is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<RecordId, Error> {
        Sha256::from_hex(text)
            .map(|_| RecordId(text.to_owned()))
            .map_err(|_| Error::BadRecordId(text.chars().take(80).collect()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RecordId {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        RecordId::parse(&text)
    }
}

impl From<RecordId> for String {
    fn from(id: RecordId) -> String {
        id.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RecordKind {
    /// An e-mail message.
    Email,
    /// A chat message.
    Message,
    /// A system event (member added, chat renamed, call…).
    SystemEvent,
}

/// Where a record came from, precisely enough to find its bytes again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Format name, e.g. `email/mbox`, `email/eml`, `email/maildir`.
    pub format: String,
    /// SHA-256 of the delivered export (see docs/FORMAT.md for folders).
    pub export_sha256: Sha256,
    /// The place inside the export.
    pub locator: Locator,
    /// SHA-256 of the item's own bytes as parsed (for mbox: after un-quoting).
    pub item_sha256: Option<Sha256>,
    /// Parser name and version that derived the record.
    pub parser: String,
}

/// A place inside an export. Unused fields are null.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locator {
    /// Path relative to the export root, `/`-separated (null for a one-file export).
    pub path: Option<String>,
    /// Byte range `[start, end)` within that file.
    pub bytes: Option<[u64; 2]>,
    /// Line range `[first, last]`, 1-based, within that file.
    pub lines: Option<[u64; 2]>,
    /// JSON pointer within that file.
    pub pointer: Option<String>,
    /// Frame index within that file.
    pub frame: Option<u64>,
}

/// A person or system taking part: name plus an address of a stated type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Display name as the source gave it.
    pub name: Option<String>,
    /// The address: e-mail address, E.164 number, AAD id, Signal ACI…
    pub address: Option<String>,
    /// `email`, `e164`, `aad`, `signal-aci`, or null when unknown.
    pub address_type: Option<String>,
}

/// A recipient: a party and its role (`to`, `cc`, `bcc`, `reply-to`, `sender`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The role of this recipient.
    pub role: String,
    /// Who.
    pub party: Party,
}

/// The conversation a record belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The source's conversation identity (thread root, chat id…).
    pub id: Option<String>,
    /// Title (group name, chat topic), if the source has one.
    pub title: Option<String>,
    /// Everyone the record names as taking part.
    pub participants: Vec<Party>,
}

/// A content-addressed byte string kept in the package's `blobs/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// What the blob is to the record: `html`, `attachment`, `inline`, `message`…
    pub role: String,
    /// File name the source gave, decoded.
    pub name: Option<String>,
    /// Media type as the source declared it, lower case.
    pub media_type: Option<String>,
    /// Size in bytes; null when the source did not carry the bytes.
    pub size: Option<u64>,
    /// SHA-256 of the bytes; null when the source did not carry the bytes.
    pub sha256: Option<Sha256>,
    /// True when the source referenced the bytes but did not carry them.
    pub missing: bool,
    /// Format-specific facts: content id, nested-message summary, flags.
    pub details: BTreeMap<String, Value>,
}

/// Links to other messages, in the source's own identities.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The source's id for this message (Message-ID, Teams id…).
    pub source_id: Option<String>,
    /// Ids this message replies to or quotes.
    pub in_reply_to: Vec<String>,
    /// Thread ancestry, oldest first (e-mail `References`).
    pub references: Vec<String>,
}

/// Marks a record as one version of an edited message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The source's version label (etag, revision number).
    pub version: Option<String>,
    /// The record this version supersedes.
    pub supersedes: Option<RecordId>,
    /// When the edit was made.
    pub edited_at: Option<String>,
}

/// Marks a record as a deletion of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// When the deletion happened, UTC.
    pub deleted_at: Option<String>,
    /// Who deleted it, if known.
    pub deleted_by: Option<Party>,
}

/// One message or event in the common form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Always [`RECORD_SCHEMA`].
    pub schema: String,
    /// Stable identity.
    pub id: RecordId,
    /// What this is.
    pub kind: RecordKind,
    /// Where it came from.
    pub source: Source,
    /// The conversation or thread.
    pub conversation: Conversation,
    /// Who sent it; null for system events without an initiator.
    pub sender: Option<Party>,
    /// Everyone it was addressed to, in source order.
    pub recipients: Vec<Recipient>,
    /// When.
    pub time: RecordTime,
    /// Subject line, if any.
    pub subject: Option<String>,
    /// Plain text (NFC, bidi marks removed), if any.
    pub text: Option<String>,
    /// Alternative bodies (e.g. HTML) as blobs.
    pub bodies: Vec<BlobRef>,
    /// Attachments and inline parts in source order.
    pub attachments: Vec<BlobRef>,
    /// Reply and thread links.
    pub links: Links,
    /// Set when this record is one version of an edited message.
    pub revision: Option<Revision>,
    /// Set when this record marks a deletion.
    pub deletion: Option<Deletion>,
    /// Source facts worth keeping that have no field of their own
    /// (e.g. `maildir_flags`, `smime`, `tnef`).
    pub flags: Vec<String>,
    /// Problems met while deriving the record (decode errors, fallbacks).
    pub warnings: Vec<String>,
    /// Format-specific fields, documented per format in docs/FORMAT.md.
    pub extra: BTreeMap<String, Value>,
}

impl Record {
    /// The record's line in `records.jsonl`: RFC 8785 canonical JSON,
    /// without the trailing LF. Its SHA-256 is the record hash.
    ///
    /// # Errors
    /// [`Error::Serialize`] if the record cannot become JSON (it always can;
    /// the error exists so no panic path does).
    pub fn to_canonical_line(&self) -> Result<Vec<u8>, Error> {
        jcs::serialize(self).map_err(|e| Error::Serialize(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            schema: RECORD_SCHEMA.to_owned(),
            id: RecordId::derive("email", &["<a@b>", "00"]),
            kind: RecordKind::Email,
            source: Source {
                format: "email/eml".into(),
                export_sha256: Sha256::of(b"x"),
                locator: Locator::default(),
                item_sha256: None,
                parser: "test".into(),
            },
            conversation: Conversation::default(),
            sender: None,
            recipients: vec![],
            time: RecordTime::default(),
            subject: Some("Zoë".into()),
            text: None,
            bodies: vec![],
            attachments: vec![],
            links: Links::default(),
            revision: None,
            deletion: None,
            flags: vec![],
            warnings: vec![],
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = RecordId::derive("email", &["<a@b>", "00"]);
        assert_eq!(a, RecordId::derive("email", &["<a@b>", "00"]));
        assert_ne!(a, RecordId::derive("email", &["<a@b>", "01"]));
        // Parts are framed, so moving a boundary changes the id.
        assert_ne!(
            RecordId::derive("x", &["ab", "c"]),
            RecordId::derive("x", &["a", "bc"])
        );
        assert_eq!(a.as_str().len(), 64);
        let array = serde_json::json!(["spoor.id/1", "email", "<a@b>", "00"]);
        assert_eq!(a.as_str(), Sha256::of(&jcs::to_canonical(&array)).to_hex());
        assert!(RecordId::parse("nope").is_err());
    }

    #[test]
    fn canonical_line_round_trips() {
        let record = sample();
        let line = record.to_canonical_line().expect("serialises");
        assert!(jcs::is_canonical(&line));
        let back: Record = serde_json::from_slice(&line).expect("parses");
        assert_eq!(back, record);
        let text = String::from_utf8(line).expect("utf-8");
        assert!(text.starts_with("{\"attachments\":[],\"bodies\":[],\"conversation\":"));
        assert!(text.contains("\"schema\":\"spoor.record/1\""));
    }
}
