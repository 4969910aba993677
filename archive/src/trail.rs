//! What a run writes to the log, and the roll-forward that makes a crashed
//! run's packages part of the trail.
//!
//! A run appends its entries and publishes them with one checkpoint at its
//! end, and only then records in the catalogue where each record's and
//! package's entry is (the run keeps, per package, where its entries went).
//! So after a crash a package may be sealed while
//! the catalogue knows no log entry for it. The next run looks at exactly
//! those packages: if the last published run logged them (the crash came
//! after publishing), their indexes are filled in; otherwise their entries
//! are appended now, from the package and its receipt.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use spoor_normalize::layout::{self, CheckpointRef, IntakeReceipt, LogEntry};
use spoor_normalize::Sha256;

use crate::catalog::{Catalog, LoggedPackage};
use crate::fsutil::with_path;
use crate::intake::read_receipt;
use crate::log::{Log, TreeHead};
use crate::stage::each_record_line;
use crate::store::{files_under, relative_to};
use crate::Error;

/// The log of a run.
pub(crate) struct Trail {
    pub(crate) log: Log,
    /// Where this run put each package's entries, in order.
    logged: Vec<LoggedPackage>,
}

/// What a `package` entry says.
pub(crate) struct PackageSeal<'a> {
    pub(crate) package_id: &'a str,
    pub(crate) path: &'a str,
    pub(crate) zip_sha256: Sha256,
    pub(crate) tagmanifest_sha256: Sha256,
    pub(crate) payload_oxum: &'a str,
}

/// A checkpoint as a seal names it.
pub(crate) fn checkpoint_ref(head: TreeHead) -> CheckpointRef {
    CheckpointRef {
        size: head.size,
        root: Sha256::from_bytes(head.root).to_hex(),
    }
}

impl Trail {
    pub(crate) fn new(log: Log) -> Trail {
        Trail {
            log,
            logged: Vec::new(),
        }
    }

    /// Appends one entry; returns its index.
    pub(crate) fn append(&mut self, entry: &LogEntry) -> Result<u64, Error> {
        let bytes = layout::to_canonical(entry).map_err(|e| Error::Internal(e.to_string()))?;
        self.log.append(bytes)
    }

    /// The `intake` entry of a receipt.
    pub(crate) fn intake(
        &mut self,
        receipt_path: &str,
        receipt: &IntakeReceipt,
    ) -> Result<(), Error> {
        self.append(&LogEntry::Intake {
            receipt: receipt_path.to_owned(),
            name: receipt.name.clone(),
            size: receipt.size,
            sha256: receipt.sha256.clone(),
            received_at: receipt.received_at.clone(),
            package_id: receipt.package_id.clone(),
        })
        .map(|_| ())
    }

    /// The `record` entries of a package, one per line of its
    /// `records.jsonl` (id and record hash), then its `package` entry; all
    /// of them or, on an error, none (the package is then logged by the
    /// next run's roll-forward).
    pub(crate) fn package(
        &mut self,
        records: impl BufRead,
        seal: &PackageSeal<'_>,
    ) -> Result<(), Error> {
        let first_record = self.log.size();
        match self.append_package(records, seal) {
            Ok(package_entry) => {
                self.logged.push(LoggedPackage {
                    package_id: seal.package_id.to_owned(),
                    first_record,
                    package_entry,
                });
                Ok(())
            }
            Err(e) => match self.log.rewind(first_record) {
                Ok(()) => Err(e),
                Err(rewind) => Err(Error::Internal(format!(
                    "{e}; and its entries so far could not be taken back: {rewind}"
                ))),
            },
        }
    }

