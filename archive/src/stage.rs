//! Staging: what a reader produces is written to a private folder under
//! `STORE/tmp/` first (records in source order, blobs in one pack file,
//! quarantine), so the package can then be sealed in one sorted pass.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spoor_ingest::{Blob, Quarantined, Sink};
use spoor_normalize::{jcs, Record, RecordId, Sha256};

/// Answers whether a record id is already in the store.
pub(crate) trait KnownRecords {
    fn contains(&mut self, id: &RecordId) -> io::Result<bool>;
}

/// The pack file holding every staged blob, in the staging folder.
pub(crate) const BLOB_PACK: &str = "blobs.pack";

/// Where a blob's bytes are in the pack file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobSpan {
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// What staging produced: the folder with `data/records.jsonl`,
/// `data/quarantine.jsonl` and the blob pack, and what went in.
pub(crate) struct Staged {
    pub(crate) dir: PathBuf,
    pub(crate) known: Vec<Value>,
    pub(crate) counts: StageCounts,
    /// Every blob, by digest (so in the order of their bag paths).
    pub(crate) blobs: BTreeMap<Sha256, BlobSpan>,
    /// Id and record hash of every record line, in order.
    pub(crate) records: Vec<(RecordId, Sha256)>,
}

impl Staged {
    /// Moves the records whose ids are in `archived` (archived by an
    /// earlier input of the same run) from `records.jsonl` to the known
    /// records, and forgets blobs nothing left references.
    pub(crate) fn drop_known(&mut self, archived: &HashSet<Sha256>) -> io::Result<()> {
        let dropped =
            |id: &RecordId| Sha256::from_hex(id.as_str()).is_ok_and(|k| archived.contains(&k));
        if !self.records.iter().any(|(id, _)| dropped(id)) {
            return Ok(());
        }
        let data = self.dir.join("data");
        let path = data.join("records.jsonl");
        let kept_path = data.join("records.jsonl.kept");
        let mut writer = BufWriter::new(File::create(&kept_path)?);
        let mut referenced = HashSet::new();
        let mut kept = Vec::new();
        let lines = BufReader::new(File::open(&path)?).split(b'\n');
        for (line, (id, hash)) in lines.zip(std::mem::take(&mut self.records)) {
            let line = line?;
            let record: Record = serde_json::from_slice(&line).map_err(io::Error::other)?;
            if dropped(&id) {
                self.known.push(json!({ "id": id, "locator": record.source.locator, "why": "already in the store" }));
                self.counts.records -= 1;
                self.counts.known += 1;
                continue;
            }
            writer.write_all(&line)?;
            writer.write_all(b"\n")?;
            referenced.extend(
                record
                    .bodies
                    .iter()
                    .chain(&record.attachments)
                    .filter_map(|b| b.sha256),
            );
            kept.push((id, hash));
        }
        writer.flush()?;
        drop(writer);
        fs::rename(&kept_path, &path)?;
        self.records = kept;
        for line in BufReader::new(File::open(data.join("quarantine.jsonl"))?).lines() {
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
    ids_seen: HashSet<Sha256>,
    store: &'a mut dyn KnownRecords,
    /// Records not written because the store or this export already has them.
    pub(crate) known: Vec<Value>,
    /// Id and record hash of every record written, in order.
    records_written: Vec<(RecordId, Sha256)>,
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
            ids_seen: HashSet::new(),
            store,
            known: Vec::new(),
            records_written: Vec::new(),
            counts: StageCounts::default(),
        })
    }

    /// Flushes the staged files.
    pub(crate) fn finish(mut self) -> io::Result<Staged> {
        self.records.flush()?;
        self.quarantine.flush()?;
        self.blob_pack.flush()?;
        Ok(Staged {
            dir: self.dir,
            known: self.known,
            counts: self.counts,
            blobs: self.blobs,
            records: self.records_written,
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
        };
        self.blob_pack_len += span.len;
        self.blobs.insert(sha256, span);
        self.counts.blobs += 1;
        Ok(())
    }
}

impl Sink for Stager<'_> {
    fn record(&mut self, record: Record, blobs: Vec<Blob>) -> io::Result<()> {
        // Ids are hex digests; keeping them as 32 bytes halves the memory.
        let key = Sha256::from_hex(record.id.as_str()).map_err(io::Error::other)?;
        let already = if !self.ids_seen.insert(key) {
            self.counts.duplicates += 1;
            Some("repeated in this export")
        } else if self.store.contains(&record.id)? {
            self.counts.known += 1;
            Some("already in the store")
        } else {
            None
        };
        if let Some(why) = already {
            self.known
                .push(json!({ "id": record.id, "locator": record.source.locator, "why": why }));
            return Ok(());
        }
        for blob in &blobs {
            self.put_blob(blob.sha256, &blob.bytes)?;
        }
        let line = record.to_canonical_line().map_err(io::Error::other)?;
        self.records.write_all(&line)?;
        self.records.write_all(b"\n")?;
        self.records_written.push((record.id, Sha256::of(&line)));
        self.counts.records += 1;
        Ok(())
    }

    fn quarantine(&mut self, item: Quarantined) -> io::Result<()> {
        let kept = !item.raw.is_empty() || item.raw_size == 0;
        let raw_sha256 = kept.then(|| Sha256::of(&item.raw));
        if let Some(digest) = raw_sha256 {
            self.put_blob(digest, &item.raw)?;
        }
        let entry = json!({
            "locator": item.locator,
            "reason": item.reason,
            "raw_size": item.raw_size,
            "raw_sha256": raw_sha256,
        });
        self.quarantine.write_all(&jcs::to_canonical(&entry))?;
        self.quarantine.write_all(b"\n")?;
        self.counts.quarantined += 1;
        Ok(())
    }
}
