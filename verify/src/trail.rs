//! Checking the audit trail (docs/FORMAT.md §11): the Merkle log under
//! `log/` recomputed from its entries and compared with its hash tiles and
//! every kept checkpoint; each checkpoint's signature against the key the
//! auditor gives; the entries against the packages, receipts and runs.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use signed_note::{Note, NoteError, StandardVerifier, VerifierList};
use spoor_normalize::layout::{FixitySeal, IntakeReceipt, LogEntry, RunReportHead, RunSeal};
use spoor_normalize::tiles::{entries_path, tile_path, TILE_WIDTH};
use spoor_normalize::{jcs, Sha256};
use tlog_tiles::checkpoint::Checkpoint;
use tlog_tiles::tile::Tile;
use tlog_tiles::tlog::{node_hash, record_hash, Hash, EMPTY_HASH};

use crate::package::{PackageFacts, RecordLine};
use crate::report::Report;
use crate::spill::scratch_error;
use crate::Error;

/// Whose key the signatures were checked against.
pub(crate) enum TrustedKey<'a> {
    /// A key the auditor obtained out of band.
    Given(&'a str),
    /// The store's own key: proves nothing against an insider.
    StoresOwn,
}

/// A verified checkpoint: size and root.
pub(crate) struct Head {
    pub(crate) size: u64,
    pub(crate) root: Hash,
}

/// What the trail says about the packages, for the store check.
#[derive(Default)]
pub(crate) struct TrailFacts {
    /// Packages that have a `package` entry.
    pub(crate) logged: HashSet<String>,
    /// The intake receipts `intake` entries name (paths in the store).
    pub(crate) receipts: HashSet<String>,
    /// When the last `run` seal's run started (seals that say so).
    pub(crate) last_run_started: Option<jiff::Timestamp>,
    /// Sizes of the checkpoints whose signature and root hold, ascending;
    /// the last is the latest.
    pub(crate) checkpoints: Vec<u64>,
    /// By checkpoint size, when the seal that ends it says its run began
    /// (`started_at`) or its check was made (`checked_at`), in seconds.
    pub(crate) seal_times: BTreeMap<u64, i64>,
}

/// The largest checkpoint size kept in `log/checkpoints/` now: a store
/// check reads the log up to there only, so a run publishing meanwhile
/// does not make it see entries for packages it did not list.
pub(crate) fn kept_size(root: &Path) -> Option<u64> {
    sizes_in(&root.join("log/checkpoints"), "")
        .last_key_value()
        .map(|(size, _)| *size)
}

