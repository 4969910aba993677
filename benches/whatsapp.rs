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
mod reader;
mod sampled;
mod whatsapp_gen;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::Command;

use reader::{records_and_seconds, report, warm};

fn main() {
    if reader::run_as_child() {
        return;
    }
    let (sizes, base) = sampled::sizes_and_base("100");
    reader::header();
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

        reader::measure_reader(mb, "records from text", &chat, chat_bytes, false);
        reader::measure_reader(mb, "+ canonical lines", &chat, chat_bytes, true);
        reader::measure_reader(mb, "records from zip", &zip, zip_bytes, false);

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

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("bench paths are UTF-8")
}
