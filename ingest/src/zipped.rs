//! Reading zip exports safely: entries are looked up by name inside the
//! archive, never extracted by their own paths, and what an entry unpacks to
//! is bounded against zip bombs.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use zip::ZipArchive;

use crate::read::Limits;

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
