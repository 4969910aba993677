//! Signal's plaintext export: the hand-written fixture in
//! `fixtures/signal/plaintext-export/` read and checked field by field.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;
use spoor_normalize::{RecordKind, Sha256};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/signal")
        .join(rel)
}

#[test]
fn plaintext_export_into_records() {
    let (summary, c) = common::read(&fixture("plaintext-export"));
    assert_eq!(summary.format, "signal/plaintext-export");
    assert_eq!((c.records.len(), c.quarantined.len()), (10, 2));
    let decision = |name: &str| {
        summary
            .decisions
            .iter()
            .find(|d| d["decision"] == name)
            .cloned()
    };
    assert!(decision("signal-limitations")
        .is_some_and(|d| d["value"].as_str().is_some_and(|v| v.contains("view-once"))));
    let info = decision("signal-backup-info").expect("BackupInfo");
    assert_eq!(info["value"]["backupTimeMs"], "1715636551000");
    assert!(
        info["value"].get("mediaRootBackupKey").is_none(),
        "keys never reach package.json"
    );
    assert_eq!(
        decision("signal-unreferenced-files").expect("unreferenced")["value"],
        json!(["files/ef/ef000001-ongebruikt.bin"])
    );
    let r = &c.records;

    // A 1:1 chat: the other party names it; phone number as E.164, times
    // from epoch milliseconds, reactions with their author.
    let first = &r[0];
    assert_eq!(
        first.conversation.id.as_deref(),
        Some("signal:aci:10111213-1415-1617-1819-1a1b1c1d1e1f")
    );
    assert_eq!(first.conversation.title.as_deref(), Some("Bram Jansen"));
    let sender = first.sender.as_ref().expect("sender");
    assert_eq!(
        (sender.address.as_deref(), sender.address_type.as_deref()),
        (Some("+31612345678"), Some("e164"))
    );
    assert_eq!(first.time.utc.as_deref(), Some("2024-03-01T09:00:00Z"));
    assert_eq!(first.extra["direction"], "incoming");
    assert_eq!(first.extra["date_received_ms"], 1_709_283_601_500i64);
    assert_eq!(first.extra["reactions"][0]["emoji"], "👍");
    assert_eq!(first.extra["reactions"][0]["author"], "self");

    // Outgoing from self, with its photo linked by plaintext hash.
    let photo = fs::read(fixture("plaintext-export/files/ab/ab3f0c1e-kade.jpg")).expect("read");
    let outgoing = &r[1];
    assert_eq!(outgoing.extra["direction"], "outgoing");
    assert_eq!(
        outgoing.sender.as_ref().and_then(|p| p.name.as_deref()),
        Some("Anne de Vries")
    );
    let attachment = &outgoing.attachments[0];
    assert_eq!(attachment.name.as_deref(), Some("kade.jpg"));
    assert_eq!(attachment.media_type.as_deref(), Some("image/jpeg"));
    assert_eq!(attachment.sha256, Some(Sha256::of(&photo)));
    assert_eq!(attachment.details["caption"], "De kade");
    assert_eq!(attachment.details["path"], "files/ab/ab3f0c1e-kade.jpg");
    assert!(c.blobs.iter().any(|b| b.bytes == photo));

    // A quote is a reply link to (author, sent time) of the quoted message.
    assert_eq!(
        r[2].links.in_reply_to,
        vec![outgoing.links.source_id.clone().expect("source id")]
    );

    // An edit: the first revision, then the current text superseding it.
    let (original, edited) = (&r[3], &r[4]);
    assert_eq!(original.text.as_deref(), Some("Vergadering om 10:00"));
    assert_eq!(
        original.source.locator.pointer.as_deref(),
        Some("/chatItem/revisions/0")
    );
    assert_eq!(
        original.revision.as_ref().and_then(|v| v.edited_at.clone()),
        None
    );
    assert_eq!(edited.text.as_deref(), Some("Vergadering om 11:00, @Anne"));
    let revision = edited.revision.as_ref().expect("revision");
    assert_eq!(revision.supersedes.as_ref(), Some(&original.id));
    assert_eq!(revision.edited_at.as_deref(), Some("2024-03-01T09:05:00Z"));
    assert_eq!(
        edited.extra["mentions"][0]["aci"],
        "30313233-3435-3637-3839-3a3b3c3d3e3f"
    );
    assert_eq!(
        edited.conversation.title.as_deref(),
        Some("Projectgroep Kade")
    );
    assert!(edited
        .conversation
        .id
        .as_deref()
        .is_some_and(|id| id.starts_with("signal:group:")));

    // A remote deletion, a group update as a system record.
    assert!(r[5].deletion.is_some() && r[5].flags.contains(&"deleted".to_owned()));
    assert_eq!(r[6].kind, RecordKind::SystemEvent);
    assert_eq!(r[6].extra["system_event"]["type"], "groupChange");
    assert_eq!(
        r[6].extra["system_event"]["detail"]["updates"][0]["groupNameUpdate"]["newGroupName"],
        "Projectgroep Kade"
    );

    // A long text replaces the truncated body.
    let long = fs::read_to_string(fixture("plaintext-export/files/cd/cd91e2aa-verslag.txt"))
        .expect("read");
    assert_eq!(r[7].text.as_deref(), Some(long.as_str()));
    assert_eq!(r[7].attachments[0].role, "long-text");

    // Never downloaded: recorded as missing.
    assert!(r[8].attachments[0].missing);
    assert!(r[8].attachments[0].details["missing"]
        .as_str()
        .is_some_and(|m| m.contains("never downloaded")));

    // A disappearing message: flagged, without content.
    assert!(r[9].flags.contains(&"disappearing".to_owned()));
    assert_eq!(r[9].text, None);

    // A damaged line and an item of an unknown chat are quarantined.
    assert!(c.quarantined[0].reason.starts_with("not JSON"));
    assert_eq!(c.quarantined[0].locator.lines, Some([19, 19]));
    assert!(c.quarantined[1].reason.contains("chat 9"));
}

