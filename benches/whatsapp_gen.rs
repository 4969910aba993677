//! A deterministic generator of WhatsApp exports of any size, shaped like
//! Dutch Android exports (`DD-MM-YYYY HH:MM - Name: text`): multi-line
//! messages, profile-name and phone-number senders, system lines,
//! attachments and omitted media. The same seed and size give the same bytes.

use std::io::{self, Seek, Write};

use crate::mbox_gen::{civil, Rng, NAMES, WORDS};

/// Senders besides the contact names: a self-chosen profile name and a
/// phone number, as WhatsApp writes them.
const OTHER_SENDERS: &[&str] = &["~\u{202f}Pieter", "+31 6 12345678"];

/// 2023-01-13 in days since 1970-01-01 (a day above 12, so even a short
/// chat has a decidable date order).
const START_DAY: u64 = 19_370;

struct Clock {
    minutes: u64,
}

impl Clock {
    fn header(&mut self, rng: &mut Rng) -> String {
        self.minutes += rng.below(40);
        let (y, m, d) = civil(START_DAY + self.minutes / 1440);
        let minute_of_day = self.minutes % 1440;
        format!(
            "{d:02}-{m:02}-{y} {:02}:{:02} - ",
            minute_of_day / 60,
            minute_of_day % 60
        )
    }
}

fn sender(rng: &mut Rng) -> &'static str {
    if rng.below(20) == 0 {
        rng.pick(OTHER_SENDERS)
    } else {
        rng.pick(NAMES)
    }
}

/// `min` to `min + spread - 1` random words.
fn words(rng: &mut Rng, min: u64, spread: u64) -> String {
    let n = min + rng.below(spread);
    let mut text = String::new();
    for i in 0..n {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(rng.pick(WORDS));
    }
    text
}

/// One message line (and its continuation), ending in LF. `media` names
/// the file an attachment line references, if one should.
fn message(rng: &mut Rng, clock: &mut Clock, media: Option<&str>) -> String {
    let header = clock.header(rng);
    let who = sender(rng);
    if let Some(name) = media {
        return format!(
            "{header}{who}: {name} (bestand bijgevoegd)\n{}\n",
            words(rng, 4, 1)
        );
    }
    match rng.below(100) {
        0 => format!(
            "{header}{} heeft {} toegevoegd\n",
            rng.pick(NAMES),
            rng.pick(NAMES)
        ),
        1 => format!("{header}{who}: <Media weggelaten>\n"),
        2..=11 => {
            let first = words(rng, 3, 12);
            let second = words(rng, 2, 10);
            format!("{header}{who}: {first}\n{second}\n")
        }
        _ => format!("{header}{who}: {}\n", words(rng, 2, 14)),
    }
}

/// Writes a text export of about `target` bytes; returns the bytes written.
pub(crate) fn write_chat(out: &mut impl Write, target: u64, seed: u64) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let mut clock = Clock { minutes: 0 };
    let mut written = 0u64;
    while written < target {
        let line = message(&mut rng, &mut clock, None);
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// Writes an Android export "with media" of about `target` bytes, mostly
/// photos (random bytes, stored as WhatsApp stores JPEGs: uncompressed).
/// Returns the zip's size.
pub(crate) fn write_media_zip<W: Write + Seek>(out: W, target: u64, seed: u64) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let mut clock = Clock { minutes: 0 };
    let mut zip = zip::ZipWriter::new(out);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut chat = String::new();
    let mut media_bytes = 0u64;
    let mut photo = vec![0u8; 512 * 1024];
    let mut index = 0u64;
    while media_bytes + chat.len() as u64 + 1024 < target {
        if rng.below(5) == 0 {
            index += 1;
            let name = format!("IMG-20230101-WA{index:05}.jpg");
            chat.push_str(&message(&mut rng, &mut clock, Some(&name)));
            let size = (64 * 1024 + rng.below(448 * 1024)) as usize;
            rng.fill(&mut photo[..size]);
            zip.start_file(name.as_str(), stored)
                .map_err(io::Error::other)?;
            zip.write_all(&photo[..size])?;
            media_bytes += size as u64;
        } else {
            chat.push_str(&message(&mut rng, &mut clock, None));
        }
    }
    let deflated = zip::write::SimpleFileOptions::default();
    zip.start_file("WhatsApp-chat met Bench.txt", deflated)
        .map_err(io::Error::other)?;
    zip.write_all(chat.as_bytes())?;
    let mut out = zip.finish().map_err(io::Error::other)?;
    out.stream_position()
}
