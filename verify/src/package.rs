//! Checking one package zip: zip hygiene, the BagIt bag inside it, and the
//! spoor payload (records, blobs, quarantine, package.json, original).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;
use spoor_normalize::layout::{ExportShape, KnownEntry, PackageManifest, QuarantineEntry};
use spoor_normalize::{hash_reader, jcs, HashingReader, Locator, Record, Sha256, RECORD_SCHEMA};
use zip::ZipArchive;

use crate::access;
use crate::bag::{parse_bag_info, parse_manifest};
use crate::report::Report;
use crate::spill::RecordLines;
use crate::Error;

/// Most bytes of a tag file or package.json held for parsing.
const MAX_TAG_FILE: u64 = 64 << 20;
/// Longest record line read; longer is reported, not held.
const MAX_LINE: usize = 256 << 20;
/// Highest uncompressed/compressed ratio read; deflate cannot exceed ~1032
/// honestly, so more is a zip bomb or a lie in the central directory.
const MAX_RATIO: u64 = 1100;
/// Most entries in one package.
const MAX_ENTRIES: usize = 10_000_000;

/// The exact `bagit.txt` of a BagIt 1.0 bag with UTF-8 tag files.
const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// Facts about a verified package that store-level checks need.
#[derive(Clone, Debug, Default)]
pub(crate) struct PackageFacts {
    pub(crate) package_id: String,
    pub(crate) export_sha256: Option<String>,
    pub(crate) export_size: Option<u64>,
    /// Each line of `records.jsonl`, in order.
    pub(crate) records: RecordLines,
    /// SHA-256 of the whole zip file.
    pub(crate) zip_sha256: Option<String>,
    /// SHA-256 of `tagmanifest-sha256.txt`.
    pub(crate) tagmanifest_sha256: Option<String>,
    /// The Payload-Oxum of the payload as found.
    pub(crate) payload_oxum: String,
}

/// One line of `records.jsonl` as the store-level checks need it: 65 bytes
/// rather than two strings, since a store can hold millions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordLine {
    /// The record's id; `None` when the line is not a readable record.
    pub(crate) id: Option<Sha256>,
    /// SHA-256 of the line's bytes.
    pub(crate) hash: Sha256,
}

impl RecordLine {
    /// Whether this line's record has the id written as `text`.
    pub(crate) fn has_id(&self, text: &str) -> bool {
        self.id
            .is_some_and(|id| Sha256::from_hex(text).is_ok_and(|t| t == id))
    }

    /// Whether the line hashes to the digest written as `text`.
    pub(crate) fn hashes_to(&self, text: &str) -> bool {
        Sha256::from_hex(text).is_ok_and(|t| t == self.hash)
    }

    /// The id for messages (empty for a line that is not a record).
    pub(crate) fn id_text(&self) -> String {
        self.id.map(|id| id.to_hex()).unwrap_or_default()
    }
}

/// Verifies one package zip on its own.
///
/// # Errors
/// [`Error::CannotRead`] when the file cannot be opened; every problem with
/// its content is a finding in the report.
pub fn verify_package(path: &Path) -> Result<Report, Error> {
    Ok(check_package(path)?.0)
}

#[derive(Clone)]
pub(crate) struct EntryInfo {
    index: usize,
    pub(crate) bag_path: String,
    size: u64,
    /// Where its raw data lies (the zip crate reads each local header
    /// while listing).
    span: Option<EntrySpan>,
}

#[derive(Default)]
struct Lines {
    count: u64,
    problems: Vec<(u64, &'static str, String)>,
    /// Each record line.
    records: Vec<RecordLine>,
    /// Blobs referenced, with the first line referencing each.
    blobs: BTreeMap<String, u64>,
    export_hashes: BTreeSet<String>,
    /// Locator (path, first byte) of the previous record, for the order check.
    previous: Option<(Option<String>, u64)>,
    /// Every byte range a line's locator names, for the tiling check.
    spans: Vec<Span>,
    /// The paths spans name, each once (an export has few files with
    /// byte-located items).
    paths: Vec<Option<String>>,
    /// Where the lines asked for start (line number → byte offset).
    starts: BTreeMap<u64, u64>,
}

/// A byte range `[start, end)` of the original file `paths[path]`.
#[derive(Clone, Copy)]
struct Span {
    path: u32,
    start: u64,
    end: u64,
}

impl Lines {
    fn note_span(&mut self, path: Option<&str>, bytes: [u64; 2]) {
        let index = match self.paths.iter().position(|p| p.as_deref() == path) {
            Some(i) => i,
            None => {
                self.paths.push(path.map(str::to_owned));
                self.paths.len() - 1
            }
        };
        self.spans.push(Span {
            path: u32::try_from(index).unwrap_or(u32::MAX),
            start: bytes[0],
            end: bytes[1],
        });
    }

