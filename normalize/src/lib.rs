//! The common record model of spoor and everything needed to write it
//! reproducibly: RFC 8785 canonical JSON, SHA-256, stable ids, times resolved
//! with real zone rules, and text normalisation. No I/O happens here.
//!
//! ```
//! use spoor_normalize::{jcs, RecordId, Sha256};
//! let value = serde_json::json!({"b": 1, "a": "€"});
//! let line = jcs::to_canonical(&value);
//! assert_eq!(line, "{\"a\":\"€\",\"b\":1}".as_bytes());
//! let hash = Sha256::of(&line);
//! assert_eq!(hash.to_hex().len(), 64);
//! let id = RecordId::derive("email", &["<id@example.org>", &hash.to_hex()]);
//! assert_eq!(id.as_str().len(), 64);
//! ```
#![deny(missing_docs)]

pub mod access;
pub mod catalogue;
pub mod cosign;
mod hash;
pub mod jcs;
pub mod layout;
mod record;
pub mod text;
pub mod tiles;
mod time;
pub mod timestamp;

pub use hash::{hash_reader, HashingReader, HashingWriter, Sha256};
pub use record::{
    BlobRef, Conversation, Deletion, Links, Locator, Party, Recipient, Record, RecordId,
    RecordKind, Revision, Source, RECORD_SCHEMA,
};
pub use time::{
    format_epoch_seconds, format_utc, format_wall, Ambiguity, FoldChoice, RecordTime, Zone,
};

/// Errors of the record model. Each names the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Text that should have been a SHA-256 digest was not.
    #[error("not a SHA-256 digest (64 lowercase hex digits): {0:?}")]
    BadDigest(String),
    /// Text that should have been a record id was not.
    #[error("not a record id (64 lowercase hex digits): {0:?}")]
    BadRecordId(String),
    /// The tz database has no such zone.
    #[error("unknown time zone {0:?} (expected an IANA name such as Europe/Amsterdam)")]
    UnknownZone(String),
    /// A value could not be serialised.
    #[error("cannot serialise record: {0}")]
    Serialize(String),
}
