//! A run: every input is taken in, read, staged and sealed as one package;
//! a failure on one input never stops the others.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;
use serde_json::{json, Value};
use spoor_ingest::internal::kill_point;
use spoor_ingest::{read_export, ReadOptions, PARSER};
use spoor_normalize::{jcs, Sha256, Zone};

use crate::catalog::{Catalog, PackageContents};
use crate::fsutil::{remove_leftovers, rename_durably, with_path, write_atomic};
use crate::inbox::{self, InboxOptions};
use crate::intake::Export;
use crate::lock::StoreLock;
use crate::log::Log;
use crate::notify::{self, Notification};
use crate::package::seal;
use crate::stage::{Staged, Stager};
use crate::store::{files_under, SigningKey, Store, PACKAGE_FORMAT};
use crate::trail::{roll_forward, PackageSeal, Trail};
use crate::Error;

/// What happened to one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputStatus {
    /// Sealed into a new package, everything read.
    Archived,
    /// Sealed, but with quarantined items or unreadable parts.
    Partial,
    /// Already archived with the same settings; nothing written.
    Known,
    /// Could not be archived; see `error`.
    Failed,
    /// Left in the inbox for the next run: still being delivered.
    Waiting,
}

/// The outcome for one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    /// The input as given (in the JSON report: as UTF-8, invalid bytes
    /// replaced by U+FFFD; `path_bytes` then holds the exact bytes).
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    /// The exact bytes of `path` in lowercase hex, only when it is not
    /// valid UTF-8 (names are bytes on Unix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    /// What happened.
    pub status: InputStatus,
    /// SHA-256 of the export (tree hash for folders).
    pub sha256: Option<String>,
    /// The package it went into (or is already in).
    pub package_id: Option<String>,
    /// The package file, relative to the store.
    pub package_path: Option<String>,
    /// Detected format.
    pub format: Option<String>,
    /// Records written.
    pub records: u64,
    /// Records not written because the store already had them.
    pub known: u64,
    /// Records repeated within this export.
    pub duplicates: u64,
    /// Items quarantined.
    pub quarantined: u64,
    /// Parts that could not be read at all.
    pub unreadable: Vec<String>,
    /// Files of a folder export that could not be kept in the package
    /// (unreadable, or not regular files); such an export is never moved
    /// to `done/`, so nothing is taken from the inbox that was not kept.
    pub not_kept: u64,
    /// SHA-256 of the package's `tagmanifest-sha256.txt`, which pins
    /// every other file of the bag.
    pub tagmanifest_sha256: Option<String>,
    /// The bag's Payload-Oxum.
    pub payload_oxum: Option<String>,
    /// Where the export was moved after archiving (inbox runs with
    /// `move_done`; lossy UTF-8 in the JSON report, as `path`).
    #[serde(serialize_with = "lossy_optional_path")]
    pub moved_to: Option<PathBuf>,
    /// Time spent on this input, in seconds.
    pub seconds: f64,
    /// Why it failed, or why it waits.
    pub error: Option<String>,
}

impl InputReport {
    fn new(path: &Path) -> InputReport {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        InputReport {
            path: path.to_owned(),
            path_bytes: std::str::from_utf8(bytes)
                .is_err()
                .then(|| bytes.iter().map(|b| format!("{b:02x}")).collect()),
            status: InputStatus::Failed,
            sha256: None,
            package_id: None,
            package_path: None,
            format: None,
            records: 0,
            known: 0,
            duplicates: 0,
            quarantined: 0,
            unreadable: vec![],
            not_kept: 0,
            tagmanifest_sha256: None,
            payload_oxum: None,
            moved_to: None,
            seconds: 0.0,
            error: None,
        }
    }
}

/// The report of a run, also written to `STORE/runs/<run_id>.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// When it started (UTC).
    pub started_at: String,
    /// When it finished (UTC).
    pub finished_at: String,
    /// spoor's version.
    pub tool_version: String,
    /// One entry per input, in the order given.
    pub inputs: Vec<InputReport>,
    /// Packages of an earlier, interrupted run whose log entries this run
    /// appended.
    pub rolled_forward: usize,
    /// Size of the log after this run (the new checkpoint's size).
    pub log_size: u64,
    /// Root hash of the log after this run, in hex.
    pub log_root: String,
    /// The e-mailed report, if one was asked for.
    pub notification: Option<Notification>,
}

