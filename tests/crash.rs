//! Crash safety: `spoor run` killed with SIGKILL at many points leaves a
//! store that verifies, and the next run completes the work with no record
//! lost or written twice.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::util::{text, TestStore};

/// An mbox of `count` distinct messages, every fifth with a 40 KB attachment.
fn big_mbox(count: usize) -> String {
    let mut mbox = String::new();
    let attachment: String = (0..40_000)
        .map(|i| char::from(b'A' + (i * 7 % 26) as u8))
        .collect();
    for n in 0..count {
        let _ = write!(
            mbox,
            "From a@b Mon Apr  1 09:00:00 2024\nMessage-ID: <{n}@crash.example>\nDate: Mon, 01 Apr 2024 09:00:00 +0200\nFrom: a@crash.example\nSubject: bericht {n}\n"
        );
        if n % 5 == 0 {
            let _ = write!(
                mbox,
                "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nTekst {n}.\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n{attachment}\n--b--\n\n"
            );
        } else {
            let _ = write!(
                mbox,
                "\nTekst van bericht {n}, met wat woorden erbij om het echt te maken.\n\n"
            );
        }
    }
    mbox
}

#[test]
fn killed_runs_leave_a_verifiable_store_and_the_next_run_completes() {
    let t = TestStore::new();
    let count = 3000;
    let inputs: Vec<_> = (0..3)
        .map(|i| {
            let path = t.path(&format!("export-{i}.mbox"));
            // Each export is its own set of messages.
            fs::write(
                &path,
                big_mbox(count).replace("@crash.example>", &format!("@crash{i}.example>")),
            )
            .expect("write");
            path
        })
        .collect();
    let store = t.store.to_str().expect("utf-8");
    for delay_ms in [20u64, 80, 200, 400, 700, 1000, 1500, 2200] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spoor"))
            .args(["run", "--store", store])
            .args(&inputs)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spoor starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let verify = t.verify();
        assert_eq!(
            verify.status.code(),
            Some(0),
            "after a kill at {delay_ms} ms:\n{}",
            text(&verify)
        );
    }
    let last = t.run(&inputs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(last.status.code(), Some(0), "{}", text(&last));
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert!(
        text(&verify).contains(&format!("{} records", 3 * count)),
        "every record once:\n{}",
        text(&verify)
    );
    let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
    let (records, distinct): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT id) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!((records, distinct), (3 * count as i64, 3 * count as i64));
    let unlogged: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM packages WHERE log_index IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(unlogged, 0, "every package is in the log");
}

/// The stage boundaries of a run, in the order a run meets them (see
/// `kill_point` and docs/OPERATIONS.md).
const KILL_POINTS: &[&str] = &[
    "locked",
    "staged",
    "before-rename",
    "receipt-written",
    "sealed",
    "placed",
    "logged",
    "catalogued",
    "tiles-written",
    "checkpoint-kept",
    "published",
    "noted",
];

/// See: #18. The real binary stopped by SIGKILL at every stage boundary:
/// the store verifies right after (nothing phantom), and the next run
/// leaves every package and record in the log, provable, and no leftovers.
#[test]
fn r18_a_run_killed_at_every_stage_boundary_is_completed_by_the_next() {
    killed_at_every_point_then_completed(false);
}

/// The same with a recorded fixity check (`verify --record`, which
/// publishes a seal of its own) between the killed run and the next: a
/// package the killed run published but never noted in the catalogue is
/// found behind that seal, not logged a second time (it was:
/// `log-package-twice`, `log-record-twice`).
#[test]
fn a_fixity_check_between_a_killed_run_and_the_next_changes_nothing() {
    killed_at_every_point_then_completed(true);
}

