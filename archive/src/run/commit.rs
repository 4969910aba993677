//! Committing: the part of archiving an input that happens in input
//! order — the intake receipt, sealing, cataloguing and logging.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::Path;
use std::sync::mpsc;

use serde_json::Value;
use spoor_ingest::internal::kill_point;
use spoor_ingest::PARSER;
use spoor_normalize::layout::{
    to_canonical_line, IntakeReceipt, PackageCounts, PackageManifest, PackagedExport,
    INTAKE_SCHEMA, PACKAGE_SCHEMA,
};

use super::prepare::{Prepared, StagedRead};
use super::report::{InputReport, InputStatus, ReasonCount};
use crate::bagit::BagInfo;
use crate::catalog::{Catalog, PackageContents};
use crate::fsutil::{rename_durably, with_path, write_atomic};
use crate::intake::Export;
use crate::package::{seal, Sealed};
use crate::stage::Staged;
use crate::store::{Store, PACKAGE_FORMAT};
use crate::trail::{PackageSeal, Trail};
use crate::Error;

/// The part of archiving an input that happens in input order: the
/// intake receipt, dropping records an earlier input of this run
/// already archived, sealing, cataloguing and logging.
pub(crate) fn commit(
    store: &Store,
    input: &Path,
    prepared: Result<Prepared, Error>,
    catalog: &mut Catalog,
    trail: &mut Trail,
    archived_in_run: &mut bool,
    report: &mut InputReport,
) -> Result<(), Error> {
    let prepared = prepared?;
    let staging = prepared.read.as_ref().map(|r| r.staging.clone());
    let result = commit_prepared(
        store,
        input,
        prepared,
        catalog,
        trail,
        archived_in_run,
        report,
    );
    if let Some(staging) = staging {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn commit_prepared(
    store: &Store,
    input: &Path,
    prepared: Prepared,
    catalog: &mut Catalog,
    trail: &mut Trail,
    archived_in_run: &mut bool,
    report: &mut InputReport,
) -> Result<(), Error> {
    let Prepared {
        export,
        package_id,
        known,
        read,
        seconds,
    } = prepared;
    report.seconds += seconds;
    report.sha256 = Some(export.sha256.to_hex());
    report.not_kept = export.not_kept.len() as u64;
    report.package_id = Some(package_id.clone());
    // An earlier input of this run may have been the same export.
    let existing = match known {
        Some(path) => Some(path),
        None => store.find_package(catalog, &package_id)?,
    };
    let (Some(read), None) = (read, &existing) else {
        report.status = InputStatus::Known;
        report.package_path = existing;
        return Ok(());
    };

    let now = jiff::Timestamp::now();
    let month = now.strftime("%Y/%m").to_string();
    let receipt = IntakeReceipt {
        schema: INTAKE_SCHEMA.to_owned(),
        name: input.file_name().map(|n| n.to_string_lossy().into_owned()),
        stored_name: export.name.clone(),
        kind: export.shape(),
        size: export.size,
        files: export.files.len() as u64,
        sha256: export.sha256.to_hex(),
        received_at: now.to_string(),
        package_id: package_id.clone(),
        not_kept: export.not_kept.clone(),
    };
    let receipt_path = store.root.join("intake").join(&month).join(format!(
        "{}-{}.json",
        now.strftime("%Y%m%dT%H%M%S%.fZ"),
        &export.sha256.to_hex()[..16]
    ));
    let receipt_bytes = to_canonical_line(&receipt).map_err(|e| Error::Internal(e.to_string()))?;
    write_atomic(&receipt_path, &receipt_bytes).map_err(with_path(&receipt_path))?;
    kill_point("receipt-written");
    catalog.index_receipt(&store.relative(&receipt_path), &receipt)?;
    // In the log the intake comes before anything derived from the export.
    trail.intake(&store.relative(&receipt_path), &receipt)?;

    let StagedRead {
        staging,
        mut staged,
        summary,
        read_error,
    } = read;
    // Records an earlier input of this run archived are in the
    // catalogue now (the workers checked a snapshot from before it).
    if *archived_in_run {
        staged.drop_known(catalog).map_err(with_path(&staging))?;
    }
    let (settings, _) = store.package_settings();
    seal_staged(
        store,
        &export,
        &package_id,
        &settings,
        &month,
        staged,
        summary,
        read_error,
        catalog,
        trail,
        archived_in_run,
        report,
    )
}

#[allow(clippy::too_many_arguments)]
fn seal_staged(
    store: &Store,
    export: &Export,
    package_id: &str,
    settings: &Value,
    month: &str,
    staged: Staged,
    summary: spoor_ingest::ReadSummary,
    read_error: Option<String>,
    catalog: &mut Catalog,
    trail: &mut Trail,
    archived_in_run: &mut bool,
    report: &mut InputReport,
) -> Result<(), Error> {
    let counts = staged.counts.clone();
    let mut unreadable = summary.unreadable.clone();
    unreadable.extend(
        export
            .not_kept
            .iter()
            .map(|n| format!("{}: {}", n.path, n.reason)),
    );
    // An empty folder holds nothing to lose, but it is more likely a copy
    // that stopped before its first file than an export: said, not passed.
    if export.is_folder && export.files.is_empty() {
        unreadable.push(format!(
            "{}: the folder holds no files (a copy that stopped early?)",
            export.name
        ));
    }
    unreadable.sort();
    unreadable.dedup();

    let manifest = PackageManifest {
        schema: PACKAGE_SCHEMA.to_owned(),
        package_id: package_id.to_owned(),
        package_format: PACKAGE_FORMAT.to_owned(),
        export: PackagedExport {
            name: export.name.clone(),
            kind: export.shape(),
            sha256: export.sha256.to_hex(),
            size: export.size,
            files: export.files.len() as u64,
            original: format!("data/original/{}", export.name),
        },
        source_format: summary.format.clone(),
        parser: PARSER.to_owned(),
        settings: settings.clone(),
        decisions: summary.decisions.clone(),
        counts: PackageCounts {
            records: counts.records,
            known: counts.known,
            duplicates: counts.duplicates,
            quarantined: counts.quarantined,
            blobs: counts.blobs,
        },
        unreadable: unreadable.clone(),
        read_error: read_error.clone(),
        accounting: summary.accounting.clone(),
    };
    let package_bytes = to_canonical_line(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    let package_json_path = staged.dir.join("data/package.json");
    fs::write(&package_json_path, &package_bytes).map_err(with_path(&package_json_path))?;

    let bag_info = BagInfo {
        software_agent: format!("spoor {}", env!("CARGO_PKG_VERSION")),
        external_identifier: package_id.to_owned(),
        source_organization: store.config.organization.clone(),
        export_sha256: export.sha256,
        package_format: PACKAGE_FORMAT.to_owned(),
        source_format: summary.format.clone(),
    };

    let partial = store.work_space().join(format!("{package_id}.zip.partial"));
    let relative = format!("packages/{month}/{package_id}.zip");
    let target = store.root.join(&relative);
    let records_path = staged.dir.join("data/records.jsonl");
    // The catalogue is filled while the package is sealed, in a
    // transaction committed only once the package is in place; the log
    // entries are appended on this thread meanwhile, once it is in place
    // (both read `records.jsonl`; the catalogue takes longer).
    let (placed, logged, indexed) = std::thread::scope(|scope| {
        let (go, wait) = mpsc::channel::<bool>();
        let contents = PackageContents {
            package_id,
            relative: &relative,
            package_json: &package_bytes,
        };
        let target = &target;
        let catalog = &mut *catalog;
        let indexer = scope.spawn(move || {
            let records = File::open(&records_path).map_err(with_path(&records_path))?;
            catalog.index_contents(target, &contents, &mut BufReader::new(records), || {
                wait.recv().unwrap_or(false)
            })
        });
        let placed = seal(&partial, package_id, &staged, export, &bag_info).and_then(|sealed| {
            kill_point("sealed");
            rename_durably(&partial, target)
                .map(|()| sealed)
                .map_err(with_path(target))
        });
        let logged = match &placed {
            Ok(sealed) => {
                kill_point("placed");
                log_placed(trail, &staged, package_id, &relative, sealed)
            }
            Err(_) => Ok(()),
        };
        if placed.is_ok() && logged.is_ok() {
            kill_point("logged");
        }
        // The catalogue describes what is on disk: committed once the
        // package is in place, whether or not its entries could be logged.
        let _ = go.send(placed.is_ok());
        let indexed = indexer.join().unwrap_or_else(|_| {
            Err(Error::Internal(
                "the catalogue indexing thread failed".to_owned(),
            ))
        });
        (placed, logged, indexed)
    });
    let sealed = match placed {
        Ok(sealed) => sealed,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    indexed?;
    kill_point("catalogued");
    logged?;

    *archived_in_run |= counts.records > 0;
    report.package_path = Some(relative);
    report.tagmanifest_sha256 = Some(sealed.tagmanifest_sha256.to_hex());
    report.payload_oxum = Some(sealed.payload_oxum);
    report.format = Some(summary.format);
    report.records = counts.records;
    report.known = counts.known;
    report.duplicates = counts.duplicates;
    report.quarantined = counts.quarantined;
    report.quarantine_reasons = ReasonCount::most_common(&counts.reasons);
    report.unreadable = unreadable;
    if let Some(e) = read_error {
        report.unreadable.push(e);
    }
    report.status = if report.quarantined > 0 || !report.unreadable.is_empty() {
        InputStatus::Partial
    } else {
        InputStatus::Archived
    };
    Ok(())
}

/// Appends the log entries of a package just placed, from its staged
/// records: one per record line, then its `package` entry.
fn log_placed(
    trail: &mut Trail,
    staged: &Staged,
    package_id: &str,
    relative: &str,
    sealed: &Sealed,
) -> Result<(), Error> {
    let records = staged.records().map_err(with_path(&staged.dir))?;
    trail.package(
        records,
        &PackageSeal {
            package_id,
            path: relative,
            zip_sha256: sealed.zip_sha256,
            tagmanifest_sha256: sealed.tagmanifest_sha256,
            payload_oxum: &sealed.payload_oxum,
        },
    )
}
