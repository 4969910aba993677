//! Every check an auditor needs, from the on-disk format alone
//! (`docs/FORMAT.md`): zip hygiene, BagIt manifests and Payload-Oxum,
//! canonical form and hash of every record line, blobs and originals against
//! their hashes, intake receipts against originals, and the catalogue
//! against the packages. Nothing here writes, and no logic is shared with
//! the code that wrote the store: only the format's types
//! (`spoor_normalize::layout`, the record, canonical JSON), read-only.
//!
//! Every problem is collected (not only the first) into a [`Report`].
//!
//! ```no_run
//! let trust = spoor_verify::Trust::default();
//! let report = spoor_verify::verify_store(std::path::Path::new("/srv/spoor"), &trust)?;
//! for finding in &report.findings {
//!     eprintln!("{finding}");
//! }
//! std::process::exit(if report.is_intact() { 0 } else { 1 });
//! # Ok::<(), spoor_verify::Error>(())
//! ```
#![deny(missing_docs)]

mod access;
mod attest;
mod bag;
mod evidence;
mod package;
mod report;
mod spill;
mod store;
mod trail;
mod witness;

pub use evidence::verify_evidence;
pub use package::verify_package;
pub use report::{Finding, Report};
pub use store::{verify_store, Trust};
pub use witness::{Answer, Witness};

/// Internals reached by the benches; not a stable API.
#[doc(hidden)]
pub mod internal {
    use std::path::Path;

    use crate::report::Report;
    use crate::trail::{check_trail, TrustedKey};

    /// Fuzz target body: a package zip of arbitrary bytes is verified
    /// without panicking, and whatever it finds carries a code.
    pub fn package_bytes(data: &[u8]) {
        let Ok(dir) = tempfile::tempdir() else {
            return;
        };
        let path = dir.path().join("p-00000000000000000000000000000000.zip");
        if std::fs::write(&path, data).is_err() {
            return;
        }
        if let Ok(report) = crate::verify_package(&path) {
            assert!(report.findings.iter().all(|f| !f.code.is_empty()));
        }
    }

    /// Fuzz target body: an evidence bundle of arbitrary bytes is checked
    /// against a fixed key without panicking; it can never be proven.
    pub fn evidence_bytes(data: &[u8]) {
        const KEY: &str = "fuzz.example/log+8aa6bb1e+ASwM3rrerRTRdIhuzWi3NzJiER3hwe26LsqNXnBVrleZ";
        if let Ok(report) = crate::verify_evidence(data, KEY) {
            assert!(!report.is_intact(), "an arbitrary bundle was proven");
        }
    }

    /// Checks only the log of the store at `root`: signatures, the tree and
    /// its tiles, recomputed from the entries; not what the entries name.
    ///
    /// # Errors
    /// An unusable key.
    pub fn verify_log(root: &Path, pubkey: &str) -> Result<Report, crate::Error> {
        let mut report = Report::default();
        check_trail(
            root,
            TrustedKey::Given(pubkey),
            None,
            None,
            None,
            &[],
            &mut report,
        )?;
        Ok(report)
    }
}

use std::path::PathBuf;

/// Verification could not run at all (as opposed to finding problems).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing to verify is not there or not readable.
    #[error("{path}: {reason}")]
    CannotRead {
        /// What was to be read.
        path: PathBuf,
        /// Why it could not be.
        reason: String,
    },
    /// Something the auditor gave cannot be used: a public key that is not
    /// a verifier key, a `--since` checkpoint or an evidence bundle that
    /// does not parse. Nothing was checked.
    #[error("{what}: {reason}")]
    Unusable {
        /// What was given.
        what: String,
        /// Why it cannot be used.
        reason: String,
    },
}
