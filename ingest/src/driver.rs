//! Reading one delivered export: the driver walks its files and folders,
//! asks the format table ([`crate::format`]) which reader reads each, hands
//! what the readers produce to the sink, and keeps the summary.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spoor_normalize::{Locator, Record};

use crate::format::{head, is_blank, ExportKind, Format, Input, Reading};
use crate::read::{Accounting, Blob, Item, Limits, ReadOptions, ReadSummary, Sink};
use crate::walk::{join, sorted_entries, whole_file};
use crate::{email, signal, teams, whatsapp, zipped, Error};

/// Reads the export at `path` (a file or a folder), streaming records and
/// quarantined items into `sink`.
///
/// # Errors
/// [`Error::Io`] when the export itself cannot be read, [`Error::Sink`] when
/// the sink fails, [`Error::Undecidable`] when reading needs a decision only
/// the operator can make. Damage inside the export is quarantined instead,
/// and unreadable files inside a folder are listed in the summary.
pub fn read_export(
    path: &Path,
    options: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, Error> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    let mut driver = Driver {
        root: path.to_owned(),
        options,
        sink,
        summary: ReadSummary::default(),
        families: BTreeSet::new(),
    };
    if !meta.is_dir() {
        driver.read_file(path, None, UNKNOWN)?;
        return Ok(driver.summary);
    }
    let input = Input::Folder { path, rel: "" };
    if let Some(format) = recognise(&input) {
        driver.summary.format = format.name.to_owned();
        format.format.read(&mut driver, options, &input)?;
        return Ok(driver.summary);
    }
    driver.summary.format = "email/folder".to_owned();
    driver.read_dir(path, "", 0)?;
    // A folder is named after what it held: `teams/folder`, or
    // `mixed/folder` when its files were of several families.
    let mut families = driver.families.iter();
    match (families.next(), families.next()) {
        (Some(family), None) => driver.summary.format = format!("{family}/folder"),
        (Some(_), Some(_)) => driver.summary.format = "mixed/folder".to_owned(),
        (None, _) => {}
    }
    Ok(driver.summary)
}

/// The state of one reading: where the export is, what it was asked, where
/// items go, and what has been met so far. Format readers report through
/// its methods.
pub(crate) struct Driver<'a> {
    root: PathBuf,
    options: &'a ReadOptions,
    sink: &'a mut dyn Sink,
    summary: ReadSummary,
    /// Source families (`email`, `whatsapp`, `teams`) of the records read.
    families: BTreeSet<String>,
}

