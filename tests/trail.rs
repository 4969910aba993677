//! The audit trail: tampering with the log, its checkpoints or what it
//! names is caught, each with a specific message.

use std::fs;
use std::path::Path;

use crate::util::{
    copy_dir, entry, fixture, long_chat, read_zip, spoor, text, write_zip, TestStore,
};

/// A store after two runs, and the path of its public key.
fn two_runs() -> TestStore {
    let t = TestStore::new();
    assert_eq!(
        t.run(&[&fixture("email/mbox/mboxo.mbox")]).status.code(),
        Some(0)
    );
    assert_eq!(
        t.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    let out = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(out.0, Some(0), "{}", out.1);
    t
}

/// `spoor verify --store --pubkey --since KEPT` with the store's own key.
fn verify_since(t: &TestStore, kept: &Path) -> std::process::Output {
    let key = t.store.join("log/public-key");
    let store = t.store.to_str().expect("utf-8");
    spoor(&[
        "verify",
        "--store",
        store,
        "--pubkey",
        key.to_str().expect("utf-8"),
        "--since",
        kept.to_str().expect("utf-8"),
    ])
}

fn verify_with_key(t: &TestStore, key: &Path) -> (Option<i32>, String) {
    let out = spoor(&[
        "verify",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--pubkey",
        key.to_str().expect("utf-8"),
    ]);
    (out.status.code(), text(&out))
}

fn assert_caught(t: &TestStore, expected: &[&str]) {
    let key = t.path("trusted.pub");
    if !key.exists() {
        fs::copy(t.store.join("log/public-key"), &key).expect("copy key");
    }
    let (code, output) = verify_with_key(t, &key);
    assert_eq!(code, Some(1), "not caught:\n{output}");
    for e in expected {
        assert!(output.contains(e), "expected {e:?} in:\n{output}");
    }
}

pub(crate) fn bundle(t: &TestStore) -> std::path::PathBuf {
    let dir = t.store.join("log/tile/entries/000.p");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("bundles")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u64>().ok())
    });
    files.pop().expect("a bundle")
}

