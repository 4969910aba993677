//! The files a chat references: looked up by name inside the export's zip
//! (never extracted by their own paths, with decompression bounded), or
//! among the files beside the chat when the export came unpacked.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::PathBuf;

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

/// The files beside a chat file in a folder (a zip export unpacked), by
/// name. Only files listed from the folder are opened: a name from a line is
/// a key, never a path.
pub(crate) struct FolderMedia {
    /// NFC name → the file's name as listed, and its path.
    by_name: HashMap<String, (String, PathBuf)>,
    referenced: BTreeSet<String>,
}

impl FolderMedia {
    /// The regular files of one folder, as (name, path).
    pub(crate) fn new(files: impl IntoIterator<Item = (String, PathBuf)>) -> FolderMedia {
        let by_name = files
            .into_iter()
            .map(|(name, path)| (name.nfc().collect::<String>(), (name, path)))
            .collect();
        FolderMedia {
            by_name,
            referenced: BTreeSet::new(),
        }
    }

    /// Was the file listed as `name` referenced by a line?
    pub(crate) fn was_referenced(&self, name: &str) -> bool {
        self.referenced.contains(name)
    }

    /// No file beside the chat.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl Media for FolderMedia {
    fn fetch(&mut self, name: &str, store: &mut Store<'_>) -> Fetched {
        let key: String = name.nfc().collect();
        let Some((listed, path)) = self.by_name.get(&key) else {
            return Fetched::Missing("referenced, but not in the export's folder".to_owned());
        };
        self.referenced.insert(listed.clone());
        let stored = File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|mut file| store(&mut file).map_err(|e| e.to_string()));
        match stored {
            Ok((sha256, size)) => Fetched::Stored { sha256, size },
            Err(why) => Fetched::Damaged(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_folder_opens_only_the_files_it_listed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let export = dir.path().join("export");
        std::fs::create_dir(&export).expect("folder");
        std::fs::write(export.join("IMG-1.jpg"), b"jpeg").expect("write");
        std::fs::write(dir.path().join("outside.jpg"), b"secret").expect("write");
        // macOS lists names in NFD; lines name them in NFC.
        let nfd = "Notulen cafe\u{301}.pdf".to_owned();
        std::fs::write(export.join(&nfd), b"pdf").expect("write");
        let mut media = FolderMedia::new([
            ("IMG-1.jpg".to_owned(), export.join("IMG-1.jpg")),
            (nfd.clone(), export.join(&nfd)),
        ]);
        let mut kept = Vec::new();
        let mut store = |r: &mut dyn Read| {
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes)?;
            kept.push(bytes.clone());
            Ok((Sha256::of(&bytes), bytes.len() as u64))
        };
        assert!(matches!(
            media.fetch("IMG-1.jpg", &mut store),
            Fetched::Stored { size: 4, .. }
        ));
        assert!(matches!(
            media.fetch("Notulen caf\u{e9}.pdf", &mut store),
            Fetched::Stored { size: 3, .. }
        ));
        for name in ["../outside.jpg", "IMG-2.jpg", "/etc/passwd"] {
            assert!(
                matches!(media.fetch(name, &mut store), Fetched::Missing(_)),
                "{name}"
            );
        }
        assert_eq!(kept, [b"jpeg".to_vec(), b"pdf".to_vec()]);
        assert!(media.was_referenced("IMG-1.jpg") && media.was_referenced(&nfd));
    }
}