    /// Appends what [`Trail::package`] describes; returns the index of the
    /// `package` entry.
    fn append_package(
        &mut self,
        records: impl BufRead,
        seal: &PackageSeal<'_>,
    ) -> Result<u64, Error> {
        let mut failed = None;
        let read = each_record_line(records, |id, hash, _| {
            let entry = LogEntry::Record {
                id: id.to_owned(),
                hash: hash.to_hex(),
                package_id: seal.package_id.to_owned(),
            };
            self.append(&entry).map(|_| ()).map_err(|e| {
                let message = e.to_string();
                failed = Some(e);
                io::Error::other(message)
            })
        });
        if let Err(e) = read {
            return Err(failed.unwrap_or_else(|| Error::Package {
                path: seal.path.into(),
                reason: format!("data/records.jsonl: {e}"),
            }));
        }
        if spoor_ingest::internal::fail_point("package-entry") {
            return Err(Error::Internal(
                "log: the package entry failed ($SPOOR_FAIL_AT)".to_owned(),
            ));
        }
        self.append(&LogEntry::Package {
            package_id: seal.package_id.to_owned(),
            path: seal.path.to_owned(),
            zip_sha256: seal.zip_sha256.to_hex(),
            tagmanifest_sha256: seal.tagmanifest_sha256.to_hex(),
            payload_oxum: seal.payload_oxum.to_owned(),
        })
    }

    /// Records in the catalogue where this run's entries are, once they are
    /// published.
    pub(crate) fn note_in(self, catalog: &mut Catalog) -> Result<(), Error> {
        catalog.set_log_indexes(&self.logged)
    }
}

/// Sets in the catalogue where the entries of the published log from
/// `from` on are: per package, its `package` entry and its first record
/// entry (a package's record entries come right before its package entry,
/// in line order). Returns the packages met. Reads the log back a bundle at
/// a time, so nothing per record is held.
pub(crate) fn note_entries(
    log: &Log,
    from: u64,
    catalog: &mut Catalog,
) -> Result<Vec<LoggedPackage>, Error> {
    /// The two fields looked at; the rest of an entry is skipped unparsed.
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        package_id: Option<std::borrow::Cow<'a, str>>,
    }
    let mut packages = Vec::new();
    // The index after the last entry that was not a record.
    let mut records_from = from;
    log.for_each_entry(from, |index, bytes| {
        let Ok(entry) = serde_json::from_slice::<Entry<'_>>(bytes) else {
            records_from = index + 1;
            return Ok(());
        };
        match (entry.kind.as_ref(), entry.package_id) {
            ("record", _) => {}
            ("package", Some(id)) => {
                packages.push(LoggedPackage {
                    package_id: id.into_owned(),
                    first_record: records_from,
                    package_entry: index,
                });
                records_from = index + 1;
            }
            _ => records_from = index + 1,
        }
        Ok(())
    })?;
    catalog.set_log_indexes(&packages)?;
    Ok(packages)
}

/// Makes every sealed package the catalogue knows without a log entry part
/// of the trail (see the module documentation).
pub(crate) fn roll_forward(
    root: &Path,
    catalog: &mut Catalog,
    trail: &mut Trail,
) -> Result<usize, Error> {
    // A run killed after a package was renamed into place, but before the
    // catalogue committed it, leaves a package only the disk knows.
    for zip in files_under(&root.join("packages"), "zip")? {
        let relative = relative_to(root, &zip);
        let Some(package_id) = zip.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if catalog.package_path(package_id)?.is_none() {
            tracing::warn!(package = %relative, "a package of an interrupted run, not yet catalogued");
            catalog.index_package(&zip, &relative)?;
        }
    }
    let unlogged = catalog.unlogged_packages()?;
    if unlogged.is_empty() {
        return Ok(0);
    }
    // The log may hold packages the catalogue was never told of: a run
    // killed after publishing, behind the seals of fixity checks recorded
    // since, or a package whose catalogue failed among others noted after
    // it. Their indexes are filled in, not logged again. Only after a
    // failure, so the whole log is read (0.2 s for a log of a million entries).
    let published: HashSet<String> = note_entries(&trail.log, 0, catalog)?
        .into_iter()
        .map(|p| p.package_id)
        .collect();
    let unlogged: Vec<(String, String)> = unlogged
        .into_iter()
        .filter(|(id, _)| !published.contains(id))
        .collect();
    // Killed between writing a receipt and cataloguing it: the receipts
    // such packages lack are found on disk, in one pass over `intake/`.
    let mut lacking = HashSet::new();
    for (package_id, _) in &unlogged {
        if catalog.receipt_of(package_id)?.is_none() {
            lacking.insert(package_id.as_str());
        }
    }
    if !lacking.is_empty() {
        for receipt in files_under(&root.join("intake"), "json")? {
            let value = read_receipt(&receipt)?;
            if lacking.contains(value.package_id.as_str()) {
                catalog.index_receipt(&relative_to(root, &receipt), &value)?;
            }
        }
    }
    let mut appended = 0;
    for (package_id, relative) in &unlogged {
        let zip_path = root.join(relative);
        if let Some(receipt_path) = catalog.receipt_of(package_id)? {
            let receipt = read_receipt(&root.join(&receipt_path))?;
            trail.intake(&receipt_path, &receipt)?;
        }
        log_package(trail, &zip_path, package_id, relative)?;
        appended += 1;
    }
    Ok(appended)
}

