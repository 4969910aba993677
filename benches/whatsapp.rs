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
//! A "floor" row measures what any reader of the chat must do per record
//! whatever its design: find the line, and take the two SHA-256 the record
//! format asks for (the item's bytes, and the id's canonical JSON array of
//! chat, time, sender, body and occurrence), on every core.
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--floor") {
        floor(std::path::Path::new(&args[at + 1]));
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

        warm(&chat);
        let (_, rss, said) = sampled::run_sampled(
            Command::new(std::env::current_exe().expect("own path"))
                .arg("--floor")
                .arg(&chat),
        );
        let (records, seconds) = records_and_seconds(&said);
        report(
            mb,
            "floor: find + 2 SHA-256",
            seconds,
            chat_bytes,
            records,
            rss,
        );
        reader::measure_reader(mb, "records from text", &chat, chat_bytes, false);
        reader::measure_reader(mb, "+ canonical lines", &chat, chat_bytes, true);
        reader::measure_reader(mb, "records from zip", &zip, zip_bytes, false);
        // One "message" the size of the whole chat (a pasted file), as one
        // line and as many: quarantined by place past the chat limit, in
        // time and memory that do not grow with it (#18).
        for (what, one_line) in [("one huge line", true), ("one huge message", false)] {
            let long = dir.join(format!("WhatsApp-chat met Lang {one_line}.txt"));
            let bytes = write_long_message(&long, mb * 1_000_000, one_line);
            reader::measure_reader(mb, what, &long, bytes, false);
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

/// The floor child: each core takes an equal part of the file, finds each
/// message (a header line and the lines after it) and hashes it twice as
/// the reader must (no header parsing, no survey, no time zone, no record);
/// prints `messages seconds`.
fn floor(chat: &std::path::Path) {
    use spoor_normalize::{RecordId, Sha256};
    use std::io::{BufRead, Seek};
    let start = std::time::Instant::now();
    let len = fs::metadata(chat).expect("chat").len();
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let lines: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..parts)
            .map(|i| {
                scope.spawn(move || {
                    let (from, to) = (len * i / parts, len * (i + 1) / parts);
                    let mut file = fs::File::open(chat).expect("chat");
                    file.seek(std::io::SeekFrom::Start(from)).expect("seek");
                    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
                    let mut at = from;
                    if from > 0 {
                        at += input.skip_until(b'\n').expect("read") as u64;
                    }
                    let (mut item, mut count) = (Vec::new(), 0u64);
                    let mut hash = |item: &[u8]| {
                        // `DD-MM-YYYY HH:MM - ` is 19 bytes.
                        let text = std::str::from_utf8(item.get(19..).unwrap_or_default())
                            .unwrap_or_default();
                        let (sender, body) = text.split_once(": ").unwrap_or(("", text));
                        let id = RecordId::derive(
                            "whatsapp",
                            &["whatsapp:Bench", "2023-01-13T00:00:00", sender, body, "1"],
                        );
                        std::hint::black_box((Sha256::of(item), id));
                        count += 1;
                    };
                    // A line that starts like a header starts a message; the
                    // lines after it up to the next one are its body.
                    let mut line = Vec::new();
                    while at < to {
                        line.clear();
                        let n = input.read_until(b'\n', &mut line).expect("read");
                        if n == 0 {
                            break;
                        }
                        at += n as u64;
                        if line.get(16..19) == Some(b" - ") && !item.is_empty() {
                            hash(&item);
                            item.clear();
                        }
                        item.extend_from_slice(&line);
                    }
                    if !item.is_empty() {
                        hash(&item);
                    }
                    count
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("floor thread"))
            .sum()
    });
    println!("{lines} {}", start.elapsed().as_secs_f64());
}

/// A chat of three messages, the middle one `bytes` long: one line, or
/// lines of 18 bytes. Returns the file's size.
fn write_long_message(path: &std::path::Path, bytes: u64, one_line: bool) -> u64 {
    let mut out = BufWriter::new(fs::File::create(path).expect("create chat"));
    let piece: &[u8] = if one_line {
        b"lang bericht lang "
    } else {
        b"lang bericht lang\n"
    };
    out.write_all(b"25-03-2024 10:00 - Jan: hoi\n25-03-2024 10:01 - Piet: begin ")
        .expect("write");
    for _ in 0..bytes / piece.len() as u64 {
        out.write_all(piece).expect("write");
    }
    out.write_all(b"\n25-03-2024 10:02 - Jan: klaar\n")
        .expect("write");
    out.flush().expect("flush");
    fs::metadata(path).expect("chat").len()
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("bench paths are UTF-8")
}
