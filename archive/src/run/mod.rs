//! A run: every input is taken in, read, staged and sealed as one package;
//! a failure on one input never stops the others.
//!
//! The stages: inputs are surveyed (hashed) on their own threads; staging
//! workers read each export into a staging folder ([`prepare`]); this
//! thread then commits each input in order ([`commit`]): intake receipt,
//! package sealed, catalogued and logged; the run ends with its seal and a
//! new checkpoint.

mod commit;
mod prepare;
pub(crate) mod report;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use spoor_ingest::internal::{fail_point, kill_point};
use spoor_normalize::layout::{LogEntry, RunCounts, RunSeal};
use spoor_normalize::Sha256;

use crate::attest::attest;
use crate::catalog::Catalog;
use crate::inbox;
use crate::intake::Export;
use crate::lock::StoreLock;
use crate::log::Log;
use crate::store::{SigningKey, Store};
use crate::trail::{checkpoint_ref, roll_forward, Trail};
use crate::Error;
use commit::commit;
use prepare::{prepare, Prepared};
use report::{write_report, InputReport, InputStatus, RunProgress, RunReport};

pub(crate) fn run_inputs(
    store: &Store,
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
    let _lock = StoreLock::acquire(&store.root)?;
    kill_point("locked");
    store.clear_work_space()?;
    let mut catalog = store.catalog()?;
    let log_dir = store.root.join("log");
    Log::complete_interrupted_publish(&log_dir)?;
    let previous = Log::head(&log_dir)?;
    let mut trail = Trail::new(Log::open(&log_dir, &store.config.origin)?);
    let rolled_forward = roll_forward(&store.root, &mut catalog, &mut trail)?;
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
        .map(|_| Catalog::open_snapshot(&store.root.join("catalog.sqlite")))
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
                    .send((index, prepare(store, index, survey, &mut snapshot)))
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
                    Err(_) => break Err(Error::Internal("the staging workers stopped".to_owned())),
                }
            };
            let mut report = InputReport::new(input);
            let started = std::time::Instant::now();
            tracing::info!(input = %input.display(), "archiving");
            progress(RunProgress::Committing { input });
            if let Err(e) = commit(
                store,
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
                status = report.status.name(),
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
                    Err(e) => report.error = Some(format!("archived, but not moved to done/: {e}")),
                }
            }
            progress(RunProgress::InputDone { report: &report });
            reports.push(report);
        }
        drop(job_tx);
        Ok(())
    })?;
    reports.extend(waiting);
    let count = |status: InputStatus| reports.iter().filter(|r| r.status == status).count() as u64;
    let seal = RunSeal {
        run_id: run_id.clone(),
        started_at: started.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        settings_sha256: store.package_settings().1.to_hex(),
        counts: RunCounts {
            inputs: reports.len() as u64,
            archived: count(InputStatus::Archived),
            partial: count(InputStatus::Partial),
            known: count(InputStatus::Known),
            failed: count(InputStatus::Failed),
            records: reports.iter().map(|r| r.records).sum::<u64>(),
            quarantined: reports.iter().map(|r| r.quarantined).sum::<u64>(),
        },
        previous_checkpoint: previous.map(checkpoint_ref),
    };
    trail.append(&LogEntry::Run(seal))?;
    let head = trail.log.publish(&key.0)?;
    kill_point("published");
    tracing::info!(run = %run_id, log_size = head.size, "checkpoint published");
    let attestations = attest(&log_dir, &store.config, &trail.log, head);
    // The run's work is published: a catalogue that cannot be told where
    // it went (a full disk) is reported, not a reason to drop the report.
    let catalogue_lag = if fail_point("noting") {
        Some("catalog.sqlite: not written ($SPOOR_FAIL_AT)".to_owned())
    } else {
        trail
            .note_in(&mut catalog)
            .and_then(|()| catalog.checkpoint_wal())
            .err()
            .map(|e| e.to_string())
    };
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
        log_root: Sha256::from_bytes(head.root).to_hex(),
        attestations,
        catalogue_lag,
    };
    write_report(store, &report)?;
    Ok(report)
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
