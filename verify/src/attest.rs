//! Checking what parties outside the store said of its checkpoints
//! (FORMAT.md §11.7, §11.8): RFC 3161 time-stamp tokens in
//! `log/timestamps/`, against the TSA certificate the auditor trusts, and
//! witness cosignatures in `log/cosignatures/`, against the witness keys
//! the auditor trusts. The store's own key plays no part, so an insider
//! who holds it can still not backdate a checkpoint, nor get a rewritten
//! history cosigned by witnesses that saw the original.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use signed_note::Note;
use spoor_normalize::cosign::CosignatureVerifier;
use spoor_normalize::format_epoch_seconds;
use spoor_normalize::timestamp::{self, Stamp};
use x509_cert::Certificate;

use crate::report::Report;
use crate::trail::sizes_in;
use crate::Error;

/// The outside parties an auditor trusts.
/// Longest a checkpoint may reasonably be time-stamped after the run or
/// check it seals began: a run publishes, then asks the TSA at once.
const LATEST_STAMP_AFTER_SEAL: i64 = 24 * 3600;
/// Clock difference allowed between the store's machine and the TSA.
const CLOCK_SKEW: i64 = 300;

pub(crate) struct Outsiders {
    certificates: Option<Vec<Certificate>>,
    witnesses: Vec<CosignatureVerifier>,
    quorum: usize,
}

impl Outsiders {
    /// Reads what the auditor gave: the TSA's certificate(s) as PEM or DER,
    /// witness verifier keys, and how many of them must have cosigned the
    /// latest checkpoint (default: all).
    pub(crate) fn new(
        tsa_certificates: Option<&[u8]>,
        witness_keys: &[String],
        quorum: Option<usize>,
    ) -> Result<Outsiders, Error> {
        let certificates = tsa_certificates
            .map(timestamp::read_certificates)
            .transpose()
            .map_err(|e| Error::Unusable {
                what: "--tsa-cert".to_owned(),
                reason: e.to_string(),
            })?;
        let witnesses = witness_keys
            .iter()
            .map(|k| CosignatureVerifier::new(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Unusable {
                what: "--witness-key".to_owned(),
                reason: e.to_string(),
            })?;
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(Error::Unusable {
                what: "--witness-quorum".to_owned(),
                reason: format!("{quorum} of {} witness keys", witnesses.len()),
            });
        }
        Ok(Outsiders {
            certificates,
            witnesses,
            quorum,
        })
    }
}

/// Checks the tokens and cosignatures of the verified checkpoints
/// (`sizes`, ascending; the last is the latest).
pub(crate) fn check_attestations(
    root: &Path,
    sizes: &[u64],
    seal_times: &BTreeMap<u64, i64>,
    outsiders: &Outsiders,
    report: &mut Report,
) {
    let Some(&latest) = sizes.last() else {
        return;
    };
    let log = root.join("log");
    let tokens = sizes_in(&log.join("timestamps"), ".tst");
    let cosignatures = sizes_in(&log.join("cosignatures"), "");
    for (size, name) in tokens.iter().chain(&cosignatures) {
        // A checkpoint published after this check began (a run working
        // meanwhile) is not this check's business.
        let published_since = *size > latest && log.join(format!("checkpoints/{size}")).exists();
        if !sizes.contains(size) && !published_since {
            let dir = if name.ends_with(".tst") {
                "timestamps"
            } else {
                "cosignatures"
            };
            report.problem(
                "attestation-without-checkpoint",
                format!("log/{dir}/{name}"),
                format!("attests a checkpoint of size {size}, which the log does not keep (rolled back?)"),
            );
        }
    }
    match &outsiders.certificates {
        Some(certificates) => {
            check_tokens(&log, sizes, seal_times, &tokens, certificates, report)
        }
        None if !tokens.is_empty() => report.notes.push(format!(
            "{} time-stamp tokens in log/timestamps/ not checked: give the TSA's certificate with --tsa-cert",
            tokens.len()
        )),
        None => {}
    }
    if outsiders.witnesses.is_empty() {
        if !cosignatures.is_empty() {
            report.notes.push(format!(
                "{} checkpoints carry witness cosignatures (log/cosignatures/), not checked: give the witnesses' keys with --witness-key",
                cosignatures.len()
            ));
        }
        return;
    }
    check_cosignatures(&log, latest, &cosignatures, outsiders, report);
}

