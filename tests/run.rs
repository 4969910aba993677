//! Archiving: the demo inputs, determinism, idempotence, reindex and search.

use std::fs;
use std::process::Command;

use crate::util::{fixture, read_zip, sha256_hex, spoor, text, TestStore};

#[test]
fn demo_fixtures_archive_and_verify() {
    let t = TestStore::new();
    let out = t.run(&[&fixture("email")]);
    let output = text(&out);
    // The folder holds quarantinable files on purpose, so the run is partial.
    assert_eq!(out.status.code(), Some(3), "{output}");
    assert!(
        output.contains("archived (partial) as email/folder"),
        "{output}"
    );
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert!(
        text(&verify).contains(": intact: 1 packages"),
        "{}",
        text(&verify)
    );
}

#[test]
fn package_layout_and_original_kept_byte_for_byte() {
    let t = TestStore::new();
    let input = fixture("email/mbox/mboxo.mbox");
    let out = t.run(&[&input]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let packages = t.packages();
    assert_eq!(packages.len(), 1);
    let id = packages[0]
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("id")
        .to_owned();
    let entries = read_zip(&packages[0]);
    let names: Vec<String> = entries.iter().map(|(n, _)| n.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries sorted by name");
    assert!(
        names.iter().all(|n| n.starts_with(&format!("{id}/"))),
        "one top folder: {names:?}"
    );
    let get = |rel: &str| {
        entries
            .iter()
            .find(|(n, _)| *n == format!("{id}/{rel}"))
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| panic!("{rel} missing from {names:?}"))
    };
    assert_eq!(
        get("data/original/mboxo.mbox"),
        fs::read(&input).expect("fixture")
    );
    assert_eq!(
        get("bagit.txt"),
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    let records = String::from_utf8(get("data/records.jsonl")).expect("utf-8");
    assert_eq!(records.lines().count(), 3);
    for line in records.lines() {
        assert!(
            spoor_normalize::jcs::is_canonical(line.as_bytes()),
            "canonical: {line}"
        );
    }
    let package: serde_json::Value =
        serde_json::from_slice(&get("data/package.json")).expect("json");
    assert_eq!(
        package["export"]["sha256"],
        sha256_hex(&fs::read(&input).expect("fixture"))
    );
    assert_eq!(package["decisions"][0]["value"], "mboxo");
    let manifest = String::from_utf8(get("manifest-sha256.txt")).expect("utf-8");
    assert!(manifest.contains(&format!(
        "{}  data/records.jsonl\n",
        sha256_hex(records.as_bytes())
    )));
    let bag_info = String::from_utf8(get("bag-info.txt")).expect("utf-8");
    assert!(bag_info.starts_with("Payload-Oxum: "), "{bag_info}");
    // An intake receipt exists and names the package.
    let receipts: Vec<_> = walkdir(&t.store.join("intake"));
    assert_eq!(receipts.len(), 1);
    let receipt: serde_json::Value =
        serde_json::from_slice(&fs::read(&receipts[0]).expect("receipt")).expect("json");
    assert_eq!(receipt["package_id"], id.as_str());
    assert_eq!(receipt["name"], "mboxo.mbox");
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            out.extend(walkdir(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

#[test]
fn same_input_same_settings_gives_identical_zip_bytes() {
    let a = TestStore::new();
    let b = TestStore::new();
    let input = fixture("email/folder/mixed");
    a.run(&[&input]);
    b.run(&[&input]);
    let (pa, pb) = (a.packages(), b.packages());
    assert_eq!(pa.len(), 1);
    assert_eq!(
        pa[0].file_name(),
        pb[0].file_name(),
        "package id depends only on export and settings"
    );
    assert_eq!(
        fs::read(&pa[0]).expect("zip a"),
        fs::read(&pb[0]).expect("zip b")
    );
}

/// An empty folder (or one of empty folders) is archived, receipt and
/// all, but as partial with the reason, never as "everything archived"
/// with 0 records.
#[test]
fn an_empty_folder_is_archived_as_partial_with_the_reason() {
    let t = TestStore::new();
    let export = t.dir.path().join("export-2026-12");
    fs::create_dir_all(export.join("chats/empty")).expect("folders");
    let run = t.run(&[&export]);
    let said = text(&run);
    assert_eq!(run.status.code(), Some(3), "{said}");
    assert!(said.contains("archived (partial)"), "{said}");
    assert!(
        said.contains("export-2026-12: the folder holds no files"),
        "{said}"
    );
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

#[test]
fn second_run_archives_nothing_new() {
    let t = TestStore::new();
    let input = fixture("email/eml/plain.eml");
    assert_eq!(t.run(&[&input]).status.code(), Some(0));
    let again = t.run(&[&input]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("already archived"),
        "{}",
        text(&again)
    );
    assert_eq!(t.packages().len(), 1);
}

#[test]
fn overlapping_export_adds_only_new_records() {
    let t = TestStore::new();
    t.run(&[&fixture("email/eml/plain.eml")]);
    // The mixed folder holds the same message as plain.eml plus others.
    let out = t.run(&[&fixture("email/folder/mixed")]);
    assert!(text(&out).contains("4 records, 1 known"), "{}", text(&out));
    assert_eq!(t.verify().status.code(), Some(0));
}

/// A catalogue of another format (here, the first one: a `records` table,
/// no `user_version`) is refused before anything changes, verify says so
/// and checks the rest, and `spoor reindex` builds it anew.
#[test]
fn a_catalogue_of_an_older_format_is_refused_until_reindexed() {
    let t = TestStore::new();
    t.run(&[&fixture("email/eml")]);
    let store = t.store.to_str().expect("utf-8");
    let catalogue = t.store.join("catalog.sqlite");
    for name in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = fs::remove_file(t.store.join(name));
    }
    rusqlite::Connection::open(&catalogue)
        .and_then(|db| {
            db.execute_batch(
                "CREATE TABLE packages(id TEXT PRIMARY KEY, path TEXT NOT NULL);
                 CREATE TABLE records(id TEXT PRIMARY KEY, hash TEXT NOT NULL, package_id TEXT NOT NULL, line INTEGER NOT NULL);",
            )
        })
        .expect("old catalogue");
    let log_before = fs::read(t.store.join("log/checkpoint")).expect("checkpoint");
    let mbox = fixture("email/mbox/mboxrd.mbox");
    let out = spoor(&["run", "--store", store, mbox.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("catalogue format 0, where this spoor reads format 2")
            && text(&out).contains("spoor reindex"),
        "{}",
        text(&out)
    );
    assert_eq!(
        fs::read(t.store.join("log/checkpoint")).expect("checkpoint"),
        log_before,
        "nothing was archived"
    );
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify)
            .contains("catalog.sqlite: catalogue format 0, where this verifier reads format 2")
            && text(&verify).contains("19 records, 29 blobs, 1 receipts"),
        "{}",
        text(&verify)
    );
    let reindex = spoor(&["reindex", "--store", store]);
    assert_eq!(reindex.status.code(), Some(0), "{}", text(&reindex));
    let format: i64 = rusqlite::Connection::open(&catalogue)
        .and_then(|db| db.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("format");
    assert_eq!(format, 2);
    assert_eq!(t.verify().status.code(), Some(0), "{}", text(&t.verify()));
    let out = spoor(&["run", "--store", store, mbox.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn reindex_rebuilds_a_lost_catalogue_and_search_finds_records() {
    let t = TestStore::new();
    t.run(&[&fixture("email/eml"), &fixture("email/mbox/mboxrd.mbox")]);
    let store = t.store.to_str().expect("utf-8");
    let before = spoor(&["search", "--store", store, "subsidieaanvraag"]);
    assert!(
        text(&before).contains("Besluit over de subsidieaanvraag"),
        "{}",
        text(&before)
    );
    let records: i64 = rusqlite::Connection::open(t.store.join("catalog.sqlite"))
        .and_then(|db| db.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0)))
        .expect("count");
    for name in ["catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
        let _ = fs::remove_file(t.store.join(name));
    }
    let reindex = spoor(&["reindex", "--store", store]);
    assert_eq!(reindex.status.code(), Some(0), "{}", text(&reindex));
    assert!(
        text(&reindex).contains(&format!("2 packages, {records} records")),
        "{}",
        text(&reindex)
    );
    let after = spoor(&["search", "--store", store, "--json", "Coördinatie"]);
    let document: serde_json::Value = serde_json::from_slice(&after.stdout).expect("json");
    assert_eq!(document["result"], "hits");
    let hits = &document["hits"];
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{}", text(&after));
    assert_eq!(hits[0]["subject"], "Kosten € 50");
    assert_eq!(t.verify().status.code(), Some(0), "{}", text(&t.verify()));
}

#[test]
fn packages_pass_an_independent_bagit_validator_when_available() {
    // bagit-python is installed by .ci/run; elsewhere this test says so and
    // checks nothing more than spoor's own verify.
    let python = std::env::var("SPOOR_BAGIT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import bagit"])
        .output();
    let t = TestStore::new();
    t.run(&[&fixture("email/folder/mixed")]);
    let unpacked = t.path("unpacked");
    for (name, bytes) in read_zip(&t.packages()[0]) {
        let path = unpacked.join(&name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, bytes).expect("write");
    }
    let bag = fs::read_dir(&unpacked)
        .expect("unpacked")
        .next()
        .expect("one bag")
        .expect("entry")
        .path();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install bagit-python"
        );
        eprintln!("bagit-python not installed; skipping the outside validation");
        return;
    }
    let out = std::process::Command::new(&python)
        .args(["-m", "bagit", "--validate"])
        .arg(&bag)
        .output()
        .expect("bagit runs");
    assert!(
        out.status.success(),
        "bagit-python rejects the bag: {}",
        text(&out)
    );
    assert!(text(&out).contains("is valid"), "{}", text(&out));
}

#[test]
fn init_refuses_a_folder_with_files() {
    let t = TestStore::new();
    let out = spoor(&["init", t.store.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not empty"), "{}", text(&out));
    let missing = spoor(&[
        "run",
        "--store",
        t.path("nowhere").to_str().expect("utf-8"),
        "x",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("not a spoor store"),
        "{}",
        text(&missing)
    );
}

fn write_lock(t: &TestStore, pid: u64) {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned();
    let lock = serde_json::json!({"pid": pid, "host": host, "started_at": "2026-11-23T01:00:00Z"});
    fs::write(t.store.join("lock"), lock.to_string()).expect("write lock");
}

/// Holds the store's lock as a run does (docs/FORMAT.md §2), naming this
/// test process, until dropped.
fn hold_lock(t: &TestStore) -> fs::File {
    write_lock(t, u64::from(std::process::id()));
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(t.store.join("lock"))
        .expect("open lock");
    file.lock().expect("flock");
    file
}

#[test]
fn a_second_run_on_the_same_store_stops_naming_the_holder() {
    let t = TestStore::new();
    // This test process stands in for a run that is still going.
    let _held = hold_lock(&t);
    let out = t.run(&[&fixture("email/eml/plain.eml")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let expected = format!(
        "the store is in use by another spoor (pid {}, host",
        std::process::id()
    );
    assert!(text(&out).contains(&expected), "{}", text(&out));
    assert!(
        text(&out).contains("since 2026-11-23T01:00:00Z"),
        "{}",
        text(&out)
    );
    assert!(t.packages().is_empty(), "nothing written");
}

#[test]
fn a_lock_left_by_a_dead_run_is_taken_over() {
    let t = TestStore::new();
    write_lock(&t, 4_000_000_000);
    let out = t.run(&[&fixture("email/eml/plain.eml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !t.store.join("lock").exists(),
        "the lock is released after the run"
    );
    assert_eq!(t.verify().status.code(), Some(0));
}

/// See: #18. A lock file left empty (a full disk) or unreadable never
/// wedges the store: nobody holds it, so it is taken over with a warning.
#[test]
fn r18_an_empty_or_unreadable_lock_file_is_taken_over() {
    let t = TestStore::new();
    for left in [&b""[..], b"{\"pid\": 12", b"\xff\xfe garbage"] {
        fs::write(t.store.join("lock"), left).expect("write lock");
        let out = t.run(&[&fixture("email/eml/plain.eml")]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        if !left.is_empty() {
            assert!(
                text(&out).contains("unreadable") && text(&out).contains("taken over"),
                "{}",
                text(&out)
            );
        }
        assert!(!t.store.join("lock").exists(), "released after the run");
    }
    assert_eq!(t.verify().status.code(), Some(0));
}

/// See: #18. `verify --record` waits for the run that holds the store, so
/// it never records a check of a store half-way through a change; a plain
/// verify meanwhile checks the store as of the last checkpoint and says so.
#[test]
fn r18_verify_during_a_run_waits_to_record_and_otherwise_reads_a_snapshot() {
    let t = TestStore::new();
    assert_eq!(
        t.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    let held = hold_lock(&t);
    let plain = t.verify();
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    assert!(
        text(&plain).contains("a spoor process is changing the store"),
        "{}",
        text(&plain)
    );
    let store = t.store.clone();
    let recording = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_spoor"))
            .args(["verify", "--record", "--store"])
            .arg(&store)
            .args(["--pubkey"])
            .arg(store.join("log/public-key"))
            .output()
            .expect("spoor runs")
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !recording.is_finished(),
        "verify --record waits for the lock"
    );
    drop(held);
    let out = recording.join().expect("verify thread");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("waiting for the run that holds the store"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("recorded in the log"), "{}", text(&out));
    assert!(!t.store.join("lock").exists());
}

#[test]
fn inbox_runs_take_what_is_ready_and_leave_the_rest() {
    let t = TestStore::new();
    let inbox = t.path("inbox");
    fs::create_dir_all(&inbox).expect("inbox");
    fs::copy(fixture("email/eml/plain.eml"), inbox.join("plain.eml")).expect("copy");
    fs::copy(
        fixture("email/mbox/mboxo.mbox"),
        inbox.join("export.mbox.part"),
    )
    .expect("copy");
    let store = t.store.to_str().expect("utf-8");
    let inbox_arg = inbox.to_str().expect("utf-8");
    let run = |settle: &str| {
        spoor(&[
            "run",
            "--store",
            store,
            "--json",
            "--inbox",
            inbox_arg,
            "--settle-seconds",
            settle,
            "--move-done",
        ])
    };

    // Just written: everything waits.
    let first = run("3600");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    let statuses: Vec<&str> = report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["waiting", "waiting"]);
    assert!(t.packages().is_empty());

    // Settled: the finished export is archived and moved; the .part waits.
    let second = run("0");
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).expect("json");
    assert_eq!(report["inputs"][0]["status"], "archived", "{report}");
    assert_eq!(report["inputs"][1]["status"], "waiting");
    assert!(report["inputs"][1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("temporary name")));
    assert!(inbox.join("done/plain.eml").exists());
    assert!(!inbox.join("plain.eml").exists());

    // Delivered again: recognised by its SHA-256, nothing new archived.
    fs::copy(fixture("email/eml/plain.eml"), inbox.join("plain.eml")).expect("copy");
    let third = run("0");
    let report: serde_json::Value = serde_json::from_slice(&third.stdout).expect("json");
    assert_eq!(report["inputs"][0]["status"], "known", "{report}");
    assert!(inbox.join("done/plain.eml.1").exists());
    assert_eq!(t.packages().len(), 1);
    assert_eq!(t.verify().status.code(), Some(0));
}

#[test]
fn json_logs_for_the_nightly_journal() {
    let t = TestStore::new();
    let store = t.store.to_str().expect("utf-8");
    let input = fixture("email/eml/plain.eml");
    let out = spoor(&[
        "--log-format",
        "json",
        "run",
        "--store",
        store,
        input.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let done = events
        .iter()
        .find(|e| e["fields"]["message"] == "input done")
        .expect("an input event");
    assert_eq!(done["fields"]["status"], "archived");
    assert_eq!(done["fields"]["records"], 1);
    assert!(events
        .iter()
        .any(|e| e["fields"]["message"] == "checkpoint published"));
    // Without a terminal and without --log-format, stderr stays quiet.
    let quiet = t.run(&[&fixture("email/eml/no-date.eml")]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}

/// See: #18. Names are bytes: an input whose name is not UTF-8 is archived,
/// reported (its exact bytes in the report) and moved like any other.
#[test]
fn r18_a_name_that_is_not_utf8_is_archived_reported_and_moved() {
    use std::os::unix::ffi::OsStrExt;
    let t = TestStore::new();
    let inbox = t.path("inbox");
    fs::create_dir_all(&inbox).expect("inbox");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.eml");
    fs::copy(fixture("email/eml/plain.eml"), inbox.join(name)).expect("copy");
    let out = t.run_inbox(&inbox);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("caf\u{fffd}.eml: archived as email/eml"),
        "{}",
        text(&out)
    );
    assert!(inbox.join("done").join(name).is_file(), "moved to done/");
    let report = fs::read_dir(t.store.join("runs"))
        .expect("runs")
        .flatten()
        .next()
        .expect("a report");
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(report.path()).expect("read")).expect("json");
    let input = &report["inputs"][0];
    let hex: String = inbox
        .join(name)
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(input["path_bytes"], hex.as_str());
    assert_eq!(input["status"], "archived");
    let receipt = crate::util::files_under(&t.store.join("intake"))
        .into_iter()
        .next()
        .expect("a receipt");
    let receipt: serde_json::Value =
        serde_json::from_slice(&fs::read(receipt).expect("read")).expect("json");
    assert_eq!(receipt["stored_name"], "caf%E9.eml");
    assert_eq!(t.verify().status.code(), Some(0));
}
