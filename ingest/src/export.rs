//! Reading one delivered export: the driver that walks files and folders,
//! hands messages to the format readers and everything else to quarantine.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spoor_normalize::text::path_component;
use spoor_normalize::{Locator, Record, Sha256, Zone};

use crate::detect::{detect, is_maildir, sniff, ExportKind};
use crate::email::MessageContext;
use crate::email_pool::{process, Job, Outcome, Pool};
use crate::mbox::{detect_variant, split_mbox, SplitError};
use crate::signal::{
    self, BackupContext, BackupError, ExportContext, Fault, Passphrase, RecoveryKey,
};
use crate::teams::{self, PageContext, PageError};
use crate::whatsapp::{self, ChatContext, ChatError, DateOrder, ZipMedia};
use crate::{maildir, zipped, Error};

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

/// Hands what a reader produces to the sink, from whichever reading thread
/// has its turn.
type Emit<'s> = dyn FnMut(Item) -> Result<(), Error> + Send + 's;

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

/// How many units of one kind an export held; each became exactly one
/// item (a record, or a quarantined item).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Accounting {
    /// What was counted, e.g. `signal message rows`.
    pub unit: String,
    /// How many were read.
    pub read: u64,
}

/// Reads the export at `path` (a file or a folder), streaming records and
/// quarantined items into `sink`.
///
/// # Errors
/// [`Error::Io`] when the export itself cannot be read, [`Error::Sink`] when
/// the sink fails. Damage inside the export is quarantined instead, and
/// unreadable files inside a folder are listed in the summary.
pub fn read_export(
    path: &Path,
    options: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, Error> {
    let kind = detect(path).map_err(|e| Error::io(path, e))?;
    let mut reader = ExportReader {
        root: path.to_owned(),
        options,
        sink,
        summary: ReadSummary::default(),
        families: BTreeSet::new(),
    };
    reader.summary.format = match kind {
        ExportKind::Eml => "email/eml",
        ExportKind::Mbox => "email/mbox",
        ExportKind::Maildir => "email/maildir",
        ExportKind::Folder => "email/folder",
        ExportKind::WhatsApp => whatsapp::FORMAT_TEXT,
        // Named after what it holds, once that is known.
        ExportKind::Zip => "unknown/zip",
        ExportKind::Teams => teams::FORMAT,
        ExportKind::SignalExport => signal::FORMAT,
        ExportKind::SignalBackup => signal::BACKUP_FORMAT,
        ExportKind::SignalMessageBackup | ExportKind::SignalRemoteBackup => {
            signal::MESSAGE_BACKUP_FORMAT
        }
        ExportKind::SignalMessageStream => signal::MESSAGE_STREAM_FORMAT,
        ExportKind::Empty | ExportKind::Unknown => "unknown",
    }
    .to_owned();
    match kind {
        ExportKind::Maildir | ExportKind::Folder => reader.read_dir(path, "", 0)?,
        ExportKind::SignalExport => reader.read_signal(path, None, None)?,
        ExportKind::SignalMessageBackup => reader.read_message_backup(path, None)?,
        _ => reader.read_file(path, None)?,
    }
    if kind == ExportKind::Folder {
        // A folder is named after what it held: `teams/folder`, or
        // `mixed/folder` when its files were of several families.
        let mut families = reader.families.iter();
        match (families.next(), families.next()) {
            (Some(family), None) => reader.summary.format = format!("{family}/folder"),
            (Some(_), Some(_)) => reader.summary.format = "mixed/folder".to_owned(),
            (None, _) => {}
        }
    }
    Ok(reader.summary)
}

struct ExportReader<'a> {
    root: PathBuf,
    options: &'a ReadOptions,
    sink: &'a mut dyn Sink,
    summary: ReadSummary,
    /// Source families (`email`, `whatsapp`, `teams`) of the records read.
    families: BTreeSet<String>,
}