    /// Notes the span of a quarantine or known entry's `locator`.
    fn note_locator(&mut self, locator: &Locator) {
        if let Some(bytes) = locator.bytes {
            self.note_span(locator.path.as_deref(), bytes);
        }
    }
}

#[derive(Default)]
struct EntryResult {
    index: usize,
    bag_path: String,
    span: Option<EntrySpan>,
    sha256: Option<Sha256>,
    size: u64,
    error: Option<String>,
    content: Option<Vec<u8>>,
    lines: Option<Lines>,
}

pub(crate) fn check_package(path: &Path) -> Result<(Report, Option<PackageFacts>), Error> {
    let cannot = |e: io::Error| Error::CannotRead {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = File::open(path).map_err(cannot)?;
    let mut report = Report {
        packages: 1,
        ..Report::default()
    };
    let mut archive = match ZipArchive::new(file) {
        Ok(a) => a,
        Err(e) => {
            report.problem("zip-unreadable", "zip", format!("not a readable zip: {e}"));
            return Ok((report, None));
        }
    };
    let expected_top = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_owned();
    let entries = hygiene(&mut archive, &expected_top, &mut report);
    drop(archive);
    // The zip crate keeps one entry per name, so a name written twice is
    // only seen in the central directory itself.
    match central_directory_names(path) {
        Ok(names) => {
            let mut seen = HashSet::new();
            for name in names {
                if !seen.insert(name.clone()) {
                    report.problem(
                        "zip-duplicate-name",
                        String::from_utf8_lossy(&name).into_owned(),
                        "duplicate entry name (the central directory lists it twice)",
                    );
                }
            }
        }
        Err(why) => report.problem("zip-unreadable", "zip", why),
    }
    let access = access::read(path, &expected_top, &entries, &mut report);
    let starts_of = access
        .as_ref()
        .map(|points| points.iter().map(|p| p.line).collect())
        .unwrap_or_default();
    // The whole file's hash (named in the log) is taken beside the entries.
    let (mut results, zip_sha256) = std::thread::scope(|scope| {
        let whole = scope.spawn(|| File::open(path).and_then(hash_reader));
        let results = read_entries(path, &entries, &starts_of);
        (results, whole.join())
    });
    results.sort_by_key(|r| r.index);
    if let Some(points) = &access {
        let records = results
            .iter()
            .find(|r| r.bag_path == "data/records.jsonl" && r.error.is_none());
        if let Some((records, lines)) = records.and_then(|r| Some((r, r.lines.as_ref()?))) {
            let found = access::Found {
                starts: &lines.starts,
                records: &lines.records,
                count: lines.count,
                span: records.span,
            };
            access::check(path, points, &found, &mut report);
        }
    }
    // The (id, hash) list of the records moves into the facts rather than
    // being copied: it is the one list that grows with the records.
    let records = results
        .iter_mut()
        .find(|r| r.bag_path == "data/records.jsonl")
        .and_then(|r| r.lines.as_mut())
        .map(|l| std::mem::take(&mut l.records))
        .unwrap_or_default();
    let mut facts = check_bag(path, &expected_top, &results, records, &mut report);
    match zip_sha256 {
        Ok(Ok((digest, len))) => {
            facts.zip_sha256 = Some(digest.to_hex());
            report.bytes += len;
        }
        Ok(Err(e)) => report.problem(
            "zip-unreadable",
            "zip",
            format!("cannot be read whole: {e}"),
        ),
        Err(_) => report.problem("zip-unreadable", "zip", "hashing the whole file failed"),
    }
    facts.tagmanifest_sha256 = results
        .iter()
        .find(|r| r.bag_path == "tagmanifest-sha256.txt")
        .and_then(|r| r.sha256)
        .map(|d| d.to_hex());
    Ok((report, Some(facts)))
}

/// The entry names of the zip at `path`, straight from its central
/// directory (APPNOTE 4.3.12, 4.3.16; ZIP64 4.3.14–15), in order, repeats
/// included.
fn central_directory_names(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    // The end record sits in the last 22 bytes plus a comment of up to 64 KiB.
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| format!("cannot read the end of the zip: {e}"))?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(&b"PK\x05\x06"[..]))
        .ok_or("no end of central directory record")?;
    let u16_at = |b: &[u8], at: usize| {
        b.get(at..at + 2)
            .map(|x| u64::from(u16::from_le_bytes([x[0], x[1]])))
    };
    let u32_at = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|x| u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])))
    };
    let u64_at = |b: &[u8], at: usize| {
        b.get(at..at + 8)
            .and_then(|x| <[u8; 8]>::try_from(x).ok())
            .map(u64::from_le_bytes)
    };
    let bad = || "malformed end of central directory record".to_owned();
    let mut count = u16_at(&tail, eocd + 10).ok_or_else(bad)?;
    let mut size = u32_at(&tail, eocd + 12).ok_or_else(bad)?;
    let mut offset = u32_at(&tail, eocd + 16).ok_or_else(bad)?;
    if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        // ZIP64: the locator just before the end record names the ZIP64 end.
        let locator = eocd.checked_sub(20).ok_or_else(bad)?;
        if tail.get(locator..locator + 4) != Some(&b"PK\x06\x07"[..]) {
            return Err("no ZIP64 end of central directory locator".to_owned());
        }
        let at = u64_at(&tail, locator + 8).ok_or_else(bad)?;
        let mut end64 = [0u8; 56];
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut end64))
            .map_err(|e| format!("cannot read the ZIP64 end record: {e}"))?;
        if end64[..4] != b"PK\x06\x06"[..] {
            return Err("malformed ZIP64 end of central directory record".to_owned());
        }
        count = u64_at(&end64, 32).ok_or_else(bad)?;
        size = u64_at(&end64, 40).ok_or_else(bad)?;
        offset = u64_at(&end64, 48).ok_or_else(bad)?;
    }
    if count > MAX_ENTRIES as u64 || size > len || offset > len - size {
        return Err(format!(
            "central directory of {count} entries, {size} bytes at {offset}: not inside the file"
        ));
    }
    let mut directory = vec![0u8; size as usize];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut directory))
        .map_err(|e| format!("cannot read the central directory: {e}"))?;
    let mut names = Vec::new();
    let mut at = 0usize;
    while names.len() < count as usize {
        if directory.get(at..at + 4) != Some(&b"PK\x01\x02"[..]) {
            return Err(format!(
                "central directory entry {} does not start with its signature",
                names.len()
            ));
        }
        let name_len = u16_at(&directory, at + 28).ok_or_else(bad)? as usize;
        let extra_len = u16_at(&directory, at + 30).ok_or_else(bad)? as usize;
        let comment_len = u16_at(&directory, at + 32).ok_or_else(bad)? as usize;
        let name = directory
            .get(at + 46..at + 46 + name_len)
            .ok_or("central directory entry cut short")?;
        names.push(name.to_vec());
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

/// Checks the central directory: one top folder named like the file, safe
/// names, no links or folders, plausible sizes. Duplicate names are found
/// by [`central_directory_names`], since the zip crate lists a name once.
fn hygiene(archive: &mut ZipArchive<File>, top: &str, report: &mut Report) -> Vec<EntryInfo> {
    let mut entries = Vec::new();
    if archive.len() > MAX_ENTRIES {
        report.problem(
            "zip-too-many-entries",
            "zip",
            format!("{} entries, over the limit of {MAX_ENTRIES}", archive.len()),
        );
        return entries;
    }
    for index in 0..archive.len() {
        let entry = match archive.by_index_raw(index) {
            Ok(e) => e,
            Err(e) => {
                report.problem(
                    "zip-entry-unreadable",
                    format!("zip entry {index}"),
                    format!("unreadable central directory entry: {e}"),
                );
                continue;
            }
        };
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                report.problem(
                    "zip-entry-unreadable",
                    format!("zip entry {index}"),
                    format!("name is not valid: {e}"),
                );
                continue;
            }
        };
        let place = name.clone();
        if name.starts_with('/')
            || name.contains('\\')
            || name
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            report.problem(
                "zip-unsafe-name",
                &place,
                "unsafe entry name (absolute, backslash, empty, . or .. component)",
            );
            continue;
        }
        if entry.is_symlink() {
            report.problem("zip-symlink", &place, "symbolic link entry");
            continue;
        }
        if entry.is_dir() {
            report.problem(
                "zip-folder-entry",
                &place,
                "folder entry (a package holds only files)",
            );
            continue;
        }
        let Some(bag_path) = name.strip_prefix(top).and_then(|r| r.strip_prefix('/')) else {
            report.problem(
                "zip-outside-top-folder",
                &place,
                format!("outside the package's single top folder {top}/"),
            );
            continue;
        };
        let (size, compressed) = (entry.size(), entry.compressed_size());
        if size > 0 && size / compressed.max(1) > MAX_RATIO {
            report.problem("zip-ratio-exceeded", &place, format!("claims {size} bytes from {compressed}: over the ratio limit {MAX_RATIO}, not read"));
            continue;
        }
        let span = entry.data_start().map(|data_start| EntrySpan {
            data_start,
            compressed,
            method: entry.compression(),
        });
        entries.push(EntryInfo {
            index,
            bag_path: bag_path.to_owned(),
            size,
            span,
        });
    }
    entries
}

