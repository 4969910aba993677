//! Bad input: no panic, a clear message naming the place, quarantine with
//! the raw bytes, and the original always preserved.

use std::fs;

use crate::util::{read_zip, text, Entries, TestStore};

/// Runs one input and returns (exit code, output, package entries).
fn archive(t: &TestStore, name: &str, bytes: &[u8]) -> (Option<i32>, String, Entries) {
    let input = t.path(name);
    fs::write(&input, bytes).expect("write input");
    let out = t.run(&[&input]);
    let entries = t.packages().last().map(|p| read_zip(p)).unwrap_or_default();
    (out.status.code(), text(&out), entries)
}

fn entry(entries: &[(String, Vec<u8>)], suffix: &str) -> Vec<u8> {
    entries
        .iter()
        .find(|(n, _)| n.ends_with(suffix))
        .map(|(_, b)| b.clone())
        .unwrap_or_else(|| panic!("no {suffix}"))
}

#[test]
fn binary_garbage_is_quarantined_and_kept() {
    let t = TestStore::new();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (code, output, entries) = archive(&t, "garbage.bin", &garbage);
    assert_eq!(code, Some(3), "{output}");
    assert_eq!(entry(&entries, "data/original/garbage.bin"), garbage);
    let quarantine = String::from_utf8(entry(&entries, "data/quarantine.jsonl")).expect("utf-8");
    assert!(
        quarantine.contains("not an e-mail message, mbox, Maildir, WhatsApp chat or Teams message"),
        "{quarantine}"
    );
    assert_eq!(t.verify().status.code(), Some(0));
}

#[test]
fn empty_file() {
    let t = TestStore::new();
    let (code, output, entries) = archive(&t, "empty.eml", b"");
    assert_eq!(code, Some(3), "{output}");
    assert!(String::from_utf8(entry(&entries, "data/quarantine.jsonl"))
        .expect("utf-8")
        .contains("empty file"));
    assert_eq!(t.verify().status.code(), Some(0));
}

#[test]
fn truncated_mbox_keeps_what_is_there() {
    let t = TestStore::new();
    let full = fs::read(crate::util::fixture("email/mbox/mboxo.mbox")).expect("fixture");
    let cut = &full[..full.len() - 40];
    let (code, output, entries) = archive(&t, "cut.mbox", cut);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("3 records"), "{output}");
    assert_eq!(entry(&entries, "data/original/cut.mbox"), cut);
    assert_eq!(t.verify().status.code(), Some(0));
}

#[test]
fn fifty_megabyte_header_line() {
    let t = TestStore::new();
    let mut message = b"Message-ID: <big@example.org>\nX-Huge: ".to_vec();
    message.extend(std::iter::repeat_n(b'a', 50 << 20));
    message.extend_from_slice(b"\nSubject: big\n\nbody\n");
    let (code, output, entries) = archive(&t, "huge.eml", &message);
    assert_eq!(code, Some(3), "{output}");
    let quarantine = String::from_utf8(entry(&entries, "data/quarantine.jsonl")).expect("utf-8");
    assert!(
        quarantine.contains("header line at byte 30 is 52428808 bytes long"),
        "{quarantine}"
    );
    assert_eq!(t.verify().status.code(), Some(0));
}

#[test]
fn message_without_headers_in_an_mbox() {
    let t = TestStore::new();
    let mbox = b"From x Mon Apr  1 09:00:00 2024\n\nno headers at all\n\nFrom y Mon Apr  1 09:00:00 2024\nSubject: ok\n\nfine\n";
    let (code, output, entries) = archive(&t, "headless.mbox", mbox);
    assert_eq!(code, Some(3), "{output}");
    let quarantine = String::from_utf8(entry(&entries, "data/quarantine.jsonl")).expect("utf-8");
    assert!(
        quarantine.contains("\"bytes\":[0,"),
        "locator names the place: {quarantine}"
    );
    assert!(quarantine.contains("not an e-mail message"), "{quarantine}");
    assert!(output.contains("1 records"), "{output}");
}

