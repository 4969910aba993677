//! RFC 3161 time-stamps of checkpoints: the request spoor sends to a
//! time-stamping authority (TSA), the token it keeps from the reply, and
//! the checks anyone makes of a kept token (FORMAT.md §11.7).
//!
//! A token is a CMS SignedData (RFC 5652) whose content is a `TSTInfo`
//! naming the SHA-256 of the signed checkpoint and the time the TSA saw
//! it. The ASN.1 is RustCrypto's (`x509-tsp`, `cms`, `x509-cert`); the
//! signatures are RSA PKCS #1 v1.5 or ECDSA P-256, as TSAs sign.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode, Tagged};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::ext::Extensions;
use x509_cert::spki::{AlgorithmIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// Longest chain from a token's signer to a trusted certificate.
const MAX_CHAIN: usize = 6;

/// RFC 3161's `TSTInfo`, as `x509_tsp::TstInfo` but with `genTime` left
/// raw: TSAs write it with fractional seconds (`20261206145156.281Z`),
/// which DER allows and the `der` crate's `GeneralizedTime` does not read.
#[derive(der::Sequence)]
struct TstInfo {
    version: TspVersion,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

/// Seconds since the epoch of a DER `GeneralizedTime`
/// (`YYYYMMDDHHMMSS[.f…]Z`); the fraction is dropped.
fn generalized_time(value: &Any) -> Option<i64> {
    if value.tag() != der::Tag::GeneralizedTime {
        return None;
    }
    let text = std::str::from_utf8(value.value()).ok()?.strip_suffix('Z')?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    if whole.len() != 14
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.is_empty()
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| whole.get(range)?.parse::<i8>().ok();
    let year: i16 = whole.get(0..4)?.parse().ok()?;
    let civil = jiff::civil::DateTime::new(
        year,
        number(4..6)?,
        number(6..8)?,
        number(8..10)?,
        number(10..12)?,
        number(12..14)?,
        0,
    )
    .ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// What is wrong with a time-stamp reply or token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    /// Not DER of the expected structure.
    #[error("not a time-stamp {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What the DER decoder said.
        reason: String,
    },
    /// The TSA refused (PKIStatus other than granted).
    #[error("the time-stamping authority refused: status {status}{text}")]
    Refused {
        /// The PKIStatus.
        status: String,
        /// The TSA's own words, if any.
        text: String,
    },
    /// The token is for other bytes than the checkpoint.
    #[error("the token's message imprint is not the SHA-256 of the checkpoint")]
    WrongImprint,
    /// The token does not answer this request.
    #[error("the token's nonce is not the request's")]
    WrongNonce,
    /// The signature or its certificate chain does not hold.
    #[error("{0}")]
    Untrusted(String),
}

/// What a checked token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// When the TSA saw the checkpoint (`genTime`), in seconds since the
    /// Unix epoch.
    pub time: i64,
    /// The TSA's serial number of the token, in hex.
    pub serial: String,
    /// The signer certificate's subject, as text.
    pub signer: String,
}

/// The DER `TimeStampReq` for `message`: SHA-256 imprint, the nonce, and
/// `certReq` set so the reply carries the signer's certificate.
pub fn request(message: &[u8], nonce: u64) -> Vec<u8> {
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint(message),
        req_policy: None,
        nonce: Some(nonce_int(nonce)),
        cert_req: true,
        extensions: None,
    };
    // Encoding a request built from sizes we chose cannot fail; an empty
    // body would be refused by the TSA and reported as such.
    request.to_der().unwrap_or_default()
}

fn imprint(message: &[u8]) -> MessageImprint {
    MessageImprint {
        hash_algorithm: AlgorithmIdentifier {
            oid: ID_SHA256,
            parameters: None,
        },
        // 32 bytes always fit an OCTET STRING.
        hashed_message: OctetString::new(Sha256::digest(message).to_vec())
            .expect("a 32-byte OCTET STRING"),
    }
}

fn nonce_int(nonce: u64) -> Int {
    // The minimal two's complement form of a positive INTEGER: no
    // redundant leading zero, one zero byte where the top bit is set.
    let all = nonce.to_be_bytes();
    let first = all.iter().position(|b| *b != 0).unwrap_or(all.len() - 1);
    let mut bytes = Vec::with_capacity(9);
    if all[first] & 0x80 != 0 {
        bytes.push(0);
    }
    bytes.extend_from_slice(&all[first..]);
    Int::new(&bytes).expect("at most 9 bytes, minimal: a valid INTEGER")
}

