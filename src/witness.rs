//! `spoor witness`: make a witness key, and serve C2SP tlog-witness
//! `add-checkpoint` over HTTP for the logs given.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use spoor_normalize::cosign::Cosigner;
use spoor_verify::{Answer, Witness};

/// Largest request body read (a checkpoint with 63 proof lines and a few
/// signatures is some 3 KB).
const MAX_BODY: u64 = 64 * 1024;

/// The subcommands of `spoor witness`.
#[derive(clap::Subcommand)]
pub(crate) enum WitnessCommand {
    /// Make a witness key pair: the private key goes to --key-file (mode
    /// 0600), the verifier key is printed for the logs and auditors.
    #[command(after_help = crate::PLAIN_EXIT_CODES)]
    Init {
        /// The witness's name (a schema-less URL, e.g. archief.example/witness).
        #[arg(long)]
        name: String,
        /// Where to write the private key; must not exist.
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Serve `POST /add-checkpoint` for the logs given, until stopped.
    /// Prints `listening on http://ADDR` once ready.
    #[command(after_help = crate::PLAIN_EXIT_CODES)]
    Serve {
        /// The witness's private key file (from `spoor witness init`).
        #[arg(long)]
        key_file: PathBuf,
        /// Where the witness keeps the latest checkpoint it cosigned for
        /// each log.
        #[arg(long)]
        state: PathBuf,
        /// A log to witness: its verifier key (`spoor.toml`'s
        /// log_public_key); repeat for each log.
        #[arg(long = "log-key", required = true)]
        log_keys: Vec<String>,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: String,
    },
}

pub(crate) fn witness_command(out: &mut impl Write, command: WitnessCommand) -> anyhow::Result<u8> {
    match command {
        WitnessCommand::Init { name, key_file } => {
            let (private, public) = Cosigner::generate(&name, &mut rand_core::OsRng)?;
            write_private_key(&key_file, &private)?;
            writeln!(
                out,
                "private witness key: {} (keep it safe)",
                key_file.display()
            )?;
            writeln!(
                out,
                "witness verifier key (give it to logs and auditors): {public}"
            )?;
            Ok(0)
        }
        WitnessCommand::Serve {
            key_file,
            state,
            log_keys,
            listen,
        } => {
            let text = std::fs::read_to_string(&key_file)
                .with_context(|| format!("{}: cannot read the witness key", key_file.display()))?;
            let cosigner = Cosigner::from_private_key(&text)
                .with_context(|| format!("{}: not a witness key", key_file.display()))?;
            let witness = Witness::new(cosigner, &log_keys, &state)?;
            serve(out, &witness, &listen)
        }
    }
}

fn write_private_key(path: &Path, key: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("{}: cannot create the key file", path.display()))?;
    file.write_all(format!("{key}\n").as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Answers requests one at a time, so checking a log's latest size and
/// keeping the new one are never interleaved.
fn serve(out: &mut impl Write, witness: &Witness, listen: &str) -> anyhow::Result<u8> {
    let server = tiny_http::Server::http(listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let address = server
        .server_addr()
        .to_ip()
        .map_or_else(|| listen.to_owned(), |a| a.to_string());
    writeln!(
        out,
        "witness {} listening on http://{address}",
        witness.verifier_key()
    )?;
    out.flush()?;
    for mut request in server.incoming_requests() {
        let answer = if request.url() != "/add-checkpoint" {
            Answer::text(404, b"only /add-checkpoint is served here\n".to_vec())
        } else if *request.method() != tiny_http::Method::Post {
            Answer::text(405, b"POST only\n".to_vec())
        } else {
            let mut body = Vec::new();
            match request
                .as_reader()
                .take(MAX_BODY + 1)
                .read_to_end(&mut body)
            {
                Ok(_) if body.len() as u64 > MAX_BODY => {
                    Answer::text(413, b"request too large\n".to_vec())
                }
                Ok(_) => witness.add_checkpoint(&body, now()),
                Err(e) => Answer::text(400, format!("cannot read the request: {e}\n").into_bytes()),
            }
        };
        tracing::info!(status = answer.status, "witness answered");
        let mut response =
            tiny_http::Response::from_data(answer.body).with_status_code(answer.status);
        if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", answer.content_type) {
            response = response.with_header(header);
        }
        if let Err(e) = request.respond(response) {
            tracing::warn!(error = %e, "could not answer a request");
        }
    }
    Ok(0)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
