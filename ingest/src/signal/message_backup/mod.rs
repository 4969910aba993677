//! Signal's message backup (docs/FORMAT.md §17): what Signal Android writes
//! as on-device backups since about version 8.9 (spring 2026), and what
//! Secure Backups and Desktop use. A `SignalBackups/` folder holds
//! snapshots `signal-backup-YYYY-MM-DD-HH-MM-SS/` (`main`, `metadata`,
//! `files`; a `-tmp` suffix marks one being written) and the media pool
//! `files/XX/<media name>` they share.
//!
//! `main` is IV (16) ‖ AES-256-CBC/PKCS7(gzip(stream)) ‖ HMAC-SHA256(IV ‖
//! ciphertext) (32), the stream a `BackupInfo` then `Frame`s, each preceded
//! by its length as a varint (Signal's `Backup.proto`). Its keys come from
//! the 64-character recovery key (the "account entropy pool", AEP) by
//! HKDF-SHA256: backup key = HKDF(AEP, "20240801_SIGNAL_BACKUP_KEY", 32);
//! the backup id is in `metadata`, encrypted with AES-256-CTR under
//! HKDF(backup key, "20241011_SIGNAL_LOCAL_BACKUP_METADATA_KEY", 32);
//! HMAC key ‖ AES key = HKDF(backup key, "20241007_SIGNAL_BACKUP_ENCRYPT_
//! MESSAGE_BACKUP:" ‖ backup id, 64). Each media file is the same envelope
//! under its own 64-byte local key (AES key ‖ HMAC key) from the frame that
//! names it, at `files/XX/hex(SHA-256(plaintext hash ‖ local key))`.
//!
//! Frames become proto3-JSON lines, the plaintext export's shape, and are
//! read by its reader: one reader of Signal's chat items for both.

pub(crate) mod proto;
#[cfg(any(test, feature = "test-support"))]
pub(crate) mod writer;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use aes::cipher::{BlockDecryptMut, KeyIvInit, StreamCipher};
use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use prost::Message;
use sha2::{Digest, Sha256};

/// Format name of a message backup folder.
pub(crate) const FORMAT: &str = "signal/message-backup";
/// Format name of a bare, unencrypted frame stream (`.binproto`).
pub(crate) const FORMAT_PLAIN: &str = "signal/message-backup-stream";

/// The magic of the remote form (Secure Backups with forward secrecy).
const FORWARD_SECRECY_MAGIC: &[u8] = b"SBACKUP\x01";

const HMAC_LEN: usize = 32;
const IV_LEN: usize = 16;

/// A Signal recovery key ("account entropy pool"): 64 characters of
/// `0-9a-z`. Never printed: its `Debug` says only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryKey([u8; 64]);

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(…)")
    }
}

impl RecoveryKey {
    /// Reads a recovery key as Signal shows it (groups of four, any case):
    /// spaces, dashes and line breaks are ignored.
    ///
    /// # Errors
    /// A message that says what is wrong without repeating the key.
    pub fn parse(text: &str) -> Result<RecoveryKey, String> {
        let mut kept = super::crypto::without_separators(text);
        kept.make_ascii_lowercase();
        let what = "a Signal recovery key is 64 letters and digits (spaces and dashes are ignored)";
        if !kept.iter().all(u8::is_ascii_alphanumeric) {
            return Err(format!("{what}; this one holds other characters"));
        }
        let key = <[u8; 64]>::try_from(kept.as_slice())
            .map_err(|_| format!("{what}; this one has {}", kept.len()))?;
        Ok(RecoveryKey(key))
    }

    /// HKDF(AEP, "20240801_SIGNAL_BACKUP_KEY", 32).
    pub(crate) fn backup_key(&self) -> [u8; 32] {
        hkdf(None, &self.0, &[b"20240801_SIGNAL_BACKUP_KEY"])
    }
}

