//! One writer at a time: a process that changes the store holds an
//! exclusive `flock(2)` on `STORE/lock` and writes who it is into the file.
//!
//! The kernel releases the lock when its holder dies, however it dies, so
//! a lock is never stale: an empty or unreadable lock file (left when the
//! disk filled while it was written, or by a killed process) is simply
//! taken, with a warning. The file's contents only name the holder in the
//! message a second process gets. The holder removes the file when done;
//! a process that locked a file already removed starts again, so two
//! processes never hold locks on different files of the same name.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use spoor_normalize::layout::{FixitySeal, LogEntry};

use crate::attest::{attest, Attestation};
use crate::log::Log;
use crate::run::report::Fixity;
use crate::store::{SigningKey, Store};
use crate::trail::{checkpoint_ref, Trail};
use crate::Error;

/// Held while a process changes the store; released when dropped (or when
/// the process ends).
#[derive(Debug)]
pub(crate) struct StoreLock {
    file: File,
    path: PathBuf,
}

impl StoreLock {
    /// Takes the lock of the store at `root`, or fails at once naming the
    /// process that holds it.
    pub(crate) fn acquire(root: &Path) -> Result<StoreLock, Error> {
        StoreLock::take(root, None)
    }

    /// Takes the lock of the store at `root`, waiting for the process that
    /// holds it to finish; `waiting` is told who that is first.
    pub(crate) fn acquire_waiting(root: &Path, waiting: &dyn Fn(&str)) -> Result<StoreLock, Error> {
        StoreLock::take(root, Some(waiting))
    }

    fn take(root: &Path, waiting: Option<&dyn Fn(&str)>) -> Result<StoreLock, Error> {
        let path = root.join("lock");
        let io = |e| Error::Io {
            path: path.clone(),
            source: e,
        };
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match (file.try_lock(), waiting) {
                (Ok(()), _) => {}
                (Err(TryLockError::WouldBlock), Some(waiting)) => {
                    waiting(&holder(&path));
                    file.lock().map_err(io)?;
                }
                (Err(TryLockError::WouldBlock), None) => {
                    return Err(Error::InUse(format!(
                        "{}: the store is in use by another spoor ({})",
                        path.display(),
                        holder(&path)
                    )))
                }
                (Err(TryLockError::Error(e)), _) => return Err(io(e)),
            }
            // The holder before us may have removed the file we opened:
            // then our lock is on a file nobody else will open. Start again.
            let same = match (file.metadata(), fs::metadata(&path)) {
                (Ok(ours), Ok(now)) => ours.ino() == now.ino() && ours.dev() == now.dev(),
                _ => false,
            };
            if same {
                return StoreLock::held(file, path);
            }
        }
    }

    /// Writes this process into the lock file it now holds. Anything found
    /// there was left by a process that died holding the lock.
    fn held(mut file: File, path: PathBuf) -> Result<StoreLock, Error> {
        let before = fs::read(&path).unwrap_or_default();
        match serde_json::from_slice::<Value>(&before) {
            _ if before.is_empty() => {}
            Ok(_) => tracing::warn!(
                lock = %path.display(),
                "taking over the lock of a spoor that ended without releasing it ({})",
                holder(&path)
            ),
            Err(_) => tracing::warn!(
                lock = %path.display(),
                "the lock file was unreadable (a full disk, or a process killed while writing it); taken over"
            ),
        }
        let holder = json!({
            "pid": std::process::id(),
            "host": this_host(),
            "started_at": jiff::Timestamp::now().to_string(),
        });
        let io = |e| Error::Io {
            path: path.clone(),
            source: e,
        };
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder.to_string().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        Ok(StoreLock { file, path })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Removed while still held (see `take` for why that is safe); the
        // kernel releases the lock when the file is closed.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Who holds the lock, as its file says (for messages only).
fn holder(path: &Path) -> String {
    let existing: Value = fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let field = |k: &str| match existing.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "?".to_owned(),
    };
    format!(
        "pid {}, host {}, since {}",
        field("pid"),
        field("host"),
        field("started_at")
    )
}

fn this_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}
/// The store locked for a scheduled check (see [`Store::lock_for_fixity`]).
#[derive(Debug)]
pub struct FixityLock<'a> {
    pub(crate) store: &'a Store,
    pub(crate) _lock: StoreLock,
}

impl FixityLock<'_> {
    /// Appends a `fixity` seal with the outcome of a verification of this
    /// store and publishes a checkpoint, so scheduled checks become part of
    /// the audit trail. Returns the new log size and what the configured
    /// time-stamping authority and witnesses did for its checkpoint.
    ///
    /// # Errors
    /// As for a run: the log, the signing key.
    pub fn record(
        &self,
        fixity: &Fixity,
        key: &SigningKey,
    ) -> Result<(u64, Vec<Attestation>), Error> {
        let log_dir = self.store.root.join("log");
        Log::complete_interrupted_publish(&log_dir)?;
        let previous = Log::head(&log_dir)?;
        let mut trail = Trail::new(Log::open(&log_dir, &self.store.config.origin)?);
        trail.append(&LogEntry::Fixity(FixitySeal {
            checked_at: jiff::Timestamp::now().to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            result: if fixity.intact {
                "intact"
            } else {
                "problems-found"
            }
            .to_owned(),
            problems: fixity.problems as u64,
            packages: fixity.packages,
            records: fixity.records,
            bytes: fixity.bytes,
            previous_checkpoint: previous.map(checkpoint_ref),
        }))?;
        let head = trail.log.publish(&key.0)?;
        let attestations = attest(&log_dir, &self.store.config, &trail.log, head);
        Ok((head.size, attestations))
    }
}
