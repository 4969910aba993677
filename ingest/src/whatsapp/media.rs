//! The files a chat references: looked up by name inside the export's zip,
//! never extracted by their own paths, with decompression bounded.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};

use spoor_normalize::Sha256;
use unicode_normalization::UnicodeNormalization;
use zip::ZipArchive;

use crate::export::{Blob, Limits};
use crate::zipped::{open_entry, Entry};

/// What became of a referenced file.
pub(crate) enum Fetched {
    /// The bytes, small enough to keep as a blob.
    Found(Blob),
    /// Larger than the blob limit: hashed, and kept only in the original.
    OriginalOnly {
        size: u64,
        sha256: Sha256,
        reason: String,
    },
    /// Not in the export.
    Missing(String),
    /// In the export, but unreadable (damaged, a zip bomb).
    Damaged(String),
}

/// Where referenced files are looked up.
pub(crate) trait Media {
    fn fetch(&mut self, name: &str) -> Fetched;
}

/// A bare chat file: referenced files were not delivered.
pub(crate) struct NoMedia;

impl Media for NoMedia {
    fn fetch(&mut self, _name: &str) -> Fetched {
        Fetched::Missing("not in the export (a chat file delivered without its media)".to_owned())
    }
}

/// The media files of a zip export, by name.
pub(crate) struct ZipMedia {
    archive: ZipArchive<File>,
    by_name: HashMap<String, usize>,
    referenced: BTreeSet<usize>,
    limits: Limits,
}

impl ZipMedia {
    /// Indexes the entries that may be referenced: every file with a safe
    /// name, under its NFC name (macOS writes names in NFD).
    pub(crate) fn new(archive: ZipArchive<File>, entries: &[Entry], limits: &Limits) -> ZipMedia {
        let by_name = entries
            .iter()
            .filter(|e| e.unsafe_name.is_none())
            .map(|e| (e.name.nfc().collect::<String>(), e.index))
            .collect();
        ZipMedia {
            archive,
            by_name,
            referenced: BTreeSet::new(),
            limits: limits.clone(),
        }
    }

    /// Was entry `index` referenced by a line?
    pub(crate) fn was_referenced(&self, index: usize) -> bool {
        self.referenced.contains(&index)
    }

    fn read(&mut self, index: usize) -> Result<Fetched, String> {
        let max = self.limits.max_message_bytes;
        let mut reader = open_entry(&mut self.archive, index, &self.limits)?;
        let mut bytes = Vec::new();
        (&mut reader)
            .take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if bytes.len() <= max {
            return Ok(Fetched::Found(Blob {
                sha256: Sha256::of(&bytes),
                bytes,
            }));
        }
        let mut hasher = spoor_normalize::HashingReader::new(io::Cursor::new(bytes).chain(reader));
        io::copy(&mut hasher, &mut io::sink()).map_err(|e| e.to_string())?;
        let (sha256, size) = hasher.finish();
        Ok(Fetched::OriginalOnly {
            size,
            sha256,
            reason: format!("larger than the blob limit of {max} bytes"),
        })
    }
}

impl Media for ZipMedia {
    fn fetch(&mut self, name: &str) -> Fetched {
        let key: String = name.nfc().collect();
        let Some(&index) = self.by_name.get(&key) else {
            return Fetched::Missing("referenced, but not in the export's zip".to_owned());
        };
        self.referenced.insert(index);
        self.read(index).unwrap_or_else(Fetched::Damaged)
    }
}
