//! What a run reports: per input and as a whole, as the JSON written to
//! `runs/<run>.json` (docs/FORMAT.md §8) and the summary people read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use spoor_normalize::jcs;

use crate::attest::Attestation;
use crate::fsutil::{with_path, write_atomic};
use crate::notify::Notification;
use crate::store::Store;
use crate::Error;

/// What happened to one input.
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
    /// The most common reasons items were quarantined, most frequent
    /// first (at most five; `quarantine.jsonl` in the package has all).
    pub quarantine_reasons: Vec<ReasonCount>,
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
    pub(crate) fn new(path: &Path) -> InputReport {
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
            quarantine_reasons: vec![],
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
    /// What the configured time-stamping authority and witnesses did for
    /// the new checkpoint (empty when none are configured).
    pub attestations: Vec<Attestation>,
    /// Why the catalogue could not be told where this run's log entries
    /// are, when it could not (the run's work is published all the same;
    /// the next run tells it).
    pub catalogue_lag: Option<String>,
}

/// One reason items were quarantined, and how many were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason, as in `quarantine.jsonl`.
    pub reason: String,
    /// How many items of the input were quarantined for it.
    pub count: u64,
}

impl ReasonCount {
    /// The five most frequent reasons, most frequent first.
    pub(crate) fn most_common(reasons: &BTreeMap<String, u64>) -> Vec<ReasonCount> {
        let mut all: Vec<ReasonCount> = reasons
            .iter()
            .map(|(reason, count)| ReasonCount {
                reason: reason.clone(),
                count: *count,
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        all.truncate(5);
        all
    }
}

impl InputStatus {
    /// The status as the JSON report names it.
    pub fn name(self) -> &'static str {
        match self {
            InputStatus::Archived => "archived",
            InputStatus::Partial => "partial",
            InputStatus::Known => "known",
            InputStatus::Failed => "failed",
            InputStatus::Waiting => "waiting",
        }
    }
}

impl RunReport {
    /// 0 all archived (or known), 3 archived with quarantined items or
    /// partial sources, 1 some input failed.
    pub fn exit_code(&self) -> u8 {
        if self.inputs.iter().any(|i| i.status == InputStatus::Failed) {
            1
        } else if self.inputs.iter().any(|i| i.status == InputStatus::Partial)
            || self.notification.as_ref().is_some_and(|n| !n.sent)
            || self.attestations.iter().any(|a| !a.ok)
            || self.catalogue_lag.is_some()
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
            for reason in &input.quarantine_reasons {
                out.push_str(&format!(
                    "  quarantined {}: {}\n",
                    reason.count, reason.reason
                ));
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
        for a in &self.attestations {
            let outcome = if a.ok { "" } else { "NOT " };
            let verb = if a.kind == "timestamp" {
                "time-stamped"
            } else {
                "cosigned"
            };
            out.push_str(&format!(
                "checkpoint {outcome}{verb} by {}: {}\n",
                a.by, a.detail
            ));
        }
        if let Some(lag) = &self.catalogue_lag {
            out.push_str(&format!(
                "catalogue NOT told where this run's log entries are (the next run does it): {lag}\n"
            ));
        }
        out.push_str(&self.totals());
        out.push_str(&format!(
            "exit {}: {}\n",
            self.exit_code(),
            self.exit_reason()
        ));
        out
    }

    /// One line of totals over the inputs.
    fn totals(&self) -> String {
        let count = |s: InputStatus| self.inputs.iter().filter(|i| i.status == s).count();
        let records: u64 = self.inputs.iter().map(|i| i.records).sum();
        let quarantined: u64 = self.inputs.iter().map(|i| i.quarantined).sum();
        let unreadable: usize = self.inputs.iter().map(|i| i.unreadable.len()).sum();
        format!(
            "totals: {} inputs ({} archived, {} partial, {} already archived, {} failed, {} waiting); \
             {records} records, {quarantined} quarantined, {unreadable} unreadable parts\n",
            self.inputs.len(),
            count(InputStatus::Archived),
            count(InputStatus::Partial),
            count(InputStatus::Known),
            count(InputStatus::Failed),
            count(InputStatus::Waiting),
        )
    }

    /// Why [`RunReport::exit_code`] is what it is, in words.
    pub fn exit_reason(&self) -> String {
        let failed: Vec<&InputReport> = self
            .inputs
            .iter()
            .filter(|i| i.status == InputStatus::Failed)
            .collect();
        if let Some(first) = failed.first() {
            return format!(
                "{} input(s) failed; first: {}: {}",
                failed.len(),
                first.path.display(),
                first.error.as_deref().unwrap_or("no reason given")
            );
        }
        let partial: Vec<&InputReport> = self
            .inputs
            .iter()
            .filter(|i| i.status == InputStatus::Partial)
            .collect();
        if let Some(first) = partial.first() {
            let quarantined: u64 = partial.iter().map(|i| i.quarantined).sum();
            let unreadable: usize = partial.iter().map(|i| i.unreadable.len()).sum();
            let cause = first
                .quarantine_reasons
                .first()
                .map(|r| r.reason.clone())
                .or_else(|| first.unreadable.first().cloned())
                .unwrap_or_default();
            return format!(
                "{} input(s) archived only in part ({quarantined} items quarantined, {unreadable} parts unreadable); first cause in {}: {cause}",
                partial.len(),
                first.path.display()
            );
        }
        if let Some(lag) = &self.catalogue_lag {
            return format!(
                "everything archived and logged, but the catalogue lags until the next run: {lag}"
            );
        }
        if let Some(first) = self.attestations.iter().find(|a| !a.ok) {
            return format!(
                "everything archived, but the checkpoint lacks its {} by {}: {}",
                first.kind, first.by, first.detail
            );
        }
        if self.notification.as_ref().is_some_and(|n| !n.sent) {
            return "everything archived, but the report could not be e-mailed".to_owned();
        }
        "everything archived".to_owned()
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

pub(crate) fn write_report(store: &Store, report: &RunReport) -> Result<(), Error> {
    let path = store
        .root
        .join("runs")
        .join(format!("{}.json", report.run_id));
    let value = serde_json::to_value(report).map_err(|e| Error::Internal(e.to_string()))?;
    let mut bytes = jcs::to_canonical(&value);
    bytes.push(b'\n');
    write_atomic(&path, &bytes).map_err(with_path(&path))
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