/// The files of `dir` named `<size><suffix>` (the log's checkpoints and
/// what attests them), by size; an unreadable folder holds none.
pub(crate) fn sizes_in(dir: &Path, suffix: &str) -> BTreeMap<u64, String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|name| Some((name.strip_suffix(suffix)?.parse().ok()?, name)))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the log of the store at `root` up to the checkpoint of size
/// `limit` (or the latest, without one).
/// `reports` are the store's run reports (place, head): the log each run
/// left behind must still be there, not rolled back or rewritten.
pub(crate) fn check_trail(
    root: &Path,
    key: TrustedKey<'_>,
    since: Option<&[u8]>,
    limit: Option<u64>,
    packages: Option<&BTreeMap<String, (String, PackageFacts)>>,
    reports: &[(String, RunReportHead)],
    report: &mut Report,
) -> Result<TrailFacts, Error> {
    let log = root.join("log");
    let key_text = match key {
        TrustedKey::Given(k) => k.trim().to_owned(),
        TrustedKey::StoresOwn => {
            report.notes.push(
                "SIGNATURES CHECKED AGAINST THE STORE'S OWN KEY (log/public-key): this proves nothing \
                 against someone who can write the store; give the key you obtained out of band with --pubkey"
                    .to_owned(),
            );
            match fs::read_to_string(log.join("public-key")) {
                Ok(k) => k.trim().to_owned(),
                Err(e) => {
                    report.problem(
                        "public-key-unreadable",
                        "log/public-key",
                        format!("cannot be read: {e}"),
                    );
                    return Ok(TrailFacts::default());
                }
            }
        }
    };
    let (origin, verifiers) = match (trusted_key(&key_text), key) {
        (Ok(trusted), _) => trusted,
        (Err(e), TrustedKey::Given(_)) => return Err(e),
        (Err(e), TrustedKey::StoresOwn) => {
            report.problem("public-key-unusable", "log/public-key", e.to_string());
            return Ok(TrailFacts::default());
        }
    };
    // A checkpoint the auditor kept must be usable before anything else.
    let since = since
        .map(|bytes| signed_checkpoint(bytes, &origin, &verifiers))
        .transpose()
        .map_err(|reason| Error::Unusable {
            what: "--since checkpoint".to_owned(),
            reason,
        })?;

    // No run has completed yet: nothing to check, nothing covered.
    let kept_any = fs::read_dir(log.join("checkpoints")).is_ok_and(|mut d| d.next().is_some());
    if !kept_any && !log.join("checkpoint").exists() {
        report
            .notes
            .push("the log is empty: no run has completed yet".to_owned());
        return Ok(TrailFacts::default());
    }
    // A key that signed none of the log's checkpoints is the wrong key:
    // said once, not once per checkpoint.
    if let Ok(bytes) = fs::read(log.join("checkpoint")) {
        let unverified = Note::from_bytes(&bytes)
            .is_ok_and(|note| matches!(note.verify(&verifiers), Err(NoteError::UnverifiedNote)));
        if unverified {
            report.problem(
"wrong-key",
                "log/checkpoint",
                format!(
                    "this key does not belong to this log: its checkpoints carry no signature by {origin}'s key {key_text}"
                ),
            );
            return Ok(TrailFacts::default());
        }
    }

    // Every kept checkpoint, by size, each signature checked.
    let mut heads: BTreeMap<u64, Head> = BTreeMap::new();
    let kept = match fs::read_dir(log.join("checkpoints")) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect::<Vec<_>>(),
        Err(e) => {
            report.problem(
                "checkpoint-unreadable",
                "log/checkpoints",
                format!("cannot be read: {e}"),
            );
            return Ok(TrailFacts::default());
        }
    };
    for path in kept {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let place = format!("log/checkpoints/{name}");
        if limit.is_some_and(|limit| name.parse::<u64>().is_ok_and(|size| size > limit)) {
            // Published after this check began.
            continue;
        }
        let Some(head) = read_checkpoint(&path, &place, &origin, &verifiers, report) else {
            continue;
        };
        if name != head.size.to_string() {
            report.problem(
                "checkpoint-misnamed",
                &place,
                format!("holds a checkpoint of size {}, not {name}", head.size),
            );
            continue;
        }
        heads.insert(head.size, head);
    }
    let Some(latest) = read_checkpoint(
        &log.join("checkpoint"),
        "log/checkpoint",
        &origin,
        &verifiers,
        report,
    ) else {
        return Ok(TrailFacts::default());
    };
    let mut latest = latest;
    if let Some(kept) = limit
        .filter(|limit| latest.size > *limit)
        .and_then(|limit| heads.get(&limit))
    {
        // Replaced after this check began: check the store as it was.
        latest = Head {
            size: kept.size,
            root: kept.root,
        };
    }
    match heads
        .iter()
        .next_back()
        .map(|(size, head)| (*size, head.root))
    {
        Some((size, _)) if size == latest.size => {}
        Some((size, root)) if size > latest.size => {
            // A publish interrupted after keeping its checkpoint: every kept
            // checkpoint is still checked, against the entries up to the
            // largest.
            report.notes.push(format!(
                "log/checkpoint (size {}) lags behind log/checkpoints/{size}: a publish was interrupted; \
                 the next run completes it",
                latest.size
            ));
            latest = Head { size, root };
        }
        other => report.problem(
            "checkpoint-rolled-back",
            "log/checkpoint",
            format!(
                "is of size {}, but the largest kept checkpoint is {} (rolled back or not kept)",
                latest.size,
                other.map_or("none".to_owned(), |(size, _)| format!("of size {size}"))
            ),
        ),
    }
    heads.entry(latest.size).or_insert(Head {
        size: latest.size,
        root: latest.root,
    });

    // A checkpoint the auditor kept: the log must have grown from it.
    let kept = since;
    if let Some(old) = &kept {
        if old.size > latest.size {
            report.problem(
"log-rolled-back",
                "--since checkpoint",
                format!(
                    "the log was rolled back: the store's latest checkpoint has size {}, the one you kept has size {}",
                    latest.size, old.size
                ),
            );
        }
    }
    let mut sizes: BTreeSet<u64> = heads.keys().copied().collect();
    sizes.extend(kept.as_ref().map(|k| k.size).filter(|s| *s <= latest.size));
    sizes.extend(
        reports
            .iter()
            .map(|(_, head)| head.log_size)
            .filter(|s| *s <= latest.size),
    );

    // One pass over the entries: the tree and its tiles recomputed, and each
    // entry checked against the store.
    let no_packages = BTreeMap::new();
    let mut entries = EntryChecker::new(root, &heads, packages.unwrap_or(&no_packages));
    let walk = walk_log(&log, latest.size, &sizes, |index, entry| {
        if packages.is_some() {
            entries.entry(index, entry);
        }
    });
    for (place, code, problem) in walk.problems {
        report.problem(code, place, problem);
    }
    if !walk.complete {
        return Ok(TrailFacts::default());
    }
    // Every checkpoint's root must be the root of the same entries; so all
    // are consistent with one another (RFC 6962 §2.1.2 holds by
    // construction).
    let mut checkpoints = Vec::new();
    for head in heads.values() {
        if walk.roots.get(&head.size) == Some(&head.root) {
            checkpoints.push(head.size);
        } else {
            report.problem(
"checkpoint-root-mismatch",
                format!("log/checkpoints/{}", head.size),
                "root does not match the tree recomputed from the log entries (log rewritten, or entries reordered)",
            );
        }
    }
    check_run_reports(root, reports, latest.size, &walk.roots, report);
    if let Some(old) = kept.filter(|k| k.size <= latest.size) {
        if walk.roots.get(&old.size) != Some(&old.root) {
            report.problem(
"log-rewritten",
                "--since checkpoint",
                format!("the log is not consistent with the checkpoint you kept (size {}): it was rewritten", old.size),
            );
        }
    }
    let facts = TrailFacts {
        logged: entries.packages.keys().cloned().collect(),
        receipts: std::mem::take(&mut entries.receipts),
        last_run_started: entries.last_run_started,
        checkpoints,
        seal_times: std::mem::take(&mut entries.seal_times),
    };
    if let Some(packages) = packages {
        entries
            .finish(&heads, &walk.roots, packages, report)
            .map_err(scratch_error)?;
    }
    Ok(facts)
}

