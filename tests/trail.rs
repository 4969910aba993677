//! The audit trail: tampering with the log, its checkpoints or what it
//! names is caught, each with a specific message.

use std::fs;
use std::path::Path;

use crate::util::{fixture, read_zip, spoor, text, write_zip, TestStore};

/// A store after two runs, and the path of its public key.
fn two_runs() -> TestStore {
    let t = TestStore::new();
    assert_eq!(
        t.run(&[&fixture("email/mbox/mboxo.mbox")]).status.code(),
        Some(0)
    );
    assert_eq!(
        t.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    let out = verify_with_key(&t, &t.store.join("log/public-key"));
    assert_eq!(out.0, Some(0), "{}", out.1);
    t
}

fn verify_with_key(t: &TestStore, key: &Path) -> (Option<i32>, String) {
    let out = spoor(&[
        "verify",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--pubkey",
        key.to_str().expect("utf-8"),
    ]);
    (out.status.code(), text(&out))
}

fn assert_caught(t: &TestStore, expected: &[&str]) {
    let key = t.path("trusted.pub");
    if !key.exists() {
        fs::copy(t.store.join("log/public-key"), &key).expect("copy key");
    }
    let (code, output) = verify_with_key(t, &key);
    assert_eq!(code, Some(1), "not caught:\n{output}");
    for e in expected {
        assert!(output.contains(e), "expected {e:?} in:\n{output}");
    }
}

fn bundle(t: &TestStore) -> std::path::PathBuf {
    let dir = t.store.join("log/tile/entries/000.p");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("bundles")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u64>().ok())
    });
    files.pop().expect("a bundle")
}

fn split_entries(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

fn join_entries(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&u16::try_from(e.len()).expect("small").to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

#[test]
fn store_key_is_used_loudly_without_pubkey() {
    let t = two_runs();
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("SIGNATURES CHECKED AGAINST THE STORE'S OWN KEY"),
        "{}",
        text(&out)
    );
}

#[test]
fn log_truncated() {
    let t = two_runs();
    fs::remove_file(bundle(&t)).expect("remove newest bundle");
    assert_caught(&t, &["entry bundle missing (log truncated?)"]);
}

#[test]
fn two_leaves_swapped() {
    let t = two_runs();
    let path = bundle(&t);
    let mut entries = split_entries(&fs::read(&path).expect("bundle"));
    entries.swap(1, 2);
    fs::write(&path, join_entries(&entries)).expect("write");
    assert_caught(
        &t,
        &[
            "root does not match the tree recomputed from the log entries",
            "hash tile differs",
        ],
    );
}

#[test]
fn log_rewritten_and_resigned_with_another_key() {
    let t = two_runs();
    fs::copy(t.store.join("log/public-key"), t.path("trusted.pub")).expect("keep key");
    // Another store, with its own key, archives the same inputs; its log is
    // put in place of this one's.
    let other = TestStore::new();
    other.run(&[&fixture("email/mbox/mboxo.mbox")]);
    other.run(&[&fixture("email/eml/plain.eml")]);
    fs::remove_dir_all(t.store.join("log")).expect("remove log");
    copy_dir(&other.store.join("log"), &t.store.join("log"));
    assert_caught(&t, &["signature does not verify against the trusted key"]);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn package_deleted() {
    let t = two_runs();
    let package = t.packages().into_iter().next().expect("a package");
    let id = package
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("id")
        .to_owned();
    fs::remove_file(&package).expect("delete");
    assert_caught(
        &t,
        &[
            &format!("package {id} is not in the store (deleted?)"),
            "is in no package (removed?)",
        ],
    );
}

#[test]
fn record_removed_and_package_rebagged() {
    let t = two_runs();
    let package = t
        .packages()
        .into_iter()
        .find(|p| {
            read_zip(p)
                .iter()
                .any(|(n, _)| n.ends_with("original/mboxo.mbox"))
        })
        .expect("mbox package");
    let id = package
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("id")
        .to_owned();
    // Drop the first record and redo every digest the bag holds, as a careful
    // insider would.
    let mut entries = read_zip(&package);
    let records_name = format!("{id}/data/records.jsonl");
    let records = entries
        .iter_mut()
        .find(|(n, _)| *n == records_name)
        .expect("records");
    let kept: String = String::from_utf8(records.1.clone())
        .expect("utf-8")
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    records.1 = kept.into_bytes();
    let package_name = format!("{id}/data/package.json");
    let pj = entries
        .iter_mut()
        .find(|(n, _)| *n == package_name)
        .expect("package.json");
    let mut value: serde_json::Value = serde_json::from_slice(&pj.1).expect("json");
    value["counts"]["records"] = serde_json::json!(2);
    let mut bytes = spoor_normalize::jcs::to_canonical(&value);
    bytes.push(b'\n');
    pj.1 = bytes;
    rebag(&mut entries, &id);
    write_zip(&package, &entries);
    // The package alone looks intact; the log gives it away.
    let alone = spoor(&["verify", package.to_str().expect("utf-8")]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone));
    assert_caught(&t, &["is in no package (removed?)", "zip_sha256 is"]);
}

/// Recomputes the manifests and Payload-Oxum of a bag held as zip entries.
fn rebag(entries: &mut [(String, Vec<u8>)], id: &str) {
    let sha = |b: &[u8]| spoor_normalize::Sha256::of(b).to_hex();
    let prefix = format!("{id}/");
    let mut manifest = String::new();
    let (mut octets, mut files) = (0usize, 0usize);
    let mut payload: Vec<_> = entries
        .iter()
        .filter(|(n, _)| n.starts_with(&format!("{prefix}data/")))
        .collect();
    payload.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, bytes) in payload {
        manifest.push_str(&format!("{}  {}\n", sha(bytes), &name[prefix.len()..]));
        octets += bytes.len();
        files += 1;
    }
    let set = |entries: &mut [(String, Vec<u8>)], rel: &str, bytes: Vec<u8>| {
        let name = format!("{prefix}{rel}");
        entries
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("tag file")
            .1 = bytes;
    };
    let info_name = format!("{prefix}bag-info.txt");
    let info = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| *n == info_name)
            .expect("bag-info")
            .1
            .clone(),
    )
    .expect("utf-8");
    let info: String = info
        .lines()
        .map(|l| {
            if l.starts_with("Payload-Oxum:") {
                format!("Payload-Oxum: {octets}.{files}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    set(entries, "bag-info.txt", info.clone().into_bytes());
    set(
        entries,
        "manifest-sha256.txt",
        manifest.clone().into_bytes(),
    );
    let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
    let tags = format!(
        "{}  bag-info.txt\n{}  bagit.txt\n{}  manifest-sha256.txt\n",
        sha(info.as_bytes()),
        sha(bagit.as_bytes()),
        sha(manifest.as_bytes())
    );
    set(entries, "tagmanifest-sha256.txt", tags.into_bytes());
}
