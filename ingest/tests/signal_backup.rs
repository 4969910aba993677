//! Signal's legacy Android `.backup`: fixtures for each schema era and each
//! fault are written by the test-only writer (`internal::BackupWriter`) from
//! a few SQL statements and blobs, then read back field by field.

mod common;

use std::path::{Path, PathBuf};

use spoor_ingest::internal::{BackupWriter, SqlParam as P};
use spoor_ingest::{read_export, Limits, Passphrase, ReadOptions, ReadSummary};
use spoor_normalize::{RecordKind, Sha256};

use common::Collected;

const PASSPHRASE: &str = "00000 11111 22222 33333 44444 55555";
const ACI_BRAM: &str = "10111213-1415-1617-1819-1a1b1c1d1e1f";
const ACI_SELF: &str = "30313233-3435-3637-3839-3a3b3c3d3e3f";
const T: i64 = 1_709_283_600_000;
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 backup photo \xff\xd9";
const LONG: &str =
    "Het volledige verslag, langer dan een bericht: de kademuur wordt in fase 2 hersteld.";

fn passphrase() -> Passphrase {
    Passphrase::parse(PASSPHRASE).expect("valid")
}

fn writer(version: u32) -> BackupWriter {
    BackupWriter::new(&passphrase(), [0x5a; 16], [0x11; 32], version)
}

fn text(t: &str) -> P {
    P::Text(t.to_owned())
}

