//! Staging: what a reader produces is written to a private folder under
//! `STORE/tmp/` first (records in source order, blobs in one pack file,
//! quarantine, the records not written again), so the package can then be
//! sealed in one sorted pass. Nothing per record is held in memory but the
//! ids seen in this export (to tell repeats), so memory stays flat however
//! many records an export holds.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use spoor_ingest::{Blob, Quarantined, Sink};
use spoor_normalize::layout::{to_canonical_line, KnownEntry, QuarantineEntry};
use spoor_normalize::{Record, Sha256};

use crate::fingerprint::FingerprintWriter;

/// Answers whether a record id is already in the store. `Send`, as the
/// stager it serves is a [`Sink`].
pub(crate) trait KnownRecords: Send {
    fn contains(&mut self, id: &str) -> io::Result<bool>;
}

/// The pack file holding every staged blob, in the staging folder.
pub(crate) const BLOB_PACK: &str = "blobs.pack";

/// Where a blob's bytes are in the pack file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobSpan {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    /// Of the bytes as staged, to check them while sealing.
    pub(crate) crc32: u32,
}

/// What staging produced: the folder with `data/records.jsonl`,
/// `data/quarantine.jsonl`, `data/known.jsonl` and the blob pack, and what
/// went in.
pub(crate) struct Staged {
    pub(crate) dir: PathBuf,
    pub(crate) counts: StageCounts,
    /// Every blob, by digest (so in the order of their bag paths).
    pub(crate) blobs: BTreeMap<Sha256, BlobSpan>,
}

/// The id and record hash of every line of a `records.jsonl`, in order,
/// read back without holding them: `each` is called once per line.
pub(crate) fn each_record_line(
    records: impl BufRead,
    mut each: impl FnMut(&str, Sha256, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    /// Only the id is looked at; the rest of the line is skipped unparsed.
    #[derive(serde::Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow)]
        id: std::borrow::Cow<'a, str>,
    }
    for line in records.split(b'\n') {
        let line = line?;
        let record: IdOnly<'_> = serde_json::from_slice(&line).map_err(io::Error::other)?;
        each(&record.id, Sha256::of(&line), &line)?;
    }
    Ok(())
}

impl Staged {
    fn data(&self, name: &str) -> PathBuf {
        self.dir.join("data").join(name)
    }

    /// Opens the staged `records.jsonl`.
    pub(crate) fn records(&self) -> io::Result<BufReader<File>> {
        Ok(BufReader::with_capacity(
            1 << 16,
            File::open(self.data("records.jsonl"))?,
        ))
    }

    /// Moves the records `store` holds by now (archived by an earlier input
    /// of the same run) from `records.jsonl` to the known records, and
    /// forgets blobs nothing left references.
    pub(crate) fn drop_known(&mut self, store: &mut dyn KnownRecords) -> io::Result<()> {
        let mut any = false;
        each_record_line(self.records()?, |id, _, _| {
            any = any || store.contains(id)?;
            Ok(())
        })?;
        if !any {
            return Ok(());
        }
        let path = self.data("records.jsonl");
        let kept_path = self.data("records.jsonl.kept");
        let mut writer = BufWriter::new(File::create(&kept_path)?);
        let mut known = BufWriter::new(
            fs::OpenOptions::new()
                .append(true)
                .open(self.data("known.jsonl"))?,
        );
        let mut referenced = HashSet::new();
        let records = self.records()?;
        let counts = &mut self.counts;
        each_record_line(records, |id, _, line| {
            let record: Record = serde_json::from_slice(line).map_err(io::Error::other)?;
            if store.contains(id)? {
                write_known(&mut known, &record, "already in the store")?;
                counts.records -= 1;
                counts.known += 1;
                return Ok(());
            }
            writer.write_all(line)?;
            writer.write_all(b"\n")?;
            referenced.extend(
                record
                    .bodies
                    .iter()
                    .chain(&record.attachments)
                    .filter_map(|b| b.sha256),
            );
            Ok(())
        })?;
        writer.flush()?;
        known.flush()?;
        drop(writer);
        fs::rename(&kept_path, &path)?;
        for line in BufReader::new(File::open(self.data("quarantine.jsonl"))?).lines() {
            let item: Value = serde_json::from_str(&line?).map_err(io::Error::other)?;
            if let Some(digest) = item["raw_sha256"]
                .as_str()
                .and_then(|h| Sha256::from_hex(h).ok())
            {
                referenced.insert(digest);
            }
        }
        let before = self.blobs.len();
        self.blobs.retain(|digest, _| referenced.contains(digest));
        self.counts.blobs -= (before - self.blobs.len()) as u64;
        Ok(())
    }
}

