//! SHA-256 digests (FIPS 180-4) as a checked newtype, and a hashing writer.

use std::fmt;
use std::io::{self, Write};

use sha2::{Digest, Sha256 as Sha256State};

/// A SHA-256 digest. Displays and parses as 64 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// Hashes `bytes` in one go.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(Sha256State::digest(bytes).into())
    }

    /// A digest given as its 32 bytes (e.g. decoded from base64).
    pub fn from_bytes(bytes: [u8; 32]) -> Sha256 {
        Sha256(bytes)
    }

    /// Parses 64 lowercase hexadecimal digits.
    ///
    /// # Errors
    /// Returns [`crate::Error::BadDigest`] for any other text, so a digest
    /// written in another case or length is never taken as equal.
    pub fn from_hex(text: &str) -> Result<Sha256, crate::Error> {
        let bad = || crate::Error::BadDigest(text.chars().take(80).collect());
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(bad());
        }
        // A table lookup per digit, and one check for all of them: a
        // store-wide verify reads several digests per record.
        let mut out = [0u8; 32];
        let mut invalid = 0u8;
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = HEX_VALUES[usize::from(pair[0])];
            let lo = HEX_VALUES[usize::from(pair[1])];
            invalid |= (hi | lo) & 0xf0;
            *slot = hi << 4 | lo;
        }
        if invalid != 0 {
            return Err(bad());
        }
        Ok(Sha256(out))
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(64);
        for byte in self.0 {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        hex
    }
}

/// The value of each lowercase hexadecimal digit; 0xff for every other
/// byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sha256::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Hashes everything written through it and counts the bytes, passing the
/// bytes on to an inner writer. Lets one pass both store and hash a stream.
pub struct HashingWriter<W> {
    inner: W,
    state: Sha256State,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            state: Sha256State::new(),
            len: 0,
        }
    }

    /// Returns the inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Sha256, u64) {
        (self.inner, Sha256(self.state.finalize().into()), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.state.update(written);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    state: Sha256State,
    len: u64,
}

impl<R: io::Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            state: Sha256State::new(),
            len: 0,
        }
    }

    /// The digest and count of the bytes read so far.
    pub fn finish(self) -> (Sha256, u64) {
        (Sha256(self.state.finalize().into()), self.len)
    }
}

impl<R: io::Read> io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state.update(buf.get(..n).unwrap_or(&[]));
        self.len += n as u64;
        Ok(n)
    }
}

/// Hashes a whole reader in 1 MiB steps; returns the digest and length.
///
/// # Errors
/// Passes on the reader's I/O error.
pub fn hash_reader<R: io::Read>(mut reader: R) -> io::Result<(Sha256, u64)> {
    let mut state = Sha256State::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        state.update(buf.get(..n).unwrap_or(&[]));
        len += n as u64;
    }
    Ok((Sha256(state.finalize().into()), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            Sha256::of(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Sha256::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let d = Sha256::of(b"abc");
        assert_eq!(Sha256::from_hex(&d.to_hex()).ok(), Some(d));
        assert!(Sha256::from_hex(&d.to_hex().to_uppercase()).is_err());
        assert!(Sha256::from_hex("abc").is_err());
        assert!(Sha256::from_hex(&"g".repeat(64)).is_err());
        assert!(Sha256::from_hex(&"é".repeat(32)).is_err());
        assert!(Sha256::from_hex(&format!("{}:", "0".repeat(63))).is_err());
    }

    #[test]
    fn hashing_writer_matches_one_shot() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"a")
            .and_then(|_| w.write_all(b"bc"))
            .expect("vec write");
        let (inner, digest, len) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(digest, Sha256::of(b"abc"));
        assert_eq!(len, 3);
        assert_eq!(hash_reader(&b"abc"[..]).expect("read").0, digest);
        let mut reader = HashingReader::new(&b"abc"[..]);
        std::io::copy(&mut reader, &mut std::io::sink()).expect("read");
        assert_eq!(reader.finish(), (digest, 3));
    }
}
