//! Reading one delivered export: the driver walks its files and folders,
//! asks the format table ([`crate::format`]) which reader reads each, hands
//! what the readers produce to the sink, and keeps the summary.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spoor_normalize::text::path_component;
use spoor_normalize::{Locator, Record};

use crate::format::{self, Input};
use crate::read::{Accounting, Blob, Item, Limits, ReadOptions, ReadSummary, Sink};
use crate::{email, Error};

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
        driver.read_file(path, None)?;
        return Ok(driver.summary);
    }
    let input = Input::Folder { path, rel: "" };
    if let Some(format) = format::recognise(&input) {
        driver.summary.format = format.name().to_owned();
        format.read(&mut driver, &input)?;
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

impl<'a> Driver<'a> {
    pub(crate) fn options(&self) -> &'a ReadOptions {
        self.options
    }

    pub(crate) fn limits(&self) -> &'a Limits {
        &self.options.limits
    }

    /// The export's root: the folder, or the file.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Names the export's format once its content is known, when `rel`
    /// says the file being read is the export itself.
    pub(crate) fn name_export(&mut self, rel: Option<&str>, format: &str) {
        if rel.is_none() {
            self.summary.format = format.to_owned();
        }
    }

    /// Records a decision that shaped the records, with its basis.
    pub(crate) fn decide(&mut self, decision: Value) {
        self.summary.decisions.push(decision);
    }

    /// Records several decisions.
    pub(crate) fn decide_all(&mut self, decisions: impl IntoIterator<Item = Value>) {
        self.summary.decisions.extend(decisions);
    }

    /// States how many units the export held, when every item came from
    /// exactly one of them.
    pub(crate) fn account(&mut self, accounting: Accounting) {
        self.summary.accounting = Some(accounting);
    }

    fn sink_error(&self, source: io::Error) -> Error {
        Error::Sink {
            path: self.root.clone(),
            source,
        }
    }

    /// Hands one record and its blobs to the sink.
    pub(crate) fn record(&mut self, record: Record, blobs: Vec<Blob>) -> Result<(), Error> {
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
    pub(crate) fn quarantine(
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
    pub(crate) fn quarantine_file(
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
    pub(crate) fn put(&mut self, item: Item) -> Result<(), Error> {
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
    pub(crate) fn unreadable(&mut self, place: &str, what: String) {
        self.summary.unreadable.push(format!("{place}: {what}"));
    }

    /// An export that cannot be read without the operator's decision: an
    /// error for the export itself, an unreadable part inside a folder.
    pub(crate) fn undecidable(
        &mut self,
        path: &Path,
        rel: Option<&str>,
        reason: String,
    ) -> Result<(), Error> {
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

    /// One file: `rel` is its path inside a folder export, `None` when the
    /// file is the export.
    pub(crate) fn read_file(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
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
        if format::is_blank(&head) {
            self.name_export(rel, "unknown");
            return self.quarantine(whole_file(rel, size), "empty file".to_owned(), &head, size);
        }
        let input = Input::File {
            path,
            rel,
            size,
            head: &head,
        };
        match format::recognise(&input) {
            Some(format) => {
                self.name_export(rel, format.name());
                format.read(self, &input)
            }
            None => {
                self.name_export(rel, "unknown");
                let reason = "not an e-mail message, mbox, Maildir, WhatsApp chat or Teams message (detected by content)"
                    .to_owned();
                self.quarantine_file(path, rel, size, reason)
            }
        }
    }

    /// A folder of exports, walked in name order: a Maildir in it is read
    /// as one, symbolic links are quarantined, never followed.
    pub(crate) fn read_dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), Error> {
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
            email::read_maildir(self, dir, rel)?;
        }
        for (name, path) in entries {
            let child = join(rel, &name);
            if maildir && ["cur", "new", "tmp"].contains(&name.as_str()) {
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
                    self.read_file(&path, Some(&child))?;
                }
            } else {
                self.unreadable(&child, "not a regular file or folder".to_owned());
            }
        }
        Ok(())
    }
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

/// The locator of a whole file.
pub(crate) fn whole_file(rel: Option<&str>, size: u64) -> Locator {
    Locator {
        path: rel.map(str::to_owned),
        bytes: Some([0, size]),
        ..Locator::default()
    }
}

/// `rel/name`, or `name` at the root.
pub(crate) fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Folder entries sorted by raw name, so reading order never depends on the
/// file system, each with its name sanitised as the package stores it.
pub(crate) fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut raw: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    raw.sort_by_key(|e| e.file_name());
    let mut entries = Vec::new();
    for entry in raw {
        entries.push((path_component(entry.file_name().as_bytes()), entry.path()));
    }
    Ok(entries)
}
