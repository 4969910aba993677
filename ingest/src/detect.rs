//! Format detection by content, never by file name.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

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

/// Detects the kind of the export at `path` from its content. Symbolic links
/// are not followed.
///
/// # Errors
/// The I/O error met while looking.
pub fn detect(path: &Path) -> io::Result<ExportKind> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        return Ok(if is_maildir(path) {
            ExportKind::Maildir
        } else if crate::signal::is_export(path) {
            ExportKind::SignalExport
        } else if crate::signal::is_snapshot(path) || crate::signal::is_backups_folder(path) {
            ExportKind::SignalMessageBackup
        } else {
            ExportKind::Folder
        });
    }
    if !meta.is_file() {
        return Ok(ExportKind::Unknown);
    }
    let mut head = Vec::with_capacity(1024);
    fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
    Ok(sniff(&head))
}

pub(crate) fn is_maildir(dir: &Path) -> bool {
    ["cur", "new"]
        .iter()
        .any(|sub| fs::symlink_metadata(dir.join(sub)).is_ok_and(|m| m.is_dir()))
}

/// Classifies a file by its first bytes.
pub(crate) fn sniff(head: &[u8]) -> ExportKind {
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return ExportKind::Empty;
    }
    // A byte order mark before an mbox or a message is not content.
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    if text.starts_with(b"From ") {
        return ExportKind::Mbox;
    }
    if crate::signal::sniff_backup(head) {
        return ExportKind::SignalBackup;
    }
    if crate::signal::sniff_remote_backup(head) {
        return ExportKind::SignalRemoteBackup;
    }
    if crate::signal::sniff_message_stream(head) {
        return ExportKind::SignalMessageStream;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return ExportKind::Zip;
    }
    if crate::whatsapp::sniff(head) {
        return ExportKind::WhatsApp;
    }
    if crate::teams::sniff(head) {
        return ExportKind::Teams;
    }
    if looks_like_header_field(text) {
        return ExportKind::Eml;
    }
    ExportKind::Unknown
}

/// True when `head` starts with a header field name and a colon. RFC 5322
/// allows any printable ASCII in a name, but real names use letters, digits
/// and `-`/`_`/`.`; accepting only those keeps JSON (`{"a":`) and chat
/// lines from being taken for mail.
pub(crate) fn looks_like_header_field(head: &[u8]) -> bool {
    let name_len = head
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .count();
    // RFC 5322 §4.5 obsolete syntax allows white space before the colon.
    let blanks = head
        .get(name_len..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    (1..=76).contains(&name_len) && head.get(name_len + blanks) == Some(&b':')
}

#[cfg(test)]
mod tests {
    use super::*;

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
