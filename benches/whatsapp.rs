//! WhatsApp: ingest + normalise throughput and peak memory on generated
//! exports (see `whatsapp_gen.rs`), a text chat and a zip with media, plus
//! `spoor run` end to end on the chat.
//!
//! `cargo bench --bench whatsapp` runs 100 MB; `SPOOR_BENCH_MB=100,1000` for
//! more sizes, `SPOOR_BENCH_DIR` for where the data goes (default
//! `target/spoor-bench`, removed afterwards unless `SPOOR_BENCH_KEEP` is set).
//! With `SPOOR_BENCH_PEER` set to a folder where `npm install
//! whatsapp-chat-parser@4.0.2` was run, that parser reads the same chat for
//! a side-by-side figure (docs/PERFORMANCE.md has the commands).
//!
//! "Ingest + normalise" is reading the export into normalised records
//! (text, UTC times, ids, blobs hashed), what the peer parser's message
//! objects are to it; a second row adds turning each record into its
//! canonical JSON line, as a package holds it. The bench runs itself as a
//! child (`--ingest FILE [--canonical]`) so the child's peak RSS is the
//! reader's.

#[allow(dead_code)]
mod mbox_gen;
mod sampled;
mod whatsapp_gen;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use spoor_ingest::{read_export, Blob, Limits, Quarantined, ReadOptions, Sink};
use spoor_normalize::{Record, Sha256, Zone};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--ingest") {
        ingest(
            Path::new(&args[at + 1]),
            args.iter().any(|a| a == "--canonical"),
        );
        return;
    }
    let sizes: Vec<u64> = std::env::var("SPOOR_BENCH_MB")
        .unwrap_or_else(|_| "100".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let base = std::env::var_os("SPOOR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spoor-bench"));
    println!(
        "{:>8} {:>22} {:>10} {:>10} {:>12} {:>8}",
        "input", "what", "seconds", "MB/s", "records/s", "RSS MB"
    );
    for mb in sizes {
        let dir = base.join(format!("whatsapp-{mb}mb"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("bench folder");
        let chat = dir.join("WhatsApp-chat met Bench.txt");
        let mut out = BufWriter::new(fs::File::create(&chat).expect("create chat"));
        let chat_bytes = whatsapp_gen::write_chat(&mut out, mb * 1_000_000, 42).expect("generate");
        out.flush().expect("flush");
        drop(out);
        let zip = dir.join("WhatsApp-chat met Bench.zip");
        let zip_bytes = whatsapp_gen::write_media_zip(
            fs::File::create(&zip).expect("create zip"),
            mb * 1_000_000,
            42,
        )
        .expect("generate zip");

        for (what, input, bytes, canonical) in [
            ("records from text", &chat, chat_bytes, false),
            ("+ canonical lines", &chat, chat_bytes, true),
            ("records from zip", &zip, zip_bytes, false),
        ] {
            warm(input);
            let mut child = Command::new(std::env::current_exe().expect("own path"));
            child.arg("--ingest").arg(input);
            if canonical {
                child.arg("--canonical");
            }
            let (_, rss, said) = sampled::run_sampled(&mut child);
            let (records, seconds) = records_and_seconds(&said);
            report(mb, what, seconds, bytes, records, rss);
        }

        let store = dir.join("store");
        let key = dir.join("log.key");
        let init = Command::new(env!("CARGO_BIN_EXE_spoor"))
            .args(["init", "--key-file", path(&key), path(&store)])
            .output()
            .expect("init");
        assert!(init.status.success(), "init failed");
        warm(&chat);
        let (elapsed, rss, _) =
            sampled::run_sampled(Command::new(env!("CARGO_BIN_EXE_spoor")).args([
                "run",
                "--store",
                path(&store),
                path(&chat),
            ]));
        report(
            mb,
            "spoor run text",
            elapsed.as_secs_f64(),
            chat_bytes,
            f64::NAN,
            rss,
        );

        if let Some(peer) = std::env::var_os("SPOOR_BENCH_PEER") {
            let peer = PathBuf::from(peer);
            let script = peer.join("spoor-bench.mjs");
            fs::write(&script, PEER_SCRIPT).expect("write peer script");
            warm(&chat);
            let (_, rss, said) = sampled::run_sampled(
                Command::new("node")
                    .arg(&script)
                    .arg(&chat)
                    .current_dir(&peer),
            );
            let (records, seconds) = records_and_seconds(&said);
            report(
                mb,
                "whatsapp-chat-parser",
                seconds,
                chat_bytes,
                records,
                rss,
            );
        }
        if std::env::var_os("SPOOR_BENCH_KEEP").is_none() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// whatsapp-chat-parser 4.0.2 on the same file, timed like ours: reading
/// the file and parsing it (with attachments), printing `records seconds`.
const PEER_SCRIPT: &str = r#"import { readFileSync } from 'node:fs';
import { parseString } from 'whatsapp-chat-parser';
const start = process.hrtime.bigint();
const messages = parseString(readFileSync(process.argv[2], 'utf8'), { parseAttachments: true });
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`${messages.length} ${seconds}`);
"#;

/// A child's `records seconds` line.
fn records_and_seconds(said: &str) -> (f64, f64) {
    let mut fields = said.split_whitespace();
    let records = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let seconds = fields
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    (records, seconds)
}

fn report(mb: u64, what: &str, seconds: f64, bytes: u64, records: f64, rss_kib: u64) {
    println!(
        "{:>6}MB {:>22} {:>10.3} {:>10.0} {:>12.0} {:>8.0}",
        mb,
        what,
        seconds,
        bytes as f64 / 1e6 / seconds,
        records / seconds,
        rss_kib as f64 / 1024.0
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("bench paths are UTF-8")
}

/// Reads a file once so every contender starts from the page cache.
fn warm(path: &Path) {
    let _ = std::io::copy(
        &mut fs::File::open(path).expect("input"),
        &mut std::io::sink(),
    );
}

/// Counts records and, if asked, turns each into its canonical line.
struct Normalise {
    canonical: bool,
    records: u64,
    digest: Sha256,
}

impl Sink for Normalise {
    fn record(&mut self, record: Record, _blobs: Vec<Blob>) -> std::io::Result<()> {
        if self.canonical {
            let line = record.to_canonical_line().map_err(std::io::Error::other)?;
            // Keeps the work observable so it cannot be optimised away.
            if self.records % 4096 == 0 {
                self.digest = Sha256::of(&line);
            }
        }
        self.records += 1;
        Ok(())
    }
    fn quarantine(&mut self, _item: Quarantined) -> std::io::Result<()> {
        Ok(())
    }
}

/// The child: reads one export and prints `records seconds`.
fn ingest(input: &Path, canonical: bool) {
    let options = ReadOptions {
        export_sha256: Sha256::of(b"bench"),
        limits: Limits::default(),
        zone: Zone::get("Europe/Amsterdam").expect("zone"),
        date_order_hint: None,
    };
    let mut sink = Normalise {
        canonical,
        records: 0,
        digest: Sha256::of(b""),
    };
    let start = Instant::now();
    read_export(input, &options, &mut sink).expect("reads");
    let seconds = start.elapsed().as_secs_f64();
    println!("{} {seconds} {}", sink.records, sink.digest.to_hex());
}
