//! Teams: reading Graph chatMessage pages (see `teams_gen.rs`) into
//! normalised records, MB/s and peak RSS: a folder of 50-message pages, and
//! the same volume as one single page, which the reader must stream.
//!
//! `cargo bench --bench teams` runs 500 MB; `SPOOR_BENCH_MB`,
//! `SPOOR_BENCH_DIR` and `SPOOR_BENCH_KEEP` as for the other benches.

#[allow(dead_code)]
mod mbox_gen;
mod reader;
mod sampled;
mod teams_gen;

use std::fs;
use std::io::{BufWriter, Write};

fn main() {
    if reader::run_as_child() {
        return;
    }
    let (sizes, base) = sampled::sizes_and_base("500");
    reader::header();
    for mb in sizes {
        let dir = base.join(format!("teams-{mb}mb"));
        let _ = fs::remove_dir_all(&dir);
        let pages = dir.join("pages");
        fs::create_dir_all(&pages).expect("bench folder");
        let folder_bytes = teams_gen::write_pages(mb * 1_000_000, 42, 50, &mut |n| {
            let file = fs::File::create(pages.join(format!("page-{n:06}.json")))?;
            Ok(Box::new(BufWriter::new(file)) as Box<dyn Write>)
        })
        .expect("generate pages");
        let single = dir.join("one-page.json");
        let file = fs::File::create(&single).expect("create page");
        let mut writer = Some(Box::new(BufWriter::new(file)) as Box<dyn Write>);
        let single_bytes = teams_gen::write_pages(mb * 1_000_000, 42, u64::MAX, &mut |_| {
            writer
                .take()
                .ok_or_else(|| std::io::Error::other("one page only"))
        })
        .expect("generate one page");
        reader::measure_reader(mb, "records from pages", &pages, folder_bytes, false);
        reader::measure_reader(mb, "+ canonical lines", &pages, folder_bytes, true);
        reader::measure_reader(mb, "records, one page", &single, single_bytes, false);
        if std::env::var_os("SPOOR_BENCH_KEEP").is_none() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}
