//! Sealing a package: one BagIt bag in one top-level folder, serialised as a
//! deterministic zip (entries sorted by name, fixed times and modes, no extra
//! fields), so the same inputs give the same bytes.

use std::fs::File;
use std::io::{self, Write};
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use spoor_normalize::access::{self, AccessPoint};
use spoor_normalize::{HashingWriter, Sha256};

use crate::bagit::{self, BagInfo};
use crate::fingerprint::Fingerprint;
use crate::fsutil::with_path;
use crate::intake::Export;
use crate::stage::{Staged, BLOB_PACK};
use crate::zipout::ZipOut;
use crate::Error;

/// What sealing produced.
#[derive(Clone, Debug)]
pub(crate) struct Sealed {
    /// SHA-256 of the whole zip file, taken as it was written.
    pub(crate) zip_sha256: Sha256,
    pub(crate) tagmanifest_sha256: Sha256,
    pub(crate) payload_oxum: String,
}

/// One payload file: its path in the bag and where its bytes are now
/// (`expected.size` bytes from `offset` in `source`).
struct PayloadFile {
    bag_path: String,
    source: PathBuf,
    offset: u64,
    /// What the bytes must be: taken at intake for originals, at staging
    /// for blobs, just before sealing for the other staged files.
    expected: Fingerprint,
}

/// Writes the package zip for `package_id` to `target`.
pub(crate) fn seal(
    target: &Path,
    package_id: &str,
    staged: &Staged,
    export: &Export,
    bag_info: &BagInfo,
) -> Result<Sealed, Error> {
    let mut payload = Vec::new();
    for file in &export.files {
        payload.push(PayloadFile {
            bag_path: export.bag_path(file),
            source: file.source.clone(),
            offset: 0,
            expected: Fingerprint {
                sha256: file.sha256,
                crc32: file.crc32,
                size: file.size,
            },
        });
    }
    for name in [
        "records.jsonl",
        "quarantine.jsonl",
        "known.jsonl",
        "package.json",
    ] {
        let source = staged.dir.join("data").join(name);
        let expected = File::open(&source)
            .and_then(Fingerprint::of_reader)
            .map_err(with_path(&source))?;
        payload.push(PayloadFile {
            bag_path: format!("data/{name}"),
            source,
            offset: 0,
            expected,
        });
    }
    let pack = staged.dir.join(BLOB_PACK);
    for (digest, span) in &staged.blobs {
        let hex = digest.to_hex();
        payload.push(PayloadFile {
            bag_path: format!("data/blobs/sha256/{}/{hex}", &hex[..2]),
            source: pack.clone(),
            offset: span.offset,
            expected: Fingerprint {
                sha256: *digest,
                crc32: span.crc32,
                size: span.len,
            },
        });
    }
    payload.sort_by(|a, b| a.bag_path.cmp(&b.bag_path));

    let octets: u64 = payload.iter().map(|f| f.expected.size).sum();
    let oxum = bagit::payload_oxum(octets, payload.len() as u64);
    let bag_info = bag_info.to_text(&oxum);

    let file = File::create(target).map_err(with_path(target))?;
    // Large buffered writes: the kernel's cost per write call, not per
    // byte, dominated with 8 KiB pieces.
    // Written as a stream (sizes and CRCs in data descriptors after each
    // entry, no seeking back), so the file's own SHA-256 is taken on the way.
    let mut zip = ZipOut::new(io::BufWriter::with_capacity(
        COPY_BUFFER,
        HashTee::new(file),
    ));
    let name = |bag_path: &str| format!("{package_id}/{bag_path}");

    let mut tags = Vec::new();
    for (tag, text) in [
        ("bag-info.txt", bag_info.as_str()),
        ("bagit.txt", bagit::BAGIT_TXT),
    ] {
        write_bytes(&mut zip, &name(tag), text.as_bytes()).map_err(with_path(target))?;
        tags.push((tag.to_owned(), Sha256::of(text.as_bytes())));
    }
    let mut manifest_entries = Vec::with_capacity(payload.len());
    let mut access = None;
    for file in &payload {
        let source = File::open(&file.source).map_err(with_path(&file.source))?;
        let mut points = (file.bag_path == RECORDS).then(AccessPoints::default);
        let (crc32, len) = write_file(
            &mut zip,
            &name(&file.bag_path),
            &source,
            file.offset,
            file.expected.size,
            points.as_mut(),
        )
        .map_err(with_path(target))?;
        if len != file.expected.size || crc32 != file.expected.crc32 {
            return Err(Error::Input {
                path: file.source.clone(),
                reason: format!(
                    "changed while being archived: {len} bytes with CRC-32 {crc32:08x} where intake or staging saw {} bytes with CRC-32 {:08x}",
                    file.expected.size, file.expected.crc32
                ),
            });
        }
        access = access.or(points);
        manifest_entries.push((file.bag_path.clone(), file.expected.sha256));
    }
    let manifest = bagit::manifest(&manifest_entries);
    write_bytes(&mut zip, &name("manifest-sha256.txt"), manifest.as_bytes())
        .map_err(with_path(target))?;
    tags.push((
        "manifest-sha256.txt".to_owned(),
        Sha256::of(manifest.as_bytes()),
    ));
    if let Some(points) = access {
        let text = points.text;
        write_bytes(&mut zip, &name(access::FILE), text.as_bytes()).map_err(with_path(target))?;
        tags.push((access::FILE.to_owned(), Sha256::of(text.as_bytes())));
    }
    let tagmanifest = bagit::manifest(&tags);
    write_bytes(
        &mut zip,
        &name("tagmanifest-sha256.txt"),
        tagmanifest.as_bytes(),
    )
    .map_err(with_path(target))?;
    let tee = zip
        .finish()
        .map_err(with_path(target))?
        .into_inner()
        .map_err(|e| Error::Io {
            path: target.to_owned(),
            source: e.into_error(),
        })?;
    let (file, zip_sha256) = tee.finish().map_err(with_path(target))?;
    file.sync_all().map_err(with_path(target))?;
    Ok(Sealed {
        zip_sha256,
        tagmanifest_sha256: Sha256::of(tagmanifest.as_bytes()),
        payload_oxum: oxum,
    })
}

