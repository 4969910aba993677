//! A deterministic generator of realistic mbox files of any size: varied
//! headers, Dutch text, multipart messages with base64 attachments, HTML
//! alternatives, quoted `>From ` lines. The same seed and size always give
//! the same bytes.

use std::io::{self, Write};

/// xorshift64*: small, fast, and the same everywhere.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub(crate) const NAMES: &[&str] = &[
    "Jan de Vries",
    "Anna Bakker",
    "Pieter Smit",
    "Fatima el Amrani",
    "Joost van Dijk",
    "Sanne Visser",
    "Mohammed Yilmaz",
    "Eva Jansen",
    "Daan Mulder",
    "Lotte de Boer",
    "Zoë Meijer",
    "Bram Hendriks",
];
const DOMAINS: &[&str] = &[
    "ministerie.example",
    "gemeente.example",
    "provincie.example",
    "rijksoverheid.example",
];
const SUBJECTS: &[&str] = &[
    "Besluit over de subsidieaanvraag",
    "Verslag overleg",
    "Concept kamerbrief",
    "Planning begroting",
    "Afstemming Woo-verzoek",
    "Agenda stuurgroep",
    "Reactie op advies",
    "Stand van zaken project",
];
pub(crate) const WORDS: &[&str] = &[
    "het",
    "de",
    "een",
    "besluit",
    "wij",
    "gaan",
    "akkoord",
    "met",
    "voorstel",
    "begroting",
    "overleg",
    "minister",
    "gemeente",
    "termijn",
    "advies",
    "uitvoering",
    "coördinatie",
    "financiën",
    "€",
    "12.500",
    "vergadering",
    "verslag",
    "afspraak",
    "collega's",
    "beleid",
    "onderzoek",
    "burgers",
    "zorgvuldig",
];

fn address(rng: &mut Rng) -> (String, String) {
    let name = rng.pick(NAMES).to_owned();
    let local: String = name
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(".");
    let local: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    (name, format!("{local}@{}", rng.pick(DOMAINS)))
}

fn paragraph(rng: &mut Rng, words: u64) -> String {
    let mut text = String::new();
    for i in 0..words {
        if i > 0 {
            text.push(if i % 12 == 0 { '\n' } else { ' ' });
        }
        text.push_str(rng.pick(WORDS));
    }
    text
}

fn base64_lines(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + bytes.len() / 57 + 4);
    for line in bytes.chunks(57) {
        for chunk in line.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
                if i <= chunk.len() {
                    out.push(TABLE[(n >> shift & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Writes about `target` bytes of mbox. `attachment_share` (0–100) is the
/// percentage of messages carrying a random (incompressible) attachment.
pub(crate) fn write_mbox(
    out: &mut impl Write,
    target: u64,
    seed: u64,
    attachment_share: u64,
) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    let mut n = 0u64;
    let mut epoch = 1_704_067_200u64; // 2024-01-01
    while written < target {
        n += 1;
        epoch += 60 + rng.below(7200);
        let (from_name, from) = address(&mut rng);
        let (to_name, to) = address(&mut rng);
        let (cc_name, cc) = address(&mut rng);
        let subject = rng.pick(SUBJECTS);
        let days = epoch / 86_400;
        let (y, m, d) = civil(days);
        let secs = epoch % 86_400;
        let date = format!(
            "{d:02} {} {y} {:02}:{:02}:{:02} +0100",
            MONTHS[(m - 1) as usize],
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        let mut msg = String::new();
        msg.push_str(&format!("From {from} Mon Jan  1 00:00:00 2024\n"));
        msg.push_str(&format!(
            "Return-Path: <{from}>\nReceived: from mail.{} by mx.example; {date}\n",
            DOMAINS[0]
        ));
        msg.push_str(&format!(
            "Message-ID: <{n}.{seed}@{}>\nDate: Mon, {date}\n",
            rng.pick(DOMAINS)
        ));
        msg.push_str(&format!(
            "From: {from_name} <{from}>\nTo: {to_name} <{to}>\nCc: {cc_name} <{cc}>\n"
        ));
        msg.push_str(&format!(
            "Subject: {}{subject} {n}\nMIME-Version: 1.0\n",
            if n.is_multiple_of(3) { "Re: " } else { "" }
        ));
        if n > 1 && n.is_multiple_of(3) {
            msg.push_str(&format!("In-Reply-To: <{}.{seed}@{}>\n", n - 1, DOMAINS[1]));
        }
        let words = 40 + rng.below(400);
        let body = paragraph(&mut rng, words);
        let with_attachment = rng.below(100) < attachment_share;
        if with_attachment || n.is_multiple_of(4) {
            msg.push_str("Content-Type: multipart/mixed; boundary=\"grens\"\n\n--grens\n");
            msg.push_str(
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n",
            );
            msg.push_str(&body);
            msg.push_str("\n>From the minutes: akkoord.\n");
            if n.is_multiple_of(4) {
                msg.push_str("--grens\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>");
                msg.push_str(&body.replace('\n', "<br>"));
                msg.push_str("</p></body></html>\n");
            }
            if with_attachment {
                let size = 10_000 + rng.below(1_500_000) as usize;
                let mut bytes = vec![0u8; size];
                rng.fill(&mut bytes);
                msg.push_str(&format!(
                    "--grens\nContent-Type: application/octet-stream; name=\"bijlage-{n}.bin\"\nContent-Disposition: attachment; filename=\"bijlage-{n}.bin\"\nContent-Transfer-Encoding: base64\n\n"
                ));
                msg.push_str(&base64_lines(&bytes));
            }
            msg.push_str("--grens--\n");
        } else {
            msg.push_str("Content-Type: text/plain; charset=utf-8\n\n");
            msg.push_str(&body);
            msg.push('\n');
        }
        msg.push('\n');
        out.write_all(msg.as_bytes())?;
        written += msg.len() as u64;
    }
    Ok(written)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub(crate) fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(m <= 2), m, d)
}
