//! An evidence bundle of any bytes is never proven, and never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spoor_verify::internal::evidence_bytes(data);
});
