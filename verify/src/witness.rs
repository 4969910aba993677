//! A witness (C2SP tlog-witness): it keeps, for each log it is told to
//! trust, the latest checkpoint it cosigned, and cosigns a new checkpoint
//! only when it is signed by the log's key and provably consistent with
//! that one (RFC 6962 consistency proof). So a log that was rolled back or
//! forked can no longer get its cosignature: two organisations can witness
//! each other's stores, and an auditor checks the cosignatures with
//! `spoor verify --witness-key`.
//!
//! [`Witness::add_checkpoint`] is the whole protocol; the HTTP server
//! around it is the `spoor witness serve` command. State is one file per
//! log under the state folder, named by the SHA-256 of the log's origin,
//! holding the latest cosigned checkpoint.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use signed_note::{Note, StandardVerifier, VerifierList};
use spoor_normalize::cosign::Cosigner;
use spoor_normalize::Sha256;
use tlog_tiles::checkpoint::Checkpoint;
use tlog_tiles::tlog::{check_tree, Hash};

use crate::Error;

/// Most consistency proof lines a request may carry (C2SP tlog-witness).
const MAX_PROOF_LINES: usize = 63;

/// A witness: its key, the logs it trusts, and where it keeps its state.
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<(String, String)>,
    state: PathBuf,
}

/// The answer to one request: HTTP status, content type and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    /// A 409 naming the size the witness holds (`text/x.tlog.size`).
    fn conflict(size: u64) -> Answer {
        Answer {
            status: 409,
            content_type: "text/x.tlog.size",
            body: format!("{size}\n").into_bytes(),
        }
    }
}

impl Witness {
    /// A witness signing with `cosigner`, trusting the logs whose verifier
    /// keys are `log_keys` (the key's name is the log's origin), keeping
    /// its state in `state`.
    ///
    /// # Errors
    /// A log key that is not a signed-note verifier key, or a state folder
    /// that cannot be made.
    pub fn new(cosigner: Cosigner, log_keys: &[String], state: &Path) -> Result<Witness, Error> {
        let mut logs = Vec::new();
        for key in log_keys {
            let key = key.trim();
            StandardVerifier::new(key).map_err(|e| Error::Unusable {
                what: "--log key".to_owned(),
                reason: format!("{key}: {e}"),
            })?;
            let origin = key.split('+').next().unwrap_or_default().to_owned();
            logs.push((origin, key.to_owned()));
        }
        fs::create_dir_all(state).map_err(|e| Error::CannotRead {
            path: state.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Witness {
            cosigner,
            logs,
            state: state.to_owned(),
        })
    }

    /// The witness's verifier key.
    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key()
    }

