//! Checking an evidence bundle (docs/FORMAT.md §12) offline: one record,
//! its log entry and inclusion proof, and a checkpoint signed by the key the
//! auditor trusts. No store is needed.

use serde_json::Value;
use spoor_normalize::{jcs, Record, Sha256};
use tlog_tiles::tlog::{check_record, record_hash, Hash};

use crate::report::Report;
use crate::trail::{parse_checkpoint, trusted_key};

/// Verifies an evidence bundle against `pubkey`, a signed-note verifier key
/// string obtained out of band. Every problem found is in the report.
pub fn verify_evidence(bundle: &[u8], pubkey: &str) -> Report {
    let mut report = Report::default();
    let value: Value = match serde_json::from_slice(bundle) {
        Ok(v) => v,
        Err(e) => {
            report.problem("bundle", format!("not JSON: {e}"));
            return report;
        }
    };
    let text = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    if text("schema") != "spoor.evidence/1" {
        report.problem("bundle", "schema is not spoor.evidence/1");
    }
    let Some((origin, verifiers)) = trusted_key(pubkey, &mut report) else {
        return report;
    };
    let Some(head) = parse_checkpoint(
        text("checkpoint").as_bytes(),
        "checkpoint",
        &origin,
        &verifiers,
        &mut report,
    ) else {
        return report;
    };

    // The record: canonical, hashing to what the bundle and the entry say.
    let line = text("record");
    let record_sha256 = Sha256::of(line.as_bytes());
    report.records = 1;
    if !jcs::is_canonical(line.as_bytes()) {
        report.problem("record", "not in RFC 8785 canonical form");
    }
    if text("record_sha256") != record_sha256.to_hex() {
        report.problem(
            "record",
            format!("hashes to {record_sha256}, not to the bundle's record_sha256"),
        );
    }
    let record: Option<Record> = serde_json::from_str(&line).ok();
    let Some(record) = record else {
        report.problem("record", "not a spoor.record/1 record");
        return report;
    };

    // Its log entry names it, with this hash, in this package.
    let entry = text("log_entry");
    let entry_value: Value = serde_json::from_str(&entry).unwrap_or(Value::Null);
    let expected = serde_json::json!({
        "type": "record",
        "id": record.id,
        "hash": record_sha256,
        "package_id": text("package_id"),
    });
    if entry_value != expected || !jcs::is_canonical(entry.as_bytes()) {
        report.problem(
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
    let listed: Vec<(Option<String>, Option<u64>)> = value
        .get("blobs")
        .and_then(Value::as_array)
        .map(|blobs| {
            blobs
                .iter()
                .map(|b| {
                    (
                        b.get("sha256").and_then(Value::as_str).map(str::to_owned),
                        b.get("size").and_then(Value::as_u64),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if referenced != listed {
        report.problem("blobs", "differ from the blobs the record references");
    }

    // The inclusion proof from the entry's leaf to the signed root.
    let index = value.get("leaf_index").and_then(Value::as_u64);
    let size = value.get("tree_size").and_then(Value::as_u64);
    if size != Some(head.size) {
        report.problem(
            "tree_size",
            format!("is {size:?}, but the checkpoint's size is {}", head.size),
        );
    }
    let proof: Option<Vec<Hash>> = value
        .get("inclusion_proof")
        .and_then(Value::as_array)
        .and_then(|hashes| {
            hashes
                .iter()
                .map(|h| h.as_str().and_then(|s| Hash::parse_hash(s).ok()))
                .collect()
        });
    match (proof, index) {
        (Some(proof), Some(index)) => {
            if let Err(e) = check_record(
                &proof,
                head.size,
                head.root,
                index,
                record_hash(entry.as_bytes()),
            ) {
                report.problem(
                    "inclusion_proof",
                    format!("does not lead from log entry {index} to the signed root: {e}"),
                );
            }
        }
        _ => report.problem(
            "inclusion_proof",
            "missing or malformed (base64 hashes and a leaf_index expected)",
        ),
    }
    report
}