/// Reads and hashes every entry, spread over the machine's cores by size;
/// notes where the lines of `records.jsonl` numbered in `starts_of` begin.
fn read_entries(path: &Path, entries: &[EntryInfo], starts_of: &BTreeSet<u64>) -> Vec<EntryResult> {
    // One core is the whole-file hash's (see check_package).
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .clamp(1, entries.len().max(1));
    let mut shards: Vec<(u64, Vec<EntryInfo>)> = vec![(0, Vec::new()); workers];
    let mut by_size: Vec<&EntryInfo> = entries.iter().collect();
    by_size.sort_by_key(|e| std::cmp::Reverse(e.size));
    for entry in by_size {
        if let Some(lightest) = shards.iter_mut().min_by_key(|s| s.0) {
            lightest.0 += entry.size;
            lightest.1.push(entry.clone());
        }
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .into_iter()
            .map(|(_, shard)| scope.spawn(move || read_shard(path, &shard, starts_of)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn read_shard(path: &Path, shard: &[EntryInfo], starts_of: &BTreeSet<u64>) -> Vec<EntryResult> {
    let archive = File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| ZipArchive::new(f).map_err(|e| e.to_string()));
    let mut archive = match archive {
        Ok(a) => a,
        Err(e) => {
            return shard
                .iter()
                .map(|info| EntryResult {
                    index: info.index,
                    bag_path: info.bag_path.clone(),
                    error: Some(format!("cannot reopen package: {e}")),
                    ..EntryResult::default()
                })
                .collect()
        }
    };
    shard
        .iter()
        .map(|info| read_entry(&mut archive, info, starts_of))
        .collect()
}

fn read_entry(
    archive: &mut ZipArchive<File>,
    info: &EntryInfo,
    starts_of: &BTreeSet<u64>,
) -> EntryResult {
    let mut result = EntryResult {
        index: info.index,
        bag_path: info.bag_path.clone(),
        span: info.span,
        ..EntryResult::default()
    };
    let entry = match archive.by_index(info.index) {
        Ok(e) => e,
        Err(e) => {
            result.error = Some(format!("cannot be read: {e}"));
            return result;
        }
    };
    let mut reader = HashingReader::new(entry);
    let outcome = match info.bag_path.as_str() {
        "data/records.jsonl" => {
            read_lines(&mut reader, &RecordCheck, starts_of).map(|l| result.lines = Some(l))
        }
        "data/quarantine.jsonl" => read_lines(
            &mut reader,
            &InOrder(check_quarantine_line),
            &BTreeSet::new(),
        )
        .map(|l| result.lines = Some(l)),
        "data/known.jsonl" => read_lines(&mut reader, &InOrder(check_known_line), &BTreeSet::new())
            .map(|l| result.lines = Some(l)),
        p if !p.starts_with("data/") || p == "data/package.json" => {
            let mut content = Vec::new();
            let r = (&mut reader)
                .take(MAX_TAG_FILE)
                .read_to_end(&mut content)
                .and_then(|_| drain(&mut reader));
            result.content = Some(content);
            r.map(|_| ())
        }
        _ => drain(&mut reader),
    };
    // The zip reader checks the CRC-32 when an entry has been read to its end.
    let (digest, len) = reader.finish();
    match outcome {
        Ok(()) => {
            result.sha256 = Some(digest);
            result.size = len;
        }
        Err(e) => {
            result.error = Some(format!(
                "cannot be read (damaged data or CRC mismatch): {e}"
            ))
        }
    }
    result
}

/// Reads `reader` to its end in large pieces (the entry's hash and CRC are
/// taken on the way): 8 KiB reads cost a system call each.
fn drain(reader: &mut impl Read) -> io::Result<()> {
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// How the lines of one payload file are checked: what can be found from a
/// line alone (`facts`, on every core) and what needs the lines before it
/// (`merge`, in line order).
trait LineCheck: Sync {
    type Facts: Send;
    fn facts(&self, line: &[u8]) -> Self::Facts;
    fn merge(&self, facts: Self::Facts, number: u64, lines: &mut Lines);
}

/// A check with nothing to do apart: the line is handed to `merge` as it is
/// (the quarantine and known files, which are small).
struct InOrder(fn(&[u8], u64, &mut Lines));

impl LineCheck for InOrder {
    type Facts = Vec<u8>;
    fn facts(&self, line: &[u8]) -> Vec<u8> {
        line.to_vec()
    }
    fn merge(&self, line: Vec<u8>, number: u64, lines: &mut Lines) {
        (self.0)(&line, number, lines);
    }
}

/// Lines handed to the workers at a time.
const BATCH_LINES: usize = 2048;

/// One line as read: its number, and its bytes without the LF (`None` when
/// it was too long to hold), and whether it had the LF.
/// Its length in the file comes second.
type ReadLine = (u64, u64, Option<Vec<u8>>, bool);

/// Reads JSON lines, checking each with `check`: one thread reads (and so
/// inflates and hashes the entry), the others find each line's facts in
/// batches, and this one merges them in line order. Memory stays at a few
/// batches in flight.
///
/// The byte offsets where the lines numbered in `starts_of` begin are kept
/// in [`Lines::starts`].
fn read_lines<C: LineCheck>(
    reader: &mut (dyn Read + Send),
    check: &C,
    starts_of: &BTreeSet<u64>,
) -> io::Result<Lines> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<ReadLine>)>(workers * 2);
    let (facts_tx, facts_rx) = std::sync::mpsc::sync_channel(workers * 2);
    let batch_rx = std::sync::Mutex::new(batch_rx);
    let mut lines = Lines::default();
    let read = std::thread::scope(|scope| {
        let reading = scope.spawn(move || split_lines(reader, &batch_tx));
        for _ in 0..workers {
            let facts_tx = facts_tx.clone();
            let batch_rx = &batch_rx;
            scope.spawn(move || loop {
                let next = batch_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some((sequence, batch)) = next else { break };
                let facts: Vec<_> = batch
                    .into_iter()
                    .map(|(number, len, line, terminated)| {
                        (number, len, line.map(|l| check.facts(&l)), terminated)
                    })
                    .collect();
                if facts_tx.send((sequence, facts)).is_err() {
                    break;
                }
            });
        }
        drop(facts_tx);
        // Batches come back in any order; they are merged in theirs.
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        let mut offset = 0u64;
        for (sequence, facts) in facts_rx {
            waiting.insert(sequence, facts);
            while let Some(batch) = waiting.remove(&next) {
                for (number, len, facts, terminated) in batch {
                    lines.count = number;
                    if starts_of.contains(&number) {
                        lines.starts.insert(number, offset);
                    }
                    offset += len;
                    match facts {
                        None => lines.problems.push((
                            number,
                            "line-too-long",
                            format!("longer than {MAX_LINE} bytes; not checked"),
                        )),
                        Some(facts) => {
                            if !terminated {
                                lines.problems.push((
                                    number,
                                    "line-unterminated",
                                    "last line does not end with LF".to_owned(),
                                ));
                            }
                            check.merge(facts, number, &mut lines);
                        }
                    }
                }
                next += 1;
            }
        }
        reading
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the line reader died")))
    });
    read.map(|()| lines)
}

/// The reading thread of [`read_lines`]: lines in numbered batches.
fn split_lines(
    reader: &mut (dyn Read + Send),
    batches: &std::sync::mpsc::SyncSender<(u64, Vec<ReadLine>)>,
) -> io::Result<()> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let mut batch = Vec::with_capacity(BATCH_LINES);
    let mut sequence = 0;
    let mut number = 0;
    loop {
        let mut line = Vec::new();
        let n = (&mut buffered)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.len() > MAX_LINE {
            let mut rest = Vec::new();
            buffered.read_until(b'\n', &mut rest)?;
            batch.push((number, (n + rest.len()) as u64, None, true));
        } else {
            let terminated = line.last() == Some(&b'\n');
            if terminated {
                line.pop();
            }
            batch.push((number, n as u64, Some(line), terminated));
        }
        if batch.len() == BATCH_LINES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
            if batches.send((sequence, full)).is_err() {
                return Ok(());
            }
            sequence += 1;
        }
    }
    if !batch.is_empty() {
        let _ = batches.send((sequence, batch));
    }
    Ok(())
}

