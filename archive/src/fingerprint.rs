//! What a payload file must hold when it is copied into a package: the
//! SHA-256 taken when it was taken in or staged (for the manifest), with a
//! CRC-32 and the length taken in the same pass (for the check while
//! copying).
//!
//! Sealing checks each file's bytes against its CRC-32 and length instead of
//! hashing them again with SHA-256: the CRC costs a tenth as much and catches
//! a file that changed or was damaged between intake and sealing just as
//! well. It is not proof against a deliberate change made to keep the CRC;
//! such a package still names the SHA-256 taken at intake in its manifest,
//! so `spoor verify` reports the entry as not matching.

use std::io::{self, BufReader, Read, Write};

use spoor_normalize::{HashingWriter, Sha256};

/// SHA-256, CRC-32 and length of a file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) sha256: Sha256,
    pub(crate) crc32: u32,
    pub(crate) size: u64,
}

impl Fingerprint {
    /// The fingerprint of everything `reader` yields.
    pub(crate) fn of_reader(reader: impl Read) -> io::Result<Fingerprint> {
        let mut writer = FingerprintWriter::new(io::sink());
        io::copy(&mut BufReader::with_capacity(1 << 20, reader), &mut writer)?;
        Ok(writer.finish().1)
    }
}

/// Passes writes on to `W`, taking the fingerprint of what was written.
pub(crate) struct FingerprintWriter<W> {
    inner: HashingWriter<W>,
    crc: crc32fast::Hasher,
}

impl<W: Write> FingerprintWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        FingerprintWriter {
            inner: HashingWriter::new(inner),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// The inner writer and the fingerprint of everything written.
    pub(crate) fn finish(self) -> (W, Fingerprint) {
        let (inner, sha256, size) = self.inner.finish();
        let fingerprint = Fingerprint {
            sha256,
            crc32: self.crc.finalize(),
            size,
        };
        (inner, fingerprint)
    }
}

impl<W: Write> Write for FingerprintWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(buf.get(..n).unwrap_or(buf));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_known_bytes() {
        let fingerprint = Fingerprint::of_reader(&b"123456789"[..]).expect("reads");
        // The CRC-32 check value of the zip (IEEE) polynomial.
        assert_eq!(fingerprint.crc32, 0xcbf4_3926);
        assert_eq!(fingerprint.size, 9);
        assert_eq!(fingerprint.sha256, Sha256::of(b"123456789"));
    }
}
