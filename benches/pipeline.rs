//! Throughput and peak memory of `spoor run` and `spoor verify` on generated
//! mbox files (see `mbox_gen.rs`), next to this machine's SHA-256 speed.
//!
//! `cargo bench --bench pipeline` runs 100 MB; set `SPOOR_BENCH_MB=100,1000`
//! for more sizes and `SPOOR_BENCH_DIR` for where the data goes (default
//! `target/spoor-bench`; it is removed afterwards unless `SPOOR_BENCH_KEEP` is set). Peak RSS is the child's
//! VmHWM from /proc, sampled every 5 ms until it exits.

mod mbox_gen;
mod sampled;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let (sizes, base) = sampled::sizes_and_base("100");
    let sha = sha256_speed();
    println!(
        "sha256 (sha2, one core, 256 MiB in memory): {:.0} MB/s",
        sha
    );
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>10} {:>12} {:>10}",
        "input", "workload", "run MB/s", "run RSS MB", "verify MB/s", "verify RSS MB", "of sha256"
    );
    for mb in sizes {
        for (workload, share) in [("mail", 10u64), ("attach", 100u64)] {
            let dir = base.join(format!("{mb}mb-{workload}"));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("bench folder");
            let mbox = dir.join("bench.mbox");
            let mut out = BufWriter::new(fs::File::create(&mbox).expect("create mbox"));
            let bytes =
                mbox_gen::write_mbox(&mut out, mb * 1_000_000, 42, share).expect("generate");
            out.flush().expect("flush");
            drop(out);
            let store = dir.join("store");
            let key = dir.join("log.key");
            let (_, _) = measure(&["init", "--key-file", path(&key), path(&store)], None);
            let (run_time, run_rss) =
                measure(&["run", "--store", path(&store), path(&mbox)], Some(&mbox));
            let (verify_time, verify_rss) =
                measure(&["verify", "--store", path(&store)], Some(&store));
            let checked = checked_bytes(&store);
            let run_mbs = bytes as f64 / 1e6 / run_time.as_secs_f64();
            let verify_mbs = checked as f64 / 1e6 / verify_time.as_secs_f64();
            println!(
                "{:>6}MB {:>10} {:>10.0} {:>12.0} {:>10.0} {:>12.0} {:>9.0}%",
                mb,
                workload,
                run_mbs,
                run_rss as f64 / 1024.0,
                verify_mbs,
                verify_rss as f64 / 1024.0,
                100.0 * verify_mbs / sha
            );
            if std::env::var_os("SPOOR_BENCH_KEEP").is_none() {
                let _ = fs::remove_dir_all(&dir);
            }
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("bench paths are UTF-8")
}

/// Runs spoor, returning wall time and peak RSS in KiB.
///
/// Before each step, dirty pages are written out. Before `run` and `verify`,
/// where the bench may (as root), the page cache is also emptied and what
/// the step reads is read once (`warm`, a file or a folder): on this kind of
/// virtual machine, writing while the cache is full of earlier data costs
/// several times more system time, which would make each run pay for the
/// steps before it; and `run` drops the package it writes from the cache,
/// so without this `verify` would measure the disk, not itself.
fn measure(args: &[&str], warm: Option<&Path>) -> (Duration, u64) {
    let _ = Command::new("sync").status();
    if let Some(path) = warm {
        let _ = fs::write("/proc/sys/vm/drop_caches", "3\n");
        read_all(path);
    }
    let (elapsed, peak, _) =
        sampled::run_sampled(Command::new(env!("CARGO_BIN_EXE_spoor")).args(args));
    (elapsed, peak)
}

/// Reads a file, or every file under a folder, once.
fn read_all(path: &Path) {
    if path.is_dir() {
        for entry in fs::read_dir(path).expect("bench folder").flatten() {
            read_all(&entry.path());
        }
    } else {
        let _ = std::io::copy(
            &mut fs::File::open(path).expect("bench file"),
            &mut std::io::sink(),
        );
    }
}

fn checked_bytes(store: &Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_spoor"))
        .args(["verify", "--json", "--store", path(store)])
        .output()
        .expect("verify runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verify JSON");
    report["bytes"].as_u64().unwrap_or(0)
}

fn sha256_speed() -> f64 {
    let mut data = vec![0u8; 256 << 20];
    mbox_gen::Rng::new(7).fill(&mut data);
    let start = Instant::now();
    let digest = spoor_normalize::Sha256::of(&data);
    let secs = start.elapsed().as_secs_f64();
    assert_ne!(digest.to_hex(), "");
    data.len() as f64 / 1e6 / secs
}