/// The same export as a zip (in one folder, as Signal names it) gives the
/// same records and blobs as the folder; a media entry that unpacks past
/// the bound is reported, never read whole.
#[test]
fn plaintext_export_as_a_zip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signal-export-2024-05-13.zip");
    let mut writer = zip::ZipWriter::new(fs::File::create(&path).expect("create zip"));
    common::zip_tree(
        &mut writer,
        &fixture("plaintext-export"),
        "signal-export-2024-05-13/",
    );
    writer
        .start_file(
            "signal-export-2024-05-13/files/ff/ff-bom.bin",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("start entry");
    std::io::Write::write_all(&mut writer, &vec![0u8; 20 << 20]).expect("write");
    writer.finish().expect("finish zip");

    let (folder_summary, folder) = common::read(&fixture("plaintext-export"));
    let (summary, zipped) = common::read(&path);
    assert_eq!(summary.format, "signal/plaintext-export-zip");
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    assert_eq!(zipped.records.len(), folder.records.len());
    for (z, f) in zipped.records.iter().zip(&folder.records) {
        assert_eq!((&z.id, &z.text), (&f.id, &f.text));
        assert_eq!(z.attachments.len(), f.attachments.len());
        for (za, fa) in z.attachments.iter().zip(&f.attachments) {
            assert_eq!(
                (&za.name, za.sha256, za.missing),
                (&fa.name, fa.sha256, fa.missing)
            );
            if let Some(path) = fa.details.get("path").and_then(|p| p.as_str()) {
                assert_eq!(
                    za.details["path"],
                    format!("signal-export-2024-05-13/{path}")
                );
            }
        }
        assert_eq!(z.source.format, "signal/plaintext-export-zip");
        assert_eq!(
            z.source.locator.path.as_deref(),
            Some("signal-export-2024-05-13/main.jsonl")
        );
    }
    let hashes = |blobs: &[spoor_ingest::Blob]| blobs.iter().map(|b| b.sha256).collect::<Vec<_>>();
    assert_eq!(hashes(&zipped.blobs), hashes(&folder.blobs));
    assert!(!zipped.blobs.is_empty());
    assert_eq!(zipped.quarantined.len(), folder.quarantined.len());
    let decision = |summary: &spoor_ingest::ReadSummary, name: &str| {
        summary
            .decisions
            .iter()
            .find(|d| d["decision"] == name)
            .map(|d| d["value"].clone())
    };
    assert_eq!(
        decision(&summary, "signal-unreferenced-files"),
        Some(json!([
            "signal-export-2024-05-13/files/ef/ef000001-ongebruikt.bin"
        ]))
    );
    let unreadable = decision(&summary, "signal-unreadable-files").expect("the bomb is reported");
    assert!(
        unreadable[0].as_str().is_some_and(|u| u
            .starts_with("signal-export-2024-05-13/files/ff/ff-bom.bin: ")
            && u.contains("zip bomb")),
        "{unreadable}"
    );
    assert!(decision(&folder_summary, "signal-unreadable-files").is_none());
}

