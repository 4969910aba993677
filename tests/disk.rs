//! A full disk and a read-only store: a clear error, nothing corrupted.
//! Needs a tmpfs mount (root, as in CI); where mounting is not allowed the
//! tests say so and check nothing more.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{spoor, text};

/// A small tmpfs, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root and can mount a tmpfs"
            );
            eprintln!("cannot mount a tmpfs here; skipping");
            return None;
        }
        Some(Mount(dir.to_owned()))
    }

    fn remount_read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount read-only");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn init(store: &Path, key: &Path) {
    let out = spoor(&[
        "init",
        "--key-file",
        key.to_str().expect("utf-8"),
        store.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_full_disk_fails_the_input_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mount) = Mount::tmpfs(&dir.path().join("disk"), "3m") else {
        return;
    };
    let store = mount.0.join("store");
    init(&store, &dir.path().join("log.key"));
    let mut mbox = String::new();
    for n in 0..4000 {
        let _ = write!(mbox, "From a@b Mon Apr  1 09:00:00 2024\nMessage-ID: <{n}@disk.example>\nSubject: {n}\n\n{}\n\n", "tekst ".repeat(200));
    }
    let input = dir.path().join("big.mbox");
    fs::write(&input, mbox).expect("write input");
    let store_arg = store.to_str().expect("utf-8");
    let out = spoor(&["run", "--store", store_arg, input.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("big.mbox: FAILED"), "{}", text(&out));
    assert!(
        text(&out).contains("No space left on device"),
        "{}",
        text(&out)
    );
    // Nothing half-written is left visible, and the store verifies.
    let verify = spoor(&["verify", "--store", store_arg]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    assert_eq!(
        fs::read_dir(store.join("tmp")).expect("tmp").count(),
        0,
        "staging removed"
    );
}

#[test]
fn a_read_only_store_is_refused_and_still_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mount) = Mount::tmpfs(&dir.path().join("disk"), "8m") else {
        return;
    };
    let store = mount.0.join("store");
    init(&store, &dir.path().join("log.key"));
    let input = crate::util::fixture("email/eml/plain.eml");
    let store_arg = store.to_str().expect("utf-8");
    assert_eq!(
        spoor(&["run", "--store", store_arg, input.to_str().expect("utf-8")])
            .status
            .code(),
        Some(0)
    );
    mount.remount_read_only();
    let out = spoor(&["run", "--store", store_arg, input.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    let verify = spoor(&["verify", "--store", store_arg]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}
