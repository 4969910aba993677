//! WhatsApp exports through the whole pipeline: sealed, catalogued,
//! verified, and re-exports adding only what is new.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::{
    entry, entry_mut, fixture, package_json, read_zip, replace_entries, sha256_hex, spoor, text,
    update_manifest, write_zip, Entries, TestStore,
};

fn records(entries: &Entries) -> Vec<Value> {
    String::from_utf8_lossy(entry(entries, "data/records.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect()
}

/// The fixture's first photo is in the package as a blob under its digest.
fn assert_photo_kept_as_blob(entries: &Entries) {
    let photo = fs::read(fixture(
        "whatsapp/ios-nl-media/00000003-PHOTO-2021-01-01-10-00-00.jpg",
    ))
    .expect("read");
    let digest = sha256_hex(&photo);
    assert_eq!(
        entry(
            entries,
            &format!("data/blobs/sha256/{}/{digest}", &digest[..2])
        ),
        photo
    );
}

/// The files of a fixture folder as zip entries, sorted by name.
fn folder_entries(rel: &str) -> Entries {
    let mut files: Vec<_> = fs::read_dir(fixture(rel))
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        // The golden corpus's own files are not part of the export.
        .filter(|p| !p.to_string_lossy().ends_with(".expected.jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("utf-8");
            (name.to_owned(), fs::read(p).expect("read"))
        })
        .collect()
}

fn run_with(t: &TestStore, extra: &[&str], input: &Path) -> std::process::Output {
    let store = t.store.display().to_string();
    let input = input.display().to_string();
    let mut args = vec!["run", "--store", &store];
    args.extend_from_slice(extra);
    args.push(&input);
    spoor(&args)
}

#[test]
fn zip_with_media_is_sealed_with_its_blobs_and_verifies() {
    let t = TestStore::new();
    let zip = t.path("WhatsApp Chat - Gemeenteraad Oost.zip");
    write_zip(&zip, &folder_entries("whatsapp/ios-nl-media"));
    let out = t.run(&[&zip]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (package, _) = t.package_of("WhatsApp Chat - Gemeenteraad Oost.zip");
    let entries = read_zip(&package);
    // The original zip byte for byte, and each linked media file as a blob.
    assert_eq!(
        entry(
            &entries,
            "data/original/WhatsApp Chat - Gemeenteraad Oost.zip"
        ),
        fs::read(&zip).expect("read")
    );
    assert_photo_kept_as_blob(&entries);
    let meta = package_json(&entries);
    assert_eq!(meta["source_format"], "whatsapp/zip");
    let decisions: Vec<&str> = meta["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter_map(|d| d["decision"].as_str())
        .collect();
    for wanted in [
        "whatsapp-header-grammar",
        "whatsapp-date-order",
        "whatsapp-time-zone",
        "whatsapp-chat-identity",
        "whatsapp-unreferenced-files",
    ] {
        assert!(
            decisions.contains(&wanted),
            "{wanted} missing from {decisions:?}"
        );
    }
    assert_eq!(records(&entries).len(), 9);
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_later_export_of_the_same_chat_adds_only_new_messages() {
    let t = TestStore::new();
    let name = "WhatsApp-chat met Projectgroep Kade.txt";
    let full = fs::read_to_string(fixture(&format!("whatsapp/android-nl/{name}"))).expect("read");
    let cut = full.find("14-03-2024 09:14").expect("line");
    fs::create_dir_all(t.path("march")).expect("mkdir");
    fs::create_dir_all(t.path("november")).expect("mkdir");
    let early = t.path("march").join(name);
    let late = t.path("november").join(name);
    fs::write(&early, &full[..cut]).expect("write");
    fs::write(&late, &full).expect("write");

    let out = t.run(&[&early]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = t.run(&[&late]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let packages = t.packages();
    assert_eq!(packages.len(), 2);
    let second = packages
        .iter()
        .map(|p| read_zip(p))
        .find(|e| package_json(e)["counts"]["known"] != 0)
        .expect("the second package");
    let meta = package_json(&second);
    assert_eq!(meta["counts"]["records"], 8);
    assert_eq!(meta["counts"]["known"], 14);
    let texts: Vec<String> = records(&second)
        .iter()
        .map(|r| r["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        texts[0].is_empty(),
        "the contact card comes first: {texts:?}"
    );
    assert!(texts[1].starts_with("Team"), "{texts:?}");
    // The 14 records not written again are listed, one line each.
    let known: Vec<Value> = String::from_utf8_lossy(entry(&second, "data/known.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("known line"))
        .collect();
    assert_eq!(known.len(), 14);
    assert!(known.iter().all(|k| k["why"] == "already in the store"
        && k["id"].as_str().is_some_and(|id| id.len() == 64)
        && k["locator"]["lines"].is_array()));
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A known line taken out is caught even with the manifest updated.
    let package = packages
        .iter()
        .find(|p| package_json(&read_zip(p))["counts"]["known"] != 0)
        .expect("the second package");
    let mut entries = read_zip(package);
    let (name, bytes) = entries
        .iter_mut()
        .find(|(n, _)| n.ends_with("/data/known.jsonl"))
        .expect("known.jsonl");
    let id = name.split('/').next().unwrap_or_default().to_owned();
    let shorter: Vec<u8> = String::from_utf8_lossy(bytes)
        .lines()
        .skip(1)
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    *bytes = shorter.clone();
    let manifest = entries
        .iter_mut()
        .find(|(n, _)| *n == format!("{id}/manifest-sha256.txt"))
        .expect("manifest");
    let updated: String = String::from_utf8_lossy(&manifest.1)
        .lines()
        .map(|l| match l.strip_suffix("  data/known.jsonl") {
            Some(_) => format!("{}  data/known.jsonl\n", sha256_hex(&shorter)),
            None => format!("{l}\n"),
        })
        .collect();
    manifest.1 = updated.into_bytes();
    write_zip(package, &entries);
    let out = spoor(&["verify", package.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("counts.known + counts.duplicates is 14 but known.jsonl has 13 lines"),
        "{}",
        text(&out)
    );
}

#[test]
fn ambiguous_dates_are_reported_and_the_hint_and_zone_apply() {
    let t = TestStore::new();
    let input = t.path("WhatsApp Chat with Kim.txt");
    fs::copy(fixture("whatsapp/locales/en-us-one-day.txt"), &input).expect("copy");
    let out = t.run(&[&input]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("ambiguous date order"), "{said}");
    // The original is sealed even so.
    let (package, _) = t.package_of("WhatsApp Chat with Kim.txt");
    let meta = package_json(&read_zip(&package));
    assert!(
        meta["read_error"]
            .as_str()
            .is_some_and(|e| e.contains("--date-order")),
        "{meta}"
    );

    let out = run_with(
        &t,
        &["--date-order", "mdy", "--tz", "America/New_York"],
        &input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let decided = t
        .packages()
        .iter()
        .map(|p| read_zip(p))
        .find(|e| package_json(e)["counts"]["records"] == 2)
        .expect("a package with the records");
    let first = &records(&decided)[0];
    assert_eq!(first["time"]["utc"], "2023-01-05T00:05:00Z");
    assert_eq!(first["time"]["zone"], "America/New_York");
    assert_eq!(package_json(&decided)["settings"]["date_order_hint"], "mdy");

    let out = run_with(&t, &["--tz", "Mars/Olympus"], &input);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("Mars/Olympus"));
}

#[test]
fn overlapping_exports_in_one_run_add_each_message_once_in_input_order() {
    // Both exports of the chat arrive in the same night: they are staged in
    // parallel, and committed in input order, so the later one keeps only
    // what the earlier one did not archive, as in two runs.
    let name = "WhatsApp-chat met Projectgroep Kade.txt";
    let full = fs::read_to_string(fixture(&format!("whatsapp/android-nl/{name}"))).expect("read");
    let cut = full.find("14-03-2024 09:14").expect("line");
    let one_run = TestStore::new();
    let two_runs = TestStore::new();
    let mut packages = Vec::new();
    for t in [&one_run, &two_runs] {
        fs::create_dir_all(t.path("march")).expect("mkdir");
        fs::create_dir_all(t.path("november")).expect("mkdir");
        fs::write(t.path("march").join(name), &full[..cut]).expect("write");
        fs::write(t.path("november").join(name), &full).expect("write");
        // The same export twice in one run is archived once.
        fs::write(t.path("copy.txt"), &full[..cut]).expect("write");
    }
    let (early, late, copy) = (
        one_run.path("march").join(name),
        one_run.path("november").join(name),
        one_run.path("copy.txt"),
    );
    let out = one_run.run(&[&early, &late, &copy]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(
        &fs::read(
            fs::read_dir(one_run.store.join("runs"))
                .expect("runs")
                .flatten()
                .next()
                .expect("report")
                .path(),
        )
        .expect("read"),
    )
    .expect("JSON");
    let statuses: Vec<&str> = report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert_eq!(statuses, ["archived", "archived", "known"]);
    for night in ["march", "november"] {
        let out = two_runs.run(&[&two_runs.path(night).join(name)]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    for t in [&one_run, &two_runs] {
        let second = t
            .packages()
            .iter()
            .map(|p| read_zip(p))
            .find(|e| package_json(e)["counts"]["known"] != 0)
            .expect("the second package");
        assert_eq!(package_json(&second)["counts"]["records"], 8);
        packages.push(entry(&second, "data/records.jsonl").to_vec());
        let out = t.verify();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    assert_eq!(packages[0], packages[1], "one run or two, the same records");
}

/// A chat of 4.5 MB (read in chunks on every core) archived after three
/// small slices of it (each read in one pass): every message of a slice
/// gets the same id in the large export, so the large package lists exactly
/// those as already in the store, and every line of the file is accounted
/// for once, in order. Runs of identical messages in one minute (told apart
/// by their occurrence) fall on chunk edges too.
#[test]
fn a_large_chat_read_on_every_core_keeps_the_ids_of_one_pass() {
    let t = TestStore::new();
    let name = "WhatsApp-chat met Grote Groep.txt";
    // (first message of its minute, text)
    let mut messages: Vec<(bool, String)> = Vec::new();
    let start = 13 * 24 * 60; // 13 January, so every day settles d-m-y
    let mut minute = 0;
    let mut lines = 0;
    while messages.iter().map(|(_, m)| m.len()).sum::<usize>() < 4_500_000 {
        let at = start + minute;
        let day = at / (24 * 60);
        let (month, day) = if day > 31 { (2, day - 31) } else { (1, day) };
        let header = format!(
            "{day:02}-{month:02}-2023 {:02}:{:02} - ",
            at / 60 % 24,
            at % 60
        );
        let repeats = if minute % 10 == 0 { 3 } else { 1 };
        for n in 0..repeats {
            let body = match (minute % 7, repeats) {
                (_, 3) => "Eva Jansen: akkoord\n".to_owned(),
                (0, _) => format!(
                    "Jan de Vries: bericht {minute} over de begroting\nmet een tweede regel\n"
                ),
                _ => format!("Sanne Visser: bericht {minute} over het voorstel van de wethouder\n"),
            };
            lines += body.matches('\n').count();
            messages.push((n == 0, format!("{header}{body}")));
        }
        minute += 1;
    }
    let whole: String = messages.iter().map(|(_, m)| m.as_str()).collect();
    assert!(whole.len() > 4 << 20, "large enough to be read in chunks");
    fs::create_dir_all(t.path("full")).expect("mkdir");
    let full = t.path("full").join(name);
    fs::write(&full, &whole).expect("write");

    // Slices that start at the first message of a minute: head, middle, tail.
    let minute_start = |from: usize| {
        (from..messages.len())
            .find(|&i| messages[i].0)
            .expect("a minute starts")
    };
    let middle = minute_start(messages.len() / 3);
    let tail = minute_start(messages.len() - 400);
    let mut sliced = 0;
    for (folder, range) in [
        ("head", 0..300),
        ("middle", middle..middle + 300),
        ("tail", tail..messages.len()),
    ] {
        fs::create_dir_all(t.path(folder)).expect("mkdir");
        let slice = t.path(folder).join(name);
        let chat: String = messages[range.clone()]
            .iter()
            .map(|(_, m)| m.as_str())
            .collect();
        fs::write(&slice, chat).expect("write");
        let out = t.run(&[&slice]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        sliced += range.len();
    }
    let slice_ids: std::collections::BTreeSet<String> = t
        .packages()
        .iter()
        .flat_map(|p| records(&read_zip(p)))
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        slice_ids.len(),
        sliced,
        "repeated messages have ids of their own"
    );

    let out = t.run(&[&full]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let package = t
        .packages()
        .into_iter()
        .find(|p| package_json(&read_zip(p))["counts"]["known"] != 0)
        .expect("the large package");
    let entries = read_zip(&package);
    let meta = package_json(&entries);
    assert_eq!(meta["counts"]["known"], sliced);
    assert_eq!(meta["counts"]["records"], messages.len() - sliced);
    let known: Vec<Value> = String::from_utf8_lossy(entry(&entries, "data/known.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("known line"))
        .collect();
    let known_ids: std::collections::BTreeSet<String> = known
        .iter()
        .map(|k| k["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(known_ids, slice_ids);
    // Every line once, in order: the records' and the known ones' line
    // ranges, sorted, tile the file.
    let mut ranges: Vec<(u64, u64)> = records(&entries)
        .iter()
        .map(|r| &r["source"]["locator"]["lines"])
        .chain(known.iter().map(|k| &k["locator"]["lines"]))
        .map(|l| (l[0].as_u64().expect("first"), l[1].as_u64().expect("last")))
        .collect();
    ranges.sort();
    let mut next = 1;
    for (first, last) in ranges {
        assert_eq!(first, next, "line ranges tile the file");
        next = last + 1;
    }
    assert_eq!(next, lines as u64 + 1);
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A chat's every byte is in a record, known or quarantine entry, and
/// `spoor verify` checks that account: a record removed from a package (the
/// manifest updated, as a careful tamperer would) leaves a gap in the chat,
/// also when the chat is inside a zip export.
#[test]
fn r17_every_byte_of_a_chat_is_accounted_for() {
    let t = TestStore::new();
    let zip = t.path("WhatsApp Chat - Gemeenteraad Oost.zip");
    write_zip(&zip, &folder_entries("whatsapp/ios-nl-media"));
    let chat = fixture("whatsapp/android-nl/WhatsApp-chat met Projectgroep Kade.txt");
    // A folder delivering a zip export.
    let folder = t.path("Aangeleverd");
    fs::create_dir_all(folder.join("raad")).expect("folder");
    write_zip(
        &folder.join("raad/Raad.zip"),
        &folder_entries("whatsapp/android-nl-media"),
    );
    let out = t.run(&[&zip, &chat, &folder]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(t.verify().status.code(), Some(0), "{}", text(&t.verify()));
    for (name, chat_entry) in [
        (
            "WhatsApp-chat met Projectgroep Kade.txt",
            "data/original/WhatsApp-chat met Projectgroep Kade.txt",
        ),
        (
            "WhatsApp Chat - Gemeenteraad Oost.zip",
            "data/original/WhatsApp Chat - Gemeenteraad Oost.zip/_chat.txt",
        ),
        (
            "Aangeleverd/raad/Raad.zip",
            "data/original/Aangeleverd/raad/Raad.zip!/WhatsApp-chat met Raad.txt",
        ),
    ] {
        let (package, id) = t.package_of(name);
        let mut entries = read_zip(&package);
        let records = entry_mut(&mut entries, &id, "data/records.jsonl");
        let kept = String::from_utf8(records.clone()).expect("utf-8");
        let mut lines: Vec<&str> = kept.lines().collect();
        let removed: Value = serde_json::from_str(lines.remove(2)).expect("json");
        let bytes = &removed["source"]["locator"]["bytes"];
        let without = format!("{}\n", lines.join("\n"));
        *records = without.clone().into_bytes();
        update_manifest(&mut entries, &id, "data/records.jsonl", without.as_bytes());
        let manifest = entry_mut(&mut entries, &id, "manifest-sha256.txt").clone();
        // Every other entry copied raw, so the export zip stays stored and
        // can be read in place.
        replace_entries(
            &package,
            &[
                (format!("{id}/data/records.jsonl"), without.into_bytes()),
                (format!("{id}/manifest-sha256.txt"), manifest),
            ],
        );
        let out = spoor(&["verify", package.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let gap = format!(
            "{chat_entry}: bytes {}..{} are in no record, known or quarantine entry",
            bytes[0], bytes[1]
        );
        assert!(text(&out).contains(&gap), "{gap} not in:\n{}", text(&out));
    }
}

/// An export unzipped before delivery: the chat's media are taken from the
/// files beside it, as from the zip; a file no line names is quarantined
/// with that reason, and nothing is read twice.
#[test]
fn r17_an_unpacked_export_keeps_its_media_with_the_messages() {
    let t = TestStore::new();
    let folder = t.path("WhatsApp Chat - Gemeenteraad Oost");
    fs::create_dir(&folder).expect("folder");
    for (name, bytes) in folder_entries("whatsapp/ios-nl-media") {
        fs::write(folder.join(name), bytes).expect("write");
    }
    let out = t.run(&[&folder]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("1 quarantined")
            && text(&out).contains("beside a WhatsApp chat, but named by no line of it"),
        "{}",
        text(&out)
    );
    assert_eq!(t.verify().status.code(), Some(0), "{}", text(&t.verify()));
    let (package, _) = t.package_of("WhatsApp Chat - Gemeenteraad Oost/_chat.txt");
    let entries = read_zip(&package);
    let records = records(&entries);
    let linked: Vec<(&str, bool)> = records
        .iter()
        .flat_map(|r| r["attachments"].as_array().into_iter().flatten())
        .map(|a| {
            (
                a["name"].as_str().unwrap_or(""),
                a["sha256"].as_str().is_some(),
            )
        })
        .collect();
    assert_eq!(
        linked,
        [
            ("00000003-PHOTO-2021-01-01-10-00-00.jpg", true),
            ("00000004-Notulen café.pdf", true),
            ("00000005-AUDIO-2021-01-01-10-02-00.opus", false),
            ("", false),
            ("00000006-PHOTO-2021-01-01-10-04-00.jpg", true),
        ]
    );
    assert_photo_kept_as_blob(&entries);
    let quarantine = String::from_utf8_lossy(entry(&entries, "data/quarantine.jsonl")).into_owned();
    assert_eq!(quarantine.lines().count(), 1, "{quarantine}");
    assert!(
        quarantine.contains("00000099-STICKER-2021-01-01-10-09-00.webp"),
        "{quarantine}"
    );
}
