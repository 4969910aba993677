//! The store's audit trail: one append-only Merkle log (RFC 6962 hashing)
//! stored as C2SP tlog-tiles under `STORE/log/` (hash tiles and entry
//! bundles), with a C2SP tlog-checkpoint after every run, signed as a C2SP
//! signed note with Ed25519. The Merkle math is `tlog_tiles`'; the note
//! format is `signed_note`'s.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use signed_note::{Note, StandardSigner};
use spoor_normalize::tiles::{entries_path, tile_path, TILE_WIDTH};
use tlog_tiles::checkpoint::Checkpoint;
use tlog_tiles::tile::Tile;
use tlog_tiles::tlog::{
    prove_record, prove_tree, record_hash, stored_hash_count, stored_hashes_for_record_hash,
    tree_hash, Hash, HashReader,
};

use crate::fsutil::{removing, temporary_name, with_path, write_atomic};
use crate::Error;

/// Tile height of C2SP tlog-tiles: 2^8 = 256 hashes per tile.
const TILE_HEIGHT: u8 = 8;
/// Largest entry: entry bundles prefix each entry with a 16-bit length.
const MAX_ENTRY: usize = u16::MAX as usize;

/// The tree's stored hashes (in `tlog_tiles`' order): those of the
/// published tree are read from its tiles when needed, those added since
/// from [`NewHashes`].
struct TreeHashes {
    dir: PathBuf,
    /// Size of the tree whose tiles are on disk.
    published: u64,
    /// Stored hashes from `stored_hash_count(published)` on.
    new: NewHashes,
    /// Tiles read, by (level, index); dropped when it grows large.
    cache: RefCell<HashMap<(u8, u64), Vec<u8>>>,
}

/// The stored hashes added since the last checkpoint (about two per entry):
/// the latest in memory, the rest spilled to an unnamed temporary file
/// beside the log, so a run of millions of entries holds a few MB.
struct NewHashes {
    dir: PathBuf,
    /// Hashes in the file, which come before those in `recent`.
    spilled: u64,
    file: Option<File>,
    recent: Vec<Hash>,
    /// Hashes held in memory before they are spilled.
    spill_at: usize,
}

/// Hashes held in memory before they are spilled (8 MiB: a run of 100,000
/// entries never spills; reading spilled hashes back costs about a
/// microsecond an entry).
const SPILL_AT: usize = 1 << 18;

impl NewHashes {
    fn new(dir: &Path) -> NewHashes {
        NewHashes {
            dir: dir.to_owned(),
            spilled: 0,
            file: None,
            recent: Vec::new(),
            spill_at: SPILL_AT,
        }
    }

    fn len(&self) -> u64 {
        self.spilled + self.recent.len() as u64
    }

    fn extend(&mut self, hashes: Vec<Hash>) -> std::io::Result<()> {
        self.recent.extend(hashes);
        if self.recent.len() >= self.spill_at {
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(tempfile::tempfile_in(&self.dir)?),
            };
            let bytes: Vec<u8> = self.recent.iter().flat_map(|h| h.0).collect();
            file.write_all_at(&bytes, self.spilled * 32)?;
            self.spilled += self.recent.len() as u64;
            self.recent.clear();
        }
        Ok(())
    }

    /// Hashes `from..from + count`, read in one go.
    fn range(&self, from: u64, count: u64) -> Option<Vec<Hash>> {
        if from + count > self.len() {
            return None;
        }
        let mut hashes = Vec::with_capacity(usize::try_from(count).ok()?);
        let in_file = self.spilled.saturating_sub(from).min(count);
        if in_file > 0 {
            let mut bytes = vec![0u8; usize::try_from(in_file * 32).ok()?];
            self.file
                .as_ref()?
                .read_exact_at(&mut bytes, from * 32)
                .ok()?;
            for chunk in bytes.chunks_exact(32) {
                hashes.push(Hash(<[u8; 32]>::try_from(chunk).ok()?));
            }
        }
        // What is left of the range lies in `recent` (possibly nothing).
        let start = usize::try_from(from.max(self.spilled) - self.spilled).ok()?;
        let end = usize::try_from((from + count).max(self.spilled) - self.spilled).ok()?;
        hashes.extend_from_slice(self.recent.get(start..end)?);
        Some(hashes)
    }

    fn clear(&mut self) {
        self.spilled = 0;
        self.file = None;
        self.recent.clear();
    }

    /// Keeps the first `len` hashes; later ones spilled are overwritten by
    /// the next spill.
    fn truncate(&mut self, len: u64) {
        match len.checked_sub(self.spilled) {
            Some(in_recent) => self
                .recent
                .truncate(usize::try_from(in_recent).unwrap_or(usize::MAX)),
            None => {
                self.spilled = len;
                self.recent.clear();
            }
        }
    }
}

