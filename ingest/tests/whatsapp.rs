//! WhatsApp exports: the hand-written fixtures in `fixtures/whatsapp/` read
//! and checked field by field. Zips "with media" are built by the tests from
//! the fixture folders, so no binary fixture is committed.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spoor_ingest::{read_export, DateOrder, Limits, ReadSummary};
use spoor_normalize::{Ambiguity, Record, RecordKind, Sha256};

use common::Collected;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/whatsapp")
        .join(rel)
}

fn read(rel: &str) -> (ReadSummary, Collected) {
    common::read(&fixture(rel))
}

/// The record whose text starts with `prefix`.
fn by_text<'a>(records: &'a [Record], prefix: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.text.as_deref().is_some_and(|t| t.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no record with text {prefix:?}"))
}

fn sender(record: &Record) -> Option<&str> {
    record.sender.as_ref().and_then(|p| p.name.as_deref())
}

fn decision<'a>(summary: &'a ReadSummary, name: &str) -> &'a Value {
    summary
        .decisions
        .iter()
        .find(|d| d["decision"] == name)
        .unwrap_or_else(|| panic!("no decision {name}: {:?}", summary.decisions))
}

/// Zips the files of a fixture folder (sorted, deflated) as an export
/// "with media" named `name`.
fn zip_folder(rel: &str, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut writer = zip::ZipWriter::new(fs::File::create(&path).expect("create zip"));
    common::zip_tree(&mut writer, &fixture(rel), "");
    writer.finish().expect("finish zip");
    path
}