/// The 2023-on era: one `message` table with from/to recipients, the
/// `attachment` table (2024 on), reactions, mentions and edits.
fn modern(version: u32) -> BackupWriter {
    let mut w = writer(version);
    w.database_version(215);
    for sql in [
        "CREATE TABLE recipient (_id INTEGER PRIMARY KEY, aci TEXT, e164 TEXT, system_joined_name TEXT, profile_joined_name TEXT, group_id TEXT)",
        "CREATE TABLE groups (_id INTEGER PRIMARY KEY, group_id TEXT, recipient_id INTEGER, title TEXT)",
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY, recipient_id INTEGER)",
        "CREATE TABLE message (_id INTEGER PRIMARY KEY, thread_id INTEGER, from_recipient_id INTEGER, to_recipient_id INTEGER, date_sent INTEGER, date_received INTEGER, body TEXT, type INTEGER, remote_deleted INTEGER DEFAULT 0, quote_id INTEGER, quote_author INTEGER, quote_body TEXT, original_message_id INTEGER, latest_revision_id INTEGER, revision_number INTEGER DEFAULT 0, expires_in INTEGER DEFAULT 0, view_once INTEGER DEFAULT 0)",
        "CREATE TABLE attachment (_id INTEGER PRIMARY KEY, message_id INTEGER, content_type TEXT, file_name TEXT, data_size INTEGER, caption TEXT, quote INTEGER DEFAULT 0)",
        "CREATE TABLE reaction (_id INTEGER PRIMARY KEY, message_id INTEGER, author_id INTEGER, emoji TEXT, date_sent INTEGER)",
        "CREATE TABLE mention (_id INTEGER PRIMARY KEY, message_id INTEGER, recipient_id INTEGER, range_start INTEGER, range_length INTEGER)",
        "CREATE VIRTUAL TABLE message_fts USING fts5(body)",
        "CREATE TABLE sqlite_sequence(name,seq)",
    ] {
        w.statement(sql, vec![]);
    }
    let recipient = "INSERT INTO recipient VALUES (?, ?, ?, ?, ?, ?)";
    w.statement(
        recipient,
        vec![
            P::Integer(1),
            text(ACI_SELF),
            text("+31600000001"),
            P::Null,
            text("Anne de Vries"),
            P::Null,
        ],
    );
    w.statement(
        recipient,
        vec![
            P::Integer(2),
            text(ACI_BRAM),
            text("+31612345678"),
            text("Bram Jansen"),
            P::Null,
            P::Null,
        ],
    );
    w.statement(
        recipient,
        vec![
            P::Integer(3),
            P::Null,
            P::Null,
            P::Null,
            P::Null,
            text("__signal_group__v2__!0a0b0c"),
        ],
    );
    w.statement(
        "INSERT INTO groups VALUES (?, ?, ?, ?)",
        vec![
            P::Integer(1),
            text("__signal_group__v2__!0a0b0c"),
            P::Integer(3),
            text("Projectgroep Kade"),
        ],
    );
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(1), P::Integer(2)],
    );
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(2), P::Integer(3)],
    );
    let message = "INSERT INTO message (_id, thread_id, from_recipient_id, to_recipient_id, date_sent, date_received, body, type, remote_deleted, quote_id, quote_author, quote_body, original_message_id, latest_revision_id, revision_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let row = |id: i64, thread: i64, from: i64, sent: i64, body: Option<&str>, kind: i64| {
        vec![
            P::Integer(id),
            P::Integer(thread),
            P::Integer(from),
            P::Integer(if from == 1 { 2 } else { 1 }),
            P::Integer(sent),
            P::Integer(sent + 1500),
            body.map_or(P::Null, text),
            P::Integer(kind),
            P::Integer(0),
            P::Null,
            P::Null,
            P::Null,
            P::Null,
            P::Null,
            P::Integer(0),
        ]
    };
    // Incoming (base type 20 with the push and secure bits), outgoing (23).
    w.statement(
        message,
        row(
            1,
            1,
            2,
            T,
            Some("Goedemorgen Anne"),
            0x80_0000 | 0x20_0000 | 20,
        ),
    );
    w.statement(
        message,
        row(
            2,
            1,
            1,
            T + 60_000,
            Some("Zie bijlage"),
            0x80_0000 | 0x20_0000 | 23,
        ),
    );
    w.statement(
        "INSERT INTO attachment VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            P::Integer(10),
            P::Integer(2),
            text("image/jpeg"),
            text("kade.jpg"),
            P::Integer(PHOTO.len() as i64),
            text("De kade"),
            P::Integer(0),
        ],
    );
    w.attachment(10, PHOTO, false);
    // A quote of message 2 by Bram.
    let mut quote = row(3, 1, 2, T + 120_000, Some("Mooi!"), 0x80_0000 | 20);
    quote[9] = P::Integer(T + 60_000);
    quote[10] = P::Integer(1);
    quote[11] = text("Zie bijlage");
    w.statement(message, quote);
    w.statement(
        "INSERT INTO reaction VALUES (?, ?, ?, ?, ?)",
        vec![
            P::Integer(1),
            P::Integer(1),
            P::Integer(1),
            text("👍"),
            P::Integer(T + 30_000),
        ],
    );
    // An edit in the group: revision 0 (superseded) and revision 1.
    let mut original = row(
        4,
        2,
        2,
        T + 180_000,
        Some("Vergadering om 10:00"),
        0x80_0000 | 20,
    );
    original[13] = P::Integer(5);
    w.statement(message, original);
    let mut edited = row(
        5,
        2,
        2,
        T + 240_000,
        Some("Vergadering om 11:00 @Anne"),
        0x80_0000 | 20,
    );
    edited[12] = P::Integer(4);
    edited[14] = P::Integer(1);
    w.statement(message, edited);
    w.statement(
        "INSERT INTO mention VALUES (?, ?, ?, ?, ?)",
        vec![
            P::Integer(1),
            P::Integer(5),
            P::Integer(1),
            P::Integer(21),
            P::Integer(5),
        ],
    );
    // Deleted for everyone; a group update; a long text.
    let mut deleted = row(6, 2, 2, T + 300_000, None, 0x80_0000 | 20);
    deleted[8] = P::Integer(1);
    w.statement(message, deleted);
    w.statement(
        message,
        row(
            7,
            2,
            1,
            T + 360_000,
            Some("CggSBnRpdGVs"),
            0x10000 | 0x80000 | 23,
        ),
    );
    w.statement(
        message,
        row(
            8,
            2,
            2,
            T + 420_000,
            Some("Het volledige verslag, langer"),
            0x80_0000 | 20,
        ),
    );
    w.statement(
        "INSERT INTO attachment VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            P::Integer(11),
            P::Integer(8),
            text("text/x-signal-plain"),
            P::Null,
            P::Integer(LONG.len() as i64),
            P::Null,
            P::Integer(0),
        ],
    );
    w.attachment(11, LONG.as_bytes(), false);
    // A statement that does not fit the schema: skipped, counted.
    w.statement("INSERT INTO no_such_table VALUES (1)", vec![]);
    w.setting();
    w.unknown_frame();
    w
}

