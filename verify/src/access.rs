//! Checking the access points into `data/records.jsonl` (docs/FORMAT.md
//! §4.4, [`spoor_normalize::access`]): the list is well formed, each
//! point's line starts at its byte offset, and inflating from its place
//! alone gives that line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use spoor_normalize::access::{parse, AccessPoint, FILE};
use spoor_normalize::Sha256;
use zip::ZipArchive;

use crate::package::{EntryInfo, EntrySpan, RecordLine};
use crate::report::Report;

/// Longest list read: a point per 128 KiB of records makes this plenty.
const MAX_FILE: u64 = 64 << 20;
/// Longest line inflated from one point.
const MAX_LINE: u64 = 256 << 20;

/// What reading `records.jsonl` found that the check needs.
pub(crate) struct Found<'a> {
    /// Where the lines of the points start.
    pub(crate) starts: &'a BTreeMap<u64, u64>,
    pub(crate) records: &'a [RecordLine],
    /// Lines in the file.
    pub(crate) count: u64,
    /// Where its raw data lies in the package.
    pub(crate) span: Option<EntrySpan>,
}

/// The package's access points, when it lists them; a list that is not
/// well formed is reported and not used.
pub(crate) fn read(
    path: &Path,
    top: &str,
    entries: &[EntryInfo],
    report: &mut Report,
) -> Option<Vec<AccessPoint>> {
    entries.iter().find(|e| e.bag_path == FILE)?;
    let mut text = String::new();
    let read = File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| ZipArchive::new(f).map_err(|e| e.to_string()))
        .and_then(|mut archive| {
            let entry = archive
                .by_name(&format!("{top}/{FILE}"))
                .map_err(|e| e.to_string())?;
            entry
                .take(MAX_FILE)
                .read_to_string(&mut text)
                .map_err(|e| e.to_string())
        });
    if let Err(why) = read {
        report.problem(
            "access-points-malformed",
            FILE,
            format!("cannot be read: {why}"),
        );
        return None;
    }
    match parse(&text) {
        Ok(points) => Some(points),
        Err(why) => {
            report.problem("access-points-malformed", FILE, why);
            None
        }
    }
}

/// Checks every point against what reading `records.jsonl` found, and by
/// inflating its line from its place alone.
pub(crate) fn check(path: &Path, points: &[AccessPoint], found: &Found<'_>, report: &mut Report) {
    let Some(span) = found.span else {
        report.problem(
            "access-points-malformed",
            FILE,
            "data/records.jsonl: where its data starts is unknown",
        );
        return;
    };
    let mut problem = |point: &AccessPoint, why: String| {
        report.problem(
            "access-point-wrong",
            FILE,
            format!("the point of line {}: {why}", point.line),
        );
    };
    // The first point, `1 0 0`, is the start of the file, even an empty one.
    for point in points.iter().skip(1) {
        if point.line > found.count {
            problem(point, format!("records.jsonl has {} lines", found.count));
            continue;
        }
        if found.starts.get(&point.line) != Some(&point.offset) {
            problem(
                point,
                format!(
                    "line {} starts at byte {}, not {}",
                    point.line,
                    found.starts.get(&point.line).copied().unwrap_or(0),
                    point.offset
                ),
            );
            continue;
        }
        if span.method != zip::CompressionMethod::Deflated {
            problem(
                point,
                "records.jsonl is stored: only 1 0 0 applies".to_owned(),
            );
            continue;
        }
        let (start, size) = (span.data_start, span.compressed);
        if point.packed >= size {
            problem(
                point,
                format!(
                    "deflate offset {} is past the entry's {size} bytes",
                    point.packed
                ),
            );
            continue;
        }
        match first_line(
            path,
            start.saturating_add(point.packed),
            size - point.packed,
        ) {
            Ok(hash) => {
                let want = found.records.get((point.line - 1) as usize).map(|r| r.hash);
                if want != Some(hash) {
                    problem(
                        point,
                        "inflating from its place does not give that line".to_owned(),
                    );
                }
            }
            Err(e) => problem(point, format!("inflating from its place alone fails: {e}")),
        }
    }
}

/// SHA-256 of the first line (without its LF) inflated from `at`, reading
/// at most `len` bytes of the zip.
fn first_line(path: &Path, at: u64, len: u64) -> io::Result<Sha256> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(at))?;
    let inflate = flate2::read::DeflateDecoder::new(BufReader::new(file.take(len)));
    let mut line = Vec::new();
    BufReader::new(inflate)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(io::Error::other("no whole line"));
    }
    Ok(Sha256::of(&line))
}
