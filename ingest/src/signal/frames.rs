//! Reading the frames of a legacy `.backup`, versions 0 and 1: the plaintext
//! header, then per frame a length, the ciphertext and a 10-byte tag that is
//! checked before anything is decoded; attachment bytes after their frame,
//! streamed (docs/FORMAT.md §16.1).

use std::io::{self, Read};
use std::sync::mpsc;
use std::thread;

use hmac::{Hmac, Mac};

use super::crypto::{self, Keys, Passphrase, MAC_LEN};
use super::proto::{self, Frame};

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The first frame does not authenticate: the passphrase is wrong or
    /// the file is damaged; the two cannot be told apart.
    WrongPassphrase,
    /// The file ends inside a frame or blob.
    Truncated {
        offset: u64,
    },
    /// A frame longer than the limit.
    TooLarge {
        length: u64,
        offset: u64,
    },
    /// A frame after the first does not authenticate.
    BadMac {
        offset: u64,
    },
    /// A frame that authenticates but does not decode.
    Malformed {
        offset: u64,
    },
    /// Not a backup at all, or a version this reader does not know.
    NotBackup(String),
    Io(io::Error),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::WrongPassphrase => f.write_str(
                "wrong passphrase or corrupted file (the first frame does not authenticate)",
            ),
            Fault::Truncated { offset } => write!(
                f,
                "the file ends at byte {offset}, inside a frame: truncated"
            ),
            Fault::TooLarge { length, offset } => write!(
                f,
                "frame of {length} bytes at byte {offset} is over the limit; refused"
            ),
            Fault::BadMac { offset } => {
                write!(f, "frame at byte {offset} does not authenticate (damaged)")
            }
            Fault::Malformed { offset } => write!(
                f,
                "frame at byte {offset} authenticates but is not a backup frame"
            ),
            Fault::NotBackup(why) => f.write_str(why),
            Fault::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Largest header frame accepted: a real one is 54–56 bytes.
const MAX_HEADER: u32 = 1024;

/// Looks at a file's first bytes: a 4-byte length and a header frame with a
/// 16-byte IV.
pub(crate) fn sniff(head: &[u8]) -> bool {
    let Some(len) = head
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return false;
    };
    if !(20..=MAX_HEADER).contains(&len) {
        return false;
    }
    let Some(frame) = head.get(4..4 + len as usize) else {
        return false;
    };
    matches!(proto::decode(frame), Some(Frame::Header { iv, .. }) if iv.len() == 16)
}

pub(crate) struct Frames<R> {
    input: R,
    keys: Keys,
    iv: [u8; 16],
    counter: u32,
    pub(crate) version: u32,
    offset: u64,
    authenticated: u64,
    /// Chunk buffers kept from one large blob to the next.
    spare: Vec<Vec<u8>>,
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end before the
/// first byte.
fn fill<R: Read>(input: &mut R, buf: &mut [u8], offset: u64) -> Result<bool, Fault> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(Fault::Truncated {
                    offset: offset + got as u64,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Fault::Io(e)),
        }
    }
    Ok(true)
}

impl<R: Read> Frames<R> {
    /// Reads the header and derives the keys (about a second of SHA-512).
    pub(crate) fn open(mut input: R, passphrase: &Passphrase) -> Result<Frames<R>, Fault> {
        let mut len = [0u8; 4];
        if !fill(&mut input, &mut len, 0)? {
            return Err(Fault::NotBackup("empty file".to_owned()));
        }
        let len = u32::from_be_bytes(len);
        if !(1..=MAX_HEADER).contains(&len) {
            return Err(Fault::NotBackup(format!(
                "header frame of {len} bytes: not a Signal backup"
            )));
        }
        let mut header = vec![0u8; len as usize];
        if !fill(&mut input, &mut header, 4)? {
            return Err(Fault::Truncated { offset: 4 });
        }
        let Some(Frame::Header { iv, salt, version }) = proto::decode(&header) else {
            return Err(Fault::NotBackup(
                "the first frame is not a backup header".to_owned(),
            ));
        };
        let iv = <[u8; 16]>::try_from(iv.as_slice())
            .map_err(|_| Fault::NotBackup(format!("header IV of {} bytes, not 16", iv.len())))?;
        if version > 1 {
            return Err(Fault::NotBackup(format!(
                "backup format version {version}; this reader knows versions 0 and 1"
            )));
        }
        let keys = crypto::derive(passphrase, (!salt.is_empty()).then_some(salt.as_slice()));
        Ok(Frames {
            input,
            keys,
            counter: u32::from_be_bytes([iv[0], iv[1], iv[2], iv[3]]),
            iv,
            version,
            offset: 4 + u64::from(len),
            authenticated: 0,
            spare: Vec::new(),
        })
    }

