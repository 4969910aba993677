//! What a format is: recognised from content (never from a file name), and
//! read into items through a [`Reading`]. The table of every format is
//! the driver's `FORMATS`.

use std::path::Path;

use serde_json::Value;
use spoor_normalize::{Locator, Record};

use crate::read::{Accounting, Blob, Item, ReadOptions};
use crate::Error;

/// What an export looks like from its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportKind {
    /// One RFC 5322 message.
    Eml,
    /// An mbox file (variant decided while reading).
    Mbox,
    /// A Maildir (a folder with `cur/` or `new/`).
    Maildir,
    /// A folder of other exports.
    Folder,
    /// A WhatsApp chat exported as text.
    WhatsApp,
    /// A zip archive (a WhatsApp export with media, when it holds a chat).
    Zip,
    /// Microsoft Graph JSON (Teams chatMessage pages or messages).
    Teams,
    /// Signal's plaintext chat export (a folder with `main.jsonl`).
    SignalExport,
    /// Signal's legacy encrypted Android backup (`.backup`).
    SignalBackup,
    /// Signal's message backup: a `SignalBackups` folder or one snapshot
    /// of it (`main`, `metadata`).
    SignalMessageBackup,
    /// A bare, unencrypted message-backup frame stream (`.binproto`).
    SignalMessageStream,
    /// Signal's remote Secure Backup with forward secrecy (`SBACKUP`).
    SignalRemoteBackup,
    /// A file with no content, or only white space.
    Empty,
    /// Nothing spoor can read.
    Unknown,
}

/// What a format is asked to recognise and read: a file with its first
/// bytes, or a folder.
pub(crate) enum Input<'p> {
    /// A file; `rel` is its path inside a folder export, `None` when the
    /// file is the export.
    File {
        path: &'p Path,
        rel: Option<&'p str>,
        size: u64,
        head: &'p [u8],
    },
    /// A folder; `rel` is `""` when the folder is the export.
    Folder { path: &'p Path, rel: &'p str },
}

impl<'p> Input<'p> {
    /// The file or folder on disk.
    pub(crate) fn path(&self) -> &'p Path {
        match self {
            Input::File { path, .. } | Input::Folder { path, .. } => path,
        }
    }

    /// The file's size; 0 for a folder.
    pub(crate) fn size(&self) -> u64 {
        match self {
            Input::File { size, .. } => *size,
            Input::Folder { .. } => 0,
        }
    }

    /// The path inside a folder export, `None` when this is the export.
    pub(crate) fn rel(&self) -> Option<&'p str> {
        match self {
            Input::File { rel, .. } => *rel,
            Input::Folder { rel, .. } => Some(*rel).filter(|r| !r.is_empty()),
        }
    }
}

/// One format spoor reads: recognised by content, read into items. Its
/// kind and name are given where it is registered (the driver's table).
pub(crate) trait Format: Sync {
    /// Is `input` of this format? Looks only at the file's first bytes or
    /// at the folder's names.
    fn sniff(&self, input: &Input<'_>) -> bool;
    /// Reads `input`, handing records, quarantined items and decisions to
    /// `driver`.
    ///
    /// # Errors
    /// What stops reading the whole export (the sink failed, or the export
    /// itself cannot be read); damage inside is quarantined instead.
    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error>;
}

/// One reading of an export, as a format reader sees it: where its records,
/// quarantined items, decisions and problems go.
pub(crate) trait Reading: Send {
    /// The export's root: the folder, or the file.
    fn root(&self) -> &Path;
    /// Names the export's format once its content is known, when `rel` says
    /// the file being read is the export itself.
    fn name_export(&mut self, rel: Option<&str>, format: &str);
    /// Records a decision that shaped the records, with its basis.
    fn decide(&mut self, decision: Value);
    /// Records several decisions, in order.
    fn decide_all(&mut self, decisions: Vec<Value>);
    /// States how many units the export held, when every item came from
    /// exactly one of them.
    fn account(&mut self, accounting: Accounting);
    /// Hands one record and its blobs to the sink.
    ///
    /// # Errors
    /// The sink failed: reading stops.
    fn record(&mut self, record: Record, blobs: Vec<Blob>) -> Result<(), Error>;
    /// Quarantines one item: its bytes are copied when under the copy limit,
    /// otherwise only its place in the original is named.
    ///
    /// # Errors
    /// The sink failed: reading stops.
    fn quarantine(
        &mut self,
        locator: Locator,
        reason: String,
        raw: &[u8],
        raw_size: u64,
    ) -> Result<(), Error>;
    /// Quarantines a whole file, with its bytes when under the copy limit.
    ///
    /// # Errors
    /// The file cannot be read, or the sink failed.
    fn quarantine_file(
        &mut self,
        path: &Path,
        rel: Option<&str>,
        size: u64,
        reason: String,
    ) -> Result<(), Error>;
    /// Hands one item of a format reader to the sink.
    ///
    /// # Errors
    /// The sink failed: reading stops.
    fn put(&mut self, item: Item) -> Result<(), Error>;
    /// Notes a part of the export that could not be read at all: the import
    /// is partial.
    fn unreadable(&mut self, place: &str, what: String);
    /// An export that cannot be read without the operator's decision.
    ///
    /// # Errors
    /// [`Error::Undecidable`] when the file is the export itself; inside a
    /// folder it is an unreadable part instead.
    fn undecidable(&mut self, path: &Path, rel: Option<&str>, reason: String) -> Result<(), Error>;
    /// Walks a folder of exports (a Maildir's sub-folders among them).
    ///
    /// # Errors
    /// What stops reading the whole export.
    fn read_folder(&mut self, dir: &Path, rel: &str) -> Result<(), Error>;
}

/// A file with no content, or only white space.
pub(crate) fn is_blank(head: &[u8]) -> bool {
    head.iter().all(|b| b.is_ascii_whitespace())
}

/// The first bytes of `input` when it is a file.
pub(crate) fn head<'p>(input: &Input<'p>) -> Option<&'p [u8]> {
    match input {
        Input::File { head, .. } => Some(head),
        Input::Folder { .. } => None,
    }
}

/// The folder of `input` when it is one.
pub(crate) fn folder<'p>(input: &Input<'p>) -> Option<&'p Path> {
    match input {
        Input::Folder { path, .. } => Some(path),
        Input::File { .. } => None,
    }
}
