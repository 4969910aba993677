//! The formats spoor reads, in one table: how each is recognised from
//! content (never from a file name) and which reader reads it.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use crate::driver::Driver;
use crate::{email, signal, teams, whatsapp, zipped, Error};

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

/// One format spoor reads: recognised by content, read into items.
pub(crate) trait Format: Sync {
    /// What [`detect`] calls it.
    fn kind(&self) -> ExportKind;
    /// The summary's format name for an export that is one of these.
    fn name(&self) -> &'static str;
    /// Is `input` of this format? Looks only at the file's first bytes or
    /// at the folder's names.
    fn sniff(&self, input: &Input<'_>) -> bool;
    /// Reads `input`, handing records, quarantined items and decisions to
    /// `driver`.
    ///
    /// # Errors
    /// What stops reading the whole export (the sink failed, or the export
    /// itself cannot be read); damage inside is quarantined instead.
    fn read(&self, driver: &mut Driver<'_>, input: &Input<'_>) -> Result<(), Error>;
}

/// Every format, in the order they are tried: the first that recognises an
/// input reads it. The order settles overlaps: a `From ` line is mbox before
/// it could be a header field, Signal's magic bytes come before anything
/// textual, and e-mail, the loosest test, comes last.
pub(crate) static FORMATS: &[&dyn Format] = &[
    &email::MAILDIR,
    &signal::PLAINTEXT_EXPORT,
    &signal::MESSAGE_BACKUP,
    &email::MBOX,
    &signal::BACKUP,
    &signal::REMOTE_BACKUP,
    &signal::MESSAGE_STREAM,
    &zipped::ZIP,
    &whatsapp::CHAT,
    &teams::PAGE,
    &email::EML,
];

/// The format that recognises `input`, if any.
pub(crate) fn recognise(input: &Input<'_>) -> Option<&'static dyn Format> {
    FORMATS.iter().copied().find(|format| format.sniff(input))
}

/// Detects the kind of the export at `path` from its content. Symbolic links
/// are not followed.
///
/// # Errors
/// The I/O error met while looking.
pub fn detect(path: &Path) -> io::Result<ExportKind> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        let input = Input::Folder { path, rel: "" };
        return Ok(recognise(&input).map_or(ExportKind::Folder, |f| f.kind()));
    }
    if !meta.is_file() {
        return Ok(ExportKind::Unknown);
    }
    let mut head = Vec::with_capacity(1024);
    fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
    Ok(sniff(path, None, meta.len(), &head))
}

/// Classifies a file by its first bytes.
pub(crate) fn sniff(path: &Path, rel: Option<&str>, size: u64, head: &[u8]) -> ExportKind {
    if is_blank(head) {
        return ExportKind::Empty;
    }
    let input = Input::File {
        path,
        rel,
        size,
        head,
    };
    recognise(&input).map_or(ExportKind::Unknown, |f| f.kind())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(head: &[u8]) -> ExportKind {
        super::sniff(Path::new("x"), None, head.len() as u64, head)
    }

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b""), ExportKind::Empty);
        assert_eq!(sniff(b" \r\n"), ExportKind::Empty);
        assert_eq!(
            sniff(b"From a@b Mon Jan  1 00:00:00 2024\n"),
            ExportKind::Mbox
        );
        assert_eq!(sniff(b"Return-Path: <a@b>\r\n"), ExportKind::Eml);
        assert_eq!(sniff(b"\x89PNG\r\n"), ExportKind::Unknown);
        assert_eq!(sniff(b"no colon here\n"), ExportKind::Unknown);
        assert_eq!(sniff(b"{\"attachments\":[]}\n"), ExportKind::Unknown);
        assert_eq!(
            sniff(b"[12/03/2024, 10:00:00] Jan: hoi\n"),
            ExportKind::WhatsApp
        );
        assert_eq!(
            sniff("\u{feff}31-12-2020 23:59 - Jan: hoi\n".as_bytes()),
            ExportKind::WhatsApp
        );
        assert_eq!(sniff(b"PK\x03\x04\x14\x00"), ExportKind::Zip);
        assert_eq!(
            sniff(b" {\"@odata.context\":\"x\",\"value\":[]}"),
            ExportKind::Teams
        );
        assert_eq!(
            sniff(b"{\"id\":\"1\",\"messageType\":\"message\"}"),
            ExportKind::Teams
        );
    }
}
