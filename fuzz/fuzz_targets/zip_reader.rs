//! A zip export (WhatsApp with media, Signal zipped) is read without a panic, every item counted.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spoor_ingest::internal::read_file(data, "export.zip");
});