/// What one pass over the log found.
struct Walk {
    /// Tree roots at the sizes asked for.
    roots: BTreeMap<u64, Hash>,
    problems: Vec<(String, &'static str, String)>,
    /// False when the entries could not all be read.
    complete: bool,
}

/// Reads entries `0..size` bundle by bundle, handing each to `each`, while
/// recomputing the Merkle tree: the roots at the sizes in `capture`, and
/// every hash tile, compared with the files. Memory stays at one bundle,
/// one tile per level and one hash per level of the tree.
fn walk_log(
    log: &Path,
    size: u64,
    capture: &BTreeSet<u64>,
    mut each: impl FnMut(u64, &[u8]),
) -> Walk {
    let mut walk = Walk {
        roots: BTreeMap::new(),
        problems: Vec::new(),
        complete: true,
    };
    // Perfect subtrees of the tree so far, largest first: (height, root).
    let mut range: Vec<(u32, Hash)> = Vec::new();
    let mut tiles = TileCheck {
        log,
        levels: Vec::new(),
        problems: Vec::new(),
    };
    let mut index = 0u64;
    // One buffer for every bundle.
    let mut bytes = Vec::new();
    for bundle in 0..size.div_ceil(TILE_WIDTH) {
        let width = (size - bundle * TILE_WIDTH).min(TILE_WIDTH);
        let relative = entries_path(bundle, width);
        let place = format!("log/{relative}");
        bytes.clear();
        let read = fs::File::open(log.join(&relative)).and_then(|mut f| f.read_to_end(&mut bytes));
        match read {
            Ok(_) => {}
            Err(e) => {
                walk.problems.push((
                    place,
                    "log-entries-missing",
                    format!("entry bundle missing (log truncated?): {e}"),
                ));
                walk.complete = false;
                return walk;
            }
        }
        let mut rest = bytes.as_slice();
        let mut count = 0;
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len));
            let Some((entry, tail)) = tail.split_at_checked(len) else {
                break;
            };
            rest = tail;
            count += 1;
            each(index, entry);
            let leaf = record_hash(entry);
            tiles.push(0, leaf);
            push_leaf(&mut range, leaf);
            index += 1;
            if capture.contains(&index) {
                walk.roots.insert(index, range_root(&range));
            }
        }
        if !rest.is_empty() || count != width {
            walk.problems.push((
                place,
                "tile-malformed",
                format!(
                    "holds {count} entries and {} stray bytes, not {width} entries",
                    rest.len()
                ),
            ));
            walk.complete = false;
            return walk;
        }
    }
    tiles.finish();
    walk.problems.extend(tiles.problems);
    walk
}

