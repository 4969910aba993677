//! Checking the audit trail (docs/FORMAT.md §11): the Merkle log under
//! `log/` recomputed from its entries and compared with its hash tiles and
//! every kept checkpoint; each checkpoint's signature against the key the
//! auditor gives; the entries against the packages, receipts and runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;

use serde_json::Value;
use signed_note::{Note, StandardVerifier, VerifierList};
use spoor_normalize::jcs;
use spoor_normalize::tiles::{entries_path, tile_path, TILE_WIDTH};
use tlog_tiles::checkpoint::Checkpoint;
use tlog_tiles::tile::Tile;
use tlog_tiles::tlog::{
    check_tree, prove_tree, record_hash, stored_hashes_for_record_hash, tree_hash, Hash, HashReader,
};

use crate::package::PackageFacts;
use crate::report::Report;

/// Every stored hash of the recomputed tree, in `tlog_tiles`' order.
struct StoredHashes(Vec<Hash>);

impl HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::tlog::Error> {
        indexes
            .iter()
            .map(|i| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| self.0.get(i))
                    .copied()
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(tlog_tiles::tlog::Error::IndexesNotInTree)
    }
}

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

pub(crate) fn check_trail(
    root: &Path,
    key: TrustedKey<'_>,
    since: Option<&[u8]>,
    packages: &BTreeMap<String, (String, PackageFacts)>,
    report: &mut Report,
) {
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
                    report.problem("log/public-key", format!("cannot be read: {e}"));
                    return;
                }
            }
        }
    };
    let verifier = match StandardVerifier::new(&key_text) {
        Ok(v) => v,
        Err(e) => {
            report.problem("public key", format!("not a signed-note verifier key: {e}"));
            return;
        }
    };
    let origin = key_text.split('+').next().unwrap_or("").to_owned();
    let verifiers = VerifierList::new(vec![Box::new(verifier)]);

    // Every kept checkpoint, by size, each signature checked.
    let mut heads: BTreeMap<u64, Head> = BTreeMap::new();
    let kept = match fs::read_dir(log.join("checkpoints")) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect::<Vec<_>>(),
        Err(e) => {
            report.problem("log/checkpoints", format!("cannot be read: {e}"));
            return;
        }
    };
    for path in kept {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let place = format!("log/checkpoints/{name}");
        let Some(head) = read_checkpoint(&path, &place, &origin, &verifiers, report) else {
            continue;
        };
        if name != head.size.to_string() {
            report.problem(
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
        return;
    };
    match heads.keys().next_back() {
        Some(&size) if size == latest.size => {}
        other => report.problem(
            "log/checkpoint",
            format!("is of size {}, but the largest kept checkpoint is {other:?} (rolled back or not kept)", latest.size),
        ),
    }
    heads.entry(latest.size).or_insert(Head {
        size: latest.size,
        root: latest.root,
    });

    // The entries, and the tree recomputed from them.
    let Some(entries) = read_entries(&log, latest.size, report) else {
        return;
    };
    let mut stored = StoredHashes(Vec::new());
    for (n, entry) in entries.iter().enumerate() {
        match stored_hashes_for_record_hash(n as u64, record_hash(entry), &stored) {
            Ok(hashes) => stored.0.extend(hashes),
            Err(e) => {
                report.problem(
                    "log",
                    format!("cannot recompute the tree at entry {n}: {e}"),
                );
                return;
            }
        }
    }
    for head in heads.values() {
        match tree_hash(head.size, &stored) {
            Ok(root) if root == head.root => {}
            Ok(_) => report.problem(
                format!("log/checkpoints/{}", head.size),
                "root does not match the tree recomputed from the log entries (log rewritten, or entries reordered)",
            ),
            Err(e) => report.problem(format!("log/checkpoints/{}", head.size), format!("cannot recompute: {e}")),
        }
    }
    for tile in Tile::new_tiles(8, 0, latest.size) {
        let relative = tile_path(tile.level(), tile.level_index(), u64::from(tile.width()));
        let expected = match tile.read_data(&stored) {
            Ok(d) => d,
            Err(e) => {
                report.problem(format!("log/{relative}"), format!("cannot recompute: {e}"));
                continue;
            }
        };
        match fs::read(log.join(&relative)) {
            Ok(found) if found == expected => {}
            Ok(_) => report.problem(
                format!("log/{relative}"),
                "hash tile differs from the hashes of the log entries",
            ),
            Err(e) => report.problem(format!("log/{relative}"), format!("hash tile missing: {e}")),
        }
    }
    // Consecutive checkpoints: each must extend the one before.
    let sizes: Vec<&Head> = heads.values().collect();
    for pair in sizes.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        let consistent = prove_tree(new.size, old.size, &stored)
            .and_then(|proof| check_tree(&proof, new.size, new.root, old.size, old.root));
        if consistent.is_err() {
            report.problem(
                format!("log/checkpoints/{}", new.size),
                format!(
                    "not consistent with checkpoint {} (the log was rewritten between them)",
                    old.size
                ),
            );
        }
    }
    if let Some(kept) = since {
        check_since(kept, &origin, &verifiers, &latest, &stored, report);
    }
    check_entries(root, &entries, &heads, &stored, packages, report);
}

