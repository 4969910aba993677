//! Inbox runs: every export dropped in a folder that is ready, leaving for
//! the next run whatever is still being delivered.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fsutil::with_path;
use crate::Error;

/// Endings of names that delivery tools use while a file is in transit.
const IN_TRANSIT: &[&str] = &[".part", ".partial", ".tmp", ".crdownload", ".download"];

/// How an inbox is read.
#[derive(Clone, Debug)]
pub struct InboxOptions {
    /// An export modified more recently than this is taken to be still
    /// being written, and left for the next run.
    pub settle: Duration,
    /// Move each export that is archived (or was already) to `done/` inside
    /// the inbox.
    pub move_done: bool,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            settle: Duration::from_secs(60),
            move_done: false,
        }
    }
}

/// What an inbox holds, sorted by name.
pub(crate) struct Scan {
    /// Exports ready to be archived.
    pub(crate) ready: Vec<PathBuf>,
    /// Exports left for the next run, with why.
    pub(crate) waiting: Vec<(PathBuf, String)>,
}

/// The exports in `inbox` that are ready, and those left waiting. The
/// `done/` folder is not an export.
pub(crate) fn scan(inbox: &Path, settle: Duration) -> Result<Scan, Error> {
    let mut entries: Vec<_> = fs::read_dir(inbox)
        .map_err(with_path(inbox))?
        .collect::<Result<_, _>>()
        .map_err(with_path(inbox))?;
    entries.sort_by_key(|e| e.file_name());
    let (mut ready, mut waiting) = (Vec::new(), Vec::new());
    let now = SystemTime::now();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name == "done" && path.is_dir() {
            continue;
        }
        if name.starts_with('.') || IN_TRANSIT.iter().any(|end| name.ends_with(end)) {
            waiting.push((path, "a temporary name: still being delivered".to_owned()));
            continue;
        }
        let newest = newest_change(&path, 32).map_err(with_path(&path))?;
        let age = now.duration_since(newest).unwrap_or_default();
        if age < settle {
            waiting.push((
                path,
                format!(
                    "changed {} s ago: taken to be still being written",
                    age.as_secs()
                ),
            ));
        } else {
            ready.push(path);
        }
    }
    Ok(Scan { ready, waiting })
}

/// The latest modification time in a file or folder tree (links not followed).
fn newest_change(path: &Path, depth: usize) -> std::io::Result<SystemTime> {
    let meta = fs::symlink_metadata(path)?;
    let mut newest = meta.modified()?;
    if meta.is_dir() && depth > 0 {
        for entry in fs::read_dir(path)? {
            newest = newest.max(newest_change(&entry?.path(), depth - 1)?);
        }
    }
    Ok(newest)
}

/// Moves an archived export to `done/` in its inbox, never over another.
pub(crate) fn move_done(inbox: &Path, export: &Path) -> Result<PathBuf, Error> {
    let done = inbox.join("done");
    fs::create_dir_all(&done).map_err(with_path(&done))?;
    let name = export
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let mut target = done.join(&name);
    let mut n = 1;
    while target.exists() {
        let mut numbered = name.clone();
        numbered.push(format!(".{n}"));
        target = done.join(numbered);
        n += 1;
    }
    fs::rename(export, &target).map_err(with_path(export))?;
    Ok(target)
}