impl Reading for Driver<'_> {
    /// The export's root: the folder, or the file.
    fn root(&self) -> &Path {
        &self.root
    }

    /// Names the export's format once its content is known, when `rel`
    /// says the file being read is the export itself.
    fn name_export(&mut self, rel: Option<&str>, format: &str) {
        if rel.is_none() {
            self.summary.format = format.to_owned();
        }
    }

    /// Records a decision that shaped the records, with its basis.
    fn decide(&mut self, decision: Value) {
        self.summary.decisions.push(decision);
    }

    /// Records several decisions.
    fn decide_all(&mut self, decisions: Vec<Value>) {
        self.summary.decisions.extend(decisions);
    }

    /// States how many units the export held, when every item came from
    /// exactly one of them.
    fn account(&mut self, accounting: Accounting) {
        self.summary.accounting = Some(accounting);
    }

    /// Hands one record and its blobs to the sink.
    fn record(&mut self, record: Record, blobs: Vec<Blob>) -> Result<(), Error> {
        self.summary.records += 1;
        let family = record.source.format.split('/').next().unwrap_or_default();
        if !self.families.contains(family) {
            self.families.insert(family.to_owned());
        }
        self.sink
            .record(record, blobs)
            .map_err(|e| self.sink_error(e))
    }

    /// Quarantines one item: its bytes are copied when under the copy
    /// limit, otherwise only its place in the original is named.
    fn quarantine(
        &mut self,
        locator: Locator,
        reason: String,
        raw: &[u8],
        raw_size: u64,
    ) -> Result<(), Error> {
        let raw = if raw_size as usize <= self.limits().max_quarantine_copy {
            raw.to_vec()
        } else {
            Vec::new()
        };
        self.summary.quarantined += 1;
        let item = crate::read::Quarantined {
            locator,
            reason,
            raw,
            raw_size,
        };
        self.sink.quarantine(item).map_err(|e| self.sink_error(e))
    }

    /// Quarantines a whole file, with its bytes when under the copy limit.
    fn quarantine_file(
        &mut self,
        path: &Path,
        rel: Option<&str>,
        size: u64,
        reason: String,
    ) -> Result<(), Error> {
        let raw = if size as usize <= self.limits().max_quarantine_copy {
            fs::read(path).map_err(|e| Error::io(path, e))?
        } else {
            Vec::new()
        };
        self.quarantine(whole_file(rel, size), reason, &raw, size)
    }

    /// Hands one item of a format reader to the sink.
    fn put(&mut self, item: Item) -> Result<(), Error> {
        match item {
            Item::Record(record, blobs) => self.record(*record, blobs),
            Item::Quarantine(q) => self.quarantine(q.locator, q.reason, &q.raw, q.raw_size),
            Item::Stream { bytes, stored } => {
                let mut watched = Watched {
                    inner: bytes,
                    failed: None,
                };
                match self.sink.blob(&mut watched) {
                    Ok(digest) => *stored = Some(Ok(digest)),
                    Err(_) if watched.failed.is_some() => {
                        let why = watched.failed.unwrap_or_default();
                        *stored = Some(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
                    }
                    Err(e) => return Err(self.sink_error(e)),
                }
                Ok(())
            }
        }
    }

    /// Notes a part of the export that could not be read at all: the
    /// import is partial.
    fn unreadable(&mut self, place: &str, what: String) {
        self.summary.unreadable.push(format!("{place}: {what}"));
    }

    /// An export that cannot be read without the operator's decision: an
    /// error for the export itself, an unreadable part inside a folder.
    fn undecidable(&mut self, path: &Path, rel: Option<&str>, reason: String) -> Result<(), Error> {
        match rel {
            None => Err(Error::Undecidable {
                path: path.to_owned(),
                reason,
            }),
            Some(place) => {
                self.unreadable(place, reason);
                Ok(())
            }
        }
    }

    fn read_folder(&mut self, dir: &Path, rel: &str) -> Result<(), Error> {
        self.read_dir(dir, rel, 0)
    }
}

