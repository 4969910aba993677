//! Trust outside the store's own key: after every checkpoint, the
//! configured time-stamping authority is asked for an RFC 3161 token over
//! it and the configured witnesses for their cosignatures (C2SP
//! tlog-witness), and what they give is kept beside it:
//! `log/timestamps/<size>.tst` and `log/cosignatures/<size>`
//! (FORMAT.md §11.7, §11.8).
//!
//! None of this can lose a run: the checkpoint is published before anyone
//! is asked, and a party that does not answer, or answers wrongly, is
//! reported (the run's exit code becomes 3).

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use signed_note::Note;
use spoor_normalize::cosign::CosignatureVerifier;
use spoor_normalize::format_epoch_seconds;
use spoor_normalize::timestamp;

use crate::config::{StoreConfig, TimestampingSettings, WitnessSettings};
use crate::fsutil::write_atomic;
use crate::log::{Log, TreeHead};

/// Default wait for a TSA or witness.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest reply read from a TSA or witness.
const MAX_REPLY: u64 = 1 << 20;

/// What one outside party did for a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attestation {
    /// `timestamp` (a TSA's token) or `cosignature` (a witness's).
    pub kind: &'static str,
    /// The TSA's URL or the witness's name.
    pub by: String,
    /// Whether it was obtained, checked and kept.
    pub ok: bool,
    /// The time it gives (UTC), or why there is none.
    pub detail: String,
}

/// Asks every configured party to attest the checkpoint of `head`, which
/// `log` has just published; keeps what they give. One entry per party.
pub(crate) fn attest(
    log_dir: &Path,
    config: &StoreConfig,
    log: &Log,
    head: TreeHead,
) -> Vec<Attestation> {
    if config.timestamping.is_none() && config.witnesses.is_empty() {
        return Vec::new();
    }
    let path = log_dir.join(format!("checkpoints/{}", head.size));
    let checkpoint = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let why = format!("{}: {e}", path.display());
            return parties(config)
                .map(|(kind, by)| failed(kind, by, why.clone()))
                .collect();
        }
    };
    let mut done = Vec::new();
    if let Some(settings) = &config.timestamping {
        done.push(time_stamp(log_dir, settings, &checkpoint, head.size));
    }
    if !config.witnesses.is_empty() {
        done.extend(cosign(log_dir, &config.witnesses, log, &checkpoint, head));
    }
    for attestation in &done {
        if attestation.ok {
            tracing::info!(kind = attestation.kind, by = %attestation.by, detail = %attestation.detail, "checkpoint attested");
        } else {
            tracing::warn!(kind = attestation.kind, by = %attestation.by, reason = %attestation.detail, "checkpoint NOT attested");
        }
    }
    done
}