/// What one record line says by itself.
struct RecordFacts {
    problems: Vec<(&'static str, String)>,
    line: RecordLine,
    blobs: Vec<String>,
    export: Option<String>,
    locator: Option<(Option<String>, [u64; 2])>,
}

/// The record lines of `records.jsonl`.
struct RecordCheck;

impl LineCheck for RecordCheck {
    type Facts = RecordFacts;

    fn facts(&self, line: &[u8]) -> RecordFacts {
        record_facts(line)
    }

    fn merge(&self, facts: RecordFacts, number: u64, lines: &mut Lines) {
        for (code, problem) in facts.problems {
            lines.problems.push((number, code, problem));
        }
        for blob in facts.blobs {
            lines.blobs.entry(blob).or_insert(number);
        }
        if let Some(export) = facts.export {
            lines.export_hashes.insert(export);
        }
        if let Some((path, bytes)) = facts.locator {
            lines.note_span(path.as_deref(), bytes);
            // Records keep source order: within one file, byte offsets
            // only grow.
            let start = bytes[0];
            if let Some((previous_path, previous_start)) = &lines.previous {
                if *previous_path == path && start < *previous_start {
                    lines.problems.push((
                        number,
                        "record-out-of-order",
                        format!("out of source order: starts at byte {start}, before the previous record's byte {previous_start}"),
                    ));
                }
            }
            lines.previous = Some((path, start));
        }
        lines.records.push(facts.line);
    }
}

fn record_facts(line: &[u8]) -> RecordFacts {
    let hash = Sha256::of(line);
    let mut facts = RecordFacts {
        problems: Vec::new(),
        line: RecordLine { id: None, hash },
        blobs: Vec::new(),
        export: None,
        locator: None,
    };
    // The canonical check reads the bytes once without building a value;
    // the record is parsed straight into its type.
    if !jcs::is_canonical(line) {
        facts.problems.push((
            "line-not-canonical",
            "not in RFC 8785 canonical form".to_owned(),
        ));
    }
    let record: Record = match serde_json::from_slice::<Record>(line) {
        Ok(r) => r,
        Err(e) => {
            facts.problems.push((
                "record-malformed",
                format!("not a {RECORD_SCHEMA} record: {e}"),
            ));
            return facts;
        }
    };
    if record.schema != RECORD_SCHEMA {
        facts.problems.push((
            "record-schema",
            format!("schema {} is not {RECORD_SCHEMA}", record.schema),
        ));
    }
    for blob in record.bodies.iter().chain(&record.attachments) {
        if let (Some(digest), false) = (blob.sha256, blob.missing) {
            facts.blobs.push(digest.to_hex());
        }
    }
    facts.export = Some(record.source.export_sha256.to_hex());
    facts.locator = record
        .source
        .locator
        .bytes
        .map(|bytes| (record.source.locator.path.clone(), bytes));
    facts.line.id = Sha256::from_hex(record.id.as_str()).ok();
    facts
}

/// A line that must be one canonical JSON document of type `T`: it, or
/// `None` with the problem noted.
fn canonical_entry<T: serde::de::DeserializeOwned>(
    line: &[u8],
    number: u64,
    lines: &mut Lines,
    what: &str,
) -> Option<T> {
    if !jcs::is_canonical(line) {
        lines.problems.push((
            number,
            "line-not-canonical",
            "not in RFC 8785 canonical form".to_owned(),
        ));
    }
    serde_json::from_slice::<T>(line)
        .map_err(|e| {
            let problem = format!("not a {what} of docs/FORMAT.md §6.2: {e}");
            lines.problems.push((number, "line-malformed", problem));
        })
        .ok()
}

fn check_quarantine_line(line: &[u8], number: u64, lines: &mut Lines) {
    let Some(entry) = canonical_entry::<QuarantineEntry>(line, number, lines, "quarantine entry")
    else {
        return;
    };
    if let Some(digest) = entry.raw_sha256 {
        lines.blobs.entry(digest).or_insert(number);
    }
    lines.note_locator(&entry.locator);
}

/// A line of `known.jsonl`: a record not written again, and why.
fn check_known_line(line: &[u8], number: u64, lines: &mut Lines) {
    let Some(entry) = canonical_entry::<KnownEntry>(line, number, lines, "known-record entry")
    else {
        return;
    };
    lines.note_locator(&entry.locator);
    if !matches!(
        entry.why.as_str(),
        "already in the store" | "repeated in this export"
    ) {
        lines.problems.push((
            number,
            "known-why-unknown",
            format!(
                "known-record entry with why \"{}\", not one of the two reasons",
                entry.why
            ),
        ));
    }
}

/// Every file of the export that entries name by byte range, and every
/// mbox an `mbox-variant` decision names, must be tiled exactly by the
/// `locator.bytes` of the records, known and quarantine entries naming it
/// (docs/FORMAT.md §10): a gap is input nothing accounts for.
fn check_tiling(
    zip_path: &Path,
    package: &PackageManifest,
    by_path: &BTreeMap<&str, &EntryResult>,
    report: &mut Report,
) {
    let original = package.export.original.as_str();
    let all_lines: Vec<&Lines> = [
        "data/records.jsonl",
        "data/quarantine.jsonl",
        "data/known.jsonl",
    ]
    .iter()
    .filter_map(|name| by_path.get(name).and_then(|r| r.lines.as_ref()))
    .collect();
    let mut paths: BTreeSet<Option<&str>> = package
        .decisions
        .iter()
        .filter(|d| d.get("decision").and_then(Value::as_str) == Some("mbox-variant"))
        .map(|d| d.get("path").and_then(Value::as_str))
        .collect();
    paths.extend(
        all_lines
            .iter()
            .flat_map(|lines| lines.paths.iter().map(Option::as_deref)),
    );
    for path in paths {
        let entry = match path {
            Some(path) => format!("{original}/{path}"),
            None => original.to_owned(),
        };
        let size = match (by_path.get(entry.as_str()), path) {
            (Some(found), _) => found.size,
            // A file inside a zip: the zip export itself, or a zip in a
            // folder export (`<zip>!/<member>`), sized by its directory.
            (None, Some(path)) => {
                let (zip, member) = match path.split_once("!/") {
                    Some((zip, member)) => (format!("{original}/{zip}"), member),
                    None => (original.to_owned(), path),
                };
                let span = by_path.get(zip.as_str()).and_then(|r| r.span);
                match member_size(zip_path, span, &zip, member) {
                    Ok(size) => size,
                    Err(why) => {
                        report.problem("tiling-unsized", &entry, why);
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        let mut spans: Vec<(u64, u64)> = all_lines
            .iter()
            .flat_map(|lines| {
                let index = lines.paths.iter().position(|p| p.as_deref() == path);
                lines
                    .spans
                    .iter()
                    .filter(move |s| Some(s.path as usize) == index)
                    .map(|s| (s.start, s.end))
            })
            .collect();
        spans.sort_unstable();
        let mut at = 0u64;
        for (start, end) in spans {
            if start > at {
                report.problem(
                    "tiling-gap",
                    &entry,
                    format!("bytes {at}..{start} are in no record, known or quarantine entry"),
                );
            } else if start < at {
                report.problem(
                    "tiling-overlap",
                    &entry,
                    format!("bytes {start}..{} are named by two entries", at.min(end)),
                );
            }
            at = at.max(end);
        }
        if at < size {
            report.problem(
                "tiling-gap",
                &entry,
                format!("bytes {at}..{size} are in no record, known or quarantine entry"),
            );
        } else if at > size {
            report.problem(
                "tiling-past-end",
                &entry,
                format!("entries name bytes up to {at}, past the end of the file ({size} bytes)"),
            );
        }
    }
}

/// The size of `member` inside the zip stored at `span` of the package at
/// `zip_path` (bag path `original`), read from that zip's central directory
/// in place.
fn member_size(
    zip_path: &Path,
    span: Option<EntrySpan>,
    original: &str,
    member: &str,
) -> Result<u64, String> {
    let span = span
        .ok_or_else(|| format!("not a file of the export, and {original} is not in the package"))?;
    if span.method != zip::CompressionMethod::Stored {
        return Err(format!(
            "{original} is deflated, so its members are not sized"
        ));
    }
    let file = File::open(zip_path).map_err(|e| e.to_string())?;
    let view = FileRange::new(file, span.data_start, span.compressed);
    let mut export = ZipArchive::new(view).map_err(|e| format!("{original}: {e}"))?;
    let size = export
        .by_name(member)
        .map(|m| m.size())
        .map_err(|_| format!("{original} has no {member}"))?;
    Ok(size)
}

/// Where an entry's raw data lies in a zip, and how it is compressed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntrySpan {
    pub(crate) data_start: u64,
    pub(crate) compressed: u64,
    pub(crate) method: zip::CompressionMethod,
}

/// `len` bytes of a file from `start`, read and sought as a file of its own.
struct FileRange {
    file: File,
    start: u64,
    len: u64,
    at: u64,
}

impl FileRange {
    fn new(file: File, start: u64, len: u64) -> FileRange {
        FileRange {
            file,
            start,
            len,
            at: 0,
        }
    }
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::{Seek, SeekFrom};
        let left = self.len.saturating_sub(self.at);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        self.file
            .seek(SeekFrom::Start(self.start.saturating_add(self.at)))?;
        let n = self.file.read(&mut buf[..want])?;
        self.at += n as u64;
        Ok(n)
    }
}

impl io::Seek for FileRange {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let at = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.at.checked_add_signed(d),
        };
        self.at = at.ok_or_else(|| io::Error::other("seek before the start"))?;
        Ok(self.at)
    }
}

/// The lines (from 0, in order) whose record id an earlier line already has.
fn repeated_ids(records: &[RecordLine]) -> Vec<usize> {
    // Line numbers sorted by id: 8 bytes a record, where a set of the ids
    // took over 100 bytes at its peak.
    let mut by_id: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].id.is_some())
        .collect();
    by_id.sort_unstable_by_key(|&i| (records[i].id, i));
    let mut repeated: Vec<usize> = by_id
        .windows(2)
        .filter(|pair| records[pair[0]].id == records[pair[1]].id)
        .map(|pair| pair[1])
        .collect();
    repeated.sort_unstable();
    repeated
}

