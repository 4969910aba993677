//! What every reader is given and hands out: the options and limits of a
//! reading, the items (records with their blobs, quarantined bytes, blobs
//! streamed ahead), the [`Sink`] that receives them, and the summary.

use std::io::{self, Read};
use std::path::PathBuf;

use serde_json::Value;
use spoor_normalize::{Locator, Record, Sha256, Zone};

use crate::signal::crypto::Passphrase;
use crate::signal::message_backup::RecoveryKey;
use crate::whatsapp::header::DateOrder;
use crate::Error;

/// Name and version of this parser, written into every record.
pub const PARSER: &str = concat!("spoor-ingest/", env!("CARGO_PKG_VERSION"));

/// Bounds on what one item may cost to read. Each has a reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest message parsed (bytes). Larger ones are quarantined and stay
    /// only in the original: parsing holds a message and its decoded parts in
    /// memory at once.
    pub max_message_bytes: usize,
    /// Largest chat message (bytes of a WhatsApp record's lines). WhatsApp
    /// sends at most 65,536 characters; a larger "message" is a pasted or
    /// damaged file, quarantined by its place in the original, which keeps
    /// it whole. Bounds memory and keeps reading linear.
    pub max_chat_message_bytes: usize,
    /// Longest header line (bytes) before a message is quarantined: RFC 5322
    /// allows 998, and a 50 MB "header" is an attack or a damaged file.
    pub max_header_line_bytes: usize,
    /// Most multipart declarations in one message: bounds the parser's
    /// recursion depth.
    pub max_mime_parts: usize,
    /// Deepest nesting of messages inside messages that is summarised.
    pub max_nesting: usize,
    /// Largest raw copy kept inline in a quarantine entry (bytes); a larger
    /// item is referenced by its place in the original.
    pub max_quarantine_copy: usize,
    /// Deepest folder level read in a folder export.
    pub max_folder_depth: usize,
    /// Most bytes a zip entry may unpack to per compressed byte (at least
    /// 1 MiB is always allowed): a zip bomb is refused, and the sizes a zip
    /// declares are not trusted.
    pub max_unpack_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 << 20,
            max_chat_message_bytes: 1 << 20,
            max_header_line_bytes: 1 << 20,
            max_mime_parts: 256,
            max_nesting: 8,
            max_quarantine_copy: 16 << 20,
            max_folder_depth: 32,
            max_unpack_ratio: 200,
        }
    }
}

/// What the reader needs to know besides the export.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// SHA-256 of the export as received (written into every record).
    pub export_sha256: Sha256,
    /// Bounds.
    pub limits: Limits,
    /// Zone of wall-clock times in sources that carry no offset (WhatsApp).
    pub zone: Zone,
    /// Date order to use when a WhatsApp chat's dates fit several.
    pub date_order_hint: Option<DateOrder>,
    /// The passphrase of Signal backups (never logged or written).
    pub signal_passphrase: Option<Passphrase>,
    /// The recovery key of Signal message-backup folders (never logged or
    /// written).
    pub signal_recovery_key: Option<RecoveryKey>,
    /// A folder private to the caller (mode 0700) where a reader may keep
    /// working copies of decrypted data (a Signal backup's database is
    /// replayed there); the reader removes what it made, and the caller
    /// should empty the folder after a crash.
    pub work_dir: PathBuf,
}

/// Bytes a record references, addressed by their SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// SHA-256 of `bytes`.
    pub sha256: Sha256,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Something that could not become a record: where it was, why, and its raw
/// bytes (or, when larger than the copy limit, only their place in the
/// original, which the package keeps whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// Where in the export.
    pub locator: Locator,
    /// Why it could not be read, in words.
    pub reason: String,
    /// The raw bytes; empty when `raw_size` exceeds the copy limit.
    pub raw: Vec<u8>,
    /// Size of the item in the original.
    pub raw_size: u64,
}