/// Most tiles kept in the read cache (8 KiB each).
const TILE_CACHE: usize = 256;

impl TreeHashes {
    fn read_from_tiles(&self, index: u64) -> Result<Hash, tlog_tiles::tlog::Error> {
        let tile = Tile::from_index(TILE_HEIGHT, index);
        let (level, n) = (tile.level(), tile.level_index());
        let at_level = self.published >> (u32::from(TILE_HEIGHT) * u32::from(level));
        let width = at_level
            .checked_sub(n * TILE_WIDTH)
            .map(|w| w.min(TILE_WIDTH))
            .filter(|w| *w >= u64::from(tile.width()))
            .ok_or(tlog_tiles::tlog::Error::IndexesNotInTree)?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() > TILE_CACHE {
            cache.clear();
        }
        let data = match cache.entry((level, n)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let path = self.dir.join(tile_path(level, n, width));
                let data = fs::read(&path).map_err(|_| tlog_tiles::tlog::Error::InvalidTile)?;
                e.insert(data)
            }
        };
        let width = u32::try_from(width).map_err(|_| tlog_tiles::tlog::Error::BadMath)?;
        Tile::new(TILE_HEIGHT, level, n, width, false).hash_at_index(data, index)
    }
}

impl HashReader for TreeHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::tlog::Error> {
        let first_new = stored_hash_count(self.published);
        let not_in_tree = || tlog_tiles::tlog::Error::IndexesNotInTree;
        // A tile's worth of new hashes is one contiguous range: one read.
        if let (Some(&first), Some(&last)) = (indexes.first(), indexes.last()) {
            let contiguous = indexes.windows(2).all(|w| w[1] == w[0] + 1);
            if first >= first_new && contiguous {
                return self
                    .new
                    .range(first - first_new, last - first + 1)
                    .ok_or_else(not_in_tree);
            }
        }
        indexes
            .iter()
            .map(|&index| match index.checked_sub(first_new) {
                Some(i) => self
                    .new
                    .range(i, 1)
                    .and_then(|h| h.first().copied())
                    .ok_or_else(not_in_tree),
                None => self.read_from_tiles(index),
            })
            .collect()
    }
}

/// The latest signed checkpoint: tree size and root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: [u8; 32],
}

/// An open log, ready to take entries.
pub struct Log {
    dir: PathBuf,
    origin: String,
    size: u64,
    hashes: TreeHashes,
    /// The bytes of the partial entry bundle at the end, if any. A bundle
    /// is written as soon as it is full (its checkpoint comes later), so
    /// appending holds at most one bundle of entries.
    tail_bundle: Vec<u8>,
}

fn damaged(dir: &Path, reason: String) -> Error {
    Error::Package {
        path: dir.to_owned(),
        reason: format!("log: {reason}"),
    }
}

