//! WhatsApp exports through the whole pipeline: sealed, catalogued,
//! verified, and re-exports adding only what is new.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::{
    entry, fixture, package_json, read_zip, sha256_hex, spoor, text, write_zip, Entries, TestStore,
};

fn records(entries: &Entries) -> Vec<Value> {
    String::from_utf8_lossy(entry(entries, "data/records.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect()
}

/// The files of a fixture folder as zip entries, sorted by name.
fn folder_entries(rel: &str) -> Entries {
    let mut files: Vec<_> = fs::read_dir(fixture(rel))
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
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
    let photo = fs::read(fixture(
        "whatsapp/ios-nl-media/00000003-PHOTO-2021-01-01-10-00-00.jpg",
    ))
    .expect("read");
    let digest = sha256_hex(&photo);
    assert_eq!(
        entry(
            &entries,
            &format!("data/blobs/sha256/{}/{digest}", &digest[..2])
        ),
        photo
    );
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
        text(&out)
            .contains("counts.known + counts.duplicates is Some(14) but known.jsonl has 13 lines"),
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
