//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`), each checking a
//! property on arbitrary bytes. `cargo test` runs them on the fixtures too,
//! so they build and hold on stable; `cargo fuzz` explores from there.

use std::io::{self, Cursor, Read};

use spoor_normalize::{Record, Sha256, Zone};

use crate::email::mbox::{split_mbox, MboxVariant};
use crate::read::{Blob, Limits, Quarantined, ReadOptions, Sink};
use crate::signal::crypto::Passphrase;
use crate::signal::frames::Frames;
use crate::signal::proto;

/// Signal's frame reader: the frame decoder on the bytes as they are, then
/// the framed stream (header, keys, frames) with a fixed passphrase. Never
/// panics; every failure is a fault.
pub fn signal_frames(data: &[u8]) {
    let _ = proto::decode(data);
    let _ = proto::reaction_list(data);
    let Ok(passphrase) = Passphrase::parse("000000000000000000000000000000") else {
        return;
    };
    if let Ok(mut frames) = Frames::open(Cursor::new(data), &passphrase) {
        // Bounded: each frame read consumes input, so this ends.
        while let Ok(Some(_)) = frames.next(1 << 20) {}
    }
}

/// The mbox splitter, in every variant: the messages it hands out are in
/// order, do not overlap, and lie inside the input.
pub fn mbox_split(data: &[u8]) {
    for variant in [
        MboxVariant::Mboxo,
        MboxVariant::Mboxrd,
        MboxVariant::Mboxcl,
        MboxVariant::Mboxcl2,
    ] {
        let mut end = 0u64;
        let split = split_mbox(data, variant, 1 << 16, |message| -> Result<(), ()> {
            let [start, stop] = message.range;
            assert!(
                start >= end,
                "{variant:?}: message at {start} overlaps {end}"
            );
            assert!(stop >= start, "{variant:?}: range {start}..{stop}");
            assert!(stop <= data.len() as u64, "{variant:?}: past the end");
            end = stop;
            Ok(())
        });
        assert!(
            split.is_ok(),
            "{variant:?}: reading from memory cannot fail"
        );
    }
}

/// One file read as an export (a zip when `name` ends in `.zip`): never
/// panics, and every item it hands out is counted in the summary.
pub fn read_file(data: &[u8], name: &str) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join(name);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let Ok(zone) = Zone::get("UTC") else {
        return;
    };
    let options = ReadOptions {
        export_sha256: Sha256::of(data),
        limits: Limits::default(),
        zone,
        date_order_hint: None,
        signal_passphrase: None,
        signal_recovery_key: None,
        work_dir: dir.path().to_owned(),
    };
    let mut sink = Count::default();
    if let Ok(summary) = crate::read_export(&path, &options, &mut sink) {
        assert_eq!(summary.records, sink.records, "records handed out");
        assert_eq!(summary.quarantined, sink.quarantined, "items quarantined");
    }
}

/// A sink that only counts.
#[derive(Default)]
struct Count {
    records: u64,
    quarantined: u64,
}

impl Sink for Count {
    fn record(&mut self, _record: Record, _blobs: Vec<Blob>) -> io::Result<()> {
        self.records += 1;
        Ok(())
    }
    fn quarantine(&mut self, _item: Quarantined) -> io::Result<()> {
        self.quarantined += 1;
        Ok(())
    }
    fn blob(&mut self, bytes: &mut dyn Read) -> io::Result<(Sha256, u64)> {
        spoor_normalize::hash_reader(bytes)
    }
}