impl ExportReader<'_> {
    fn limits(&self) -> &Limits {
        &self.options.limits
    }

    fn sink_error(&self, source: io::Error) -> Error {
        Error::Sink {
            path: self.root.clone(),
            source,
        }
    }

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
        let item = Quarantined {
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
        let whole = Locator {
            path: rel.map(str::to_owned),
            bytes: Some([0, size]),
            ..Locator::default()
        };
        let raw = if size as usize <= self.limits().max_quarantine_copy {
            fs::read(path).map_err(|e| Error::io(path, e))?
        } else {
            Vec::new()
        };
        self.quarantine(whole, reason, &raw, size)
    }

    fn note_family(&mut self, format: &str) {
        let family = format.split('/').next().unwrap_or(format);
        if !self.families.contains(family) {
            self.families.insert(family.to_owned());
        }
    }

    /// Hands one item of a format reader to the sink.
    fn put(&mut self, item: Item) -> Result<(), Error> {
        match item {
            Item::Record(record, blobs) => {
                self.summary.records += 1;
                self.note_family(&record.source.format);
                self.sink
                    .record(*record, blobs)
                    .map_err(|e| self.sink_error(e))
            }
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

    fn unreadable(&mut self, rel: &str, what: String) {
        self.summary.unreadable.push(format!("{rel}: {what}"));
    }

    /// Parses one message on this thread and writes the outcome.
    fn message(&mut self, bytes: Vec<u8>, context: MessageContext<'static>) -> Result<(), Error> {
        let outcome = process(Job::Parse { bytes, context }, &self.options.limits);
        self.emit(outcome)
    }

    /// Writes a parsed message to the sink, or quarantines what was not one.
    fn emit(&mut self, outcome: Outcome) -> Result<(), Error> {
        match outcome {
            Outcome::Parsed(parsed) => {
                self.summary.records += 1;
                self.note_family(&parsed.record.source.format);
                self.sink
                    .record(parsed.record, parsed.blobs)
                    .map_err(|e| self.sink_error(e))
            }
            Outcome::Quarantine {
                locator,
                reason,
                raw,
                size,
            } => self.quarantine(locator, reason, &raw, size),
        }
    }

    /// One file: `rel` is its path inside a folder export, `None` when the
    /// file is the export.
    fn read_file(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
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
        let whole = Locator {
            path: rel.map(str::to_owned),
            bytes: Some([0, size]),
            ..Locator::default()
        };
        match sniff(&head) {
            ExportKind::Mbox => self.read_mbox(path, rel),
            ExportKind::WhatsApp => self.read_chat_file(path, rel),
            ExportKind::Zip => self.read_zip(path, rel, size),
            ExportKind::Teams => self.read_teams(path, rel, size),
            ExportKind::SignalBackup => self.read_signal_backup(path, rel),
            ExportKind::SignalMessageStream => self.read_message_stream(path, rel),
            ExportKind::SignalRemoteBackup => self.undecidable(
                path,
                rel,
                signal::MessageBackupFault::ForwardSecrecy.to_string(),
            ),
            ExportKind::Eml => {
                if size > self.limits().max_message_bytes as u64 {
                    let reason = format!(
                        "message of {size} bytes exceeds the limit of {} bytes; kept only in the original",
                        self.limits().max_message_bytes
                    );
                    return self.quarantine(whole, reason, &[], size);
                }
                let bytes = match fs::read(path) {
                    Ok(b) => b,
                    Err(e) if rel.is_some() => {
                        self.unreadable(place, format!("cannot read: {e}"));
                        return Ok(());
                    }
                    Err(e) => return Err(Error::io(path, e)),
                };
                // A byte order mark before the first header is not part of
                // the message (the original keeps it).
                let bytes = match bytes.strip_prefix(b"\xef\xbb\xbf") {
                    Some(rest) => rest.to_vec(),
                    None => bytes,
                };
                let context = message_context("email/eml", self.options.export_sha256, whole);
                self.message(bytes, context)
            }
            ExportKind::Empty => self.quarantine(whole, "empty file".to_owned(), &head, size),
            _ => {
                let reason = "not an e-mail message, mbox, Maildir, WhatsApp chat or Teams message (detected by content)"
                    .to_owned();
                self.quarantine_file(path, rel, size, reason)
            }
        }
    }

    /// An export that cannot be read without the operator's decision: an
    /// error for the export itself, an unreadable part inside a folder.
    fn undecidable(
        &mut self,
        path: &Path,
        place: Option<&str>,
        reason: String,
    ) -> Result<(), Error> {
        match place {
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

    /// Signal's legacy `.backup`: decrypted, replayed, read. Without the
    /// passphrase, or with a wrong one, nothing is read and the run says so.
    fn read_signal_backup(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
        let options = self.options;
        let Some(passphrase) = &options.signal_passphrase else {
            let reason = "a Signal backup is encrypted: give its passphrase with `spoor run --signal-passphrase-file FILE` or $SPOOR_SIGNAL_PASSPHRASE".to_owned();
            return self.undecidable(path, rel, reason);
        };
        let context = BackupContext {
            path,
            export_sha256: options.export_sha256,
            limits: &options.limits,
            passphrase,
            work_dir: &options.work_dir,
        };
        match signal::read_backup(&context, &mut |item| self.put(item)) {
            Ok(outcome) => {
                self.summary.decisions.extend(outcome.decisions);
                let place = rel.map_or_else(|| path.display().to_string(), str::to_owned);
                for why in outcome.partial {
                    self.unreadable(&place, why);
                }
                if rel.is_none() {
                    self.summary.accounting = Some(Accounting {
                        unit: "signal message rows".to_owned(),
                        read: outcome.message_rows,
                    });
                }
                Ok(())
            }
            Err(BackupError::Stopped(e)) => Err(e),
            Err(BackupError::Fault(Fault::Io(e))) => Err(Error::io(path, e)),
            Err(BackupError::Fault(fault)) => self.undecidable(path, rel, fault.to_string()),
        }
    }

    /// Signal's message backup folder: opened with the recovery key; without
    /// it, or with a wrong one, nothing is read and the run says so.
    fn read_message_backup(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
        let options = self.options;
        let Some(key) = &options.signal_recovery_key else {
            let reason = "a Signal backup folder is encrypted: give the account's recovery key with `spoor run --signal-recovery-key-file FILE` or $SPOOR_SIGNAL_RECOVERY_KEY".to_owned();
            return self.undecidable(path, rel, reason);
        };
        let context = ExportContext {
            root: path,
            export_sha256: options.export_sha256,
            limits: &options.limits,
        };
        match signal::read_message_backup(&context, key, &mut |item| self.put(item)) {
            Ok(decisions) => {
                self.summary.decisions.extend(decisions);
                Ok(())
            }
            Err(signal::MessageBackupError::Read(e)) => self.frames_broke_off(path, rel, e),
            Err(signal::MessageBackupError::Fault(signal::MessageBackupFault::Io(e))) => {
                self.undecidable(path, rel, format!("cannot be read: {e}"))
            }
            Err(signal::MessageBackupError::Fault(fault)) => {
                self.undecidable(path, rel, fault.to_string())
            }
        }
    }

    /// A bare, unencrypted message-backup frame stream.
    fn read_message_stream(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
        let options = self.options;
        let context = ExportContext {
            root: path,
            export_sha256: options.export_sha256,
            limits: &options.limits,
        };
        match signal::read_message_stream(&context, &mut |item| self.put(item)) {
            Ok(decisions) => {
                self.summary.decisions.extend(decisions);
                Ok(())
            }
            Err(e) => self.frames_broke_off(path, rel, e),
        }
    }

    /// A message backup's frame stream that broke off part way (after its
    /// tag matched): what came before is read; the import is partial.
    fn frames_broke_off(
        &mut self,
        path: &Path,
        rel: Option<&str>,
        error: signal::ReadError<Error>,
    ) -> Result<(), Error> {
        match error {
            signal::ReadError::Stopped(e) => Err(e),
            signal::ReadError::Io(e) => {
                let place = rel.map_or_else(|| path.display().to_string(), str::to_owned);
                self.unreadable(
                    &place,
                    format!("the frame stream broke off: {e}; the records before that point were archived"),
                );
                Ok(())
            }
        }
    }

    /// Signal's plaintext export: a folder with `main.jsonl` and `files/`,
    /// or a zip holding them under `zip_prefix`. A zip that fails part way
    /// (damaged, unpacking past the bound) keeps what was read before and is
    /// reported as partial.
    fn read_signal(
        &mut self,
        path: &Path,
        rel: Option<&str>,
        zip_prefix: Option<&str>,
    ) -> Result<(), Error> {
        let options = self.options;
        let context = ExportContext {
            root: path,
            export_sha256: options.export_sha256,
            limits: &options.limits,
        };
        let read = match zip_prefix {
            None => signal::read_export_folder(&context, &mut |item| self.put(item)),
            Some(prefix) => {
                if rel.is_none() {
                    self.summary.format = signal::FORMAT_ZIP.to_owned();
                }
                signal::read_export_zip(&context, prefix, &mut |item| self.put(item))
            }
        };
        match read {
            Ok(decisions) => {
                self.summary.decisions.extend(decisions);
                Ok(())
            }
            Err(signal::ReadError::Stopped(e)) => Err(e),
            Err(signal::ReadError::Io(e)) if zip_prefix.is_some() => {
                self.unreadable(rel.unwrap_or("main.jsonl"), e.to_string());
                Ok(())
            }
            Err(signal::ReadError::Io(e)) => Err(Error::io(path, e)),
        }
    }

    /// Graph chatMessage JSON: a page or a single message. Inline images
    /// are looked up under `hostedContents/` at the root of a folder export.
    fn read_teams(&mut self, path: &Path, rel: Option<&str>, size: u64) -> Result<(), Error> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return self.undecidable(path, rel, format!("cannot open: {e}")),
        };
        let root = rel.map(|_| self.root.clone());
        let options = self.options;
        let context = PageContext {
            export_sha256: options.export_sha256,
            path: rel.map(str::to_owned),
            root: root.as_deref(),
            limits: &options.limits,
        };
        let why = match teams::read_page(file, size, &context, &mut |item| self.put(item)) {
            Ok(facts) => {
                if let Some(link) = facts.next_link {
                    self.summary.decisions.push(json!({
                        "decision": "teams-next-page",
                        "path": rel,
                        "value": link,
                        "basis": "the page names a next page (@odata.nextLink); what it holds is not in this file",
                    }));
                }
                if facts.replies_continue > 0 {
                    self.summary.decisions.push(json!({
                        "decision": "teams-replies-continue",
                        "path": rel,
                        "value": facts.replies_continue,
                        "basis": "messages whose replies continue on another page (replies@odata.nextLink)",
                    }));
                }
                return Ok(());
            }
            Err(PageError::Stopped(e)) => return Err(e),
            Err(PageError::Malformed(why)) => {
                format!("{why}; messages before that point were read")
            }
            Err(PageError::NotMessages(why)) => why,
        };
        self.quarantine_file(path, rel, size, why)
    }

    /// A WhatsApp chat delivered as a bare text file.
    fn read_chat_file(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
        let surveyed = whatsapp::survey_file(path, self.options.date_order_hint);
        let grammar = match surveyed.map_err(|e| Error::io(path, e))? {
            Ok(grammar) => grammar,
            Err(reason) => return self.undecidable(path, rel, reason),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let identity = whatsapp::chat_identity(&[name.as_deref().unwrap_or("")], &grammar);
        let place = rel.map(str::to_owned);
        let read = |context: &ChatContext<'_>, emit: &mut Emit<'_>| {
            whatsapp::read_chat_file(path, &grammar, context, emit)
        };
        match self.chat(&grammar, identity, whatsapp::FORMAT_TEXT, place, read) {
            Ok(()) => Ok(()),
            Err(ChatError::Stopped(e)) => Err(e),
            Err(ChatError::Read(e)) => match rel {
                None => Err(Error::io(path, e)),
                Some(rel) => {
                    self.unreadable(rel, format!("reading stopped: {e}"));
                    Ok(())
                }
            },
        }
    }

    /// A zip: a WhatsApp export "with media" (Android or iOS), its chat
    /// file found by content and its media looked up by name.
    fn read_zip(&mut self, path: &Path, rel: Option<&str>, size: u64) -> Result<(), Error> {
        let (mut text_archive, media_archive) =
            match zipped::open(path).and_then(|a| Ok((a, zipped::open(path)?))) {
                Ok(pair) => pair,
                Err(reason) => return self.quarantine_file(path, rel, size, reason),
            };
        let entries = zipped::entries(&text_archive);
        if let Some(prefix) = signal::export_root_in_zip(&entries) {
            return self.read_signal(path, rel, Some(&prefix));
        }
        let mut chats = Vec::new();
        for entry in &entries {
            let root_txt =
                !entry.name.contains('/') && entry.name.to_ascii_lowercase().ends_with(".txt");
            if entry.unsafe_name.is_some() || !root_txt {
                continue;
            }
            let mut head = Vec::new();
            let opened = zipped::open_entry(&mut text_archive, entry.index, self.limits());
            if let Ok(reader) = opened {
                let _ = reader.take(1024).read_to_end(&mut head);
            }
            if whatsapp::sniff(&head) {
                chats.push((entry.name != "_chat.txt", entry.index, entry.name.clone()));
            }
        }
        chats.sort();
        let unsafe_names: Vec<String> = entries
            .iter()
            .filter_map(|e| e.unsafe_name.map(|why| format!("{}: {why}", e.name)))
            .collect();
        if !unsafe_names.is_empty() {
            self.summary.decisions.push(json!({
                "decision": "zip-entries-not-read",
                "path": rel,
                "value": unsafe_names,
                "basis": "unsafe names are never looked up; the entries stay in the original",
            }));
        }
        if chats.is_empty() {
            let reason = "a zip without a WhatsApp chat file (detected by content): not an export spoor reads".to_owned();
            return self.quarantine_file(path, rel, size, reason);
        }
        if rel.is_none() {
            self.summary.format = whatsapp::FORMAT_ZIP.to_owned();
        }
        let zip_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut media = ZipMedia::new(media_archive, &entries, self.limits());
        for (_, index, name) in &chats {
            let place = match rel {
                Some(rel) => format!("{rel}!/{name}"),
                None => name.clone(),
            };
            let limits = self.options.limits.clone();
            let surveyed = zipped::open_entry(&mut text_archive, *index, &limits).and_then(|r| {
                whatsapp::survey(
                    io::BufReader::with_capacity(1 << 20, r),
                    self.options.date_order_hint,
                    &[name.as_str(), zip_name.as_str()],
                )
                .map_err(|e| e.to_string())
            });
            let grammar = match surveyed {
                Ok(Ok(grammar)) => grammar,
                Ok(Err(reason)) => {
                    self.undecidable(
                        path,
                        rel.map(|_| place.as_str()),
                        format!("{name}: {reason}"),
                    )?;
                    continue;
                }
                Err(reason) => {
                    self.unreadable(&place, reason);
                    continue;
                }
            };
            let identity = whatsapp::chat_identity(&[name, &zip_name], &grammar);
            let reader = match zipped::open_entry(&mut text_archive, *index, &limits) {
                Ok(r) => io::BufReader::with_capacity(1 << 20, r),
                Err(reason) => {
                    self.unreadable(&place, reason);
                    continue;
                }
            };
            let read = |context: &ChatContext<'_>, emit: &mut Emit<'_>| {
                whatsapp::read_chat(reader, &grammar, context, &mut media, emit)
            };
            match self.chat(
                &grammar,
                identity,
                whatsapp::FORMAT_ZIP,
                Some(place.clone()),
                read,
            ) {
                Ok(()) => {}
                Err(ChatError::Stopped(e)) => return Err(e),
                Err(ChatError::Read(e)) => self.unreadable(&place, format!("reading stopped: {e}")),
            }
        }
        let unreferenced: Vec<&str> = entries
            .iter()
            .filter(|e| e.unsafe_name.is_none() && !media.was_referenced(e.index))
            .filter(|e| !chats.iter().any(|(_, index, _)| *index == e.index))
            .map(|e| e.name.as_str())
            .collect();
        if !unreferenced.is_empty() {
            self.summary.decisions.push(json!({
                "decision": "whatsapp-unreferenced-files",
                "path": rel,
                "value": unreferenced,
                "basis": "in the zip, but named by no line of the chat; kept in the original",
            }));
        }
        Ok(())
    }

    /// The reading pass over one chat file, its decisions recorded.
    fn chat(
        &mut self,
        grammar: &whatsapp::Grammar,
        identity: whatsapp::ChatIdentity,
        format: &'static str,
        place: Option<String>,
        read: impl FnOnce(&ChatContext<'_>, &mut Emit<'_>) -> Result<(), ChatError<Error>>,
    ) -> Result<(), ChatError<Error>> {
        let options = self.options;
        self.summary
            .decisions
            .extend(grammar.decisions(place.as_deref(), &options.zone));
        self.summary.decisions.push(json!({
            "decision": "whatsapp-chat-identity",
            "path": place,
            "value": identity.key,
            "basis": identity.basis,
        }));
        let context = ChatContext {
            format,
            path: place,
            export_sha256: options.export_sha256,
            identity,
            zone: &options.zone,
            limits: &options.limits,
        };
        read(&context, &mut |item| self.put(item))
    }

    fn read_mbox(&mut self, path: &Path, rel: Option<&str>) -> Result<(), Error> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let detection = detect_variant(&mut file).map_err(|e| Error::io(path, e))?;
        self.summary.decisions.push(json!({
            "decision": "mbox-variant",
            "path": rel,
            "value": detection.variant.name(),
            "basis": detection.basis,
        }));
        use std::io::Seek;
        file.rewind().map_err(|e| Error::io(path, e))?;
        let max = self.limits().max_message_bytes;
        let options_digest = self.options.export_sha256;
        let limits = self.options.limits.clone();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let variant = detection.variant;
        std::thread::scope(|scope| {
            let mut pool = Pool::start(scope, &limits, workers);
            let mut emit = |outcome| self.emit(outcome);
            split_mbox(file, variant, max, |message| -> Result<(), Error> {
                let locator = Locator {
                    path: rel.map(str::to_owned),
                    bytes: Some(message.range),
                    lines: Some(message.lines),
                    ..Locator::default()
                };
                let job = if message.oversize {
                    let size = message.range[1] - message.range[0];
                    let reason = format!(
                        "message of {size} bytes exceeds the limit of {max} bytes; kept only in the original"
                    );
                    Job::Quarantine { locator, reason, raw: Vec::new(), size }
                } else {
                    let mut context = message_context("email/mbox", options_digest, locator);
                    let from_line = String::from_utf8_lossy(&message.from_line).into_owned();
                    context.extra.insert("mbox_from_line".to_owned(), Value::from(from_line));
                    context.extra.insert("mbox_variant".to_owned(), Value::from(variant.name()));
                    Job::Parse { bytes: message.bytes, context }
                };
                pool.submit(job, &mut emit)
            })
            .map_err(|e| match e {
                SplitError::Read(source) => Error::io(path, source),
                SplitError::Stopped(e) => e,
            })?;
            pool.finish(&mut emit)
        })
    }

    fn read_dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), Error> {
        if depth > self.limits().max_folder_depth {
            self.unreadable(
                rel,
                format!(
                    "folder deeper than {} levels not read",
                    self.limits().max_folder_depth
                ),
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
        let maildir = is_maildir(dir);
        if maildir {
            self.read_maildir(dir, rel)?;
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
                self.summary.decisions.push(json!({
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
                    self.summary.decisions.push(json!({
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

    fn read_maildir(&mut self, dir: &Path, rel: &str) -> Result<(), Error> {
        for sub in ["cur", "new"] {
            let sub_rel = join(rel, sub);
            let entries = match sorted_entries(&dir.join(sub)) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    self.unreadable(&sub_rel, format!("cannot list folder: {e}"));
                    continue;
                }
            };
            for (name, path) in entries {
                let child = join(&sub_rel, &name);
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.is_file() => {}
                    Ok(_) => {
                        self.unreadable(&child, "not a regular file in a Maildir".to_owned());
                        continue;
                    }
                    Err(e) => {
                        self.unreadable(&child, format!("cannot inspect: {e}"));
                        continue;
                    }
                }
                let bytes = match fs::read(&path) {
                    Ok(b) => b,
                    Err(e) => {
                        self.unreadable(&child, format!("cannot read: {e}"));
                        continue;
                    }
                };
                let locator = Locator {
                    path: Some(child.clone()),
                    bytes: Some([0, bytes.len() as u64]),
                    ..Locator::default()
                };
                if bytes.len() > self.limits().max_message_bytes {
                    let reason = format!(
                        "message exceeds the limit of {} bytes",
                        self.limits().max_message_bytes
                    );
                    let size = bytes.len() as u64;
                    self.quarantine(locator, reason, &[], size)?;
                    continue;
                }
                let mut context =
                    message_context("email/maildir", self.options.export_sha256, locator);
                let info = maildir::Info::from_file_name(&name, sub == "new");
                context.flags = info.flags;
                if let Some(raw) = info.raw {
                    context
                        .extra
                        .insert("maildir_info".to_owned(), Value::from(raw));
                }
                if !rel.is_empty() {
                    context
                        .extra
                        .insert("maildir_folder".to_owned(), Value::from(rel.to_owned()));
                }
                self.message(bytes, context)?;
            }
        }
        if let Ok(pending) = sorted_entries(&dir.join("tmp")) {
            if !pending.is_empty() {
                self.summary.decisions.push(json!({
                    "decision": "maildir-tmp",
                    "path": join(rel, "tmp"),
                    "value": format!("{} files kept in the original, not read", pending.len()),
                    "basis": "tmp/ holds messages still being delivered",
                }));
            }
        }
        Ok(())
    }
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Folder entries sorted by raw name, so reading order never depends on the
/// file system, each with its name sanitised as the package stores it.
fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut raw: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    raw.sort_by_key(|e| e.file_name());
    let mut entries = Vec::new();
    for entry in raw {
        entries.push((path_component(entry.file_name().as_bytes()), entry.path()));
    }
    Ok(entries)
}

fn message_context(
    format: &'static str,
    export_sha256: Sha256,
    locator: Locator,
) -> MessageContext<'static> {
    MessageContext {
        format,
        export_sha256,
        locator,
        flags: Vec::new(),
        extra: BTreeMap::new(),
    }
}
