//! Helpers shared by the ingest tests.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use spoor_ingest::{read_export, Blob, Limits, Quarantined, ReadOptions, ReadSummary, Sink};
use spoor_normalize::{Record, Sha256, Zone};

/// Everything a reader produced, in order.
#[derive(Default)]
pub struct Collected {
    pub records: Vec<Record>,
    pub blobs: Vec<Blob>,
    pub quarantined: Vec<Quarantined>,
}

impl Sink for Collected {
    fn record(&mut self, record: Record, blobs: Vec<Blob>) -> std::io::Result<()> {
        self.records.push(record);
        self.blobs.extend(blobs);
        Ok(())
    }
    fn quarantine(&mut self, item: Quarantined) -> std::io::Result<()> {
        self.quarantined.push(item);
        Ok(())
    }
    fn blob(&mut self, bytes: &mut dyn std::io::Read) -> std::io::Result<(Sha256, u64)> {
        let mut kept = Vec::new();
        bytes.read_to_end(&mut kept)?;
        let stored = (Sha256::of(&kept), kept.len() as u64);
        self.blobs.push(Blob {
            sha256: stored.0,
            bytes: kept,
        });
        Ok(stored)
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/email")
}

/// The digest the tests pass as the export's hash.
pub fn export_digest() -> Sha256 {
    Sha256::of(b"spoor test export")
}

/// Options as a store in Amsterdam without a date-order hint reads with.
pub fn options(limits: Limits) -> ReadOptions {
    ReadOptions {
        export_sha256: export_digest(),
        limits,
        zone: Zone::get("Europe/Amsterdam").expect("the tz database has Amsterdam"),
        date_order_hint: None,
        signal_passphrase: None,
        signal_recovery_key: None,
        work_dir: std::env::temp_dir(),
    }
}

pub fn read_options(path: &Path, options: &ReadOptions) -> (ReadSummary, Collected) {
    let mut sink = Collected::default();
    let summary = read_export(path, options, &mut sink)
        .unwrap_or_else(|e| panic!("reading {} failed: {e}", path.display()));
    (summary, sink)
}

pub fn read_with(path: &Path, limits: Limits) -> (ReadSummary, Collected) {
    read_options(path, &options(limits))
}

pub fn read(path: &Path) -> (ReadSummary, Collected) {
    read_with(path, Limits::default())
}

/// Adds every file under `dir` to the zip, below `prefix`, in sorted order.
pub fn zip_tree(writer: &mut zip::ZipWriter<std::fs::File>, dir: &Path, prefix: &str) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        // The golden corpus's own files are not part of the export.
        if name.ends_with(".expected.jsonl") || name.ends_with(".failed") {
            continue;
        }
        let entry = format!("{prefix}{name}");
        if file.is_dir() {
            zip_tree(writer, &file, &format!("{entry}/"));
        } else {
            writer
                .start_file(entry, zip::write::SimpleFileOptions::default())
                .expect("start entry");
            std::io::Write::write_all(writer, &std::fs::read(&file).expect("read")).expect("write");
        }
    }
}