/// The token (DER `ContentInfo`) of a `TimeStampResp`, if the TSA granted
/// the request.
pub fn token_of_reply(reply: &[u8]) -> Result<Vec<u8>, TimestampError> {
    let reply = TimeStampResp::from_der(reply).map_err(malformed("reply"))?;
    let status = reply.status.status as u8;
    // 0 granted, 1 granted with modifications.
    if status > 1 {
        let text = reply
            .status
            .status_string
            .iter()
            .flat_map(|texts| texts.iter())
            .map(|t| format!(" ({})", t.as_str()))
            .collect::<String>();
        return Err(TimestampError::Refused {
            status: format!("{:?}", reply.status.status),
            text,
        });
    }
    let token = reply.time_stamp_token.ok_or(TimestampError::Malformed {
        what: "reply",
        reason: "granted, but without a token".into(),
    })?;
    token.to_der().map_err(malformed("token"))
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> TimestampError {
    move |e| TimestampError::Malformed {
        what,
        reason: e.to_string(),
    }
}

/// Reads certificates from PEM (one or more `CERTIFICATE` blocks) or a
/// single DER certificate.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, TimestampError> {
    let pem = bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let certificates = if pem {
        Certificate::load_pem_chain(bytes).map_err(malformed("certificate file"))?
    } else {
        vec![Certificate::from_der(bytes).map_err(malformed("certificate file"))?]
    };
    if certificates.is_empty() {
        return Err(TimestampError::Malformed {
            what: "certificate file",
            reason: "no certificate in it".into(),
        });
    }
    Ok(certificates)
}

/// Checks a token over `message`: its imprint, its nonce (when one is
/// given), the signer's signature over the signed attributes and theirs
/// over the `TSTInfo`, and a chain of signatures from the signer's
/// certificate (which must be for time-stamping and valid at the token's
/// time) to one of the `trusted` certificates.
pub fn check_token(
    token: &[u8],
    message: &[u8],
    nonce: Option<u64>,
    trusted: &[Certificate],
) -> Result<Stamp, TimestampError> {
    let content = ContentInfo::from_der(token).map_err(malformed("token"))?;
    if content.content_type != ID_SIGNED_DATA {
        return Err(TimestampError::Malformed {
            what: "token",
            reason: format!("content type {} is not SignedData", content.content_type),
        });
    }
    let signed: SignedData = content.content.decode_as().map_err(malformed("token"))?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(TimestampError::Malformed {
            what: "token",
            reason: "its content is not a TSTInfo".into(),
        });
    }
    let tst_der = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or(TimestampError::Malformed {
            what: "token",
            reason: "no TSTInfo in it".into(),
        })?
        .decode_as::<OctetString>()
        .map_err(malformed("token"))?
        .into_bytes();
    let info = TstInfo::from_der(&tst_der).map_err(malformed("TSTInfo"))?;
    // SHA-256's parameters may be absent or NULL (RFC 5754 §2): OpenSSL's
    // own requests send NULL, and the TSA echoes what it was sent.
    let expected = imprint(message);
    let parameters_null_or_absent = info
        .message_imprint
        .hash_algorithm
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty());
    if info.message_imprint.hash_algorithm.oid != ID_SHA256
        || !parameters_null_or_absent
        || info.message_imprint.hashed_message != expected.hashed_message
    {
        return Err(TimestampError::WrongImprint);
    }
    if let Some(nonce) = nonce {
        if info.nonce.as_ref() != Some(&nonce_int(nonce)) {
            return Err(TimestampError::WrongNonce);
        }
    }
    let time = generalized_time(&info.gen_time).ok_or(TimestampError::Malformed {
        what: "TSTInfo",
        reason: "genTime is not a GeneralizedTime YYYYMMDDHHMMSS[.f]Z".into(),
    })?;

    let [signer_info] = signed.signer_infos.0.as_slice() else {
        return Err(untrusted("a token must have exactly one signer"));
    };
    let carried: Vec<&Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let pool: Vec<&Certificate> = carried.iter().copied().chain(trusted.iter()).collect();
    let signer = pool
        .iter()
        .copied()
        .find(|c| identifies(&signer_info.sid, c))
        .ok_or_else(|| untrusted("the signer's certificate is neither in the token nor trusted"))?;
    check_signer_info(signer_info, &tst_der, signer)?;
    check_time_stamping_certificate(signer, time)?;
    check_chain(signer, &pool, trusted)?;
    Ok(Stamp {
        time,
        serial: hex(info.serial_number.as_bytes()),
        signer: signer.tbs_certificate.subject.to_string(),
    })
}