    fn next_iv(&mut self) -> [u8; 16] {
        let iv = crypto::iv_for(&self.iv, self.counter);
        self.counter = self.counter.wrapping_add(1);
        iv
    }

    /// The next frame, authenticated and decoded; `None` at the end of the
    /// file (a backup ends with an `End` frame; without one it was cut).
    pub(crate) fn next(&mut self, max: usize) -> Result<Option<Frame>, Fault> {
        let start = self.offset;
        let mut len_bytes = [0u8; 4];
        if !fill(&mut self.input, &mut len_bytes, start)? {
            return Ok(None);
        }
        let iv = self.next_iv();
        let mut cipher = crypto::cipher(&self.keys, &iv);
        let mut mac = crypto::mac(&self.keys);
        let len = if self.version >= 1 {
            mac.update(&len_bytes);
            let mut plain = len_bytes;
            crypto::apply(&mut cipher, &mut plain);
            u32::from_be_bytes(plain)
        } else {
            u32::from_be_bytes(len_bytes)
        };
        let first = self.authenticated == 0;
        if (len as usize) <= MAC_LEN || len as usize > max {
            return Err(if first {
                Fault::WrongPassphrase
            } else {
                Fault::TooLarge {
                    length: u64::from(len),
                    offset: start,
                }
            });
        }
        let mut body = vec![0u8; len as usize];
        if !fill(&mut self.input, &mut body, start + 4)? {
            return Err(Fault::Truncated { offset: start + 4 });
        }
        self.offset = start + 4 + u64::from(len);
        let (ciphertext, tag) = body.split_at_mut(len as usize - MAC_LEN);
        mac.update(ciphertext);
        if !crypto::tag_matches(mac, tag) {
            return Err(if first {
                Fault::WrongPassphrase
            } else {
                Fault::BadMac { offset: start }
            });
        }
        self.authenticated += 1;
        crypto::apply(&mut cipher, ciphertext);
        proto::decode(ciphertext)
            .map(Some)
            .ok_or(Fault::Malformed { offset: start })
    }

    /// Streams the `length` bytes of the blob that follows an attachment,
    /// avatar or sticker frame to `consume` as plaintext, checking its tag
    /// as they go by: nothing of it is held. The bytes are consumed even
    /// when the tag does not match (the stream stays in step); whether it
    /// matched is known only at the end, in the returned span. For a large
    /// blob the tag and the decryption run on a second thread while this
    /// one reads and `consume` hashes and stores, so the two SHA-256 passes
    /// every byte needs run side by side. A fault of the file (cut short)
    /// wins over what `consume` returned.
    pub(crate) fn blob(
        &mut self,
        length: u32,
        consume: &mut dyn FnMut(&mut dyn Read) -> io::Result<()>,
    ) -> Result<(BlobSpan, io::Result<()>), Fault> {
        let iv = self.next_iv();
        let offset = self.offset;
        let mut mac = crypto::mac(&self.keys);
        mac.update(&iv);
        let cipher = crypto::cipher(&self.keys, &iv);
        let source = Ciphertext {
            input: &mut self.input,
            offset,
            left: u64::from(length),
            fault: None,
        };
        let (consumed, fault, mac) = if length as usize <= CHUNK {
            let mut plain = PlainBlob {
                source,
                crypto: Crypto::Here {
                    mac: &mut mac,
                    cipher: Box::new(cipher),
                },
            };
            let consumed = consume(&mut plain).and_then(|()| plain.drain());
            (consumed, plain.source.fault, mac)
        } else {
            thread::scope(|scope| {
                let (to_crypto, ciphertext) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
                let (to_reader, plaintext) = mpsc::channel::<Vec<u8>>();
                let crypto = scope.spawn(move || {
                    let mut cipher = cipher;
                    for mut chunk in ciphertext {
                        mac.update(&chunk);
                        crypto::apply(&mut cipher, &mut chunk);
                        if to_reader.send(chunk).is_err() {
                            break;
                        }
                    }
                    mac
                });
                let mut plain = PlainBlob {
                    source,
                    crypto: Crypto::Elsewhere(Relay {
                        to_crypto,
                        plaintext,
                        current: Vec::new(),
                        at: 0,
                        in_flight: 0,
                        spare: std::mem::take(&mut self.spare),
                    }),
                };
                let consumed = consume(&mut plain).and_then(|()| plain.drain());
                let fault = plain.source.fault;
                if let Crypto::Elsewhere(relay) = plain.crypto {
                    self.spare = relay.finish();
                }
                let mac = crypto
                    .join()
                    .map_err(|_| Fault::Io(io::Error::other("the blob crypto thread failed")))?;
                Ok((consumed, fault, mac))
            })?
        };
        if let Some(fault) = fault {
            return Err(fault);
        }
        self.offset = offset + u64::from(length);
        if consumed.is_err() {
            // The consumer stopped: the stream is not in step any more, and
            // nothing after this blob is read.
            return Ok((
                BlobSpan {
                    offset,
                    length,
                    iv,
                    intact: false,
                },
                consumed,
            ));
        }
        let mut tag = [0u8; MAC_LEN];
        self.fill_blob(&mut tag)?;
        let span = BlobSpan {
            offset,
            length,
            iv,
            intact: crypto::tag_matches(mac, &tag),
        };
        Ok((span, consumed))
    }

