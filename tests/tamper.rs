//! Tampering with a sealed package is caught, each with a specific message.

use std::fs;
use std::path::{Path, PathBuf};

use crate::trail::{access_points, record_on_line};
use crate::util::{
    entry_mut, fixture, long_chat, read_zip, replace_entries, sha256_hex, spoor, text,
    update_manifest, write_zip, TestStore,
};

/// A store holding one package with records, an attachment and quarantine.
fn sealed() -> (TestStore, PathBuf, String) {
    let t = TestStore::new();
    let out = t.run(&[
        &fixture("email/mbox/mboxo.mbox"),
        &fixture("email/eml/attachment-rfc2231.eml"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(t.verify().status.code(), Some(0));
    // The package of the mbox (three records).
    let (package, id) = t.package_of("mboxo.mbox");
    (t, package, id)
}

fn verify_package(path: &Path) -> (Option<i32>, String) {
    let out = spoor(&["verify", path.to_str().expect("utf-8")]);
    (out.status.code(), text(&out))
}

fn assert_caught(path: &Path, expected: &[&str]) {
    let (code, output) = verify_package(path);
    assert_eq!(code, Some(1), "tampering not caught:\n{output}");
    for e in expected {
        assert!(output.contains(e), "expected {e:?} in:\n{output}");
    }
}

#[test]
fn one_flipped_byte_in_any_entry() {
    let (t, package, id) = sealed();
    let original = fs::read(&package).expect("zip");
    let mut archive = zip::ZipArchive::new(fs::File::open(&package).expect("open")).expect("zip");
    let mut spans = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("name").into_owned();
        if entry.compressed_size() > 0 {
            spans.push((
                name,
                entry.data_start().expect("data start"),
                entry.compressed_size(),
            ));
        }
    }
    assert!(spans.len() >= 8, "every entry is tried: {spans:?}");
    for (name, start, len) in spans {
        let mut bytes = original.clone();
        let at = usize::try_from(start + len / 2).expect("offset");
        bytes[at] ^= 0x01;
        let tampered = t.path("flipped.zip");
        fs::write(&tampered, &bytes).expect("write");
        // The package's own file name must stay its id for the name checks.
        let named = t.path(&format!("{id}.zip"));
        fs::rename(&tampered, &named).expect("rename");
        let rel = name.strip_prefix(&format!("{id}/")).expect("in top folder");
        assert_caught(&named, &[rel]);
    }
}

#[test]
fn entry_removed() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    entries.retain(|(n, _)| !n.contains("/data/blobs/") && !n.ends_with("data/quarantine.jsonl"));
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[
            "data/quarantine.jsonl: listed in manifest-sha256.txt but missing from the package",
            "Payload-Oxum",
        ],
    );
    let _ = id;
}

#[test]
fn entry_added() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    entries.push((format!("{id}/data/extra.txt"), b"added later".to_vec()));
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[
            "data/extra.txt: payload file not listed in manifest-sha256.txt",
            "Payload-Oxum",
        ],
    );
}

#[test]
fn record_line_edited_with_manifest_updated() {
    let (t, package, id) = sealed();
    let mut entries = read_zip(&package);
    let records = entry_mut(&mut entries, &id, "data/records.jsonl");
    let edited = String::from_utf8(records.clone())
        .expect("utf-8")
        .replace("Regel een.", "Regel twee");
    *records = edited.clone().into_bytes();
    update_manifest(&mut entries, &id, "data/records.jsonl", edited.as_bytes());
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &["manifest-sha256.txt: checksum mismatch: tagmanifest-sha256.txt says"],
    );
    // The store check also compares every record hash with the catalogue.
    let out = t.verify();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("data/records.jsonl line 1: record "),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("but the catalogue says"),
        "{}",
        text(&out)
    );
    // And with the log's record entry, read in line order.
    assert!(
        text(&out).contains("data/records.jsonl line 1: record ")
            && text(&out).contains(", but log entry "),
        "{}",
        text(&out)
    );
}

