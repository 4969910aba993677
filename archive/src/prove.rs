//! Evidence bundles: everything an auditor needs to check one record
//! offline against the log's public key (docs/FORMAT.md §12).

use std::fs::{self, File};
use std::io::{BufRead, BufReader};

use spoor_normalize::layout::{self, EvidenceBlob, EvidenceBundle, LogEntry, EVIDENCE_SCHEMA};
use spoor_normalize::{Record, Sha256};

use crate::fsutil::with_path;
use crate::log::Log;
use crate::store::Store;
use crate::Error;

/// The evidence bundle of one record (see [`Store::prove`]).
pub(crate) fn evidence(store: &Store, record_id: &str) -> Result<Vec<u8>, Error> {
    let catalog = store.catalog()?;
    let (package_id, package_path, line_number, log_index) =
        catalog.locate_record(record_id)?.ok_or_else(|| {
            Error::Usage(format!(
                "record {record_id} is not in the catalogue (try spoor reindex)"
            ))
        })?;
    let zip_path = store.root.join(&package_path);
    let bad = |reason: String| Error::Package {
        path: zip_path.clone(),
        reason,
    };
    let mut archive = zip::ZipArchive::new(File::open(&zip_path).map_err(with_path(&zip_path))?)
        .map_err(|e| bad(e.to_string()))?;
    let records = archive
        .by_name(&format!("{package_id}/data/records.jsonl"))
        .map_err(|e| bad(format!("data/records.jsonl: {e}")))?;
    let line = BufReader::new(records)
        .split(b'\n')
        .nth(line_number.saturating_sub(1) as usize)
        .transpose()
        .map_err(|e| bad(format!("data/records.jsonl: {e}")))?
        .ok_or_else(|| bad(format!("data/records.jsonl has no line {line_number}")))?;
    let record: Record = serde_json::from_slice(&line)
        .map_err(|e| bad(format!("data/records.jsonl line {line_number}: {e}")))?;
    if record.id.as_str() != record_id {
        return Err(bad(format!(
            "line {line_number} holds {}, not {record_id}; run spoor reindex",
            record.id
        )));
    }
    let record_sha256 = Sha256::of(&line);

    let log = Log::open(&store.root.join("log"), &store.config.origin)?;
    let index = log_index.ok_or_else(|| {
        Error::Usage(format!(
            "record {record_id} has no log entry in the catalogue (try spoor reindex)"
        ))
    })?;
    let wanted = LogEntry::Record {
        id: record_id.to_owned(),
        hash: record_sha256.to_hex(),
        package_id: package_id.clone(),
    };
    let wanted = layout::to_canonical(&wanted).map_err(|e| Error::Internal(e.to_string()))?;
    if log.entry(index)? != wanted {
        return Err(Error::Usage(format!(
            "log entry {index} is not the entry of record {record_id}; run spoor reindex, then spoor verify"
        )));
    }
    let checkpoint_path = store.root.join("log/checkpoint");
    let checkpoint = fs::read_to_string(&checkpoint_path).map_err(with_path(&checkpoint_path))?;
    let blobs = record
        .bodies
        .iter()
        .chain(&record.attachments)
        .filter(|b| !b.missing)
        .map(|b| EvidenceBlob {
            role: b.role.clone(),
            name: b.name.clone(),
            sha256: b.sha256.map(|h| h.to_hex()),
            size: b.size,
        })
        .collect();
    let bundle = EvidenceBundle {
        schema: EVIDENCE_SCHEMA.to_owned(),
        record: String::from_utf8_lossy(&line).into_owned(),
        record_sha256: record_sha256.to_hex(),
        package_id,
        blobs,
        log_entry: String::from_utf8_lossy(&wanted).into_owned(),
        leaf_index: index,
        tree_size: log.size(),
        inclusion_proof: log.prove(index)?,
        checkpoint,
    };
    layout::to_canonical_line(&bundle).map_err(|e| Error::Internal(e.to_string()))
}
