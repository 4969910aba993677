//! The files a chat references: looked up by name inside the export's zip,
//! never extracted by their own paths, with decompression bounded.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use spoor_normalize::Sha256;
use unicode_normalization::UnicodeNormalization;
use zip::ZipArchive;

use crate::export::{Blob, Limits};

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

/// Opens `path` as a zip.
pub(crate) fn open(path: &Path) -> Result<ZipArchive<File>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    ZipArchive::new(file).map_err(|e| format!("damaged or truncated zip: {e}"))
}

/// One file in a zip, as listed in its central directory.
pub(crate) struct Entry {
    pub(crate) index: usize,
    /// The name as stored (lossy UTF-8).
    pub(crate) name: String,
    /// Why the name cannot be looked up, when it is unsafe.
    pub(crate) unsafe_name: Option<&'static str>,
}

/// Lists the files (not folders) of a zip.
pub(crate) fn entries(archive: &ZipArchive<File>) -> Vec<Entry> {
    let mut list = Vec::new();
    for (index, raw) in archive.file_names_raw().enumerate() {
        let name = String::from_utf8_lossy(raw).into_owned();
        if name.ends_with('/') {
            continue;
        }
        let unsafe_name = if name.starts_with(['/', '\\']) || name.get(1..2) == Some(":") {
            Some("absolute path")
        } else if name.split(['/', '\\']).any(|part| part == "..") {
            Some("path with `..`")
        } else {
            None
        };
        list.push(Entry {
            index,
            name,
            unsafe_name,
        });
    }
    list
}

/// A reader that fails once more bytes come out than `limit`: the sizes a
/// zip declares are not trusted.
pub(crate) struct Bounded<R> {
    inner: R,
    left: u64,
    what: String,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, self.what.clone()))?;
        Ok(n)
    }
}

/// Most bytes an entry of `compressed` bytes may unpack to.
fn unpack_bound(compressed: u64, limits: &Limits) -> u64 {
    compressed
        .saturating_mul(limits.max_unpack_ratio)
        .max(1 << 20)
}

/// Opens entry `index` for streaming, bounded against zip bombs.
pub(crate) fn open_entry<'a>(
    archive: &'a mut ZipArchive<File>,
    index: usize,
    limits: &Limits,
) -> Result<Bounded<zip::read::ZipFile<'a, File>>, String> {
    let entry = archive
        .by_index(index)
        .map_err(|e| format!("cannot read: {e}"))?;
    let bound = unpack_bound(entry.compressed_size(), limits);
    Ok(Bounded {
        inner: entry,
        left: bound,
        what: format!(
            "unpacks to more than {} times its compressed size: refused as a zip bomb",
            limits.max_unpack_ratio
        ),
    })
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
