//! Checking a whole store: every package, every intake receipt, and the
//! catalogue against the packages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;
use spoor_normalize::layout::{IntakeReceipt, RunReportHead};
use spoor_normalize::{catalogue, Sha256};

use crate::attest::{check_attestations, Outsiders};
use crate::package::{check_package, PackageFacts};
use crate::report::Report;
use crate::spill::{scratch_error, Spill};
use crate::trail::{check_trail, kept_size, TrailFacts, TrustedKey};
use crate::Error;

/// What the auditor brings to a store check.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The log's public key (signed-note verifier key string), obtained out
    /// of band. Without it the store's own key is used, which the report
    /// notes loudly: that proves nothing against an insider.
    pub pubkey: Option<String>,
    /// A signed checkpoint kept from an earlier check: the log must have
    /// grown from it (consistency proof), never shrunk or forked.
    pub since: Option<Vec<u8>>,
    /// The certificate(s) of a time-stamping authority, PEM or DER: every
    /// token in `log/timestamps/` must lead to one, and the latest
    /// checkpoint must have one.
    pub tsa_certificates: Option<Vec<u8>>,
    /// Witness verifier keys (C2SP cosignature/v1): their cosignatures in
    /// `log/cosignatures/` must verify, and the latest checkpoint must be
    /// cosigned by `witness_quorum` of them.
    pub witness_keys: Vec<String>,
    /// How many of `witness_keys` must have cosigned the latest
    /// checkpoint; default all.
    pub witness_quorum: Option<usize>,
}

/// Verifies the store at `root` against what the auditor trusts.
///
/// # Errors
/// [`Error::CannotRead`] when `root` is not a readable spoor store.
pub fn verify_store(root: &Path, trust: &Trust) -> Result<Report, Error> {
    let config = root.join("spoor.toml");
    let text = fs::read_to_string(&config).map_err(|e| Error::CannotRead {
        path: config.clone(),
        reason: format!("not a spoor store: {e}"),
    })?;
    let settings: toml::Value = toml::from_str(&text).map_err(|e| Error::CannotRead {
        path: config.clone(),
        reason: e.to_string(),
    })?;
    if settings.get("format").and_then(toml::Value::as_str) != Some("spoor-store/1") {
        return Err(Error::CannotRead {
            path: config,
            reason: "not a spoor-store/1 store".to_owned(),
        });
    }
    let outsiders = Outsiders::new(
        trust.tsa_certificates.as_deref(),
        &trust.witness_keys,
        trust.witness_quorum,
    )?;
    let mut report = Report::default();
    // What a run may change while this check reads is read in the order it
    // is written: the log's size first, then the catalogue (one read
    // transaction), then the packages; so everything the log covers up to
    // that size is in the catalogue and in the folder as listed.
    let writer = writer(root);
    if let Some(writer) = &writer {
        report.notes.push(format!(
            "a spoor process is changing the store ({writer}): checked as of the last published \
             checkpoint; packages sealed since, and the catalogue, are not checked"
        ));
    }
    let limit = kept_size(root);
    // Kept alive while the connection reads a copy (see `open_read_only`).
    let mut _copy = None;
    let catalogue = match writer {
        None => Some(open_catalogue(root, &mut _copy)),
        Some(_) => None,
    };
    // Each package's record facts go to a scratch file once it is checked,
    // so memory does not grow with the store.
    let spill = Spill::new().map_err(scratch_error)?;
    let mut packages: BTreeMap<String, (String, PackageFacts)> = BTreeMap::new();
    for zip in dated_files(root, "packages", "zip", &mut report)? {
        let place = relative(root, &zip);
        let (package_report, facts) = check_package(&zip)?;
        report.absorb(&place, package_report);
        if let Some(mut facts) = facts {
            facts.records.spill_to(&spill).map_err(scratch_error)?;
            packages.insert(facts.package_id.clone(), (place, facts));
        }
    }
    let key = trust
        .pubkey
        .as_deref()
        .map_or(TrustedKey::StoresOwn, TrustedKey::Given);
    let reports = run_reports(root, &mut report);
    // The catalogue is compared while the log is walked; what it says of
    // packages the log does not cover is dropped afterwards.
    let (trail, catalogue) = std::thread::scope(|scope| {
        let packages = &packages;
        let compared =
            catalogue.map(|c| scope.spawn(move || c.map(|c| check_catalogue(&c, packages))));
        let trail = check_trail(
            root,
            key,
            trust.since.as_deref(),
            limit,
            Some(packages),
            &reports,
            &mut report,
        );
        let compared = compared.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the comparing thread failed".to_owned()))
        });
        (trail, compared)
    });
    let trail = trail?;
    check_attestations(
        root,
        &trail.checkpoints,
        &trail.seal_times,
        &outsiders,
        &mut report,
    );
    let received = check_receipts(root, &packages, &trail, &mut report)?;
    check_unlogged(&packages, &trail, &received, &mut report);
    match catalogue {
        Some(Ok(CatalogueCheck {
            failed: Some(e), ..
        })) => return Err(scratch_error(e)),
        Some(Ok(compared)) => compared.add_to(&trail.logged, &mut report),
        Some(Err(e)) => report.problem("catalogue-unreadable", "catalog.sqlite", e),
        None => {}
    }
    Ok(report)
}