/// Cross-checks of the bag as a whole, once every entry has been read.
fn check_bag(
    path: &Path,
    top: &str,
    results: &[EntryResult],
    records: Vec<RecordLine>,
    report: &mut Report,
) -> PackageFacts {
    let bag = Bag::new(results);
    for r in results {
        report.bytes += r.size;
        if let Some(e) = &r.error {
            report.problem("entry-unreadable", &r.bag_path, e.clone());
        }
    }
    bag.check_declaration(report);
    bag.check_manifest(report);
    bag.check_tagmanifest(report);
    let mut facts = PackageFacts {
        package_id: top.to_owned(),
        payload_oxum: bag.check_bag_info(report).unwrap_or_default(),
        ..PackageFacts::default()
    };
    let tally = bag.tally_lines(&records, report);
    facts.records = RecordLines::Held(records);
    report.records += tally.records;
    bag.check_blobs(&tally.referenced, report);
    if let Some(package) = bag.package_json(report) {
        if package.package_id != top {
            report.problem(
                "package-id-mismatch",
                "data/package.json",
                format!("package_id is not {top}, the package's folder name"),
            );
        }
        check_counts(&package, &tally, report);
        check_tiling(path, &package, &bag.by_path, report);
        bag.check_original(&package, &tally, report);
        facts.export_sha256 = Some(package.export.sha256);
        facts.export_size = Some(package.export.size);
    }
    facts
}

