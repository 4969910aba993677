//! Test support: writes message backups as Signal does (a frame stream,
//! encrypted into a `SignalBackups/` snapshot with its media pool), from a
//! few high-level calls, so tests build their own fixtures of every form.

use std::io::Write;
use std::path::Path;

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use prost::Message;
use sha2::{Digest, Sha256};

use super::proto::{
    AccountData, AdminDeleted, Chat, ChatItem, ChatItemKind, Contact, Destination, Direction,
    FilePointer, Frame, FrameItem, LocatorInfo, MessageAttachment, Opaque, Received, Recipient,
    StandardMessage, Text,
};
use super::RecoveryKey;
use super::{media_name, metadata_crypt, metadata_key, stream_keys, EncryptedBackupId, Metadata};

/// Builds a message backup frame by frame.
pub struct MessageBackupWriter {
    stream: Vec<u8>,
    media: Vec<(String, Vec<u8>)>,
    /// The next media file's local key and IV are made from this.
    media_seed: u8,
}

impl Default for MessageBackupWriter {
    fn default() -> Self {
        MessageBackupWriter::new(1_767_225_600_000)
    }
}

impl MessageBackupWriter {
    /// A stream that starts with a `BackupInfo` made at `backup_time_ms`.
    pub fn new(backup_time_ms: u64) -> Self {
        let info = super::proto::BackupInfo {
            version: 1,
            backup_time_ms,
            media_root_backup_key: vec![7; 32],
            current_app_version: "Signal Android 8.9".to_owned(),
            first_app_version: "Signal Android 7.0".to_owned(),
        };
        let mut writer = MessageBackupWriter {
            stream: Vec::new(),
            media: Vec::new(),
            media_seed: 1,
        };
        writer.raw_frame(&info.encode_to_vec());
        writer
    }

    fn frame(&mut self, item: FrameItem) {
        self.raw_frame(&Frame { item: Some(item) }.encode_to_vec());
    }

    /// Any bytes as a frame (a damaged one, in tests).
    pub fn raw_frame(&mut self, bytes: &[u8]) {
        prost::encoding::encode_varint(bytes.len() as u64, &mut self.stream);
        self.stream.extend_from_slice(bytes);
    }

    /// The account frame.
    pub fn account(&mut self, given: &str, family: &str) {
        self.frame(FrameItem::Account(AccountData {
            given_name: given.to_owned(),
            family_name: family.to_owned(),
        }));
    }

    /// The account's own recipient.
    pub fn self_recipient(&mut self, id: u64) {
        self.frame(FrameItem::Recipient(Recipient {
            id,
            destination: Some(Destination::SelfRecipient(Opaque {})),
        }));
    }

    /// A contact, with its ACI, phone number and name from the address book.
    pub fn contact(&mut self, id: u64, aci: [u8; 16], e164: u64, given: &str, family: &str) {
        self.frame(FrameItem::Recipient(Recipient {
            id,
            destination: Some(Destination::Contact(Contact {
                aci: Some(aci.to_vec()),
                e164: Some(e164),
                system_given_name: given.to_owned(),
                system_family_name: family.to_owned(),
                ..Contact::default()
            })),
        }));
    }

    /// A chat with a recipient.
    pub fn chat(&mut self, id: u64, recipient_id: u64) {
        self.frame(FrameItem::Chat(Chat { id, recipient_id }));
    }

    fn item(&mut self, chat_id: u64, author_id: u64, date_sent: u64, kind: ChatItemKind) {
        self.frame(FrameItem::ChatItem(ChatItem {
            chat_id,
            author_id,
            date_sent,
            expires_in_ms: None,
            revisions: Vec::new(),
            direction: Some(Direction::Incoming(Received {
                date_received: date_sent + 700,
            })),
            item: Some(kind),
        }));
    }

    /// A text message received.
    pub fn text(&mut self, chat_id: u64, author_id: u64, date_sent: u64, body: &str) {
        self.item(
            chat_id,
            author_id,
            date_sent,
            ChatItemKind::StandardMessage(standard(body)),
        );
    }

