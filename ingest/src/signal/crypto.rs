//! The cryptography of Signal's legacy Android `.backup`: the passphrase,
//! its key derivation (250,000 × SHA-512, then HKDF-SHA256 "Backup Export"),
//! AES-256-CTR per frame with a counter in the IV, and HMAC-SHA256 tags
//! truncated to 10 bytes (docs/FORMAT.md §16).

use std::fmt;

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// AES-256 in CTR mode with the whole 128-bit block as a big-endian counter,
/// as Java's `AES/CTR/NoPadding`.
pub(crate) type Cipher = ctr::Ctr128BE<aes::Aes256>;

/// Bytes of a truncated HMAC tag.
pub(crate) const MAC_LEN: usize = 10;

/// A backup passphrase: exactly 30 digits. Never printed: its `Debug` says
/// only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase([u8; 30]);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

impl Passphrase {
    /// Reads a passphrase as Signal shows it (`12345 67890 …`): spaces,
    /// dashes and line breaks are ignored; anything but 30 digits is refused.
    ///
    /// # Errors
    /// A message that says what is wrong without repeating the passphrase.
    pub fn parse(text: &str) -> Result<Passphrase, String> {
        let kept = without_separators(text);
        if let Some(bad) = kept.iter().find(|b| !b.is_ascii_digit()) {
            let what = if bad.is_ascii_graphic() {
                format!("the character {:?}", char::from(*bad))
            } else {
                "a character that is not a digit".to_owned()
            };
            return Err(format!(
                "a Signal backup passphrase is 30 digits (spaces and dashes are ignored); this one holds {what}"
            ));
        }
        let digits = <[u8; 30]>::try_from(kept.as_slice()).map_err(|_| {
            format!(
                "a Signal backup passphrase is 30 digits (spaces and dashes are ignored); this one has {}",
                kept.len()
            )
        })?;
        Ok(Passphrase(digits))
    }
}

/// A secret as people type it, without the spaces, dashes and line breaks
/// Signal shows between its groups.
pub(crate) fn without_separators(text: &str) -> Vec<u8> {
    text.bytes()
        .filter(|b| !matches!(b, b' ' | b'-' | b'\n' | b'\r' | b'\t'))
        .collect()
}

/// The two keys of a backup.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(crate) cipher: [u8; 32],
    pub(crate) mac: [u8; 32],
}

/// The backup key: SHA-512 over salt, passphrase and passphrase, then
/// 249,999 more rounds over the previous hash and the passphrase; the first
/// 32 bytes of the last.
pub(crate) fn backup_key(passphrase: &[u8], salt: Option<&[u8]>) -> [u8; 32] {
    let mut hasher = Sha512::new();
    if let Some(salt) = salt {
        hasher.update(salt);
    }
    let mut hash = hasher
        .chain_update(passphrase)
        .chain_update(passphrase)
        .finalize();
    for _ in 1..250_000 {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(passphrase)
            .finalize();
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&hash[..32]);
    key
}

/// HKDF-SHA256 (no salt, info "Backup Export") of the backup key.
pub(crate) fn keys_from(backup_key: &[u8; 32]) -> Keys {
    let mut okm = [0u8; 64];
    // 64 bytes are far below HKDF-SHA256's limit of 8160, so this holds.
    let _ = hkdf::Hkdf::<Sha256>::new(None, backup_key).expand(b"Backup Export", &mut okm);
    let mut keys = Keys {
        cipher: [0; 32],
        mac: [0; 32],
    };
    keys.cipher.copy_from_slice(&okm[..32]);
    keys.mac.copy_from_slice(&okm[32..]);
    keys
}

/// The keys of a backup with this passphrase and salt.
pub(crate) fn derive(passphrase: &Passphrase, salt: Option<&[u8]>) -> Keys {
    keys_from(&backup_key(&passphrase.0, salt))
}

/// The IV of frame or blob number `counter`: the header IV with its first
/// four bytes replaced by the counter, big-endian.
pub(crate) fn iv_for(base: &[u8; 16], counter: u32) -> [u8; 16] {
    let mut iv = *base;
    iv[..4].copy_from_slice(&counter.to_be_bytes());
    iv
}

pub(crate) fn cipher(keys: &Keys, iv: &[u8; 16]) -> Cipher {
    Cipher::new(&keys.cipher.into(), &(*iv).into())
}

pub(crate) fn mac(keys: &Keys) -> Hmac<Sha256> {
    // An HMAC key shorter than the block is zero-padded to it (RFC 2104).
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(&keys.mac);
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into())
}

/// Checks a truncated tag in constant time.
pub(crate) fn tag_matches(mac: Hmac<Sha256>, tag: &[u8]) -> bool {
    mac.verify_truncated_left(tag).is_ok()
}

/// Applies the keystream (encrypts and decrypts alike).
pub(crate) fn apply(cipher: &mut Cipher, bytes: &mut [u8]) {
    cipher.apply_keystream(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    // Check values published with nthurow/view-signal-backup and
    // re-derived with signalbackup-tools (research note §1.2).
    #[test]
    fn key_derivation_check_values() {
        let key = backup_key(b"password", Some(&[0, 1, 2, 3]));
        assert_eq!(
            hex(&key),
            "648c165f7981d0505ddf3b6c79bc5437b61edccfcef7077e08ebaf6d3c82e538"
        );
        let keys = keys_from(&key);
        assert_eq!(
            hex(&keys.cipher),
            "44fc12038815ea4842285567353dc78574a161301af6918e04b3f2fe155a138a"
        );
        assert_eq!(
            hex(&keys.mac),
            "4412ded40b40145fdd2d31e8a5149cefefe672196666905f50b2c00472473b5b"
        );
        assert!(hex(&backup_key(b"password", None)).starts_with("c996f5b5"));
        assert!(hex(&backup_key(b"password", None)).ends_with("b3e8a9"));
    }

    #[test]
    fn thirty_digit_passphrase() {
        let salt: Vec<u8> = (0u8..32).collect();
        let passphrase = Passphrase::parse("00000 11111 22222 33333 44444 55555").expect("valid");
        let keys = derive(&passphrase, Some(&salt));
        assert_eq!(
            hex(&backup_key(&passphrase.0, Some(&salt))),
            "7267e79622f57b634652747d52b0712e78c097720050d202ceb5430182c12a7e"
        );
        assert_eq!(
            hex(&keys.cipher),
            "5c0eb6e17e7dacc30e04707f9f3efff184c712086debde7632c111228e5b9551"
        );
        assert_eq!(
            hex(&keys.mac),
            "5f52c5dee3279380bb51463812047dca322b4769e30b4b1552e2a2a565fd4d81"
        );
    }

    #[test]
    fn passphrase_rules_never_echo_it() {
        assert!(Passphrase::parse("00000-11111-22222-33333-44444-55555\n").is_ok());
        let err = Passphrase::parse("0000011111222223333344444").expect_err("25 digits");
        assert!(err.contains("has 25"), "{err}");
        let err = Passphrase::parse("00000 11111 22222 33333 44444 5555x").expect_err("letter");
        assert!(err.contains("'x'") && !err.contains("00000"), "{err}");
        let p = Passphrase::parse("000001111122222333334444455555").expect("valid");
        assert_eq!(format!("{p:?}"), "Passphrase(…)");
    }
}
