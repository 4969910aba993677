//! Durable file writes: a temporary file, fsync, rename, fsync the folder.
//! A crash leaves either the old state or the new one, never half a file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("path has no parent folder"))?;
    fs::create_dir_all(dir)?;
    let tmp = temporary_name(path);
    let written = File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        return Err(removing(&tmp, e));
    }
    spoor_ingest::internal::kill_point("before-rename");
    rename_durably(&tmp, path).map_err(|e| removing(&tmp, e))
}

/// Removes the temporary file of a write that failed (a full disk), so
/// only a killed process leaves one behind; returns the write's error.
pub(crate) fn removing(tmp: &Path, error: io::Error) -> io::Error {
    let _ = fs::remove_file(tmp);
    error
}

/// Renames `from` to `to` and fsyncs the folder holding `to`.
pub(crate) fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::rename(from, to)?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

/// Fsyncs a folder so a rename inside it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The name a file is written under before it is renamed into place:
/// `<name>.tmp-<pid>`. A process killed in between leaves it; the next run
/// removes it ([`remove_leftovers`]).
pub(crate) fn temporary_name(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Removes, under `dir` and its subfolders, the temporary files
/// ([`temporary_name`]) a killed process left; returns how many. Called
/// under the store lock, so no live process is writing them.
pub(crate) fn remove_leftovers(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            removed += remove_leftovers(&path)?;
        } else if is_temporary(&entry.file_name()) {
            fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether a file name is a [`temporary_name`].
fn is_temporary(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.windows(5)
        .rposition(|w| w == b".tmp-")
        .and_then(|at| name.get(at + 5..))
        .is_some_and(|pid| !pid.is_empty() && pid.iter().all(u8::is_ascii_digit))
}

/// Attaches the path to an I/O error's message.
pub(crate) fn with_path(path: &Path) -> impl FnOnce(io::Error) -> crate::Error + '_ {
    move |source| crate::Error::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_the_temporary_names_only() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let nested = dir.path().join("2026/12");
        fs::create_dir_all(&nested)?;
        let kept = nested.join("a.json");
        fs::write(&kept, b"{}")?;
        fs::write(temporary_name(&kept), b"{")?;
        fs::write(nested.join("b.tmp-x1"), b"")?;
        fs::write(dir.path().join("c.tmp-"), b"")?;
        assert_eq!(remove_leftovers(dir.path())?, 1);
        assert!(kept.exists());
        assert!(nested.join("b.tmp-x1").exists());
        assert!(dir.path().join("c.tmp-").exists());
        assert_eq!(remove_leftovers(&dir.path().join("absent"))?, 0);
        Ok(())
    }

    /// A write that fails (here its rename, onto a folder) leaves no
    /// temporary file: only a killed process does.
    #[test]
    fn a_failed_write_leaves_no_temporary_file() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("checkpoint");
        fs::create_dir(&target)?;
        fs::write(target.join("inside"), b"x")?;
        assert!(write_atomic(&target, b"new").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        assert_eq!(names, vec![std::ffi::OsString::from("checkpoint")]);
        Ok(())
    }
}
