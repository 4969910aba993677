//! Teams Graph exports through the whole pipeline: pages sealed with their
//! hosted contents, versions kept, the catalogue naming the current one.

use std::fs;

use serde_json::Value;

use crate::util::{copy_dir, fixture, package_json, read_zip, spoor, text, TestStore};

fn search(t: &TestStore, query: &str) -> Vec<Value> {
    let out = spoor(&[
        "search",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--json",
        query,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).expect("search JSON");
    assert_eq!(document["schema"], "spoor.search/1");
    serde_json::from_value(document["hits"].clone()).expect("hits")
}

#[test]
fn pages_are_sealed_versions_kept_and_the_current_one_named() {
    let t = TestStore::new();
    let export = t.path("teams-2024-03-01");
    copy_dir(&fixture("teams/chat-pages"), &export);
    let out = t.run(&[&export]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (package, _) = t.package_of(
        "teams-2024-03-01/hostedContents/1709283900000/aWQ9eF8wLXdldS1kMS0xMjM0NTY3ODkw",
    );
    let entries = read_zip(&package);
    let meta = package_json(&entries);
    assert_eq!(meta["source_format"], "teams/folder");
    assert_eq!(
        meta["counts"]["records"], 13,
        "14 read, one repeated across pages"
    );
    assert_eq!(meta["counts"]["duplicates"], 1);

    // Both versions of the edited decision are archived; only the later is current.
    let hits = search(&t, "besluit");
    assert_eq!(hits.len(), 2, "{hits:?}");
    let current: Vec<bool> = hits
        .iter()
        .map(|h| h["current"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1, "{hits:?}");

    // A later capture with a third version adds exactly one record, which
    // becomes the current one.
    let later = t.path("teams-2024-03-02");
    fs::create_dir_all(&later).expect("mkdir");
    let page = fs::read_to_string(fixture("teams/chat-pages/page-1.json")).expect("read");
    let mut page: Value = serde_json::from_str(&page).expect("JSON");
    let mut v3 = page["value"][3].clone();
    v3["etag"] = Value::from("1709373600000");
    v3["lastModifiedDateTime"] = Value::from("2024-03-02T10:00:00.000Z");
    v3["lastEditedDateTime"] = Value::from("2024-03-02T10:00:00.000Z");
    v3["body"]["content"] = Value::from("<p>Besluit: we kiezen optie C.</p>");
    page["value"] = Value::Array(vec![v3, page["value"][4].clone()]);
    fs::write(
        later.join("page-1.json"),
        serde_json::to_vec(&page).expect("JSON"),
    )
    .expect("write");
    let out = t.run(&[&later]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let hits = search(&t, "besluit");
    assert_eq!(hits.len(), 3, "{hits:?}");
    let current: Vec<&Value> = hits.iter().filter(|h| h["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let out = spoor(&[
        "search",
        "--store",
        t.store.to_str().expect("utf-8"),
        "optie",
    ]);
    assert!(
        text(&out).contains("superseded by a later version"),
        "{}",
        text(&out)
    );
    // The catalogue links each version to the one before it.
    let db = rusqlite::Connection::open(t.store.join("catalog.sqlite")).expect("catalogue");
    let chain: Vec<(String, Option<String>)> = db
        .prepare("SELECT version_time, previous_id FROM version_chain WHERE version_of LIKE '%/1709283600000' ORDER BY version_time")
        .and_then(|mut q| {
            q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("query");
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert_eq!(chain[0].1, None);
    assert!(chain[1].1.is_some() && chain[2].1.is_some() && chain[1].1 != chain[2].1);
    let out = t.verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
