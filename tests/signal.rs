//! Signal's plaintext export through the whole pipeline.

use serde_json::Value;

use crate::util::{fixture, read_zip, text, TestStore};

#[test]
fn plaintext_export_is_sealed_with_its_media_and_verifies() {
    let t = TestStore::new();
    let out = t.run(&[&fixture("signal/plaintext-export")]);
    // Two damaged lines are quarantined: archived, with items to look at.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let (package, _) = t.package_of("plaintext-export/main.jsonl");
    let entries = read_zip(&package);
    let meta: Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n.ends_with("data/package.json"))
            .expect("package.json")
            .1,
    )
    .expect("JSON");
    assert_eq!(meta["source_format"], "signal/plaintext-export");
    assert_eq!(meta["counts"]["records"], 10);
    assert_eq!(meta["counts"]["quarantined"], 2);
    assert!(meta["decisions"]
        .as_array()
        .is_some_and(|d| d.iter().any(|d| d["decision"] == "signal-limitations")));
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