/// The era before 2023: `sms` for text, `mms` for media and groups, `part`
/// for attachments, `recipient_id` naming the other party.
fn legacy() -> BackupWriter {
    let mut w = writer(0);
    w.database_version(120);
    for sql in [
        "CREATE TABLE recipient (_id INTEGER PRIMARY KEY, uuid TEXT, phone TEXT, system_display_name TEXT, signal_profile_name TEXT, group_id TEXT)",
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY, thread_recipient_id INTEGER)",
        "CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address INTEGER, date INTEGER, date_sent INTEGER, body TEXT, type INTEGER, reactions BLOB)",
        "CREATE TABLE mms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address INTEGER, date INTEGER, date_received INTEGER, body TEXT, msg_box INTEGER, quote_id INTEGER, quote_author INTEGER, quote_body TEXT)",
        "CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, ct TEXT, file_name TEXT, caption TEXT, quote INTEGER DEFAULT 0)",
    ] {
        w.statement(sql, vec![]);
    }
    w.statement(
        "INSERT INTO recipient VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            P::Integer(2),
            text(ACI_BRAM),
            text("+31612345678"),
            text("Bram Jansen"),
            P::Null,
            P::Null,
        ],
    );
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(1), P::Integer(2)],
    );
    let sms = "INSERT INTO sms VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    // ReactionList { Reaction { emoji "👍", author 2, sentTime T + 9000 } }.
    let mut reaction = vec![0x0a, 0x04, 0xf0, 0x9f, 0x91, 0x8d, 0x10, 0x02, 0x18];
    let mut sent = (T + 9000) as u64;
    while sent >= 0x80 {
        reaction.push((sent as u8) | 0x80);
        sent >>= 7;
    }
    reaction.push(sent as u8);
    let mut list = vec![0x0a, reaction.len() as u8];
    list.extend(reaction);
    w.statement(
        sms,
        vec![
            P::Integer(1),
            P::Integer(1),
            P::Integer(2),
            P::Integer(T + 1500),
            P::Integer(T),
            text("Hallo vanuit 2021"),
            P::Integer(0x80_0000 | 20),
            P::Blob(list),
        ],
    );
    w.statement(
        sms,
        vec![
            P::Integer(2),
            P::Integer(1),
            P::Integer(2),
            P::Integer(T + 60_000),
            P::Integer(T + 60_000),
            text("Antwoord"),
            P::Integer(0x80_0000 | 23),
            P::Null,
        ],
    );
    w.statement(
        "INSERT INTO mms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            P::Integer(1),
            P::Integer(1),
            P::Integer(2),
            P::Integer(T + 120_000),
            P::Integer(T + 121_000),
            text("Foto"),
            P::Integer(0x80_0000 | 20),
            P::Null,
            P::Null,
            P::Null,
        ],
    );
    w.statement(
        "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            P::Integer(7),
            P::Integer(1),
            text("image/jpeg"),
            P::Null,
            P::Null,
            P::Integer(0),
        ],
    );
    w.attachment(7, PHOTO, true);
    w
}

/// Database versions 168–184: `sms` is gone, every message is in one
/// table, `mms` until 173 and `message` from 174 (`recipient_id` still names
/// the other party until 185), attachments in `part`, reactions in
/// `reaction` with `is_mms`.
fn one_message_table(version: u32, table: &str) -> BackupWriter {
    let mut w = writer(1);
    w.database_version(version);
    for sql in [
        "CREATE TABLE recipient (_id INTEGER PRIMARY KEY, uuid TEXT, phone TEXT, system_display_name TEXT, group_id TEXT)",
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY, recipient_id INTEGER)",
        "CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, ct TEXT, file_name TEXT, quote INTEGER DEFAULT 0)",
        "CREATE TABLE reaction (_id INTEGER PRIMARY KEY, message_id INTEGER, is_mms INTEGER, author_id INTEGER, emoji TEXT, date_sent INTEGER)",
        "CREATE TABLE mention (_id INTEGER PRIMARY KEY, thread_id INTEGER, message_id INTEGER, recipient_id INTEGER, range_start INTEGER, range_length INTEGER)",
    ] {
        w.statement(sql, vec![]);
    }
    w.statement(&format!("CREATE TABLE {table} (_id INTEGER PRIMARY KEY, thread_id INTEGER, recipient_id INTEGER, date_sent INTEGER, date_received INTEGER, body TEXT, type INTEGER, remote_deleted INTEGER DEFAULT 0)"), vec![]);
    w.statement(
        "INSERT INTO recipient VALUES (?, ?, ?, ?, ?)",
        vec![
            P::Integer(2),
            text(ACI_BRAM),
            text("+31612345678"),
            text("Bram Jansen"),
            P::Null,
        ],
    );
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(1), P::Integer(2)],
    );
    let insert = format!("INSERT INTO {table} (_id, thread_id, recipient_id, date_sent, date_received, body, type) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (id, at, body, kind) in [
        (1, T, "Stukken voor donderdag", 20),
        (2, T + 60_000, "Dank, ontvangen", 23),
    ] {
        w.statement(
            &insert,
            vec![
                P::Integer(id),
                P::Integer(1),
                P::Integer(2),
                P::Integer(at),
                P::Integer(at + 800),
                text(body),
                P::Integer(0x80_0000 | kind),
            ],
        );
    }
    w.statement(
        "INSERT INTO part VALUES (?, ?, ?, ?, ?)",
        vec![
            P::Integer(9),
            P::Integer(1),
            text("application/pdf"),
            text("agenda.pdf"),
            P::Integer(0),
        ],
    );
    w.attachment(9, PHOTO, false);
    let reaction = "INSERT INTO reaction (message_id, is_mms, author_id, emoji, date_sent) VALUES (?, ?, ?, ?, ?)";
    // One reaction to mms row 1, and a left-over one to a dropped sms row 1.
    for (is_mms, emoji) in [(1, "✅"), (0, "❌")] {
        w.statement(
            reaction,
            vec![
                P::Integer(1),
                P::Integer(is_mms),
                P::Integer(2),
                text(emoji),
                P::Integer(T + 5_000),
            ],
        );
    }
    w
}

