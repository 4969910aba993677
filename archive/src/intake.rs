//! Intake: what was delivered, hashed before anything is derived from it,
//! and the names its files get inside a package.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use spoor_normalize::layout::{ExportShape, IntakeReceipt, NotKept};
use spoor_normalize::text::path_component;
use spoor_normalize::Sha256;

use crate::fingerprint::Fingerprint;
use crate::fsutil::with_path;
use crate::Error;

/// One file of a delivered export and its place in the package.
#[derive(Clone, Debug)]
pub(crate) struct OriginalFile {
    /// Where it is on disk now.
    pub(crate) source: PathBuf,
    /// Its path inside the export, sanitised (`/`-separated; empty for a
    /// one-file export).
    pub(crate) relative: String,
    pub(crate) sha256: Sha256,
    pub(crate) size: u64,
    /// Taken with the SHA-256, to check the file while sealing.
    pub(crate) crc32: u32,
}

/// A delivered export as surveyed at intake.
#[derive(Clone, Debug)]
pub(crate) struct Export {
    pub(crate) path: PathBuf,
    /// The export's own name, sanitised: the top of `data/original/`.
    pub(crate) name: String,
    pub(crate) is_folder: bool,
    /// SHA-256 of the file, or for a folder the tree hash (docs/FORMAT.md).
    pub(crate) sha256: Sha256,
    pub(crate) size: u64,
    pub(crate) files: Vec<OriginalFile>,
    /// Entries of a folder not kept, with the reason (links, unreadable).
    pub(crate) not_kept: Vec<NotKept>,
}

impl Export {
    /// File or folder, as the receipt and the package say.
    pub(crate) fn shape(&self) -> ExportShape {
        if self.is_folder {
            ExportShape::Folder
        } else {
            ExportShape::File
        }
    }
}

impl Export {
    /// Surveys and hashes the export at `path`.
    pub(crate) fn survey(path: &Path) -> Result<Export, Error> {
        let meta = fs::symlink_metadata(path).map_err(with_path(path))?;
        let name = path
            .file_name()
            .map(sanitize_component)
            .unwrap_or_else(|| "export".to_owned());
        if meta.is_file() {
            let file = File::open(path).map_err(with_path(path))?;
            let Fingerprint {
                sha256,
                crc32,
                size,
            } = Fingerprint::of_reader(file).map_err(with_path(path))?;
            let files = vec![OriginalFile {
                source: path.to_owned(),
                relative: String::new(),
                sha256,
                size,
                crc32,
            }];
            return Ok(Export {
                path: path.to_owned(),
                name,
                is_folder: false,
                sha256,
                size,
                files,
                not_kept: vec![],
            });
        }
        if !meta.is_dir() {
            return Err(Error::Input {
                path: path.to_owned(),
                reason: "not a regular file or folder (links are not followed)".to_owned(),
            });
        }
        let mut export = Export {
            path: path.to_owned(),
            name,
            is_folder: true,
            sha256: Sha256::of(b""),
            size: 0,
            files: vec![],
            not_kept: vec![],
        };
        walk(path, "", &mut export).map_err(with_path(path))?;
        export.files.sort_by(|a, b| a.relative.cmp(&b.relative));
        export.size = export.files.iter().map(|f| f.size).sum();
        export.sha256 = tree_hash(export.files.iter().map(|f| (f.sha256, f.relative.as_str())));
        Ok(export)
    }

    /// The path of a file inside the bag (`data/original/…`).
    pub(crate) fn bag_path(&self, file: &OriginalFile) -> String {
        if file.relative.is_empty() {
            format!("data/original/{}", self.name)
        } else {
            format!("data/original/{}/{}", self.name, file.relative)
        }
    }
}

/// The hash of a folder export: SHA-256 over the lines
/// `<sha256 hex>  <relative path>\n`, one per kept file, sorted by path.
pub(crate) fn tree_hash<'a>(files: impl Iterator<Item = (Sha256, &'a str)>) -> Sha256 {
    let mut listing: Vec<(&str, Sha256)> = files.map(|(h, p)| (p, h)).collect();
    listing.sort();
    let mut text = String::new();
    for (path, hash) in listing {
        text.push_str(&format!("{hash}  {path}\n"));
    }
    Sha256::of(text.as_bytes())
}

fn walk(dir: &Path, rel: &str, export: &mut Export) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = sanitize_component(&entry.file_name());
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                export.not_kept.push(NotKept {
                    path: child,
                    reason: format!("cannot inspect: {e}"),
                });
                continue;
            }
        };
        if meta.file_type().is_symlink() {
            export.not_kept.push(NotKept {
                path: child,
                reason: "symbolic link not followed".to_owned(),
            });
        } else if meta.is_dir() {
            if let Err(e) = walk(&path, &child, export) {
                export.not_kept.push(NotKept {
                    path: child,
                    reason: format!("cannot read folder: {e}"),
                });
            }
        } else if meta.is_file() {
            match File::open(&path).and_then(Fingerprint::of_reader) {
                Ok(fingerprint) => export.files.push(OriginalFile {
                    source: path,
                    relative: child,
                    sha256: fingerprint.sha256,
                    size: fingerprint.size,
                    crc32: fingerprint.crc32,
                }),
                Err(e) => export.not_kept.push(NotKept {
                    path: child,
                    reason: format!("cannot read: {e}"),
                }),
            }
        } else {
            export.not_kept.push(NotKept {
                path: child,
                reason: "not a regular file".to_owned(),
            });
        }
    }
    Ok(())
}

/// An intake receipt, read back from the store.
pub(crate) fn read_receipt(path: &Path) -> Result<IntakeReceipt, crate::Error> {
    let file = File::open(path).map_err(with_path(path))?;
    serde_json::from_reader(io::BufReader::new(file)).map_err(|e| crate::Error::Package {
        path: path.to_owned(),
        reason: format!("intake receipt: {e}"),
    })
}

/// Sanitises one path component of an input (see
/// [`spoor_normalize::text::path_component`]).
pub(crate) fn sanitize_component(name: &OsStr) -> String {
    path_component(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_hash_is_order_independent_and_path_sensitive() {
        let a = Sha256::of(b"a");
        let b = Sha256::of(b"b");
        let one = tree_hash([(a, "x"), (b, "y")].into_iter());
        assert_eq!(one, tree_hash([(b, "y"), (a, "x")].into_iter()));
        assert_ne!(one, tree_hash([(a, "y"), (b, "x")].into_iter()));
        let text = format!("{a}  x\n{b}  y\n");
        assert_eq!(one, Sha256::of(text.as_bytes()));
    }
}
