//! The mbox splitter hands out ordered, non-overlapping messages inside the input, in every variant.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spoor_ingest::internal::mbox_split(data);
});