#[test]
fn one_message_table_eras() {
    for (version, table) in [(170, "mms"), (180, "message")] {
        one_message_table_era(version, table);
    }
}

fn one_message_table_era(version: u32, table: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = one_message_table(version, table);
    w.end();
    let path = write(dir.path(), "signal-2022.backup", w.bytes());
    let (summary, c) = read(&path);
    let schema = summary
        .decisions
        .iter()
        .find(|d| d["decision"] == "signal-schema")
        .expect("schema");
    assert_eq!(schema["value"]["messages"], serde_json::json!([table]));
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    let r = &c.records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].text.as_deref(), Some("Stukken voor donderdag"));
    assert_eq!(r[0].time.utc.as_deref(), Some("2024-03-01T09:00:00Z"));
    assert_eq!(
        r[0].sender.as_ref().and_then(|p| p.address.as_deref()),
        Some("+31612345678")
    );
    assert_eq!(r[0].attachments[0].name.as_deref(), Some("agenda.pdf"));
    assert_eq!(r[0].attachments[0].sha256, Some(Sha256::of(PHOTO)));
    assert_eq!(
        r[0].extra["reactions"],
        serde_json::json!([{ "emoji": "✅", "author": format!("aci:{ACI_BRAM}"), "sent": "2024-03-01T09:00:05Z" }])
    );
    assert_eq!(r[1].extra["direction"], "outgoing");
    assert_eq!(
        r[1].sender.as_ref().and_then(|p| p.name.as_deref()),
        Some("self"),
        "recipient_id names the other party before from_recipient_id"
    );
    assert_eq!(r[1].conversation.id, r[0].conversation.id);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn options(passphrase: Option<Passphrase>) -> ReadOptions {
    let mut options = common::options(Limits::default());
    options.signal_passphrase = passphrase;
    options
}

fn read(path: &Path) -> (ReadSummary, Collected) {
    common::read_options(path, &options(Some(passphrase())))
}