/// The files of one bag, by their path inside it.
struct Bag<'r> {
    results: &'r [EntryResult],
    by_path: BTreeMap<&'r str, &'r EntryResult>,
}

/// What the three line files held.
#[derive(Default)]
struct LineTally {
    records: u64,
    quarantined: u64,
    known: u64,
    /// Blob digest → the file and line that first references it.
    referenced: BTreeMap<String, (String, u64)>,
    /// The exports the records name.
    export_hashes: BTreeSet<String>,
}

impl<'r> Bag<'r> {
    fn new(results: &'r [EntryResult]) -> Bag<'r> {
        let by_path = results.iter().map(|r| (r.bag_path.as_str(), r)).collect();
        Bag { results, by_path }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.by_path
            .get(name)
            .and_then(|r| r.content.as_ref())
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }

    fn payload(&self) -> impl Iterator<Item = &'r EntryResult> {
        self.results
            .iter()
            .filter(|r| r.bag_path.starts_with("data/"))
    }

    /// The files every package has, and the BagIt declaration.
    fn check_declaration(&self, report: &mut Report) {
        for required in [
            "bagit.txt",
            "bag-info.txt",
            "manifest-sha256.txt",
            "tagmanifest-sha256.txt",
            "data/package.json",
            "data/records.jsonl",
            "data/quarantine.jsonl",
            "data/known.jsonl",
        ] {
            if !self.by_path.contains_key(required) {
                report.problem("bag-file-missing", required, "missing from the package");
            }
        }
        if self
            .text("bagit.txt")
            .is_some_and(|bagit| bagit != BAGIT_TXT)
        {
            report.problem(
                "bagit-declaration",
                "bagit.txt",
                "is not the BagIt 1.0 declaration with UTF-8 tag files",
            );
        }
    }

