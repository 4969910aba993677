//! One run at a time: `STORE/lock` is created exclusively by the process
//! that changes the store and removed when it is done. A lock whose holder
//! is a process that no longer exists on this host is taken over; any other
//! lock stops the second run at once, naming its holder.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::Error;

/// Held while a run changes the store; released when dropped.
#[derive(Debug)]
pub(crate) struct StoreLock {
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock of the store at `root`.
    pub(crate) fn acquire(root: &Path) -> Result<StoreLock, Error> {
        let path = root.join("lock");
        let host = this_host();
        let holder = json!({
            "pid": std::process::id(),
            "host": host,
            "started_at": jiff::Timestamp::now().to_string(),
        });
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(holder.to_string().as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(|e| Error::Io {
                            path: path.clone(),
                            source: e,
                        })?;
                    return Ok(StoreLock { path });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let existing: Value = fs::read(&path)
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or(Value::Null);
                    let pid = existing.get("pid").and_then(Value::as_u64);
                    let same_host =
                        existing.get("host").and_then(Value::as_str) == Some(host.as_str());
                    let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
                    if same_host && pid.is_some() && !alive {
                        // The holder died without cleaning up: take over.
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    return Err(Error::Usage(format!(
                        "{}: the store is in use by another spoor (pid {}, host {}, since {}); \
                         if that process is gone from another host, remove the lock file by hand",
                        path.display(),
                        pid.map_or("?".to_owned(), |p| p.to_string()),
                        existing.get("host").and_then(Value::as_str).unwrap_or("?"),
                        existing
                            .get("started_at")
                            .and_then(Value::as_str)
                            .unwrap_or("?"),
                    )));
                }
                Err(e) => return Err(Error::Io { path, source: e }),
            }
        }
        Err(Error::Usage(format!(
            "{}: could not take over a stale lock",
            path.display()
        )))
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn this_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}