    /// Handles one `POST /add-checkpoint` body at time `now` (seconds):
    /// checks it as C2SP tlog-witness says, and on success keeps the
    /// checkpoint as this log's latest and returns the cosignature line.
    /// Callers must not run two of these at once for one witness (the check
    /// and the update of the state are one step).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Answer {
        let Some((old, proof, note_bytes)) = parse_request(body) else {
            return Answer::text(
                400,
                "expected: old <size>, proof lines, an empty line, a checkpoint\n",
            );
        };
        let Ok(note) = Note::from_bytes(note_bytes) else {
            return Answer::text(400, "the checkpoint is not a signed note\n");
        };
        let Ok(checkpoint) = Checkpoint::from_bytes(note.text()) else {
            return Answer::text(400, "the note is not a checkpoint\n");
        };
        let origin = checkpoint.origin();
        let keys: Vec<&str> = self
            .logs
            .iter()
            .filter(|(o, _)| o == origin)
            .map(|(_, k)| k.as_str())
            .collect();
        if keys.is_empty() {
            return Answer::text(404, "unknown log origin\n");
        }
        let verifiers: Vec<Box<dyn signed_note::Verifier>> = keys
            .iter()
            .filter_map(|k| StandardVerifier::new(k).ok())
            .map(|v| Box::new(v) as Box<dyn signed_note::Verifier>)
            .collect();
        if note.verify(&VerifierList::new(verifiers)).is_err() {
            return Answer::text(403, "no signature by a trusted key of this log\n");
        }
        let size = checkpoint.size();
        if old > size {
            return Answer::text(400, "the old size is larger than the checkpoint's\n");
        }
        let state = self.state_path(origin);
        let latest = match fs::read(&state) {
            Ok(bytes) => match Note::from_bytes(&bytes)
                .ok()
                .and_then(|n| Checkpoint::from_bytes(n.text()).ok())
            {
                Some(c) => Some((c.size(), *c.hash())),
                None => return Answer::text(500, "the witness's state for this log is damaged\n"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => return Answer::text(500, "the witness cannot read its state\n"),
        };
        let (latest_size, latest_root) = latest.map_or((0, None), |(s, r)| (s, Some(r)));
        if old != latest_size {
            return Answer::conflict(latest_size);
        }
        let new_root = *checkpoint.hash();
        match latest_root {
            // The same size again must be the same tree, else a fork.
            Some(root) if old == size && root != new_root => {
                return Answer::conflict(latest_size);
            }
            Some(root) if old < size && check_tree(&proof, size, new_root, old, root).is_err() => {
                return Answer::text(422, "the consistency proof does not hold\n");
            }
            None if !proof.is_empty() => {
                return Answer::text(400, "a proof from size 0 must be empty\n");
            }
            _ => {}
        }
        if let Err(e) = keep(&state, note_bytes) {
            return Answer::text(500, format!("the witness cannot keep its state: {e}\n"));
        }
        Answer::text(200, self.cosigner.cosign(note.text(), now))
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.state.join(Sha256::of(origin.as_bytes()).to_hex())
    }
}

/// `old <size>\n`, up to 63 base64 hashes, an empty line, the checkpoint.
fn parse_request(body: &[u8]) -> Option<(u64, Vec<Hash>, &[u8])> {
    let mut rest = body;
    let mut next_line = || -> Option<&[u8]> {
        let end = rest.iter().position(|b| *b == b'\n')?;
        let line = &rest[..end];
        rest = &rest[end + 1..];
        Some(line)
    };
    let old = std::str::from_utf8(next_line()?.strip_prefix(b"old ")?).ok()?;
    if old.len() > 1 && old.starts_with('0') {
        return None;
    }
    let old: u64 = old.parse().ok()?;
    let mut proof = Vec::new();
    loop {
        let line = next_line()?;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return None;
        }
        proof.push(Hash::parse_hash(std::str::from_utf8(line).ok()?).ok()?);
    }
    Some((old, proof, rest))
}

