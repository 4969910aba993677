//! Checking an evidence bundle (docs/FORMAT.md §12) offline: one record,
//! its log entry and inclusion proof, and a checkpoint signed by the key the
//! auditor trusts. No store is needed.

use spoor_normalize::layout::{EvidenceBundle, LogEntry, EVIDENCE_SCHEMA};
use spoor_normalize::{jcs, Record, Sha256};
use tlog_tiles::tlog::{check_record, record_hash, Hash};

use crate::report::Report;
use crate::trail::{parse_checkpoint, trusted_key};
use crate::Error;

/// Verifies an evidence bundle against `pubkey`, a signed-note verifier key
/// string obtained out of band. Every problem found is in the report.
///
/// # Errors
/// [`Error::Unusable`] when the key is not a verifier key or the bundle is
/// not an evidence bundle: nothing could be checked.
pub fn verify_evidence(bundle: &[u8], pubkey: &str) -> Result<Report, Error> {
    let mut report = Report::default();
    let bundle: EvidenceBundle = serde_json::from_slice(bundle).map_err(|e| Error::Unusable {
        what: "bundle".to_owned(),
        reason: format!("not an evidence bundle of docs/FORMAT.md §12: {e}"),
    })?;
    let (origin, verifiers) = trusted_key(pubkey)?;
    if bundle.schema != EVIDENCE_SCHEMA {
        report.problem(
            "bundle-schema",
            "bundle",
            format!("schema is not {EVIDENCE_SCHEMA}"),
        );
    }
    let Some(head) = parse_checkpoint(
        bundle.checkpoint.as_bytes(),
        "checkpoint",
        &origin,
        &verifiers,
        &mut report,
    ) else {
        return Ok(report);
    };

    // The record: canonical, hashing to what the bundle and the entry say.
    let line = &bundle.record;
    let record_sha256 = Sha256::of(line.as_bytes());
    report.records = 1;
    if !jcs::is_canonical(line.as_bytes()) {
        report.problem(
            "record-not-canonical",
            "record",
            "not in RFC 8785 canonical form",
        );
    }
    if bundle.record_sha256 != record_sha256.to_hex() {
        report.problem(
            "record-hash-mismatch",
            "record",
            format!("hashes to {record_sha256}, not to the bundle's record_sha256"),
        );
    }
    let record: Option<Record> = serde_json::from_str(line).ok();
    let Some(record) = record else {
        report.problem("record-malformed", "record", "not a spoor.record/1 record");
        return Ok(report);
    };

    // Its log entry names it, with this hash, in this package.
    let entry = &bundle.log_entry;
    let expected = LogEntry::Record {
        id: record.id.as_str().to_owned(),
        hash: record_sha256.to_hex(),
        package_id: bundle.package_id.clone(),
    };
    let named = serde_json::from_str::<LogEntry>(entry).ok();
    if named.as_ref() != Some(&expected) || !jcs::is_canonical(entry.as_bytes()) {
        report.problem(
            "log-entry-mismatch",
            "log_entry",
            "does not name this record with this hash and package",
        );
    }

    // The blobs listed are the record's own.
    let referenced: Vec<(Option<String>, Option<u64>)> = record
        .bodies
        .iter()
        .chain(&record.attachments)
        .filter(|b| !b.missing)
        .map(|b| (b.sha256.map(|d| d.to_hex()), b.size))
        .collect();
    let listed: Vec<(Option<String>, Option<u64>)> = bundle
        .blobs
        .iter()
        .map(|b| (b.sha256.clone(), b.size))
        .collect();
    if referenced != listed {
        report.problem(
            "blobs-mismatch",
            "blobs",
            "differ from the blobs the record references",
        );
    }

    // The inclusion proof from the entry's leaf to the signed root.
    let index = bundle.leaf_index;
    if bundle.tree_size != head.size {
        report.problem(
            "tree-size-mismatch",
            "tree_size",
            format!(
                "is {}, but the checkpoint's size is {}",
                bundle.tree_size, head.size
            ),
        );
    }
    let proof: Option<Vec<Hash>> = bundle
        .inclusion_proof
        .iter()
        .map(|h| Hash::parse_hash(h).ok())
        .collect();
    match proof {
        Some(proof) => {
            if let Err(e) = check_record(
                &proof,
                head.size,
                head.root,
                index,
                record_hash(entry.as_bytes()),
            ) {
                report.problem(
                    "inclusion-proof-invalid",
                    "inclusion_proof",
                    format!("does not lead from log entry {index} to the signed root: {e}"),
                );
            }
        }
        None => report.problem(
            "inclusion-proof-invalid",
            "inclusion_proof",
            "malformed (base64 hashes expected)",
        ),
    }
    Ok(report)
}
