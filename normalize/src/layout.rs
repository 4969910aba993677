//! The JSON documents of a store, each defined once as a type: the intake
//! receipt (docs/FORMAT.md §3), the lines of `quarantine.jsonl` and
//! `known.jsonl` (§6.2, §6.2a), `data/package.json` (§6.3), the log entries
//! with the run and fixity seals (§11.1), and the evidence bundle (§12).
//!
//! spoor writes them with these types and `spoor verify` reads them with
//! the same ones, never writing. Every document is written as canonical
//! JSON ([`crate::jcs`]), so field order here is not the order on disk.
//! Digests are kept as the lowercase hex text they are on disk, so that a
//! reader can report a damaged one instead of failing to parse.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Locator;

/// `schema` of an intake receipt.
pub const INTAKE_SCHEMA: &str = "spoor.intake/1";
/// `schema` of `data/package.json`.
pub const PACKAGE_SCHEMA: &str = "spoor.package/1";
/// `schema` of an evidence bundle.
pub const EVIDENCE_SCHEMA: &str = "spoor.evidence/1";

/// Whether an export was one file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportShape {
    /// One file.
    File,
    /// A folder (its hash is the tree hash of §5.2).
    Folder,
}

/// A file of a folder export that could not be kept in the package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotKept {
    /// Its path inside the export.
    pub path: String,
    /// Why it could not be kept.
    pub reason: String,
}

/// `intake/YYYY/MM/<time>-<sha256 prefix>.json`: what arrived, when, and
/// which package it went into (§3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeReceipt {
    /// [`INTAKE_SCHEMA`].
    pub schema: String,
    /// The export's own name as delivered (lossy UTF-8), if it had one.
    pub name: Option<String>,
    /// The name under which the package keeps the original.
    pub stored_name: String,
    /// File or folder.
    pub kind: ExportShape,
    /// Size in bytes (the sum of its files for a folder).
    pub size: u64,
    /// Number of files.
    pub files: u64,
    /// SHA-256 of the export (tree hash for a folder).
    pub sha256: String,
    /// When it was taken in (RFC 3339, UTC).
    pub received_at: String,
    /// The package it went into.
    pub package_id: String,
    /// Files that could not be kept.
    pub not_kept: Vec<NotKept>,
}

/// The `export` object of `package.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedExport {
    /// The name under which the package keeps the original.
    pub name: String,
    /// File or folder.
    pub kind: ExportShape,
    /// SHA-256 of the export (tree hash for a folder).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Number of files.
    pub files: u64,
    /// Where the original is in the bag: `data/original/<name>`.
    pub original: String,
}

/// The `counts` object of `package.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageCounts {
    /// Lines of `records.jsonl`.
    pub records: u64,
    /// Records the store already held (lines of `known.jsonl` so marked).
    pub known: u64,
    /// Records repeated within the export.
    pub duplicates: u64,
    /// Lines of `quarantine.jsonl`.
    pub quarantined: u64,
    /// Files under `data/blobs/`.
    pub blobs: u64,
}

/// How many units of one kind an export held; each became exactly one
/// item (a record, a known entry or a quarantined item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// What was counted, e.g. `signal message rows`.
    pub unit: String,
    /// How many were read.
    pub read: u64,
}

/// `data/package.json`: what the package holds and how it was made (§6.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackageManifest {
    /// [`PACKAGE_SCHEMA`].
    pub schema: String,
    /// The package id (`p-` and 32 hex digits).
    pub package_id: String,
    /// The package format, e.g. `spoor-package/1`.
    pub package_format: String,
    /// The export.
    pub export: PackagedExport,
    /// The format the reader detected.
    pub source_format: String,
    /// Name and version of the reader.
    pub parser: String,
    /// The settings the package id depends on.
    pub settings: Value,
    /// Decisions that shaped the records, each with its basis.
    pub decisions: Vec<Value>,
    /// Counts of what the package holds.
    pub counts: PackageCounts,
    /// Parts of the export that could not be read (the import is partial).
    pub unreadable: Vec<String>,
    /// Why nothing could be read, when the export could not be read at all.
    pub read_error: Option<String>,
    /// The units the export held, for formats that count them.
    pub accounting: Option<Accounting>,
}

/// One line of `data/known.jsonl`: a record not written, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownEntry {
    /// The record id.
    pub id: String,
    /// Where it was in the export.
    pub locator: Locator,
    /// Why it was not written.
    pub why: String,
}

/// One line of `data/quarantine.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// Where the item was in the export.
    pub locator: Locator,
    /// Why it could not become a record.
    pub reason: String,
    /// Its size in the original.
    pub raw_size: u64,
    /// SHA-256 of the copy under `data/blobs/`, when one was kept.
    pub raw_sha256: Option<String>,
}

