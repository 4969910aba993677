//! E-mail: one message as `.eml` (RFC 5322 with MIME, [`message`]), mbox
//! files of every variant ([`mbox`]) and Maildir folders ([`maildir`]).
//! Messages are parsed on worker threads ([`pool`]) and handed out in
//! source order.

pub(crate) mod maildir;
pub(crate) mod mbox;
pub(crate) mod message;
pub(crate) mod pool;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Seek};
use std::path::Path;

use serde_json::{json, Value};
use spoor_normalize::{Locator, Sha256};

use crate::format::{folder, head, Format, Input, Reading};
use crate::read::{Limits, ReadOptions, Stop};
use crate::walk::{join, sorted_entries, whole_file};
use crate::Error;
use message::MessageContext;
use pool::{process, Job, Outcome, Pool};

/// One message in a file of its own.
pub(crate) struct Eml;
/// An mbox file.
pub(crate) struct Mbox;
/// A Maildir folder (`cur/`, `new/`, `tmp/`).
pub(crate) struct Maildir;

pub(crate) static EML: Eml = Eml;
pub(crate) static MBOX: Mbox = Mbox;
pub(crate) static MAILDIR: Maildir = Maildir;

/// A byte order mark before an mbox or a message is not content.
fn without_bom(head: &[u8]) -> &[u8] {
    head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head)
}

impl Format for Eml {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(|head| looks_like_header_field(without_bom(head)))
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel) = (input.path(), input.rel());
        let size = input.size();
        let max = options.limits.max_message_bytes;
        if size > max as u64 {
            let reason = format!(
                "message of {size} bytes exceeds the limit of {max} bytes; kept only in the original"
            );
            return reading.quarantine(whole_file(rel, size), reason, &[], size);
        }
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if rel.is_some() => {
                reading.unreadable(rel.unwrap_or_default(), format!("cannot read: {e}"));
                return Ok(());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        // A byte order mark before the first header is not part of the
        // message (the original keeps it).
        let bytes = match bytes.strip_prefix(b"\xef\xbb\xbf") {
            Some(rest) => rest.to_vec(),
            None => bytes,
        };
        let export_sha256 = options.export_sha256;
        let context = message_context("email/eml", export_sha256, whole_file(rel, size));
        parse_one(reading, &options.limits, bytes, context)
    }
}

impl Format for Mbox {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(|head| without_bom(head).starts_with(b"From "))
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel) = (input.path(), input.rel());
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let detection = mbox::detect_variant(&mut file).map_err(|e| Error::io(path, e))?;
        reading.decide(json!({
            "decision": "mbox-variant",
            "path": rel,
            "value": detection.variant.name(),
            "basis": detection.basis,
        }));
        file.rewind().map_err(|e| Error::io(path, e))?;
        let max = options.limits.max_message_bytes;
        let export_sha256 = options.export_sha256;
        let limits = &options.limits;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let variant = detection.variant;
        std::thread::scope(|scope| {
            let mut pool = Pool::start(scope, limits, workers);
            let mut emit = |outcome| write_outcome(reading, outcome);
            mbox::split_mbox(file, variant, max, |message| -> Result<(), Error> {
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
                    let mut context = message_context("email/mbox", export_sha256, locator);
                    let from_line = String::from_utf8_lossy(&message.from_line).into_owned();
                    context.extra.insert("mbox_from_line".to_owned(), Value::from(from_line));
                    context.extra.insert("mbox_variant".to_owned(), Value::from(variant.name()));
                    Job::Parse { bytes: message.bytes, context }
                };
                pool.submit(job, &mut emit)
            })
            .map_err(|e| match e {
                Stop::Input(source) => Error::io(path, source),
                Stop::Sink(e) => e,
            })?;
            pool.finish(&mut emit)
        })
    }
}

impl Format for Maildir {
    fn sniff(&self, input: &Input<'_>) -> bool {
        folder(input).is_some_and(is_maildir)
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        _options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        reading.read_folder(input.path(), input.rel().unwrap_or_default())
    }
}

/// Does `dir` have a `cur/` or `new/` folder?
pub(crate) fn is_maildir(dir: &Path) -> bool {
    ["cur", "new"]
        .iter()
        .any(|sub| fs::symlink_metadata(dir.join(sub)).is_ok_and(|m| m.is_dir()))
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

/// The messages of a Maildir's `cur/` and `new/`, in name order, with the
/// flags of their file names; `tmp/` is left in the original.
pub(crate) fn read_maildir(
    reading: &mut dyn Reading,
    options: &ReadOptions,
    dir: &Path,
    rel: &str,
) -> Result<(), Error> {
    for sub in ["cur", "new"] {
        let sub_rel = join(rel, sub);
        let entries = match sorted_entries(&dir.join(sub)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                reading.unreadable(&sub_rel, format!("cannot list folder: {e}"));
                continue;
            }
        };
        for (name, path) in entries {
            let child = join(&sub_rel, &name);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    reading.unreadable(&child, "not a regular file in a Maildir".to_owned());
                    continue;
                }
                Err(e) => {
                    reading.unreadable(&child, format!("cannot inspect: {e}"));
                    continue;
                }
            }
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    reading.unreadable(&child, format!("cannot read: {e}"));
                    continue;
                }
            };
            let size = bytes.len() as u64;
            let locator = whole_file(Some(&child), size);
            let max = options.limits.max_message_bytes;
            if bytes.len() > max {
                let reason = format!("message exceeds the limit of {max} bytes");
                reading.quarantine(locator, reason, &[], size)?;
                continue;
            }
            let export_sha256 = options.export_sha256;
            let mut context = message_context("email/maildir", export_sha256, locator);
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
            parse_one(reading, &options.limits, bytes, context)?;
        }
    }
    if let Ok(pending) = sorted_entries(&dir.join("tmp")) {
        if !pending.is_empty() {
            reading.decide(json!({
                "decision": "maildir-tmp",
                "path": join(rel, "tmp"),
                "value": format!("{} files kept in the original, not read", pending.len()),
                "basis": "tmp/ holds messages still being delivered",
            }));
        }
    }
    Ok(())
}

/// Parses one message on this thread and writes the outcome.
fn parse_one(
    reading: &mut dyn Reading,
    limits: &Limits,
    bytes: Vec<u8>,
    context: MessageContext<'static>,
) -> Result<(), Error> {
    let outcome = process(Job::Parse { bytes, context }, limits);
    write_outcome(reading, outcome)
}

/// Writes a parsed message to the sink, or quarantines what was not one.
fn write_outcome(reading: &mut dyn Reading, outcome: Outcome) -> Result<(), Error> {
    match outcome {
        Outcome::Parsed(parsed) => reading.record(parsed.record, parsed.blobs),
        Outcome::Quarantine {
            locator,
            reason,
            raw,
            size,
        } => reading.quarantine(locator, reason, &raw, size),
    }
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
