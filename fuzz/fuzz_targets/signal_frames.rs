//! Signal's frame decoder and framed stream reader never panic; every failure is a fault.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spoor_ingest::internal::signal_frames(data);
});