/// Counts of what was staged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StageCounts {
    pub(crate) records: u64,
    pub(crate) known: u64,
    pub(crate) duplicates: u64,
    pub(crate) quarantined: u64,
    pub(crate) blobs: u64,
    /// Why items were quarantined: each reason with its count (at most
    /// [`MAX_REASONS`] distinct ones; the rest are counted as "other").
    pub(crate) reasons: BTreeMap<String, u64>,
}

/// Most distinct quarantine reasons kept for the run report.
const MAX_REASONS: usize = 64;

impl StageCounts {
    fn note_reason(&mut self, reason: &str) {
        let key = if self.reasons.len() < MAX_REASONS || self.reasons.contains_key(reason) {
            reason.to_owned()
        } else {
            "other reasons".to_owned()
        };
        *self.reasons.entry(key).or_default() += 1;
    }
}

pub(crate) struct Stager<'a> {
    dir: PathBuf,
    records: BufWriter<File>,
    quarantine: BufWriter<File>,
    /// Blobs are appended to one pack file: thousands of small files would
    /// cost more in file creation than in bytes.
    blob_pack: BufWriter<File>,
    blob_pack_len: u64,
    blobs: BTreeMap<Sha256, BlobSpan>,
    /// Streamed blobs no written record has referenced yet.
    streamed_unreferenced: BTreeSet<Sha256>,
    /// The first 128 bits of each record id seen in this export, to tell
    /// repeats. Half the memory of whole ids; two different ids of this
    /// export sharing their first 128 bits has a chance below 1 in 10^26 for
    /// a million records, and would still leave the record's id and locator
    /// in `known.jsonl` and its bytes in the original. A B-tree, not a hash
    /// set: about 27 bytes an id and no table doubled at once (a
    /// 954,536-message chat's run peaked at 105.5 MB with a hash set, 94–95
    /// MB with this, #21).
    ids_seen: BTreeSet<u128>,
    store: &'a mut dyn KnownRecords,
    /// Records not written because the store or this export already has them.
    known: BufWriter<File>,
    pub(crate) counts: StageCounts,
}

