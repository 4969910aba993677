//! `spoor.toml`: the store's identity and settings.

use std::path::Path;

use serde::{Deserialize, Serialize};
use spoor_ingest::{DateOrder, Limits};

use crate::notify::NotifySettings;

use crate::fsutil::with_path;
use crate::Error;

/// The store format this version writes and reads.
pub const STORE_FORMAT: &str = "spoor-store/1";

/// Contents of `STORE/spoor.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Always [`STORE_FORMAT`].
    pub format: String,
    /// A name unique to this store, fixed at `spoor init`.
    pub store_id: String,
    /// IANA zone used for sources that give only wall-clock time.
    pub default_zone: String,
    /// Date order used when a WhatsApp chat's dates fit several (`dmy`,
    /// `mdy`, `ymd`, `ydm`); unset, such a chat is reported as ambiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_order_hint: Option<DateOrder>,
    /// Written into each bag's `Source-Organization`, when set.
    #[serde(default)]
    pub organization: Option<String>,
    /// The log's origin line (C2SP tlog-checkpoint), also the key name.
    pub origin: String,
    /// The log's public verifier key (C2SP signed-note key string).
    pub log_public_key: String,
    /// Where the private signing key was written at `spoor init` (outside
    /// the store); used when no key file is given to `spoor run`.
    #[serde(default)]
    pub signing_key_file: Option<std::path::PathBuf>,
    /// Bounds on reading inputs.
    #[serde(default)]
    pub limits: Limits,
    /// Where run reports are e-mailed.
    #[serde(default, skip_serializing_if = "NotifySettings::is_unset")]
    pub notify: NotifySettings,
    /// The time-stamping authority asked after every checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamping: Option<TimestampingSettings>,
    /// The witnesses asked to cosign every checkpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<WitnessSettings>,
}

/// `[timestamping]`: an RFC 3161 time-stamping authority.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampingSettings {
    /// Where requests are POSTed (`http://`; the token is signed, so the
    /// channel needs no protection of its own).
    pub url: String,
    /// PEM file with the certificate(s) the TSA's signature must lead to;
    /// each reply is checked against it before it is kept.
    pub certificates: std::path::PathBuf,
    /// How long to wait for an answer (default 30 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// `[[witnesses]]`: a C2SP tlog-witness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSettings {
    /// The witness's submission prefix; `/add-checkpoint` is appended.
    pub url: String,
    /// Its verifier key (`<name>+<key id>+<base64>`, type 0x04).
    pub key: String,
    /// How long to wait for an answer (default 30 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

impl StoreConfig {
    pub(crate) fn load(path: &Path) -> Result<StoreConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(with_path(path))?;
        let config: StoreConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if config.format != STORE_FORMAT {
            return Err(Error::Config {
                path: path.to_owned(),
                reason: format!("store format {:?} is not {STORE_FORMAT:?}", config.format),
            });
        }
        Ok(config)
    }

    pub(crate) fn to_toml(&self) -> Result<String, Error> {
        toml::to_string_pretty(self).map_err(|e| Error::Config {
            path: "spoor.toml".into(),
            reason: e.to_string(),
        })
    }
}