#[test]
fn android_dutch_every_kind_of_line() {
    let (summary, c) = read("android-nl/WhatsApp-chat met Projectgroep Kade.txt");
    assert_eq!(summary.format, "whatsapp/text");
    assert_eq!((c.records.len(), c.quarantined.len()), (22, 0));
    assert_eq!(decision(&summary, "whatsapp-date-order")["value"], "dmy");
    assert_eq!(
        decision(&summary, "whatsapp-header-grammar")["value"],
        "android"
    );
    assert_eq!(
        decision(&summary, "whatsapp-chat-identity")["value"],
        "whatsapp:Projectgroep Kade"
    );
    let r = &c.records;

    // The BOM is gone and the first record is read, not dropped.
    assert_eq!(r[0].kind, RecordKind::SystemEvent);
    assert_eq!(r[0].extra["system_event"]["type"], "encryption-notice");
    assert_eq!(r[0].time.source_text.as_deref(), Some("14-03-2024 09:00"));
    assert_eq!(r[0].time.utc.as_deref(), Some("2024-03-14T08:00:00Z"));
    assert_eq!(r[0].source.locator.lines, Some([1, 1]));
    assert_eq!(
        r[0].conversation.title.as_deref(),
        Some("Projectgroep Kade")
    );

    assert_eq!(r[2].extra["system_event"]["actor"], "Anne de Vries");
    assert_eq!(r[2].extra["system_event"]["target"], "Bram Jansen");
    // A subject with ": " does not invent a sender.
    assert_eq!(r[3].kind, RecordKind::SystemEvent);
    assert_eq!(r[3].sender, None);
    assert_eq!(r[3].extra["system_event"]["type"], "subject-changed");
    assert_eq!(r[3].extra["system_event"]["subject"], "Kade: fase 2");
    assert_eq!(
        r[3].extra["system_event"]["previous_subject"],
        "Projectgroep Kade"
    );

    // Multi-line exactly: CRLF becomes LF, the blank line stays, and a line
    // that starts with a date but not the header grammar is body text.
    let m = &r[4];
    assert_eq!(sender(m), Some("Anne de Vries"));
    assert_eq!(
        m.text.as_deref(),
        Some("Goedemorgen allemaal.\nHet overleg over de kademuur:\n\n12-03-2021 om 10:00 is het vorige besluit genomen.")
    );
    assert_eq!(m.source.locator.lines, Some([5, 8]));

    // An attachment with spaces and parentheses, its caption on the next line.
    let m = &r[5];
    assert_eq!(m.text.as_deref(), Some("Graag voor vrijdag bekijken"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(
        m.attachments[0].name.as_deref(),
        Some("Begroting 2024 (v2).xlsx")
    );
    assert!(
        m.attachments[0].missing,
        "a bare text export carries no media"
    );

    // A profile name the sender chose, kept verbatim and flagged.
    let m = by_text(r, "Wie is dit?");
    assert_eq!(sender(m), Some("~\u{202f}Cees"));
    assert!(m.flags.contains(&"self-asserted-name".to_owned()));

    // Phone-number senders get an E.164 address; identical messages in the
    // same minute stay two records with distinct ids.
    let (a, b) = (&r[7], &r[8]);
    assert_eq!(a.text, b.text);
    assert_ne!(a.id, b.id);
    let party = a.sender.as_ref().expect("sender");
    assert_eq!(party.name.as_deref(), Some("+31 6 12345678"));
    assert_eq!(party.address.as_deref(), Some("+31612345678"));
    assert_eq!(party.address_type.as_deref(), Some("e164"));

    let omitted = &r[9];
    assert_eq!(omitted.text, None);
    assert!(omitted.flags.contains(&"media-omitted".to_owned()));
    assert!(omitted.attachments[0].missing);

    let deleted = &r[10];
    assert!(deleted.deletion.is_some());
    assert_eq!(deleted.text, None);
    assert_eq!(
        deleted.extra["deleted"]["marker"],
        "Dit bericht is verwijderd"
    );

    let edited = by_text(r, "We besluiten");
    assert_eq!(edited.text.as_deref(), Some("We besluiten tot optie B"));
    assert!(edited.flags.contains(&"edited".to_owned()));

    let location = by_text(r, "locatie:");
    assert_eq!(
        location.extra["location"],
        json!({"url": "https://maps.google.com/?q=52.0907,5.1214", "latitude": 52.0907, "longitude": 5.1214})
    );
    let poll = by_text(r, "PEILING:");
    assert_eq!(
        poll.extra["poll"],
        json!({"question": "Welke datum?", "options": [{"text": "21 maart", "votes": 2}, {"text": "28 maart", "votes": 0}]})
    );
    let card = &r[14];
    assert_eq!(
        card.attachments[0].media_type.as_deref(),
        Some("text/vcard")
    );
    assert!(card.flags.contains(&"contact-card".to_owned()));

    // ZWJ sequences and marks typed inside the text are kept.
    let text = by_text(r, "Team").text.as_deref().expect("text");
    assert!(text.contains("\u{1F469}\u{200d}\u{1F4BB}"));
    assert!(text.contains("\u{200f}שלום\u{200f}"));

    // Spring gap: flagged, never shifted.
    let gap = by_text(r, "Nachtelijke melding");
    assert_eq!(gap.time.utc, None);
    assert_eq!(gap.time.ambiguity, Some(Ambiguity::Gap));
    assert_eq!(gap.warnings.len(), 1);

    // Autumn fall-back: file order decides the offset.
    let first = by_text(r, "Eerste keer");
    assert_eq!(first.time.utc.as_deref(), Some("2024-10-27T00:30:00Z"));
    assert_eq!(first.time.ambiguity, Some(Ambiguity::FoldEarlier));
    assert_eq!(
        first.extra["time_candidates"]["later"],
        "2024-10-27T01:30:00Z"
    );
    let back = by_text(r, "De klok");
    assert_eq!(back.time.utc.as_deref(), Some("2024-10-27T01:10:00Z"));
    assert_eq!(back.time.ambiguity, Some(Ambiguity::FoldLater));
    let still = by_text(r, "Nog steeds");
    assert_eq!(still.time.utc.as_deref(), Some("2024-10-27T01:40:00Z"));
    assert_eq!(
        by_text(r, "Na het").time.utc.as_deref(),
        Some("2024-10-27T02:05:00Z")
    );

    // File order is kept, never re-sorted.
    let starts: Vec<u64> = r
        .iter()
        .map(|m| m.source.locator.bytes.expect("bytes")[0])
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(r[21].extra["system_event"]["type"], "member-left");
}

#[test]
fn ios_english_twelve_hour_with_marks() {
    let (summary, c) = read("ios-en/_chat.txt");
    assert_eq!(c.records.len(), 11);
    assert_eq!(decision(&summary, "whatsapp-date-order")["value"], "mdy");
    // `_chat.txt` names nothing: the first system line's slot names the chat.
    assert_eq!(
        decision(&summary, "whatsapp-chat-identity")["value"],
        "whatsapp:Budget Review"
    );
    let r = &c.records;
    assert_eq!(r[0].kind, RecordKind::SystemEvent);
    assert_eq!(r[0].sender, None);
    assert_eq!(r[0].extra["system_event"]["sender_slot"], "Budget Review");
    assert_eq!(r[0].time.utc.as_deref(), Some("2024-01-04T08:00:00Z"));
    assert_eq!(
        r[0].time.source_text.as_deref(),
        Some("1/4/24, 9:00:00\u{202f}AM")
    );
    assert_eq!(r[2].extra["system_event"]["subject"], "Budget: FY25");
    // A pasted header with a different space before AM stays body text.
    assert_eq!(
        r[3].text.as_deref(),
        Some("Draft numbers below\nQuoting myself:\n[1/4/24, 9:00:00 AM] Eli Park: earlier text")
    );
    assert_eq!(
        r[4].attachments[0].name.as_deref(),
        Some("00000005-PHOTO-2024-01-04-09-03-00.jpg")
    );
    assert_eq!(r[4].text, None);
    assert_eq!(
        r[5].attachments[0].details["document_info"],
        "Minutes.pdf • 3 pages"
    );
    assert_eq!(r[6].attachments[0].details["kind"], "image");
    assert!(r[7].deletion.is_some());
    assert_eq!(r[8].text.as_deref(), Some("Approved for Q2"));
    assert_eq!(r[9].extra["system_event"]["type"], "missed-voice-call");
    assert_eq!(r[9].extra["system_event"]["actor"], "Dana Reyes");
    assert_eq!(
        r[10].time.utc.as_deref(),
        Some("2024-01-12T23:30:00Z"),
        "12:30 AM is 00:30"
    );
}

#[test]
fn android_german_order_from_the_sequence() {
    let (summary, c) = read("android-de/WhatsApp Chat mit Vorstand.txt");
    let order = decision(&summary, "whatsapp-date-order");
    assert_eq!(order["value"], "dmy");
    assert!(order["basis"]
        .as_str()
        .is_some_and(|b| b.contains("never decrease")));
    let r = &c.records;
    assert_eq!(r.len(), 7);
    assert_eq!(r[0].extra["system_event"]["language"], "de");
    assert_eq!(r[1].extra["system_event"]["type"], "member-added");
    assert_eq!(r[3].attachments[0].details["omitted"], true);
    assert!(r[4].deletion.is_some());
    assert_eq!(r[5].text.as_deref(), Some("Termin verschoben"));
    assert_eq!(r[5].time.utc.as_deref(), Some("2021-09-01T08:10:00Z"));
    assert_eq!(r[6].extra["system_event"]["type"], "member-left");
}

#[test]
fn every_header_grammar() {
    for (file, order, utcs) in [
        (
            "es-pm-nbsp.txt",
            "dmy",
            ["2022-08-20T15:46:00Z", "2022-08-20T22:08:00Z"],
        ),
        (
            "fi-klo.txt",
            "dmy",
            ["2022-08-20T12:08:18Z", "2022-08-21T07:05:00Z"],
        ),
        (
            "en-ca-ymd.txt",
            "ymd",
            ["2023-12-20T16:46:00Z", "2023-12-21T08:15:00Z"],
        ),
        (
            "id-dotted.txt",
            "dmy",
            ["2025-08-30T16:30:00Z", "2025-08-30T16:31:00Z"],
        ),
        (
            "cs-spaced.txt",
            "dmy",
            ["2018-06-13T12:08:18Z", "2018-06-14T06:00:00Z"],
        ),
        (
            "ydm.txt",
            "ydm",
            ["2018-06-13T12:00:00Z", "2018-06-14T13:00:00Z"],
        ),
        (
            "en-gb-thin.txt",
            "dmy",
            ["2024-01-13T08:15:00Z", "2024-01-13T11:05:00Z"],
        ),
    ] {
        let (summary, c) = read(&format!("locales/{file}"));
        assert_eq!(
            decision(&summary, "whatsapp-date-order")["value"],
            order,
            "{file}"
        );
        let got: Vec<_> = c
            .records
            .iter()
            .map(|r| r.time.utc.clone().unwrap_or_default())
            .collect();
        assert_eq!(got, utcs, "{file}");
    }
    // The Indonesian date-led continuation line stays text.
    let (_, c) = read("locales/id-dotted.txt");
    assert_eq!(
        c.records[1].text.as_deref(),
        Some("ketemu di kantor?\n30/08/25 18.30 juga boleh")
    );
}

#[test]
fn ambiguous_date_order_needs_a_hint() {
    let path = fixture("locales/en-us-one-day.txt");
    let mut sink = Collected::default();
    let err = read_export(&path, &common::options(Limits::default()), &mut sink)
        .expect_err("one day cannot tell d/m from m/d");
    let message = err.to_string();
    assert!(message.contains("en-us-one-day.txt"), "{message}");
    assert!(message.contains("ambiguous date order"), "{message}");
    assert!(message.contains("--date-order"), "{message}");
    assert!(sink.records.is_empty());

    let mut options = common::options(Limits::default());
    options.date_order_hint = Some(DateOrder::Mdy);
    let (summary, c) = common::read_options(&path, &options);
    let order = decision(&summary, "whatsapp-date-order");
    assert_eq!(order["value"], "mdy");
    assert!(order["basis"]
        .as_str()
        .is_some_and(|b| b.contains("configured hint")));
    assert_eq!(
        c.records[0].time.utc.as_deref(),
        Some("2023-01-04T18:05:00Z")
    );
}

#[test]
fn zone_override_changes_utc_not_ids() {
    let path = fixture("android-de/WhatsApp Chat mit Vorstand.txt");
    let (_, here) = common::read(&path);
    let mut options = common::options(Limits::default());
    options.zone = spoor_normalize::Zone::get("America/New_York").expect("zone");
    let (summary, there) = common::read_options(&path, &options);
    assert_eq!(
        decision(&summary, "whatsapp-time-zone")["value"],
        "America/New_York"
    );
    assert_eq!(
        there.records[2].time.utc.as_deref(),
        Some("2021-08-03T18:07:00Z")
    );
    assert_eq!(here.records[2].id, there.records[2].id);
}

#[test]
fn ios_zip_with_media() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zip = zip_folder(
        "ios-nl-media",
        dir.path(),
        "WhatsApp Chat - Gemeenteraad Oost.zip",
    );
    let (summary, c) = common::read(&zip);
    assert_eq!(summary.format, "whatsapp/zip");
    assert_eq!(c.quarantined.len(), 0);
    assert_eq!(
        decision(&summary, "whatsapp-chat-identity")["value"],
        "whatsapp:Gemeenteraad Oost"
    );
    assert_eq!(
        decision(&summary, "whatsapp-unreferenced-files")["value"],
        json!(["00000099-STICKER-2021-01-01-10-09-00.webp"])
    );
    let r = &c.records;
    assert_eq!(r.len(), 9);
    assert_eq!(r[0].source.locator.path.as_deref(), Some("_chat.txt"));

    let photo = &r[2].attachments[0];
    let bytes = fs::read(fixture(
        "ios-nl-media/00000003-PHOTO-2021-01-01-10-00-00.jpg",
    ))
    .expect("read");
    assert_eq!(photo.sha256, Some(Sha256::of(&bytes)));
    assert_eq!(photo.size, Some(bytes.len() as u64));
    assert_eq!(photo.media_type.as_deref(), Some("image/jpeg"));
    assert!(c.blobs.iter().any(|b| b.bytes == bytes));

    // The chat names the document in NFC, the zip stores it in NFD.
    let doc = &r[3].attachments[0];
    assert_eq!(doc.name.as_deref(), Some("00000004-Notulen café.pdf"));
    assert!(!doc.missing && doc.sha256.is_some());
    assert_eq!(
        doc.details["document_info"],
        "Notulen café.pdf • 3 pagina's"
    );

    // Referenced but absent: recorded as missing, no failure.
    let audio = &r[4].attachments[0];
    assert!(audio.missing);
    assert_eq!(
        audio.details["missing"],
        "referenced, but not in the export's zip"
    );
    assert_eq!(r[5].attachments[0].details["kind"], "image");
    // A caption written before the marker.
    assert_eq!(r[6].text.as_deref(), Some("Kijk hier"));
    assert!(r[6].attachments[0].sha256.is_some());
    assert_eq!(r[7].extra["system_event"]["type"], "missed-voice-call");
    assert_eq!(r[7].extra["system_event"]["actor"], "Joost Smit");
    assert_eq!(r[8].extra["system_event"]["subject"], "Raad: begroting");
}

#[test]
fn android_zip_with_media() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zip = zip_folder("android-nl-media", dir.path(), "WhatsApp-chat met Raad.zip");
    let (summary, c) = common::read(&zip);
    assert_eq!(summary.format, "whatsapp/zip");
    assert_eq!(
        decision(&summary, "whatsapp-chat-identity")["value"],
        "whatsapp:Raad"
    );
    let r = &c.records;
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].text.as_deref(), Some("Foto van de kade"));
    assert!(r[0].attachments[0].sha256.is_some());
    let sheet = &r[1].attachments[0];
    assert_eq!(sheet.name.as_deref(), Some("Begroting 2024 (v2).xlsx"));
    let bytes = fs::read(fixture("android-nl-media/Begroting 2024 (v2).xlsx")).expect("read");
    assert_eq!(sheet.sha256, Some(Sha256::of(&bytes)));
    assert!(r[2].attachments[0].missing);
    assert!(summary
        .decisions
        .iter()
        .all(|d| d["decision"] != "whatsapp-unreferenced-files"));
}