/// HKDF-SHA256 of `ikm` with `salt`, its info the concatenation of `info`.
fn hkdf<const N: usize>(salt: Option<&[u8]>, ikm: &[u8], info: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    // N is 16, 32 or 64 here, far below HKDF's limit of 255 × 32 bytes.
    let _ = hkdf::Hkdf::<Sha256>::new(salt, ikm).expand_multi_info(info, &mut out);
    out
}

/// The backup id of an account: HKDF(backup key, "20241024_SIGNAL_BACKUP_ID:"
/// ‖ ACI, 16). A local backup stores it (encrypted) in `metadata`; this is
/// how Signal derives it, checked against Signal's published values.
#[cfg(test)]
pub(crate) fn backup_id_of(backup_key: &[u8; 32], aci: &[u8; 16]) -> [u8; 16] {
    hkdf(None, backup_key, &[b"20241024_SIGNAL_BACKUP_ID:", aci])
}

/// The keys of `main`: HMAC key and AES key.
pub(crate) struct StreamKeys {
    pub(crate) hmac: [u8; 32],
    pub(crate) aes: [u8; 32],
}

/// HMAC key ‖ AES key = HKDF(backup key, "20241007_SIGNAL_BACKUP_ENCRYPT_
/// MESSAGE_BACKUP:" ‖ backup id, 64) (the form without forward secrecy).
pub(crate) fn stream_keys(backup_key: &[u8; 32], backup_id: &[u8; 16]) -> StreamKeys {
    let both: [u8; 64] = hkdf(
        None,
        backup_key,
        &[b"20241007_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:", backup_id],
    );
    let (hmac, aes) = both.split_at(32);
    StreamKeys {
        hmac: hmac.try_into().unwrap_or([0; 32]),
        aes: aes.try_into().unwrap_or([0; 32]),
    }
}

/// The key that encrypts the backup id in `metadata`.
pub(crate) fn metadata_key(backup_key: &[u8; 32]) -> [u8; 32] {
    hkdf(
        None,
        backup_key,
        &[b"20241011_SIGNAL_LOCAL_BACKUP_METADATA_KEY"],
    )
}

/// `metadata`: `{ version = 1; backupId = 2 { iv = 1 (12 bytes);
/// encryptedId = 2 } }`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Metadata {
    #[prost(uint32, tag = "1")]
    pub(crate) version: u32,
    #[prost(message, optional, tag = "2")]
    pub(crate) backup_id: Option<EncryptedBackupId>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EncryptedBackupId {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) iv: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) encrypted_id: Vec<u8>,
}

/// AES-256-CTR with a 12-byte nonce and a 32-bit big-endian block counter
/// from 0, as Signal encrypts the backup id.
type MetadataCipher = ctr::Ctr32BE<aes::Aes256>;

/// Applies the metadata cipher (encrypting and decrypting are the same).
pub(crate) fn metadata_crypt(key: &[u8; 32], iv: &[u8; 12], data: &mut [u8]) {
    let mut nonce = [0u8; 16];
    nonce[..12].copy_from_slice(iv);
    MetadataCipher::new(key.into(), &nonce.into()).apply_keystream(data);
}

/// The backup id from a snapshot's `metadata`.
fn backup_id_from(metadata: &[u8], backup_key: &[u8; 32]) -> Result<[u8; 16], Fault> {
    let parsed = Metadata::decode(metadata)
        .map_err(|e| Fault::Damaged(format!("metadata is not Signal's Metadata message: {e}")))?;
    let id = parsed
        .backup_id
        .ok_or_else(|| Fault::Damaged("metadata holds no backup id".to_owned()))?;
    let iv = <[u8; 12]>::try_from(id.iv.as_slice())
        .map_err(|_| Fault::Damaged(format!("metadata IV of {} bytes, not 12", id.iv.len())))?;
    let mut backup_id = <[u8; 16]>::try_from(id.encrypted_id.as_slice()).map_err(|_| {
        Fault::Damaged(format!(
            "metadata backup id of {} bytes, not 16",
            id.encrypted_id.len()
        ))
    })?;
    metadata_crypt(&metadata_key(backup_key), &iv, &mut backup_id);
    Ok(backup_id)
}