    /// Fills `buf` from inside a blob, where the end of the file is a cut.
    fn fill_blob(&mut self, buf: &mut [u8]) -> Result<(), Fault> {
        if !fill(&mut self.input, buf, self.offset)? {
            return Err(Fault::Truncated {
                offset: self.offset,
            });
        }
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// What turns a blob's ciphertext back into its bytes later.
    pub(crate) fn blob_decryptor(&self) -> BlobDecryptor {
        BlobDecryptor {
            keys: self.keys.clone(),
        }
    }
}

/// Bytes handed to the blob crypto thread at a time.
const CHUNK: usize = 1 << 17;

/// Chunks on their way to and from the crypto thread.
const IN_FLIGHT: usize = 8;

/// A blob's ciphertext as it comes from the file.
struct Ciphertext<'r, R> {
    input: &'r mut R,
    offset: u64,
    /// Bytes not yet taken from the file.
    left: u64,
    /// What went wrong with the file, which the consumer only sees as an
    /// I/O error.
    fault: Option<Fault>,
}

impl<R: Read> Ciphertext<'_, R> {
    /// The next chunk's length, at most `room`.
    fn next_len(&self, room: usize) -> usize {
        usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(room)
            .min(CHUNK)
    }

    /// Fills `chunk` with the next ciphertext of the file.
    fn take(&mut self, chunk: &mut [u8]) -> io::Result<()> {
        let filled = fill(self.input, chunk, self.offset).and_then(|got| {
            got.then_some(()).ok_or(Fault::Truncated {
                offset: self.offset,
            })
        });
        if let Err(fault) = filled {
            let message = fault.to_string();
            self.fault = Some(fault);
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
        }
        self.offset += chunk.len() as u64;
        self.left -= chunk.len() as u64;
        Ok(())
    }
}

/// Where a blob is authenticated and decrypted.
enum Crypto<'m> {
    /// On the reading thread.
    Here {
        mac: &'m mut Hmac<sha2::Sha256>,
        cipher: Box<crypto::Cipher>,
    },
    /// On a second thread.
    Elsewhere(Relay),
}

/// The way to and from the crypto thread, which takes ciphertext chunks,
/// updates the tag, decrypts them and sends them back in order.
struct Relay {
    to_crypto: mpsc::SyncSender<Vec<u8>>,
    plaintext: mpsc::Receiver<Vec<u8>>,
    /// The plaintext chunk being handed out, from `at`.
    current: Vec<u8>,
    at: usize,
    in_flight: usize,
    spare: Vec<Vec<u8>>,
}

impl Relay {
    fn read<R: Read>(
        &mut self,
        source: &mut Ciphertext<'_, R>,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let stopped = || io::Error::other("the blob crypto thread stopped");
        loop {
            if self.at < self.current.len() {
                let n = (self.current.len() - self.at).min(buf.len());
                buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            // Keep the crypto thread busy: send chunks until enough are out.
            while self.in_flight < IN_FLIGHT {
                let n = source.next_len(CHUNK);
                if n == 0 {
                    break;
                }
                let mut chunk = self.spare.pop().unwrap_or_default();
                chunk.resize(n, 0);
                source.take(&mut chunk)?;
                self.to_crypto.send(chunk).map_err(|_| stopped())?;
                self.in_flight += 1;
            }
            if self.in_flight == 0 {
                return Ok(0);
            }
            let next = self.plaintext.recv().map_err(|_| stopped())?;
            self.in_flight -= 1;
            self.spare.push(std::mem::replace(&mut self.current, next));
            self.at = 0;
        }
    }

    /// Closes the way in, which ends the crypto thread, and hands back the
    /// buffers for the next blob (fresh ones would each cost page faults).
    fn finish(self) -> Vec<Vec<u8>> {
        let mut spare = self.spare;
        spare.push(self.current);
        spare
    }
}

/// A blob's plaintext as a reader over the file's ciphertext.
struct PlainBlob<'r, 'm, R> {
    source: Ciphertext<'r, R>,
    crypto: Crypto<'m>,
}

impl<R: Read> PlainBlob<'_, '_, R> {
    /// Reads what the consumer left, so the stream stays in step.
    fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }
}