    /// Payload manifest: every payload file listed, every listed file
    /// there, every digest right.
    fn check_manifest(&self, report: &mut Report) {
        let Some(manifest) = self.text("manifest-sha256.txt") else {
            return;
        };
        let (listed, problems) = parse_manifest(&manifest);
        for p in problems {
            report.problem("manifest-malformed", "manifest-sha256.txt", p);
        }
        for r in self.payload() {
            match (listed.get(&r.bag_path), r.sha256) {
                (None, _) => report.problem("payload-not-listed", &r.bag_path, "payload file not listed in manifest-sha256.txt"),
                (Some(want), Some(got)) if *want != got.to_hex() => report.problem(
"checksum-mismatch",
                    &r.bag_path,
                    format!("checksum mismatch: manifest-sha256.txt says {want}, content hashes to {got}"),
                ),
                _ => {}
            }
        }
        for path in listed.keys() {
            if !self.by_path.contains_key(path.as_str()) {
                report.problem(
                    "listed-file-missing",
                    path,
                    "listed in manifest-sha256.txt but missing from the package",
                );
            }
        }
    }

    /// Tag manifest: every tag file listed with the right digest.
    fn check_tagmanifest(&self, report: &mut Report) {
        let Some(tagmanifest) = self.text("tagmanifest-sha256.txt") else {
            return;
        };
        let (listed, problems) = parse_manifest(&tagmanifest);
        for p in problems {
            report.problem("manifest-malformed", "tagmanifest-sha256.txt", p);
        }
        for (path, want) in &listed {
            match self.by_path.get(path.as_str()).and_then(|r| r.sha256) {
                None => report.problem("listed-file-missing", path, "listed in tagmanifest-sha256.txt but missing from the package"),
                Some(got) if *want != got.to_hex() => report.problem(
"checksum-mismatch",
                    path,
                    format!("checksum mismatch: tagmanifest-sha256.txt says {want}, content hashes to {got}"),
                ),
                Some(_) => {}
            }
        }
        for r in self
            .results
            .iter()
            .filter(|r| !r.bag_path.starts_with("data/") && r.bag_path != "tagmanifest-sha256.txt")
        {
            if !listed.contains_key(&r.bag_path) {
                report.problem(
                    "tag-file-not-listed",
                    &r.bag_path,
                    "tag file not listed in tagmanifest-sha256.txt",
                );
            }
        }
    }

    /// The Payload-Oxum against the payload; returns the payload's own.
    fn check_bag_info(&self, report: &mut Report) -> Option<String> {
        let info = parse_bag_info(&self.text("bag-info.txt")?);
        let octets: u64 = self.payload().map(|r| r.size).sum();
        let actual = format!("{octets}.{}", self.payload().count());
        match info.get("Payload-Oxum").map(Vec::as_slice) {
            Some([oxum]) if *oxum == actual => {}
            Some([oxum]) => report.problem(
                "payload-oxum-mismatch",
                "bag-info.txt",
                format!("Payload-Oxum {oxum} but the payload is {actual} (octets.files)"),
            ),
            _ => report.problem(
                "payload-oxum-missing",
                "bag-info.txt",
                "no single Payload-Oxum",
            ),
        }
        Some(actual)
    }

