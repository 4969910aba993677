//! A fresh folder and store per test, and helpers to run the binary.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zip::write::SimpleFileOptions;

/// A test's own folder with a store in it, removed when dropped.
pub(crate) struct TestStore {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: PathBuf,
}

impl TestStore {
    pub(crate) fn new() -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path().join("store");
        let key = dir.path().join("log.key");
        let out = spoor(&[
            "init",
            "--key-file",
            key.to_str().expect("utf-8 path"),
            store.to_str().expect("utf-8 path"),
        ]);
        assert_eq!(out.status.code(), Some(0), "init failed: {}", text(&out));
        TestStore { dir, store }
    }

    /// Runs `spoor run` on `inputs`, returning the output.
    pub(crate) fn run(&self, inputs: &[&Path]) -> Output {
        let mut args = vec![
            "run".to_owned(),
            "--store".to_owned(),
            self.store.display().to_string(),
        ];
        args.extend(inputs.iter().map(|p| p.display().to_string()));
        spoor(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Runs `spoor run --inbox INBOX --settle-seconds 0 --move-done`.
    pub(crate) fn run_inbox(&self, inbox: &Path) -> Output {
        spoor(&[
            "run",
            "--store",
            self.store.to_str().expect("utf-8"),
            "--inbox",
            inbox.to_str().expect("utf-8"),
            "--settle-seconds",
            "0",
            "--move-done",
        ])
    }

    /// Runs `spoor verify --store`.
    pub(crate) fn verify(&self) -> Output {
        spoor(&["verify", "--store", self.store.to_str().expect("utf-8")])
    }

    /// All package zips, sorted.
    pub(crate) fn packages(&self) -> Vec<PathBuf> {
        let mut out = files_under(&self.store.join("packages"));
        out.retain(|p| p.extension().is_some_and(|e| e == "zip"));
        out
    }

    /// The package whose original is the file `name`, and its id.
    pub(crate) fn package_of(&self, name: &str) -> (PathBuf, String) {
        let suffix = format!("original/{name}");
        let package = self
            .packages()
            .into_iter()
            .find(|p| read_zip(p).iter().any(|(n, _)| n.ends_with(&suffix)))
            .unwrap_or_else(|| panic!("no package holds {name}"));
        let id = package
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("id")
            .to_owned();
        (package, id)
    }

    /// A path inside the test's folder.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Every file under `dir`, recursively, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

pub(crate) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

pub(crate) fn spoor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(args)
        .output()
        .expect("spoor runs")
}

/// Stdout and stderr together, for assertions and failure messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A zip's entries as (name, bytes), in order.
pub(crate) type Entries = Vec<(String, Vec<u8>)>;

/// Reads every entry of a zip as (name, bytes), in order.
pub(crate) fn read_zip(path: &Path) -> Entries {
    let mut archive = zip::ZipArchive::new(fs::File::open(path).expect("open zip")).expect("zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("entry");
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read entry");
            (entry.name().expect("name").into_owned(), bytes)
        })
        .collect()
}

/// Writes entries as a fresh zip at `path` (as a tamperer with zip tools would).
pub(crate) fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).expect("create zip"));
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), SimpleFileOptions::default())
            .expect("start entry");
        zip.write_all(bytes).expect("write entry");
    }
    zip.finish().expect("finish zip");
}

/// The bytes of the entry whose name ends with `suffix`.
pub(crate) fn entry<'a>(entries: &'a Entries, suffix: &str) -> &'a [u8] {
    entries
        .iter()
        .find(|(n, _)| n.ends_with(suffix))
        .map(|(_, b)| b.as_slice())
        .unwrap_or_else(|| panic!("no {suffix}"))
}

/// A package's `data/package.json`.
pub(crate) fn package_json(entries: &Entries) -> serde_json::Value {
    serde_json::from_slice(entry(entries, "data/package.json")).expect("package.json")
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    spoor_normalize::Sha256::of(bytes).to_hex()
}

/// Copies the folder `from` to `to`, recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Rewrites the zip at `path` with the entries named in `replaced` given new
/// bytes and every other entry copied raw (its compressed bytes unchanged),
/// as a tamperer who knows the format would.
pub(crate) fn replace_entries(path: &Path, replaced: &[(String, Vec<u8>)]) {
    let mut source = zip::ZipArchive::new(fs::File::open(path).expect("open zip")).expect("zip");
    let rewritten = path.with_extension("rewritten");
    let mut zip = zip::ZipWriter::new(fs::File::create(&rewritten).expect("create zip"));
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).expect("entry");
        let name = entry.name().expect("name").into_owned();
        match replaced.iter().find(|(n, _)| *n == name) {
            Some((_, bytes)) => {
                drop(entry);
                zip.start_file(name.as_str(), SimpleFileOptions::default())
                    .expect("start entry");
                zip.write_all(bytes).expect("write entry");
            }
            None => zip.raw_copy_file(entry).expect("copy entry"),
        }
    }
    zip.finish().expect("finish zip");
    fs::rename(&rewritten, path).expect("replace zip");
}

/// A Dutch WhatsApp chat of `messages` lines (days after the 12th, so the
/// date order is plain), written into the test's folder.
pub(crate) fn long_chat(t: &TestStore, messages: u32) -> PathBuf {
    let path = t.path("WhatsApp-chat met Lang.txt");
    let text: String = (0..messages)
        .map(|i| {
            format!(
                "{:02}-03-2024 {:02}:{:02} - Anna: bericht {i} over de begroting\n",
                13 + i / 1440,
                (i / 60) % 24,
                i % 60
            )
        })
        .collect();
    fs::write(&path, text).expect("write chat");
    path
}

/// The bytes of entry `<id>/<rel>`, to change in place.
pub(crate) fn entry_mut<'a>(
    entries: &'a mut [(String, Vec<u8>)],
    id: &str,
    rel: &str,
) -> &'a mut Vec<u8> {
    let name = format!("{id}/{rel}");
    &mut entries
        .iter_mut()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

/// Rewrites `manifest-sha256.txt` so its line for `rel` matches `bytes`, as a
/// careful tamperer would.
pub(crate) fn update_manifest(
    entries: &mut [(String, Vec<u8>)],
    id: &str,
    rel: &str,
    bytes: &[u8],
) {
    let manifest = entry_mut(entries, id, "manifest-sha256.txt");
    let text = String::from_utf8(manifest.clone()).expect("utf-8");
    let updated: String = text
        .lines()
        .map(|l| {
            if l.ends_with(&format!("  {rel}")) {
                format!("{}  {rel}\n", sha256_hex(bytes))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    *manifest = updated.into_bytes();
}
