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
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    rename_durably(&tmp, path)
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

fn temporary_name(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Attaches the path to an I/O error's message.
pub(crate) fn with_path(path: &Path) -> impl FnOnce(io::Error) -> crate::Error + '_ {
    move |source| crate::Error::Io {
        path: path.to_owned(),
        source,
    }
}