#[test]
fn a_later_export_keeps_the_ids_of_earlier_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = fs::read_to_string(fixture(
        "android-nl/WhatsApp-chat met Projectgroep Kade.txt",
    ))
    .expect("read");
    // The same chat exported earlier, when it ended at the poll.
    let cut = full.find("14-03-2024 09:14").expect("line");
    let early = dir.path().join("WhatsApp-chat met Projectgroep Kade.txt");
    fs::write(&early, &full[..cut]).expect("write");
    let (_, before) = common::read(&early);
    let (_, after) = read("android-nl/WhatsApp-chat met Projectgroep Kade.txt");
    assert_eq!(before.records.len(), 14);
    for (a, b) in before.records.iter().zip(&after.records) {
        assert_eq!(a.id, b.id, "{:?}", a.text);
    }
}

#[test]
fn bad_input_is_quarantined_or_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits::default();

    // Invalid UTF-8 inside one message: that message is quarantined with
    // its raw bytes; the rest is read.
    let path = dir.path().join("WhatsApp Chat with Test.txt");
    fs::write(&path, b"13/01/2024, 10:00 - A: fine\n13/01/2024, 10:01 - A: bad \xff byte\n13/01/2024, 10:02 - A: fine again\n").expect("write");
    let (_, c) = common::read(&path);
    assert_eq!(c.records.len(), 2);
    assert_eq!(c.quarantined.len(), 1);
    assert!(c.quarantined[0].reason.contains("invalid UTF-8"));
    assert_eq!(
        c.quarantined[0].raw,
        b"13/01/2024, 10:01 - A: bad \xff byte\n"
    );
    assert_eq!(c.quarantined[0].locator.lines, Some([2, 2]));

    // A truncated zip: quarantined whole, with a reason.
    let zip = zip_folder("android-nl-media", dir.path(), "WhatsApp-chat met Raad.zip");
    let bytes = fs::read(&zip).expect("read");
    let cut = dir.path().join("cut.zip");
    fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let (summary, c) = common::read(&cut);
    assert_eq!(c.records.len(), 0);
    assert_eq!(c.quarantined.len(), 1);
    assert!(
        c.quarantined[0].reason.contains("damaged or truncated zip"),
        "{}",
        c.quarantined[0].reason
    );
    // Cut short, it cannot be told what it held (see #18).
    assert_eq!(summary.format, "unknown/zip");

    // A zip without a chat in it.
    let other = dir.path().join("photos.zip");
    let mut writer = zip::ZipWriter::new(fs::File::create(&other).expect("create"));
    writer
        .start_file("notes.txt", zip::write::SimpleFileOptions::default())
        .expect("entry");
    writer.write_all(b"just some notes\n").expect("write");
    writer.finish().expect("finish");
    let (_, c) = common::read(&other);
    assert!(c.quarantined[0].reason.contains("without a WhatsApp chat"));

    // A zip bomb: the chat unpacks far beyond its compressed size. The
    // lines before the limit are read; the rest is refused, not unpacked.
    let bomb = dir.path().join("bomb.zip");
    let mut writer = zip::ZipWriter::new(fs::File::create(&bomb).expect("create"));
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("_chat.txt", deflate).expect("entry");
    writer
        .write_all(b"[13/01/2024, 10:00:00] A: hi\n")
        .expect("write");
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..16 {
        writer.write_all(&zeros).expect("write");
    }
    writer.finish().expect("finish");
    let (summary, c) = common::read(&bomb);
    assert!(c.records.is_empty());
    assert_eq!(summary.unreadable.len(), 1, "{:?}", summary.unreadable);
    assert!(
        summary.unreadable[0].contains("zip bomb"),
        "{:?}",
        summary.unreadable
    );
    assert!(limits.max_unpack_ratio > 0);
}

