//! Writing a package zip as a stream (APPNOTE 6.3.10): local header, data
//! and a data descriptor per entry, then the central directory, with ZIP64
//! records only where a size or offset needs them. Written here rather than
//! by the zip crate because `data/records.jsonl` needs deflate full-flush
//! points (access points, docs/FORMAT.md §4.4), which the crate's writer
//! cannot make.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// An entry whose size reaches this is written with ZIP64 sizes: deflate
/// may grow incompressible bytes a little, so the bound keeps a margin.
const LARGE_ENTRY: u64 = 0xFFFF_0000;
/// Deflate output is collected in pieces of this size.
const OUT_BUFFER: usize = 256 << 10;
/// Fixed entry date, 1980-01-01 00:00 (MS-DOS format), so packages are
/// byte-identical for the same content.
const DOS_DATE: u16 = (1 << 5) | 1;
/// Regular file, mode 0644, in the high half of the external attributes.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
/// "Made by" Unix, APPNOTE 4.5.
const MADE_BY: u16 = (3 << 8) | 45;

/// A zip being written to `out`.
pub(crate) struct ZipOut<W: Write> {
    out: W,
    written: u64,
    central: Vec<CentralEntry>,
    open: Option<OpenEntry>,
    buffer: Vec<u8>,
}

struct CentralEntry {
    name: Vec<u8>,
    deflated: bool,
    zip64: bool,
    crc32: u32,
    compressed: u64,
    size: u64,
    offset: u64,
}

struct OpenEntry {
    central: CentralEntry,
    crc: crc32fast::Hasher,
    /// Where the entry's data starts in the file.
    data_start: u64,
    deflate: Option<Compress>,
}

impl<W: Write> ZipOut<W> {
    pub(crate) fn new(out: W) -> ZipOut<W> {
        ZipOut {
            out,
            written: 0,
            central: Vec::new(),
            open: None,
            buffer: vec![0; OUT_BUFFER],
        }
    }

