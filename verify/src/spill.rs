//! The per-record facts of a store check, kept in an unnamed temporary
//! file instead of memory: the log walk and the catalogue comparison need
//! every package's (id, hash) list after all packages are checked, and
//! held in memory those lists grew with the store (909 MB for 10.5 M
//! records, #21). Here they cost 65 bytes a record of disk and one
//! package's list of memory at a time.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use spoor_normalize::Sha256;

use crate::package::RecordLine;
use crate::Error;

/// One record line on disk: a byte saying whether there is an id, the id
/// (zeros without one), the line's hash.
const LINE_BYTES: usize = 65;

/// The scratch file: unnamed (nothing is left behind, whatever happens to
/// the process), appended to once per package, read from any thread.
#[derive(Debug)]
pub(crate) struct Spill {
    file: File,
    end: AtomicU64,
}

impl Spill {
    /// A new scratch file in the temporary folder (`TMPDIR`).
    pub(crate) fn new() -> io::Result<Arc<Spill>> {
        Ok(Arc::new(Spill {
            file: tempfile::tempfile()?,
            end: AtomicU64::new(0),
        }))
    }

    /// Writes `records` out; returns where they are.
    pub(crate) fn put(self: &Arc<Spill>, records: &[RecordLine]) -> io::Result<RecordLines> {
        let mut bytes = Vec::with_capacity(records.len() * LINE_BYTES);
        for record in records {
            bytes.push(u8::from(record.id.is_some()));
            bytes.extend_from_slice(record.id.as_ref().map_or(&[0; 32], |id| id.as_bytes()));
            bytes.extend_from_slice(record.hash.as_bytes());
        }
        let offset = self.end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.file.write_all_at(&bytes, offset)?;
        Ok(RecordLines::Spilled {
            spill: Arc::clone(self),
            offset,
            count: records.len(),
        })
    }

    /// Reads `count` lines from `offset`, 1 MiB at a time (so the bytes
    /// are never held beside the lines).
    fn get(&self, offset: u64, count: usize) -> io::Result<Vec<RecordLine>> {
        const PIECE: usize = (1 << 20) / LINE_BYTES;
        let mut lines = Vec::with_capacity(count);
        let mut bytes = vec![0; PIECE.min(count) * LINE_BYTES];
        let mut at = offset;
        while lines.len() < count {
            let piece = &mut bytes[..PIECE.min(count - lines.len()) * LINE_BYTES];
            self.file.read_exact_at(piece, at)?;
            at += piece.len() as u64;
            lines.extend(piece.chunks_exact(LINE_BYTES).map(|line| {
                let digest = |from: usize| {
                    let mut digest = [0; 32];
                    digest.copy_from_slice(&line[from..from + 32]);
                    Sha256::from_bytes(digest)
                };
                RecordLine {
                    id: (line[0] == 1).then(|| digest(1)),
                    hash: digest(33),
                }
            }));
        }
        Ok(lines)
    }
}

/// The record lines of one package, in line order: held (a package
/// checked on its own) or in the store check's scratch file.
#[derive(Clone, Debug)]
pub(crate) enum RecordLines {
    Held(Vec<RecordLine>),
    Spilled {
        spill: Arc<Spill>,
        offset: u64,
        count: usize,
    },
}

impl Default for RecordLines {
    fn default() -> Self {
        RecordLines::Held(Vec::new())
    }
}

impl RecordLines {
    /// How many lines.
    pub(crate) fn len(&self) -> usize {
        match self {
            RecordLines::Held(records) => records.len(),
            RecordLines::Spilled { count, .. } => *count,
        }
    }

    /// The lines, read back from the scratch file if they are there.
    pub(crate) fn load(&self) -> io::Result<Cow<'_, [RecordLine]>> {
        match self {
            RecordLines::Held(records) => Ok(Cow::Borrowed(records)),
            RecordLines::Spilled {
                spill,
                offset,
                count,
            } => spill.get(*offset, *count).map(Cow::Owned),
        }
    }

    /// Moves held lines to `spill`.
    pub(crate) fn spill_to(&mut self, spill: &Arc<Spill>) -> io::Result<()> {
        if let RecordLines::Held(records) = self {
            *self = spill.put(records)?;
        }
        Ok(())
    }
}

/// The scratch file failed: the check cannot be made (exit 2, not a
/// finding about the store).
pub(crate) fn scratch_error(e: io::Error) -> Error {
    Error::CannotRead {
        path: std::env::temp_dir(),
        reason: format!("verify's scratch file of record facts: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_as_they_went_out() {
        let spill = Spill::new().expect("temporary file");
        let line = |id: Option<u8>, hash: u8| RecordLine {
            id: id.map(|b| Sha256::from_bytes([b; 32])),
            hash: Sha256::from_bytes([hash; 32]),
        };
        let first = vec![line(Some(1), 2), line(None, 3)];
        let second = vec![line(Some(4), 5)];
        let mut a = RecordLines::Held(first.clone());
        let mut b = RecordLines::Held(second.clone());
        a.spill_to(&spill).expect("put");
        b.spill_to(&spill).expect("put");
        assert!(matches!(
            a,
            RecordLines::Spilled {
                offset: 0,
                count: 2,
                ..
            }
        ));
        assert!(matches!(
            b,
            RecordLines::Spilled {
                offset: 130,
                count: 1,
                ..
            }
        ));
        let same = |x: &[RecordLine], y: &[RecordLine]| {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p.id == q.id && p.hash == q.hash)
        };
        assert!(same(&a.load().expect("get"), &first));
        assert!(same(&b.load().expect("get"), &second));
        assert_eq!(a.len(), 2);
        // More lines than one piece read.
        let many: Vec<RecordLine> = (0..40_000u32)
            .map(|i| line((i % 7 != 0).then_some(i as u8), (i >> 8) as u8))
            .collect();
        let mut c = RecordLines::Held(many.clone());
        c.spill_to(&spill).expect("put");
        assert!(same(&c.load().expect("get"), &many));
        assert!(same(&a.load().expect("get"), &first));
    }
}