/// Adds a leaf hash to a compact range (the roots of the perfect subtrees
/// of the tree so far, largest first, as `(height, root)`).
fn push_leaf(range: &mut Vec<(u32, Hash)>, leaf: Hash) {
    let (mut height, mut hash) = (0u32, leaf);
    while range.last().is_some_and(|(h, _)| *h == height) {
        let Some((_, left)) = range.pop() else { break };
        hash = node_hash(left, hash);
        height += 1;
    }
    range.push((height, hash));
}

/// The RFC 6962 root of the tree a compact range describes: its subtrees
/// hashed together from the right.
fn range_root(range: &[(u32, Hash)]) -> Hash {
    range
        .iter()
        .rev()
        .map(|(_, h)| *h)
        .reduce(|right, left| node_hash(left, right))
        .unwrap_or(EMPTY_HASH)
}

/// Recomputes hash tiles level by level as leaf hashes arrive, comparing
/// each full tile with its file, and the partial ones at the end.
struct TileCheck<'a> {
    log: &'a Path,
    /// Per tile level: the index of the tile being filled, and its hashes.
    levels: Vec<(u64, Vec<Hash>)>,
    problems: Vec<(String, &'static str, String)>,
}

impl TileCheck<'_> {
    fn push(&mut self, level: usize, hash: Hash) {
        if self.levels.len() <= level {
            self.levels.push((0, Vec::new()));
        }
        let Some((index, hashes)) = self.levels.get_mut(level) else {
            return;
        };
        hashes.push(hash);
        if hashes.len() as u64 == TILE_WIDTH {
            let data: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
            let tile_index = *index;
            *index += 1;
            hashes.clear();
            self.compare(level, tile_index, &data);
            self.push(level + 1, Tile::subtree_hash(&data));
        }
    }

    fn finish(&mut self) {
        let partial: Vec<(usize, u64, Vec<u8>)> = self
            .levels
            .iter()
            .enumerate()
            .filter(|(_, (_, hashes))| !hashes.is_empty())
            .map(|(level, (index, hashes))| {
                (level, *index, hashes.iter().flat_map(|h| h.0).collect())
            })
            .collect();
        for (level, index, data) in partial {
            self.compare(level, index, &data);
        }
    }

    fn compare(&mut self, level: usize, index: u64, expected: &[u8]) {
        let width = expected.len() as u64 / 32;
        let relative = tile_path(u8::try_from(level).unwrap_or(u8::MAX), index, width);
        match fs::read(self.log.join(&relative)) {
            Ok(found) if found == expected => {}
            Ok(_) => self.problems.push((
                format!("log/{relative}"),
                "tile-mismatch",
                "hash tile differs from the hashes of the log entries".to_owned(),
            )),
            Err(e) => self.problems.push((
                format!("log/{relative}"),
                "tile-missing",
                format!("hash tile missing: {e}"),
            )),
        }
    }
}