/// A checkpoint named by a seal: the log's size and root hash (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRef {
    /// Tree size.
    pub size: u64,
    /// Root hash, lowercase hex.
    pub root: String,
}

/// The counts of a run seal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// Inputs of the run.
    pub inputs: u64,
    /// Inputs archived in full.
    pub archived: u64,
    /// Inputs archived with quarantined items or unreadable parts.
    pub partial: u64,
    /// Inputs already archived.
    pub known: u64,
    /// Inputs that failed.
    pub failed: u64,
    /// Records written.
    pub records: u64,
    /// Items quarantined.
    pub quarantined: u64,
}

/// The seal that ends a run's entries in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSeal {
    /// The run id.
    pub run_id: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// The spoor version.
    pub tool_version: String,
    /// SHA-256 of the canonical settings.
    pub settings_sha256: String,
    /// What the run did.
    pub counts: RunCounts,
    /// The checkpoint before the run, if any.
    pub previous_checkpoint: Option<CheckpointRef>,
}

/// The seal of a recorded fixity check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixitySeal {
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
    /// The spoor version.
    pub tool_version: String,
    /// `intact` or `problems-found`.
    pub result: String,
    /// Problems found.
    pub problems: u64,
    /// Packages checked.
    pub packages: u64,
    /// Records checked.
    pub records: u64,
    /// Bytes read and hashed.
    pub bytes: u64,
    /// The checkpoint before the check, if any.
    pub previous_checkpoint: Option<CheckpointRef>,
}

/// One leaf of the log (§11.1), told apart by its `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LogEntry {
    /// An export was taken in; its receipt is at `receipt`.
    Intake {
        /// The receipt's path, relative to the store.
        receipt: String,
        /// The export's name as delivered.
        name: Option<String>,
        /// Its size.
        size: u64,
        /// Its SHA-256.
        sha256: String,
        /// When it arrived.
        received_at: String,
        /// The package it went into.
        package_id: String,
    },
    /// One line of a package's `records.jsonl`.
    Record {
        /// The record id.
        id: String,
        /// SHA-256 of the line as stored (without its newline).
        hash: String,
        /// The package holding it.
        package_id: String,
    },
    /// A sealed package, after its records.
    Package {
        /// The package id.
        package_id: String,
        /// Its path, relative to the store.
        path: String,
        /// SHA-256 of the zip.
        zip_sha256: String,
        /// SHA-256 of its `tagmanifest-sha256.txt`.
        tagmanifest_sha256: String,
        /// The bag's Payload-Oxum.
        payload_oxum: String,
    },
    /// The end of a run.
    Run(RunSeal),
    /// A recorded fixity check.
    Fixity(FixitySeal),
}

/// What a verifier reads of a run report (`runs/<run>.json`, §8): the log
/// the run left behind. The report has more; those fields are the writer's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReportHead {
    /// The run id.
    pub run_id: String,
    /// When the run finished (RFC 3339, UTC).
    pub finished_at: String,
    /// The log's size after the run.
    pub log_size: u64,
    /// The log's root hash after the run, lowercase hex.
    pub log_root: String,
}

/// One blob named by an evidence bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceBlob {
    /// Its role in the record (`body`, `attachment`, …).
    pub role: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// SHA-256 of its bytes.
    pub sha256: Option<String>,
    /// Its size.
    pub size: Option<u64>,
}

/// What `spoor prove` writes: everything needed to check one record
/// offline against the log's public key (§12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceBundle {
    /// [`EVIDENCE_SCHEMA`].
    pub schema: String,
    /// The record's line of `records.jsonl`, as text.
    pub record: String,
    /// SHA-256 of that line.
    pub record_sha256: String,
    /// The package holding it.
    pub package_id: String,
    /// The blobs the record names.
    pub blobs: Vec<EvidenceBlob>,
    /// The record's log entry, as canonical JSON text.
    pub log_entry: String,
    /// The entry's index in the log.
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The RFC 6962 audit path from the leaf to the root, base64 hashes
    /// (as in the checkpoint).
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint of that size.
    pub checkpoint: String,
}

/// A document as canonical JSON text with a final newline, as every JSON
/// file of a store is written.
pub fn to_canonical_line<T: Serialize>(document: &T) -> serde_json::Result<Vec<u8>> {
    let mut bytes = crate::jcs::to_canonical(&serde_json::to_value(document)?);
    bytes.push(b'\n');
    Ok(bytes)
}

/// A document as canonical JSON, without a newline (a log entry).
pub fn to_canonical<T: Serialize>(document: &T) -> serde_json::Result<Vec<u8>> {
    Ok(crate::jcs::to_canonical(&serde_json::to_value(document)?))
}