pub(crate) fn split_entries(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

fn join_entries(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&u16::try_from(e.len()).expect("small").to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

#[test]
fn store_key_is_used_loudly_without_pubkey() {
    let t = two_runs();
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("SIGNATURES CHECKED AGAINST THE STORE'S OWN KEY"),
        "{}",
        text(&out)
    );
}

#[test]
fn log_truncated() {
    let t = two_runs();
    fs::remove_file(bundle(&t)).expect("remove newest bundle");
    assert_caught(&t, &["entry bundle missing (log truncated?)"]);
}

#[test]
fn two_leaves_swapped() {
    let t = two_runs();
    let path = bundle(&t);
    let mut entries = split_entries(&fs::read(&path).expect("bundle"));
    entries.swap(1, 2);
    fs::write(&path, join_entries(&entries)).expect("write");
    assert_caught(
        &t,
        &[
            "root does not match the tree recomputed from the log entries",
            "hash tile differs",
        ],
    );
}

#[test]
fn log_rewritten_and_resigned_with_another_key() {
    let t = two_runs();
    fs::copy(t.store.join("log/public-key"), t.path("trusted.pub")).expect("keep key");
    // Another store, with its own key, archives the same inputs; its log is
    // put in place of this one's.
    let other = TestStore::new();
    other.run(&[&fixture("email/mbox/mboxo.mbox")]);
    other.run(&[&fixture("email/eml/plain.eml")]);
    fs::remove_dir_all(t.store.join("log")).expect("remove log");
    copy_dir(&other.store.join("log"), &t.store.join("log"));
    // Said once, not once per checkpoint. See: #22.
    assert_caught(&t, &["this key does not belong to this log"]);
    let (_, output) = verify_with_key(&t, &t.path("trusted.pub"));
    let problems: Vec<&str> = output
        .lines()
        .filter(|l| !l.starts_with("note:") && !l.contains("PROBLEMS FOUND"))
        .collect();
    assert_eq!(problems.len(), 1, "{output}");
}

#[test]
fn package_deleted() {
    let t = two_runs();
    let package = t.packages().into_iter().next().expect("a package");
    let id = package
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("id")
        .to_owned();
    fs::remove_file(&package).expect("delete");
    assert_caught(
        &t,
        &[
            &format!("package {id} is not in the store (deleted?)"),
            "is in no package (removed?)",
        ],
    );
}

#[test]
fn record_removed_and_package_rebagged() {
    let t = two_runs();
    let (package, id) = t.package_of("mboxo.mbox");
    // Drop the first record and redo every digest the bag holds, as a careful
    // insider would.
    let mut entries = read_zip(&package);
    let records_name = format!("{id}/data/records.jsonl");
    let records = entries
        .iter_mut()
        .find(|(n, _)| *n == records_name)
        .expect("records");
    let kept: String = String::from_utf8(records.1.clone())
        .expect("utf-8")
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    records.1 = kept.into_bytes();
    let package_name = format!("{id}/data/package.json");
    let pj = entries
        .iter_mut()
        .find(|(n, _)| *n == package_name)
        .expect("package.json");
    let mut value: serde_json::Value = serde_json::from_slice(&pj.1).expect("json");
    value["counts"]["records"] = serde_json::json!(2);
    let mut bytes = spoor_normalize::jcs::to_canonical(&value);
    bytes.push(b'\n');
    pj.1 = bytes;
    rebag(&mut entries, &id);
    write_zip(&package, &entries);
    // The package alone gives it away by its mbox no longer being tiled
    // by its entries (#16); the log gives it away too.
    let alone = spoor(&["verify", package.to_str().expect("utf-8")]);
    assert_eq!(alone.status.code(), Some(1), "{}", text(&alone));
    assert!(
        text(&alone).contains(
            "data/original/mboxo.mbox: bytes 0..198 are in no record, known or quarantine entry"
        ),
        "{}",
        text(&alone)
    );
    assert_caught(&t, &["is in no package (removed?)", "zip_sha256 is"]);
}

/// Recomputes the manifests and Payload-Oxum of a bag held as zip entries.
fn rebag(entries: &mut [(String, Vec<u8>)], id: &str) {
    let sha = |b: &[u8]| spoor_normalize::Sha256::of(b).to_hex();
    let prefix = format!("{id}/");
    let mut manifest = String::new();
    let (mut octets, mut files) = (0usize, 0usize);
    let mut payload: Vec<_> = entries
        .iter()
        .filter(|(n, _)| n.starts_with(&format!("{prefix}data/")))
        .collect();
    payload.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, bytes) in payload {
        manifest.push_str(&format!("{}  {}\n", sha(bytes), &name[prefix.len()..]));
        octets += bytes.len();
        files += 1;
    }
    let set = |entries: &mut [(String, Vec<u8>)], rel: &str, bytes: Vec<u8>| {
        let name = format!("{prefix}{rel}");
        entries
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("tag file")
            .1 = bytes;
    };
    let info_name = format!("{prefix}bag-info.txt");
    let info = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| *n == info_name)
            .expect("bag-info")
            .1
            .clone(),
    )
    .expect("utf-8");
    let info: String = info
        .lines()
        .map(|l| {
            if l.starts_with("Payload-Oxum:") {
                format!("Payload-Oxum: {octets}.{files}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    set(entries, "bag-info.txt", info.clone().into_bytes());
    set(
        entries,
        "manifest-sha256.txt",
        manifest.clone().into_bytes(),
    );
    let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
    let tags = format!(
        "{}  bag-info.txt\n{}  bagit.txt\n{}  manifest-sha256.txt\n",
        sha(info.as_bytes()),
        sha(bagit.as_bytes()),
        sha(manifest.as_bytes())
    );
    set(entries, "tagmanifest-sha256.txt", tags.into_bytes());
}

/// Signs `text` with the test store's private key, as an insider could.
pub(crate) fn sign_with_store_key(t: &TestStore, text: &str) -> Vec<u8> {
    let key = fs::read_to_string(t.path("log.key")).expect("private key");
    let signer = signed_note::StandardSigner::new(key.trim()).expect("signer");
    let mut note = signed_note::Note::new(text.as_bytes(), &[]).expect("note");
    note.add_sigs(&[&signer]).expect("sign");
    note.to_bytes()
}

#[test]
fn validly_signed_checkpoint_with_a_wrong_root() {
    let t = two_runs();
    let latest = fs::read_to_string(t.store.join("log/checkpoint")).expect("checkpoint");
    let mut lines = latest.lines();
    let (origin, size) = (lines.next().expect("origin"), lines.next().expect("size"));
    let forged = format!("{origin}\n{size}\n{}\n", "A".repeat(43) + "=");
    let signed = sign_with_store_key(&t, &forged);
    fs::write(t.store.join("log/checkpoint"), &signed).expect("write");
    fs::write(t.store.join(format!("log/checkpoints/{size}")), &signed).expect("write");
    assert_caught(
        &t,
        &["root does not match the tree recomputed from the log entries"],
    );
}

#[test]
fn rollback_to_an_old_checkpoint_is_caught_with_since() {
    let t = two_runs();
    let kept = t.path("kept-checkpoint");
    fs::copy(t.store.join("log/checkpoint"), &kept).expect("auditor keeps the checkpoint");
    let latest: u64 = fs::read_to_string(&kept)
        .expect("read")
        .lines()
        .nth(1)
        .expect("size")
        .parse()
        .expect("number");
    // Put the store back to the state after the first run.
    let mut sizes: Vec<u64> = fs::read_dir(t.store.join("log/checkpoints"))
        .expect("checkpoints")
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    sizes.sort_unstable();
    let first = sizes[0];
    fs::copy(
        t.store.join(format!("log/checkpoints/{first}")),
        t.store.join("log/checkpoint"),
    )
    .expect("restore");
    fs::remove_file(t.store.join(format!("log/checkpoints/{latest}"))).expect("drop newer");
    let out = verify_since(&t, &kept);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("the log was rolled back: the store's latest checkpoint has size {first}, the one you kept has size {latest}")), "{}", text(&out));
}

#[test]
fn since_accepts_a_log_that_grew() {
    let t = TestStore::new();
    t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    let kept = t.path("kept-checkpoint");
    fs::copy(t.store.join("log/checkpoint"), &kept).expect("keep");
    t.run(&[&fixture("email/eml/plain.eml")]);
    let out = verify_since(&t, &kept);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// An evidence bundle for the first record matching `query`.
fn evidence(t: &TestStore, query: &str) -> (std::path::PathBuf, serde_json::Value) {
    let store = t.store.to_str().expect("utf-8");
    let hits = spoor(&["search", "--store", store, "--json", query]);
    let hits: serde_json::Value = serde_json::from_slice(&hits.stdout).expect("json");
    let id = hits["hits"][0]["id"].as_str().expect("a hit").to_owned();
    let out = spoor(&["prove", "--store", store, &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let path = t.path("evidence.json");
    fs::write(&path, &out.stdout).expect("write bundle");
    (
        path,
        serde_json::from_slice(&out.stdout).expect("bundle is JSON"),
    )
}

fn verify_proof(bundle: &Path, key: &Path) -> (Option<i32>, String) {
    let out = spoor(&[
        "verify-proof",
        bundle.to_str().expect("utf-8"),
        "--pubkey",
        key.to_str().expect("utf-8"),
    ]);
    (out.status.code(), text(&out))
}

#[test]
fn evidence_bundle_proves_a_record_offline() {
    let t = two_runs();
    let (bundle, _) = evidence(&t, "Tweede");
    // Offline: only the bundle and the key, copied away from the store.
    let key = t.path("auditor.pub");
    fs::copy(t.store.join("log/public-key"), &key).expect("key");
    fs::remove_dir_all(&t.store).expect("no store needed");
    let (code, output) = verify_proof(&bundle, &key);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("proven: 0 problems"), "{output}");
}

#[test]
fn evidence_bundle_tampering() {
    let t = two_runs();
    let (bundle, value) = evidence(&t, "Tweede");
    let key = t.store.join("log/public-key");
    let write = |v: &serde_json::Value| {
        let path = t.path("tampered.json");
        fs::write(&path, serde_json::to_vec(v).expect("json")).expect("write");
        path
    };
    let mut edited = value.clone();
    let record = edited["record"]
        .as_str()
        .expect("record")
        .replace("Tweede", "Derde!");
    edited["record"] = serde_json::Value::from(record);
    let (code, output) = verify_proof(&write(&edited), &key);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("record: hashes to"), "{output}");
    assert!(
        output.contains("log_entry: does not name this record"),
        "{output}"
    );

    let mut wrong_proof = value.clone();
    wrong_proof["inclusion_proof"][0] = serde_json::Value::from("A".repeat(43) + "=");
    let (code, output) = verify_proof(&write(&wrong_proof), &key);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("inclusion_proof: does not lead from log entry"),
        "{output}"
    );

    let other = TestStore::new();
    let (code, output) = verify_proof(&bundle, &other.store.join("log/public-key"));
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("signature does not verify against the trusted key"),
        "{output}"
    );
}