/// A checkpoint the auditor kept from an earlier visit: the log must have
/// grown from it, never shrunk or forked (RFC 6962 consistency proof).
fn check_since(
    kept: &[u8],
    origin: &str,
    verifiers: &VerifierList,
    latest: &Head,
    stored: &StoredHashes,
    report: &mut Report,
) {
    let place = "--since checkpoint";
    let Some(old) = parse_checkpoint(kept, place, origin, verifiers, report) else {
        return;
    };
    if old.size > latest.size {
        report.problem(
            place,
            format!(
                "the log was rolled back: the store's latest checkpoint has size {}, the one you kept has size {}",
                latest.size, old.size
            ),
        );
        return;
    }
    let consistent = prove_tree(latest.size, old.size, stored)
        .and_then(|proof| check_tree(&proof, latest.size, latest.root, old.size, old.root));
    if let Err(e) = consistent {
        report.problem(
            place,
            format!("the log is not consistent with the checkpoint you kept (size {}): it was rewritten ({e})", old.size),
        );
    }
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
            report.problem(place, format!("cannot be read: {e}"));
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
            report.problem(place, format!("not a signed note: {e}"));
            return None;
        }
    };
    if let Err(e) = note.verify(verifiers) {
        report.problem(
            place,
            format!("signature does not verify against the trusted key: {e}"),
        );
        return None;
    }
    let checkpoint = match Checkpoint::from_bytes(note.text()) {
        Ok(c) => c,
        Err(e) => {
            report.problem(place, format!("not a tlog checkpoint: {e}"));
            return None;
        }
    };
    if checkpoint.origin() != origin {
        report.problem(
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

/// Reads entries 0..size from the entry bundles.
fn read_entries(log: &Path, size: u64, report: &mut Report) -> Option<Vec<Vec<u8>>> {
    let mut entries = Vec::new();
    let bundles = size.div_ceil(TILE_WIDTH);
    for index in 0..bundles {
        let width = (size - index * TILE_WIDTH).min(TILE_WIDTH);
        let relative = entries_path(index, width);
        let place = format!("log/{relative}");
        let bytes = match fs::read(log.join(&relative)) {
            Ok(b) => b,
            Err(e) => {
                report.problem(
                    &place,
                    format!("entry bundle missing (log truncated?): {e}"),
                );
                return None;
            }
        };
        let mut rest = bytes.as_slice();
        let mut count = 0;
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len));
            let Some((entry, tail)) = tail.split_at_checked(len) else {
                report.problem(&place, "entry runs past the end of the bundle");
                return None;
            };
            entries.push(entry.to_vec());
            rest = tail;
            count += 1;
        }
        if !rest.is_empty() || count != width {
            report.problem(
                &place,
                format!(
                    "holds {count} entries and {} stray bytes, not {width} entries",
                    rest.len()
                ),
            );
            return None;
        }
    }
    Some(entries)
}

