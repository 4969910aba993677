//! Signal's plaintext export through the whole pipeline.

use crate::util::{fixture, package_json, read_zip, text, TestStore};

#[test]
fn plaintext_export_is_sealed_with_its_media_and_verifies() {
    let t = TestStore::new();
    let out = t.run(&[&fixture("signal/plaintext-export")]);
    // Two damaged lines are quarantined: archived, with items to look at.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let (package, _) = t.package_of("plaintext-export/main.jsonl");
    let entries = read_zip(&package);
    let meta = package_json(&entries);
    assert_eq!(meta["source_format"], "signal/plaintext-export");
    assert_eq!(meta["counts"]["records"], 10);
    assert_eq!(meta["counts"]["quarantined"], 2);
    assert!(meta["decisions"]
        .as_array()
        .is_some_and(|d| d.iter().any(|d| d["decision"] == "signal-limitations")));
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The photo the legacy backup of [`legacy_backup`] carries.
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 getekend besluit \xff\xd9";

/// The passphrase of [`legacy_backup`], as a user types it.
const PASSPHRASE: &str = "12345 67890 12345 67890 12345 67890";

/// A legacy `.backup` of database version 215: one text message, a photo,
/// a damaged photo, and a blob no row names.
fn legacy_backup() -> spoor_ingest::internal::BackupWriter {
    use spoor_ingest::internal::{BackupWriter, SqlParam as P};
    let passphrase = spoor_ingest::Passphrase::parse(PASSPHRASE).expect("valid");
    let mut w = BackupWriter::new(&passphrase, [7; 16], [8; 32], 1);
    w.database_version(215);
    w.statement("CREATE TABLE recipient (_id INTEGER PRIMARY KEY, aci TEXT, e164 TEXT, system_joined_name TEXT)", vec![]);
    w.statement(
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY, recipient_id INTEGER)",
        vec![],
    );
    w.statement("CREATE TABLE message (_id INTEGER PRIMARY KEY, thread_id INTEGER, from_recipient_id INTEGER, date_sent INTEGER, body TEXT, type INTEGER)", vec![]);
    w.statement("CREATE TABLE attachment (_id INTEGER PRIMARY KEY, message_id INTEGER, content_type TEXT, file_name TEXT)", vec![]);
    w.statement(
        "INSERT INTO recipient VALUES (?, ?, ?, ?)",
        vec![
            P::Integer(2),
            P::Null,
            P::Text("+31612345678".into()),
            P::Text("Bram Jansen".into()),
        ],
    );
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(1), P::Integer(2)],
    );
    w.statement(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            P::Integer(1),
            P::Integer(1),
            P::Integer(2),
            P::Integer(1_709_283_600_000),
            P::Text("Besluit genomen".into()),
            P::Integer(20),
        ],
    );
    // A photo, a damaged photo, and a blob no row names.
    let photo = PHOTO;
    for (id, damaged) in [(7i64, false), (8, true)] {
        w.statement(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                P::Integer(id),
                P::Integer(1),
                P::Integer(2),
                P::Integer(1_709_283_600_000 + id * 1000),
                P::Text(format!("foto {id}")),
                P::Integer(20),
            ],
        );
        w.statement(
            "INSERT INTO attachment VALUES (?, ?, ?, ?)",
            vec![
                P::Integer(id),
                P::Integer(id),
                P::Text("image/jpeg".into()),
                P::Text(format!("IMG_{id}.jpg")),
            ],
        );
        w.attachment(id as u64, photo, damaged);
    }
    w.attachment(99, b"no row names me", false);
    w.end();
    w
}