fn check_tokens(
    log: &Path,
    sizes: &[u64],
    seal_times: &BTreeMap<u64, i64>,
    tokens: &BTreeMap<u64, String>,
    certificates: &[Certificate],
    report: &mut Report,
) {
    let mut last: Option<(u64, Stamp)> = None;
    for &size in sizes {
        let Some(name) = tokens.get(&size) else {
            continue;
        };
        let place = format!("log/timestamps/{name}");
        let checkpoint = match fs::read(log.join(format!("checkpoints/{size}"))) {
            Ok(bytes) => bytes,
            Err(_) => continue, // reported by the trail check
        };
        let stamp = fs::read(log.join("timestamps").join(name))
            .map_err(|e| e.to_string())
            .and_then(|token| {
                timestamp::check_token(&token, &checkpoint, None, certificates)
                    .map_err(|e| e.to_string())
            });
        let stamp = match stamp {
            Ok(stamp) => stamp,
            Err(why) => {
                report.problem("timestamp-invalid", place, why);
                continue;
            }
        };
        if let Some(&sealed) = seal_times.get(&size) {
            if stamp.time > sealed + LATEST_STAMP_AFTER_SEAL {
                report.problem(
                    "timestamp-late",
                    &place,
                    format!(
                        "checkpoint {size} was time-stamped at {}, {} h after the run or check it seals says it began ({}): \
                         a history written later with earlier dates, or a run that took that long",
                        format_epoch_seconds(stamp.time),
                        (stamp.time - sealed) / 3600,
                        format_epoch_seconds(sealed)
                    ),
                );
            } else if stamp.time + CLOCK_SKEW < sealed {
                report.problem(
                    "timestamp-before-seal",
                    &place,
                    format!(
                        "checkpoint {size} was time-stamped at {}, before the run or check it seals began ({})",
                        format_epoch_seconds(stamp.time),
                        format_epoch_seconds(sealed)
                    ),
                );
            }
        }
        if let Some((earlier, before)) = &last {
            if stamp.time < before.time {
                report.problem(
                    "timestamp-out-of-order",
                    place,
                    format!(
                        "says checkpoint {size} existed at {}, before checkpoint {earlier} ({}): the log's history was rewritten",
                        format_epoch_seconds(stamp.time),
                        format_epoch_seconds(before.time)
                    ),
                );
            }
        }
        last = Some((size, stamp));
    }
    let latest = sizes.last().copied().unwrap_or(0);
    match last {
        Some((size, stamp)) if size == latest => report.notes.push(format!(
            "the latest checkpoint (size {size}) existed by {}, says the time-stamping authority {}",
            format_epoch_seconds(stamp.time),
            stamp.signer
        )),
        Some((size, stamp)) => report.problem(
            "timestamp-missing",
            format!("log/checkpoints/{latest}"),
            format!(
                "the latest checkpoint has no valid time-stamp token; the last time-stamped one is of size {size} ({}): \
                 either the authority did not answer (the run report says so) or the history after it was rewritten",
                format_epoch_seconds(stamp.time)
            ),
        ),
        None => report.problem(
            "timestamp-missing",
            format!("log/checkpoints/{latest}"),
            "no checkpoint of this log carries a valid time-stamp token",
        ),
    }
}

fn check_cosignatures(
    log: &Path,
    latest: u64,
    cosignatures: &BTreeMap<u64, String>,
    outsiders: &Outsiders,
    report: &mut Report,
) {
    // Per witness, the time of its last cosignature: a witness's clock
    // never runs backwards along one log.
    let mut last_time: Vec<Option<u64>> = vec![None; outsiders.witnesses.len()];
    let mut at_latest: Vec<(String, u64)> = Vec::new();
    for (&size, name) in cosignatures {
        if size > latest {
            continue;
        }
        let place = format!("log/cosignatures/{name}");
        let (Ok(lines), Ok(checkpoint)) = (
            fs::read(log.join("cosignatures").join(name)),
            fs::read(log.join(format!("checkpoints/{size}"))),
        ) else {
            continue;
        };
        let Ok(note) = Note::from_bytes(&checkpoint) else {
            continue; // reported by the trail check
        };
        for line in lines.split_inclusive(|b| *b == b'\n') {
            for (i, witness) in outsiders.witnesses.iter().enumerate() {
                match witness.check(note.text(), line) {
                    Ok(None) => {}
                    Ok(Some(time)) => {
                        if last_time[i].is_some_and(|t| time < t) {
                            report.problem(
                                "cosignature-out-of-order",
                                &place,
                                format!(
                                    "{} cosigned this checkpoint before an earlier one",
                                    witness.name()
                                ),
                            );
                        }
                        last_time[i] = Some(time);
                        if size == latest {
                            at_latest.push((witness.name().to_owned(), time));
                        }
                    }
                    Err(e) => report.problem("cosignature-invalid", &place, e.to_string()),
                }
            }
        }
    }
    at_latest.sort();
    at_latest.dedup_by(|a, b| a.0 == b.0);
    if at_latest.len() < outsiders.quorum {
        report.problem(
            "cosignature-quorum-missing",
            format!("log/checkpoints/{latest}"),
            format!(
                "the latest checkpoint is cosigned by {} of the {} witnesses you trust, {} needed: \
                 either witnesses did not answer (the run report says so) or they refused a rolled-back or rewritten log",
                at_latest.len(),
                outsiders.witnesses.len(),
                outsiders.quorum
            ),
        );
    }
    for (name, time) in at_latest {
        report.notes.push(format!(
            "the latest checkpoint (size {latest}) was cosigned by the witness {name} at {}",
            format_epoch_seconds(i64::try_from(time).unwrap_or(i64::MAX))
        ));
    }
}