impl<R: Read> Read for PlainBlob<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.crypto {
            Crypto::Here { mac, cipher } => {
                let n = self.source.next_len(buf.len());
                if n > 0 {
                    self.source.take(&mut buf[..n])?;
                    mac.update(&buf[..n]);
                    crypto::apply(cipher, &mut buf[..n]);
                }
                Ok(n)
            }
            Crypto::Elsewhere(relay) => relay.read(&mut self.source, buf),
        }
    }
}

/// Where a blob's ciphertext lies in the backup and whether its tag
/// matched. Its bytes are not kept: a blob whose plaintext a message needs
/// (a long text) is decrypted again from the backup.
pub(crate) struct BlobSpan {
    /// Offset of the first ciphertext byte in the file.
    pub(crate) offset: u64,
    pub(crate) length: u32,
    iv: [u8; 16],
    /// Whether its tag matched.
    pub(crate) intact: bool,
}

/// Decrypts blobs read back from the backup (see [`BlobSpan`]).
pub(crate) struct BlobDecryptor {
    keys: Keys,
}

impl BlobDecryptor {
    /// Turns the ciphertext of `span`, read from the file, into plaintext.
    pub(crate) fn decrypt(&self, span: &BlobSpan, bytes: &mut [u8]) {
        crypto::apply(&mut crypto::cipher(&self.keys, &span.iv), bytes);
    }
}

/// A writer of `.backup` files for tests and benches, the mirror of the
/// reader: it is how the fixtures of every schema era and fault are made.
/// Not for producing real backups.
#[cfg(any(test, feature = "test-support"))]
pub(crate) mod writer {
    use super::{crypto, Frame, Keys, Passphrase, MAC_LEN};
    use crate::signal::proto::{encode, BlobKind, Param};
    use hmac::Mac;

    /// Builds a backup in memory, frame by frame.
    pub struct BackupWriter {
        out: Vec<u8>,
        keys: Keys,
        iv: [u8; 16],
        counter: u32,
        version: u32,
    }

    impl BackupWriter {
        /// A backup of format `version` (0 or 1) with this IV and salt.
        pub fn new(
            passphrase: &Passphrase,
            iv: [u8; 16],
            salt: [u8; 32],
            version: u32,
        ) -> BackupWriter {
            let header = encode::frame(&Frame::Header {
                iv: iv.to_vec(),
                salt: salt.to_vec(),
                version,
            });
            let mut out = (header.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(&header);
            BackupWriter {
                out,
                keys: crypto::derive(passphrase, Some(&salt)),
                counter: u32::from_be_bytes([iv[0], iv[1], iv[2], iv[3]]),
                iv,
                version,
            }
        }

        /// The bytes so far.
        pub fn bytes(&self) -> &[u8] {
            &self.out
        }

        /// Takes the bytes written so far (to stream a large backup to a
        /// file); the writer goes on where it was.
        pub fn take_bytes(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.out)
        }

        fn next_iv(&mut self) -> [u8; 16] {
            let iv = crypto::iv_for(&self.iv, self.counter);
            self.counter = self.counter.wrapping_add(1);
            iv
        }

        pub(crate) fn frame(&mut self, frame: &Frame) {
            let mut body = encode::frame(frame);
            let iv = self.next_iv();
            let mut cipher = crypto::cipher(&self.keys, &iv);
            let mut mac = crypto::mac(&self.keys);
            let mut len = ((body.len() + MAC_LEN) as u32).to_be_bytes();
            if self.version >= 1 {
                crypto::apply(&mut cipher, &mut len);
                mac.update(&len);
            }
            crypto::apply(&mut cipher, &mut body);
            mac.update(&body);
            let tag = mac.finalize().into_bytes();
            self.out.extend_from_slice(&len);
            self.out.extend_from_slice(&body);
            self.out.extend_from_slice(&tag[..MAC_LEN]);
        }

