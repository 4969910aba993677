//! A package zip of any bytes is verified without a panic, each finding with a code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spoor_verify::internal::package_bytes(data);
});
