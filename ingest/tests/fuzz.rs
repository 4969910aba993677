//! Property tests that run briefly on every `cargo test` (set
//! `PROPTEST_CASES` for longer runs): the e-mail, WhatsApp and Teams readers
//! never panic and always account for their input, and the mbox splitter
//! undoes mboxrd quoting exactly.

mod common;

use proptest::prelude::*;
use spoor_ingest::internal::{split_mbox, MboxVariant};
use spoor_ingest::Limits;

/// Bytes that look a bit like mail, so the fuzzer gets past detection.
fn mailish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"From a@b Mon Apr  1 09:00:00 2024\n".to_vec()),
        Just(b"Subject: =?utf-8?B?w6k=?=\n".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=x\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\n".to_vec()),
        Just(b"--x\n".to_vec()),
        Just(b"--x--\n".to_vec()),
        Just(b"Content-Length: 7\n".to_vec()),
        Just(b">From here\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|parts| parts.concat())
}

/// Bytes that look a bit like a WhatsApp chat: headers of both families,
/// senders, structural marks, markers, and noise.
fn chatish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        (1u8..32, 1u8..13, 0u8..24)
            .prop_map(|(d, m, h)| format!("{d:02}-{m:02}-2024 {h:02}:05 - ").into_bytes()),
        (1u8..32, 1u8..13)
            .prop_map(|(d, m)| format!("[{d}/{m}/24, 9:05:00\u{202f}PM] ").into_bytes()),
        Just(b"Anne: ".to_vec()),
        Just(b": \xe2\x80\x8e".to_vec()),
        Just("\u{feff}".as_bytes().to_vec()),
        Just(b"<attached: 0001-PHOTO.jpg>".to_vec()),
        Just(b"x.pdf (file attached)".to_vec()),
        Just(b"<Media weggelaten>".to_vec()),
        Just(b" <This message was edited>".to_vec()),
        Just(b"POLL:\nOPTION: a (1 vote)".to_vec()),
        Just(
            "Jan heeft het onderwerp gewijzigd naar \"a: b\""
                .as_bytes()
                .to_vec()
        ),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ];
    proptest::collection::vec(piece, 1..48).prop_map(|parts| parts.concat())
}

proptest! {

    #[test]
    fn teams_reader_never_panics_on_damaged_pages(cut in 0usize..8192, at in 0usize..8192, byte in any::<u8>()) {
        let page = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/teams/chat-pages/page-1.json"))
            .expect("fixture");
        let mut bytes = page[..cut.min(page.len())].to_vec();
        if let Some(b) = bytes.get_mut(at) {
            *b = byte;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("page.json");
        std::fs::write(&path, &bytes).expect("write");
        let (summary, collected) = common::read(&path);
        prop_assert_eq!(summary.records as usize, collected.records.len());
        prop_assert!(summary.records + summary.quarantined >= 1 || bytes.iter().all(u8::is_ascii_whitespace));
        for record in &collected.records {
            let line = record.to_canonical_line().expect("serialises");
            prop_assert!(spoor_normalize::jcs::is_canonical(&line));
        }
    }

    #[test]
    fn chat_reader_never_panics_and_accounts_for_input(bytes in chatish()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("WhatsApp Chat with Fuzz.txt");
        std::fs::write(&path, &bytes).expect("write");
        let mut options = common::options(Limits { max_chat_message_bytes: 1 << 12, ..Limits::default() });
        options.date_order_hint = Some(spoor_ingest::DateOrder::Dmy);
        let mut sink = common::Collected::default();
        let Ok(summary) = spoor_ingest::read_export(&path, &options, &mut sink) else {
            // Only a file whose dates fit no order at all is refused.
            return Ok(());
        };
        prop_assert_eq!(summary.records as usize, sink.records.len());
        prop_assert_eq!(summary.quarantined as usize, sink.quarantined.len());
        let mut previous = 0u64;
        for record in &sink.records {
            let line = record.to_canonical_line().expect("serialises");
            prop_assert!(spoor_normalize::jcs::is_canonical(&line));
            let [start, end] = record.source.locator.bytes.expect("chat records have byte ranges");
            prop_assert!(start >= previous && end <= bytes.len() as u64 && start < end);
            previous = start;
        }
    }

    #[test]
    fn reader_never_panics_and_accounts_for_input(bytes in prop_oneof![mailish(), proptest::collection::vec(any::<u8>(), 0..2048)]) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("input");
        std::fs::write(&path, &bytes).expect("write");
        let limits = Limits { max_header_line_bytes: 200, max_message_bytes: 1 << 16, ..Limits::default() };
        let (summary, collected) = common::read_with(&path, limits);
        prop_assert_eq!(summary.records as usize, collected.records.len());
        prop_assert_eq!(summary.quarantined as usize, collected.quarantined.len());
        prop_assert!(summary.records + summary.quarantined >= 1, "nothing produced for {} bytes", bytes.len());
        let mut previous = 0u64;
        for record in &collected.records {
            let line = record.to_canonical_line().expect("serialises");
            prop_assert!(spoor_normalize::jcs::is_canonical(&line));
            if let Some([start, end]) = record.source.locator.bytes {
                prop_assert!(start >= previous && end <= bytes.len() as u64 && start <= end);
                previous = start;
            }
        }
    }

    #[test]
    fn mboxrd_round_trip(bodies in proptest::collection::vec(
        proptest::collection::vec(prop_oneof![
            Just("From the minutes\n".to_owned()),
            Just(">From quoted\n".to_owned()),
            Just(">>From twice\n".to_owned()),
            Just("\n".to_owned()),
            "[a-z >]{0,12}\n",
        ], 0..8),
        1..6,
    )) {
        let messages: Vec<Vec<u8>> = bodies
            .iter()
            .enumerate()
            .map(|(i, lines)| format!("Subject: {i}\n\n{}", lines.concat()).into_bytes())
            .collect();
        let mut mbox = Vec::new();
        for message in &messages {
            mbox.extend_from_slice(b"From someone Mon Apr  1 09:00:00 2024\n");
            for line in message.split_inclusive(|b| *b == b'\n') {
                let quoted = line.iter().skip_while(|b| **b == b'>').take(5).eq(b"From ".iter());
                if quoted {
                    mbox.push(b'>');
                }
                mbox.extend_from_slice(line);
            }
            mbox.push(b'\n');
        }
        let mut recovered = Vec::new();
        split_mbox(&mbox[..], MboxVariant::Mboxrd, 1 << 20, |m| -> Result<(), ()> {
            recovered.push(m.bytes);
            Ok(())
        })
        .map_err(|_| TestCaseError::fail("split failed"))?;
        prop_assert_eq!(recovered, messages);
    }
}

/// The fuzz targets' bodies (fuzz/fuzz_targets/) on every fixture file and
/// on each cut short: the seed corpus `cargo fuzz` starts from holds here.
/// See: #22.
#[test]
fn fuzz_bodies_hold_on_the_seed_corpus() {
    use spoor_ingest::internal::{mbox_split, read_file, signal_frames};
    let mut files = Vec::new();
    let mut stack = vec![common::fixtures().join("..")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 50, "seed corpus of {} files", files.len());
    for path in files {
        let bytes = std::fs::read(&path).expect("fixture");
        for cut in [bytes.len(), bytes.len() / 2, bytes.len().min(64)] {
            let data = &bytes[..cut];
            signal_frames(data);
            mbox_split(data);
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("x");
            read_file(data, name);
        }
    }
}