/// Why a message backup cannot be read.
#[derive(Debug)]
pub(crate) enum Fault {
    Io(io::Error),
    /// The tag does not match: the wrong recovery key, or a damaged file.
    WrongKeyOrDamaged(String),
    Damaged(String),
    /// The remote form with forward secrecy: its key needs a token that
    /// only Signal's servers hold.
    ForwardSecrecy,
    /// The frame stream broke off part way, after its tag matched: the
    /// records before that point were read.
    BrokeOff(io::Error),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Io(e) => write!(f, "{e}"),
            Fault::WrongKeyOrDamaged(what) => write!(
                f,
                "{what}: its tag does not match (wrong recovery key, or a damaged or cut file); nothing was read"
            ),
            Fault::Damaged(why) => write!(f, "damaged: {why}"),
            Fault::BrokeOff(e) => write!(
                f,
                "the frame stream broke off: {e}; the records before that point were archived"
            ),
            Fault::ForwardSecrecy => f.write_str(
                "a Secure Backup with forward secrecy (SBACKUP): its key needs a token held by Signal's servers, so it cannot be opened offline; the original is kept",
            ),
        }
    }
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Fault {
        Fault::Io(e)
    }
}

/// Opens the envelope `IV ‖ AES-256-CBC ‖ HMAC-SHA256(IV ‖ ciphertext)` of
/// `file` (everything from `start` to its end): checks the tag over the
/// whole first, then hands back the plaintext as it is decrypted.
pub(crate) fn open_envelope(
    mut file: File,
    start: u64,
    aes_key: &[u8; 32],
    hmac_key: &[u8; 32],
    what: &str,
) -> Result<CbcReader<io::Take<BufReader<File>>>, Fault> {
    let len = file.metadata()?.len();
    let body = len
        .checked_sub(start + HMAC_LEN as u64)
        .filter(|n| *n >= (IV_LEN + 16) as u64 && (*n - IV_LEN as u64).is_multiple_of(16))
        .ok_or_else(|| Fault::WrongKeyOrDamaged(what.to_owned()))?;
    file.seek(SeekFrom::Start(start))?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(hmac_key)
        .map_err(|e| Fault::Damaged(e.to_string()))?;
    let mut left = body;
    while left > 0 {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Err(Fault::WrongKeyOrDamaged(what.to_owned()));
        }
        let take = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        mac.update(&chunk[..take]);
        input.consume(take);
        left -= take as u64;
    }
    let mut tag = [0u8; HMAC_LEN];
    input.read_exact(&mut tag)?;
    if mac.verify_slice(&tag).is_err() {
        return Err(Fault::WrongKeyOrDamaged(what.to_owned()));
    }
    let mut file = input.into_inner();
    file.seek(SeekFrom::Start(start))?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let mut iv = [0u8; IV_LEN];
    input.read_exact(&mut iv)?;
    Ok(CbcReader::new(
        input.take(body - IV_LEN as u64),
        aes_key,
        &iv,
    ))
}

/// Decrypts AES-256-CBC as it reads, holding back the last block until the
/// end so its PKCS#7 padding can be removed.
pub(crate) struct CbcReader<R> {
    inner: R,
    cipher: cbc::Decryptor<aes::Aes256>,
    /// Decrypted bytes not yet handed out.
    ready: Vec<u8>,
    at: usize,
    /// The last decrypted block, held back.
    held: Option<[u8; 16]>,
    done: bool,
}

impl<R: Read> CbcReader<R> {
    fn new(inner: R, key: &[u8; 32], iv: &[u8; 16]) -> Self {
        CbcReader {
            inner,
            cipher: cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into()),
            ready: Vec::new(),
            at: 0,
            held: None,
            done: false,
        }
    }

    /// Decrypts the next run of blocks into `ready`.
    fn refill(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled % 16 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "ciphertext is not a whole number of blocks",
            ));
        }
        self.ready.clear();
        self.at = 0;
        for block in buf[..filled].chunks_exact_mut(16) {
            self.cipher.decrypt_block_mut(block.into());
            if let Some(previous) = self.held.replace(block.try_into().unwrap_or([0; 16])) {
                self.ready.extend_from_slice(&previous);
            }
        }
        if filled < buf.len() {
            // The end: remove the padding of the last block.
            self.done = true;
            let last = self
                .held
                .take()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no ciphertext"))?;
            let pad = usize::from(last[15]);
            let padding_ok =
                (1..=16).contains(&pad) && last[16 - pad..].iter().all(|b| usize::from(*b) == pad);
            if !padding_ok {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad padding after decryption",
                ));
            }
            self.ready.extend_from_slice(&last[..16 - pad]);
        }
        Ok(())
    }
}

