//! Signal: decrypt + replay + normalise of a generated legacy `.backup`
//! (mostly attachment bytes), MB/s and peak RSS, next to this machine's
//! HMAC-SHA256 speed (every attachment byte is authenticated once).
//!
//! `cargo bench --bench signal` makes 1000 MB; `SPOOR_BENCH_MB`,
//! `SPOOR_BENCH_DIR` and `SPOOR_BENCH_KEEP` as for the other benches.

#[allow(dead_code)]
mod mbox_gen;
mod reader;
mod sampled;

use std::fs;
use std::io::Write;
use std::time::Instant;

use hmac::Mac;
use spoor_ingest::internal::{BackupWriter, SqlParam as P};
use spoor_ingest::Passphrase;

const PASSPHRASE: &str = "12345 67890 12345 67890 12345 67890";

fn main() {
    if reader::run_as_child() {
        return;
    }
    let (sizes, base) = sampled::sizes_and_base("1000");
    println!(
        "hmac-sha256 (one core, 256 MiB in memory): {:.0} MB/s",
        hmac_speed()
    );
    reader::header();
    for mb in sizes {
        let dir = base.join(format!("signal-{mb}mb"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("bench folder");
        let path = dir.join("signal-bench.backup");
        let bytes = write_backup(&path, mb * 1_000_000);
        std::env::set_var("SPOOR_SIGNAL_PASSPHRASE", PASSPHRASE);
        reader::measure_reader(mb, "records from backup", &path, bytes, false);
        if std::env::var_os("SPOOR_BENCH_KEEP").is_none() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// A backup of about `target` bytes: a modern schema, one message per
/// photo of 64 KiB to 4 MiB (random bytes), streamed to `path`.
fn write_backup(path: &std::path::Path, target: u64) -> u64 {
    let passphrase = Passphrase::parse(PASSPHRASE).expect("valid");
    let mut w = BackupWriter::new(&passphrase, [3; 16], [4; 32], 1);
    let mut out = std::io::BufWriter::new(fs::File::create(path).expect("create"));
    w.database_version(215);
    w.statement("CREATE TABLE recipient (_id INTEGER PRIMARY KEY, aci TEXT, e164 TEXT, system_joined_name TEXT)", vec![]);
    w.statement(
        "CREATE TABLE thread (_id INTEGER PRIMARY KEY, recipient_id INTEGER)",
        vec![],
    );
    w.statement("CREATE TABLE message (_id INTEGER PRIMARY KEY, thread_id INTEGER, from_recipient_id INTEGER, date_sent INTEGER, body TEXT, type INTEGER)", vec![]);
    w.statement("CREATE TABLE attachment (_id INTEGER PRIMARY KEY, message_id INTEGER, content_type TEXT, file_name TEXT)", vec![]);
    w.statement(
        "INSERT INTO recipient VALUES (?, ?, ?, ?)",
        vec![
            P::Integer(2),
            P::Null,
            P::Text("+31612345678".into()),
            P::Text("Bram Jansen".into()),
        ],
    );
    w.statement(
        "INSERT INTO thread VALUES (?, ?)",
        vec![P::Integer(1), P::Integer(2)],
    );
    let mut rng = mbox_gen::Rng::new(42);
    let mut photo = vec![0u8; 4 << 20];
    let mut written = 0u64;
    let mut id = 0i64;
    while written < target {
        id += 1;
        let size = (64 * 1024 + rng.below(4 * 1024 * 1024 - 64 * 1024)) as usize;
        rng.fill(&mut photo[..size]);
        w.statement(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                P::Integer(id),
                P::Integer(1),
                P::Integer(2),
                P::Integer(1_709_283_600_000 + id * 1000),
                P::Text(format!("foto {id}")),
                P::Integer(20),
            ],
        );
        w.statement(
            "INSERT INTO attachment VALUES (?, ?, ?, ?)",
            vec![
                P::Integer(id),
                P::Integer(id),
                P::Text("image/jpeg".into()),
                P::Text(format!("IMG_{id}.jpg")),
            ],
        );
        w.attachment(id as u64, &photo[..size], false);
        let chunk = w.take_bytes();
        written += chunk.len() as u64;
        out.write_all(&chunk).expect("write");
    }
    w.end();
    let chunk = w.take_bytes();
    written += chunk.len() as u64;
    out.write_all(&chunk).expect("write");
    out.flush().expect("flush");
    written
}

fn hmac_speed() -> f64 {
    let mut data = vec![0u8; 256 << 20];
    mbox_gen::Rng::new(7).fill(&mut data);
    let start = Instant::now();
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&[1; 32]).expect("any key length");
    mac.update(&data);
    let tag = mac.finalize().into_bytes();
    let secs = start.elapsed().as_secs_f64();
    assert_ne!(tag[0] as u32 + 1, 0);
    data.len() as f64 / 1e6 / secs
}
