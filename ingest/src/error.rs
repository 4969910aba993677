//! The error type of spoor-ingest.

use std::path::PathBuf;

/// Why an export could not be read at all. Damage inside an export that
/// still lets reading go on is not an error: it becomes a quarantine item or
/// a problem in the [`crate::ReadSummary`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the export failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder being read.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The export cannot be read without a decision only the operator can
    /// make (e.g. a WhatsApp chat whose date order is ambiguous).
    #[error("{path}: {reason}")]
    Undecidable {
        /// The file concerned.
        path: PathBuf,
        /// What is undecided, and how to decide it.
        reason: String,
    },
    /// The consumer of records failed (e.g. the store's disk is full).
    #[error("{path}: could not store what was read: {source}")]
    Sink {
        /// The export being read when it happened.
        path: PathBuf,
        /// What the consumer said.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}