impl<R: Read> Read for CbcReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.ready.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        Ok(hand_out(&self.ready, &mut self.at, out))
    }
}

/// Copies what is left of `buf` from `at` into `out`, as much as fits;
/// returns how much.
fn hand_out(buf: &[u8], at: &mut usize, out: &mut [u8]) -> usize {
    let rest = buf.get(*at..).unwrap_or_default();
    let n = out.len().min(rest.len());
    out[..n].copy_from_slice(&rest[..n]);
    *at += n;
    n
}

/// A snapshot chosen to read, and what else the folder held.
pub(crate) struct Snapshot {
    /// The snapshot folder.
    pub(crate) dir: PathBuf,
    /// Its path relative to the export (for locators and decisions).
    pub(crate) rel: String,
    /// The shared media pool, when the export holds it.
    pub(crate) pool: Option<PathBuf>,
    /// Snapshots not read: unfinished (`-tmp`) or older.
    pub(crate) others: Vec<String>,
}

/// Is `dir` a snapshot folder (`main` and `metadata`)?
pub(crate) fn is_snapshot(dir: &Path) -> bool {
    dir.join("main").is_file() && dir.join("metadata").is_file()
}

/// Is `dir` a `SignalBackups` folder (snapshots named `signal-backup-…`)?
pub(crate) fn is_backups_folder(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("signal-backup-")
                && e.path().is_dir()
        })
    })
}

/// The snapshot to read from `dir`: `dir` itself when it is one (its media
/// pool, a sibling folder, is not part of the export then); else the
/// newest complete `signal-backup-…` folder in it (names sort by time; a
/// `-tmp` one is unfinished), with the pool `files/`.
pub(crate) fn choose_snapshot(dir: &Path) -> Result<Snapshot, Fault> {
    if is_snapshot(dir) {
        return Ok(Snapshot {
            dir: dir.to_owned(),
            rel: String::new(),
            pool: None,
            others: Vec::new(),
        });
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("signal-backup-"))
        .collect();
    names.sort();
    let chosen = names
        .iter()
        .rev()
        .find(|n| !n.ends_with("-tmp") && is_snapshot(&dir.join(n)))
        .cloned()
        .ok_or_else(|| {
            Fault::Damaged(
                "no complete snapshot (a signal-backup-… folder with main and metadata, not -tmp)"
                    .to_owned(),
            )
        })?;
    let pool = dir.join("files");
    Ok(Snapshot {
        dir: dir.join(&chosen),
        others: names.into_iter().filter(|n| *n != chosen).collect(),
        rel: chosen,
        pool: pool.is_dir().then_some(pool),
    })
}

/// Opens a snapshot's `main` with the recovery key: the decrypted,
/// decompressed frame stream.
pub(crate) fn open_snapshot(
    snapshot: &Snapshot,
    key: &RecoveryKey,
) -> Result<Box<dyn Read>, Fault> {
    let backup_key = key.backup_key();
    let metadata = std::fs::read(snapshot.dir.join("metadata"))?;
    let backup_id = backup_id_from(&metadata, &backup_key)?;
    let mut main = File::open(snapshot.dir.join("main"))?;
    let mut magic = [0u8; 8];
    let starts_with_magic = main.read_exact(&mut magic).is_ok() && magic == FORWARD_SECRECY_MAGIC;
    if starts_with_magic {
        return Err(Fault::ForwardSecrecy);
    }
    let keys = stream_keys(&backup_key, &backup_id);
    let plain = open_envelope(main, 0, &keys.aes, &keys.hmac, "main")?;
    Ok(Box::new(flate2::read::GzDecoder::new(plain)))
}