        /// A DatabaseVersion frame.
        pub fn database_version(&mut self, version: u32) {
            self.frame(&Frame::Version(version));
        }

        /// An SQL statement with its parameters.
        pub fn statement(&mut self, sql: &str, params: Vec<Param>) {
            self.frame(&Frame::Statement {
                sql: sql.to_owned(),
                params,
            });
        }

        /// An attachment frame for `row_id` and its bytes; `damaged` spoils
        /// the tag as Signal's 2019–2021 bug did.
        pub fn attachment(&mut self, row_id: u64, bytes: &[u8], damaged: bool) {
            self.frame(&Frame::Blob {
                kind: BlobKind::Attachment,
                row_id: Some(row_id),
                name: None,
                length: bytes.len() as u32,
            });
            let iv = self.next_iv();
            let mut cipher = crypto::cipher(&self.keys, &iv);
            let mut mac = crypto::mac(&self.keys);
            mac.update(&iv);
            let mut body = bytes.to_vec();
            crypto::apply(&mut cipher, &mut body);
            mac.update(&body);
            let mut tag = mac.finalize().into_bytes();
            if damaged {
                tag[0] ^= 0xff;
            }
            self.out.extend_from_slice(&body);
            self.out.extend_from_slice(&tag[..MAC_LEN]);
        }

        /// A frame of a type this reader does not know.
        pub fn unknown_frame(&mut self) {
            self.frame(&Frame::Unknown);
        }

        /// A preference (a setting frame).
        pub fn setting(&mut self) {
            self.frame(&Frame::Setting);
        }

        /// The End frame.
        pub fn end(&mut self) {
            self.frame(&Frame::End);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::writer::BackupWriter;
    use super::*;
    use crate::signal::proto::Param;

    fn passphrase() -> Passphrase {
        Passphrase::parse("000001111122222333334444455555").expect("valid")
    }

    fn sample(version: u32) -> Vec<u8> {
        let mut w = BackupWriter::new(&passphrase(), [9; 16], [3; 32], version);
        w.database_version(215);
        w.statement("CREATE TABLE t (a)", vec![]);
        w.statement("INSERT INTO t VALUES (?)", vec![Param::Integer(-1)]);
        w.attachment(1, b"hello", false);
        w.end();
        w.bytes().to_vec()
    }

    #[test]
    fn both_versions_read_back() {
        for version in [0, 1] {
            let bytes = sample(version);
            assert!(sniff(&bytes));
            let mut frames = Frames::open(bytes.as_slice(), &passphrase()).expect("opens");
            assert_eq!(frames.version, version);
            assert_eq!(
                frames.next(1 << 20).expect("frame"),
                Some(Frame::Version(215))
            );
            assert!(matches!(
                frames.next(1 << 20).expect("frame"),
                Some(Frame::Statement { .. })
            ));
            assert!(
                matches!(frames.next(1 << 20).expect("frame"), Some(Frame::Statement { params, .. }) if params == vec![Param::Integer(-1)])
            );
            assert!(matches!(
                frames.next(1 << 20).expect("frame"),
                Some(Frame::Blob { length: 5, .. })
            ));
            let (span, plain) = read_blob(&mut frames, 5);
            assert!(span.intact);
            assert_eq!(plain, b"hello");
            // Decrypted again from the file, the same bytes.
            let mut out = bytes[span.offset as usize..][..5].to_vec();
            frames.blob_decryptor().decrypt(&span, &mut out);
            assert_eq!(out, b"hello");
            assert_eq!(frames.next(1 << 20).expect("frame"), Some(Frame::End));
            assert_eq!(frames.next(1 << 20).expect("end of file"), None);
        }
    }

    /// Streams a blob into memory.
    fn read_blob<R: Read + Send>(frames: &mut Frames<R>, length: u32) -> (BlobSpan, Vec<u8>) {
        let mut plain = Vec::new();
        let (span, consumed) = frames
            .blob(length, &mut |r| r.read_to_end(&mut plain).map(|_| ()))
            .expect("blob");
        consumed.expect("consumed");
        (span, plain)
    }

    /// A blob over one chunk has its tag computed on a second thread; its
    /// plaintext and tag come out as for a small one, a damaged byte
    /// anywhere is caught, and a cut inside it is a fault however the
    /// consumer took it.
    #[test]
    fn large_blob_on_two_threads() {
        let photo: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 7 % 251) as u8).collect();
        let mut w = BackupWriter::new(&passphrase(), [9; 16], [3; 32], 1);
        w.attachment(1, &photo, false);
        w.end();
        let bytes = w.bytes().to_vec();
        for flip in [None, Some(2 * CHUNK + 5)] {
            let mut input = bytes.clone();
            let mut frames = Frames::open(bytes.as_slice(), &passphrase()).expect("opens");
            let Some(Frame::Blob { length, .. }) = frames.next(1 << 20).expect("frame") else {
                panic!("an attachment frame first");
            };
            let start = frames.offset as usize;
            if let Some(at) = flip {
                input[start + at] ^= 1;
                frames = Frames::open(input.as_slice(), &passphrase()).expect("opens");
                frames.next(1 << 20).expect("frame");
            }
            let (span, plain) = read_blob(&mut frames, length);
            assert_eq!(span.intact, flip.is_none());
            assert_eq!(span.offset as usize, start);
            assert_eq!(plain == photo, flip.is_none());
            assert_eq!(plain.len(), photo.len());
            assert_eq!(frames.next(1 << 20).expect("in step"), Some(Frame::End));
        }
        let cut = &bytes[..bytes.len() / 2];
        let mut frames = Frames::open(cut, &passphrase()).expect("opens");
        let Some(Frame::Blob { length, .. }) = frames.next(1 << 20).expect("frame") else {
            panic!("an attachment frame first");
        };
        let outcome = frames.blob(length, &mut |r| io::copy(r, &mut io::sink()).map(|_| ()));
        assert!(
            matches!(outcome, Err(Fault::Truncated { .. })),
            "{:?}",
            outcome.map(|(s, c)| (s.intact, c.is_ok()))
        );
        // A consumer that stops: its error comes back, the file is not at fault.
        let mut frames = Frames::open(bytes.as_slice(), &passphrase()).expect("opens");
        frames.next(1 << 20).expect("frame");
        let (_, consumed) = frames
            .blob(length, &mut |_| Err(io::Error::other("disk full")))
            .expect("no fault in the file");
        assert_eq!(consumed.expect_err("stopped").to_string(), "disk full");
    }