impl<'a> Stager<'a> {
    pub(crate) fn create(dir: &Path, store: &'a mut dyn KnownRecords) -> io::Result<Stager<'a>> {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        fs::create_dir_all(dir.join("data"))?;
        let open = |name: &str| {
            File::create(dir.join("data").join(name)).map(|f| BufWriter::with_capacity(1 << 16, f))
        };
        Ok(Stager {
            dir: dir.to_owned(),
            records: open("records.jsonl")?,
            quarantine: open("quarantine.jsonl")?,
            blob_pack: BufWriter::with_capacity(1 << 20, File::create(dir.join(BLOB_PACK))?),
            blob_pack_len: 0,
            blobs: BTreeMap::new(),
            streamed_unreferenced: BTreeSet::new(),
            ids_seen: BTreeSet::new(),
            store,
            known: open("known.jsonl")?,
            counts: StageCounts::default(),
        })
    }

    /// Flushes the staged files. Streamed blobs nothing references are
    /// left out of the package.
    pub(crate) fn finish(mut self) -> io::Result<Staged> {
        for digest in &self.streamed_unreferenced {
            if self.blobs.remove(digest).is_some() {
                self.counts.blobs -= 1;
            }
        }
        self.records.flush()?;
        self.quarantine.flush()?;
        self.known.flush()?;
        self.blob_pack.flush()?;
        Ok(Staged {
            dir: self.dir,
            counts: self.counts,
            blobs: self.blobs,
        })
    }

    fn put_blob(&mut self, sha256: Sha256, bytes: &[u8]) -> io::Result<()> {
        if self.blobs.contains_key(&sha256) {
            return Ok(());
        }
        self.blob_pack.write_all(bytes)?;
        let span = BlobSpan {
            offset: self.blob_pack_len,
            len: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        };
        self.blob_pack_len += span.len;
        self.blobs.insert(sha256, span);
        self.counts.blobs += 1;
        Ok(())
    }
}

/// One line of `known.jsonl`: a record not written, where it was, and why.
fn write_known(out: &mut impl Write, record: &Record, why: &str) -> io::Result<()> {
    let entry = KnownEntry {
        id: record.id.as_str().to_owned(),
        locator: record.source.locator.clone(),
        why: why.to_owned(),
    };
    out.write_all(&to_canonical_line(&entry)?)
}

impl Sink for Stager<'_> {
    fn record(&mut self, record: Record, blobs: Vec<Blob>) -> io::Result<()> {
        let id = Sha256::from_hex(record.id.as_str()).map_err(io::Error::other)?;
        let mut head = [0u8; 16];
        head.copy_from_slice(&id.as_bytes()[..16]);
        let already = if !self.ids_seen.insert(u128::from_be_bytes(head)) {
            self.counts.duplicates += 1;
            Some("repeated in this export")
        } else if self.store.contains(record.id.as_str())? {
            self.counts.known += 1;
            Some("already in the store")
        } else {
            None
        };
        if let Some(why) = already {
            return write_known(&mut self.known, &record, why);
        }
        for blob in &blobs {
            self.put_blob(blob.sha256, &blob.bytes)?;
        }
        for digest in record
            .bodies
            .iter()
            .chain(&record.attachments)
            .filter_map(|b| b.sha256)
        {
            self.streamed_unreferenced.remove(&digest);
        }
        let line = record.to_canonical_line().map_err(io::Error::other)?;
        self.records.write_all(&line)?;
        self.records.write_all(b"\n")?;
        self.counts.records += 1;
        Ok(())
    }

    fn blob(&mut self, bytes: &mut dyn Read) -> io::Result<(Sha256, u64)> {
        let mut writer = FingerprintWriter::new(&mut self.blob_pack);
        let copied = io::copy(bytes, &mut writer);
        let (_, fingerprint) = writer.finish();
        let (sha256, len) = (fingerprint.sha256, fingerprint.size);
        let offset = self.blob_pack_len;
        // Whatever reached the pack moves the end, even when the copy failed
        // part way; a blob already staged leaves its second copy unused in
        // the pack, which is never sealed as it is.
        self.blob_pack_len += len;
        copied?;
        if let std::collections::btree_map::Entry::Vacant(free) = self.blobs.entry(sha256) {
            free.insert(BlobSpan {
                offset,
                len,
                crc32: fingerprint.crc32,
            });
            self.streamed_unreferenced.insert(sha256);
            self.counts.blobs += 1;
        }
        Ok((sha256, len))
    }

    fn quarantine(&mut self, item: Quarantined) -> io::Result<()> {
        let kept = !item.raw.is_empty() || item.raw_size == 0;
        let raw_sha256 = kept.then(|| Sha256::of(&item.raw));
        if let Some(digest) = raw_sha256 {
            self.put_blob(digest, &item.raw)?;
        }
        self.counts.note_reason(&item.reason);
        let entry = QuarantineEntry {
            locator: item.locator,
            reason: item.reason,
            raw_size: item.raw_size,
            raw_sha256: raw_sha256.map(|d| d.to_hex()),
        };
        self.quarantine.write_all(&to_canonical_line(&entry)?)?;
        self.counts.quarantined += 1;
        Ok(())
    }
}
