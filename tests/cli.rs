//! The command line as operators meet it: exit codes stated in every
//! `--help`, JSON outputs with a schema, a result and a code per finding,
//! "could not run" kept apart from "problems found", no colour codes off a
//! terminal, a run summary that ends with why its exit code is what it is,
//! and a manual page and completions made from the same definitions.
//! See: #22.

use std::fs;
use std::process::Command;

use crate::util::{fixture, spoor, text, TestStore};

const SUBCOMMANDS: &[&[&str]] = &[
    &["init"],
    &["run"],
    &["verify"],
    &["prove"],
    &["verify-proof"],
    &["reindex"],
    &["search"],
    &["show"],
    &["export"],
    &["export", "html"],
    &["export", "disclosure"],
    &["witness"],
    &["witness", "init"],
    &["witness", "serve"],
    &["completions"],
    &["man"],
];

#[test]
fn r22_every_help_states_the_exit_codes() {
    let top = spoor(&["--help"]);
    assert!(text(&top).contains("Exit codes: 0"), "{}", text(&top));
    for sub in SUBCOMMANDS {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = spoor(&args);
        assert_eq!(out.status.code(), Some(0), "{sub:?}: {}", text(&out));
        assert!(
            text(&out).contains("Exit codes: 0"),
            "{sub:?} --help names no exit codes:\n{}",
            text(&out)
        );
    }
    let run = text(&spoor(&["run", "--help"]));
    assert!(
        run.contains("3 archived, but with quarantined items"),
        "{run}"
    );
}

#[test]
fn r22_man_page_and_completions_come_from_the_flags() {
    let man = spoor(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH spoor 1"), "{page}");
    assert!(page.contains("verify\\-proof"), "{page}");
    for (shell, marker) in [
        ("bash", "_spoor()"),
        ("zsh", "#compdef spoor"),
        ("fish", "complete -c spoor"),
    ] {
        let out = spoor(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("signal-recovery-key-file"), "{shell}");
    }
}

#[test]
fn r22_verify_json_has_schema_result_and_a_code_per_finding() {
    let t = TestStore::new();
    t.run(&[&fixture("email/eml/plain.eml")]);
    let store = t.store.to_str().expect("utf-8");
    let intact = spoor(&["verify", "--store", store, "--json"]);
    assert_eq!(intact.status.code(), Some(0), "{}", text(&intact));
    let doc: serde_json::Value = serde_json::from_slice(&intact.stdout).expect("json");
    assert_eq!(doc["schema"], "spoor.verify/1");
    assert_eq!(doc["result"], "intact");
    assert_eq!(doc["findings"], serde_json::json!([]));

    // A receipt changed: found, with a stable code.
    let receipt = crate::util::files_under(&t.store.join("intake"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a receipt");
    let changed = fs::read_to_string(&receipt)
        .expect("receipt")
        .replace("\"size\":", "\"size\":1");
    fs::write(&receipt, changed).expect("write");
    let out = spoor(&["verify", "--store", store, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["result"], "problems-found");
    let findings = doc["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f["code"].as_str().is_some_and(
            |c| !c.is_empty() && c.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        )),
        "{findings:?}"
    );
    assert!(
        findings.iter().any(|f| f["code"] == "receipt-mismatch"),
        "{findings:?}"
    );
    // Every code the verifier can give is documented.
    let documented = fs::read_to_string(fixture("../docs/JSON.md")).expect("docs/JSON.md");
    for f in findings {
        let code = f["code"].as_str().unwrap_or_default();
        assert!(
            documented.contains(&format!("`{code}`")),
            "{code} not in docs/JSON.md"
        );
    }
}

#[test]
fn r22_unusable_key_bundle_or_checkpoint_is_could_not_run() {
    let t = TestStore::new();
    t.run(&[&fixture("email/eml/plain.eml")]);
    let store = t.store.to_str().expect("utf-8");
    let junk = t.path("junk.txt");
    fs::write(&junk, "not a key, not a bundle, not a checkpoint\n").expect("write");
    let junk = junk.to_str().expect("utf-8");
    for args in [
        vec!["verify", "--store", store, "--pubkey", junk],
        vec!["verify", "--store", store, "--since", junk],
        vec![
            "verify-proof",
            junk,
            "--pubkey",
            &format!("{store}/log/public-key"),
        ],
    ] {
        let out = spoor(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).starts_with("spoor: "),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn r22_no_colour_codes_off_a_terminal() {
    let t = TestStore::new();
    let out = Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["run", "--store", t.store.to_str().expect("utf-8")])
        .arg(fixture("email/eml/plain.eml"))
        .env("SPOOR_LOG", "info")
        .output()
        .expect("spoor runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("archiving"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI codes in a pipe: {stderr:?}"
    );
}

#[test]
fn r22_run_summary_ends_with_totals_and_why_the_exit_code() {
    let t = TestStore::new();
    let out = t.run(&[&fixture("email/folder/mixed")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = summary.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("exit 3: 1 input(s) archived only in part (2 items quarantined"),
        "{summary}"
    );
    assert!(
        last.ends_with(
            "first cause in {}: empty file"
                .replace("{}", &fixture("email/folder/mixed").display().to_string())
                .as_str()
        ),
        "{summary}"
    );
    assert!(
        summary.contains("  quarantined 1: not an e-mail message"),
        "{summary}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("totals: 1 inputs (0 archived, 1 partial")),
        "{summary}"
    );
    // The JSON report says the same, with its schema and result on top.
    let t = TestStore::new();
    let out = spoor(&[
        "run",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--json",
        fixture("email/folder/mixed").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["schema"], "spoor.run/1");
    assert_eq!(doc["result"], "partial");
    assert_eq!(doc["exit_code"], 3);
    assert_eq!(
        doc["inputs"][0]["quarantine_reasons"][0]["count"], 1,
        "{doc}"
    );
}