/// The entries of an entry bundle (each prefixed with its 16-bit length),
/// or `None` if one runs past the end.
fn split_bundle(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut entries = Vec::new();
    while let Some((len, rest)) = bytes.split_first_chunk::<2>() {
        let (entry, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
        entries.push(entry);
        bytes = rest;
    }
    Some(entries)
}

impl Log {
    /// Opens the log in `dir` (`STORE/log`), checking that its tiles add up
    /// to the latest checkpoint before anything is appended.
    pub fn open(dir: &Path, origin: &str) -> Result<Log, Error> {
        let head = Log::head(dir)?;
        let size = head.map_or(0, |h| h.size);
        let hashes = TreeHashes {
            dir: dir.to_owned(),
            published: size,
            new: NewHashes::new(dir),
            cache: RefCell::new(HashMap::new()),
        };
        let mut log = Log {
            dir: dir.to_owned(),
            origin: origin.to_owned(),
            size,
            hashes,
            tail_bundle: Vec::new(),
        };
        if let Some(head) = head {
            let root = tree_hash(size, &log.hashes)
                .map_err(|e| damaged(dir, format!("reading the tiles: {e}")))?;
            if root.0 != head.root {
                return Err(damaged(
                    dir,
                    "the tiles do not add up to the latest checkpoint; not extending a damaged log"
                        .to_owned(),
                ));
            }
            let tail = size % TILE_WIDTH;
            if tail > 0 {
                let path = dir.join(entries_path(size / TILE_WIDTH, tail));
                log.tail_bundle = fs::read(&path).map_err(with_path(&path))?;
            }
        }
        Ok(log)
    }

    /// Completes a publish that was interrupted between keeping a new
    /// checkpoint (`checkpoints/<size>`, written after its tiles were
    /// synced) and replacing `checkpoint` with it. Called under the store
    /// lock, before opening the log for a run.
    pub fn complete_interrupted_publish(dir: &Path) -> Result<(), Error> {
        let current = Log::head(dir)?.map_or(0, |h| h.size);
        let largest = fs::read_dir(dir.join("checkpoints"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
                    .max()
            })
            .unwrap_or(None);
        if let Some(size) = largest.filter(|s| *s > current) {
            let kept = dir.join(format!("checkpoints/{size}"));
            let bytes = fs::read(&kept).map_err(with_path(&kept))?;
            let path = dir.join("checkpoint");
            write_atomic(&path, &bytes).map_err(with_path(&path))?;
        }
        Ok(())
    }

    /// The latest checkpoint's size and root, if there is one. The signature
    /// is not checked here (that is `spoor verify`'s work).
    pub fn head(dir: &Path) -> Result<Option<TreeHead>, Error> {
        let path = dir.join("checkpoint");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        let note =
            Note::from_bytes(&bytes).map_err(|e| damaged(dir, format!("checkpoint: {e}")))?;
        let checkpoint = Checkpoint::from_bytes(note.text())
            .map_err(|e| damaged(dir, format!("checkpoint: {e}")))?;
        Ok(Some(TreeHead {
            size: checkpoint.size(),
            root: checkpoint.hash().0,
        }))
    }

    fn push_leaf_hash(&mut self, leaf: Hash) -> Result<(), Error> {
        let hashes = stored_hashes_for_record_hash(self.size, leaf, &self.hashes)
            .map_err(|e| damaged(&self.dir, e.to_string()))?;
        self.hashes
            .new
            .extend(hashes)
            .map_err(|e| damaged(&self.dir, format!("spilling new tree hashes: {e}")))?;
        self.size += 1;
        Ok(())
    }

    /// Appends one entry (canonical JSON, at most 64 KiB); returns its index.
    pub fn append(&mut self, entry: Vec<u8>) -> Result<u64, Error> {
        if entry.len() > MAX_ENTRY {
            return Err(damaged(
                &self.dir,
                format!(
                    "entry of {} bytes is over the 65535-byte limit",
                    entry.len()
                ),
            ));
        }
        let index = self.size;
        self.push_leaf_hash(record_hash(&entry))?;
        // MAX_ENTRY keeps the length within two bytes.
        self.tail_bundle
            .extend_from_slice(&(entry.len() as u16).to_be_bytes());
        self.tail_bundle.extend_from_slice(&entry);
        if self.size.is_multiple_of(TILE_WIDTH) {
            let bundle = std::mem::take(&mut self.tail_bundle);
            self.write_tile(&entries_path(index / TILE_WIDTH, TILE_WIDTH), &bundle)?;
        }
        Ok(index)
    }

    /// Writes the entry bundles and tiles for everything appended, then signs
    /// and writes a checkpoint; returns the new tree head.
    pub fn publish(&mut self, signer: &StandardSigner) -> Result<TreeHead, Error> {
        let old_size = self.hashes.published;
        let in_bundle = self.size % TILE_WIDTH;
        if self.size > old_size && in_bundle > 0 {
            self.write_tile(
                &entries_path(self.size / TILE_WIDTH, in_bundle),
                &self.tail_bundle,
            )?;
        }
        for tile in Tile::new_tiles(TILE_HEIGHT, old_size, self.size) {
            let data = tile
                .read_data(&self.hashes)
                .map_err(|e| damaged(&self.dir, e.to_string()))?;
            self.write_tile(
                &tile_path(tile.level(), tile.level_index(), u64::from(tile.width())),
                &data,
            )?;
        }
        // One file-system sync for all tiles and bundles, before the
        // checkpoint that covers them is written: a crash before it leaves
        // the old checkpoint in force, and tiles past it are only rewritten.
        let dir = fs::File::open(&self.dir).map_err(with_path(&self.dir))?;
        rustix::fs::syncfs(&dir).map_err(|e| Error::Io {
            path: self.dir.clone(),
            source: e.into(),
        })?;
        spoor_ingest::internal::kill_point("tiles-written");
        let root =
            tree_hash(self.size, &self.hashes).map_err(|e| damaged(&self.dir, e.to_string()))?;
        let checkpoint = Checkpoint::new(&self.origin, self.size, root, "")
            .map_err(|e| damaged(&self.dir, format!("checkpoint: {e}")))?;
        let mut note = Note::new(&checkpoint.to_bytes(), &[])
            .map_err(|e| damaged(&self.dir, format!("checkpoint note: {e}")))?;
        note.add_sigs(&[signer])
            .map_err(|e| damaged(&self.dir, format!("signing the checkpoint: {e}")))?;
        let signed = note.to_bytes();
        let kept = format!("checkpoints/{}", self.size);
        if self.dir.join(&kept).exists() {
            return Err(damaged(
                &self.dir,
                format!("{kept} exists already; a log never signs two checkpoints of one size"),
            ));
        }
        self.write(&kept, &signed)?;
        spoor_ingest::internal::kill_point("checkpoint-kept");
        self.write("checkpoint", &signed)?;
        // What was new is now in the tiles.
        self.hashes.published = self.size;
        self.hashes.new.clear();
        self.hashes.cache.borrow_mut().clear();
        Ok(TreeHead {
            size: self.size,
            root: root.0,
        })
    }

    /// Number of entries, published or not.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Calls `each` with every entry of the published log from index
    /// `from` on, in order, reading each bundle once.
    pub fn for_each_entry(
        &self,
        from: u64,
        mut each: impl FnMut(u64, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for bundle in from / TILE_WIDTH..self.hashes.published.div_ceil(TILE_WIDTH) {
            let first = bundle * TILE_WIDTH;
            for (offset, entry) in self.read_bundle(bundle)?.iter().enumerate() {
                let index = first + offset as u64;
                if index >= from {
                    each(index, entry)?;
                }
            }
        }
        Ok(())
    }

    /// Entry `index` of the published log, read from its bundle.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        let size = self.hashes.published;
        if index >= size {
            return Err(damaged(
                &self.dir,
                format!("no entry {index} in a log of size {size}"),
            ));
        }
        let bundle = self.read_bundle(index / TILE_WIDTH)?;
        usize::try_from(index % TILE_WIDTH)
            .ok()
            .and_then(|i| bundle.into_iter().nth(i))
            .ok_or_else(|| damaged(&self.dir, format!("entry bundle of entry {index} is short")))
    }

    /// The entries of bundle `bundle` of the published log.
    fn read_bundle(&self, bundle: u64) -> Result<Vec<Vec<u8>>, Error> {
        let width = self
            .hashes
            .published
            .saturating_sub(bundle * TILE_WIDTH)
            .min(TILE_WIDTH);
        let path = self.dir.join(entries_path(bundle, width));
        let bytes = fs::read(&path).map_err(with_path(&path))?;
        let entries = split_bundle(&bytes).ok_or_else(|| {
            damaged(
                &self.dir,
                format!("{}: entry runs past the end", path.display()),
            )
        })?;
        Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// Drops the entries from `size` on, which must all have been appended
    /// since the last publish: a package whose entries could not all be
    /// appended leaves none, so its roll-forward in the next run does not
    /// log its first records twice.
    pub(crate) fn rewind(&mut self, size: u64) -> Result<(), Error> {
        let published = self.hashes.published;
        if size < published || size > self.size {
            return Err(damaged(
                &self.dir,
                format!(
                    "cannot rewind to {size}: published {published}, appended {}",
                    self.size
                ),
            ));
        }
        // The bundle `size` ends in is held in `tail_bundle` unless it was
        // filled since and written out; then it is read back.
        let bundle = size / TILE_WIDTH;
        let tail = if bundle == self.size / TILE_WIDTH {
            std::mem::take(&mut self.tail_bundle)
        } else {
            let path = self.dir.join(entries_path(bundle, TILE_WIDTH));
            fs::read(&path).map_err(with_path(&path))?
        };
        let keep = usize::try_from(size % TILE_WIDTH).unwrap_or(usize::MAX);
        let kept_len: usize = split_bundle(&tail)
            .filter(|entries| entries.len() >= keep)
            .map(|entries| entries[..keep].iter().map(|e| 2 + e.len()).sum())
            .ok_or_else(|| damaged(&self.dir, format!("entry bundle {bundle} is short")))?;
        self.tail_bundle = tail;
        self.tail_bundle.truncate(kept_len);
        self.hashes
            .new
            .truncate(stored_hash_count(size) - stored_hash_count(published));
        self.size = size;
        Ok(())
    }

    /// The inclusion proof of entry `index` in the tree of the current size
    /// (RFC 6962 audit path, base64 hashes).
    pub fn prove(&self, index: u64) -> Result<Vec<String>, Error> {
        let proof = prove_record(self.size, index, &self.hashes)
            .map_err(|e| damaged(&self.dir, e.to_string()))?;
        Ok(proof.iter().map(ToString::to_string).collect())
    }

    /// The consistency proof from the tree of size `old` to the tree of
    /// the current size (RFC 6962 §2.1.2, base64 hashes); empty for
    /// `old` 0 or the current size.
    pub fn prove_consistency(&self, old: u64) -> Result<Vec<String>, Error> {
        if old == 0 || old == self.size {
            return Ok(Vec::new());
        }
        let proof = prove_tree(self.size, old, &self.hashes)
            .map_err(|e| damaged(&self.dir, e.to_string()))?;
        Ok(proof.iter().map(ToString::to_string).collect())
    }

    /// Writes a tile or bundle through a temporary file and a rename, but
    /// without its own fsync (see `publish`).
    fn write_tile(&self, relative: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.dir.join(relative);
        let dir = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(dir).map_err(with_path(dir))?;
        let temporary = temporary_name(&path);
        fs::write(&temporary, bytes).map_err(|e| with_path(&temporary)(removing(&temporary, e)))?;
        fs::rename(&temporary, &path).map_err(|e| with_path(&path)(removing(&temporary, e)))
    }

    fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.dir.join(relative);
        write_atomic(&path, bytes).map_err(with_path(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Go `note` package's example key (also in C2SP signed-note).
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    /// The RFC 6962 test vectors of Certificate Transparency's reference
    /// implementation (fixtures/tlog/rfc6962-ct-vectors.json).
    fn ct_vectors() -> (Vec<Vec<u8>>, Vec<String>) {
        let text = include_str!("../../fixtures/tlog/rfc6962-ct-vectors.json");
        let value: serde_json::Value = serde_json::from_str(text).expect("vectors are JSON");
        let hex_bytes = |h: &str| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                .collect()
        };
        let leaves = value["leaves"]
            .as_array()
            .expect("leaves")
            .iter()
            .map(|l| hex_bytes(l.as_str().expect("hex")))
            .collect();
        let roots = value["roots"]
            .as_array()
            .expect("roots")
            .iter()
            .map(|r| r.as_str().expect("hex").to_owned())
            .collect();
        (leaves, roots)
    }

    fn hex(hash: &Hash) -> String {
        hash.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn certificate_transparency_vectors() {
        let (ct_leaves, ct_roots) = ct_vectors();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = Log::open(dir.path(), "PeterNeumann").expect("empty log");
        for (n, leaf) in ct_leaves.iter().enumerate() {
            log.append(leaf.clone()).expect("append");
            let root = tree_hash(n as u64 + 1, &log.hashes).expect("root");
            assert_eq!(hex(&root), ct_roots[n], "tree of size {}", n + 1);
        }
        // Published, reopened from its tiles, the same root; proofs check.
        let signer = StandardSigner::new(GO_SKEY).expect("Go example key");
        let head = log.publish(&signer).expect("publish");
        assert_eq!(head.size, 8);
        let reopened = Log::open(dir.path(), "PeterNeumann").expect("reopen");
        assert_eq!(
            hex(&tree_hash(8, &reopened.hashes).expect("root")),
            ct_roots[7]
        );
        for n in 0..8u64 {
            let proof = prove_record(8, n, &reopened.hashes).expect("proof");
            let leaf = record_hash(&ct_leaves[n as usize]);
            tlog_tiles::tlog::check_record(&proof, 8, Hash(head.root), n, leaf).expect("inclusion");
        }
        for (n, leaf) in ct_leaves.iter().enumerate() {
            assert_eq!(reopened.entry(n as u64).expect("entry"), leaf.clone());
        }
    }

    /// Enough entries in one run that the new tree hashes spill to the
    /// temporary file: the root and proofs agree with a log that published
    /// the same entries in small runs (never spilling), and the published
    /// tiles read back the same.
    #[test]
    fn spilled_tree_hashes_give_the_same_tree() {
        let signer = StandardSigner::new(GO_SKEY).expect("Go example key");
        let entries = 20_000u64;
        let entry = |n: u64| format!("{{\"n\":{n}}}").into_bytes();
        let (one, small) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        let mut log = Log::open(one.path(), "PeterNeumann").expect("empty log");
        log.hashes.new.spill_at = 1 << 12;
        for n in 0..entries {
            log.append(entry(n)).expect("append");
        }
        assert!(log.hashes.new.spilled > 0, "the test must spill");
        let head = log.publish(&signer).expect("publish");
        let mut other = Log::open(small.path(), "PeterNeumann").expect("empty log");
        let mut other_head = None;
        for n in 0..entries {
            other.append(entry(n)).expect("append");
            if n % 1_000 == 999 {
                other_head = Some(other.publish(&signer).expect("publish"));
            }
        }
        assert_eq!(other.hashes.new.spilled, 0);
        assert_eq!(Some(head), other_head);
        let reopened = Log::open(one.path(), "PeterNeumann").expect("reopen");
        for n in [0, 255, 256, 19_999] {
            let proof = prove_record(entries, n, &reopened.hashes).expect("proof");
            tlog_tiles::tlog::check_record(
                &proof,
                entries,
                Hash(head.root),
                n,
                record_hash(&entry(n)),
            )
            .expect("inclusion");
            assert_eq!(reopened.entry(n).expect("entry"), entry(n));
        }
    }

    /// Rewinding to any size between the last publish and the end, across
    /// bundles written out and hashes spilled, leaves the log as if the
    /// dropped entries had never been appended; below the publish it is
    /// refused.
    #[test]
    fn rewinding_forgets_the_entries_dropped() {
        let signer = StandardSigner::new(GO_SKEY).expect("Go example key");
        let first = |n: u64| format!("{{\"n\":{n}}}").into_bytes();
        let second = |n: u64| format!("{{\"m\":{n}}}").into_bytes();
        // (published, appended, rewound to, appended again)
        for (published, appended, to, end) in [
            (0, 10, 0, 5),
            (100, 300, 200, 600),
            (100, 1_000, 100, 300),
            (256, 700, 512, 520),
            (300, 5_000, 400, 450),
        ] {
            let (dir, clean_dir) = (
                tempfile::tempdir().expect("dir"),
                tempfile::tempdir().expect("dir"),
            );
            let mut log = Log::open(dir.path(), "PeterNeumann").expect("empty log");
            log.hashes.new.spill_at = 1 << 9;
            for n in 0..appended {
                log.append(first(n)).expect("append");
                if n + 1 == published {
                    log.publish(&signer).expect("publish");
                }
            }
            assert!(log.rewind(published.saturating_sub(1)).is_err() || published == 0);
            log.rewind(to).expect("rewind");
            assert_eq!(log.size(), to);
            for n in to..end {
                log.append(second(n)).expect("append");
            }
            let head = log.publish(&signer).expect("publish");

            let mut clean = Log::open(clean_dir.path(), "PeterNeumann").expect("empty log");
            for n in 0..end {
                clean
                    .append(if n < to { first(n) } else { second(n) })
                    .expect("append");
            }
            let clean_head = clean.publish(&signer).expect("publish");
            assert_eq!(head, clean_head, "{published} {appended} {to} {end}");
            let reopened = Log::open(dir.path(), "PeterNeumann").expect("reopen");
            for n in [0, to.saturating_sub(1), to, end - 1] {
                let expected = if n < to { first(n) } else { second(n) };
                assert_eq!(reopened.entry(n).expect("entry"), expected, "entry {n}");
            }
        }
    }

    #[test]
    fn go_note_example_signs_and_verifies() {
        let signer = StandardSigner::new(GO_SKEY).expect("Go example key");
        let text = GO_NOTE.split("\n\n").next().expect("text").to_owned() + "\n";
        let mut note = Note::new(text.as_bytes(), &[]).expect("note");
        note.add_sigs(&[&signer]).expect("sign");
        // Ed25519 is deterministic, so our signature is the published one.
        assert_eq!(String::from_utf8(note.to_bytes()).expect("utf-8"), GO_NOTE);
        let verifier =
            signed_note::StandardVerifier::new(GO_VKEY).expect("Go example verifier key");
        let verifiers = signed_note::VerifierList::new(vec![Box::new(verifier)]);
        Note::from_bytes(GO_NOTE.as_bytes())
            .expect("parse")
            .verify(&verifiers)
            .expect("verifies");
        let tampered = GO_NOTE.replace("cryptography", "blockchain");
        assert!(Note::from_bytes(tampered.as_bytes())
            .expect("parse")
            .verify(&verifiers)
            .is_err());
    }
}