#[test]
fn legacy_backup_with_the_passphrase_from_a_file_or_the_environment() {
    let t = TestStore::new();
    let w = legacy_backup();
    let photo = PHOTO;
    let backup = t.path("signal-2024-03-01-09-00-00.backup");
    std::fs::write(&backup, w.bytes()).expect("write");
    let secret = t.path("passphrase.txt");
    std::fs::write(&secret, "12345-67890-12345-67890-12345-67890\n").expect("write");

    // Without the passphrase: the original is sealed, the run says why.
    let out = t.run(&[&backup]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("--signal-passphrase-file"),
        "{}",
        text(&out)
    );

    let store = t.store.display().to_string();
    let out = crate::util::spoor(&[
        "run",
        "--store",
        &store,
        "--signal-passphrase-file",
        secret.to_str().expect("utf-8"),
        backup.to_str().expect("utf-8"),
    ]);
    // The damaged photo makes the import partial, saying so (#15).
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("1 attachments are damaged in the backup"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("12345"), "the passphrase never shows");
    let hits = crate::util::spoor(&["search", "--store", &store, "Besluit"]);
    assert!(text(&hits).contains("Bram Jansen"), "{}", text(&hits));
    // The photo is the package's one blob: the damaged one and the one no
    // row names were streamed to staging but nothing references them.
    // The package read with the passphrase (the one without it holds the
    // same original and no records).
    let entries = t
        .packages()
        .iter()
        .map(|p| crate::util::read_zip(p))
        .find(|e| crate::util::package_json(e)["counts"]["records"].as_u64() > Some(0))
        .expect("the package read with the passphrase");
    let blobs: Vec<&str> = entries
        .iter()
        .filter_map(|(name, _)| name.split_once("/data/blobs/sha256/").map(|(_, b)| b))
        .collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(
        blobs[0].ends_with(&crate::util::sha256_hex(photo)),
        "{blobs:?}"
    );
    let meta = crate::util::package_json(&entries);
    let unlinked = meta["decisions"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["decision"] == "signal-unlinked-blobs"))
        .expect("unlinked blobs reported");
    assert_eq!(unlinked["value"]["attachments"], 1);

    // A wrong passphrase from the environment: refused with the reason.
    let other = t.path("other.backup");
    let mut bytes = w.bytes().to_vec();
    bytes.push(0); // another export, same content
    std::fs::write(&other, &bytes).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["run", "--store", &store, other.to_str().expect("utf-8")])
        .env(
            "SPOOR_SIGNAL_PASSPHRASE",
            "00000 00000 00000 00000 00000 00000",
        )
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("wrong passphrase or corrupted file"),
        "{}",
        text(&out)
    );
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = std::fs::read_dir(t.store.join("runs")).expect("runs");
    for report in runs.flatten() {
        let report = std::fs::read_to_string(report.path()).expect("read");
        assert!(
            !report.contains("12345"),
            "the passphrase never reaches a report"
        );
    }
}

/// See: #18. A backup's decrypted database is replayed under the store's
/// private work space, never in the system's temporary folder; a kill
/// leaves it there (owner-only), and the next run removes it.
#[test]
fn r18_decrypted_backup_stays_in_the_store_work_space_and_a_kill_leaves_nothing_elsewhere() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    let t = TestStore::new();
    let backup = t.path("signal-2024-03-01-09-00-00.backup");
    std::fs::write(&backup, legacy_backup().bytes()).expect("write");
    let system_tmp = t.path("system-tmp");
    std::fs::create_dir(&system_tmp).expect("mkdir");
    let run = |kill: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_spoor"));
        command
            .args(["run", "--store"])
            .arg(&t.store)
            .arg(&backup)
            .env("SPOOR_SIGNAL_PASSPHRASE", PASSPHRASE)
            .env("TMPDIR", &system_tmp);
        if let Some(point) = kill {
            command.env("SPOOR_KILL_AT", point);
        }
        command.output().expect("spoor runs")
    };
    let killed = run(Some("signal-replayed"));
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(
        std::fs::read_dir(&system_tmp).expect("read").count(),
        0,
        "nothing in the system's temporary folder"
    );
    let work = t.store.join("tmp");
    assert_eq!(mode(&work), 0o700);
    let replays: Vec<_> = std::fs::read_dir(&work)
        .expect("read")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("signal-replay-"))
        })
        .collect();
    assert_eq!(replays.len(), 1, "{replays:?}");
    assert_eq!(mode(&replays[0]), 0o700);
    assert_eq!(mode(&replays[0].join("replay.sqlite")), 0o600);

    let out = run(None);
    // Partial: the backup's one damaged attachment.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(&work).expect("read").count(),
        0,
        "work space emptied"
    );
    assert_eq!(std::fs::read_dir(&system_tmp).expect("read").count(), 0);
}