/// What a format reader hands out, in source order.
pub(crate) enum Item<'a> {
    Record(Box<Record>, Vec<Blob>),
    Quarantine(Quarantined),
    /// Bytes streamed to the sink ahead of the record that will reference
    /// them ([`Sink::blob`]); their digest and size come back in `stored`,
    /// or the error of `bytes` itself (a damaged entry, a cut file), which
    /// is the reader's to report, not a failure of the sink.
    Stream {
        bytes: &'a mut dyn Read,
        stored: &'a mut Option<io::Result<(Sha256, u64)>>,
    },
}

/// Hands a file's bytes to the store and returns their digest and size.
pub(crate) type Store<'s> = dyn FnMut(&mut dyn Read) -> io::Result<(Sha256, u64)> + 's;

/// Streams `bytes` out through `emit` as an [`Item::Stream`], for a reader
/// building a record whose files must reach the store first. When `emit`
/// stops, its error is kept in `stopped` (the reader stops too); an `Err`
/// otherwise is the bytes' own (a damaged entry), the reader's to report.
pub(crate) fn stream_out<E>(
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
    stopped: &mut Option<E>,
    bytes: &mut dyn Read,
) -> io::Result<(Sha256, u64)> {
    let mut stored = None;
    emit(Item::Stream {
        bytes,
        stored: &mut stored,
    })
    .map_err(|e| {
        *stopped = Some(e);
        io::Error::other("the store stopped")
    })?;
    stored.unwrap_or_else(|| Err(io::Error::other("the store gave no digest")))
}

/// Hands what a reader produces to the sink, from whichever reading thread
/// has its turn.
pub(crate) type Emit<'s> = dyn FnMut(Item) -> Result<(), Error> + Send + 's;

/// Receives what a reader produces, in source order. Readers may call it
/// from threads of their own (one at a time), so it must be `Send`.
pub trait Sink: Send {
    /// One record and the blobs it references.
    ///
    /// # Errors
    /// An I/O error stops the reading of this export.
    fn record(&mut self, record: Record, blobs: Vec<Blob>) -> io::Result<()>;
    /// One quarantined item.
    ///
    /// # Errors
    /// An I/O error stops the reading of this export.
    fn quarantine(&mut self, item: Quarantined) -> io::Result<()>;
    /// Bytes streamed ahead of the record that will reference them by
    /// digest: a blob too large to hold (a 100 MB attachment in a Signal
    /// backup) or read long before its record. The sink reads `bytes` to
    /// the end and returns their SHA-256 and size, which the reader then
    /// names in the record. A streamed blob that no record or quarantined
    /// item ends up referencing (say, one whose tag turned out wrong) is the
    /// sink's to drop.
    ///
    /// # Errors
    /// An I/O error, from the sink or from `bytes`, stops the reading of
    /// this export.
    fn blob(&mut self, bytes: &mut dyn Read) -> io::Result<(Sha256, u64)>;
}

/// What reading an export decided and met.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadSummary {
    /// Format of the export as a whole: `email/eml`, `email/mbox`,
    /// `email/maildir`, `whatsapp/text`, `whatsapp/zip`, `teams/graph-json`,
    /// `<family>/folder` (`mixed/folder` for several families; `email/folder`
    /// when nothing was read), or `unknown`.
    pub format: String,
    /// Decisions that shaped the records (e.g. mbox variant), with basis.
    pub decisions: Vec<Value>,
    /// Records produced.
    pub records: u64,
    /// Items quarantined.
    pub quarantined: u64,
    /// Parts of the export that could not be read at all (the import is
    /// partial): path and reason.
    pub unreadable: Vec<String>,
    /// The units the export held, when every item read came from exactly
    /// one of them (so records + quarantined = units read); `None` for
    /// formats that do not count yet.
    pub accounting: Option<Accounting>,
}

pub use spoor_normalize::layout::Accounting;

/// Why a reader ended before its input did: the input failed (`F` says
/// how; what was read before that point stays read), or the consumer of
/// its items failed (`E`, handed back unchanged so that reading stops).
#[derive(Debug)]
pub enum Stop<F, E> {
    /// The input could not be read on.
    Input(F),
    /// The consumer of the items failed.
    Sink(E),
}