/// The catalogue is compared package by package in line order: a row
/// taken out and a row for a package the store does not hold are both
/// reported.
#[test]
fn catalogue_rows_missing_or_stray() {
    let (t, _, id) = sealed();
    let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
    // Rows are numbered package number × 2³² + line (FORMAT §9).
    db.execute(
        "DELETE FROM record_rows WHERE row = (SELECT number FROM packages WHERE id = ?1) * 4294967296 + 2",
        [&id],
    )
    .expect("delete");
    db.execute(
        "INSERT INTO record_rows(row, id, hash) VALUES (99 * 4294967296 + 1, ?1, ?2)",
        [[0xffu8; 32], [0u8; 32]],
    )
    .expect("insert");
    db.execute(
        "INSERT INTO packages(number, id, path, export_sha256) VALUES (99, 'p-elsewhere', 'packages/x/p-elsewhere.zip', '')",
        [],
    )
    .expect("insert");
    db.execute(
        "INSERT INTO record_rows(row, id, hash) VALUES (100 * 4294967296 + 1, ?1, ?2)",
        [[0xeeu8; 32], [0u8; 32]],
    )
    .expect("insert");
    drop(db);
    let out = t.verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("data/records.jsonl line 2: record ")
            && said.contains("is missing from the catalogue (run spoor reindex)"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "catalogue lists record {} in p-elsewhere, but no package holds it",
            "f".repeat(64)
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "catalogue lists record {} in package number 100, which the catalogue's packages table does not have",
            "e".repeat(64)
        )),
        "{said}"
    );
}

#[test]
fn attachment_replaced_with_manifest_updated() {
    let t = TestStore::new();
    t.run(&[&fixture("email/eml/attachment-rfc2231.eml")]);
    let package = t.packages().remove(0);
    let id = package
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("id")
        .to_owned();
    let mut entries = read_zip(&package);
    let (name, bytes) = entries
        .iter_mut()
        .find(|(n, _)| n.contains("/data/blobs/"))
        .expect("a blob");
    let rel = name
        .strip_prefix(&format!("{id}/"))
        .expect("top")
        .to_owned();
    *bytes = b"%PDF-1.4 a different document".to_vec();
    let replaced = bytes.clone();
    update_manifest(&mut entries, &id, &rel, &replaced);
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[&format!(
            "{rel}: blob content hashes to {}, not to its name",
            sha256_hex(&replaced)
        )],
    );
}

#[test]
fn two_record_lines_swapped() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    let records = entry_mut(&mut entries, &id, "data/records.jsonl");
    let text = String::from_utf8(records.clone()).expect("utf-8");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(0, 1);
    let swapped = format!("{}\n", lines.join("\n"));
    *records = swapped.into_bytes();
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[
            "data/records.jsonl: checksum mismatch: manifest-sha256.txt says",
            "data/records.jsonl line 2: out of source order",
        ],
    );
}

#[test]
fn record_line_repeated_with_manifest_updated() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    let records = entry_mut(&mut entries, &id, "data/records.jsonl");
    let text = String::from_utf8(records.clone()).expect("utf-8");
    let last = text.lines().last().expect("records").to_owned();
    let record_id = serde_json::from_str::<serde_json::Value>(&last).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let repeated = format!("{text}{last}\n").into_bytes();
    *records = repeated.clone();
    update_manifest(&mut entries, &id, "data/records.jsonl", &repeated);
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[
            &format!("data/records.jsonl line 4: record id {record_id} appears twice"),
            "counts.records is 3 but records.jsonl has 4 lines",
        ],
    );
}

#[test]
fn unsafe_entry_names_and_second_top_folder() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    entries.push((format!("{id}/../evil.txt"), b"x".to_vec()));
    entries.push(("other/file.txt".to_owned(), b"x".to_vec()));
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[
            "unsafe entry name",
            "outside the package's single top folder",
        ],
    );
}

#[test]
fn intake_receipt_must_match_the_original() {
    let (t, _package, _id) = sealed();
    let receipt = fs::read_dir(t.store.join("intake"))
        .expect("intake")
        .flatten()
        .flat_map(|y| fs::read_dir(y.path()).expect("year").flatten())
        .flat_map(|m| fs::read_dir(m.path()).expect("month").flatten())
        .map(|e| e.path())
        .next()
        .expect("a receipt");
    let text_before = fs::read_to_string(&receipt).expect("receipt");
    let value: serde_json::Value = serde_json::from_str(&text_before).expect("json");
    let sha = value["sha256"].as_str().expect("sha").to_owned();
    fs::write(&receipt, text_before.replace(&sha, &"0".repeat(64))).expect("write");
    let out = t.verify();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("receipt SHA-256"), "{}", text(&out));
}