/// The entries against the store: every record and package of every
/// package is logged and every logged target exists; the run chain.
fn check_entries(
    root: &Path,
    entries: &[Vec<u8>],
    heads: &BTreeMap<u64, Head>,
    stored: &StoredHashes,
    packages: &BTreeMap<String, (String, PackageFacts)>,
    report: &mut Report,
) {
    let mut logged_records: HashMap<String, (String, String, usize)> = HashMap::new();
    let mut logged_packages = HashSet::new();
    let mut previous_run_end: Option<u64> = None;
    for (index, entry) in entries.iter().enumerate() {
        let place = format!("log entry {index}");
        if !jcs::is_canonical(entry) {
            report.problem(&place, "not canonical JSON");
        }
        let Ok(value) = serde_json::from_slice::<Value>(entry) else {
            report.problem(&place, "not JSON");
            continue;
        };
        let text = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        match value.get("type").and_then(Value::as_str) {
            Some("record") => {
                let id = text("id");
                if logged_records
                    .insert(id.clone(), (text("hash"), text("package_id"), index))
                    .is_some()
                {
                    report.problem(&place, format!("record {id} logged twice"));
                }
            }
            Some("package") => {
                let id = text("package_id");
                logged_packages.insert(id.clone());
                let Some((package_place, facts)) = packages.get(&id) else {
                    report.problem(
                        &place,
                        format!("package {id} is not in the store (deleted?)"),
                    );
                    continue;
                };
                for (field, found) in [
                    ("zip_sha256", facts.zip_sha256.clone()),
                    ("tagmanifest_sha256", facts.tagmanifest_sha256.clone()),
                    ("payload_oxum", Some(facts.payload_oxum.clone())),
                ] {
                    if Some(text(field)) != found {
                        report.problem(
                            package_place,
                            format!(
                                "{field} is {found:?}, but log entry {index} says {:?}",
                                text(field)
                            ),
                        );
                    }
                }
            }
            Some("intake") => {
                let receipt = text("receipt");
                match fs::read(root.join(&receipt))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                {
                    Some(r)
                        if r.get("sha256").and_then(Value::as_str)
                            == Some(text("sha256").as_str()) => {}
                    Some(_) => report.problem(
                        &place,
                        format!("intake receipt {receipt} differs from the logged SHA-256"),
                    ),
                    None => report.problem(
                        &place,
                        format!("intake receipt {receipt} is missing or unreadable"),
                    ),
                }
            }
            Some("run") => {
                let end = index as u64 + 1;
                if !heads.contains_key(&end) {
                    report.problem(
                        &place,
                        format!(
                            "run seal without a checkpoint of size {end} (the run chain has a gap)"
                        ),
                    );
                }
                let previous = value.get("previous_checkpoint");
                match (previous_run_end, previous.filter(|p| !p.is_null())) {
                    (None, None) => {}
                    (Some(size), Some(p)) if p.get("size").and_then(Value::as_u64) == Some(size) => {
                        let root = tree_hash(size, stored).map(|h| hex(&h.0)).unwrap_or_default();
                        if p.get("root").and_then(Value::as_str) != Some(root.as_str()) {
                            report.problem(&place, format!("previous checkpoint root differs from the tree of size {size}"));
                        }
                    }
                    (expected, _) => report.problem(
                        &place,
                        format!("names previous checkpoint {:?}, but the previous run ended at size {expected:?}", previous.and_then(|p| p.get("size"))),
                    ),
                }
                previous_run_end = Some(end);
            }
            other => report.problem(&place, format!("unknown entry type {other:?}")),
        }
    }
    for size in heads.keys().filter(|s| **s > 0) {
        if !run_ends_at(entries, *size) {
            report.problem(
                format!("log/checkpoints/{size}"),
                "does not end at a run seal",
            );
        }
    }
    for (id, (package_place, facts)) in packages {
        if !logged_packages.contains(id) {
            report.problem(package_place, "package not in the log");
        }
        for (line, (record_id, hash)) in facts.records.iter().enumerate() {
            match logged_records.remove(record_id) {
                None => report.problem(format!("{package_place}: data/records.jsonl line {}", line + 1), format!("record {record_id} is not in the log")),
                Some((logged_hash, logged_package, index)) if logged_hash != *hash || logged_package != *id => report.problem(
                    format!("{package_place}: data/records.jsonl line {}", line + 1),
                    format!("record {record_id} hashes to {hash} in {id}, but log entry {index} says {logged_hash} in {logged_package}"),
                ),
                Some(_) => {}
            }
        }
    }
    for (id, (_, package, index)) in logged_records {
        report.problem(
            format!("log entry {index}"),
            format!("record {id} of package {package} is in no package (removed?)"),
        );
    }
}

fn run_ends_at(entries: &[Vec<u8>], size: u64) -> bool {
    usize::try_from(size - 1)
        .ok()
        .and_then(|i| entries.get(i))
        .and_then(|e| serde_json::from_slice::<Value>(e).ok())
        .is_some_and(|v| v.get("type").and_then(Value::as_str) == Some("run"))
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
        let leaves: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut stored = StoredHashes(Vec::new());
        for (n, leaf) in leaves.iter().enumerate() {
            let hashes = stored_hashes_for_record_hash(n as u64, record_hash(leaf), &stored)
                .expect("hashes");
            stored.0.extend(hashes);
            assert_eq!(
                hex(&tree_hash(n as u64 + 1, &stored).expect("root").0),
                roots[n]
            );
        }
        for old in 1..8u64 {
            let new =
                Hash::parse_hash(&tree_hash(8, &stored).expect("root").to_string()).expect("hash");
            let old_root = tree_hash(old, &stored).expect("root");
            let proof = prove_tree(8, old, &stored).expect("proof");
            check_tree(&proof, 8, new, old, old_root).expect("consistent");
        }
    }
}