fn parties(config: &StoreConfig) -> impl Iterator<Item = (&'static str, String)> + '_ {
    let tsa = config
        .timestamping
        .iter()
        .map(|t| ("timestamp", t.url.clone()));
    let witnesses = config
        .witnesses
        .iter()
        .map(|w| ("cosignature", witness_name(w)));
    tsa.chain(witnesses)
}

fn witness_name(settings: &WitnessSettings) -> String {
    settings
        .key
        .split('+')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn failed(kind: &'static str, by: String, detail: String) -> Attestation {
    Attestation {
        kind,
        by,
        ok: false,
        detail,
    }
}

fn agent(timeout: Option<u64>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// POSTs `body`; the status and at most [`MAX_REPLY`] bytes of the answer.
fn post(
    agent: &ureq::Agent,
    url: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut response = agent
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
        .map_err(|e| format!("no answer from {url}: {e}"))?;
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_REPLY)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the answer of {url}: {e}"))?;
    Ok((status, bytes))
}

/// Asks the TSA for a token over the signed checkpoint and keeps it once
/// it checks out against the configured certificates.
fn time_stamp(
    log_dir: &Path,
    settings: &TimestampingSettings,
    checkpoint: &[u8],
    size: u64,
) -> Attestation {
    let by = settings.url.clone();
    match request_token(settings, checkpoint) {
        Ok((token, stamp)) => {
            let path = log_dir.join(format!("timestamps/{size}.tst"));
            let kept = path
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| write_atomic(&path, &token));
            match kept {
                Ok(()) => Attestation {
                    kind: "timestamp",
                    by,
                    ok: true,
                    detail: format!(
                        "{} (signed by {})",
                        format_epoch_seconds(stamp.time),
                        stamp.signer
                    ),
                },
                Err(e) => failed("timestamp", by, format!("{}: {e}", path.display())),
            }
        }
        Err(why) => failed("timestamp", by, why),
    }
}

fn request_token(
    settings: &TimestampingSettings,
    checkpoint: &[u8],
) -> Result<(Vec<u8>, timestamp::Stamp), String> {
    let certificates = fs::read(&settings.certificates)
        .map_err(|e| format!("{}: {e}", settings.certificates.display()))
        .and_then(|bytes| {
            timestamp::read_certificates(&bytes)
                .map_err(|e| format!("{}: {e}", settings.certificates.display()))
        })?;
    let nonce = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    let (status, reply) = post(
        &agent(settings.timeout_seconds),
        &settings.url,
        "application/timestamp-query",
        &timestamp::request(checkpoint, nonce),
    )?;
    if status != 200 {
        return Err(format!("the TSA answered HTTP {status}"));
    }
    let token = timestamp::token_of_reply(&reply).map_err(|e| e.to_string())?;
    let stamp = timestamp::check_token(&token, checkpoint, Some(nonce), &certificates)
        .map_err(|e| format!("the TSA's token does not check out: {e}"))?;
    Ok((token, stamp))
}

/// Submits the checkpoint to every witness and keeps the cosignatures
/// that verify with the witness's configured key.
fn cosign(
    log_dir: &Path,
    witnesses: &[WitnessSettings],
    log: &Log,
    checkpoint: &[u8],
    head: TreeHead,
) -> Vec<Attestation> {
    let Ok(note) = Note::from_bytes(checkpoint) else {
        return witnesses
            .iter()
            .map(|w| {
                failed(
                    "cosignature",
                    witness_name(w),
                    "the checkpoint is not a signed note".into(),
                )
            })
            .collect();
    };
    let text = note.text();
    let dir = log_dir.join("cosignatures");
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut done = Vec::new();
    for settings in witnesses {
        let by = witness_name(settings);
        let outcome = CosignatureVerifier::new(&settings.key)
            .map_err(|e| format!("witness key in spoor.toml: {e}"))
            .and_then(|verifier| {
                let old = last_cosigned_size(&dir, head.size, verifier.name());
                submit(settings, &verifier, log, checkpoint, text, head.size, old)
            });
        match outcome {
            Ok((line, time)) => {
                lines.push(line);
                done.push(Attestation {
                    kind: "cosignature",
                    by,
                    ok: true,
                    detail: format_epoch_seconds(i64::try_from(time).unwrap_or(i64::MAX)),
                });
            }
            Err(why) => done.push(failed("cosignature", by, why)),
        }
    }
    if !lines.is_empty() {
        let path = dir.join(head.size.to_string());
        let kept = fs::create_dir_all(&dir).and_then(|()| write_atomic(&path, &lines.concat()));
        if let Err(e) = kept {
            for attestation in done.iter_mut().filter(|a| a.ok) {
                attestation.ok = false;
                attestation.detail = format!("{}: {e}", path.display());
            }
        }
    }
    done
}

/// The size of the latest checkpoint below `size` that `witness` cosigned
/// for this log (0 if none): where its consistency proof starts.
fn last_cosigned_size(dir: &Path, size: u64, witness: &str) -> u64 {
    let mut sizes: Vec<u64> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .filter(|s| *s < size)
                .collect()
        })
        .unwrap_or_default();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let prefix = format!("— {witness} ");
    sizes
        .into_iter()
        .find(|s| {
            fs::read_to_string(dir.join(s.to_string()))
                .is_ok_and(|text| text.lines().any(|l| l.starts_with(&prefix)))
        })
        .unwrap_or(0)
}

/// One `add-checkpoint` exchange, retried once from the size the witness
/// says it holds (C2SP tlog-witness: 409 with `text/x.tlog.size`).
fn submit(
    settings: &WitnessSettings,
    verifier: &CosignatureVerifier,
    log: &Log,
    checkpoint: &[u8],
    text: &[u8],
    size: u64,
    mut old: u64,
) -> Result<(Vec<u8>, u64), String> {
    let url = format!("{}/add-checkpoint", settings.url.trim_end_matches('/'));
    let agent = agent(settings.timeout_seconds);
    for attempt in 0..2 {
        let proof = log.prove_consistency(old).map_err(|e| e.to_string())?;
        let mut body = format!("old {old}\n");
        for hash in &proof {
            body.push_str(hash);
            body.push('\n');
        }
        body.push('\n');
        let mut body = body.into_bytes();
        body.extend_from_slice(checkpoint);
        let (status, reply) = post(&agent, &url, "text/plain; charset=utf-8", &body)?;
        match status {
            200 => {
                for line in reply.split_inclusive(|b| *b == b'\n') {
                    if let Some(time) = verifier.check(text, line).map_err(|e| e.to_string())? {
                        return Ok((line.to_vec(), time));
                    }
                }
                return Err("the witness answered without its cosignature".into());
            }
            409 => {
                let theirs = String::from_utf8_lossy(&reply).trim().parse::<u64>().ok();
                match theirs {
                    Some(theirs) if theirs > size => {
                        return Err(format!(
                            "the witness has cosigned size {theirs} of this log, larger than this checkpoint's {size}: the log was rolled back or forked"
                        ))
                    }
                    Some(theirs) if theirs == size => {
                        return Err(format!(
                            "the witness holds another tree of size {size} for this log: the log was forked"
                        ))
                    }
                    Some(theirs) if attempt == 0 && theirs != old => old = theirs,
                    _ => return Err(format!("the witness refused the old size {old} (HTTP 409)")),
                }
            }
            403 => return Err("the witness does not trust this log's key (HTTP 403)".into()),
            404 => return Err("the witness does not know this log's origin (HTTP 404)".into()),
            422 => {
                return Err(format!(
                    "the witness found the consistency proof from size {old} wrong (HTTP 422): the log was rewritten"
                ))
            }
            other => {
                let first = String::from_utf8_lossy(&reply);
                let first = first.lines().next().unwrap_or_default();
                return Err(format!("the witness answered HTTP {other}: {first}"));
            }
        }
    }
    Err("the witness kept refusing the old size".into())
}