/// Media of any size are streamed into the store as blobs, never held
/// whole; a media entry that unpacks past the bound is damaged, not
/// unpacked, and the rest of the chat is read.
#[test]
fn large_media_are_blobs_and_a_media_bomb_is_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("WhatsApp-chat met Video.zip");
    let mut writer = zip::ZipWriter::new(fs::File::create(&path).expect("create"));
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer
        .start_file("WhatsApp-chat met Video.txt", deflate)
        .expect("entry");
    writer
        .write_all(
            b"21-05-2024 10:00 - Kees Mol: VID-20240501-WA0001.mp4 (bestand bijgevoegd)\n\
              21-05-2024 10:01 - Kees Mol: bom.bin (bestand bijgevoegd)\n\
              21-05-2024 10:02 - Lies Kok: Gezien\n",
        )
        .expect("write");
    // 256 KiB that do not compress, and 20 MiB of zeros that do, far past
    // the unpack bound.
    let mut state = 0x2545_f491_u32;
    let video: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    writer
        .start_file("VID-20240501-WA0001.mp4", deflate)
        .expect("entry");
    writer.write_all(&video).expect("write");
    writer.start_file("bom.bin", deflate).expect("entry");
    writer.write_all(&vec![0u8; 20 << 20]).expect("write");
    writer.finish().expect("finish");

    let limits = Limits {
        max_message_bytes: 64 * 1024,
        ..Limits::default()
    };
    let (summary, c) = common::read_with(&path, limits);
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    assert_eq!(c.records.len(), 3);
    let video_ref = &c.records[0].attachments[0];
    assert_eq!(video_ref.sha256, Some(Sha256::of(&video)));
    assert_eq!(
        (video_ref.size, video_ref.missing),
        (Some(video.len() as u64), false)
    );
    assert!(c.blobs.iter().any(|b| b.bytes == video));
    let bomb = &c.records[1].attachments[0];
    assert!(bomb.missing && bomb.sha256.is_none());
    assert!(
        bomb.details["damaged"]
            .as_str()
            .is_some_and(|d| d.contains("zip bomb")),
        "{:?}",
        bomb.details
    );
    assert!(c.records[1].warnings[0].starts_with("bom.bin: "));
    assert_eq!(c.records[2].text.as_deref(), Some("Gezien"));
}

