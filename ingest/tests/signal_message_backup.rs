//! Signal's message backup (the `SignalBackups/` folder Signal Android
//! writes since 2026, and the bare frame stream): fixtures written by the
//! test-only writer (`internal::MessageBackupWriter`), read back field by
//! field; every fault reported, nothing read with a wrong key.

mod common;

use std::fs;
use std::path::Path;

use spoor_ingest::internal::MessageBackupWriter;
use spoor_ingest::{Limits, ReadSummary, RecoveryKey};
use spoor_normalize::Sha256;

use common::Collected;

const KEY: &str = "m2p7 x9qa 4hfk c8r1 zv6t n3bw y5ue j0gd l2sq a7oi k9xm c4tz f6ry b1pn w8ex h3vc";
const BACKUP_ID: [u8; 16] = *b"spoor-backup-id!";
const ACI_BRAM: [u8; 16] = [0x10; 16];
const T: u64 = 1_767_225_600_000;
const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n not really a picture of the bridge";

fn key() -> RecoveryKey {
    RecoveryKey::parse(KEY).expect("valid")
}

/// A chat with Bram: two texts, a photo in the pool, a message a group
/// admin deleted.
fn backup() -> MessageBackupWriter {
    let mut w = MessageBackupWriter::new(T);
    w.account("Anne", "de Vries");
    w.self_recipient(1);
    w.contact(2, ACI_BRAM, 31_612_345_678, "Bram", "Jansen");
    w.chat(1, 2);
    w.text(1, 2, T + 1_000, "Het besluit van vandaag");
    w.attachment(
        1,
        2,
        T + 2_000,
        "De tekening",
        PHOTO,
        "image/png",
        "brug.png",
        true,
    );
    w.admin_deleted(1, 2, T + 3_000, 1);
    w.text(1, 1, T + 4_000, "Dank je");
    w
}

fn read(path: &Path, key: Option<RecoveryKey>) -> (ReadSummary, Collected) {
    let mut options = common::options(Limits::default());
    options.signal_recovery_key = key;
    common::read_options(path, &options)
}

fn texts(c: &Collected) -> Vec<Option<&str>> {
    c.records.iter().map(|r| r.text.as_deref()).collect()
}

/// The folder as Signal writes it: the newest complete snapshot is read, a
/// newer unfinished (`-tmp`) one and an older one are not; the photo comes
/// from the pool, decrypted under its own key.
#[test]
fn r15_signal_backups_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("SignalBackups");
    let mut older = MessageBackupWriter::new(T - 86_400_000);
    older.self_recipient(1);
    older
        .write_folder(
            &root,
            "signal-backup-2025-12-31-00-00-00",
            &key(),
            BACKUP_ID,
        )
        .expect("write");
    backup()
        .write_folder(
            &root,
            "signal-backup-2026-01-01-00-00-00",
            &key(),
            BACKUP_ID,
        )
        .expect("write");
    let mut unfinished = backup();
    unfinished.text(1, 2, T + 9_000, "nog niet af");
    unfinished
        .write_folder(
            &root,
            "signal-backup-2026-01-02-00-00-00-tmp",
            &key(),
            BACKUP_ID,
        )
        .expect("write");

    let (summary, c) = read(&root, Some(key()));
    assert_eq!(summary.format, "signal/message-backup");
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    assert!(c.quarantined.is_empty(), "{:?}", c.quarantined);
    assert_eq!(
        texts(&c),
        [
            Some("Het besluit van vandaag"),
            Some("De tekening"),
            None,
            Some("Dank je")
        ]
    );
    let snapshot = summary
        .decisions
        .iter()
        .find(|d| d["decision"] == "signal-backup-snapshot")
        .expect("the snapshot chosen");
    assert_eq!(
        snapshot["value"]["read"],
        "signal-backup-2026-01-01-00-00-00"
    );
    assert_eq!(
        snapshot["value"]["not_read"],
        serde_json::json!([
            "signal-backup-2025-12-31-00-00-00",
            "signal-backup-2026-01-02-00-00-00-tmp"
        ])
    );
    let first = &c.records[0];
    assert_eq!(first.time.utc.as_deref(), Some("2026-01-01T00:00:01Z"));
    let sender = first.sender.as_ref().expect("sender");
    assert_eq!(sender.address.as_deref(), Some("+31612345678"));
    assert_eq!(sender.name.as_deref(), Some("Bram Jansen"));
    assert_eq!(first.source.locator.frame, Some(5), "BackupInfo is frame 0");
    assert_eq!(
        first.source.locator.path.as_deref(),
        Some("signal-backup-2026-01-01-00-00-00/main")
    );
    let photo = &c.records[1].attachments[0];
    assert_eq!(photo.sha256, Some(Sha256::of(PHOTO)), "{photo:?}");
    assert_eq!(photo.size, Some(PHOTO.len() as u64));
    assert_eq!(photo.name.as_deref(), Some("brug.png"));
    assert!(
        c.blobs.iter().any(|b| b.bytes == PHOTO),
        "the photo's bytes, decrypted"
    );
    let deleted = &c.records[2];
    assert!(deleted.flags.iter().any(|f| f == "admin-deleted"));
    assert_eq!(
        deleted
            .deletion
            .as_ref()
            .and_then(|d| d.deleted_by.as_ref())
            .and_then(|p| p.name.as_deref()),
        Some("Anne de Vries")
    );
    // No key material reaches a record or a decision.
    let all = format!("{:?}{:?}", c.records, summary.decisions);
    assert!(!all.contains("localKey") && !all.contains("mediaRootBackupKey"));
}