    /// Starts an entry of about `size` bytes (it decides whether ZIP64
    /// sizes are written), deflated at `level` or stored when `None`.
    pub(crate) fn start(&mut self, name: &str, level: Option<u32>, size: u64) -> io::Result<()> {
        self.finish_entry()?;
        let zip64 = size >= LARGE_ENTRY;
        let central = CentralEntry {
            name: name.as_bytes().to_vec(),
            deflated: level.is_some(),
            zip64,
            crc32: 0,
            compressed: 0,
            size: 0,
            offset: self.written,
        };
        let mut header = Vec::with_capacity(30 + central.name.len() + 20);
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&central.version_needed().to_le_bytes());
        header.extend_from_slice(&central.flags().to_le_bytes());
        header.extend_from_slice(&central.method().to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&DOS_DATE.to_le_bytes());
        // CRC and sizes follow in the data descriptor (flag bit 3).
        header.extend_from_slice(&0u32.to_le_bytes());
        let placeholder: u32 = if zip64 { u32::MAX } else { 0 };
        header.extend_from_slice(&placeholder.to_le_bytes());
        header.extend_from_slice(&placeholder.to_le_bytes());
        header.extend_from_slice(&(central.name.len() as u16).to_le_bytes());
        header.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        header.extend_from_slice(&central.name);
        if zip64 {
            header.extend_from_slice(&1u16.to_le_bytes());
            header.extend_from_slice(&16u16.to_le_bytes());
            header.extend_from_slice(&[0; 16]);
        }
        self.put(&header)?;
        self.open = Some(OpenEntry {
            central,
            crc: crc32fast::Hasher::new(),
            data_start: self.written,
            deflate: level.map(|l| Compress::new(Compression::new(l), false)),
        });
        Ok(())
    }

    /// Writes the entry's bytes.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let open = self.open.as_mut().ok_or_else(no_entry)?;
        open.crc.update(bytes);
        open.central.size += bytes.len() as u64;
        if open.deflate.is_some() {
            self.deflate(bytes, FlushCompress::None)
        } else {
            self.put(bytes)
        }
    }

    /// Ends the deflate data written so far with a full flush, so inflating
    /// can start at the next byte without what came before; returns the
    /// offsets of that point in the entry: uncompressed, and in its data.
    pub(crate) fn access_point(&mut self) -> io::Result<(u64, u64)> {
        self.deflate(&[], FlushCompress::Full)?;
        let open = self.open.as_ref().ok_or_else(no_entry)?;
        Ok((open.central.size, self.written - open.data_start))
    }

    /// Ends the open entry (if any) with its data descriptor; returns its
    /// CRC-32 and uncompressed length.
    pub(crate) fn finish_entry(&mut self) -> io::Result<(u32, u64)> {
        if self.open.as_ref().is_some_and(|o| o.deflate.is_some()) {
            self.deflate(&[], FlushCompress::Finish)?;
        }
        let Some(open) = self.open.take() else {
            return Ok((0, 0));
        };
        let mut central = open.central;
        central.crc32 = open.crc.finalize();
        central.compressed = self.written - open.data_start;
        if !central.zip64 && central.compressed.max(central.size) > u64::from(u32::MAX) {
            return Err(io::Error::other(format!(
                "zip entry {} grew to {} bytes, past its size estimate",
                String::from_utf8_lossy(&central.name),
                central.compressed.max(central.size)
            )));
        }
        let mut descriptor = Vec::with_capacity(24);
        descriptor.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        descriptor.extend_from_slice(&central.crc32.to_le_bytes());
        if central.zip64 {
            descriptor.extend_from_slice(&central.compressed.to_le_bytes());
            descriptor.extend_from_slice(&central.size.to_le_bytes());
        } else {
            descriptor.extend_from_slice(&(central.compressed as u32).to_le_bytes());
            descriptor.extend_from_slice(&(central.size as u32).to_le_bytes());
        }
        self.put(&descriptor)?;
        let result = (central.crc32, central.size);
        self.central.push(central);
        Ok(result)
    }

    /// Writes the central directory and the end records; returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.finish_entry()?;
        let start = self.written;
        let entries = std::mem::take(&mut self.central);
        for entry in &entries {
            let record = entry.central_record();
            self.put(&record)?;
        }
        let size = self.written - start;
        let count = entries.len() as u64;
        let mut end = Vec::with_capacity(98);
        if count >= 0xFFFF || size >= u64::from(u32::MAX) || start >= u64::from(u32::MAX) {
            let zip64_end = self.written;
            end.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            end.extend_from_slice(&44u64.to_le_bytes());
            end.extend_from_slice(&MADE_BY.to_le_bytes());
            end.extend_from_slice(&45u16.to_le_bytes());
            end.extend_from_slice(&[0; 8]);
            end.extend_from_slice(&count.to_le_bytes());
            end.extend_from_slice(&count.to_le_bytes());
            end.extend_from_slice(&size.to_le_bytes());
            end.extend_from_slice(&start.to_le_bytes());
            end.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&zip64_end.to_le_bytes());
            end.extend_from_slice(&1u32.to_le_bytes());
        }
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]);
        let count16 = count.min(0xFFFF) as u16;
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&(size.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        end.extend_from_slice(&(start.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.put(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Feeds `input` to the open entry's deflate stream with `flush`,
    /// writing out what it produces.
    fn deflate(&mut self, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            let open = self.open.as_mut().ok_or_else(no_entry)?;
            let compress = open.deflate.as_mut().ok_or_else(no_entry)?;
            let (before_in, before_out) = (compress.total_in(), compress.total_out());
            let status = compress
                .compress(input, &mut self.buffer, flush)
                .map_err(io::Error::other)?;
            let consumed = (compress.total_in() - before_in) as usize;
            let produced = (compress.total_out() - before_out) as usize;
            input = input.get(consumed..).unwrap_or(&[]);
            let out = std::mem::take(&mut self.buffer);
            let written = self.put(out.get(..produced).unwrap_or(&[]));
            self.buffer = out;
            written?;
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // The flush is complete once output space was left over.
                _ => input.is_empty() && produced < self.buffer.len(),
            };
            if done {
                return Ok(());
            }
        }
    }
}

impl CentralEntry {
    fn version_needed(&self) -> u16 {
        if self.zip64 {
            45
        } else {
            20
        }
    }

    fn flags(&self) -> u16 {
        // Bit 3: sizes in a data descriptor; bit 11: the name is UTF-8.
        if self.name.is_ascii() {
            0x0008
        } else {
            0x0808
        }
    }

    fn method(&self) -> u16 {
        if self.deflated {
            8
        } else {
            0
        }
    }

    fn central_record(&self) -> Vec<u8> {
        let max = u64::from(u32::MAX);
        // ZIP64 extra: only the fields whose 32-bit place says 0xFFFFFFFF,
        // in this order (APPNOTE 4.5.3).
        let mut zip64 = Vec::new();
        let size = if self.zip64 || self.size >= max {
            zip64.extend_from_slice(&self.size.to_le_bytes());
            u32::MAX
        } else {
            self.size as u32
        };
        let compressed = if self.zip64 || self.compressed >= max {
            zip64.extend_from_slice(&self.compressed.to_le_bytes());
            u32::MAX
        } else {
            self.compressed as u32
        };
        let offset = if self.offset >= max {
            zip64.extend_from_slice(&self.offset.to_le_bytes());
            u32::MAX
        } else {
            self.offset as u32
        };
        let extra_len = if zip64.is_empty() { 0 } else { 4 + zip64.len() };
        let mut record = Vec::with_capacity(46 + self.name.len() + extra_len);
        record.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        record.extend_from_slice(&MADE_BY.to_le_bytes());
        let needed = if zip64.is_empty() {
            self.version_needed()
        } else {
            45
        };
        record.extend_from_slice(&needed.to_le_bytes());
        record.extend_from_slice(&self.flags().to_le_bytes());
        record.extend_from_slice(&self.method().to_le_bytes());
        record.extend_from_slice(&0u16.to_le_bytes());
        record.extend_from_slice(&DOS_DATE.to_le_bytes());
        record.extend_from_slice(&self.crc32.to_le_bytes());
        record.extend_from_slice(&compressed.to_le_bytes());
        record.extend_from_slice(&size.to_le_bytes());
        record.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        record.extend_from_slice(&(extra_len as u16).to_le_bytes());
        // Comment length, disk number, internal attributes.
        record.extend_from_slice(&[0; 6]);
        record.extend_from_slice(&EXTERNAL_ATTRIBUTES.to_le_bytes());
        record.extend_from_slice(&offset.to_le_bytes());
        record.extend_from_slice(&self.name);
        if !zip64.is_empty() {
            record.extend_from_slice(&1u16.to_le_bytes());
            record.extend_from_slice(&(zip64.len() as u16).to_le_bytes());
            record.extend_from_slice(&zip64);
        }
        record
    }
}

fn no_entry() -> io::Error {
    io::Error::other("no zip entry is open")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    fn read_back(zip: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a readable zip");
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).expect("entry");
                let mut content = Vec::new();
                entry.read_to_end(&mut content).expect("content, CRC right");
                (entry.name().expect("name").into_owned(), content)
            })
            .collect()
    }

    #[test]
    fn stored_deflated_and_zip64_entries_read_back() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut zip = ZipOut::new(Vec::new());
        zip.start("top/a.txt", None, 5).expect("start");
        zip.write_all(b"hello").expect("write");
        zip.start("top/b.txt", Some(1), text.len() as u64)
            .expect("start");
        zip.write_all(&text).expect("write");
        // ZIP64 sizes on a small entry: allowed, and read the same.
        zip.start("top/ü.bin", Some(1), LARGE_ENTRY).expect("start");
        zip.write_all(&text[..1000]).expect("write");
        zip.start("top/empty", None, 0).expect("start");
        let bytes = zip.finish().expect("finish");
        let entries = read_back(bytes);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0], ("top/a.txt".to_owned(), b"hello".to_vec()));
        assert_eq!(entries[1].1, text);
        assert_eq!(entries[2].0, "top/ü.bin");
        assert_eq!(entries[2].1, text[..1000]);
        assert_eq!(entries[3].1, b"");
    }

    #[test]
    fn more_entries_than_the_classic_end_record_counts() {
        // 70,000 entries: the count only fits the ZIP64 end record.
        let mut zip = ZipOut::new(Vec::new());
        for i in 0..70_000u32 {
            zip.start(&format!("top/{i:05}"), None, 4).expect("start");
            zip.write_all(&i.to_le_bytes()).expect("write");
        }
        let bytes = zip.finish().expect("finish");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a readable zip");
        assert_eq!(archive.len(), 70_000);
        let mut last = Vec::new();
        archive
            .by_name("top/69999")
            .expect("the last entry")
            .read_to_end(&mut last)
            .expect("read");
        assert_eq!(last, 69_999u32.to_le_bytes());
    }

    #[test]
    fn inflating_from_an_access_point_needs_nothing_before_it() {
        let lines: Vec<String> = (0..50_000).map(|i| format!("record {i} aaaa\n")).collect();
        let mut zip = ZipOut::new(Vec::new());
        zip.start("r", Some(1), 1 << 20).expect("start");
        let mut points = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if i % 10_000 == 0 && i > 0 {
                points.push((i, zip.access_point().expect("flush")));
            }
            zip.write_all(line.as_bytes()).expect("write");
        }
        let bytes = zip.finish().expect("finish");
        let all: String = lines.concat();
        assert_eq!(read_back(bytes.clone())[0].1, all.as_bytes());
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes.clone())).expect("zip");
        let data_start = archive
            .by_index_raw(0)
            .expect("entry")
            .data_start()
            .expect("data start") as usize;
        for (line, (plain, packed)) in points {
            let from = &bytes[data_start + packed as usize..];
            let mut first = String::new();
            flate2::read::DeflateDecoder::new(from)
                .take(lines[line].len() as u64)
                .read_to_string(&mut first)
                .expect("inflates on its own");
            assert_eq!(first, lines[line]);
            assert_eq!(all[plain as usize..].lines().next(), Some(first.trim_end()));
        }
    }
}