impl Driver<'_> {
    fn limits(&self) -> &Limits {
        &self.options.limits
    }

    fn sink_error(&self, source: io::Error) -> Error {
        Error::Sink {
            path: self.root.clone(),
            source,
        }
    }

    /// One file: `rel` is its path inside a folder export, `None` when the
    /// file is the export.
    /// An unrecognised file is quarantined with `unknown` as the reason.
    fn read_file(&mut self, path: &Path, rel: Option<&str>, unknown: &str) -> Result<(), Error> {
        let place = rel.unwrap_or("");
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if rel.is_some() => {
                self.unreadable(place, format!("cannot open: {e}"));
                return Ok(());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut head = Vec::with_capacity(1024);
        if let Err(e) = (&mut file).take(1024).read_to_end(&mut head) {
            if rel.is_none() {
                return Err(Error::io(path, e));
            }
            self.unreadable(place, format!("cannot read: {e}"));
            return Ok(());
        }
        drop(file);
        if is_blank(&head) {
            self.name_export(rel, "unknown");
            return self.quarantine(whole_file(rel, size), "empty file".to_owned(), &head, size);
        }
        let input = Input::File {
            path,
            rel,
            size,
            head: &head,
        };
        match recognise(&input) {
            Some(format) => {
                self.name_export(rel, format.name);
                let options = self.options;
                format.format.read(self, options, &input)
            }
            None => {
                self.name_export(rel, "unknown");
                self.quarantine_file(path, rel, size, unknown.to_owned())
            }
        }
    }

    /// A folder of exports, walked in name order: a Maildir in it is read
    /// as one, symbolic links are quarantined, never followed.
    fn read_dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), Error> {
        let max_depth = self.limits().max_folder_depth;
        if depth > max_depth {
            self.unreadable(
                rel,
                format!("folder deeper than {max_depth} levels not read"),
            );
            return Ok(());
        }
        let entries = match sorted_entries(dir) {
            Ok(e) => e,
            Err(e) if depth > 0 => {
                self.unreadable(rel, format!("cannot list folder: {e}"));
                return Ok(());
            }
            Err(e) => return Err(Error::io(dir, e)),
        };
        let maildir = email::is_maildir(dir);
        if maildir {
            let options = self.options;
            email::read_maildir(self, options, dir, rel)?;
        }
        // A WhatsApp export unpacked: its chat files are read first, with
        // the files beside them as their media; a file a chat names is then
        // part of a record, not an export of its own.
        let chats = if maildir {
            Vec::new()
        } else {
            chats_among(&entries)
        };
        let mut media = None;
        if !chats.is_empty() {
            let beside = entries
                .iter()
                .filter(|(name, path)| !chats.contains(name) && is_regular_file(path))
                .cloned();
            let mut found = whatsapp::FolderMedia::new(beside);
            let options = self.options;
            for (name, path) in entries.iter().filter(|(name, _)| chats.contains(name)) {
                whatsapp::read_in_folder(self, options, path, &join(rel, name), &mut found)?;
            }
            media = Some(found);
        }
        for (name, path) in entries {
            let child = join(rel, &name);
            if maildir && ["cur", "new", "tmp"].contains(&name.as_str()) {
                continue;
            }
            if chats.contains(&name) || media.as_ref().is_some_and(|m| m.was_referenced(&name)) {
                continue;
            }
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.unreadable(&child, format!("cannot inspect: {e}"));
                    continue;
                }
            };
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let locator = Locator {
                    path: Some(child),
                    ..Locator::default()
                };
                self.quarantine(
                    locator,
                    "symbolic link not followed".to_owned(),
                    target.as_bytes(),
                    target.len() as u64,
                )?;
            } else if meta.is_dir() && depth == 0 && name == "hostedContents" {
                // Teams inline images, read when a message references them.
                self.decide(json!({
                    "decision": "teams-hosted-contents",
                    "path": child,
                    "value": "read where a message's body references them",
                    "basis": "the folder-export convention of docs/FORMAT.md §14.1",
                }));
            } else if meta.is_dir() {
                self.read_dir(&path, &child, depth + 1)?;
            } else if meta.is_file() {
                if maildir {
                    // Files beside cur/ and new/ are the mail server's
                    // bookkeeping (dovecot-uidlist, maildirfolder…).
                    self.decide(json!({
                        "decision": "maildir-metadata-file",
                        "path": child,
                        "value": "kept in the original, not read as mail",
                        "basis": "file at the root of a Maildir",
                    }));
                } else {
                    let unknown = if media.is_some() {
                        BESIDE_CHAT
                    } else {
                        UNKNOWN
                    };
                    self.read_file(&path, Some(&child), unknown)?;
                }
            } else {
                self.unreadable(&child, "not a regular file or folder".to_owned());
            }
        }
        Ok(())
    }
}

/// Why an unrecognised file is quarantined.
const UNKNOWN: &str =
    "not an e-mail message, mbox, Maildir, WhatsApp chat or Teams message (detected by content)";
/// The same, for a file beside a WhatsApp chat in a folder.
const BESIDE_CHAT: &str = "beside a WhatsApp chat, but named by no line of it (and not an e-mail message, mbox, Maildir, WhatsApp chat or Teams message)";

/// The regular files among a folder's `entries` that are WhatsApp chats
/// (by content), in name order.
fn chats_among(entries: &[(String, PathBuf)]) -> Vec<String> {
    entries
        .iter()
        .filter(|(_, path)| matches!(detect(path), Ok(ExportKind::WhatsApp)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// A regular file, not a link to one.
fn is_regular_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// A reader that remembers its own failure, so that the sink's errors can
/// be told apart from those of the bytes it was given.
struct Watched<R> {
    inner: R,
    failed: Option<String>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failed = Some(e.to_string());
        })
    }
}