/// See: #15. A backup with Signal's foreign keys and rows before the rows
/// they reference, and one message row the replay cannot take: archived as
/// partial with that row quarantined, every row accounted for in the
/// package, and the store verifies.
#[test]
fn r15_every_backup_row_is_a_record_or_quarantined() {
    use spoor_ingest::internal::{BackupWriter, SqlParam as P};
    let t = TestStore::new();
    let passphrase = spoor_ingest::Passphrase::parse(PASSPHRASE).expect("valid");
    let mut w = BackupWriter::new(&passphrase, [3; 16], [4; 32], 1);
    w.database_version(230);
    for sql in [
        "CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, date_sent INTEGER NOT NULL, date_received INTEGER NOT NULL, thread_id INTEGER NOT NULL REFERENCES thread (_id) ON DELETE CASCADE, from_recipient_id INTEGER NOT NULL REFERENCES recipient (_id) ON DELETE CASCADE, to_recipient_id INTEGER NOT NULL REFERENCES recipient (_id) ON DELETE CASCADE, type INTEGER NOT NULL, body TEXT)",
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY AUTOINCREMENT, recipient_id INTEGER NOT NULL UNIQUE REFERENCES recipient (_id) ON DELETE CASCADE)",
        "CREATE TABLE recipient (_id INTEGER PRIMARY KEY AUTOINCREMENT, aci TEXT UNIQUE DEFAULT NULL, e164 TEXT UNIQUE DEFAULT NULL, system_joined_name TEXT DEFAULT NULL)",
    ] {
        w.statement(sql, vec![]);
    }
    let insert = "INSERT INTO message VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    for (id, sent, body) in [
        (1, Some(1_709_283_600_000i64), "Besluit: akkoord"),
        (2, None, "zonder tijd"),
        (3, Some(1_709_283_660_000), "Genoteerd"),
    ] {
        w.statement(
            insert,
            vec![
                P::Integer(id),
                sent.map_or(P::Null, P::Integer),
                P::Integer(1_709_283_700_000),
                P::Integer(1),
                P::Integer(2),
                P::Integer(1),
                P::Integer(0x80_0000 | 20),
                P::Text(body.into()),
            ],
        );
    }
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(1), P::Integer(2)],
    );
    w.statement(
        "INSERT INTO recipient VALUES (?, ?, ?, ?)",
        vec![
            P::Integer(2),
            P::Null,
            P::Text("+31612345678".into()),
            P::Text("Bram Jansen".into()),
        ],
    );
    w.end();
    let backup = t.path("signal-2026-01-02-03-04-05.backup");
    std::fs::write(&backup, w.bytes()).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["run", "--store"])
        .arg(&t.store)
        .arg(&backup)
        .env("SPOOR_SIGNAL_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("spoor runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("archived (partial) as signal/android-backup: 2 records, 0 known, 0 duplicates, 1 quarantined"),
        "{}",
        text(&out)
    );
    let (package, _) = t.package_of("signal-2026-01-02-03-04-05.backup");
    let entries = crate::util::read_zip(&package);
    let meta = crate::util::package_json(&entries);
    assert_eq!(
        meta["accounting"],
        serde_json::json!({ "unit": "signal message rows", "read": 3 })
    );
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

/// See: #15. A `SignalBackups` folder archived end to end with the
/// recovery key from a file: its messages and the photo from the media
/// pool are in the package, the store verifies, and the key shows nowhere.
#[test]
fn r15_signal_backups_folder_end_to_end() {
    use spoor_ingest::internal::MessageBackupWriter;
    let t = TestStore::new();
    let key_text =
        "q8wd m3zn 7vkp a2ty x6rc h9bf e4ju n1sg p5lo k0ai t3xw c7vm r2ye b6qn f9uz d4hs";
    let key = spoor_ingest::RecoveryKey::parse(key_text).expect("valid");
    let photo = b"\xff\xd8\xff\xe0 plattegrond \xff\xd9";
    let mut w = MessageBackupWriter::new(1_767_225_600_000);
    w.self_recipient(1);
    w.contact(2, [0x22; 16], 31_687_654_321, "Cees", "Bakker");
    w.chat(1, 2);
    w.text(1, 2, 1_767_225_601_000, "Vergadering verplaatst");
    w.attachment(
        1,
        2,
        1_767_225_602_000,
        "Kaart",
        photo,
        "image/jpeg",
        "kaart.jpg",
        true,
    );
    let root = t.path("SignalBackups");
    w.write_folder(
        &root,
        "signal-backup-2026-01-01-00-00-00",
        &key,
        *b"0123456789abcdef",
    )
    .expect("write");
    let secret = t.path("recovery-key.txt");
    std::fs::write(&secret, format!("{key_text}\n")).expect("write");
    let out = crate::util::spoor(&[
        "run",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--signal-recovery-key-file",
        secret.to_str().expect("utf-8"),
        root.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("archived as signal/message-backup: 2 records"),
        "{}",
        text(&out)
    );
    let package = t.packages().pop().expect("a package");
    let entries = crate::util::read_zip(&package);
    assert!(
        entries
            .iter()
            .any(|(name, _)| name.ends_with(&crate::util::sha256_hex(photo))),
        "the photo is a blob"
    );
    let verify = t.verify();
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    for (name, bytes) in &entries {
        assert!(
            !String::from_utf8_lossy(bytes).contains("q8wd"),
            "the key is in {name}"
        );
    }
    assert!(!text(&out).contains("q8wd"));

    // The same folder with a wrong key from the environment, into another
    // store: kept unread, the run says why.
    let t = TestStore::new();
    let other = t.path("Other");
    w.write_folder(
        &other,
        "signal-backup-2026-01-01-00-00-00",
        &key,
        *b"0123456789abcdef",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["run", "--store"])
        .arg(&t.store)
        .arg(&other)
        .env("SPOOR_SIGNAL_RECOVERY_KEY", "z".repeat(64))
        .output()
        .expect("spoor runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("wrong recovery key"), "{}", text(&out));
}