/// Whether `head` starts a bare, unencrypted frame stream: a varint length
/// then a `BackupInfo` whose first field is `version` (1).
pub(crate) fn sniff_plain(head: &[u8]) -> bool {
    let mut rest = head;
    let Ok(len) = prost::encoding::decode_varint(&mut rest) else {
        return false;
    };
    (4..=4096).contains(&len) && rest.starts_with(&[0x08, 0x01, 0x10])
}

/// Whether `head` starts the remote form (`SBACKUP\x01`).
pub(crate) fn sniff_remote(head: &[u8]) -> bool {
    head.starts_with(FORWARD_SECRECY_MAGIC)
}

/// Media met in the frames, by plaintext hash: their name in the pool and
/// their local key, for the pool to decrypt with. A frame is read (and its
/// keys noted) before the records that name its media are built.
pub(crate) type MediaKeys = Rc<RefCell<HashMap<Vec<u8>, (String, [u8; 64])>>>;

/// The frame stream as proto3-JSON lines, the plaintext export's
/// `main.jsonl`: line 1 the `BackupInfo`, then one frame a line. A frame
/// that does not decode becomes a line that is not JSON, naming why and
/// holding its bytes in base64, which the reader quarantines.
pub(crate) struct JsonLines<R> {
    frames: R,
    /// Frames read so far (the BackupInfo is frame 0).
    index: u64,
    line: Vec<u8>,
    at: usize,
    max: usize,
    keys: MediaKeys,
    ended: bool,
}

impl<R: Read> JsonLines<R> {
    pub(crate) fn new(frames: R, max: usize, keys: MediaKeys) -> Self {
        JsonLines {
            frames,
            index: 0,
            line: Vec::new(),
            at: 0,
            max,
            keys,
            ended: false,
        }
    }

    /// The next frame's bytes, or `None` at a clean end.
    fn next_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut len = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            if self.frames.read(&mut byte)? == 0 {
                if shift == 0 {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ends inside a frame length",
                ));
            }
            len |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= self.max)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a frame of {len} bytes is over the limit of {} bytes",
                        self.max
                    ),
                )
            })?;
        let mut bytes = vec![0u8; len];
        self.frames.read_exact(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn next_line(&mut self) -> io::Result<()> {
        self.line.clear();
        self.at = 0;
        let Some(bytes) = self.next_frame()? else {
            self.ended = true;
            return Ok(());
        };
        let index = self.index;
        self.index += 1;
        let json = if index == 0 {
            proto::BackupInfo::decode(bytes.as_slice())
                .map_err(|e| e.to_string())
                .and_then(|info| serde_json::to_vec(&info).map_err(|e| e.to_string()))
        } else {
            proto::Frame::decode(bytes.as_slice())
                .map_err(|e| e.to_string())
                .and_then(|frame| {
                    self.note_keys(&frame);
                    serde_json::to_vec(&frame).map_err(|e| e.to_string())
                })
        };
        match json {
            Ok(json) => self.line = json,
            Err(why) => {
                self.line = format!(
                    "frame {index} does not decode as Signal's backup protobuf ({why}); its bytes in base64: {}",
                    BASE64.encode(&bytes)
                )
                .into_bytes();
            }
        }
        self.line.push(b'\n');
        Ok(())
    }

    /// Notes the local keys of the media a chat item names, and writes the
    /// media name into the pointer's JSON (the key itself never is).
    fn note_keys(&self, frame: &proto::Frame) {
        let Some(proto::FrameItem::ChatItem(item)) = &frame.item else {
            return;
        };
        let mut keys = self.keys.borrow_mut();
        for item in std::iter::once(item).chain(item.revisions.iter()) {
            let Some(proto::ChatItemKind::StandardMessage(message)) = &item.item else {
                continue;
            };
            let pointers = message
                .attachments
                .iter()
                .filter_map(|a| a.pointer.as_ref())
                .chain(message.long_text.as_ref());
            for locator in pointers.filter_map(|p| p.locator_info.as_ref()) {
                if let (Some(hash), Some(named)) = (&locator.plaintext_hash, media_name(locator)) {
                    keys.insert(hash.clone(), named);
                }
            }
        }
    }
}