#[test]
fn stray_files_in_the_store_layout_are_reported() {
    let (t, package, _id) = sealed();
    let month = package.parent().expect("month folder");
    fs::write(month.join("leftover.zip.partial"), b"half a package").expect("write");
    fs::write(t.store.join("packages/notes.txt"), b"x").expect("write");
    let out = t.verify();
    assert_eq!(out.status.code(), Some(1));
    let output = text(&out);
    assert!(
        output.contains("leftover.zip.partial: unexpected entry in packages/ (expected *.zip)"),
        "{output}"
    );
    assert!(
        output.contains("packages/notes.txt: unexpected entry in packages/ (expected YYYY/MM/)"),
        "{output}"
    );
}

/// See: #15. The account of units in package.json must add up to the
/// lines of records, known and quarantine: a package that claims more
/// units read than it holds items is caught.
#[test]
fn r15_accounting_that_does_not_add_up() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    let meta = entry_mut(&mut entries, &id, "data/package.json");
    let mut value: serde_json::Value = serde_json::from_slice(meta).expect("json");
    value["accounting"] = serde_json::json!({ "unit": "signal message rows", "read": 99 });
    let mut bytes = spoor_normalize::jcs::to_canonical(&value);
    bytes.push(b'\n');
    *meta = bytes.clone();
    update_manifest(&mut entries, &id, "data/package.json", &bytes);
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &["data/package.json: accounting: 99 signal message rows read, but records, known and quarantine lines add up to 3"],
    );
}

/// See: #16. The entries of an mbox tile it: a record whose byte range is
/// moved (the manifest updated as a careful tamperer would) leaves a gap
/// and an overlap, both reported.
#[test]
fn r16_mbox_entries_tile_the_original() {
    let t = crate::util::TestStore::new();
    let out = t.run(&[&fixture("email/mbox/thunderbird.mbox")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(": 3 records"), "{}", text(&out));
    assert_eq!(t.verify().status.code(), Some(0));
    let (package, id) = t.package_of("thunderbird.mbox");
    let mut entries = read_zip(&package);
    let records = entry_mut(&mut entries, &id, "data/records.jsonl");
    let edited = String::from_utf8(records.clone())
        .expect("utf-8")
        .replace("\"bytes\":[352,881]", "\"bytes\":[300,870]");
    assert_ne!(&edited.as_bytes(), records, "the range was there to move");
    *records = edited.clone().into_bytes();
    update_manifest(&mut entries, &id, "data/records.jsonl", edited.as_bytes());
    write_zip(&package, &entries);
    assert_caught(
        &package,
        &[
            "data/original/thunderbird.mbox: bytes 300..352 are named by two entries",
            "data/original/thunderbird.mbox: bytes 870..881 are in no record, known or quarantine entry",
        ],
    );
}

/// A second entry under a name the package already has, with the very same
/// bytes: FORMAT §4.2 allows no duplicates, so it is refused even though
/// every digest still matches. See: #19.
#[test]
fn r19_duplicate_entry_name_with_equal_contents() {
    let (_t, package, id) = sealed();
    let mut entries = read_zip(&package);
    let bagit = entries
        .iter()
        .find(|(n, _)| *n == format!("{id}/bagit.txt"))
        .map(|(_, b)| b.clone())
        .expect("bagit.txt");
    // The writer refuses a duplicate name, so the entry is written under a
    // name of the same length and renamed in the bytes afterwards.
    entries.push((format!("{id}/bagit.tx#"), bagit));
    write_zip(&package, &entries);
    let mut bytes = fs::read(&package).expect("package");
    let (from, to) = (b"bagit.tx#", b"bagit.txt");
    let mut renamed = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            renamed += 1;
        }
        i += 1;
    }
    assert_eq!(renamed, 2, "local header and central directory");
    fs::write(&package, &bytes).expect("write");
    assert_caught(&package, &["duplicate entry name"]);
}