/// The run reports in `runs/`, each with its place; one that cannot be read
/// is a problem of its own.
fn run_reports(root: &Path, report: &mut Report) -> Vec<(String, RunReportHead)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(root.join("runs")) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let place = relative(root, &path);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if is_temporary(name) || !name.ends_with(".json") {
            continue;
        }
        match fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<RunReportHead>(&b).map_err(|e| e.to_string()))
        {
            Ok(head) => out.push((place, head)),
            Err(e) => report.problem(
                "run-report-unreadable",
                place,
                format!("run report not readable: {e}"),
            ),
        }
    }
    out
}

/// The process holding the store's lock (docs/FORMAT.md §2), as its lock
/// file names it, when that process is alive; never this process itself.
fn writer(root: &Path) -> Option<String> {
    let bytes = fs::read(root.join("lock")).ok()?;
    let holder: Value = serde_json::from_slice(&bytes).ok()?;
    let pid = holder.get("pid").and_then(Value::as_u64)?;
    let host = holder.get("host").and_then(Value::as_str).unwrap_or("?");
    let this_host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let alive = if host == this_host.trim() {
        pid != u64::from(std::process::id()) && Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Another host's process cannot be looked at: assume it runs.
        true
    };
    alive.then(|| {
        let since = holder
            .get("started_at")
            .and_then(Value::as_str)
            .unwrap_or("?");
        format!("pid {pid}, host {host}, since {since}")
    })
}

/// Packages no log entry covers. Every run logs the packages an
/// interrupted run before it sealed (docs/FORMAT.md §11.1), so one
/// received before the last logged run began should have been logged by
/// it: a problem. Later ones are the tail of an interrupted run: a note.
fn check_unlogged(
    packages: &BTreeMap<String, (String, PackageFacts)>,
    trail: &TrailFacts,
    received: &HashMap<String, jiff::Timestamp>,
    report: &mut Report,
) {
    for (id, (place, _)) in packages {
        if trail.logged.contains(id) {
            continue;
        }
        match (received.get(id), trail.last_run_started) {
            (Some(received), Some(run)) if run > *received => report.problem(
"package-unlogged",
                place,
                format!(
                    "not covered by the log, although a run that began at {run} came after it \
                     was received at {received} and should have logged it; until then it proves \
                     nothing (a `spoor run` logs it)"
                ),
            ),
            _ => report.notes.push(format!(
                "{place}: NOT YET COVERED BY THE LOG: sealed by a run that was interrupted before \
                 publishing (the next run logs it), or put there by hand; until then it proves nothing"
            )),
        }
    }
}