/// Deflate level used for every deflated entry: the fastest, since the
/// packages' bulk is mail text and media, where higher levels gain little.
const DEFLATE_LEVEL: u32 = 1;
/// Size of each read and write when copying into the zip.
const COPY_BUFFER: usize = 1 << 20;
/// How many bytes of the package zip are written before the kernel is asked
/// to write them out (see [`HashTee`]).
const WRITE_BEHIND: u64 = 16 << 20;
/// Buffers in flight to the thread hashing the whole zip.
const BUFFERS: usize = 3;
/// Bytes taken at each of three places of an entry to decide whether
/// deflating it is worth it.
const SAMPLE: u64 = 32 << 10;

/// Writes to a file and hands a copy of every write to a thread that hashes
/// it, so the whole file's SHA-256 costs the writer only a copy.
///
/// Writing behind: every [`WRITE_BEHIND`] bytes the kernel is told to start
/// writing what came before to disk and to drop what it already wrote from
/// the page cache, so the closing fsync finds little left to do (it took
/// 1.5 s of a 7 s run on 1 GB when all of the zip was still dirty) and a
/// package does not fill the page cache of the machine.
struct HashTee {
    file: File,
    written: u64,
    /// Where the range handed to the kernel last time begins and ends.
    behind: (u64, u64),
    chunks: Option<mpsc::SyncSender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<Sha256>>,
}

impl HashTee {
    fn new(file: File) -> HashTee {
        let (chunks, received) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        let hasher = std::thread::spawn(move || {
            let mut hashing = HashingWriter::new(io::sink());
            for chunk in received {
                // Writing to a sink cannot fail.
                let _ = hashing.write_all(&chunk);
            }
            hashing.finish().1
        });
        HashTee {
            file,
            written: 0,
            behind: (0, 0),
            chunks: Some(chunks),
            hasher: Some(hasher),
        }
    }

    /// The file, and the SHA-256 of everything written to it.
    fn finish(mut self) -> io::Result<(File, Sha256)> {
        self.chunks = None;
        let digest = self
            .hasher
            .take()
            .and_then(|h| h.join().ok())
            .ok_or_else(|| io::Error::other("the hashing thread failed"))?;
        Ok((self.file, digest))
    }
}

impl Write for HashTee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        let (start, end) = self.behind;
        if self.written - end >= WRITE_BEHIND {
            // Only advice: the fsync at the end is what makes the file
            // durable, so a kernel that ignores it loses nothing.
            let _ = rustix::fs::fadvise(
                &self.file,
                start,
                NonZeroU64::new(self.written - start),
                rustix::fs::Advice::DontNeed,
            );
            self.behind = (end, self.written);
        }
        let chunks = self
            .chunks
            .as_ref()
            .ok_or_else(|| io::Error::other("hash tee closed"))?;
        chunks
            .send(buf.get(..n).unwrap_or(buf).to_vec())
            .map_err(|_| io::Error::other("the hashing thread stopped"))?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Adds `size` bytes at `offset` of a file as one entry, deflated when
