//! What a run writes to the log, and the roll-forward that makes a crashed
//! run's packages part of the trail.
//!
//! A run appends its entries and publishes them with one checkpoint at its
//! end, and only then records in the catalogue where each record's and
//! package's entry is. So after a crash a package may be sealed while the
//! catalogue knows no log entry for it. The next run looks at exactly those
//! packages: if the last published run logged them (the crash came after
//! publishing), their indexes are filled in; otherwise their entries are
//! appended now, from the package and its receipt.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::{json, Value};
use spoor_normalize::{jcs, Record, Sha256};

use crate::catalog::Catalog;
use crate::fsutil::with_path;
use crate::log::Log;
use crate::Error;

/// The log of a run, and where its entries went, for the catalogue.
pub(crate) struct Trail {
    pub(crate) log: Log,
    /// (record id, entry index) appended this run.
    records: Vec<(String, u64)>,
    /// (package id, entry index) appended this run.
    packages: Vec<(String, u64)>,
}

/// What a `package` entry says.
pub(crate) struct PackageSeal<'a> {
    pub(crate) package_id: &'a str,
    pub(crate) path: &'a str,
    pub(crate) zip_sha256: Sha256,
    pub(crate) tagmanifest_sha256: Sha256,
    pub(crate) payload_oxum: &'a str,
}

impl Trail {
    pub(crate) fn new(log: Log) -> Trail {
        Trail {
            log,
            records: Vec::new(),
            packages: Vec::new(),
        }
    }

    fn append(&mut self, entry: &Value) -> Result<u64, Error> {
        self.log.append(jcs::to_canonical(entry))
    }

    /// The `intake` entry of a receipt.
    pub(crate) fn intake(&mut self, receipt_path: &str, receipt: &Value) -> Result<(), Error> {
        self.append(&json!({
            "type": "intake",
            "receipt": receipt_path,
            "name": receipt["name"],
            "size": receipt["size"],
            "sha256": receipt["sha256"],
            "received_at": receipt["received_at"],
            "package_id": receipt["package_id"],
        }))
        .map(|_| ())
    }

    /// The `record` entries of a package, then its `package` entry.
    pub(crate) fn package(
        &mut self,
        records: &[(String, Sha256)],
        seal: &PackageSeal<'_>,
    ) -> Result<(), Error> {
        for (id, hash) in records {
            let index = self.append(&json!({
                "type": "record",
                "id": id,
                "hash": hash,
                "package_id": seal.package_id,
            }))?;
            self.records.push((id.clone(), index));
        }
        let index = self.append(&json!({
            "type": "package",
            "package_id": seal.package_id,
            "path": seal.path,
            "zip_sha256": seal.zip_sha256,
            "tagmanifest_sha256": seal.tagmanifest_sha256,
            "payload_oxum": seal.payload_oxum,
        }))?;
        self.packages.push((seal.package_id.to_owned(), index));
        Ok(())
    }

    /// After publishing: the catalogue learns where the entries are.
    pub(crate) fn note_in(self, catalog: &mut Catalog) -> Result<(), Error> {
        catalog.set_log_indexes(&self.records)?;
        catalog.set_package_log_indexes(&self.packages)
    }
}

/// Makes every sealed package the catalogue knows without a log entry part
/// of the trail (see the module documentation).
pub(crate) fn roll_forward(
    root: &Path,
    catalog: &mut Catalog,
    trail: &mut Trail,
) -> Result<usize, Error> {
    let unlogged = catalog.unlogged_packages()?;
    if unlogged.is_empty() {
        return Ok(0);
    }
    // The entries of the last published run.
    let (mut records, mut packages) = (Vec::new(), Vec::new());
    let size = trail.log.size();
    if size > 0 {
        let seal: Value =
            serde_json::from_slice(&trail.log.entry(size - 1)?).unwrap_or(Value::Null);
        let start = seal
            .pointer("/previous_checkpoint/size")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        trail.log.for_each_entry(start, |index, bytes| {
            let entry: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
            let id = entry
                .get("id")
                .or_else(|| entry.get("package_id"))
                .and_then(Value::as_str)
                .unwrap_or("");
            match entry.get("type").and_then(Value::as_str) {
                Some("record") => records.push((id.to_owned(), index)),
                Some("package") => packages.push((id.to_owned(), index)),
                _ => {}
            }
            Ok(())
        })?;
    }
    let published: HashMap<&str, u64> = packages.iter().map(|(id, i)| (id.as_str(), *i)).collect();
    let mut appended = 0;
    for (package_id, relative) in unlogged {
        if published.contains_key(package_id.as_str()) {
            continue;
        }
        let zip_path = root.join(&relative);
        if let Some(receipt_path) = catalog.receipt_of(&package_id)? {
            let path = root.join(&receipt_path);
            let receipt: Value = File::open(&path).map_err(with_path(&path)).and_then(|f| {
                serde_json::from_reader(f).map_err(|e| Error::Package {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            })?;
            trail.intake(&receipt_path, &receipt)?;
        }
        let contents = read_package(&zip_path, &package_id)?;
        let seal = PackageSeal {
            package_id: &package_id,
            path: &relative,
            zip_sha256: contents.zip_sha256,
            tagmanifest_sha256: contents.tagmanifest_sha256,
            payload_oxum: &contents.payload_oxum,
        };
        trail.package(&contents.records, &seal)?;
        appended += 1;
    }
    // Entries the last run published but the catalogue never heard of.
    catalog.set_log_indexes(&records)?;
    catalog.set_package_log_indexes(&packages)?;
    Ok(appended)
}

struct PackageContents {
    records: Vec<(String, Sha256)>,
    zip_sha256: Sha256,
    tagmanifest_sha256: Sha256,
    payload_oxum: String,
}

/// What the log says of a sealed package, read back from its zip.
fn read_package(zip_path: &Path, package_id: &str) -> Result<PackageContents, Error> {
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
    let mut records = Vec::new();
    for line in BufReader::new(read("data/records.jsonl")?.as_slice()).split(b'\n') {
        let line = line.map_err(|e| bad(e.to_string()))?;
        let record: Record =
            serde_json::from_slice(&line).map_err(|e| bad(format!("data/records.jsonl: {e}")))?;
        records.push((record.id.to_string(), Sha256::of(&line)));
    }
    Ok(PackageContents {
        records,
        zip_sha256,
        tagmanifest_sha256,
        payload_oxum,
    })
}