/// Receipts against packages. A receipt whose package is neither in the
/// store nor in the log records an export whose run was interrupted before
/// sealing: a fact to note, not damage. One whose package was logged and is
/// gone is damage (reported by the trail check as a deleted package).
fn check_receipts(
    root: &Path,
    packages: &BTreeMap<String, (String, PackageFacts)>,
    trail: &TrailFacts,
    report: &mut Report,
) -> Result<HashMap<String, jiff::Timestamp>, Error> {
    let mut receipted: HashMap<&str, usize> = HashMap::new();
    let mut received: HashMap<String, jiff::Timestamp> = HashMap::new();
    for path in dated_files(root, "intake", "json", report)? {
        let place = relative(root, &path);
        report.receipts += 1;
        let receipt: IntakeReceipt = match fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                report.problem(
                    "receipt-unreadable",
                    &place,
                    format!("intake receipt not readable: {e}"),
                );
                continue;
            }
        };
        let package_id = receipt.package_id.as_str();
        let Some((package_place, facts)) = packages.get(package_id) else {
            if trail.logged.contains(package_id) {
                report.problem(
                    "receipt-package-missing",
                    &place,
                    format!("package {package_id} named by this receipt is not in the store"),
                );
            } else {
                report.notes.push(format!(
                    "{place}: export received but never sealed into {package_id} (an interrupted run); \
                     it is archived when delivered again"
                ));
            }
            continue;
        };
        *receipted.entry(facts.package_id.as_str()).or_default() += 1;
        // A package comes into the log with one receipt; another one for
        // the same export is from a delivery whose run was interrupted, or
        // from a run still going. (An unlogged package is reported apart.)
        if trail.logged.contains(package_id) && !trail.receipts.contains(&place) {
            report.notes.push(format!(
                "{place}: intake receipt in no log entry: a delivery of the export in \
                 {package_id} whose run was interrupted (the log names another receipt for it), \
                 or a run still going; this receipt proves nothing"
            ));
        }
        if let Ok(at) = receipt.received_at.parse::<jiff::Timestamp>() {
            let earliest = received.entry(package_id.to_owned()).or_insert(at);
            *earliest = (*earliest).min(at);
        }
        if facts.export_sha256.as_deref() != Some(receipt.sha256.as_str()) {
            let held = facts.export_sha256.as_deref().unwrap_or("none");
            report.problem(
                "receipt-mismatch",
                &place,
                format!(
                    "receipt SHA-256 {} differs from the original in {package_place} ({held})",
                    receipt.sha256
                ),
            );
        }
        if facts.export_size != Some(receipt.size) {
            let held = facts
                .export_size
                .map_or("none".to_owned(), |s| s.to_string());
            report.problem(
                "receipt-mismatch",
                &place,
                format!(
                    "receipt size {} differs from the original in {package_place} ({held})",
                    receipt.size
                ),
            );
        }
    }
    for (id, (place, _)) in packages {
        if !receipted.contains_key(id.as_str()) {
            report.problem(
                "receipt-missing",
                place,
                "no intake receipt names this package",
            );
        }
    }
    Ok(received)
}

/// The catalogue, opened read-only in one read transaction, so it stays as
/// it was at this moment; `None` when there is none.
fn open_catalogue(
    root: &Path,
    copy: &mut Option<tempfile::TempDir>,
) -> Result<Option<Connection>, String> {
    let path = root.join("catalog.sqlite");
    if !path.exists() {
        return Ok(None);
    }
    let conn = open_read_only(&path, copy).map_err(|e| format!("cannot be opened: {e}"))?;
    conn.execute_batch("BEGIN; SELECT COUNT(*) FROM packages;")
        .map_err(|e| format!("cannot be read: {e}"))?;
    let format: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| format!("cannot be read: {e}"))?;
    if format != catalogue::FORMAT {
        return Err(format!(
            "catalogue format {format}, where this verifier reads format {} (FORMAT §9); rebuild it with spoor reindex",
            catalogue::FORMAT
        ));
    }
    Ok(Some(conn))
}

