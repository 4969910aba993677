//! Small helpers for walking a folder export: names in a stable order, and
//! the locators of whole files.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use spoor_normalize::text::path_component;
use spoor_normalize::Locator;

/// The locator of a whole file.
pub(crate) fn whole_file(rel: Option<&str>, size: u64) -> Locator {
    Locator {
        path: rel.map(str::to_owned),
        bytes: Some([0, size]),
        ..Locator::default()
    }
}

/// `rel/name`, or `name` at the root.
pub(crate) fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Folder entries sorted by raw name, so reading order never depends on the
/// file system, each with its name sanitised as the package stores it.
pub(crate) fn sorted_entries(dir: &std::path::Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut raw: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    raw.sort_by_key(|e| e.file_name());
    let mut entries = Vec::new();
    for entry in raw {
        entries.push((path_component(entry.file_name().as_bytes()), entry.path()));
    }
    Ok(entries)
}