#[test]
fn modern_era_both_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    for version in [0, 1] {
        let mut w = modern(version);
        w.end();
        let path = write(dir.path(), &format!("signal-v{version}.backup"), w.bytes());
        let (summary, c) = read(&path);
        assert_eq!(summary.format, "signal/android-backup");
        // The statement no table takes makes the import partial (#15).
        assert_eq!(summary.unreadable.len(), 1, "{:?}", summary.unreadable);
        assert!(
            summary.unreadable[0].contains("1 statements of the backup could not be replayed")
                && summary.unreadable[0].contains("no_such_table"),
            "{:?}",
            summary.unreadable
        );
        let accounting = summary.accounting.as_ref().expect("rows counted");
        assert_eq!(
            accounting.read,
            (c.records.len() + c.quarantined.len()) as u64
        );
        let decision = |name: &str| {
            summary
                .decisions
                .iter()
                .find(|d| d["decision"] == name)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(
            decision("signal-backup-format")["value"]["backup_version"],
            version
        );
        assert_eq!(
            decision("signal-backup-format")["value"]["database_version"],
            215
        );
        assert_eq!(decision("signal-schema")["value"]["messages"][0], "message");
        assert_eq!(decision("signal-statements-skipped")["value"], 1);
        assert_eq!(decision("signal-unknown-frames")["value"], 1);
        assert!(decision("signal-limitations")["value"]
            .as_str()
            .is_some_and(|v| v.contains("view-once")));
        let r = &c.records;
        assert_eq!(r.len(), 8);

        let first = &r[0];
        assert_eq!(
            first.conversation.id.as_deref(),
            Some(format!("signal:aci:{ACI_BRAM}").as_str())
        );
        assert_eq!(first.conversation.title.as_deref(), Some("Bram Jansen"));
        let sender = first.sender.as_ref().expect("sender");
        assert_eq!(
            (
                sender.name.as_deref(),
                sender.address.as_deref(),
                sender.address_type.as_deref()
            ),
            (Some("Bram Jansen"), Some("+31612345678"), Some("e164"))
        );
        assert_eq!(first.time.utc.as_deref(), Some("2024-03-01T09:00:00Z"));
        assert_eq!(first.extra["direction"], "incoming");
        assert_eq!(first.extra["reactions"][0]["emoji"], "👍");
        assert_eq!(
            first.extra["reactions"][0]["author"],
            format!("aci:{ACI_SELF}")
        );

        let outgoing = &r[1];
        assert_eq!(outgoing.extra["direction"], "outgoing");
        assert_eq!(
            outgoing.sender.as_ref().and_then(|p| p.name.as_deref()),
            Some("Anne de Vries")
        );
        let photo = &outgoing.attachments[0];
        assert_eq!(
            (photo.name.as_deref(), photo.media_type.as_deref()),
            (Some("kade.jpg"), Some("image/jpeg"))
        );
        assert_eq!(photo.sha256, Some(Sha256::of(PHOTO)));
        assert_eq!(photo.details["caption"], "De kade");
        assert!(c.blobs.iter().any(|b| b.bytes == PHOTO));

        assert_eq!(
            r[2].links.in_reply_to,
            vec![format!("aci:{ACI_SELF}/{}", T + 60_000)]
        );
        assert_eq!(
            r[3].revision.as_ref().and_then(|v| v.version.as_deref()),
            Some("0")
        );
        let edit = r[4].revision.as_ref().expect("revision");
        assert_eq!(edit.version.as_deref(), Some("1"));
        assert_eq!(edit.edited_at.as_deref(), Some("2024-03-01T09:04:00Z"));
        assert_eq!(r[4].extra["original_message_row"], 4);
        assert_eq!(edit.supersedes.as_ref(), Some(&r[3].id));
        assert_eq!(
            r[3].revision.as_ref().and_then(|v| v.supersedes.as_ref()),
            None
        );
        assert_eq!(
            r[4].extra["mentions"][0]["recipient"],
            format!("aci:{ACI_SELF}")
        );
        assert_eq!(
            r[4].conversation.title.as_deref(),
            Some("Projectgroep Kade")
        );
        assert!(r[5].deletion.is_some() && r[5].text.is_none());
        assert_eq!(r[6].kind, RecordKind::SystemEvent);
        assert_eq!(r[6].extra["system_event"]["group_update"], true);
        assert_eq!(r[6].text, None);
        assert_eq!(r[7].text.as_deref(), Some(LONG));
        assert_eq!(r[7].attachments[0].role, "long-text");
        if version == 1 {
            // The same backup in version 0 gives the same records.
            let (_, v0) = read(&dir.path().join("signal-v0.backup"));
            assert_eq!(
                v0.records.iter().map(|x| &x.id).collect::<Vec<_>>(),
                r.iter().map(|x| &x.id).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn legacy_era_and_a_damaged_attachment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = legacy();
    w.end();
    let path = write(dir.path(), "signal-2021.backup", w.bytes());
    let (summary, c) = read(&path);
    let schema = summary
        .decisions
        .iter()
        .find(|d| d["decision"] == "signal-schema")
        .expect("schema");
    assert_eq!(
        schema["value"]["messages"],
        serde_json::json!(["mms", "sms"])
    );
    let r = &c.records;
    assert_eq!(r.len(), 3);
    // mms first (table order), then sms.
    assert_eq!(r[0].text.as_deref(), Some("Foto"));
    assert_eq!(r[0].time.utc.as_deref(), Some("2024-03-01T09:02:00Z"));
    let damaged = &r[0].attachments[0];
    assert!(damaged.missing);
    assert!(damaged.details["damaged"].is_string());
    assert_eq!(
        damaged.details["content_sha256"],
        Sha256::of(PHOTO).to_hex()
    );
    assert_eq!(r[1].text.as_deref(), Some("Hallo vanuit 2021"));
    assert_eq!(
        r[1].time.utc.as_deref(),
        Some("2024-03-01T09:00:00Z"),
        "sms date_sent is the sending time"
    );
    assert_eq!(
        r[1].sender.as_ref().and_then(|p| p.address.as_deref()),
        Some("+31612345678")
    );
    assert_eq!(
        r[1].extra["reactions"],
        serde_json::json!([{ "emoji": "👍", "author": format!("aci:{ACI_BRAM}"), "sent": "2024-03-01T09:00:09Z" }]),
        "a protobuf reaction list of the era before the reaction table"
    );
    assert!(!r[0].extra.contains_key("reactions"));
    // Before from_recipient_id, an outgoing row is from self.
    assert_eq!(r[2].extra["direction"], "outgoing");
    assert_eq!(
        r[2].sender.as_ref().and_then(|p| p.name.as_deref()),
        Some("self")
    );
}

/// An attachment larger than `max_message_bytes` is streamed to the sink
/// like any other: a blob with its hash, never held whole.
#[test]
fn attachment_over_the_message_limit_is_a_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut w = one_message_table(170, "mms");
    w.statement(
        "INSERT INTO mms (_id, thread_id, recipient_id, date_sent, date_received, body, type) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![P::Integer(3), P::Integer(1), P::Integer(2), P::Integer(T + 90_000), P::Integer(T + 90_500), text("Video"), P::Integer(0x80_0000 | 20)],
    );
    w.statement(
        "INSERT INTO part VALUES (?, ?, ?, ?, ?)",
        vec![
            P::Integer(10),
            P::Integer(3),
            text("video/mp4"),
            text("vergadering.mp4"),
            P::Integer(0),
        ],
    );
    w.attachment(10, &big, false);
    w.end();
    let path = write(dir.path(), "signal-video.backup", w.bytes());
    let mut options = options(Some(passphrase()));
    options.limits.max_message_bytes = 16 * 1024;
    let (summary, c) = common::read_options(&path, &options);
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    let video = c
        .records
        .iter()
        .find(|r| r.text.as_deref() == Some("Video"))
        .expect("the video message");
    let blob = &video.attachments[0];
    assert_eq!(blob.sha256, Some(Sha256::of(&big)));
    assert_eq!((blob.size, blob.missing), (Some(big.len() as u64), false));
    assert!(c.blobs.iter().any(|b| b.bytes == big));
}

#[test]
fn faults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = modern(1);
    w.end();
    let full = w.bytes().to_vec();

    // Wrong passphrase: an error before any output.
    let path = write(dir.path(), "signal.backup", &full);
    let wrong = Passphrase::parse("99999 11111 22222 33333 44444 55555").expect("valid");
    let mut sink = Collected::default();
    let err = read_export(&path, &options(Some(wrong)), &mut sink).expect_err("wrong passphrase");
    assert!(
        err.to_string()
            .contains("wrong passphrase or corrupted file"),
        "{err}"
    );
    assert!(sink.records.is_empty());

    // No passphrase: a clear error naming the flag.
    let err = read_export(&path, &options(None), &mut Collected::default()).expect_err("needs it");
    assert!(
        err.to_string().contains("--signal-passphrase-file"),
        "{err}"
    );

    // Truncated (no End frame): what was replayed is archived, the import
    // is partial.
    let cut = write(dir.path(), "cut.backup", &full[..full.len() * 2 / 3]);
    let (summary, c) = read(&cut);
    assert!(!c.records.is_empty());
    assert!(c.records.len() < 8);
    assert_eq!(summary.unreadable.len(), 1);
    assert!(
        summary.unreadable[0].contains("truncated") || summary.unreadable[0].contains("ends"),
        "{:?}",
        summary.unreadable
    );
}

/// The `message` table as Signal Android declares it (column list and
/// constraints from Signal's public schema history, 2024 on: from/to
/// recipients, edits pointing into the same table), foreign keys included.
const MESSAGE_TABLE_2024: &str = "CREATE TABLE message (
        _id INTEGER PRIMARY KEY AUTOINCREMENT,
        date_sent INTEGER NOT NULL,
        date_received INTEGER NOT NULL,
        date_server INTEGER DEFAULT -1,
        thread_id INTEGER NOT NULL REFERENCES thread (_id) ON DELETE CASCADE,
        from_recipient_id INTEGER NOT NULL REFERENCES recipient (_id) ON DELETE CASCADE,
        from_device_id INTEGER,
        to_recipient_id INTEGER NOT NULL REFERENCES recipient (_id) ON DELETE CASCADE,
        type INTEGER NOT NULL,
        body TEXT,
        read INTEGER DEFAULT 0,
        expires_in INTEGER DEFAULT 0,
        quote_id INTEGER DEFAULT 0,
        quote_author INTEGER DEFAULT 0,
        quote_body TEXT DEFAULT NULL,
        view_once INTEGER DEFAULT 0,
        remote_deleted INTEGER DEFAULT 0,
        latest_revision_id INTEGER DEFAULT NULL REFERENCES message (_id) ON DELETE CASCADE,
        original_message_id INTEGER DEFAULT NULL REFERENCES message (_id) ON DELETE CASCADE,
        revision_number INTEGER DEFAULT 0
      )";