    #[test]
    fn faults() {
        let bytes = sample(1);
        let wrong = Passphrase::parse("999991111122222333334444455555").expect("valid");
        let mut frames = Frames::open(bytes.as_slice(), &wrong).expect("header is plaintext");
        assert!(matches!(frames.next(1 << 20), Err(Fault::WrongPassphrase)));
        // Cut inside the third frame.
        let cut = &bytes[..bytes.len() - 40];
        let mut frames = Frames::open(cut, &passphrase()).expect("opens");
        let mut outcome = Ok(None);
        for _ in 0..6 {
            outcome = frames.next(1 << 20);
            if let Ok(Some(Frame::Blob { length, .. })) = outcome {
                outcome = frames
                    .blob(length, &mut |r| io::copy(r, &mut io::sink()).map(|_| ()))
                    .map(|_| None);
            }
            if outcome.is_err() {
                break;
            }
        }
        assert!(
            matches!(outcome, Err(Fault::Truncated { .. })),
            "{outcome:?}"
        );
        // A damaged blob: its tag fails, the next frame still reads.
        let mut damaged = bytes.clone();
        let blob_start = sample_blob_offset(&bytes);
        damaged[blob_start] ^= 0xff;
        let mut frames = Frames::open(damaged.as_slice(), &passphrase()).expect("opens");
        for _ in 0..4 {
            frames.next(1 << 20).expect("frame");
        }
        assert!(!read_blob(&mut frames, 5).0.intact);
        assert_eq!(frames.next(1 << 20).expect("in step"), Some(Frame::End));
        // A frame over the limit is refused.
        let mut frames = Frames::open(bytes.as_slice(), &passphrase()).expect("opens");
        frames.next(1 << 20).expect("first frame");
        assert!(matches!(frames.next(12), Err(Fault::TooLarge { .. })));
    }

    /// Offset of the blob's first byte in `sample(1)`: after the End frame
    /// and the blob's tag are taken off the end.
    fn sample_blob_offset(bytes: &[u8]) -> usize {
        let end_frame = 4 + encode_len(&Frame::End) + MAC_LEN;
        bytes.len() - end_frame - MAC_LEN - 5
    }

    fn encode_len(frame: &Frame) -> usize {
        crate::signal::proto::encode::frame(frame).len()
    }
}
