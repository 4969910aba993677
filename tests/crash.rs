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