impl RunReport {
    /// 0 all archived (or known), 3 archived with quarantined items or
    /// partial sources, 1 some input failed.
    pub fn exit_code(&self) -> u8 {
        if self.inputs.iter().any(|i| i.status == InputStatus::Failed) {
            1
        } else if self.inputs.iter().any(|i| i.status == InputStatus::Partial)
            || self.notification.as_ref().is_some_and(|n| !n.sent)
        {
            3
        } else {
            0
        }
    }

    /// A short summary for people: one line per input, then the run.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for input in &self.inputs {
            let status = match input.status {
                InputStatus::Archived => "archived",
                InputStatus::Partial => "archived (partial)",
                InputStatus::Known => "already archived",
                InputStatus::Failed => "FAILED",
                InputStatus::Waiting => "waiting (left for the next run)",
            };
            out.push_str(&format!("{}: {status}", input.path.display()));
            if let Some(format) = &input.format {
                out.push_str(&format!(" as {format}"));
            }
            if !matches!(input.status, InputStatus::Failed | InputStatus::Waiting) {
                out.push_str(&format!(
                    ": {} records, {} known, {} duplicates, {} quarantined ({:.1} s)",
                    input.records, input.known, input.duplicates, input.quarantined, input.seconds
                ));
            }
            if let Some(path) = &input.package_path {
                out.push_str(&format!(" -> {path}"));
            }
            out.push('\n');
            for part in &input.unreadable {
                out.push_str(&format!("  unreadable: {part}\n"));
            }
            if let Some(moved) = &input.moved_to {
                out.push_str(&format!("  moved to {}\n", moved.display()));
            }
            if let Some(error) = &input.error {
                let label = if input.status == InputStatus::Waiting {
                    "why"
                } else {
                    "error"
                };
                out.push_str(&format!("  {label}: {error}\n"));
            }
        }
        if self.rolled_forward > 0 {
            out.push_str(&format!(
                "{} packages of an interrupted run were added to the log\n",
                self.rolled_forward
            ));
        }
        out.push_str(&format!(
            "run {} ({} to {}) done: log size {}, root {} (report runs/{}.json)\n",
            self.run_id,
            self.started_at,
            self.finished_at,
            self.log_size,
            self.log_root,
            self.run_id
        ));
        if let Some(n) = &self.notification {
            match &n.error {
                None => out.push_str(&format!(
                    "report e-mailed to {} via {}\n",
                    n.recipients.join(", "),
                    n.server
                )),
                Some(e) => out.push_str(&format!("report NOT e-mailed via {}: {e}\n", n.server)),
            }
        }
        out
    }
}

/// The outcome of a verification, to be recorded in the log.
#[derive(Clone, Debug, Serialize)]
pub struct Fixity {
    /// No problem was found.
    pub intact: bool,
    /// Number of problems found.
    pub problems: usize,
    /// Packages checked.
    pub packages: u64,
    /// Records checked.
    pub records: u64,
    /// Bytes read and hashed.
    pub bytes: u64,
}

impl Store {
    /// E-mails the report (to the `[notify]` recipients of spoor.toml, via
    /// `url` or the settings' URL) and records the outcome in it and in
    /// `runs/<run>.json`. Without a URL nothing is sent.
    ///
    /// # Errors
    /// Only for settings that cannot work (no recipients, a bad URL or
    /// address, a password file that cannot be read); a server that fails
    /// is recorded in the report instead.
    pub fn notify(&self, report: &mut RunReport, url: Option<&str>) -> Result<(), Error> {
        let Some(url) = url.or(self.config.notify.url.as_deref()) else {
            return Ok(());
        };
        let failed = report
            .inputs
            .iter()
            .filter(|i| i.status == InputStatus::Failed)
            .count();
        let verdict = match report.exit_code() {
            0 => "archived".to_owned(),
            3 => "archived, with items to look at".to_owned(),
            _ => format!("{failed} inputs FAILED"),
        };
        let subject = format!("spoor run {}: {verdict}", report.run_id);
        report.notification = Some(notify::send(
            &self.config.notify,
            url,
            &subject,
            report.summary(),
        )?);
        self.write_report(report)
    }

