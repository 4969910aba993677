//! Witness cosignatures of checkpoints (C2SP tlog-cosignature,
//! `cosignature/v1` with Ed25519): the witness's keys, the signature it
//! adds to a checkpoint, and the check of one (FORMAT.md §11.8).
//!
//! A cosignature is a signed-note signature line
//! `— <witness name> base64(key id ‖ timestamp ‖ signature)`: the key id is
//! SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4], the timestamp 8 bytes
//! big-endian (seconds since the epoch), and the signature Ed25519 over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text.

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use signed_note::Signature;

/// The signed-note algorithm byte of an Ed25519 cosignature/v1 key.
const ALG_COSIGNATURE_V1: u8 = 0x04;

/// What is wrong with a witness key or cosignature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignError {
    /// The key text is not `<name>+<id hex>+<base64(0x04 ‖ key)>`.
    #[error("not a cosignature/v1 key: {0}")]
    Key(String),
    /// A line names this witness but its signature does not hold.
    #[error("the cosignature of {name} does not verify")]
    Invalid {
        /// The witness's name.
        name: String,
    },
}

/// A witness's signing key.
pub struct Cosigner {
    name: String,
    id: u32,
    key: SigningKey,
}

/// A witness's public key, as an auditor or a log configures it.
#[derive(Clone, Debug)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut encoded = vec![ALG_COSIGNATURE_V1];
    encoded.extend_from_slice(public.as_bytes());
    signed_note::key_id(name, &encoded)
}

/// The encoded key: `<prefix><name>+<id hex>+base64(0x04 ‖ bytes)`.
fn encode(prefix: &str, name: &str, id: u32, bytes: &[u8; 32]) -> String {
    let mut encoded = vec![ALG_COSIGNATURE_V1];
    encoded.extend_from_slice(bytes);
    format!(
        "{prefix}{name}+{id:08x}+{}",
        BASE64_STANDARD.encode(encoded)
    )
}

/// Splits `<name>+<id hex>+<base64>` into its parts, the key bytes
/// checked for the algorithm byte.
fn decode(text: &str) -> Result<(String, u32, [u8; 32]), CosignError> {
    let bad = |why: &str| CosignError::Key(why.to_owned());
    // A name holds no `+`; the base64 key may.
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected <name>+<key id>+<key>"));
    };
    if !signed_note::is_key_name_valid(name) {
        return Err(bad("the name is not a valid key name"));
    }
    let id = u32::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 8)
        .ok_or_else(|| bad("the key id is not 8 hex digits"))?;
    let key = BASE64_STANDARD
        .decode(key)
        .map_err(|_| bad("the key is not base64"))?;
    let [ALG_COSIGNATURE_V1, rest @ ..] = key.as_slice() else {
        return Err(bad("the key is not of type 0x04 (Ed25519 cosignature/v1)"));
    };
    let bytes: [u8; 32] = rest
        .try_into()
        .map_err(|_| bad("the key is not 32 bytes"))?;
    Ok((name.to_owned(), id, bytes))
}

/// The message a cosignature signs.
fn signed_message(checkpoint_text: &[u8], time: u64) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {time}\n").into_bytes();
    message.extend_from_slice(checkpoint_text);
    message
}

impl Cosigner {
    /// A new key pair for the witness `name`: the private key text (keep
    /// it secret) and the verifier key text (give it to the logs and
    /// auditors).
    pub fn generate(
        name: &str,
        random: &mut impl rand_core::CryptoRngCore,
    ) -> Result<(String, String), CosignError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CosignError::Key(format!(
                "{name:?} is not a valid key name"
            )));
        }
        let key = SigningKey::generate(random);
        let id = key_id(name, &key.verifying_key());
        Ok((
            encode("PRIVATE+KEY+", name, id, key.as_bytes()),
            encode("", name, id, key.verifying_key().as_bytes()),
        ))
    }

    /// Reads a private key as [`Cosigner::generate`] writes it.
    pub fn from_private_key(text: &str) -> Result<Cosigner, CosignError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| CosignError::Key("a private key starts with PRIVATE+KEY+".into()))?;
        let (name, id, seed) = decode(rest)?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(&name, &key.verifying_key()) != id {
            return Err(CosignError::Key("the key id does not match the key".into()));
        }
        Ok(Cosigner { name, id, key })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key text of this witness.
    pub fn verifier_key(&self) -> String {
        encode("", &self.name, self.id, self.key.verifying_key().as_bytes())
    }

    /// The cosignature line (ending in LF) over `checkpoint_text` (the
    /// note text, without signatures) at `time`.
    pub fn cosign(&self, checkpoint_text: &[u8], time: u64) -> Vec<u8> {
        let signature = self.key.sign(&signed_message(checkpoint_text, time));
        let mut bytes = time.to_be_bytes().to_vec();
        bytes.extend_from_slice(&signature.to_bytes());
        // The name was checked when the key was read.
        Signature::new(self.name.clone(), self.id, bytes)
            .map(|s| s.to_bytes())
            .unwrap_or_default()
    }
}