/// The catalogue is an index, never the truth: any disagreement with the
/// packages the log covers is a finding, to be repaired with `spoor
/// reindex`. (A package not yet logged may not be catalogued yet either;
/// the next run does both.)
fn check_catalogue(
    conn: &Option<Connection>,
    packages: &BTreeMap<String, (String, PackageFacts)>,
) -> CatalogueCheck {
    let mut check = CatalogueCheck::default();
    let Some(conn) = conn else {
        check
            .rest
            .notes
            .push("no catalogue to compare (catalog.sqlite absent)".to_owned());
        return check;
    };
    let place = "catalog.sqlite";
    // Per package, its catalogue rows in line order against its records,
    // so nothing of the store as a whole is held.
    for (package_id, (package_place, facts)) in packages {
        let report = check.by_package.entry(package_id.clone()).or_default();
        let at = |line: usize| format!("{package_place}: data/records.jsonl line {line}");
        let records = match facts.records.load() {
            Ok(records) => records,
            Err(e) => {
                check.failed = Some(e);
                return check;
            }
        };
        let mut seen = vec![false; records.len()];
        let rows = (|| {
            let number = conn
                .prepare_cached("SELECT number FROM packages WHERE id = ?1")?
                .query_row([package_id], |r| r.get::<_, i64>(0))
                .optional()?;
            // No row at all: what a run leaves whose catalogue failed
            // (its transaction holds the package and all its rows).
            let Some(number) = number else {
                return Ok(false);
            };
            let Some(package_rows) = catalogue::package_rows(number) else {
                return Ok(true);
            };
            let mut rows = conn.prepare_cached(
                "SELECT id, hash, row FROM record_rows WHERE row BETWEEN ?1 AND ?2 ORDER BY row",
            )?;
            let rows = rows.query_map([package_rows.start(), package_rows.end()], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (id, cat_hash, row) = row?;
                let (id, cat_hash) = (digest(&id), digest(&cat_hash));
                let held = usize::try_from(row - package_rows.start())
                    .ok()
                    .and_then(|line| line.checked_sub(1))
                    .filter(|&i| {
                        records
                            .get(i)
                            .is_some_and(|held| id.is_some() && held.id == id)
                    });
                let Some(i) = held else {
                    report.problem("catalogue-stray-row", place, stray_row(id, package_id));
                    continue;
                };
                seen[i] = true;
                let hash = records[i].hash;
                if cat_hash != Some(hash) {
                    report.problem(
                        "catalogue-mismatch",
                        at(i + 1),
                        format!(
                            "record {} hashes to {hash} in {package_id}, but the catalogue says {} in {package_id}",
                            digest_text(id),
                            digest_text(cat_hash)
                        ),
                    );
                }
            }
            Ok::<_, rusqlite::Error>(true)
        })();
        match rows {
            Ok(true) => {}
            Ok(false) => {
                report.notes.push(format!(
                    "package {package_id} is logged but not in the catalogue: a run failed \
                     before its catalogue committed (the next run adds it; `spoor reindex` \
                     rebuilds the catalogue); until then search does not find its records"
                ));
                continue;
            }
            Err(e) => {
                check.rest.problem(
                    "catalogue-unreadable",
                    place,
                    format!("records table unreadable: {e}"),
                );
                return check;
            }
        }
        for (i, record) in records.iter().enumerate() {
            if !seen[i] {
                report.problem(
                    "catalogue-missing-record",
                    at(i + 1),
                    format!(
                        "record {} is missing from the catalogue (run spoor reindex)",
                        record.id_text()
                    ),
                );
            }
        }
    }
    // Rows of a package the store does not hold, or of no package at all:
    // one look per package number met.
    let strays = (|| {
        let mut next =
            conn.prepare("SELECT row FROM record_rows WHERE row >= ?1 ORDER BY row LIMIT 1")?;
        let mut named = conn.prepare("SELECT id FROM packages WHERE number = ?1")?;
        let mut ids =
            conn.prepare("SELECT id FROM record_rows WHERE row BETWEEN ?1 AND ?2 ORDER BY row")?;
        let mut from = i64::MIN;
        while let Some(row) = next.query_row([from], |r| r.get::<_, i64>(0)).optional()? {
            let (number, _) = catalogue::row_place(row);
            let package = named
                .query_row([number], |r| r.get::<_, String>(0))
                .optional()?;
            // A number made from a row: its rows are within SQLite's integers.
            let Some(rows) = catalogue::package_rows(number) else {
                break;
            };
            if package.as_ref().is_none_or(|p| !packages.contains_key(p)) {
                let package = package.unwrap_or_else(|| {
                    format!("package number {number}, which the catalogue's packages table does not have")
                });
                for id in ids.query_map([rows.start(), rows.end()], |r| r.get::<_, Vec<u8>>(0))? {
                    let id = digest(&id?);
                    check
                        .rest
                        .problem("catalogue-stray-row", place, stray_row(id, &package));
                }
            }
            match rows.end().checked_add(1) {
                Some(after) => from = after,
                None => break,
            }
        }
        Ok::<_, rusqlite::Error>(())
    })();
    if let Err(e) = strays {
        check.rest.problem(
            "catalogue-unreadable",
            place,
            format!("records table unreadable: {e}"),
        );
    }
    check
}

/// A catalogue blob as a SHA-256 digest; `None` when it is not 32 bytes.
fn digest(blob: &[u8]) -> Option<Sha256> {
    <[u8; 32]>::try_from(blob).ok().map(Sha256::from_bytes)
}

fn digest_text(digest: Option<Sha256>) -> String {
    digest.map_or_else(|| "(not a 32-byte digest)".to_owned(), |d| d.to_hex())
}