fn untrusted(reason: &str) -> TimestampError {
    TimestampError::Untrusted(reason.to_owned())
}

fn identifies(sid: &SignerIdentifier, certificate: &Certificate) -> bool {
    let tbs = &certificate.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == tbs.issuer && id.serial_number == tbs.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(id) => tbs
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)
            .any(|e| {
                SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).is_ok_and(|k| k == *id)
            }),
    }
}

/// The signed attributes name the TSTInfo's digest and type, and the
/// signature over them holds with the signer's key.
fn check_signer_info(
    info: &SignerInfo,
    content: &[u8],
    signer: &Certificate,
) -> Result<(), TimestampError> {
    let attributes = info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| untrusted("the token's signer has no signed attributes"))?;
    let value_of = |oid: ObjectIdentifier| -> Option<&Any> {
        attributes
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let content_type = value_of(ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| untrusted("the signed attributes name no content type"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(untrusted("the signed attributes name another content type"));
    }
    let digest = value_of(ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| untrusted("the signed attributes carry no message digest"))?;
    let hash = Hash::of_digest(&info.digest_alg.oid)?;
    if digest.as_bytes() != hash.digest(content) {
        return Err(untrusted(
            "the signed message digest is not the TSTInfo's: the token was altered",
        ));
    }
    let signed_bytes = attributes
        .to_der()
        .map_err(malformed("signed attributes"))?;
    let algorithm = SignatureAlgorithm::of_signer(&info.signature_algorithm.oid, hash)?;
    algorithm
        .verify(
            &signer.tbs_certificate.subject_public_key_info,
            &signed_bytes,
            info.signature.as_bytes(),
        )
        .map_err(|reason| untrusted(&format!("the token's signature does not hold: {reason}")))
}

/// The signer's certificate is for time-stamping only (RFC 3161 §2.3)
/// and was valid when the token was made.
fn check_time_stamping_certificate(
    certificate: &Certificate,
    time: i64,
) -> Result<(), TimestampError> {
    let tbs = &certificate.tbs_certificate;
    let purpose = tbs
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
        .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok());
    if !purpose.is_some_and(|p| p.0.contains(&ID_KP_TIME_STAMPING)) {
        return Err(untrusted(
            "the signer's certificate is not for time-stamping (extended key usage)",
        ));
    }
    let seconds = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
    let time = u64::try_from(time).unwrap_or(0);
    if time < seconds(tbs.validity.not_before) || time > seconds(tbs.validity.not_after) {
        return Err(untrusted(
            "the token's time is outside its signer certificate's validity",
        ));
    }
    Ok(())
}

/// Walks from `certificate` to a trusted one, checking each issuer's
/// signature.
fn check_chain(
    certificate: &Certificate,
    pool: &[&Certificate],
    trusted: &[Certificate],
) -> Result<(), TimestampError> {
    let mut current = certificate;
    for _ in 0..MAX_CHAIN {
        if trusted.iter().any(|t| t == current) {
            return Ok(());
        }
        let issuer = pool
            .iter()
            .copied()
            .filter(|c| c.tbs_certificate.subject == current.tbs_certificate.issuer)
            .find(|c| verify_certificate(current, c).is_ok())
            .ok_or_else(|| {
                untrusted(&format!(
                    "no trusted certificate signed {:?}",
                    current.tbs_certificate.subject.to_string()
                ))
            })?;
        if std::ptr::eq(issuer, current) {
            // Self-signed but not trusted.
            break;
        }
        current = issuer;
    }
    Err(untrusted(
        "the signer's certificate does not lead to a trusted certificate",
    ))
}

fn verify_certificate(certificate: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let tbs = certificate
        .tbs_certificate
        .to_der()
        .map_err(|e| e.to_string())?;
    let algorithm = SignatureAlgorithm::of_certificate(&certificate.signature_algorithm.oid)
        .map_err(|e| e.to_string())?;
    algorithm.verify(
        &issuer.tbs_certificate.subject_public_key_info,
        &tbs,
        certificate.signature.raw_bytes(),
    )
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn of_digest(oid: &ObjectIdentifier) -> Result<Hash, TimestampError> {
        match *oid {
            ID_SHA256 => Ok(Hash::Sha256),
            ID_SHA384 => Ok(Hash::Sha384),
            ID_SHA512 => Ok(Hash::Sha512),
            other => Err(untrusted(&format!(
                "digest algorithm {other} is not supported"
            ))),
        }
    }

    fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(bytes).to_vec(),
            Hash::Sha384 => Sha384::digest(bytes).to_vec(),
            Hash::Sha512 => Sha512::digest(bytes).to_vec(),
        }
    }
}