/// One snapshot delivered without the pool beside it: its messages are
/// read; its media are recorded as missing, saying why.
#[test]
fn r15_a_snapshot_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("SignalBackups");
    backup()
        .write_folder(
            &root,
            "signal-backup-2026-01-01-00-00-00",
            &key(),
            BACKUP_ID,
        )
        .expect("write");
    let (summary, c) = read(&root.join("signal-backup-2026-01-01-00-00-00"), Some(key()));
    assert_eq!(summary.format, "signal/message-backup");
    assert_eq!(c.records.len(), 4);
    let photo = &c.records[1].attachments[0];
    assert!(photo.missing && photo.sha256.is_none(), "{photo:?}");
    assert!(
        photo.details["missing"]
            .as_str()
            .is_some_and(|m| m.contains("not part of the delivered export")),
        "{photo:?}"
    );
}

/// The bare frame stream, unencrypted (`.binproto`), recognised by content.
#[test]
fn r15_a_bare_frame_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("backup.binproto");
    let mut w = backup();
    // A frame that is not Signal's protobuf: quarantined, the rest read.
    w.raw_frame(b"\xff\xff\xff\xff");
    w.text(1, 2, T + 5_000, "Na de kapotte frame");
    fs::write(&path, w.stream()).expect("write");
    let (summary, c) = read(&path, None);
    assert_eq!(summary.format, "signal/message-backup-stream");
    assert_eq!(c.records.len(), 5, "{:?}", c.quarantined);
    assert_eq!(c.quarantined.len(), 1);
    let q = &c.quarantined[0];
    assert!(q.reason.starts_with("not JSON"), "{}", q.reason);
    assert!(
        String::from_utf8_lossy(&q.raw).contains("frame 9 does not decode"),
        "{:?}",
        q
    );
    assert_eq!(q.locator.frame, Some(9));
}

/// Faults: no key, a wrong key, a cut or altered `main`, a damaged media
/// file, only an unfinished snapshot, the remote form. Nothing is read
/// without a matching tag, and every case says why.
#[test]
fn r15_faults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let make = |name: &str| {
        let root = dir.path().join(name).join("SignalBackups");
        backup()
            .write_folder(
                &root,
                "signal-backup-2026-01-01-00-00-00",
                &key(),
                BACKUP_ID,
            )
            .expect("write");
        root
    };
    let main = |root: &Path| root.join("signal-backup-2026-01-01-00-00-00/main");
    let refused = |root: &Path, key: Option<RecoveryKey>, expected: &str| {
        let mut options = common::options(Limits::default());
        options.signal_recovery_key = key;
        let mut sink = Collected::default();
        let error = spoor_ingest::read_export(root, &options, &mut sink)
            .map(|_| ())
            .expect_err("refused");
        assert!(error.to_string().contains(expected), "{error}");
        assert!(sink.records.is_empty());
    };

    let root = make("no-key");
    refused(&root, None, "--signal-recovery-key-file");
    let other = RecoveryKey::parse(&"a".repeat(64)).expect("valid");
    refused(
        &root,
        Some(other),
        "main: its tag does not match (wrong recovery key",
    );

    let root = make("cut");
    let bytes = fs::read(main(&root)).expect("read");
    fs::write(main(&root), &bytes[..bytes.len() - 40]).expect("write");
    refused(&root, Some(key()), "its tag does not match");

    let root = make("altered");
    let mut bytes = fs::read(main(&root)).expect("read");
    bytes[40] ^= 1;
    fs::write(main(&root), &bytes).expect("write");
    refused(&root, Some(key()), "its tag does not match");

    let root = make("media");
    let pool = root.join("files");
    let shard = fs::read_dir(&pool)
        .expect("pool")
        .flatten()
        .next()
        .expect("a shard")
        .path();
    let media = fs::read_dir(&shard)
        .expect("shard")
        .flatten()
        .next()
        .expect("a file")
        .path();
    let mut bytes = fs::read(&media).expect("read");
    bytes[20] ^= 1;
    fs::write(&media, &bytes).expect("write");
    let (_, c) = read(&root, Some(key()));
    assert_eq!(c.records.len(), 4);
    let photo = &c.records[1].attachments[0];
    assert!(photo.missing, "{photo:?}");
    assert!(
        photo.details["missing"]
            .as_str()
            .is_some_and(|m| m.contains("tag does not match")),
        "{photo:?}"
    );
    assert_eq!(photo.details["expected_sha256"], Sha256::of(PHOTO).to_hex());

    let root = dir.path().join("unfinished/SignalBackups");
    backup()
        .write_folder(
            &root,
            "signal-backup-2026-01-01-00-00-00-tmp",
            &key(),
            BACKUP_ID,
        )
        .expect("write");
    refused(&root, Some(key()), "no complete snapshot");

    let remote = dir.path().join("backup.bin");
    let mut bytes = b"SBACKUP\x01".to_vec();
    bytes.extend_from_slice(&[0x20; 200]);
    fs::write(&remote, &bytes).expect("write");
    refused(&remote, Some(key()), "forward secrecy");
}