/// See: #18. A "message" of megabytes (a pasted file, many lines or one)
/// is quarantined by its place in the original, never held whole; the
/// messages around it are records. The file is large enough to be read in
/// chunks on every core.
#[test]
fn r18_a_message_over_the_chat_limit_is_quarantined_by_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("WhatsApp Chat met Lang.txt");
    let mut chat = String::from("25-03-2024 10:00 - Jan: hoi\n25-03-2024 10:01 - Piet: begin\n");
    let many_lines = "regel van een geplakt bestand\n".repeat(200_000);
    chat.push_str(&many_lines);
    let one_line = format!("25-03-2024 10:02 - Piet: {}\n", "x".repeat(3 << 20));
    chat.push_str(&one_line);
    chat.push_str("25-03-2024 10:03 - Jan: klaar\n");
    std::fs::write(&path, &chat).expect("write");
    assert!(chat.len() > 8 << 20, "read in chunks");

    let (summary, c) = common::read(&path);
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    let texts: Vec<_> = c.records.iter().map(|r| r.text.as_deref()).collect();
    assert_eq!(texts, [Some("hoi"), Some("klaar")]);
    assert_eq!(c.quarantined.len(), 2);
    let lines: Vec<_> = c.quarantined.iter().map(|q| q.locator.lines).collect();
    assert_eq!(lines, [Some([2, 200_002]), Some([200_003, 200_003])]);
    for q in &c.quarantined {
        assert!(q.raw.is_empty(), "not copied: the original holds it");
        assert!(
            q.reason.contains("exceed the limit of 1048576 bytes"),
            "{}",
            q.reason
        );
    }
    assert_eq!(c.quarantined[1].raw_size, one_line.len() as u64);
}