#[test]
fn folder_with_unreadable_entries() {
    let t = TestStore::new();
    let folder = t.path("export");
    fs::create_dir_all(&folder).expect("mkdir");
    fs::write(folder.join("ok.eml"), "Subject: ok\n\nfine\n").expect("write");
    let locked = folder.join("locked.eml");
    fs::write(&locked, "Subject: locked\n\nsecret\n").expect("write");
    std::os::unix::fs::symlink("/etc/passwd", folder.join("link.eml")).expect("symlink");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    let root_can_read = fs::read(&locked).is_ok();
    let out = t.run(&[&folder]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(3), "{output}");
    assert!(
        output.contains("link.eml: symbolic link not followed"),
        "{output}"
    );
    if !root_can_read {
        assert!(output.contains("locked.eml: cannot read"), "{output}");
    }
    let entries = read_zip(&t.packages()[0]);
    assert!(
        !entries.iter().any(|(n, _)| n.ends_with("link.eml")),
        "links are never copied"
    );
    assert_eq!(
        entry(&entries, "data/original/export/ok.eml"),
        b"Subject: ok\n\nfine\n"
    );
    assert_eq!(t.verify().status.code(), Some(0), "{}", text(&t.verify()));
}

#[test]
fn missing_input_fails_naming_it() {
    let t = TestStore::new();
    let out = t.run(&[&t.path("no-such-export.mbox")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no-such-export.mbox: FAILED"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("No such file"), "{}", text(&out));
}

/// See: #18. A passphrase given by mistake as the passphrase file's name
/// is never echoed.
#[test]
fn r18_a_passphrase_given_as_the_file_name_is_not_echoed() {
    let t = TestStore::new();
    let out = crate::util::spoor(&[
        "run",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--signal-passphrase-file",
        "12345 67890 12345 67890 13579 24680",
        crate::util::fixture("email/eml/plain.eml")
            .to_str()
            .expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--signal-passphrase-file"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("13579"), "{}", text(&out));
}

/// See: #18. `init` refused (the key inside the store) leaves no store.
#[test]
fn r18_a_refused_init_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let out = crate::util::spoor(&[
        "init",
        "--key-file",
        store.join("log.key").to_str().expect("utf-8"),
        store.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("outside the store"), "{}", text(&out));
    assert!(!store.exists(), "no half-made store");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let out = crate::util::spoor(&[
        "init",
        "--key-file",
        empty.join("log.key").to_str().expect("utf-8"),
        empty.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(fs::read_dir(&empty).expect("read").count(), 0, "left empty");
}

/// See: #18. A truncated zip (a Signal plaintext export cut short) is not
/// taken for a WhatsApp export: it is kept, quarantined, and named as a zip.
#[test]
fn r18_a_truncated_zip_is_not_called_whatsapp() {
    let t = TestStore::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, text) in [
        ("signal-export/metadata.json", "{\"version\":1}\n"),
        ("signal-export/main.jsonl", "{\"account\":{}}\n"),
    ] {
        zip.start_file(name, options).expect("entry");
        std::io::Write::write_all(&mut zip, text.repeat(40).as_bytes()).expect("write");
    }
    let bytes = zip.finish().expect("zip").into_inner();
    let cut = &bytes[..bytes.len() / 2];
    let (code, output, entries) = archive(&t, "signal-export.zip", cut);
    assert_eq!(code, Some(3), "{output}");
    assert!(output.contains("as unknown/zip"), "{output}");
    assert_eq!(entry(&entries, "data/original/signal-export.zip"), cut);
    assert_eq!(t.verify().status.code(), Some(0));
}

/// See: #18. A folder with a file that could not be kept stays in the
/// inbox with --move-done, and the report says why.
#[test]
fn r18_a_folder_not_kept_whole_is_not_moved_to_done() {
    let t = TestStore::new();
    let inbox = t.path("inbox");
    let export = inbox.join("mail");
    fs::create_dir_all(&export).expect("mkdir");
    fs::copy(
        crate::util::fixture("email/eml/plain.eml"),
        export.join("plain.eml"),
    )
    .expect("copy");
    std::os::unix::fs::symlink("/etc/hostname", export.join("link.eml")).expect("symlink");
    let out = t.run_inbox(&inbox);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("left in the inbox: 1 of its files"),
        "{}",
        text(&out)
    );
    assert!(export.join("plain.eml").is_file(), "not moved");
    assert!(!inbox.join("done").join("mail").exists());
}