    /// A message with one attachment, whose bytes go into the media pool
    /// (encrypted under a local key of its own) when `in_pool`.
    #[allow(clippy::too_many_arguments)]
    pub fn attachment(
        &mut self,
        chat_id: u64,
        author_id: u64,
        date_sent: u64,
        body: &str,
        bytes: &[u8],
        content_type: &str,
        file_name: &str,
        in_pool: bool,
    ) {
        let local_key = [self.media_seed; 64];
        self.media_seed = self.media_seed.wrapping_add(1);
        let locator = LocatorInfo {
            size: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            plaintext_hash: Some(Sha256::digest(bytes).to_vec()),
            local_key: Some(local_key.to_vec()),
        };
        if let (Some((name, _)), true) = (media_name(&locator), in_pool) {
            // Signal pads media before encrypting; the size cuts it again.
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().next_multiple_of(64), 0);
            let (aes_key, hmac_key) = local_key.split_at(32);
            let sealed = seal(&padded, aes_key, hmac_key, [local_key[0]; 16]);
            self.media.push((name, sealed));
        }
        self.item(
            chat_id,
            author_id,
            date_sent,
            ChatItemKind::StandardMessage(StandardMessage {
                attachments: vec![MessageAttachment {
                    pointer: Some(FilePointer {
                        content_type: Some(content_type.to_owned()),
                        file_name: Some(file_name.to_owned()),
                        caption: None,
                        locator_info: Some(locator),
                    }),
                    flag: 0,
                }],
                ..standard(body)
            }),
        );
    }

    /// A message a group admin deleted for everyone.
    pub fn admin_deleted(&mut self, chat_id: u64, author_id: u64, date_sent: u64, admin_id: u64) {
        self.item(
            chat_id,
            author_id,
            date_sent,
            ChatItemKind::AdminDeletedMessage(AdminDeleted { admin_id }),
        );
    }

    /// The frame stream, unencrypted (a `.binproto` file).
    pub fn stream(&self) -> &[u8] {
        &self.stream
    }

    /// Writes `dir` as a `SignalBackups` folder: the snapshot `name` (its
    /// `main`, `metadata` and `files`) encrypted with `key` for the backup
    /// id `backup_id`, and the media pool `files/`.
    ///
    /// # Errors
    /// When the files cannot be written.
    pub fn write_folder(
        &self,
        dir: &Path,
        name: &str,
        key: &RecoveryKey,
        backup_id: [u8; 16],
    ) -> std::io::Result<()> {
        let snapshot = dir.join(name);
        std::fs::create_dir_all(&snapshot)?;
        let backup_key = key.backup_key();
        let iv = [0x4d; 12];
        let mut encrypted_id = backup_id;
        metadata_crypt(&metadata_key(&backup_key), &iv, &mut encrypted_id);
        let metadata = Metadata {
            version: 1,
            backup_id: Some(EncryptedBackupId {
                iv: iv.to_vec(),
                encrypted_id: encrypted_id.to_vec(),
            }),
        };
        std::fs::write(snapshot.join("metadata"), metadata.encode_to_vec())?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&self.stream)?;
        let compressed = gzip.finish()?;
        let keys = stream_keys(&backup_key, &backup_id);
        std::fs::write(
            snapshot.join("main"),
            seal(&compressed, &keys.aes, &keys.hmac, [0x49; 16]),
        )?;
        let mut manifest = Vec::new();
        for (media, sealed) in &self.media {
            let shard = dir.join("files").join(&media[..2]);
            std::fs::create_dir_all(&shard)?;
            std::fs::write(shard.join(media), sealed)?;
            // FilesFrame { mediaName = 1 }
            let mut entry = Vec::new();
            prost::encoding::string::encode(1, media, &mut entry);
            prost::encoding::encode_varint(entry.len() as u64, &mut manifest);
            manifest.extend_from_slice(&entry);
        }
        std::fs::write(snapshot.join("files"), manifest)
    }
}

/// A standard message with its text only.
fn standard(body: &str) -> StandardMessage {
    StandardMessage {
        text: Some(Text {
            body: body.to_owned(),
            body_ranges: Vec::new(),
        }),
        ..StandardMessage::default()
    }
}

/// IV ‖ AES-256-CBC/PKCS7(plain) ‖ HMAC-SHA256(IV ‖ ciphertext).
fn seal(plain: &[u8], aes_key: &[u8], hmac_key: &[u8], iv: [u8; 16]) -> Vec<u8> {
    let mut blocks = plain.to_vec();
    let pad = 16 - blocks.len() % 16;
    blocks.resize(blocks.len() + pad, pad as u8);
    let mut encryptor = cbc::Encryptor::<aes::Aes256>::new(aes_key.into(), (&iv).into());
    for block in blocks.chunks_exact_mut(16) {
        encryptor.encrypt_block_mut(block.into());
    }
    let mut out = iv.to_vec();
    out.extend_from_slice(&blocks);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(hmac_key).unwrap_or_else(|_| {
        // HMAC takes keys of any length.
        unreachable!()
    });
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    out
}