/// samples from their start, middle and end say that pays; returns the
/// CRC-32 and length of what was stored. With `access`, a deflated entry
/// gets an access point at the first line start past every
/// [`ACCESS_SPACING`] bytes.
fn write_file<W: Write>(
    zip: &mut ZipOut<W>,
    name: &str,
    source: &File,
    offset: u64,
    size: u64,
    mut access: Option<&mut AccessPoints>,
) -> io::Result<(u32, u64)> {
    // Every sample must pay: an mbox whose head is text but whose bulk is
    // base64 gains nothing from deflate at this level.
    let mut deflate = true;
    for at in [0, size / 2, size.saturating_sub(SAMPLE)] {
        let mut sample = vec![0u8; SAMPLE.min(size) as usize];
        let n = source.read_at(&mut sample, offset + at)?;
        deflate &= worth_deflating(sample.get(..n).unwrap_or(&[]));
    }
    zip.start(name, deflate.then_some(DEFLATE_LEVEL), size)?;
    if !deflate {
        access = None;
    }
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut crc = crc32fast::Hasher::new();
    let mut done = 0u64;
    // Reads stop at `size`, so a file that grew since intake is caught by
    // the length and CRC check rather than copied past its end.
    while done < size {
        let want = (size - done).min(COPY_BUFFER as u64) as usize;
        let n = match source.read_at(&mut buffer[..want], offset + done) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if n == 0 {
            break;
        }
        let bytes = &buffer[..n];
        crc.update(bytes);
        match access.as_deref_mut() {
            Some(points) => points.write(zip, bytes)?,
            None => zip.write_all(bytes)?,
        }
        done += n as u64;
    }
    zip.finish_entry()?;
    Ok((crc.finalize(), done))
}

/// Adds bytes held in memory as one entry.
fn write_bytes<W: Write>(zip: &mut ZipOut<W>, name: &str, bytes: &[u8]) -> io::Result<()> {
    let level = worth_deflating(bytes).then_some(DEFLATE_LEVEL);
    zip.start(name, level, bytes.len() as u64)?;
    zip.write_all(bytes)?;
    zip.finish_entry().map(|_| ())
}

/// The payload file that gets access points.
const RECORDS: &str = "data/records.jsonl";
/// Uncompressed bytes between two access points, at least: inflating one
/// record then costs at most this much plus the record.
const ACCESS_SPACING: u64 = 128 << 10;

/// Access points of a line file being deflated, as the text of
/// [`access::FILE`], the first being [`AccessPoint::START`].
struct AccessPoints {
    text: String,
    /// Uncompressed bytes written, and the offset from which the next point
    /// is due.
    written: u64,
    due: u64,
    /// The number of the line the next byte belongs to, and whether that
    /// byte starts it.
    line: u64,
    at_line_start: bool,
}

impl Default for AccessPoints {
    fn default() -> AccessPoints {
        AccessPoints {
            text: format!("{}\n", AccessPoint::START),
            written: 0,
            due: ACCESS_SPACING,
            line: 1,
            at_line_start: true,
        }
    }
}

impl AccessPoints {
    /// Writes `bytes` to the open entry, with a full flush before each line
    /// that starts at or past the point due.
    fn write<W: Write>(&mut self, zip: &mut ZipOut<W>, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.at_line_start && self.written >= self.due {
                let (offset, packed) = zip.access_point()?;
                let point = AccessPoint {
                    line: self.line,
                    offset,
                    packed,
                };
                self.text.push_str(&format!("{point}\n"));
                self.due = self.written + ACCESS_SPACING;
            }
            // Up to the end of the line that reaches the point due, or all.
            let reach = (self.due.saturating_sub(self.written + 1)) as usize;
            let end = bytes
                .get(reach.min(bytes.len())..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
                .map_or(bytes.len(), |i| reach + i + 1);
            let (now, rest) = bytes.split_at(end);
            zip.write_all(now)?;
            self.written += now.len() as u64;
            self.line += memchr::memchr_iter(b'\n', now).count() as u64;
            self.at_line_start = now.last() == Some(&b'\n');
            bytes = rest;
        }
        Ok(())
    }
}