/// See: #17. Every message line is a record: identical lines are numbered
/// over the whole file, with other lines, other minutes and a delayed
/// message between them; in a file large enough to be read in chunks, the
/// same holds across chunk edges.
#[test]
fn r17_identical_lines_are_each_a_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("WhatsApp-chat met Herhaling.txt");
    let chat = "25-03-2024 15:43 - Jan: <Media weggelaten>\n\
                25-03-2024 15:43 - Piet: ok\n\
                25-03-2024 15:43 - Jan: <Media weggelaten>\n\
                25-03-2024 15:44 - Piet: nog iets\n\
                25-03-2024 15:43 - Jan: <Media weggelaten>\n";
    std::fs::write(&path, chat).expect("write");
    let (_, c) = common::read(&path);
    assert_eq!(c.records.len(), 5);
    let ids: std::collections::BTreeSet<_> = c.records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 5, "every line its own id");

    // The same line 160,000 times (over 4 MB): read in chunks, each a
    // record with its own number, as one pass numbers them.
    let big = dir.path().join("WhatsApp-chat met Veel.txt");
    std::fs::write(&big, "25-03-2024 15:43 - Jan: ja\n".repeat(160_000)).expect("write");
    let (_, c) = common::read(&big);
    assert_eq!(c.records.len(), 160_000);
    let ids: std::collections::HashSet<_> = c.records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 160_000);
}