/// Every format, in the order they are tried: the first that recognises an
/// input reads it. The order settles overlaps: a `From ` line is mbox before
/// it could be a header field, Signal's magic bytes come before anything
/// textual, and e-mail, the loosest test, comes last.
pub(crate) static FORMATS: &[Registered] = &[
    Registered::new(ExportKind::Maildir, "email/maildir", &email::MAILDIR),
    Registered::new(
        ExportKind::SignalExport,
        signal::PLAINTEXT_FORMAT,
        &signal::PLAINTEXT_EXPORT,
    ),
    Registered::new(
        ExportKind::SignalMessageBackup,
        signal::MESSAGE_BACKUP_FORMAT,
        &signal::MESSAGE_BACKUP,
    ),
    Registered::new(ExportKind::Mbox, "email/mbox", &email::MBOX),
    Registered::new(
        ExportKind::SignalBackup,
        signal::BACKUP_FORMAT,
        &signal::BACKUP,
    ),
    Registered::new(
        ExportKind::SignalRemoteBackup,
        signal::MESSAGE_BACKUP_FORMAT,
        &signal::REMOTE_BACKUP,
    ),
    Registered::new(
        ExportKind::SignalMessageStream,
        signal::MESSAGE_STREAM_FORMAT,
        &signal::MESSAGE_STREAM,
    ),
    // Named after what it holds, once that is known.
    Registered::new(ExportKind::Zip, "unknown/zip", &ZIP),
    Registered::new(ExportKind::WhatsApp, whatsapp::FORMAT_TEXT, &whatsapp::CHAT),
    Registered::new(ExportKind::Teams, teams::FORMAT, &teams::PAGE),
    Registered::new(ExportKind::Eml, "email/eml", &email::EML),
];

/// A format in the table: what `detect` calls it, the summary's name for an
/// export that is one, and its reader.
pub(crate) struct Registered {
    pub(crate) kind: ExportKind,
    pub(crate) name: &'static str,
    pub(crate) format: &'static dyn Format,
}

impl Registered {
    const fn new(kind: ExportKind, name: &'static str, format: &'static dyn Format) -> Registered {
        Registered { kind, name, format }
    }
}

/// The format that recognises `input`, if any.
pub(crate) fn recognise(input: &Input<'_>) -> Option<&'static Registered> {
    FORMATS.iter().find(|entry| entry.format.sniff(input))
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
        return Ok(recognise(&input).map_or(ExportKind::Folder, |f| f.kind));
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
    recognise(&input).map_or(ExportKind::Unknown, |f| f.kind)
}

/// A zip: Signal's plaintext export zipped, or a WhatsApp export "with
/// media", told apart by the entries it holds.
pub(crate) struct Zip;

pub(crate) static ZIP: Zip = Zip;

impl Format for Zip {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(|h| h.starts_with(b"PK\x03\x04") || h.starts_with(b"PK\x05\x06"))
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel) = (input.path(), input.rel());
        let size = input.size();
        let archives = match zipped::open(path).and_then(|a| Ok((a, zipped::open(path)?))) {
            Ok(pair) => pair,
            Err(reason) => return reading.quarantine_file(path, rel, size, reason),
        };
        let entries = zipped::entries(&archives.0);
        if let Some(prefix) = signal::export_root_in_zip(&entries) {
            return signal::read_plaintext(reading, options, path, rel, Some(&prefix));
        }
        let unsafe_names: Vec<String> = entries
            .iter()
            .filter_map(|e| e.unsafe_name.map(|why| format!("{}: {why}", e.name)))
            .collect();
        if !unsafe_names.is_empty() {
            reading.decide(json!({
                "decision": "zip-entries-not-read",
                "path": rel,
                "value": unsafe_names,
                "basis": "unsafe names are never looked up; the entries stay in the original",
            }));
        }
        whatsapp::read_zip(reading, options, path, rel, size, archives, &entries)
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
