//! The spoor store: intake receipts, sealed BagIt packages, the SQLite
//! catalogue, and the runs that fill them. The on-disk format is specified in
//! `docs/FORMAT.md`; `spoor-verify` checks it without this crate.
//!
//! ```
//! use spoor_archive::{InitOptions, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let key_file = dir.path().join("log.key");
//! let options = InitOptions { key_file: Some(key_file.clone()), ..InitOptions::default() };
//! let store = Store::init(&dir.path().join("store"), &options)?;
//! let mail = dir.path().join("note.eml");
//! std::fs::write(&mail, "Message-ID: <1@example.org>\nSubject: Hoi\n\nDag!\n")?;
//! let report = store.run(&[mail], &store.signer(&key_file)?, &|_| {})?;
//! assert_eq!(report.log_size, 4); // intake, record, package, run seal
//! assert_eq!(report.inputs[0].records, 1);
//! assert_eq!(report.exit_code(), 0);
//! let query = spoor_archive::SearchQuery { words: Some("Dag".into()), limit: 10, ..Default::default() };
//! assert_eq!(store.search(&query)?.total, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod attest;
mod bagit;
mod catalog;
mod config;
mod fingerprint;
mod fsutil;
mod inbox;
mod intake;
mod item;
mod lock;
mod log;
mod notify;
mod package;
mod prove;
mod reading;
mod run;
mod stage;
mod store;
mod trail;
mod zipout;

pub use attest::Attestation;
pub use config::{StoreConfig, TimestampingSettings, WitnessSettings, STORE_FORMAT};
pub use inbox::InboxOptions;
pub use item::{SourceItem, SourceItems};
pub use lock::FixityLock;
pub use notify::{Notification, NotifySettings, SmtpSecurity};
pub use prove::Evidence;
pub use reading::{
    ArchivedRecord, ConversationSummary, SearchHit, SearchOrder, SearchQuery, SearchResults,
    Selection,
};
pub use run::report::{Fixity, InputReport, InputStatus, ReasonCount, RunProgress, RunReport};
pub use spoor_ingest::{DateOrder, Passphrase, RecoveryKey};
pub use store::{InitOptions, SigningKey, Store, PACKAGE_FORMAT};

/// Internals reached by the benches; not a stable API.
#[doc(hidden)]
pub mod internal {
    pub use crate::log::{Log, TreeHead};
}

use std::path::PathBuf;

/// Errors of the store. Each names the file and what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `spoor.toml` is missing, unreadable or wrong.
    #[error("{path}: {reason}")]
    Config {
        /// The settings file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The catalogue could not be used.
    #[error("{path}: catalogue: {reason}")]
    Catalog {
        /// The catalogue file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// A package in the store could not be read.
    #[error("{path}: {reason}")]
    Package {
        /// The package zip.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An input cannot be archived.
    #[error("{path}: {reason}")]
    Input {
        /// The input.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Reading an input failed.
    #[error(transparent)]
    Ingest(#[from] spoor_ingest::Error),
    /// The report could not be sent (the SMTP transport or its runtime).
    #[error("notify: {0}")]
    Notify(String),
    /// A worker of the run stopped unexpectedly, or what cannot fail did
    /// (a report that does not serialise); a bug, never bad input.
    #[error("internal failure: {0}")]
    Internal(String),
    /// Another process holds the store's lock.
    #[error("{0}")]
    InUse(String),
    /// The store was used wrongly (e.g. `init` on an existing store).
    #[error("{0}")]
    Usage(String),
}