/// Replaces the state file durably: a temporary file, fsync, rename, and
/// fsync of the folder, so a crash leaves the old or the new state.
fn keep(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use signed_note::StandardSigner;
    use spoor_normalize::cosign::CosignatureVerifier;
    use tlog_tiles::tlog::{prove_tree, stored_hashes, tree_hash, HashReader};

    /// A tree's stored hashes in memory.
    struct Tree(Vec<Hash>);

    impl HashReader for Tree {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::tlog::Error> {
            indexes
                .iter()
                .map(|i| {
                    self.0
                        .get(*i as usize)
                        .copied()
                        .ok_or_else(|| tlog_tiles::tlog::Error::InvalidInput("index".into()))
                })
                .collect()
        }
    }

    /// A tree of `size` entries, entry i being `[salt, i]`.
    fn tree(size: u64, salt: u8) -> Tree {
        let mut tree = Tree(Vec::new());
        for i in 0..size {
            let hashes = stored_hashes(i, &[salt, i as u8], &tree).expect("hashes");
            tree.0.extend(hashes);
        }
        tree
    }

    fn signed(signer: &StandardSigner, tree: &Tree, size: u64) -> Vec<u8> {
        let root = tree_hash(size, tree).expect("root");
        let checkpoint = Checkpoint::new("log.example/a", size, root, "").expect("checkpoint");
        let mut note = Note::new(&checkpoint.to_bytes(), &[]).expect("note");
        note.add_sigs(&[signer]).expect("sign");
        note.to_bytes()
    }

    fn request(old: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
        let mut body = format!("old {old}\n");
        for hash in proof {
            body.push_str(&format!("{hash}\n"));
        }
        body.push('\n');
        let mut body = body.into_bytes();
        body.extend_from_slice(note);
        body
    }

    #[test]
    fn cosigns_consistent_checkpoints_and_refuses_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        let (log_private, log_public) =
            signed_note::generate_key(&mut rand_core::OsRng, "log.example/a");
        let log = StandardSigner::new(&log_private).expect("log key");
        let (witness_private, witness_public) =
            Cosigner::generate("w.example/1", &mut rand_core::OsRng).expect("witness key");
        let cosigner = Cosigner::from_private_key(&witness_private).expect("witness key");
        let witness =
            Witness::new(cosigner, std::slice::from_ref(&log_public), dir.path()).expect("witness");
        let check = CosignatureVerifier::new(&witness_public).expect("verifier");

        let honest = tree(7, 0);
        let three = signed(&log, &honest, 3);
        let answer = witness.add_checkpoint(&request(0, &[], &three), 1000);
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let text = Note::from_bytes(&three).expect("note").text().to_vec();
        assert_eq!(check.check(&text, &answer.body), Ok(Some(1000)));

        // Grown from 3 to 5 with the right proof: cosigned.
        let proof = prove_tree(5, 3, &honest).expect("proof");
        let five = signed(&log, &honest, 5);
        assert_eq!(
            witness
                .add_checkpoint(&request(3, &proof, &five), 1001)
                .status,
            200
        );
        // The same again: cosigned again (an idempotent retry).
        assert_eq!(
            witness.add_checkpoint(&request(5, &[], &five), 1002).status,
            200
        );

        // An old size the witness does not hold: 409 with its size.
        let stale = witness.add_checkpoint(&request(3, &proof, &five), 1003);
        assert_eq!(
            (stale.status, stale.content_type, stale.body.as_slice()),
            (409, "text/x.tlog.size", &b"5\n"[..])
        );
        // A rolled-back log asking from scratch: 409, never a cosignature.
        assert_eq!(
            witness
                .add_checkpoint(&request(0, &[], &three), 1004)
                .status,
            409
        );

        // A fork: another tree of the same size, or grown from another
        // tree of size 5.
        let fork = tree(7, 1);
        assert_eq!(
            witness
                .add_checkpoint(&request(5, &[], &signed(&log, &fork, 5)), 1005)
                .status,
            409
        );
        let forged_proof = prove_tree(7, 5, &fork).expect("proof");
        let forked =
            witness.add_checkpoint(&request(5, &forged_proof, &signed(&log, &fork, 7)), 1006);
        assert_eq!(forked.status, 422);

        // Not the log's key, an unknown log, bad requests.
        let (stranger, _) = signed_note::generate_key(&mut rand_core::OsRng, "log.example/a");
        let stranger = StandardSigner::new(&stranger).expect("key");
        assert_eq!(
            witness
                .add_checkpoint(&request(5, &[], &signed(&stranger, &honest, 5)), 1007)
                .status,
            403
        );
        let (other, _) = signed_note::generate_key(&mut rand_core::OsRng, "log.example/b");
        let other = StandardSigner::new(&other).expect("key");
        let root = tree_hash(5, &honest).expect("root");
        let checkpoint = Checkpoint::new("log.example/b", 5, root, "").expect("checkpoint");
        let mut note = Note::new(&checkpoint.to_bytes(), &[]).expect("note");
        note.add_sigs(&[&other]).expect("sign");
        assert_eq!(
            witness
                .add_checkpoint(&request(0, &[], &note.to_bytes()), 1008)
                .status,
            404
        );
        assert_eq!(
            witness.add_checkpoint(&request(6, &[], &five), 1009).status,
            400
        );
        assert_eq!(witness.add_checkpoint(b"old 05\n\n", 1010).status, 400);
        assert_eq!(witness.add_checkpoint(b"garbage", 1011).status, 400);

        // And the state survives a restart: a new witness over the same
        // folder holds size 5.
        let cosigner = Cosigner::from_private_key(&witness_private).expect("witness key");
        let restarted = Witness::new(cosigner, &[log_public], dir.path()).expect("witness");
        assert_eq!(
            restarted
                .add_checkpoint(&request(0, &[], &three), 1012)
                .body,
            b"5\n"
        );
    }
}