/// A media file's name in the pool and its local key:
/// hex(SHA-256(plaintext hash ‖ local key)).
pub(crate) fn media_name(locator: &proto::LocatorInfo) -> Option<(String, [u8; 64])> {
    let hash = locator.plaintext_hash.as_ref()?;
    let key = <[u8; 64]>::try_from(locator.local_key.as_ref()?.as_slice()).ok()?;
    let digest = Sha256::new()
        .chain_update(hash)
        .chain_update(key)
        .finalize();
    let name = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some((name, key))
}

impl<R: Read> Read for JsonLines<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at >= self.line.len() {
            if self.ended {
                return Ok(0);
            }
            self.next_line()?;
        }
        Ok(hand_out(&self.line, &mut self.at, out))
    }
}

/// Opens a media file of the pool: the envelope under its local key,
/// the plaintext cut to its stated size (Signal pads media).
pub(crate) fn open_media(path: &Path, key: &[u8; 64], size: u64) -> Result<Box<dyn Read>, Fault> {
    let (aes_key, hmac_key) = key.split_at(32);
    let aes_key: [u8; 32] = aes_key.try_into().unwrap_or([0; 32]);
    let hmac_key: [u8; 32] = hmac_key.try_into().unwrap_or([0; 32]);
    let file = File::open(path)?;
    let plain = open_envelope(file, 0, &aes_key, &hmac_key, "the media file")?;
    Ok(Box::new(plain.take(size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Signal's published values (libsignal `account-keys` and
    /// `message-backup` tests): recovery key, ACI, backup key, backup id,
    /// and the keys of `main` without forward secrecy.
    #[test]
    fn key_derivation_matches_signals_published_values() {
        let key =
            RecoveryKey::parse("dtjs858asj6tv0jzsqrsmj0ubp335pisj98e9ssnss8myoc08drhtcktyawvx45l")
                .expect("valid");
        let backup_key = key.backup_key();
        assert_eq!(
            hex(&backup_key),
            "ea26a2ddb5dba5ef9e34e1b8dea1f5ae7f255306a6d2d883e542306eaa9fe985"
        );
        let aci: [u8; 16] = [
            0x65, 0x9a, 0xa5, 0xf4, 0xa2, 0x8d, 0xfc, 0xc1, 0x1e, 0xa1, 0xb9, 0x97, 0x53, 0x7a,
            0x3d, 0x95,
        ];
        let backup_id = backup_id_of(&backup_key, &aci);
        assert_eq!(hex(&backup_id), "8a624fbc45379043f39f1391cddc5fe8");
        let keys = stream_keys(&backup_key, &backup_id);
        assert_eq!(
            hex(&keys.hmac),
            "f425e22a607c529717e1e1b29f9fe139f9d1c7e7d01e371c7753c544a3026649"
        );
        assert_eq!(
            hex(&keys.aes),
            "e143f4ad5668d8bfed2f88562f0693f53bda2c0e55c9d71730f30e24695fd6df"
        );
    }

    #[test]
    fn recovery_keys_as_people_type_them() {
        let shown =
            "DTJS 858A SJ6T V0JZ SQRS MJ0U BP33 5PIS J98E 9SSN SS8M YOC0 8DRH TCKT YAWV X45L";
        assert_eq!(
            RecoveryKey::parse(shown),
            RecoveryKey::parse("dtjs858asj6tv0jzsqrsmj0ubp335pisj98e9ssnss8myoc08drhtcktyawvx45l")
        );
        let short = RecoveryKey::parse("abcd").expect_err("too short");
        assert!(
            short.contains("this one has 4") && !short.contains("abcd"),
            "{short}"
        );
        assert!(RecoveryKey::parse(&"é".repeat(64)).is_err());
    }
}