/// The `message` table of database version 181 (2023: one table, the
/// other party in `recipient_id`), as Signal's schema snapshot of that
/// version declares it, trimmed to the columns read.
const MESSAGE_TABLE_181: &str = "CREATE TABLE message (
        _id INTEGER PRIMARY KEY AUTOINCREMENT,
        date_sent INTEGER NOT NULL,
        date_received INTEGER NOT NULL,
        date_server INTEGER DEFAULT -1,
        thread_id INTEGER NOT NULL REFERENCES thread (_id) ON DELETE CASCADE,
        recipient_id INTEGER NOT NULL REFERENCES recipient (_id) ON DELETE CASCADE,
        recipient_device_id INTEGER,
        type INTEGER NOT NULL,
        body TEXT,
        read INTEGER DEFAULT 0,
        expires_in INTEGER DEFAULT 0,
        quote_id INTEGER DEFAULT 0,
        quote_author INTEGER DEFAULT 0,
        quote_body TEXT DEFAULT NULL,
        view_once INTEGER DEFAULT 0,
        remote_deleted INTEGER DEFAULT 0
      )";

/// A backup as Signal writes one of the message-table eras: the schema in
/// `sqlite_master` order (the message table before the tables it
/// references), with its indexes, the full-text index and the triggers
/// that fill it; then the rows table by table, so every message row comes
/// before its thread and recipient rows. With foreign keys enforced, no
/// message would replay (#15).
fn real_schema_backup(version: u32, modern: bool) -> BackupWriter {
    let mut w = writer(1);
    w.database_version(version);
    let (message, sender) = if modern {
        (MESSAGE_TABLE_2024, "from_recipient_id")
    } else {
        (MESSAGE_TABLE_181, "recipient_id")
    };
    let attachment = if modern {
        "CREATE TABLE attachment (_id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INTEGER REFERENCES message (_id) ON DELETE CASCADE, content_type TEXT, file_name TEXT, data_size INTEGER, quote INTEGER DEFAULT 0)"
    } else {
        "CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, seq INTEGER DEFAULT 0, ct TEXT, file_name TEXT, unique_id INTEGER NOT NULL, quote INTEGER DEFAULT 0)"
    };
    for sql in [
        message,
        attachment,
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY AUTOINCREMENT, date INTEGER DEFAULT 0, recipient_id INTEGER NOT NULL UNIQUE REFERENCES recipient (_id) ON DELETE CASCADE)",
        "CREATE TABLE recipient (_id INTEGER PRIMARY KEY AUTOINCREMENT, aci TEXT UNIQUE DEFAULT NULL, e164 TEXT UNIQUE DEFAULT NULL, group_id TEXT UNIQUE DEFAULT NULL, system_joined_name TEXT DEFAULT NULL, profile_joined_name TEXT DEFAULT NULL)",
        "CREATE TABLE sqlite_sequence(name,seq)",
        "CREATE INDEX message_type_index ON message (type)",
        "CREATE UNIQUE INDEX message_unique_sent_from_thread ON message (date_sent, thread_id)",
        "CREATE VIRTUAL TABLE message_fts USING fts5(body, thread_id UNINDEXED, content=message, content_rowid=_id)",
        "CREATE TRIGGER message_ai AFTER INSERT ON message BEGIN\n          INSERT INTO message_fts(rowid, body, thread_id) VALUES (new._id, new.body, new.thread_id);\n        END",
        "CREATE TRIGGER message_ad AFTER DELETE ON message BEGIN\n          INSERT INTO message_fts(message_fts, rowid, body, thread_id) VALUES('delete', old._id, old.body, old.thread_id);\n        END",
        "CREATE TRIGGER message_au AFTER UPDATE ON message BEGIN\n          INSERT INTO message_fts(message_fts, rowid, body, thread_id) VALUES('delete', old._id, old.body, old.thread_id);\n          INSERT INTO message_fts(rowid, body, thread_id) VALUES (new._id, new.body, new.thread_id);\n        END",
        "CREATE VIEW thread_view AS SELECT _id, date FROM thread",
    ] {
        w.statement(sql, vec![]);
    }
    let insert = if modern {
        format!("INSERT INTO message (_id, date_sent, date_received, thread_id, {sender}, to_recipient_id, type, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    } else {
        format!("INSERT INTO message (_id, date_sent, date_received, thread_id, {sender}, type, body) VALUES (?, ?, ?, ?, ?, ?, ?)")
    };
    let row = |id: i64, at: Option<i64>, body: &str| {
        let mut values = vec![
            P::Integer(id),
            at.map_or(P::Null, P::Integer),
            P::Integer(T + 900),
            P::Integer(1),
            P::Integer(2),
        ];
        if modern {
            values.push(P::Integer(1));
        }
        values.extend([P::Integer(0x80_0000 | 20), text(body)]);
        values
    };
    w.statement(&insert, row(1, Some(T), "Besluit: de brug gaat dicht"));
    w.statement(&insert, row(2, Some(T + 60_000), "Akkoord"));
    // A damaged row: no sent time, which the table forbids. It cannot be
    // replayed, so it is quarantined with its values.
    w.statement(&insert, row(3, None, "zonder tijd"));
    w.statement(&insert, row(4, Some(T + 120_000), "Tot morgen"));
    w.statement(
        "INSERT INTO thread (_id, date, recipient_id) VALUES (?, ?, ?)",
        vec![P::Integer(1), P::Integer(T), P::Integer(2)],
    );
    let recipient = "INSERT INTO recipient (_id, aci, e164, system_joined_name, profile_joined_name) VALUES (?, ?, ?, ?, ?)";
    w.statement(
        recipient,
        vec![
            P::Integer(1),
            text(ACI_SELF),
            text("+31600000001"),
            P::Null,
            text("Anne de Vries"),
        ],
    );
    w.statement(
        recipient,
        vec![
            P::Integer(2),
            text(ACI_BRAM),
            text("+31612345678"),
            text("Bram Jansen"),
            P::Null,
        ],
    );
    w.end();
    w
}

