//! What the format benches share: the child that reads one export
//! (`--ingest FILE [--canonical]`) so its peak RSS is the reader's alone,
//! and the report.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use spoor_ingest::{read_export, Blob, Limits, Quarantined, ReadOptions, Sink};
use spoor_normalize::{Record, Sha256, Zone};

use crate::sampled;

/// If this process was started as the child, reads the export and returns
/// true.
pub(crate) fn run_as_child() -> bool {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--ingest") {
        Some(at) => {
            ingest(
                Path::new(&args[at + 1]),
                args.iter().any(|a| a == "--canonical"),
            );
            true
        }
        None => false,
    }
}

pub(crate) fn header() {
    println!(
        "{:>8} {:>22} {:>10} {:>10} {:>12} {:>8}",
        "input", "what", "seconds", "MB/s", "records/s", "RSS MB"
    );
}

/// Reads `input` in a child process and reports the row `what`.
pub(crate) fn measure_reader(mb: u64, what: &str, input: &Path, bytes: u64, canonical: bool) {
    warm(input);
    let mut child = Command::new(std::env::current_exe().expect("own path"));
    child.arg("--ingest").arg(input);
    if canonical {
        child.arg("--canonical");
    }
    let (_, rss, said) = sampled::run_sampled(&mut child);
    let (records, seconds) = records_and_seconds(&said);
    report(mb, what, seconds, bytes, records, rss);
}

/// A child's `records seconds` line.
pub(crate) fn records_and_seconds(said: &str) -> (f64, f64) {
    let mut fields = said.split_whitespace();
    let records = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let seconds = fields
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    (records, seconds)
}

pub(crate) fn report(mb: u64, what: &str, seconds: f64, bytes: u64, records: f64, rss_kib: u64) {
    println!(
        "{:>6}MB {:>22} {:>10.3} {:>10.0} {:>12.0} {:>8.0}",
        mb,
        what,
        seconds,
        bytes as f64 / 1e6 / seconds,
        records / seconds,
        rss_kib as f64 / 1024.0
    );
}

/// Reads a file once so every contender starts from the page cache.
pub(crate) fn warm(path: &Path) {
    let _ = std::io::copy(
        &mut fs::File::open(path).expect("input"),
        &mut std::io::sink(),
    );
}

/// Counts records and, if asked, turns each into its canonical line.
struct Normalise {
    canonical: bool,
    records: u64,
    digest: Sha256,
}

impl Sink for Normalise {
    fn record(&mut self, record: Record, _blobs: Vec<Blob>) -> std::io::Result<()> {
        if self.canonical {
            let line = record.to_canonical_line().map_err(std::io::Error::other)?;
            // Keeps the work observable so it cannot be optimised away.
            if self.records.is_multiple_of(4096) {
                self.digest = Sha256::of(&line);
            }
        }
        self.records += 1;
        Ok(())
    }
    fn quarantine(&mut self, _item: Quarantined) -> std::io::Result<()> {
        Ok(())
    }
    fn blob(&mut self, bytes: &mut dyn std::io::Read) -> std::io::Result<(Sha256, u64)> {
        // Hashed as the store would, not kept.
        spoor_normalize::hash_reader(bytes)
    }
}

/// The child: reads one export and prints `records seconds`.
fn ingest(input: &Path, canonical: bool) {
    let options = ReadOptions {
        export_sha256: Sha256::of(b"bench"),
        limits: Limits::default(),
        zone: Zone::get("Europe/Amsterdam").expect("zone"),
        date_order_hint: None,
        // The Signal bench passes its fixture's passphrase this way.
        signal_passphrase: std::env::var("SPOOR_SIGNAL_PASSPHRASE")
            .ok()
            .and_then(|p| spoor_ingest::Passphrase::parse(&p).ok()),
        signal_recovery_key: None,
        work_dir: std::env::temp_dir(),
    };
    let mut sink = Normalise {
        canonical,
        records: 0,
        digest: Sha256::of(b""),
    };
    let start = Instant::now();
    read_export(input, &options, &mut sink).expect("reads");
    let seconds = start.elapsed().as_secs_f64();
    println!("{} {seconds} {}", sink.records, sink.digest.to_hex());
}