/// Replaces a package's `records-access.txt` with `listed` (and its line in
/// the tag manifest), copying every other entry raw.
fn replace_access_points(package: &Path, id: &str, listed: &str) {
    let entries = read_zip(package);
    let name = format!("{id}/tagmanifest-sha256.txt");
    let tagmanifest: String =
        String::from_utf8(crate::util::entry(&entries, "/tagmanifest-sha256.txt").to_vec())
            .expect("utf-8")
            .lines()
            .map(|l| {
                if l.ends_with("  records-access.txt") {
                    format!("{}  records-access.txt\n", sha256_hex(listed.as_bytes()))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
    replace_entries(
        package,
        &[
            (
                format!("{id}/records-access.txt"),
                listed.as_bytes().to_vec(),
            ),
            (name, tagmanifest.into_bytes()),
        ],
    );
}

#[test]
fn r21_access_points_that_lie_are_caught() {
    let t = TestStore::new();
    let out = t.run(&[&long_chat(&t, 3000)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let package = t.packages()[0].clone();
    let id = package
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("id")
        .to_owned();
    let points = access_points(&package);
    let listed = |points: &[[u64; 3]]| -> String {
        points
            .iter()
            .map(|p| format!("{} {} {}\n", p[0], p[1], p[2]))
            .collect()
    };
    let original = fs::read(&package).expect("package");
    let store = t.store.to_str().expect("utf-8");

    // A point that names the wrong line: verify says so, and prove of the
    // line it claims refuses rather than give another record's evidence.
    let mut wrong_line = points.clone();
    wrong_line[2][0] += 1;
    replace_access_points(&package, &id, &listed(&wrong_line));
    assert_caught(
        &package,
        &["records-access.txt: the point of line", "starts at byte"],
    );
    let claimed = record_on_line(&t, wrong_line[2][0]);
    let out = spoor(&["prove", "--store", store, &claimed]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("holds record"), "{}", text(&out));

    // A deflate offset moved into the middle of a block.
    fs::write(&package, &original).expect("restore");
    let mut moved = points.clone();
    moved[1][2] += 3;
    replace_access_points(&package, &id, &listed(&moved));
    assert_caught(&package, &["records-access.txt: the point of line"]);

    // Not a list of points at all.
    fs::write(&package, &original).expect("restore");
    replace_access_points(&package, &id, "1 0 0\nzes\n");
    assert_caught(
        &package,
        &["records-access.txt: line 2: not three decimal numbers"],
    );

    // Untouched, the same package is intact.
    fs::write(&package, &original).expect("restore");
    assert_eq!(t.verify().status.code(), Some(0));
}

/// An entry compressed with a method spoor never writes (bzip2, patched
/// into both its headers) is reported by name, and every other entry is
/// still read and checked.
#[test]
fn r21_an_entry_of_another_compression_method_is_reported_by_name() {
    let (_t, package, id) = sealed();
    let mut bytes = fs::read(&package).expect("package");
    let name = format!("{id}/bagit.txt");
    let mut patched = 0;
    for (signature, name_at, method_at) in [(b"PK\x03\x04", 30, 8), (b"PK\x01\x02", 46, 10)] {
        let header = (0..bytes.len() - name_at - name.len())
            .find(|&i| {
                &bytes[i..i + 4] == signature
                    && &bytes[i + name_at..i + name_at + name.len()] == name.as_bytes()
            })
            .expect("header of bagit.txt");
        bytes[header + method_at..header + method_at + 2].copy_from_slice(&12u16.to_le_bytes());
        patched += 1;
    }
    assert_eq!(patched, 2);
    fs::write(&package, &bytes).expect("write");
    let (code, output) = verify_package(&package);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("bagit.txt: cannot be read (damaged data or CRC mismatch): compression method not supported: 12"),
        "{output}"
    );
    // Every finding is about that entry: the others, before and after it
    // in the file, were read and found intact.
    let findings: Vec<&str> = output
        .lines()
        .filter(|l| !l.contains("PROBLEMS FOUND"))
        .collect();
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|l| l.starts_with("bagit.txt: ")),
        "{output}"
    );
}
