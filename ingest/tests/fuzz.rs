//! Property tests that run briefly on every `cargo test` (set
//! `PROPTEST_CASES` for longer runs): the e-mail reader never panics, always
//! accounts for its input, and the mbox splitter undoes mboxrd quoting
//! exactly.

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

proptest! {

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
