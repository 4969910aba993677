//! Signal, in every form it exports: the plaintext chat export, folder or
//! zip (`plaintext`, §15); the legacy encrypted Android `.backup`
//! (`backup`, with its frame reader `frames`, §16); the message backup
//! folder opened with the recovery key, and its bare frame stream
//! (`message_backup`, §17). Each is one entry of the format table.

mod backup;
pub(crate) mod crypto;
pub(crate) mod frames;
pub(crate) mod message_backup;
mod plaintext;
pub(crate) mod proto;

pub(crate) use backup::FORMAT as BACKUP_FORMAT;
pub use crypto::Passphrase;
#[cfg(any(test, feature = "test-support"))]
pub use frames::writer::BackupWriter;
#[cfg(any(test, feature = "test-support"))]
pub use message_backup::writer::MessageBackupWriter;
pub use message_backup::RecoveryKey;
pub(crate) use message_backup::{
    FORMAT as MESSAGE_BACKUP_FORMAT, FORMAT_PLAIN as MESSAGE_STREAM_FORMAT,
};
pub(crate) use plaintext::{export_root_in_zip, FORMAT as PLAINTEXT_FORMAT};
#[cfg(any(test, feature = "test-support"))]
pub use proto::Param as SqlParam;

use std::path::Path;

use serde_json::Value;

use crate::format::{folder, head, Format, Input, Reading};
use crate::read::{Accounting, ReadOptions, Stop};
use crate::Error;
use backup::BackupContext;
use message_backup::Fault as MessageBackupFault;
use plaintext::ExportContext;

/// The plaintext export as a folder (`main.jsonl`, `metadata.json`).
pub(crate) struct PlaintextExport;
/// A message backup folder: `SignalBackups/` or one snapshot of it.
pub(crate) struct MessageBackup;
/// The legacy encrypted Android `.backup`.
pub(crate) struct Backup;
/// The remote Secure Backup with forward secrecy (`SBACKUP`).
pub(crate) struct RemoteBackup;
/// A bare, unencrypted message-backup frame stream (`.binproto`).
pub(crate) struct MessageStream;

pub(crate) static PLAINTEXT_EXPORT: PlaintextExport = PlaintextExport;
pub(crate) static MESSAGE_BACKUP: MessageBackup = MessageBackup;
pub(crate) static BACKUP: Backup = Backup;
pub(crate) static REMOTE_BACKUP: RemoteBackup = RemoteBackup;
pub(crate) static MESSAGE_STREAM: MessageStream = MessageStream;

impl Format for PlaintextExport {
    fn sniff(&self, input: &Input<'_>) -> bool {
        folder(input).is_some_and(plaintext::is_export)
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        read_plaintext(reading, options, input.path(), input.rel(), None)
    }
}

impl Format for MessageBackup {
    fn sniff(&self, input: &Input<'_>) -> bool {
        folder(input).is_some_and(|dir| {
            message_backup::is_snapshot(dir) || message_backup::is_backups_folder(dir)
        })
    }

    /// Opened with the recovery key; without it, or with a wrong one,
    /// nothing is read and the run says so.
    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel) = (input.path(), input.rel());
        let Some(key) = &options.signal_recovery_key else {
            let reason = "a Signal backup folder is encrypted: give the account's recovery key with `spoor run --signal-recovery-key-file FILE` or $SPOOR_SIGNAL_RECOVERY_KEY".to_owned();
            return reading.undecidable(path, rel, reason);
        };
        let context = ExportContext::new(path, options);
        let read = plaintext::read_message_backup(&context, key, &mut |item| reading.put(item));
        frames_read(reading, path, rel, read)
    }
}