/// See: #17. A quoted nickname in a sender's name is a sender, not a
/// system event; a quoted group subject holding `: ` is still one; a line
/// whose sender name is empty (U+200E, then `: `) is a message.
#[test]
fn r17_quoted_nicknames_and_empty_senders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("WhatsApp Chat with Raad.txt");
    let chat = "25/03/2024, 10:00 - Muhammed \"Other Mo\" Variawa: So I put the plan there and added it to the list\n\
                25/03/2024, 10:01 - Jan changed the subject from \"Oud\" to \"Vergadering: dinsdag\"\n\
                25/03/2024, 10:02 - \u{200e}: a message from a deleted account\n";
    std::fs::write(&path, chat).expect("write");
    let (_, c) = common::read(&path);
    assert_eq!(c.records.len(), 3);
    let kinds: Vec<_> = c.records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Message,
            RecordKind::SystemEvent,
            RecordKind::Message
        ]
    );
    assert_eq!(sender(&c.records[0]), Some("Muhammed \"Other Mo\" Variawa"));
    assert_eq!(
        c.records[0].text.as_deref(),
        Some("So I put the plan there and added it to the list")
    );
    assert_eq!(
        c.records[2].text.as_deref(),
        Some("a message from a deleted account")
    );
    assert!(c.records[2]
        .flags
        .iter()
        .all(|f| f != "unrecognised-system-event"));
}