fn killed_at_every_point_then_completed(fixity_between: bool) {
    use std::os::unix::process::ExitStatusExt;
    let fixtures = crate::util::fixture("email/eml");
    for point in KILL_POINTS {
        let t = TestStore::new();
        let first = t.run(&[&fixtures.join("plain.eml")]);
        assert_eq!(first.status.code(), Some(0), "{}", text(&first));
        let inputs = [fixtures.join("html-only.eml"), fixtures.join("no-date.eml")];
        let killed = Command::new(env!("CARGO_BIN_EXE_spoor"))
            .args(["run", "--store"])
            .arg(&t.store)
            .args(&inputs)
            .env("SPOOR_KILL_AT", point)
            .output()
            .expect("spoor runs");
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{point}: the run reaches the point and is killed there: {}",
            text(&killed)
        );
        let verify = t.verify();
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{point}: right after the kill:\n{}",
            text(&verify)
        );

        if fixity_between {
            let recorded = crate::util::spoor(&[
                "verify",
                "--store",
                t.store.to_str().expect("utf-8"),
                "--record",
            ]);
            assert_eq!(
                recorded.status.code(),
                Some(0),
                "{point}: {}",
                text(&recorded)
            );
        }

        let next = t.run(&inputs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
        assert_eq!(next.status.code(), Some(0), "{point}: {}", text(&next));
        let verify = t.verify();
        let said = text(&verify);
        assert_eq!(verify.status.code(), Some(0), "{point}: {said}");
        assert!(
            said.contains(": intact: 3 packages, 3 records"),
            "{point}: {said}"
        );
        assert!(!said.contains("twice"), "{point}: {said}");
        assert!(!said.contains("NOT YET COVERED"), "{point}: {said}");
        // The receipt of a delivery killed before its package was placed
        // stays out of the log (the next run's delivery is logged), and
        // verify says so.
        assert_eq!(
            said.matches("intake receipt in no log entry").count(),
            usize::from(matches!(*point, "receipt-written" | "sealed")),
            "{point}: {said}"
        );
        assert!(!said.contains("unfinished write"), "{point}: {said}");
        let leftovers: Vec<_> = crate::util::files_under(&t.store)
            .into_iter()
            .filter(|p| p.starts_with(t.store.join("tmp")) || p.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");

        let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
        let ids: Vec<String> = db
            .prepare("SELECT id FROM records WHERE log_index IS NOT NULL ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("ids");
        assert_eq!(ids.len(), 3, "{point}: every record's log entry is known");
        for id in &ids {
            let proof =
                crate::util::spoor(&["prove", "--store", t.store.to_str().expect("utf-8"), id]);
            assert_eq!(
                proof.status.code(),
                Some(0),
                "{point}: prove {id}: {}",
                text(&proof)
            );
        }
    }
}

/// A run that fails (not killed) while logging a package, after its record
/// entries and before its `package` entry, publishes none of that
/// package's entries; the next run logs it whole, and verify finds every
/// record logged once (before, the first records were logged twice:
/// `log-record-twice`).
#[test]
fn a_package_whose_log_entries_fail_is_logged_whole_by_the_next_run() {
    let fixtures = crate::util::fixture("email/eml");
    let t = TestStore::new();
    let first = t.run(&[&fixtures.join("plain.eml")]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let inputs = [fixtures.join("html-only.eml"), fixtures.join("no-date.eml")];
    let failed = Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["run", "--store"])
        .arg(&t.store)
        .args(&inputs)
        .env("SPOOR_FAIL_AT", "package-entry")
        .output()
        .expect("spoor runs");
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        text(&failed).contains("the package entry failed"),
        "{}",
        text(&failed)
    );
    let said = verified(&t);
    assert!(said.contains("NOT YET COVERED"), "{said}");

    let next = t.run(&inputs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    assert!(
        text(&next).contains("2 packages of an interrupted run were added to the log"),
        "{}",
        text(&next)
    );
    let said = verified(&t);
    assert!(said.contains(": intact: 3 packages, 3 records"), "{said}");
    assert!(!said.contains("NOT YET COVERED"), "{said}");
}

/// A package whose catalogue transaction failed (so it has no catalogue row
/// at all) while the run logged it and catalogued the next input: verify
/// notes it (not a problem: the archive is whole, the index lags), and the
/// next run catalogues it and finds its log entries before the next
/// package's, instead of logging it again.
#[test]
fn a_logged_package_the_catalogue_missed_is_caught_up_not_logged_again() {
    let fixtures = crate::util::fixture("email/eml");
    let t = TestStore::new();
    let first = t.run(&[
        &fixtures.join("html-only.eml"),
        &fixtures.join("no-date.eml"),
    ]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let (_, missed) = t.package_of("html-only.eml");
    {
        // What a failed catalogue transaction leaves: none of its rows.
        let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
        let number: i64 = db
            .query_row(
                "SELECT number FROM packages WHERE id = ?1",
                [&missed],
                |r| r.get(0),
            )
            .expect("catalogued");
        let rows = spoor_normalize::catalogue::package_rows(number).expect("in range");
        let (low, high) = (*rows.start(), *rows.end());
        for table in [
            "record_ids WHERE row",
            "records_fts WHERE rowid",
            "record_rows WHERE row",
        ] {
            db.execute(
                &format!("DELETE FROM {table} BETWEEN ?1 AND ?2"),
                [low, high],
            )
            .expect("delete");
        }
        db.execute("DELETE FROM packages WHERE number = ?1", [number])
            .expect("delete");
    }
    let said = verified(&t);
    assert!(
        said.contains(&format!(
            "package {missed} is logged but not in the catalogue"
        )),
        "{said}"
    );

    let next = t.run(&[&fixtures.join("plain.eml")]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    let said = verified(&t);
    assert!(said.contains(": intact: 3 packages, 3 records"), "{said}");
    assert!(!said.contains("twice"), "{said}");
    assert!(!said.contains("not in the catalogue"), "{said}");
    let unnoted = records_without_log_index(&t);
    assert_eq!(unnoted, 0, "every record's log entry is known");
}

/// A run whose catalogue cannot be told where its published entries are
/// (a full disk at the very end) still reports every input and writes its
/// report, exit 3 with the reason, instead of stopping with exit 2 and one
/// line; the next run tells the catalogue.
#[test]
fn a_catalogue_that_cannot_be_told_the_log_indexes_is_reported_not_fatal() {
    let fixtures = crate::util::fixture("email/eml");
    let t = TestStore::new();
    let inputs = [fixtures.join("html-only.eml"), fixtures.join("no-date.eml")];
    let lagging = Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["run", "--store"])
        .arg(&t.store)
        .args(&inputs)
        .env("SPOOR_FAIL_AT", "noting")
        .output()
        .expect("spoor runs");
    let said = text(&lagging);
    assert_eq!(lagging.status.code(), Some(3), "{said}");
    assert!(said.contains("html-only.eml: archived"), "{said}");
    assert!(said.contains("no-date.eml: archived"), "{said}");
    assert!(
        said.contains("exit 3: everything archived and logged, but the catalogue lags"),
        "{said}"
    );
    let reports = crate::util::files_under(&t.store.join("runs"));
    assert_eq!(reports.len(), 1, "{reports:?}");
    let lagging_report = reports[0].clone();
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(&lagging_report).expect("report")).expect("JSON");
    assert!(
        report["catalogue_lag"]
            .as_str()
            .is_some_and(|lag| lag.contains("catalog.sqlite")),
        "{report}"
    );
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));

    let next = t.run(&[&fixtures.join("plain.eml")]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    let said = verified(&t);
    assert!(said.contains(": intact: 3 packages, 3 records"), "{said}");
    let unnoted = records_without_log_index(&t);
    assert_eq!(unnoted, 0, "the next run told the catalogue");
    let lag: Option<String> = {
        let reports = crate::util::files_under(&t.store.join("runs"));
        assert_eq!(reports.len(), 2, "{reports:?}");
        let newest = reports
            .iter()
            .find(|r| **r != lagging_report)
            .expect("the next run's report");
        let report: serde_json::Value =
            serde_json::from_slice(&fs::read(newest).expect("report")).expect("JSON");
        report["catalogue_lag"].as_str().map(str::to_owned)
    };
    assert_eq!(lag, None);
}

/// `spoor verify --store`'s output, after asserting it found no problem.
fn verified(t: &TestStore) -> String {
    let verify = t.verify();
    let said = text(&verify);
    assert_eq!(verify.status.code(), Some(0), "{said}");
    said
}

/// How many catalogue records lack their log index.
fn records_without_log_index(t: &TestStore) -> i64 {
    let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
    db.query_row(
        "SELECT COUNT(*) FROM records WHERE log_index IS NULL",
        [],
        |r| r.get(0),
    )
    .expect("count")
}