    /// The problems of each line of records, quarantine and known entries,
    /// and what they add up to.
    fn tally_lines(&self, records: &[RecordLine], report: &mut Report) -> LineTally {
        let mut tally = LineTally::default();
        for name in [
            "data/records.jsonl",
            "data/quarantine.jsonl",
            "data/known.jsonl",
        ] {
            let Some(lines) = self.by_path.get(name).and_then(|r| r.lines.as_ref()) else {
                continue;
            };
            for (number, code, problem) in &lines.problems {
                report.problem(code, format!("{name} line {number}"), problem.clone());
            }
            for (digest, line) in &lines.blobs {
                tally
                    .referenced
                    .entry(digest.clone())
                    .or_insert((name.to_owned(), *line));
            }
            match name {
                "data/records.jsonl" => {
                    tally.records = lines.count;
                    tally
                        .export_hashes
                        .extend(lines.export_hashes.iter().cloned());
                    for i in repeated_ids(records) {
                        report.problem(
                            "record-id-repeated",
                            format!("{name} line {}", i + 1),
                            format!("record id {} appears twice", records[i].id_text()),
                        );
                    }
                }
                "data/known.jsonl" => tally.known = lines.count,
                _ => tally.quarantined = lines.count,
            }
        }
        tally
    }

    /// Blobs: named by their own hash, each referenced, each reference
    /// there.
    fn check_blobs(&self, referenced: &BTreeMap<String, (String, u64)>, report: &mut Report) {
        let mut present = HashSet::new();
        for r in self
            .results
            .iter()
            .filter(|r| r.bag_path.starts_with("data/blobs/"))
        {
            report.blobs += 1;
            let name = r.bag_path.rsplit('/').next().unwrap_or("");
            let expected = format!("data/blobs/sha256/{}/{name}", name.get(..2).unwrap_or(""));
            if r.bag_path != expected || Sha256::from_hex(name).is_err() {
                report.problem(
                    "blob-path",
                    &r.bag_path,
                    "blob path is not data/blobs/sha256/<2 hex>/<64 hex>",
                );
                continue;
            }
            if let Some(got) = r.sha256 {
                if got.to_hex() != name {
                    report.problem(
                        "blob-hash-mismatch",
                        &r.bag_path,
                        format!("blob content hashes to {got}, not to its name"),
                    );
                }
            }
            present.insert(name.to_owned());
            if !referenced.contains_key(name) {
                report.problem(
                    "blob-unreferenced",
                    &r.bag_path,
                    "blob referenced by no record or quarantine entry",
                );
            }
        }
        for (digest, (file, line)) in referenced {
            if !present.contains(digest) {
                report.problem(
                    "blob-missing",
                    format!("{file} line {line}"),
                    format!("references blob {digest}, which is not in the package"),
                );
            }
        }
    }

    /// `data/package.json`, canonical and of the documented shape.
    fn package_json(&self, report: &mut Report) -> Option<PackageManifest> {
        let package_json = self.text("data/package.json")?;
        if !jcs::is_canonical(package_json.trim_end_matches('\n').as_bytes()) {
            report.problem(
                "package-json-not-canonical",
                "data/package.json",
                "not in RFC 8785 canonical form",
            );
        }
        serde_json::from_str(&package_json)
            .map_err(|e| {
                report.problem(
                    "package-json-malformed",
                    "data/package.json",
                    format!("not a package.json of docs/FORMAT.md §6.3: {e}"),
                );
            })
            .ok()
    }

    /// The original export: the records name it, and it hashes to the
    /// SHA-256 the package gives (the tree hash for a folder).
    fn check_original(&self, package: &PackageManifest, tally: &LineTally, report: &mut Report) {
        let export_sha256 = &package.export.sha256;
        for other in tally.export_hashes.iter().filter(|h| *h != export_sha256) {
            report.problem(
                "export-mismatch",
                "data/records.jsonl",
                format!("records name export {other}, not this package's export"),
            );
        }
        let original = package.export.original.as_str();
        let original_hash = match package.export.kind {
            ExportShape::File => self.by_path.get(original).and_then(|r| r.sha256),
            ExportShape::Folder => {
                let prefix = format!("{original}/");
                let mut listing: Vec<(&str, Sha256)> = self
                    .results
                    .iter()
                    .filter_map(|r| Some((r.bag_path.strip_prefix(&prefix)?, r.sha256?)))
                    .collect();
                listing.sort();
                let text: String = listing.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
                Some(Sha256::of(text.as_bytes()))
            }
        };
        match original_hash {
            Some(got) if got.to_hex() == *export_sha256 => {}
            Some(got) => report.problem(
                "original-hash-mismatch",
                original,
                format!("original hashes to {got}, but the export's SHA-256 is {export_sha256}"),
            ),
            None => report.problem(
                "original-missing",
                "data/package.json",
                format!("export original {original} not found in the package"),
            ),
        }
    }
}

/// The counts of `package.json` against the lines, and every unit the
/// export held against the lines it became (docs/FORMAT.md §6.3).
fn check_counts(package: &PackageManifest, tally: &LineTally, report: &mut Report) {
    let counts = &package.counts;
    if counts.records != tally.records {
        report.problem(
            "counts-mismatch",
            "data/package.json",
            format!(
                "counts.records is {} but records.jsonl has {} lines",
                counts.records, tally.records
            ),
        );
    }
    let not_written = counts.known + counts.duplicates;
    if not_written != tally.known {
        report.problem(
            "counts-mismatch",
            "data/package.json",
            format!(
                "counts.known + counts.duplicates is {not_written} but known.jsonl has {} lines",
                tally.known
            ),
        );
    }
    if counts.quarantined != tally.quarantined {
        report.problem(
            "counts-mismatch",
            "data/package.json",
            format!(
                "counts.quarantined is {} but quarantine.jsonl has {} lines",
                counts.quarantined, tally.quarantined
            ),
        );
    }
    if let Some(accounting) = &package.accounting {
        let lines = tally.records + tally.known + tally.quarantined;
        if accounting.read != lines {
            report.problem(
"accounting-mismatch",
                "data/package.json",
                format!(
                    "accounting: {} {} read, but records, known and quarantine lines add up to {lines}",
                    accounting.read, accounting.unit
                ),
            );
        }
    }
}
