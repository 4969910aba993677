//! The golden corpora: every export under `fixtures/<format>/…` is read and
//! compared with `NAME.expected.jsonl` beside it. On a mismatch the actual
//! output is written to `NAME.failed`; `SPOOR_REGENERATE=1` rewrites the
//! expected files instead (review the diff before committing).

mod common;

use std::fs;
use std::path::Path;

use serde_json::json;
use spoor_normalize::jcs;

fn render(path: &Path) -> String {
    let options = common::options(spoor_ingest::Limits::default());
    let mut collected = common::Collected::default();
    let summary = match spoor_ingest::read_export(path, &options, &mut collected) {
        Ok(summary) => summary,
        // A refusal (a chat whose date order its dates cannot decide) is
        // output too; the path is the fixture's own name.
        Err(e) => {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let error = e.to_string().replace(&path.display().to_string(), name);
            let value = json!({ "error": error });
            return format!(
                "{}\n",
                std::str::from_utf8(&jcs::to_canonical(&value)).expect("utf-8")
            );
        }
    };
    let mut out = String::new();
    for record in &collected.records {
        let line = record.to_canonical_line().expect("record serialises");
        out.push_str(std::str::from_utf8(&line).expect("utf-8"));
        out.push('\n');
    }
    for item in &collected.quarantined {
        let value = json!({
            "quarantine": {
                "locator": item.locator,
                "reason": item.reason,
                "raw_size": item.raw_size,
                "raw_kept": item.raw.len(),
            }
        });
        out.push_str(std::str::from_utf8(&jcs::to_canonical(&value)).expect("utf-8"));
        out.push('\n');
    }
    let summary = json!({
        "summary": {
            "format": summary.format,
            "decisions": summary.decisions,
            "records": summary.records,
            "quarantined": summary.quarantined,
            "unreadable": summary.unreadable,
        }
    });
    out.push_str(std::str::from_utf8(&jcs::to_canonical(&summary)).expect("utf-8"));
    out.push('\n');
    out
}

/// Compares (or with `regenerate`, rewrites) the expected output of each
/// input, noting mismatches in `failures`.
fn check(inputs: &[std::path::PathBuf], regenerate: bool, failures: &mut Vec<String>) {
    for input in inputs {
        let dir = input.parent().expect("in a folder");
        let stem = input
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        let expected_path = dir.join(format!("{stem}.expected.jsonl"));
        let failed_path = dir.join(format!("{stem}.failed"));
        let actual = render(input);
        if regenerate {
            fs::write(&expected_path, &actual).expect("write expected");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected == actual {
            let _ = fs::remove_file(&failed_path);
        } else {
            fs::write(&failed_path, &actual).expect("write .failed");
            failures.push(format!(
                "{} differs (see {})",
                input.display(),
                failed_path.display()
            ));
        }
    }
}

/// The entries of `dir` that are inputs (not expected or failed output),
/// sorted; `keep` chooses among them.
fn inputs(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<std::path::PathBuf> {
    let mut inputs: Vec<_> = fs::read_dir(dir)
        .expect("suite folder exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.ends_with(".expected.jsonl") && !name.ends_with(".failed")
        })
        .filter(|p| keep(p))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} has no fixtures", dir.display());
    inputs
}

#[test]
fn golden_corpus() {
    let regenerate = std::env::var_os("SPOOR_REGENERATE").is_some();
    let mut failures = Vec::new();
    for suite in ["eml", "mbox", "maildir", "folder"] {
        let dir = common::fixtures().join(suite);
        check(&inputs(&dir, |_| true), regenerate, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// See: #17. Every WhatsApp chat file of `fixtures/whatsapp/`, read as a
/// one-file export (media beside it are not part of it), against its
/// `.expected.jsonl`.
#[test]
fn golden_whatsapp() {
    let regenerate = std::env::var_os("SPOOR_REGENERATE").is_some();
    let mut failures = Vec::new();
    let root = common::fixtures().join("../whatsapp");
    let mut suites: Vec<_> = fs::read_dir(&root)
        .expect("fixtures/whatsapp")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    suites.sort();
    assert!(!suites.is_empty(), "no WhatsApp fixtures");
    for suite in suites {
        let chats = inputs(&suite, |p| p.extension().is_some_and(|e| e == "txt"));
        check(&chats, regenerate, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// See: #22. Teams: every page folder and single-message file of
/// `fixtures/teams/`, and each damaged file of `fixtures/teams/bad/`, read
/// as an export of its own.
#[test]
fn golden_teams() {
    let regenerate = std::env::var_os("SPOOR_REGENERATE").is_some();
    let mut failures = Vec::new();
    let root = common::fixtures().join("../teams");
    check(
        &inputs(&root, |p| p.file_name().is_some_and(|n| n != "bad")),
        regenerate,
        &mut failures,
    );
    check(
        &inputs(&root.join("bad"), |_| true),
        regenerate,
        &mut failures,
    );
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// See: #22. Signal: every plaintext export (folder) of `fixtures/signal/`.
/// Encrypted backups are made at test time by the writers (tests/signal*.rs),
/// not kept as files.
#[test]
fn golden_signal() {
    let regenerate = std::env::var_os("SPOOR_REGENERATE").is_some();
    let mut failures = Vec::new();
    let root = common::fixtures().join("../signal");
    check(&inputs(&root, |_| true), regenerate, &mut failures);
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}