impl CosignatureVerifier {
    /// Reads a verifier key `<name>+<id hex>+<base64(0x04 ‖ key)>`.
    pub fn new(text: &str) -> Result<CosignatureVerifier, CosignError> {
        let (name, id, bytes) = decode(text)?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| CosignError::Key("not an Ed25519 public key".into()))?;
        if key_id(&name, &key) != id {
            return Err(CosignError::Key("the key id does not match the key".into()));
        }
        Ok(CosignatureVerifier { name, id, key })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks one signature line over `checkpoint_text`: `Ok(None)` when
    /// the line is not this witness's (another name or key id), the
    /// cosignature's time when it is and holds.
    pub fn check(&self, checkpoint_text: &[u8], line: &[u8]) -> Result<Option<u64>, CosignError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let Ok(signature) = Signature::from_bytes(line) else {
            return Ok(None);
        };
        if signature.name() != self.name || signature.id() != self.id {
            return Ok(None);
        }
        let invalid = || CosignError::Invalid {
            name: self.name.clone(),
        };
        let (time, ed25519) = signature
            .signature()
            .split_at_checked(8)
            .ok_or_else(invalid)?;
        let time = u64::from_be_bytes(time.try_into().map_err(|_| invalid())?);
        let ed25519 = ed25519_dalek::Signature::from_slice(ed25519).map_err(|_| invalid())?;
        self.key
            .verify(&signed_message(checkpoint_text, time), &ed25519)
            .map_err(|_| invalid())?;
        Ok(Some(time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] =
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn a_cosignature_verifies_and_tampering_is_caught() {
        let (private, public) =
            Cosigner::generate("witness.example/w1", &mut rand_core::OsRng).expect("keys");
        let cosigner = Cosigner::from_private_key(&private).expect("private key");
        assert_eq!(cosigner.verifier_key(), public);
        let verifier = CosignatureVerifier::new(&public).expect("verifier key");
        let line = cosigner.cosign(TEXT, 1_679_315_147);
        assert!(line.starts_with("— witness.example/w1 ".as_bytes()));
        assert_eq!(verifier.check(TEXT, &line), Ok(Some(1_679_315_147)));
        // Another checkpoint, or another time in the line: invalid.
        let other = b"example.com/behind-the-sofa\n20852164\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert!(verifier.check(other, &line).is_err());
        // Another witness's line is not this one's business.
        let (_, stranger) =
            Cosigner::generate("witness.example/w2", &mut rand_core::OsRng).expect("keys");
        let stranger = CosignatureVerifier::new(&stranger).expect("verifier key");
        assert_eq!(stranger.check(TEXT, &line), Ok(None));
    }

    #[test]
    fn the_key_id_follows_the_spec() {
        // SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4], computed here by hand.
        use sha2::Digest;
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut hashed = b"w.example/x\n\x04".to_vec();
        hashed.extend_from_slice(key.verifying_key().as_bytes());
        let digest = sha2::Sha256::digest(&hashed);
        let expected = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        assert_eq!(key_id("w.example/x", &key.verifying_key()), expected);
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for text in [
            "",
            "name+zz+AAAA",
            "PRIVATE+KEY+x+00000000+AQ==",
            "x+00000000+AQ==",
        ] {
            assert!(
                CosignatureVerifier::new(text).is_err()
                    || Cosigner::from_private_key(text).is_err()
            );
        }
        // A signed-note Ed25519 (type 0x01) key is not a cosignature key.
        let key = BASE64_STANDARD.encode([[1u8].as_slice(), &[9; 32]].concat());
        assert!(matches!(
            CosignatureVerifier::new(&format!("x+00000000+{key}")),
            Err(CosignError::Key(_))
        ));
    }
}
