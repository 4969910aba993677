//! The verifier's fuzz targets' bodies (fuzz/fuzz_targets/) on every
//! fixture file, whole and cut short: a package or bundle of any bytes is
//! judged without a panic. See: #22.

use std::path::Path;

#[test]
fn fuzz_bodies_hold_on_the_seed_corpus() {
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).expect("fixture");
            for cut in [bytes.len(), bytes.len() / 2] {
                spoor_verify::internal::package_bytes(&bytes[..cut]);
                spoor_verify::internal::evidence_bytes(&bytes[..cut]);
            }
            seen += 1;
        }
    }
    assert!(seen > 50, "seed corpus of {seen} files");
}