    fn write_report(&self, report: &RunReport) -> Result<(), Error> {
        let path = self
            .root
            .join("runs")
            .join(format!("{}.json", report.run_id));
        let value = serde_json::to_value(report).map_err(|e| Error::Internal(e.to_string()))?;
        let mut bytes = jcs::to_canonical(&value);
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(with_path(&path))
    }

    /// Takes the store's lock for a scheduled check, waiting for a run
    /// that holds it to finish (`waiting` is told who holds it): the check
    /// then reads a store nobody changes, and its outcome is recorded
    /// with [`FixityLock::record`] before the lock is let go.
    ///
    /// # Errors
    /// When the lock file cannot be opened or locked.
    pub fn lock_for_fixity(&self, waiting: &dyn Fn(&str)) -> Result<FixityLock<'_>, Error> {
        Ok(FixityLock {
            store: self,
            _lock: StoreLock::acquire_waiting(&self.root, waiting)?,
        })
    }

    /// Archives every input; returns the report (also written to `runs/`).
    ///
    /// # Errors
    /// Only when the run cannot happen at all (catalogue unusable, report not
    /// writable); a failing input is reported in its [`InputReport`].
    pub fn run(
        &self,
        inputs: &[PathBuf],
        key: &SigningKey,
        progress: &dyn Fn(RunProgress<'_>),
    ) -> Result<RunReport, Error> {
        self.run_inputs(inputs, Vec::new(), None, key, progress)
    }

    /// Archives every export in `inbox` that is ready (see
    /// [`InboxOptions`]); those still being delivered are reported as
    /// [`InputStatus::Waiting`] and left for the next run.
    ///
    /// # Errors
    /// As [`Store::run`], and when the inbox cannot be read.
    pub fn run_inbox(
        &self,
        inbox: &Path,
        options: &InboxOptions,
        key: &SigningKey,
        progress: &dyn Fn(RunProgress<'_>),
    ) -> Result<RunReport, Error> {
        let inbox::Scan { ready, waiting } = inbox::scan(inbox, options.settle)?;
        let waiting = waiting
            .into_iter()
            .map(|(path, why)| InputReport {
                status: InputStatus::Waiting,
                error: Some(why),
                ..InputReport::new(&path)
            })
            .collect();
        self.run_inputs(
            &ready,
            waiting,
            options.move_done.then_some(inbox),
            key,
            progress,
        )
    }

    fn run_inputs(
        &self,
        inputs: &[PathBuf],
        waiting: Vec<InputReport>,
        done_inbox: Option<&Path>,
        key: &SigningKey,
        progress: &dyn Fn(RunProgress<'_>),
    ) -> Result<RunReport, Error> {
        let started = jiff::Timestamp::now();
        let run_id = format!(
            "r-{}-{}",
            started.strftime("%Y%m%dT%H%M%SZ"),
            std::process::id()
        );
        let _lock = StoreLock::acquire(&self.root)?;
        kill_point("locked");
        self.clear_work_space()?;
        let mut catalog = self.catalog()?;
        let log_dir = self.root.join("log");
        Log::complete_interrupted_publish(&log_dir)?;
        let previous = Log::head(&log_dir)?;
        let mut trail = Trail::new(Log::open(&log_dir, &self.config.origin)?);
        let rolled_forward = roll_forward(&self.root, &mut catalog, &mut trail)?;
        let mut reports = Vec::new();
        progress(RunProgress::Started {
            inputs: inputs.len(),
        });
        let surveys = survey_all(inputs);
        // Staging workers read the next inputs while this thread commits
        // the current one; each worker checks records against the catalogue
        // as it was when the run started, and this thread drops what an
        // earlier input of the run archived, so the outcome does not depend
        // on timing.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(inputs.len())
            .max(1);
        let snapshots = (0..workers)
            .map(|_| Catalog::open_snapshot(&self.root.join("catalog.sqlite")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut archived_in_run = false;
        let (job_tx, job_rx) = mpsc::channel::<(usize, Result<Export, Error>)>();
        let job_rx = std::sync::Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<(usize, Result<Prepared, Error>)>();
        std::thread::scope(|scope| -> Result<(), Error> {
            for mut snapshot in snapshots {
                let (job_rx, done_tx) = (&job_rx, done_tx.clone());
                scope.spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((index, survey)) = job else { return };
                    if done_tx
                        .send((index, self.prepare(index, survey, &mut snapshot)))
                        .is_err()
                    {
                        return;
                    }
                });
            }
            drop(done_tx);
            let mut surveys = surveys.into_iter().map(|s| {
                s.unwrap_or_else(|| Err(Error::Internal("the hashing thread failed".to_owned())))
            });
            let mut dispatched = 0usize;
            let mut ready = std::collections::BTreeMap::new();
            for (index, input) in inputs.iter().enumerate() {
                // At most one staged input per worker waits to be committed.
                while dispatched < inputs.len() && dispatched <= index + workers {
                    let survey = surveys
                        .next()
                        .unwrap_or_else(|| Export::survey(&inputs[dispatched]));
                    if job_tx.send((dispatched, survey)).is_err() {
                        break;
                    }
                    dispatched += 1;
                }
                let prepared = loop {
                    if let Some(prepared) = ready.remove(&index) {
                        break prepared;
                    }
                    match done_rx.recv() {
                        Ok((i, prepared)) => {
                            ready.insert(i, prepared);
                        }
                        Err(_) => {
                            break Err(Error::Internal("the staging workers stopped".to_owned()))
                        }
                    }
                };
                let mut report = InputReport::new(input);
                let started = std::time::Instant::now();
                tracing::info!(input = %input.display(), "archiving");
                progress(RunProgress::Committing { input });
                if let Err(e) = self.commit(
                    input,
                    prepared,
                    &mut catalog,
                    &mut trail,
                    &mut archived_in_run,
                    &mut report,
                ) {
                    report.status = InputStatus::Failed;
                    report.error = Some(e.to_string());
                }
                report.seconds += started.elapsed().as_secs_f64();
                tracing::info!(
                    input = %input.display(),
                    status = ?report.status,
                    records = report.records,
                    known = report.known,
                    quarantined = report.quarantined,
                    seconds = report.seconds,
                    error = report.error.as_deref().unwrap_or(""),
                    "input done"
                );
                let archived = matches!(
                    report.status,
                    InputStatus::Archived | InputStatus::Partial | InputStatus::Known
                );
                if let (Some(_), true, n @ 1..) = (done_inbox, archived, report.not_kept) {
                    report.error = Some(format!(
                        "left in the inbox: {n} of its files could not be kept (unreadable, or not regular files); once they are readable it is archived again"
                    ));
                } else if let (Some(inbox), true) = (done_inbox, archived) {
                    match inbox::move_done(inbox, input) {
                        Ok(moved) => report.moved_to = Some(moved),
                        Err(e) => {
                            report.error = Some(format!("archived, but not moved to done/: {e}"))
                        }
                    }
                }
                progress(RunProgress::InputDone { report: &report });
                reports.push(report);
            }
            drop(job_tx);
            Ok(())
        })?;
        reports.extend(waiting);
        let count = |status: InputStatus| reports.iter().filter(|r| r.status == status).count();
        let seal = json!({
            "type": "run",
            "run_id": run_id,
            "started_at": started.to_string(),
            "tool_version": env!("CARGO_PKG_VERSION"),
            "settings_sha256": self.package_settings().1,
            "counts": {
                "inputs": reports.len(),
                "archived": count(InputStatus::Archived),
                "partial": count(InputStatus::Partial),
                "known": count(InputStatus::Known),
                "failed": count(InputStatus::Failed),
                "records": reports.iter().map(|r| r.records).sum::<u64>(),
                "quarantined": reports.iter().map(|r| r.quarantined).sum::<u64>(),
            },
            "previous_checkpoint": previous.map(|h| json!({ "size": h.size, "root": hex(&h.root) })),
        });
        trail.log.append(jcs::to_canonical(&seal))?;
        let head = trail.log.publish(&key.0)?;
        kill_point("published");
        tracing::info!(run = %run_id, log_size = head.size, "checkpoint published");
        trail.note_in(&mut catalog)?;
        catalog.checkpoint_wal()?;
        kill_point("noted");
        let report = RunReport {
            run_id: run_id.clone(),
            started_at: started.to_string(),
            finished_at: jiff::Timestamp::now().to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            inputs: reports,
            rolled_forward,
            notification: None,
            log_size: head.size,
            log_root: hex(&head.root),
        };
        self.write_report(&report)?;
        Ok(report)
    }

    /// The part of archiving an input that needs nothing from the inputs
    /// before it: the package id, whether it is already archived, and the
    /// staged records, checked against the catalogue as it was when the run
    /// started (`snapshot`). Runs on a staging worker.
    fn prepare(
        &self,
        index: usize,
        survey: Result<Export, Error>,
        snapshot: &mut Catalog,
    ) -> Result<Prepared, Error> {
        let started = std::time::Instant::now();
        let export = survey?;
        let (_, settings_sha256) = self.package_settings();
        let id_basis =
            json!({ "export_sha256": export.sha256, "settings_sha256": settings_sha256 });
        let package_id = format!(
            "p-{}",
            &Sha256::of(&jcs::to_canonical(&id_basis)).to_hex()[..32]
        );
        if let Some(existing) = self.find_package(snapshot, &package_id)? {
            return Ok(Prepared {
                export,
                package_id,
                known: Some(existing),
                read: None,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let staging = self
            .work_space()
            .join(format!("{index}-{package_id}.{}", std::process::id()));
        let read = self.stage(&export, &staging, snapshot);
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
        &self,
        export: &Export,
        staging: &Path,
        known: &mut Catalog,
    ) -> Result<StagedRead, Error> {
        let mut stager = Stager::create(staging, known).map_err(with_path(staging))?;
        let options = ReadOptions {
            export_sha256: export.sha256,
            limits: self.config.limits.clone(),
            zone: Zone::get(&self.config.default_zone).map_err(|e| Error::Config {
                path: self.root.join("spoor.toml"),
                reason: e.to_string(),
            })?,
            date_order_hint: self.config.date_order_hint,
            signal_passphrase: self.signal_passphrase.clone(),
            signal_recovery_key: self.signal_recovery_key.clone(),
            work_dir: self.work_space(),
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

    /// The part of archiving an input that happens in input order: the
    /// intake receipt, dropping records an earlier input of this run
    /// already archived, sealing, cataloguing and logging.
    fn commit(
        &self,
        input: &Path,
        prepared: Result<Prepared, Error>,
        catalog: &mut Catalog,
        trail: &mut Trail,
        archived_in_run: &mut bool,
        report: &mut InputReport,
    ) -> Result<(), Error> {
        let prepared = prepared?;
        let staging = prepared.read.as_ref().map(|r| r.staging.clone());
        let result = self.commit_prepared(input, prepared, catalog, trail, archived_in_run, report);
        if let Some(staging) = staging {
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }

    fn commit_prepared(
        &self,
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
            None => self.find_package(catalog, &package_id)?,
        };
        let (Some(read), None) = (read, &existing) else {
            report.status = InputStatus::Known;
            report.package_path = existing;
            return Ok(());
        };

        let now = jiff::Timestamp::now();
        let month = now.strftime("%Y/%m").to_string();
        let receipt = json!({
            "schema": "spoor.intake/1",
            "name": input.file_name().map(|n| n.to_string_lossy().into_owned()),
            "stored_name": export.name,
            "kind": if export.is_folder { "folder" } else { "file" },
            "size": export.size,
            "files": export.files.len(),
            "sha256": export.sha256,
            "received_at": now.to_string(),
            "package_id": package_id,
            "not_kept": export.not_kept,
        });
        let receipt_path = self.root.join("intake").join(&month).join(format!(
            "{}-{}.json",
            now.strftime("%Y%m%dT%H%M%S%.fZ"),
            &export.sha256.to_hex()[..16]
        ));
        let mut receipt_bytes = jcs::to_canonical(&receipt);
        receipt_bytes.push(b'\n');
        write_atomic(&receipt_path, &receipt_bytes).map_err(with_path(&receipt_path))?;
        kill_point("receipt-written");
        catalog.index_receipt(&self.relative(&receipt_path), &receipt)?;
        // In the log the intake comes before anything derived from the export.
        trail.intake(&self.relative(&receipt_path), &receipt)?;

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
        let (settings, _) = self.package_settings();
        self.seal_staged(
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
        &self,
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
        unreadable.sort();
        unreadable.dedup();

        let package_json = json!({
            "schema": "spoor.package/1",
            "package_id": package_id,
            "package_format": PACKAGE_FORMAT,
            "export": {
                "name": export.name,
                "kind": if export.is_folder { "folder" } else { "file" },
                "sha256": export.sha256,
                "size": export.size,
                "files": export.files.len(),
                "original": format!("data/original/{}", export.name),
            },
            "source_format": summary.format,
            "parser": PARSER,
            "settings": settings,
            "decisions": summary.decisions,
            "counts": {
                "records": counts.records,
                "known": counts.known,
                "duplicates": counts.duplicates,
                "quarantined": counts.quarantined,
                "blobs": counts.blobs,
            },
            "unreadable": unreadable,
            "read_error": read_error,
            "accounting": summary.accounting,
        });
        let mut package_bytes = jcs::to_canonical(&package_json);
        package_bytes.push(b'\n');
        let package_json_path = staged.dir.join("data/package.json");
        fs::write(&package_json_path, &package_bytes).map_err(with_path(&package_json_path))?;

        let mut bag_info = vec![
            (
                "Bag-Software-Agent",
                format!("spoor {}", env!("CARGO_PKG_VERSION")),
            ),
            ("External-Identifier", package_id.to_owned()),
        ];
        if let Some(org) = &self.config.organization {
            bag_info.push(("Source-Organization", org.clone()));
        }
        bag_info.push(("Spoor-Export-SHA256", export.sha256.to_hex()));
        bag_info.push(("Spoor-Package-Format", PACKAGE_FORMAT.to_owned()));
        bag_info.push(("Spoor-Source-Format", summary.format.clone()));

        let partial = self.work_space().join(format!("{package_id}.zip.partial"));
        let relative = format!("packages/{month}/{package_id}.zip");
        let target = self.root.join(&relative);
        let records_path = staged.dir.join("data/records.jsonl");
        // The catalogue is filled while the package is sealed, in a
        // transaction committed only once the package is in place.
        let (placed, indexed) = std::thread::scope(|scope| {
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
            let placed =
                seal(&partial, package_id, &staged, export, &bag_info).and_then(|sealed| {
                    kill_point("sealed");
                    rename_durably(&partial, target)
                        .map(|()| sealed)
                        .map_err(with_path(target))
                });
            if placed.is_ok() {
                kill_point("placed");
            }
            let _ = go.send(placed.is_ok());
            let indexed = indexer.join().unwrap_or_else(|_| {
                Err(Error::Internal(
                    "the catalogue indexing thread failed".to_owned(),
                ))
            });
            (placed, indexed)
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
        let records = staged.records().map_err(with_path(&staged.dir))?;
        trail.package(
            records,
            &PackageSeal {
                package_id,
                path: &relative,
                zip_sha256: sealed.zip_sha256,
                tagmanifest_sha256: sealed.tagmanifest_sha256,
                payload_oxum: &sealed.payload_oxum,
            },
        )?;
        kill_point("logged");

        *archived_in_run |= counts.records > 0;
        report.package_path = Some(relative);
        report.tagmanifest_sha256 = Some(sealed.tagmanifest_sha256.to_hex());
        report.payload_oxum = Some(sealed.payload_oxum);
        report.format = Some(summary.format);
        report.records = counts.records;
        report.known = counts.known;
        report.duplicates = counts.duplicates;
        report.quarantined = counts.quarantined;
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

    /// Removes what an interrupted run left: everything in `tmp/` (staging
    /// folders, unfinished zips, decrypted working copies), and the
    /// temporary files of writes it did not finish in `intake/`, `runs/`
    /// and `log/`. `tmp/` is made private to the store's owner (mode 0700),
    /// since decrypted sources are worked on there. Only called under the
    /// store lock.
    fn clear_work_space(&self) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = self.work_space();
        fs::create_dir_all(&tmp).map_err(with_path(&tmp))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700)).map_err(with_path(&tmp))?;
        for entry in fs::read_dir(&tmp).map_err(with_path(&tmp))?.flatten() {
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(with_path(&path))?;
        }
        for dir in ["intake", "runs", "log"] {
            let dir = self.root.join(dir);
            let removed = remove_leftovers(&dir).map_err(with_path(&dir))?;
            if removed > 0 {
                tracing::warn!(folder = %dir.display(), removed, "removed unfinished files of an interrupted run");
            }
        }
        Ok(())
    }

    /// The package with this id, from the catalogue, else by looking in
    /// `packages/` (the catalogue may have been lost).
    fn find_package(&self, catalog: &Catalog, package_id: &str) -> Result<Option<String>, Error> {
        if let Some(path) = catalog.package_path(package_id)? {
            if self.root.join(&path).is_file() {
                return Ok(Some(path));
            }
        }
        let name = format!("{package_id}.zip");
        Ok(files_under(&self.root.join("packages"), "zip")?
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n == name.as_str()))
            .map(|p| self.relative(&p)))
    }
}

/// The store locked for a scheduled check (see [`Store::lock_for_fixity`]).
#[derive(Debug)]
pub struct FixityLock<'a> {
    store: &'a Store,
    _lock: StoreLock,
}

impl FixityLock<'_> {
    /// Appends a `fixity` seal with the outcome of a verification of this
    /// store and publishes a checkpoint, so scheduled checks become part of
    /// the audit trail. Returns the new log size.
    ///
    /// # Errors
    /// As for a run: the log, the signing key.
    pub fn record(&self, fixity: &Fixity, key: &SigningKey) -> Result<u64, Error> {
        let log_dir = self.store.root.join("log");
        Log::complete_interrupted_publish(&log_dir)?;
        let previous = Log::head(&log_dir)?;
        let mut log = Log::open(&log_dir, &self.store.config.origin)?;
        log.append(jcs::to_canonical(&json!({
            "type": "fixity",
            "checked_at": jiff::Timestamp::now().to_string(),
            "tool_version": env!("CARGO_PKG_VERSION"),
            "result": if fixity.intact { "intact" } else { "problems-found" },
            "problems": fixity.problems,
            "packages": fixity.packages,
            "records": fixity.records,
            "bytes": fixity.bytes,
            "previous_checkpoint": previous.map(|h| json!({ "size": h.size, "root": hex(&h.root) })),
        })))?;
        Ok(log.publish(&key.0)?.size)
    }
}

/// What a run tells its caller while it works (for a progress bar).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum RunProgress<'a> {
    /// The run starts on this many inputs.
    Started {
        /// Inputs to archive.
        inputs: usize,
    },
    /// An input is being sealed and logged (its reading may have started
    /// earlier, on a staging worker).
    Committing {
        /// The input.
        input: &'a Path,
    },
    /// An input is done.
    InputDone {
        /// Its report.
        report: &'a InputReport,
    },
}

/// An input as a staging worker left it for the commit, in input order.
struct Prepared {
    export: Export,
    package_id: String,
    /// The package, when the export was archived before this run.
    known: Option<String>,
    read: Option<StagedRead>,
    /// Time the worker spent on it.
    seconds: f64,
}

/// What reading an export into its staging folder gave.
struct StagedRead {
    staging: PathBuf,
    staged: Staged,
    summary: spoor_ingest::ReadSummary,
    read_error: Option<String>,
}

/// Takes in every input (hashing it whole) on as many threads as there are
/// cores, before the inputs are archived one by one: hashing is the one
/// step of an export that needs nothing from the others or the store.
/// The result for input `i` is at index `i` (`None` only if a hashing
/// thread died; the input is then surveyed again in turn).
fn survey_all(inputs: &[PathBuf]) -> Vec<Option<Result<Export, Error>>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<Export, Error>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else { break };
                        mine.push((i, Export::survey(input)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut surveys: Vec<Option<Result<Export, Error>>> = inputs.iter().map(|_| None).collect();
    for (i, survey) in done.drain(..) {
        if let Some(slot) = surveys.get_mut(i) {
            *slot = Some(survey);
        }
    }
    surveys
}

fn lossy_path<S: serde::Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

fn lossy_optional_path<S: serde::Serializer>(
    path: &Option<PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => lossy_path(path, serializer),
        None => serializer.serialize_none(),
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