#[derive(Clone, Copy)]
enum SignatureAlgorithm {
    RsaPkcs1(Hash),
    EcdsaP256(Hash),
}

impl SignatureAlgorithm {
    fn of_certificate(oid: &ObjectIdentifier) -> Result<SignatureAlgorithm, TimestampError> {
        Ok(match *oid {
            SHA256_WITH_RSA => SignatureAlgorithm::RsaPkcs1(Hash::Sha256),
            SHA384_WITH_RSA => SignatureAlgorithm::RsaPkcs1(Hash::Sha384),
            SHA512_WITH_RSA => SignatureAlgorithm::RsaPkcs1(Hash::Sha512),
            ECDSA_WITH_SHA256 => SignatureAlgorithm::EcdsaP256(Hash::Sha256),
            ECDSA_WITH_SHA384 => SignatureAlgorithm::EcdsaP256(Hash::Sha384),
            ECDSA_WITH_SHA512 => SignatureAlgorithm::EcdsaP256(Hash::Sha512),
            other => {
                return Err(untrusted(&format!(
                    "signature algorithm {other} is not supported"
                )))
            }
        })
    }

    /// CMS names either the combined algorithm or only the key's, with
    /// the digest given apart.
    fn of_signer(
        oid: &ObjectIdentifier,
        digest: Hash,
    ) -> Result<SignatureAlgorithm, TimestampError> {
        match *oid {
            RSA_ENCRYPTION => Ok(SignatureAlgorithm::RsaPkcs1(digest)),
            ID_EC_PUBLIC_KEY => Ok(SignatureAlgorithm::EcdsaP256(digest)),
            _ => SignatureAlgorithm::of_certificate(oid),
        }
    }

    fn verify(
        self,
        key: &SubjectPublicKeyInfoOwned,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let key_bytes = key.subject_public_key.raw_bytes();
        match self {
            SignatureAlgorithm::RsaPkcs1(hash) => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                if key.algorithm.oid != RSA_ENCRYPTION {
                    return Err("the key is not an RSA key".into());
                }
                let key =
                    rsa::RsaPublicKey::from_pkcs1_der(key_bytes).map_err(|e| e.to_string())?;
                let scheme = match hash {
                    Hash::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    Hash::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    Hash::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                key.verify(scheme, &hash.digest(message), signature)
                    .map_err(|e| e.to_string())
            }
            SignatureAlgorithm::EcdsaP256(hash) => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                if key.algorithm.oid != ID_EC_PUBLIC_KEY {
                    return Err("the key is not an elliptic-curve key".into());
                }
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map_err(|_| "the key is not a P-256 key".to_owned())?;
                let signature =
                    p256::ecdsa::Signature::from_der(signature).map_err(|e| e.to_string())?;
                key.verify_prehash(&hash.digest(message), &signature)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_der_with_the_imprint_and_nonce() {
        let der = request(b"checkpoint\n", 0x8000_0000_0000_0001);
        let parsed = TimeStampReq::from_der(&der).expect("our own request parses");
        assert_eq!(
            parsed.message_imprint.hashed_message.as_bytes(),
            Sha256::digest(b"checkpoint\n").as_slice()
        );
        assert!(parsed.cert_req);
        // The top bit set needs the leading zero to stay positive.
        assert_eq!(
            parsed.nonce.expect("nonce").as_bytes(),
            &[0, 0x80, 0, 0, 0, 0, 0, 0, 1]
        );
        let small = TimeStampReq::from_der(&request(b"x", 0x1234)).expect("parses");
        assert_eq!(small.nonce.expect("nonce").as_bytes(), &[0x12, 0x34]);
    }

    #[test]
    fn gen_time_with_and_without_a_fraction() {
        let time = |text: &str| {
            generalized_time(&Any::new(der::Tag::GeneralizedTime, text.as_bytes()).expect("any"))
        };
        assert_eq!(time("20261206145156Z"), Some(1796568716));
        assert_eq!(time("20261206145156.281Z"), Some(1796568716));
        for bad in [
            "20261206145156",
            "20261306145156Z",
            "2026120614515Z",
            "20261206145156.Z",
            "+0261206145156Z",
        ] {
            assert_eq!(time(bad), None, "{bad}");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\x30\x03\x02\x01", b"not der at all"] {
            assert!(matches!(
                token_of_reply(bytes),
                Err(TimestampError::Malformed { .. })
            ));
            assert!(matches!(
                check_token(bytes, b"x", None, &[]),
                Err(TimestampError::Malformed { .. })
            ));
        }
    }
}
