//! Readers for the exports spoor archives. Each reader turns one delivered
//! export into [`Record`](spoor_normalize::Record)s with their blobs, and everything it cannot read
//! into [`Quarantined`] items with the raw bytes and the reason: nothing is
//! dropped silently. Readers stream: memory is bounded by [`Limits`], never
//! by the size of the export.
//!
//! Formats are detected by content, not by name ([`detect`]). Each format
//! is one entry of one table: it recognises its input from the first bytes
//! (or a folder's names) and reads it, reporting to the driver that walks
//! the export. Today: e-mail
//! as `.eml`, mbox (mboxo, mboxrd, mboxcl, mboxcl2), Maildir, and folders
//! mixing these; WhatsApp chats as text or as a zip with media; Microsoft
//! Teams messages as Graph `chatMessage` JSON; Signal's plaintext export (a
//! folder or its zip) and Android's encrypted `.backup`.
//!
//! ```
//! use spoor_ingest::{read_export, Blob, Limits, Quarantined, ReadOptions, Sink};
//! use spoor_normalize::{Record, Sha256};
//!
//! #[derive(Default)]
//! struct Collect(Vec<Record>, Vec<Quarantined>);
//! impl Sink for Collect {
//!     fn record(&mut self, record: Record, _blobs: Vec<Blob>) -> std::io::Result<()> {
//!         self.0.push(record);
//!         Ok(())
//!     }
//!     fn quarantine(&mut self, item: Quarantined) -> std::io::Result<()> {
//!         self.1.push(item);
//!         Ok(())
//!     }
//!     // This sink keeps no blob bytes; a store writes them away.
//!     fn blob(&mut self, bytes: &mut dyn std::io::Read) -> std::io::Result<(Sha256, u64)> {
//!         spoor_normalize::hash_reader(bytes)
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("note.eml");
//! std::fs::write(&path, "Message-ID: <1@example.org>\r\nSubject: Hoi\r\n\r\nDag!\r\n")?;
//! let options = ReadOptions {
//!     export_sha256: Sha256::of(b""),
//!     limits: Limits::default(),
//!     zone: spoor_normalize::Zone::get("Europe/Amsterdam")?,
//!     date_order_hint: None,
//!     signal_passphrase: None,
//!     signal_recovery_key: None,
//!     work_dir: dir.path().to_owned(),
//! };
//! let mut sink = Collect::default();
//! let summary = read_export(&path, &options, &mut sink)?;
//! assert_eq!(summary.format, "email/eml");
//! assert_eq!(sink.0[0].subject.as_deref(), Some("Hoi"));
//! assert_eq!(sink.0[0].text.as_deref(), Some("Dag!"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod driver;
mod email;
mod error;
mod format;
mod fuzz;
mod lines;
mod read;
mod signal;
mod teams;
mod walk;
mod whatsapp;
mod zipped;

pub use driver::{detect, read_export};
pub use error::Error;
pub use format::ExportKind;
pub use read::{Accounting, Blob, Limits, Quarantined, ReadOptions, ReadSummary, Sink, PARSER};
pub use signal::{Passphrase, RecoveryKey};
pub use whatsapp::DateOrder;

/// Internals reached by the fuzz and property tests; not a stable API.
#[doc(hidden)]
pub mod internal {
    pub use crate::email::mbox::{split_mbox, MboxMessage, MboxVariant};
    pub use crate::email::message::{parse_message, MessageContext, ParsedMessage};
    pub use crate::fuzz::{mbox_split, read_file, signal_frames};
    pub use crate::read::Stop;
    #[cfg(any(test, feature = "test-support"))]
    pub use crate::signal::{BackupWriter, MessageBackupWriter, SqlParam};

    /// Kills this process with SIGKILL when `$SPOOR_KILL_AT` names this
    /// point, so the crash tests can stop the real binary at every stage
    /// boundary (docs/OPERATIONS.md lists the points). Only in debug
    /// builds (what `cargo test` builds); a release build ignores it.
    pub fn kill_point(name: &str) {
        #[cfg(debug_assertions)]
        if std::env::var_os("SPOOR_KILL_AT").is_some_and(|at| at == name) {
            use rustix::process::{getpid, kill_process, Signal};
            let _ = kill_process(getpid(), Signal::KILL);
            // SIGKILL cannot be caught; nothing after this runs.
        }
        #[cfg(not(debug_assertions))]
        let _ = name;
    }

    /// True when `$SPOOR_FAIL_AT` names this point, so the tests can make
    /// the real binary meet an error where no outside act can provoke one
    /// reliably. Only in debug builds; a release build always says false.
    pub fn fail_point(name: &str) -> bool {
        #[cfg(debug_assertions)]
        return std::env::var_os("SPOOR_FAIL_AT").is_some_and(|at| at == name);
        #[cfg(not(debug_assertions))]
        {
            let _ = name;
            false
        }
    }
}