/// Appends the entries of a sealed package, read back from its zip.
fn log_package(
    trail: &mut Trail,
    zip_path: &Path,
    package_id: &str,
    relative: &str,
) -> Result<(), Error> {
    let bad = |reason: String| Error::Package {
        path: zip_path.to_owned(),
        reason,
    };
    let zip_sha256 = File::open(zip_path)
        .and_then(spoor_normalize::hash_reader)
        .map_err(with_path(zip_path))?
        .0;
    let mut archive = zip::ZipArchive::new(File::open(zip_path).map_err(with_path(zip_path))?)
        .map_err(|e| bad(e.to_string()))?;
    let mut read = |name: &str| -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        archive
            .by_name(&format!("{package_id}/{name}"))
            .map_err(|e| bad(format!("{name}: {e}")))?
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        Ok(bytes)
    };
    let tagmanifest_sha256 = Sha256::of(&read("tagmanifest-sha256.txt")?);
    let bag_info = String::from_utf8_lossy(&read("bag-info.txt")?).into_owned();
    let payload_oxum = bag_info
        .lines()
        .find_map(|l| l.strip_prefix("Payload-Oxum:"))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| bad("bag-info.txt has no Payload-Oxum".to_owned()))?;
    let records = archive
        .by_name(&format!("{package_id}/data/records.jsonl"))
        .map_err(|e| bad(format!("data/records.jsonl: {e}")))?;
    let seal = PackageSeal {
        package_id,
        path: relative,
        zip_sha256,
        tagmanifest_sha256,
        payload_oxum: &payload_oxum,
    };
    trail.package(BufReader::new(records), &seal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(package_id: &str) -> PackageSeal<'_> {
        PackageSeal {
            package_id,
            path: "packages/2026/12/p.zip",
            zip_sha256: Sha256::of(b"zip"),
            tagmanifest_sha256: Sha256::of(b"tagmanifest"),
            payload_oxum: "10.2",
        }
    }

    /// A package whose `records.jsonl` breaks part way leaves no entry in
    /// the log (before, its first records stayed and were published, and
    /// the roll-forward logged them again: `log-record-twice`).
    #[test]
    fn a_package_whose_entries_fail_leaves_none() {
        let dir = tempfile::tempdir().expect("dir");
        let mut trail = Trail::new(Log::open(dir.path(), "example.org/log").expect("log"));
        let good = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
        trail.package(&good[..], &seal("p-1")).expect("logged");
        assert_eq!(trail.log.size(), 3);

        let broken = b"{\"id\":\"c\"}\n{\"id\":\"d\"}\nnot a record\n";
        let error = trail
            .package(&broken[..], &seal("p-2"))
            .expect_err("line 3 is not JSON");
        assert!(error.to_string().contains("records.jsonl"), "{error}");
        assert_eq!(trail.log.size(), 3, "the entries of c and d are taken back");
        assert_eq!(trail.logged.len(), 1);

        trail.package(&good[..], &seal("p-3")).expect("logged");
        assert_eq!(trail.log.size(), 6);
        assert_eq!(trail.logged[1].first_record, 3);
        assert_eq!(trail.logged[1].package_entry, 5);
    }
}
