//! What every bench shares: sizes and folder from the environment, and
//! running a child process while sampling its peak memory.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` with stdout captured, reading the child's VmHWM from
/// /proc every 5 ms until it exits. Returns wall time, peak RSS in KiB and
/// what it printed.
pub(crate) fn run_sampled(command: &mut Command) -> (Duration, u64, String) {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("the measured program starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = fs::read_to_string(&status_file) {
            if let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak = peak.max(kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
            }
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    (elapsed, peak, reader.join().unwrap_or_default())
}

/// Sizes in MB from `SPOOR_BENCH_MB` (default `default`), and the folder
/// for the data (`SPOOR_BENCH_DIR`, default `target/spoor-bench`).
pub(crate) fn sizes_and_base(default: &str) -> (Vec<u64>, PathBuf) {
    let sizes = std::env::var("SPOOR_BENCH_MB")
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let base = std::env::var_os("SPOOR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spoor-bench"));
    (sizes, base)
}