/// A media file larger than `max_message_bytes` is streamed to the sink as a
/// blob like any other; only a long text, which becomes the record's body,
/// must fit the limit.
#[test]
fn attachment_over_the_message_limit_is_a_blob() {
    let photo = fs::read(fixture("plaintext-export/files/ab/ab3f0c1e-kade.jpg")).expect("photo");
    let limits = spoor_ingest::Limits {
        max_message_bytes: 32,
        ..spoor_ingest::Limits::default()
    };
    assert!(photo.len() > limits.max_message_bytes);
    let (summary, c) = common::read_with(&fixture("plaintext-export"), limits);
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    let attachment = c
        .records
        .iter()
        .flat_map(|r| &r.attachments)
        .find(|a| a.role == "attachment" && !a.missing)
        .expect("the photo");
    assert_eq!(attachment.sha256, Some(Sha256::of(&photo)));
    assert_eq!(attachment.size, Some(photo.len() as u64));
    assert_eq!(attachment.details["path"], "files/ab/ab3f0c1e-kade.jpg");
    assert!(c.blobs.iter().any(|b| b.bytes == photo));
    let long_text = c
        .records
        .iter()
        .flat_map(|r| &r.attachments)
        .find(|a| a.role == "long-text")
        .expect("the long text");
    assert!(long_text.missing);
    assert!(
        long_text.details["missing"]
            .as_str()
            .is_some_and(|why| why.ends_with("larger than 32 bytes; kept only in the original")),
        "{:?}",
        long_text.details
    );
}

/// See: #15. A message a group admin deleted for everyone is a deletion,
/// like one its author deleted; a chat item of a kind the reader does not
/// know is quarantined with its JSON, never an empty message.
#[test]
fn r15_admin_deletions_and_unknown_chat_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let export = dir.path().join("signal-export");
    fs::create_dir(&export).expect("mkdir");
    fs::copy(
        fixture("plaintext-export/metadata.json"),
        export.join("metadata.json"),
    )
    .expect("copy");
    // The fixture's header, recipients and chats, then two new items.
    let head: Vec<String> = fs::read_to_string(fixture("plaintext-export/main.jsonl"))
        .expect("read")
        .lines()
        .take_while(|l| !l.starts_with("{\"chatItem\""))
        .map(str::to_owned)
        .collect();
    let items = [
        r#"{"chatItem":{"chatId":"2","authorId":"3","dateSent":"1709290000000","incoming":{"dateReceived":"1709290000500"},"adminDeletedMessage":{"adminId":"1"}}}"#,
        r#"{"chatItem":{"chatId":"2","authorId":"3","dateSent":"1709290060000","incoming":{"dateReceived":"1709290060500"},"hologramMessage":{"text":"uit de toekomst"}}}"#,
    ];
    fs::write(
        export.join("main.jsonl"),
        format!("{}\n{}\n", head.join("\n"), items.join("\n")),
    )
    .expect("write");
    let (_, c) = common::read(&export);
    assert_eq!((c.records.len(), c.quarantined.len()), (1, 1));
    let deleted = &c.records[0];
    assert!(
        deleted.flags.iter().any(|f| f == "admin-deleted"),
        "{:?}",
        deleted.flags
    );
    let deletion = deleted.deletion.as_ref().expect("a deletion");
    assert_eq!(
        deletion.deleted_by.as_ref().and_then(|p| p.name.as_deref()),
        Some("Anne de Vries"),
        "deleted by the admin, not the author"
    );
    assert_eq!(
        deleted.sender.as_ref().and_then(|p| p.name.as_deref()),
        Some("Cees Bakker")
    );
    let unknown = &c.quarantined[0];
    assert!(
        unknown.reason.contains("hologramMessage"),
        "{}",
        unknown.reason
    );
    assert_eq!(unknown.raw, items[1].as_bytes());
}
