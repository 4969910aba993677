//! Evidence bundles: everything an auditor needs to check one record
//! offline against the log's public key (docs/FORMAT.md §12).

use std::fs::{self, File};
use std::io::{BufRead, BufReader};

use serde_json::{json, Value};
use spoor_normalize::{jcs, Record, Sha256};

use crate::fsutil::with_path;
use crate::log::Log;
use crate::store::Store;
use crate::Error;

impl Store {
    /// Builds the evidence bundle for one record: its line, its blobs'
    /// hashes, its log entry, leaf index, inclusion proof and the latest
    /// signed checkpoint, as canonical JSON.
    ///
    /// # Errors
    /// [`Error::Usage`] for an unknown record, and the errors of reading the
    /// package or the log.
    pub fn prove(&self, record_id: &str) -> Result<Vec<u8>, Error> {
        let catalog = self.catalog()?;
        let (package_id, package_path, line_number, log_index) =
            catalog.locate_record(record_id)?.ok_or_else(|| {
                Error::Usage(format!(
                    "record {record_id} is not in the catalogue (try spoor reindex)"
                ))
            })?;
        let zip_path = self.root.join(&package_path);
        let bad = |reason: String| Error::Package {
            path: zip_path.clone(),
            reason,
        };
        let mut archive =
            zip::ZipArchive::new(File::open(&zip_path).map_err(with_path(&zip_path))?)
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

        let log = Log::open(&self.root.join("log"), &self.config.origin)?;
        let index = log_index.ok_or_else(|| {
            Error::Usage(format!(
                "record {record_id} has no log entry in the catalogue (try spoor reindex)"
            ))
        })?;
        let wanted = json!({ "type": "record", "id": record_id, "hash": record_sha256, "package_id": package_id });
        let wanted = jcs::to_canonical(&wanted);
        if log.entry(index)? != wanted {
            return Err(Error::Usage(format!(
                "log entry {index} is not the entry of record {record_id}; run spoor reindex, then spoor verify"
            )));
        }
        let checkpoint_path = self.root.join("log/checkpoint");
        let checkpoint =
            fs::read_to_string(&checkpoint_path).map_err(with_path(&checkpoint_path))?;
        let blobs: Vec<Value> = record
            .bodies
            .iter()
            .chain(&record.attachments)
            .filter(|b| !b.missing)
            .map(|b| json!({ "role": b.role, "name": b.name, "sha256": b.sha256, "size": b.size }))
            .collect();
        let bundle = json!({
            "schema": "spoor.evidence/1",
            "record": String::from_utf8_lossy(&line),
            "record_sha256": record_sha256,
            "package_id": package_id,
            "blobs": blobs,
            "log_entry": String::from_utf8_lossy(&wanted),
            "leaf_index": index,
            "tree_size": log.size(),
            "inclusion_proof": log.prove(index)?,
            "checkpoint": checkpoint,
        });
        let mut bytes = jcs::to_canonical(&bundle);
        bytes.push(b'\n');
        Ok(bytes)
    }
}