/// See: #15. Backups of the one-message-table eras with Signal's real
/// schema (foreign keys, AUTOINCREMENT, a full-text index with triggers,
/// indexes and a view), rows in the order the exporter writes them: every
/// message row is a record or, when the replay cannot take it, quarantined
/// with its values; every row is accounted for.
#[test]
fn r15_real_schemas_replay_every_message_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (version, modern) in [(181, false), (230, true)] {
        let w = real_schema_backup(version, modern);
        let path = write(dir.path(), &format!("signal-{version}.backup"), w.bytes());
        let (summary, c) = read(&path);
        assert!(
            summary.unreadable.is_empty(),
            "{version}: {:?}",
            summary.unreadable
        );
        let texts: Vec<_> = c.records.iter().map(|r| r.text.as_deref()).collect();
        assert_eq!(
            texts,
            [
                Some("Besluit: de brug gaat dicht"),
                Some("Akkoord"),
                Some("Tot morgen")
            ],
            "{version}"
        );
        assert_eq!(
            c.records[0]
                .sender
                .as_ref()
                .and_then(|p| p.address.as_deref()),
            Some("+31612345678"),
            "{version}"
        );
        assert_eq!(c.quarantined.len(), 1, "{version}");
        let q = &c.quarantined[0];
        assert!(
            q.reason
                .contains("NOT NULL constraint failed: message.date_sent"),
            "{}",
            q.reason
        );
        assert!(q.locator.frame.is_some_and(|f| f > 10), "{:?}", q.locator);
        let raw: serde_json::Value = serde_json::from_slice(&q.raw).expect("JSON");
        assert_eq!(raw["parameters"][0], 3, "the row's own values: {raw}");
        assert_eq!(
            summary.accounting.as_ref().map(|a| a.read),
            Some(4),
            "{version}: four message rows"
        );
        let left_out = summary
            .decisions
            .iter()
            .find(|d| d["decision"] == "signal-statements-left-out")
            .expect("left out, counted");
        assert_eq!(
            left_out["value"],
            serde_json::json!({ "full-text-index": 1, "sqlite-internal": 1, "triggers": 3 })
        );
    }
}

/// See: #15. A backup whose schema holds no message table this reader
/// knows is never an empty archive: the import is partial, saying why.
#[test]
fn r15_no_message_table_is_partial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(1);
    w.database_version(400);
    w.statement(
        "CREATE TABLE chat_message_v3 (_id INTEGER PRIMARY KEY, body TEXT)",
        vec![],
    );
    w.statement(
        "INSERT INTO chat_message_v3 VALUES (?, ?)",
        vec![P::Integer(1), text("in een tabel uit de toekomst")],
    );
    w.end();
    let path = write(dir.path(), "signal-future.backup", w.bytes());
    let (summary, c) = read(&path);
    assert!(c.records.is_empty());
    assert_eq!(summary.unreadable.len(), 1, "{:?}", summary.unreadable);
    assert!(
        summary.unreadable[0].contains("no message table"),
        "{:?}",
        summary.unreadable
    );
}
