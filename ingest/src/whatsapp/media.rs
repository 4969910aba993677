//! The files a chat references: looked up by name inside the export's zip,
//! never extracted by their own paths, with decompression bounded.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;

use spoor_normalize::Sha256;
use unicode_normalization::UnicodeNormalization;
use zip::ZipArchive;

use crate::read::{Limits, Store};
use crate::zipped::{open_entry, Entry};

/// What became of a referenced file.
pub(crate) enum Fetched {
    /// Streamed to the store as a blob, whatever its size.
    Stored { sha256: Sha256, size: u64 },
    /// Not in the export.
    Missing(String),
    /// In the export, but unreadable (damaged, a zip bomb).
    Damaged(String),
}

/// Where referenced files are looked up.
pub(crate) trait Media {
    fn fetch(&mut self, name: &str, store: &mut Store<'_>) -> Fetched;
}

/// A bare chat file: referenced files were not delivered.
pub(crate) struct NoMedia;

impl Media for NoMedia {
    fn fetch(&mut self, _name: &str, _store: &mut Store<'_>) -> Fetched {
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

    /// Streams entry `index` to the store; a damaged or unbounded entry
    /// is reported as such (what reached the store of it is left
    /// unreferenced). When the store itself failed, its caller knows and
    /// stops reading.
    fn read(&mut self, index: usize, store: &mut Store<'_>) -> Fetched {
        let stored = open_entry(&mut self.archive, index, &self.limits)
            .and_then(|mut entry| store(&mut entry).map_err(|e| e.to_string()));
        match stored {
            Ok((sha256, size)) => Fetched::Stored { sha256, size },
            Err(why) => Fetched::Damaged(why),
        }
    }
}

impl Media for ZipMedia {
    fn fetch(&mut self, name: &str, store: &mut Store<'_>) -> Fetched {
        let key: String = name.nfc().collect();
        let Some(&index) = self.by_name.get(&key) else {
            return Fetched::Missing("referenced, but not in the export's zip".to_owned());
        };
        self.referenced.insert(index);
        self.read(index, store)
    }
}
