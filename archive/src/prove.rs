//! Evidence bundles: everything an auditor needs to check one record
//! offline against the log's public key (docs/FORMAT.md §12).

use std::fs;

use spoor_normalize::layout::{self, EvidenceBlob, EvidenceBundle, LogEntry, EVIDENCE_SCHEMA};
use spoor_normalize::Sha256;

use crate::fsutil::with_path;
use crate::log::Log;
use crate::reading::{ArchivedRecord, Selection};
use crate::store::Store;
use crate::Error;

/// Evidence bundles against one opened log and its latest checkpoint:
/// what `spoor prove` makes for one record, and the reading room for
/// every record it shows.
pub struct Evidence {
    log: Log,
    /// The latest checkpoint; none before the first run published one.
    checkpoint: Option<String>,
}

impl Store {
    /// Opens the log to make evidence bundles (see [`Evidence::bundle`]).
    ///
    /// # Errors
    /// A log or checkpoint that cannot be read.
    pub fn evidence(&self) -> Result<Evidence, Error> {
        let log = Log::open(&self.root.join("log"), &self.config.origin)?;
        let checkpoint_path = self.root.join("log/checkpoint");
        let checkpoint = match fs::read_to_string(&checkpoint_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(with_path(&checkpoint_path)(e)),
        };
        Ok(Evidence { log, checkpoint })
    }
}

/// The evidence bundle of one record (see [`Store::prove`]).
pub(crate) fn evidence(store: &Store, record_id: &str) -> Result<Vec<u8>, Error> {
    let by_id = Selection {
        records: vec![record_id.to_owned()],
        ..Selection::default()
    };
    let archived = store.records(&by_id)?.into_iter().next().ok_or_else(|| {
        Error::Usage(format!(
            "record {record_id} is not in the catalogue (try spoor reindex)"
        ))
    })?;
    store.evidence()?.bundle(&archived)?.ok_or_else(|| {
        Error::Usage(format!(
            "record {record_id} has no log entry in the catalogue (try spoor reindex)"
        ))
    })
}

impl Evidence {
    /// The evidence bundle of `archived` (docs/FORMAT.md §12); `None` when
    /// the catalogue knows no log entry for it (a run not yet published).
    ///
    /// # Errors
    /// A log that cannot be read, or whose entry is not this record's.
    pub fn bundle(&self, archived: &ArchivedRecord) -> Result<Option<Vec<u8>>, Error> {
        let (Some(index), Some(checkpoint)) = (archived.log_index, &self.checkpoint) else {
            return Ok(None);
        };
        let record = &archived.record;
        let record_id = record.id.as_str();
        let record_sha256 = Sha256::of(&archived.line);
        let wanted = LogEntry::Record {
            id: record_id.to_owned(),
            hash: record_sha256.to_hex(),
            package_id: archived.package_id.clone(),
        };
        let wanted = layout::to_canonical(&wanted).map_err(|e| Error::Internal(e.to_string()))?;
        if self.log.entry(index)? != wanted {
            return Err(Error::Usage(format!(
                "log entry {index} is not the entry of record {record_id}; run spoor reindex, then spoor verify"
            )));
        }
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
            record: String::from_utf8_lossy(&archived.line).into_owned(),
            record_sha256: record_sha256.to_hex(),
            package_id: archived.package_id.clone(),
            blobs,
            log_entry: String::from_utf8_lossy(&wanted).into_owned(),
            leaf_index: index,
            tree_size: self.log.size(),
            inclusion_proof: self.log.prove(index)?,
            checkpoint: checkpoint.clone(),
        };
        layout::to_canonical_line(&bundle)
            .map(Some)
            .map_err(|e| Error::Internal(e.to_string()))
    }
}
