//! Scale of the audit trail: appends record entries in runs (publishing a
//! signed checkpoint after each), then reports the time per run, the disk
//! use of tiles and entry bundles, the time to produce and to check one
//! inclusion proof, the time to verify the whole log, and peak RSS after
//! each phase.
//!
//! `cargo bench --bench trail` appends 1,000,000 entries in runs of
//! 100,000; `SPOOR_TRAIL_LEAVES=10000000` for the figure in
//! docs/PERFORMANCE.md. `SPOOR_BENCH_DIR` chooses where the log goes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use spoor_archive::internal::Log;
use tlog_tiles::tlog::{check_record, record_hash, Hash};

fn main() {
    let leaves: u64 = env_number("SPOOR_TRAIL_LEAVES", 1_000_000);
    let per_run: u64 = env_number("SPOOR_TRAIL_RUN", 100_000);
    let base = std::env::var_os("SPOOR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spoor-bench"));
    let store = base.join("trail-store");
    let _ = fs::remove_dir_all(&store);
    let log_dir = store.join("log");
    fs::create_dir_all(&log_dir).expect("bench folder");
    let origin = "spoor/bench";
    let (private_key, public_key) = signed_note::generate_key(&mut rand_core::OsRng, origin);
    let signer = signed_note::StandardSigner::new(&private_key).expect("signer");
    fs::write(log_dir.join("public-key"), format!("{public_key}\n")).expect("key");

    println!("appending {leaves} record entries in runs of {per_run}");
    let start = Instant::now();
    let mut slowest = 0f64;
    let mut appended = 0u64;
    let mut run = 0u64;
    while appended < leaves {
        let run_start = Instant::now();
        let mut log = Log::open(&log_dir, origin).expect("open log");
        let this_run = per_run.min(leaves - appended).saturating_sub(1);
        for i in 0..this_run {
            let n = appended + i;
            let entry = format!(
                r#"{{"hash":"{:064x}","id":"{:064x}","package_id":"p-{:032x}","type":"record"}}"#,
                n,
                n,
                n / 1000
            );
            log.append(entry.into_bytes()).expect("append");
        }
        let seal = format!(r#"{{"run_id":"r-{run}","type":"run"}}"#);
        log.append(seal.into_bytes()).expect("append");
        log.publish(&signer).expect("publish");
        appended += this_run + 1;
        run += 1;
        slowest = slowest.max(run_start.elapsed().as_secs_f64());
    }
    let append_time = start.elapsed().as_secs_f64();
    println!(
        "append: {:.1} s in {run} runs ({:.0} entries/s, slowest run {:.2} s), peak RSS {} MB",
        append_time,
        leaves as f64 / append_time,
        slowest,
        peak_rss_mb()
    );
    let (tiles, bundles) = disk_use(&log_dir.join("tile"));
    println!(
        "disk: hash tiles {:.1} MB, entry bundles {:.1} MB",
        tiles as f64 / 1e6,
        bundles as f64 / 1e6
    );

    let log = Log::open(&log_dir, origin).expect("open log");
    let head = Log::head(&log_dir).expect("head").expect("a checkpoint");
    let mut produce = Vec::new();
    let mut check = Vec::new();
    for k in 0..100u64 {
        let index = (k * 7_919_993) % head.size;
        let t = Instant::now();
        let proof: Vec<Hash> = log
            .prove(index)
            .expect("proof")
            .iter()
            .map(|h| Hash::parse_hash(h).expect("base64 hash"))
            .collect();
        let entry = log.entry(index).expect("entry");
        produce.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        check_record(
            &proof,
            head.size,
            Hash(head.root),
            index,
            record_hash(&entry),
        )
        .expect("proof checks");
        check.push(t.elapsed().as_secs_f64() * 1e3);
    }
    produce.sort_by(f64::total_cmp);
    check.sort_by(f64::total_cmp);
    println!(
        "one proof (100 random leaves, cold cache for the first): produce median {:.3} ms, max {:.3} ms; check median {:.3} ms, max {:.3} ms",
        produce[50], produce[99], check[50], check[99]
    );
    println!("peak RSS after the proofs: {} MB", peak_rss_mb());

    let t = Instant::now();
    let report = spoor_verify::internal::verify_log(&store, &public_key).expect("usable key");
    println!(
        "verify the whole log: {:.1} s, {} problems, peak RSS {} MB",
        t.elapsed().as_secs_f64(),
        report.findings.len(),
        peak_rss_mb()
    );
    assert!(report.is_intact(), "{:?}", report.findings.first());
    if std::env::var_os("SPOOR_BENCH_KEEP").is_none() {
        let _ = fs::remove_dir_all(&store);
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mb() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                })
            })
        })
        .unwrap_or(0)
        / 1024
}

/// Bytes in hash tiles and in entry bundles under `tile/`.
fn disk_use(dir: &Path) -> (u64, u64) {
    let (mut tiles, mut bundles) = (0, 0);
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(meta) = entry.metadata() {
                if path
                    .strip_prefix(dir)
                    .is_ok_and(|p| p.starts_with("entries"))
                {
                    bundles += meta.len();
                } else {
                    tiles += meta.len();
                }
            }
        }
    }
    (tiles, bundles)
}