/// Decides from a sample of an entry whether to deflate it: not for known
/// compressed formats (by magic number), and not when deflating a sample
/// saves less than a tenth (base64 and random data, which cost the most
/// time to deflate and gain nothing). The decision depends only on the
/// bytes, so packages stay reproducible.
fn worth_deflating(head: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"PK\x03\x04",
        b"\x1f\x8b",
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        b"BZh",
        b"\xfd7zXZ",
        b"7z\xbc\xaf",
        b"\x28\xb5\x2f\xfd",
        b"OggS",
        b"ID3",
        b"fLaC",
    ];
    if MAGIC.iter().any(|m| head.starts_with(m)) || head.get(4..8) == Some(b"ftyp") {
        return false;
    }
    if head.len() < 4096 {
        return true;
    }
    // Near 8 bits of entropy per byte nothing will shrink; this check is
    // much cheaper than the trial below.
    if byte_entropy(head) > 7.9 {
        return false;
    }
    let mut encoder = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(head.len()),
        flate2::Compression::new(DEFLATE_LEVEL),
    );
    let compressed = encoder
        .write_all(head)
        .and_then(|_| encoder.finish())
        .map_or(head.len(), |c| c.len());
    compressed * 10 < head.len() * 9
}

/// Shannon entropy of the bytes, in bits per byte.
fn byte_entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for b in bytes {
        counts[usize::from(*b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::{KnownRecords, Stager};
    use spoor_ingest::Sink;

    struct NothingKnown;

    impl KnownRecords for NothingKnown {
        fn contains(&mut self, _: &str) -> io::Result<bool> {
            Ok(false)
        }
    }

    /// An export of one file and a staging folder with one blob (a
    /// quarantined item's bytes), ready to seal; `spoil` may change either
    /// before sealing.
    fn seal_after(spoil: impl FnOnce(&Path, &Staged)) -> Result<Sealed, Error> {
        let dir = tempfile::tempdir().expect("temp dir");
        let original = dir.path().join("chat.txt");
        std::fs::write(&original, b"01/02/2024 10:00 - Anna: hallo\n").expect("write");
        let export = Export::survey(&original).expect("intake");
        let mut known = NothingKnown;
        let mut stager = Stager::create(&dir.path().join("staging"), &mut known).expect("stager");
        stager
            .quarantine(spoor_ingest::Quarantined {
                locator: Default::default(),
                reason: "unreadable".to_owned(),
                raw: b"bytes kept as a blob".to_vec(),
                raw_size: 20,
            })
            .expect("blob staged");
        let staged = stager.finish().expect("staged");
        std::fs::write(staged.dir.join("data/package.json"), b"{}\n").expect("write");
        spoil(&original, &staged);
        let bag_info = BagInfo {
            software_agent: "spoor test".to_owned(),
            external_identifier: "p-test".to_owned(),
            source_organization: None,
            export_sha256: Sha256::of(b"x"),
            package_format: "spoor-package/1".to_owned(),
            source_format: "unknown".to_owned(),
        };
        seal(
            &dir.path().join("p.zip"),
            "p-test",
            &staged,
            &export,
            &bag_info,
        )
    }

    fn overwrite_first_byte(path: &Path) {
        let mut bytes = std::fs::read(path).expect("read");
        bytes[0] ^= 1;
        std::fs::write(path, bytes).expect("write");
    }

    #[test]
    fn a_file_that_changed_since_intake_or_staging_is_not_sealed() {
        assert!(seal_after(|_, _| {}).is_ok());
        for (what, spoil) in [
            (
                "chat.txt",
                Box::new(|original: &Path, _: &Staged| overwrite_first_byte(original))
                    as Box<dyn FnOnce(&Path, &Staged)>,
            ),
            (
                BLOB_PACK,
                Box::new(|_: &Path, staged: &Staged| {
                    overwrite_first_byte(&staged.dir.join(BLOB_PACK))
                }),
            ),
        ] {
            match seal_after(spoil) {
                Err(Error::Input { path, reason }) => {
                    assert!(path.ends_with(what), "{}", path.display());
                    assert!(
                        reason.starts_with("changed while being archived: ")
                            && reason.contains("CRC-32"),
                        "{reason}"
                    );
                }
                other => panic!("{what} changed, yet sealing gave {other:?}"),
            }
        }
    }

    #[test]
    fn compressibility_guess() {
        assert!(!worth_deflating(b"\x89PNG\r\n\x1a\n"));
        assert!(worth_deflating(b"short text"));
        assert!(worth_deflating(&b"From a@b\nSubject: x\n\n".repeat(400)));
        let mut x: u32 = 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let noise: Vec<u8> = (0..65536).map(|_| next() as u8).collect();
        assert!(!worth_deflating(&noise));
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let base64: Vec<u8> = (0..65536)
            .map(|i| {
                if i % 77 == 76 {
                    b'\n'
                } else {
                    B64[(next() % 64) as usize]
                }
            })
            .collect();
        assert!(
            !worth_deflating(&base64),
            "base64 gains too little at level 1"
        );
    }
}