#[test]
fn without_the_key_the_store_is_readable_but_not_extendable() {
    let t = two_runs();
    fs::rename(t.path("log.key"), t.path("elsewhere.key")).expect("lose the key");
    let out = t.run(&[&fixture("email/eml/no-date.eml")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot read the signing key"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("the archive stays readable"),
        "{}",
        text(&out)
    );
    assert_eq!(t.verify().status.code(), Some(0), "{}", text(&t.verify()));
    let store = t.store.to_str().expect("utf-8");
    let hits = spoor(&["search", "--store", store, "Tweede"]);
    assert!(text(&hits).contains("Tweede"), "{}", text(&hits));
}

/// Rewrites the whole log from `entries` and signs checkpoints at `sizes`
/// with the store's own key: what an insider holding the key could do.
pub(crate) fn forge_log(t: &TestStore, entries: &[Vec<u8>], sizes: &[u64]) {
    use spoor_normalize::tiles::{entries_path, tile_path};
    use tlog_tiles::tile::Tile;
    use tlog_tiles::tlog::{
        record_hash, stored_hashes_for_record_hash, tree_hash, Hash, HashReader,
    };
    struct Stored(Vec<Hash>);
    impl HashReader for Stored {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::tlog::Error> {
            Ok(indexes
                .iter()
                .map(|i| self.0[usize::try_from(*i).expect("index")])
                .collect())
        }
    }
    let log = t.store.join("log");
    let public_key = fs::read(log.join("public-key")).expect("key");
    fs::remove_dir_all(&log).expect("remove log");
    fs::create_dir_all(log.join("checkpoints")).expect("mkdir");
    fs::write(log.join("public-key"), public_key).expect("key");
    let origin = fs::read_to_string(log.join("public-key"))
        .expect("key")
        .split('+')
        .next()
        .expect("origin")
        .to_owned();
    let write = |rel: &str, bytes: &[u8]| {
        let path = log.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
    };
    let mut stored = Stored(Vec::new());
    let mut previous = 0u64;
    for &size in sizes {
        for n in previous..size {
            let hashes =
                stored_hashes_for_record_hash(n, record_hash(&entries[n as usize]), &stored)
                    .expect("hashes");
            stored.0.extend(hashes);
        }
        for tile in Tile::new_tiles(8, previous, size) {
            let data = tile.read_data(&stored).expect("tile");
            write(
                &tile_path(tile.level(), tile.level_index(), u64::from(tile.width())),
                &data,
            );
        }
        let mut bundle = Vec::new();
        for entry in &entries[..size as usize] {
            bundle.extend_from_slice(&u16::try_from(entry.len()).expect("small").to_be_bytes());
            bundle.extend_from_slice(entry);
        }
        write(&entries_path(0, size), &bundle);
        let root = tree_hash(size, &stored).expect("root");
        let signed = sign_with_store_key(t, &format!("{origin}\n{size}\n{root}\n"));
        write(&format!("checkpoints/{size}"), &signed);
        write("checkpoint", &signed);
        previous = size;
    }
}

#[test]
fn package_deleted_with_its_leaves_caught_by_since() {
    let t = two_runs();
    let kept = t.path("kept-checkpoint");
    fs::copy(t.store.join("log/checkpoint"), &kept).expect("auditor keeps the checkpoint");
    // The insider removes the first package, its receipt and its log
    // entries, and re-signs a clean-looking log with the real key.
    let bundle_bytes = fs::read(bundle(&t)).expect("bundle");
    let entries = split_entries(&bundle_bytes);
    let (package, id) = t.package_of("mboxo.mbox");
    fs::remove_file(&package).expect("delete package");
    for receipt in fs::read_dir(t.store.join("intake"))
        .expect("intake")
        .flatten()
        .flat_map(|y| fs::read_dir(y.path()).expect("y").flatten())
        .flat_map(|m| fs::read_dir(m.path()).expect("m").flatten())
    {
        if fs::read_to_string(receipt.path())
            .expect("receipt")
            .contains(&id)
        {
            fs::remove_file(receipt.path()).expect("delete receipt");
        }
    }
    let mut kept_entries = Vec::new();
    let mut sizes = Vec::new();
    let mut previous: Option<(u64, String)> = None;
    for entry in entries {
        let mut value: serde_json::Value = serde_json::from_slice(&entry).expect("entry");
        if value["package_id"] == id.as_str() {
            continue;
        }
        if value["type"] == "run" {
            value["previous_checkpoint"] = previous.as_ref().map_or(
                serde_json::Value::Null,
                |(size, root)| serde_json::json!({"size": size, "root": root}),
            );
        }
        kept_entries.push(spoor_normalize::jcs::to_canonical(&value));
        if value["type"] == "run" {
            let size = kept_entries.len() as u64;
            forge_log(&t, &kept_entries, &[size]);
            let text = fs::read_to_string(t.store.join("log/checkpoint")).expect("cp");
            let root_b64 = text.lines().nth(2).expect("root").to_owned();
            let root = tlog_tiles::tlog::Hash::parse_hash(&root_b64).expect("hash");
            previous = Some((size, root.0.iter().map(|b| format!("{b:02x}")).collect()));
            sizes.push(size);
        }
    }
    forge_log(&t, &kept_entries, &sizes);
    // The catalogue is rebuilt so that it, too, agrees.
    let store = t.store.to_str().expect("utf-8");
    assert_eq!(spoor(&["reindex", "--store", store]).status.code(), Some(0));
    // The run reports still name the log as it was: the rewrite shows
    // without any checkpoint kept outside. See: #19.
    let (code, output) = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(code, Some(1), "caught by the run reports:\n{output}");
    assert!(
        output.contains("but the log's tree of that size has another root: rewritten since")
            || output.contains("the log was rolled back"),
        "{output}"
    );
    // An insider who also removes the run reports...
    for report in run_reports(&t) {
        fs::remove_file(report).expect("remove run report");
    }
    // ...leaves a store that, alone, looks intact even with the right key...
    let (code, output) = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(
        code,
        Some(0),
        "the forgery should look clean without --since:\n{output}"
    );
    // ...but not against the checkpoint the auditor kept.
    let out = verify_since(&t, &kept);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the log was rolled back") || text(&out).contains("it was rewritten"),
        "{}",
        text(&out)
    );
}