/// What comparing the catalogue found: per package, and the rest (rows of
/// packages the store does not hold, a catalogue that cannot be read).
#[derive(Default)]
struct CatalogueCheck {
    by_package: BTreeMap<String, Report>,
    rest: Report,
    /// The scratch file of record facts could not be read back.
    failed: Option<std::io::Error>,
}

impl CatalogueCheck {
    /// Adds the findings and notes of the packages in `logged` and the rest, in
    /// package order.
    fn add_to(self, logged: &HashSet<String>, report: &mut Report) {
        for (package_id, found) in self.by_package {
            if logged.contains(&package_id) {
                report.findings.extend(found.findings);
                report.notes.extend(found.notes);
            }
        }
        report.findings.extend(self.rest.findings);
        report.notes.extend(self.rest.notes);
    }
}

/// A catalogue row that no package's records.jsonl holds.
fn stray_row(id: Option<Sha256>, package: &str) -> String {
    let id = digest_text(id);
    format!("catalogue lists record {id} in {package}, but no package holds it")
}

/// Opens the catalogue without writing anything, even on read-only media
/// (an auditor's copy): SQLite in WAL mode wants to create its shared-memory
/// file, so when a plain read-only open cannot read, the database is opened
/// as immutable (when no write-ahead log is pending) or read from a copy.
fn open_read_only(
    path: &Path,
    copy: &mut Option<tempfile::TempDir>,
) -> rusqlite::Result<Connection> {
    let readable = |conn: Connection| {
        conn.query_row("SELECT COUNT(*) FROM packages", [], |_| Ok(()))
            .map(|()| conn)
    };
    let first =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(readable);
    if first.is_ok() {
        return first;
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let pending = fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if !pending {
        let uri = format!("file:{}?immutable=1", path.display());
        return Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .and_then(readable);
    }
    let dir =
        tempfile::tempdir().map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let copied = dir.path().join("catalog.sqlite");
    let copy_error = |e: std::io::Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
    fs::copy(path, &copied).map_err(copy_error)?;
    fs::copy(&wal, dir.path().join("catalog.sqlite-wal")).map_err(copy_error)?;
    let conn =
        Connection::open_with_flags(&copied, OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(readable);
    *copy = Some(dir);
    conn
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The files of a `<dir>/YYYY/MM/<name>.<extension>` tree, sorted. Anything
/// else found there (a stray file, an unfinished `.partial`, a folder that is
/// not a year or month) is reported, since the layout is part of the format.
fn dated_files(
    root: &Path,
    dir: &str,
    extension: &str,
    report: &mut Report,
) -> Result<Vec<PathBuf>, Error> {
    let list = |path: &Path| -> Result<Vec<(String, PathBuf)>, Error> {
        let mut entries = Vec::new();
        let read = match fs::read_dir(path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
            Err(e) => {
                return Err(Error::CannotRead {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        for entry in read {
            let entry = entry.map_err(|e| Error::CannotRead {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            entries.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
        entries.sort();
        Ok(entries)
    };
    let digits = |name: &str, n: usize| name.len() == n && name.bytes().all(|b| b.is_ascii_digit());
    let mut out = Vec::new();
    for (year, year_path) in list(&root.join(dir))? {
        if !(digits(&year, 4) && year_path.is_dir()) {
            report.problem(
                "store-stray-entry",
                relative(root, &year_path),
                format!("unexpected entry in {dir}/ (expected YYYY/MM/)"),
            );
            continue;
        }
        for (month, month_path) in list(&year_path)? {
            if !(digits(&month, 2) && month_path.is_dir()) {
                report.problem(
                    "store-stray-entry",
                    relative(root, &month_path),
                    format!("unexpected entry in {dir}/ (expected YYYY/MM/)"),
                );
                continue;
            }
            for (name, path) in list(&month_path)? {
                if path.is_file() && name.ends_with(&format!(".{extension}")) {
                    out.push(path);
                } else if is_temporary(&name) {
                    report.notes.push(format!(
                        "{}: an unfinished write (of a run killed meanwhile, or in progress); \
                         the next run removes it",
                        relative(root, &path)
                    ));
                } else {
                    report.problem(
                        "store-stray-entry",
                        relative(root, &path),
                        format!("unexpected entry in {dir}/ (expected *.{extension})"),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Whether a file name is a temporary one (`<name>.tmp-<pid>`, docs/FORMAT.md
/// §2): written, then renamed into place.
fn is_temporary(name: &str) -> bool {
    name.rsplit_once(".tmp-")
        .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}