/// Checks each log entry against the store as the walk hands it over, and
/// the store against the entries at the end.
struct EntryChecker<'a> {
    root: &'a Path,
    heads: &'a BTreeMap<u64, Head>,
    /// The packages of the store, as their own check found them.
    store_packages: &'a BTreeMap<String, (String, PackageFacts)>,
    /// Per package, which of its records the log named so far.
    logged_records: HashMap<String, LoggedRecords>,
    /// The record lines of the package the last record entry named: a
    /// package's entries come together, so one package's are held.
    lines: Option<(String, Cow<'a, [RecordLine]>)>,
    /// The scratch file of record lines could not be read back.
    failed: Option<std::io::Error>,
    /// Logged packages: id → (zip, tag manifest, Payload-Oxum, entry index).
    packages: HashMap<String, (String, String, String, u64)>,
    /// See [`TrailFacts::receipts`].
    receipts: HashSet<String>,
    /// Each run seal: entry index and the previous checkpoint it names.
    runs: Vec<(u64, Option<(u64, String)>)>,
    /// When the last `run` seal that says so began.
    last_run_started: Option<jiff::Timestamp>,
    /// See [`TrailFacts::seal_times`].
    seal_times: BTreeMap<u64, i64>,
    problems: Vec<(String, &'static str, String)>,
}

/// Where the log's record entries stand against one package's records:
/// entries come in line order, so this costs a bit per record, not a map.
struct LoggedRecords {
    /// Lines of `records.jsonl` the log has named.
    seen: Vec<bool>,
    /// The line the next entry is expected at.
    next: usize,
    /// Id → line, built only when entries come out of line order.
    by_id: Option<HashMap<Sha256, usize>>,
}

impl LoggedRecords {
    /// The line of `records` holding the record whose id is written `id`.
    fn line_of(&mut self, records: &[RecordLine], id: &str) -> Option<usize> {
        if records.get(self.next).is_some_and(|r| r.has_id(id)) {
            return Some(self.next);
        }
        let by_id = self.by_id.get_or_insert_with(|| {
            records
                .iter()
                .enumerate()
                .filter_map(|(line, r)| Some((r.id?, line)))
                .collect()
        });
        by_id.get(&Sha256::from_hex(id).ok()?).copied()
    }
}

impl<'a> EntryChecker<'a> {
    fn new(
        root: &'a Path,
        heads: &'a BTreeMap<u64, Head>,
        store_packages: &'a BTreeMap<String, (String, PackageFacts)>,
    ) -> Self {
        EntryChecker {
            root,
            heads,
            store_packages,
            logged_records: HashMap::new(),
            lines: None,
            failed: None,
            packages: HashMap::new(),
            receipts: HashSet::new(),
            runs: Vec::new(),
            last_run_started: None,
            seal_times: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, code: &'static str, index: u64, problem: String) {
        self.problems
            .push((format!("log entry {index}"), code, problem));
    }

    fn entry(&mut self, index: u64, entry: &[u8]) {
        if !jcs::is_canonical(entry) {
            self.problem(
                "log-entry-not-canonical",
                index,
                "not canonical JSON".to_owned(),
            );
        }
        let entry = match serde_json::from_slice::<LogEntry>(entry) {
            Ok(entry) => entry,
            Err(e) => {
                self.problem(
                    "log-entry-malformed",
                    index,
                    format!("not a log entry of docs/FORMAT.md §11: {e}"),
                );
                return;
            }
        };
        match entry {
            LogEntry::Record {
                id,
                hash,
                package_id: package,
            } => {
                let Some((place, facts)) = self.store_packages.get(&package) else {
                    self.problem(
                        "log-record-orphaned",
                        index,
                        format!("record {id} of package {package} is in no package (removed?)"),
                    );
                    return;
                };
                if self.lines.as_ref().is_none_or(|(held, _)| *held != package) {
                    match facts.records.load() {
                        Ok(lines) => self.lines = Some((package.clone(), lines)),
                        Err(e) => {
                            self.failed.get_or_insert(e);
                            return;
                        }
                    }
                }
                let Some((_, records)) = &self.lines else {
                    return;
                };
                let logged = self
                    .logged_records
                    .entry(package.clone())
                    .or_insert_with(|| LoggedRecords {
                        seen: vec![false; records.len()],
                        next: 0,
                        by_id: None,
                    });
                let Some(line) = logged.line_of(records, &id) else {
                    self.problem(
                        "log-record-orphaned",
                        index,
                        format!("record {id} of package {package} is in no package (removed?)"),
                    );
                    return;
                };
                let twice = std::mem::replace(&mut logged.seen[line], true);
                logged.next = line + 1;
                let held = records[line].hash;
                let hashes_to = records[line].hashes_to(&hash);
                if twice {
                    self.problem(
                        "log-record-twice",
                        index,
                        format!("record {id} logged twice"),
                    );
                }
                if !hashes_to {
                    self.problems.push((
                        format!("{place}: data/records.jsonl line {}", line + 1),
                        "log-record-hash-mismatch",
                        format!("record {id} hashes to {held} in {package}, but log entry {index} says {hash} in {package}"),
                    ));
                }
            }
            LogEntry::Package {
                package_id,
                zip_sha256,
                tagmanifest_sha256,
                payload_oxum,
                ..
            } => {
                let fields = (zip_sha256, tagmanifest_sha256, payload_oxum, index);
                if self.packages.insert(package_id.clone(), fields).is_some() {
                    self.problem(
                        "log-package-twice",
                        index,
                        format!("package {package_id} logged twice"),
                    );
                }
            }
            LogEntry::Intake {
                receipt, sha256, ..
            } => {
                let found = fs::read(self.root.join(&receipt))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<IntakeReceipt>(&b).ok());
                self.receipts.insert(receipt.clone());
                match found {
                    Some(r) if r.sha256 == sha256 => {}
                    Some(_) => self.problem(
                        "log-intake-mismatch",
                        index,
                        format!("intake receipt {receipt} differs from the logged SHA-256"),
                    ),
                    None => self.problem(
                        "log-intake-missing",
                        index,
                        format!("intake receipt {receipt} is missing or unreadable"),
                    ),
                }
            }
            // Every publish ends with a seal: a run's, or a recorded fixity
            // check's.
            LogEntry::Run(RunSeal {
                ref previous_checkpoint,
                ref started_at,
                ..
            })
            | LogEntry::Fixity(FixitySeal {
                ref previous_checkpoint,
                checked_at: ref started_at,
                ..
            }) => {
                if !self.heads.contains_key(&(index + 1)) {
                    self.problem(
                        "seal-without-checkpoint",
                        index,
                        format!(
                            "seal without a checkpoint of size {} (the run chain has a gap)",
                            index + 1
                        ),
                    );
                }
                let previous = previous_checkpoint
                    .as_ref()
                    .map(|p| (p.size, p.root.clone()));
                self.runs.push((index, previous));
                if let Ok(started) = started_at.parse::<jiff::Timestamp>() {
                    self.seal_times.insert(index + 1, started.as_second());
                    if matches!(entry, LogEntry::Run(_)) {
                        self.last_run_started = Some(started);
                    }
                }
            }
        }
    }

    fn finish(
        mut self,
        heads: &BTreeMap<u64, Head>,
        roots: &BTreeMap<u64, Hash>,
        packages: &BTreeMap<String, (String, PackageFacts)>,
        report: &mut Report,
    ) -> std::io::Result<()> {
        // The walk is over: its package's lines are not needed any more.
        self.lines = None;
        // The run chain: each seal names the checkpoint the run began from.
        let run_ends: BTreeSet<u64> = self.runs.iter().map(|(index, _)| index + 1).collect();
        let mut previous_end: Option<u64> = None;
        for (index, named) in std::mem::take(&mut self.runs) {
            match (previous_end, named) {
                (None, None) => {}
                (Some(size), Some((named_size, root))) if named_size == size => {
                    if roots.get(&size).map(|h| hex(&h.0)) != Some(root) {
                        self.problem(
                            "seal-chain-broken",
                            index,
                            format!(
                                "previous checkpoint root differs from the tree of size {size}"
                            ),
                        );
                    }
                }
                (expected, named) => self.problem(
                    "seal-chain-broken",
                    index,
                    format!(
                        "names previous checkpoint {}, but the previous run ended {}",
                        named.map_or("none".to_owned(), |(size, _)| format!("of size {size}")),
                        expected.map_or("nowhere (this is the first run)".to_owned(), |s| format!(
                            "at size {s}"
                        ))
                    ),
                ),
            }
            previous_end = Some(index + 1);
        }
        for (place, code, problem) in self.problems.drain(..) {
            report.problem(code, place, problem);
        }
        for size in heads.keys().filter(|s| **s > 0) {
            if !run_ends.contains(size) {
                report.problem(
                    "checkpoint-without-seal",
                    format!("log/checkpoints/{size}"),
                    "does not end at a run or fixity seal",
                );
            }
        }
        for (id, (place, facts)) in packages {
            match self.packages.get(id) {
                // Judged by the store check, which knows when it was sealed.
                None => continue,
                Some((zip, tagmanifest, oxum, index)) => {
                    for (field, logged, found) in [
                        ("zip_sha256", zip, &facts.zip_sha256),
                        ("tagmanifest_sha256", tagmanifest, &facts.tagmanifest_sha256),
                        ("payload_oxum", oxum, &Some(facts.payload_oxum.clone())),
                    ] {
                        if Some(logged) != found.as_ref() {
                            let found = found.as_deref().unwrap_or("missing");
                            report.problem(
                                "log-package-mismatch",
                                place,
                                format!("{field} is {found}, but log entry {index} says {logged}"),
                            );
                        }
                    }
                }
            }
            let seen = self.logged_records.get(id).map(|l| &l.seen);
            if seen.is_some_and(|s| s.len() == facts.records.len() && s.iter().all(|&b| b)) {
                continue;
            }
            let records = match facts.records.load() {
                Ok(records) => records,
                Err(e) => {
                    self.failed.get_or_insert(e);
                    continue;
                }
            };
            for (line, record) in records.iter().enumerate() {
                if seen.is_none_or(|s| s.get(line) != Some(&true)) {
                    report.problem(
                        "log-record-missing",
                        format!("{place}: data/records.jsonl line {}", line + 1),
                        format!("record {} is not in the log", record.id_text()),
                    );
                }
            }
        }
        for (id, (_, _, _, index)) in self.packages {
            if !packages.contains_key(&id) {
                report.problem(
                    "package-deleted",
                    format!("log entry {index}"),
                    format!("package {id} is not in the store (deleted?)"),
                );
            }
        }
        self.failed.map_or(Ok(()), Err)
    }
}

/// The log name and the verifier of a signed-note public key, or a finding.
/// Every run report names the log its run left: a log now smaller than
/// that, or with another root at that size, was rolled back or rewritten
/// (the report outlived it). A run that published after this check began
/// is not counted against it.
fn check_run_reports(
    root: &Path,
    reports: &[(String, RunReportHead)],
    checked: u64,
    roots: &BTreeMap<u64, Hash>,
    report: &mut Report,
) {
    for (place, head) in reports {
        if head.log_size > checked {
            if kept_size(root).is_some_and(|now| now >= head.log_size) {
                continue;
            }
            report.problem(
                "log-behind-run-report",
                place,
                format!(
                    "run {} finished at {} with the log at size {}, but the log's latest checkpoint has size {checked}: the log was rolled back",
                    head.run_id, head.finished_at, head.log_size
                ),
            );
        } else if roots.get(&head.log_size).map(|h| hex(&h.0)) != Some(head.log_root.clone()) {
            report.problem(
                "log-rewritten-after-run",
                place,
                format!(
                    "run {} left the log at size {} with root {}, but the log's tree of that size has another root: rewritten since",
                    head.run_id, head.log_size, head.log_root
                ),
            );
        }
    }
}

/// The first checkpoint of the log `origin` in any text part of the mail
/// `bytes` (its body, or an attached file), decoded as the mail declares.
fn checkpoint_in_mail(bytes: &[u8], origin: &str) -> Option<String> {
    let mail = mailparse::parse_mail(bytes).ok()?;
    let mut parts = vec![&mail];
    while let Some(part) = parts.pop() {
        parts.extend(part.subparts.iter().rev());
        if !part.ctype.mimetype.starts_with("text/") {
            continue;
        }
        if let Some(note) = part
            .get_body()
            .ok()
            .and_then(|text| checkpoint_in_text(&text, origin))
        {
            return Some(note);
        }
    }
    None
}

/// A signed note of the log `origin` inside `text`: its origin line, the
/// lines up to a blank one, the blank line, then its signature lines.
fn checkpoint_in_text(text: &str, origin: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    for start in (0..lines.len()).filter(|&i| lines[i] == origin) {
        let body: Vec<&str> = lines[start..]
            .iter()
            .take_while(|l| !l.is_empty())
            .copied()
            .collect();
        let signatures: Vec<&str> = lines
            .get(start + body.len() + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|l| l.starts_with("\u{2014} "))
            .copied()
            .collect();
        if !signatures.is_empty() {
            return Some(format!(
                "{}\n\n{}\n",
                body.join("\n"),
                signatures.join("\n")
            ));
        }
    }
    None
}

/// The log's origin and a verifier for its key.
///
/// # Errors
/// [`Error::Unusable`] when `key_text` is not a signed-note verifier key.
pub(crate) fn trusted_key(key_text: &str) -> Result<(String, VerifierList), Error> {
    let key_text = key_text.trim();
    let verifier = StandardVerifier::new(key_text).map_err(|e| Error::Unusable {
        what: "public key".to_owned(),
        reason: format!("not a signed-note verifier key: {e}"),
    })?;
    let origin = key_text.split('+').next().unwrap_or("").to_owned();
    Ok((origin, VerifierList::new(vec![Box::new(verifier)])))
}

/// A signed checkpoint of the log `origin`, its signature checked; why
/// not, in words. `bytes` is the checkpoint itself, or an e-mail that
/// carries it (the nightly report: in its text or as an attachment).
pub(crate) fn signed_checkpoint(
    bytes: &[u8],
    origin: &str,
    verifiers: &VerifierList,
) -> Result<Head, String> {
    let is_note = Note::from_bytes(bytes).is_ok();
    if !is_note {
        if let Some(note) = checkpoint_in_mail(bytes, origin) {
            return signed_checkpoint(note.as_bytes(), origin, verifiers);
        }
    }
    let mut report = Report::default();
    parse_checkpoint(bytes, "checkpoint", origin, verifiers, &mut report).ok_or_else(|| {
        report
            .findings
            .into_iter()
            .map(|f| f.problem)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn read_checkpoint(
    path: &Path,
    place: &str,
    origin: &str,
    verifiers: &VerifierList,
    report: &mut Report,
) -> Option<Head> {
    match fs::read(path) {
        Ok(bytes) => parse_checkpoint(&bytes, place, origin, verifiers, report),
        Err(e) => {
            report.problem(
                "checkpoint-unreadable",
                place,
                format!("cannot be read: {e}"),
            );
            None
        }
    }
}

/// Parses a signed checkpoint and checks its signature and origin.
pub(crate) fn parse_checkpoint(
    bytes: &[u8],
    place: &str,
    origin: &str,
    verifiers: &VerifierList,
    report: &mut Report,
) -> Option<Head> {
    let note = match Note::from_bytes(bytes) {
        Ok(n) => n,
        Err(e) => {
            report.problem(
                "checkpoint-malformed",
                place,
                format!("not a signed note: {e}"),
            );
            return None;
        }
    };
    if let Err(e) = note.verify(verifiers) {
        report.problem(
            "checkpoint-signature",
            place,
            format!("signature does not verify against the trusted key: {e}"),
        );
        return None;
    }
    let checkpoint = match Checkpoint::from_bytes(note.text()) {
        Ok(c) => c,
        Err(e) => {
            report.problem(
                "checkpoint-malformed",
                place,
                format!("not a tlog checkpoint: {e}"),
            );
            return None;
        }
    };
    if checkpoint.origin() != origin {
        report.problem(
            "checkpoint-origin",
            place,
            format!(
                "origin {:?} is not the key's log {origin:?}",
                checkpoint.origin()
            ),
        );
    }
    Some(Head {
        size: checkpoint.size(),
        root: *checkpoint.hash(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6962 test vectors of Certificate Transparency's reference
    /// implementation, recomputed the way `check_trail` does.
    #[test]
    fn certificate_transparency_vectors() {
        let text = include_str!("../../fixtures/tlog/rfc6962-ct-vectors.json");
        let value: serde_json::Value = serde_json::from_str(text).expect("vectors are JSON");
        let leaves = value["leaves"].as_array().expect("leaves");
        let roots = value["roots"].as_array().expect("roots");
        assert_eq!(range_root(&[]), EMPTY_HASH);
        let mut range = Vec::new();
        for (n, (leaf, root)) in leaves.iter().zip(roots).enumerate() {
            let leaf = leaf.as_str().expect("hex");
            let bytes: Vec<u8> = (0..leaf.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&leaf[i..i + 2], 16).expect("hex"))
                .collect();
            push_leaf(&mut range, record_hash(&bytes));
            assert_eq!(
                Some(hex(&range_root(&range).0).as_str()),
                root.as_str(),
                "tree of size {}",
                n + 1
            );
        }
    }
}