#[test]
fn prove_works_after_the_catalogue_is_rebuilt() {
    let t = two_runs();
    for name in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = fs::remove_file(t.store.join(name));
    }
    let store = t.store.to_str().expect("utf-8");
    assert_eq!(spoor(&["reindex", "--store", store]).status.code(), Some(0));
    let (bundle, value) = evidence(&t, "Tweede");
    assert!(value["leaf_index"].as_u64().is_some_and(|i| i > 0));
    let (code, output) = verify_proof(&bundle, &t.store.join("log/public-key"));
    assert_eq!(code, Some(0), "{output}");
}

pub(crate) fn run_reports(t: &TestStore) -> Vec<std::path::PathBuf> {
    fs::read_dir(t.store.join("runs"))
        .expect("runs/")
        .flatten()
        .map(|e| e.path())
        .collect()
}

fn log_size(t: &TestStore) -> u64 {
    fs::read_to_string(t.store.join("log/checkpoint"))
        .expect("checkpoint")
        .lines()
        .nth(1)
        .expect("size")
        .parse()
        .expect("number")
}

#[test]
fn a_run_interrupted_before_publishing_is_rolled_forward() {
    let t = TestStore::new();
    t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    let before = t.path("log-before");
    copy_dir(&t.store.join("log"), &before);
    let reports_before = run_reports(&t);
    t.run(&[&fixture("email/eml/plain.eml")]);
    // The crash: the second run's package is sealed, but its entries and
    // checkpoint never reached the log, and so it wrote no run report
    // (reports are written after publishing).
    fs::remove_dir_all(t.store.join("log")).expect("remove log");
    copy_dir(&before, &t.store.join("log"));
    for report in run_reports(&t) {
        if !reports_before.contains(&report) {
            fs::remove_file(report).expect("remove the report of the killed run");
        }
    }
    let store = t.store.to_str().expect("utf-8");
    assert_eq!(spoor(&["reindex", "--store", store]).status.code(), Some(0));
    // Verify says the package is not yet covered, loudly, but finds no damage.
    let pending = t.verify();
    assert_eq!(pending.status.code(), Some(0), "{}", text(&pending));
    assert!(
        text(&pending).contains("NOT YET COVERED BY THE LOG"),
        "{}",
        text(&pending)
    );
    // The next run (here with nothing new) completes the trail.
    let out = spoor(&[
        "run",
        "--json",
        "--store",
        store,
        fixture("email/eml/plain.eml").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["rolled_forward"], 1);
    assert_eq!(report["inputs"][0]["status"], "known");
    let (code, output) = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn a_run_interrupted_after_publishing_is_not_logged_twice() {
    let t = two_runs();
    let size = log_size(&t);
    // The crash: the log was published, but the catalogue never heard where
    // the second run's entries are.
    let (_, id) = t.package_of("plain.eml");
    let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
    db.execute(
        "UPDATE packages SET log_index = NULL, first_log_index = NULL WHERE id = ?1",
        [&id],
    )
    .expect("update");
    drop(db);
    let out = spoor(&[
        "run",
        "--json",
        "--store",
        t.store.to_str().expect("utf-8"),
        fixture("email/eml/plain.eml").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["rolled_forward"], 0);
    assert_eq!(log_size(&t), size + 1, "only the new run seal was added");
    let (code, output) = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(code, Some(0), "{output}");
    // And proofs work again for the second run's records.
    let (bundle, _) = evidence(&t, "subsidieaanvraag");
    let (code, output) = verify_proof(&bundle, &t.store.join("log/public-key"));
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn a_recorded_fixity_check_becomes_part_of_the_trail() {
    let t = two_runs();
    let size = log_size(&t);
    let store = t.store.to_str().expect("utf-8");
    let out = spoor(&["verify", "--store", store, "--record"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "fixity entry, new checkpoint of size {}",
            size + 1
        )),
        "{}",
        text(&out)
    );
    let entries = split_entries(&fs::read(bundle(&t)).expect("bundle"));
    let fixity: serde_json::Value =
        serde_json::from_slice(entries.last().expect("entry")).expect("json");
    assert_eq!(fixity["type"], "fixity");
    assert_eq!(fixity["result"], "intact");
    assert_eq!(fixity["previous_checkpoint"]["size"], size);
    // The chain goes on through it: a later run and verify are clean.
    t.run(&[&fixture("email/eml/no-date.eml")]);
    let (code, output) = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(code, Some(0), "{output}");
}

/// The shape of a rollback: the store's log put back to an earlier state
/// (log folder, catalogue and packages of the later run removed), while the
/// later run's report remains. Caught without a checkpoint kept outside.
/// See: #19.
#[test]
fn r19_rollback_is_caught_by_the_run_reports() {
    let t = TestStore::new();
    t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    let before = t.path("log-before");
    copy_dir(&t.store.join("log"), &before);
    t.run(&[&fixture("email/eml/plain.eml")]);
    let (package, _) = t.package_of("plain.eml");
    fs::remove_file(package).expect("remove the later package");
    fs::remove_dir_all(t.store.join("log")).expect("remove log");
    copy_dir(&before, &t.store.join("log"));
    let store = t.store.to_str().expect("utf-8");
    assert_eq!(spoor(&["reindex", "--store", store]).status.code(), Some(0));
    let (code, output) = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(code, Some(1), "rollback not caught:\n{output}");
    assert!(output.contains("the log was rolled back"), "{output}");
    let json = spoor(&["verify", "--store", store, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert!(
        doc["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["code"] == "log-behind-run-report")),
        "{doc}"
    );
}

/// The access points of a package: (line, offset, deflate offset) rows.
pub(crate) fn access_points(package: &Path) -> Vec<[u64; 3]> {
    let entries = read_zip(package);
    let listed = String::from_utf8(entry(&entries, "/records-access.txt").to_vec()).expect("utf-8");
    listed
        .lines()
        .map(|row| {
            let fields: Vec<u64> = row.split(' ').map(|f| f.parse().expect("number")).collect();
            [fields[0], fields[1], fields[2]]
        })
        .collect()
}

/// The record id on line `line` of the store's only package.
pub(crate) fn record_on_line(t: &TestStore, line: u64) -> String {
    let entries = read_zip(&t.packages()[0]);
    let records = std::str::from_utf8(entry(&entries, "data/records.jsonl")).expect("utf-8");
    let record: serde_json::Value =
        serde_json::from_str(records.lines().nth(line as usize - 1).expect("line")).expect("json");
    record["id"].as_str().expect("id").to_owned()
}

#[test]
fn r21_prove_reads_a_record_from_the_access_point_before_it() {
    let t = TestStore::new();
    let out = t.run(&[&long_chat(&t, 3000)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let points = access_points(&t.packages()[0]);
    assert_eq!(points[0], [1, 0, 0]);
    assert!(points.len() >= 4, "{points:?}");
    let entries = read_zip(&t.packages()[0]);
    let records = entry(&entries, "data/records.jsonl");
    for window in points.windows(2) {
        // At least the spacing apart, and each at a line start.
        assert!(window[1][1] - window[0][1] >= 128 << 10, "{points:?}");
        let at = window[1][1] as usize;
        assert_eq!(records[at - 1], b'\n');
        let line = records[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        assert_eq!(line, window[1][0]);
    }
    let key = t.store.join("log/public-key");
    let store = t.store.to_str().expect("utf-8");
    let last = records.iter().filter(|b| **b == b'\n').count() as u64;
    let mut lines = vec![1, last];
    for point in &points[1..] {
        lines.extend([point[0] - 1, point[0], point[0] + 1]);
    }
    for line in lines {
        let id = record_on_line(&t, line);
        let out = spoor(&["prove", "--store", store, &id]);
        assert_eq!(out.status.code(), Some(0), "line {line}: {}", text(&out));
        let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let record = bundle["record"].as_str().expect("record");
        assert!(
            record.contains(&format!("bericht {} over", line - 1)),
            "line {line}: {record}"
        );
        let path = t.path("evidence.json");
        fs::write(&path, &out.stdout).expect("write bundle");
        let (code, output) = verify_proof(&path, &key);
        assert_eq!(code, Some(0), "line {line}: {output}");
    }
    assert_eq!(t.verify().status.code(), Some(0));
}

#[test]
fn r21_a_package_without_access_points_is_read_from_the_start() {
    // As sealed before December 2026: no records-access.txt.
    let t = TestStore::new();
    let out = t.run(&[&long_chat(&t, 3000)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let package = t.packages()[0].clone();
    let entries: Vec<(String, Vec<u8>)> = read_zip(&package)
        .into_iter()
        .filter(|(name, _)| !name.ends_with("/records-access.txt"))
        .map(|(name, bytes)| {
            if name.ends_with("/tagmanifest-sha256.txt") {
                let kept: String = String::from_utf8(bytes)
                    .expect("utf-8")
                    .lines()
                    .filter(|l| !l.ends_with("  records-access.txt"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                (name, kept.into_bytes())
            } else {
                (name, bytes)
            }
        })
        .collect();
    write_zip(&package, &entries);
    let out = spoor(&["verify", package.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let last = entry(&entries, "data/records.jsonl")
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64;
    let id = record_on_line(&t, last);
    let store = t.store.to_str().expect("utf-8");
    let out = spoor(&["prove", "--store", store, &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        bundle["record"]
            .as_str()
            .is_some_and(|r| r.contains(&format!("bericht {} over", last - 1))),
        "{bundle}"
    );
}