/// See: #17. An auditor recomputes a WhatsApp id from the original bytes
/// and `extra.id_basis` alone, as FORMAT.md §7 describes (its worked
/// example, and every record of the Dutch fixture).
#[test]
fn r17_ids_recompute_from_the_original() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = dir.path().join("WhatsApp-chat met Kade.txt");
    fs::write(
        &example,
        "14-03-2024 09:05 - Anne de Vries: Goedemorgen allemaal\n",
    )
    .expect("write");
    let (_, c) = common::read(&example);
    assert_eq!(
        c.records[0].id.as_str(),
        "6780be1168d942f4c5adaef059aa0b580db59b6edb3f5a40026f989b1f2c49a4"
    );
    let chat = fixture("android-nl/WhatsApp-chat met Projectgroep Kade.txt");
    for path in [example, chat] {
        let original = fs::read(&path).expect("read");
        let (_, c) = common::read(&path);
        assert!(!c.records.is_empty());
        for record in &c.records {
            let basis = &record.extra["id_basis"];
            let [start, end] = record.source.locator.bytes.expect("bytes");
            let bytes = &original[start as usize..end as usize];
            let body_start = basis["body_start"].as_u64().expect("offset") as usize;
            let text = std::str::from_utf8(&bytes[body_start..]).expect("utf-8");
            let text = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(text);
            let text = spoor_normalize::text::normalize_text_keeping_marks(text);
            let occurrence = basis["occurrence"].to_string();
            let id = spoor_normalize::RecordId::derive(
                "whatsapp",
                &[
                    record.conversation.id.as_deref().expect("chat key"),
                    basis["wall"].as_str().expect("wall"),
                    basis["sender_slot"].as_str().unwrap_or(""),
                    &text,
                    &occurrence,
                ],
            );
            assert_eq!(id, record.id, "{basis}");
        }
    }
}

/// See: #17. A Dutch export whose days are all 12 or less is read day
/// first, as its own file name's language writes dates, and the decision
/// says so; an English one still asks for the order.
#[test]
fn r17_date_order_from_the_export_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chat = "03-04-2024 10:00 - Jan: eerste\n05-04-2024 11:00 - Piet: tweede\n";
    let dutch = dir.path().join("WhatsApp-chat met Raad.txt");
    fs::write(&dutch, chat).expect("write");
    let (summary, c) = common::read(&dutch);
    assert_eq!(c.records.len(), 2);
    assert_eq!(
        c.records[0].time.utc.as_deref(),
        Some("2024-04-03T08:00:00Z")
    );
    let order = decision(&summary, "whatsapp-date-order");
    assert_eq!(order["value"], "dmy");
    assert!(
        order["basis"]
            .as_str()
            .is_some_and(|b| b.contains("is in nl")),
        "{order}"
    );
    let english = dir.path().join("WhatsApp Chat with Council.txt");
    fs::write(&english, chat).expect("write");
    let options = common::options(Limits::default());
    let mut sink = common::Collected::default();
    let refused = read_export(&english, &options, &mut sink).expect_err("ambiguous");
    assert!(
        refused.to_string().contains("ambiguous date order"),
        "{refused}"
    );
}

/// See: #17. A chat whose days are all 12 or less, in a file whose name
/// says nothing, is read day first when its system notices are in a
/// language that writes the day first; English notices decide nothing.
#[test]
fn r17_date_order_from_the_notice_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dutch = "03-04-2024 09:00 - Berichten en gesprekken worden end-to-end versleuteld. Niemand buiten deze chat kan ze lezen.\n03-04-2024 10:00 - Jan: eerste\n05-04-2024 11:00 - Piet: tweede\n";
    let path = dir.path().join("chat.txt");
    fs::write(&path, dutch).expect("write");
    let (summary, c) = common::read(&path);
    assert_eq!(c.records.len(), 3);
    assert_eq!(
        c.records[1].time.utc.as_deref(),
        Some("2024-04-03T08:00:00Z")
    );
    let order = decision(&summary, "whatsapp-date-order");
    assert_eq!(order["value"], "dmy");
    assert!(
        order["basis"]
            .as_str()
            .is_some_and(|b| b.contains("system notices are in nl")),
        "{order}"
    );
    let english = "03-04-2024 09:00 - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n03-04-2024 10:00 - Jan: first\n05-04-2024 11:00 - Piet: second\n";
    fs::write(&path, english).expect("write");
    let options = common::options(Limits::default());
    let mut sink = common::Collected::default();
    let refused = read_export(&path, &options, &mut sink).expect_err("ambiguous");
    assert!(
        refused.to_string().contains("ambiguous date order"),
        "{refused}"
    );
}