impl Format for Backup {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(frames::sniff)
    }

    /// Decrypted, replayed, read. Without the passphrase, or with a wrong
    /// one, nothing is read and the run says so.
    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel) = (input.path(), input.rel());
        let Some(passphrase) = &options.signal_passphrase else {
            let reason = "a Signal backup is encrypted: give its passphrase with `spoor run --signal-passphrase-file FILE` or $SPOOR_SIGNAL_PASSPHRASE".to_owned();
            return reading.undecidable(path, rel, reason);
        };
        let context = BackupContext {
            path,
            export_sha256: options.export_sha256,
            limits: &options.limits,
            passphrase,
            work_dir: &options.work_dir,
        };
        match backup::read_backup(&context, &mut |item| reading.put(item)) {
            Ok(outcome) => {
                reading.decide_all(outcome.decisions);
                let place = rel.map_or_else(|| path.display().to_string(), str::to_owned);
                for why in outcome.partial {
                    reading.unreadable(&place, why);
                }
                if rel.is_none() {
                    reading.account(Accounting {
                        unit: "signal message rows".to_owned(),
                        read: outcome.message_rows,
                    });
                }
                Ok(())
            }
            Err(Stop::Sink(e)) => Err(e),
            Err(Stop::Input(frames::Fault::Io(e))) => Err(Error::io(path, e)),
            Err(Stop::Input(fault)) => reading.undecidable(path, rel, fault.to_string()),
        }
    }
}

impl Format for RemoteBackup {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(message_backup::sniff_remote)
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        _options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let reason = MessageBackupFault::ForwardSecrecy.to_string();
        reading.undecidable(input.path(), input.rel(), reason)
    }
}

impl Format for MessageStream {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(message_backup::sniff_plain)
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel) = (input.path(), input.rel());
        let context = ExportContext::new(path, options);
        let read =
            plaintext::read_message_stream(&context, &mut |item| reading.put(item)).map_err(|e| {
                match e {
                    Stop::Input(e) => Stop::Input(MessageBackupFault::BrokeOff(e)),
                    Stop::Sink(e) => Stop::Sink(e),
                }
            });
        frames_read(reading, path, rel, read)
    }
}

/// The end of reading a message backup's frames: a stream that broke off
/// part way keeps what came before (the import is partial); a backup that
/// could not be opened at all needs the operator.
fn frames_read(
    reading: &mut dyn Reading,
    path: &Path,
    rel: Option<&str>,
    read: Result<Vec<Value>, Stop<MessageBackupFault, Error>>,
) -> Result<(), Error> {
    match read {
        Ok(decisions) => {
            reading.decide_all(decisions);
            Ok(())
        }
        Err(Stop::Sink(e)) => Err(e),
        Err(Stop::Input(fault @ MessageBackupFault::BrokeOff(_))) => {
            let place = rel.map_or_else(|| path.display().to_string(), str::to_owned);
            reading.unreadable(&place, fault.to_string());
            Ok(())
        }
        Err(Stop::Input(MessageBackupFault::Io(e))) => {
            reading.undecidable(path, rel, format!("cannot be read: {e}"))
        }
        Err(Stop::Input(fault)) => reading.undecidable(path, rel, fault.to_string()),
    }
}

/// Signal's plaintext export: a folder with `main.jsonl` and `files/`, or a
/// zip holding them under `zip_prefix`. A zip that fails part way
/// (damaged, unpacking past the bound) keeps what was read before and is
/// reported as partial.
pub(crate) fn read_plaintext(
    reading: &mut dyn Reading,
    options: &ReadOptions,
    path: &Path,
    rel: Option<&str>,
    zip_prefix: Option<&str>,
) -> Result<(), Error> {
    let context = ExportContext::new(path, options);
    let read = match zip_prefix {
        None => plaintext::read_export_folder(&context, &mut |item| reading.put(item)),
        Some(prefix) => {
            reading.name_export(rel, plaintext::FORMAT_ZIP);
            plaintext::read_export_zip(&context, prefix, &mut |item| reading.put(item))
        }
    };
    match read {
        Ok(decisions) => {
            reading.decide_all(decisions);
            Ok(())
        }
        Err(Stop::Sink(e)) => Err(e),
        Err(Stop::Input(e)) if zip_prefix.is_some() => {
            reading.unreadable(rel.unwrap_or("main.jsonl"), e.to_string());
            Ok(())
        }
        Err(Stop::Input(e)) => Err(Error::io(path, e)),
    }
}
