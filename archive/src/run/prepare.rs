//! Staging: the part of archiving an input that needs nothing from the
//! inputs before it, run on a staging worker.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;
use spoor_ingest::internal::kill_point;
use spoor_ingest::{read_export, ReadOptions};
use spoor_normalize::{jcs, Sha256, Zone};

use crate::catalog::Catalog;
use crate::fsutil::with_path;
use crate::intake::Export;
use crate::stage::{Staged, Stager};
use crate::store::Store;
use crate::Error;

/// An input as a staging worker left it for the commit, in input order.
pub(crate) struct Prepared {
    pub(crate) export: Export,
    pub(crate) package_id: String,
    /// The package, when the export was archived before this run.
    pub(crate) known: Option<String>,
    pub(crate) read: Option<StagedRead>,
    /// Time the worker spent on it.
    pub(crate) seconds: f64,
}

/// What reading an export into its staging folder gave.
pub(crate) struct StagedRead {
    pub(crate) staging: PathBuf,
    pub(crate) staged: Staged,
    pub(crate) summary: spoor_ingest::ReadSummary,
    pub(crate) read_error: Option<String>,
}

/// The part of archiving an input that needs nothing from the inputs
/// before it: the package id, whether it is already archived, and the
/// staged records, checked against the catalogue as it was when the run
/// started (`snapshot`). Runs on a staging worker.
pub(crate) fn prepare(
    store: &Store,
    index: usize,
    survey: Result<Export, Error>,
    snapshot: &mut Catalog,
) -> Result<Prepared, Error> {
    let started = std::time::Instant::now();
    let export = survey?;
    let (_, settings_sha256) = store.package_settings();
    let id_basis = json!({ "export_sha256": export.sha256, "settings_sha256": settings_sha256 });
    let package_id = format!(
        "p-{}",
        &Sha256::of(&jcs::to_canonical(&id_basis)).to_hex()[..32]
    );
    if let Some(existing) = store.find_package(snapshot, &package_id)? {
        return Ok(Prepared {
            export,
            package_id,
            known: Some(existing),
            read: None,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let staging = store
        .work_space()
        .join(format!("{index}-{package_id}.{}", std::process::id()));
    let read = stage(store, &export, &staging, snapshot);
    if read.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    Ok(Prepared {
        export,
        package_id,
        known: None,
        read: Some(read?),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Reads an export into a staging folder.
fn stage(
    store: &Store,
    export: &Export,
    staging: &Path,
    known: &mut Catalog,
) -> Result<StagedRead, Error> {
    let mut stager = Stager::create(staging, known).map_err(with_path(staging))?;
    let options = ReadOptions {
        export_sha256: export.sha256,
        limits: store.config.limits.clone(),
        zone: Zone::get(&store.config.default_zone).map_err(|e| Error::Config {
            path: store.root.join("spoor.toml"),
            reason: e.to_string(),
        })?,
        date_order_hint: store.config.date_order_hint,
        signal_passphrase: store.signal_passphrase.clone(),
        signal_recovery_key: store.signal_recovery_key.clone(),
        work_dir: store.work_space(),
    };
    let read = read_export(&export.path, &options, &mut stager);
    let (summary, read_error) = match read {
        Ok(summary) => (summary, None),
        Err(spoor_ingest::Error::Sink { source, .. }) => {
            return Err(Error::Io {
                path: staging.to_owned(),
                source,
            })
        }
        // The export could not be read at all: its original is still
        // sealed, and the package says why nothing was derived.
        Err(e) => (
            spoor_ingest::ReadSummary {
                format: "unknown".to_owned(),
                ..Default::default()
            },
            Some(e.to_string()),
        ),
    };
    let staged = stager.finish().map_err(with_path(staging))?;
    kill_point("staged");
    Ok(StagedRead {
        staging: staging.to_owned(),
        staged,
        summary,
        read_error,
    })
}
