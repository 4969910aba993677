//! mbox (RFC 4155 and its family): variant detection and a streaming
//! splitter.
//!
//! The family is loosely defined, and the variant decides how body lines are
//! un-quoted, so it is decided once per file from the content and recorded:
//!
//! * **mboxcl2** — every message carries a `Content-Length:` that frames the
//!   file exactly, and body lines are not quoted;
//! * **mboxcl** — the same framing, with mboxo quoting (`>From ` lines);
//! * **mboxrd** — framing by From_ lines; any `>>From ` line shows the
//!   writer quoted every `^>*From `, so exactly one `>` is removed from each;
//! * **mboxo** — framing by From_ lines; one `>` is removed from `>From `.
//!
//! Without `>>From ` lines mboxo and mboxrd un-quote identically, so that
//! choice cannot change a record. A From_ line is a line of the From_
//! grammar ([`is_from_line`]), with or without an empty line before it:
//! Thunderbird and many converters write none.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use crate::lines::LineReader;
use crate::read::Stop;

/// Size of the reads from an mbox: large, since the system's cost is per
/// call.
const READ_BUFFER: usize = 1 << 20;

/// The mbox variant decided for a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MboxVariant {
    /// From_ framing, `>From ` un-quoted one level.
    Mboxo,
    /// From_ framing, `^>+From ` un-quoted one level.
    Mboxrd,
    /// Content-Length framing, `>From ` un-quoted one level.
    Mboxcl,
    /// Content-Length framing, no quoting.
    Mboxcl2,
}

impl MboxVariant {
    /// The variant's usual name.
    pub fn name(self) -> &'static str {
        match self {
            MboxVariant::Mboxo => "mboxo",
            MboxVariant::Mboxrd => "mboxrd",
            MboxVariant::Mboxcl => "mboxcl",
            MboxVariant::Mboxcl2 => "mboxcl2",
        }
    }

    /// The variant of a [`MboxVariant::name`] (as records say it in
    /// `extra.mbox_variant`).
    pub fn from_name(name: &str) -> Option<MboxVariant> {
        [
            MboxVariant::Mboxo,
            MboxVariant::Mboxrd,
            MboxVariant::Mboxcl,
            MboxVariant::Mboxcl2,
        ]
        .into_iter()
        .find(|v| v.name() == name)
    }

    fn by_content_length(self) -> bool {
        matches!(self, MboxVariant::Mboxcl | MboxVariant::Mboxcl2)
    }
}

/// The decision and the facts it rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Detection {
    pub(crate) variant: MboxVariant,
    pub(crate) basis: String,
}

/// One message cut from an mbox.
pub struct MboxMessage {
    /// The From_ line without its line break.
    pub from_line: Vec<u8>,
    /// The message bytes after un-quoting, From_ line and separator removed.
    /// Empty when `oversize`.
    pub bytes: Vec<u8>,
    /// `[start, end)` of the whole entry (From_ line included) in the file.
    pub range: [u64; 2],
    /// First and last line of the entry, 1-based.
    pub lines: [u64; 2],
    /// Set when the message exceeded the size limit; its bytes stay only in
    /// the original.
    pub oversize: bool,
}

/// A separator line of the From_ grammar (RFC 4155 §2, and how mail
/// clients such as mutt tell one): `From `, the envelope sender (a token,
/// possibly quoted, or `-` as Thunderbird writes), then an asctime date:
/// weekday, month and day, a time, a year, in the orders writers use, with
/// an optional zone. A body line that merely starts with `From ` (text,
/// not quoted by a careless writer) does not match, so no blank line is
/// needed before a separator and none is taken from a body.
pub(crate) fn is_from_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let Ok(rest) = std::str::from_utf8(trim_eol(rest)) else {
        return false;
    };
    let mut tokens: Vec<&str> = rest.split_ascii_whitespace().collect();
    // The sender may be quoted and hold spaces.
    if let Some(quoted) = rest.trim_start().strip_prefix('"') {
        // `"local part"@domain`: the sender ends at the first space after
        // the closing quote.
        let Some((_, after)) = quoted.split_once('"') else {
            return false;
        };
        tokens = after
            .split_ascii_whitespace()
            .skip(usize::from(!after.starts_with(' ')))
            .collect();
    } else if tokens.first().is_some_and(|t| weekday(t)) && tokens.get(1).is_some_and(|t| month(t))
    {
        // No sender at all: `From Mon Jan  1 …` as some tools write.
    } else if tokens.is_empty() {
        return false;
    } else {
        tokens.remove(0);
    }
    asctime(&tokens)
}

/// `Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]` or with day and month, or
/// time and year, swapped; zones as `+hhmm`, `-hhmm` or letters.
fn asctime(tokens: &[&str]) -> bool {
    let mut tokens = tokens.iter().map(|t| t.trim_end_matches(','));
    if !tokens.next().is_some_and(weekday) {
        return false;
    }
    let (mut month_seen, mut day_seen, mut time_seen, mut year_seen) = (false, false, false, false);
    for token in tokens {
        let digits = token.bytes().all(|b| b.is_ascii_digit());
        if !month_seen && month(token) {
            month_seen = true;
        } else if !day_seen && digits && token.len() <= 2 && !time_seen {
            day_seen = token.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d));
            if !day_seen {
                return false;
            }
        } else if !time_seen && clock(token) {
            time_seen = true;
        } else if !year_seen && digits && (token.len() == 4 || token.len() == 2) {
            year_seen = true;
        } else if !(zone(token)
            || token.eq_ignore_ascii_case("remote")
            || token.eq_ignore_ascii_case("from"))
        {
            return false;
        }
    }
    month_seen && day_seen && time_seen && year_seen
}

fn weekday(token: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    DAYS.iter()
        .any(|d| d.eq_ignore_ascii_case(token.trim_end_matches(',')))
}

fn month(token: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().any(|m| m.eq_ignore_ascii_case(token))
}

/// `h:mm` or `hh:mm:ss`.
fn clock(token: &str) -> bool {
    let parts: Vec<&str> = token.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `+hhmm`, `-hhmm`, or a zone name (`GMT`, `CEST`, `UTC`).
fn zone(token: &str) -> bool {
    let offset = token.len() == 5
        && matches!(token.as_bytes().first(), Some(b'+' | b'-'))
        && token.bytes().skip(1).all(|b| b.is_ascii_digit());
    let name = (2..=5).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_uppercase());
    offset || name
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

fn content_length(line: &[u8]) -> Option<u64> {
    let name = b"content-length:";
    let head = line.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    std::str::from_utf8(line.get(name.len()..)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Decides the variant of the mbox in `file` (two reads; nothing held).
pub(crate) fn detect_variant<F: Read + Seek>(file: &mut F) -> io::Result<Detection> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = LineReader::new(BufReader::with_capacity(READ_BUFFER, &mut *file), 1 << 12);
    let (mut messages, mut with_length, mut quoted, mut deep_quoted) = (0u64, 0u64, 0u64, 0u64);
    let mut unseparated = 0u64;
    let mut previous_blank = true;
    let mut in_headers = false;
    while let Some(read) = reader.next_line()? {
        let line = without_bom(read.start, reader.buf.as_slice());
        if is_from_line(line) {
            messages += 1;
            unseparated += u64::from(!previous_blank);
            in_headers = true;
        } else if in_headers {
            if is_blank(line) {
                in_headers = false;
            } else if content_length(line).is_some() {
                with_length += 1;
            }
        } else if line.starts_with(b">From ") {
            quoted += 1;
        } else if line.starts_with(b">>") {
            let rest = line
                .iter()
                .skip_while(|b| **b == b'>')
                .copied()
                .take(5)
                .collect::<Vec<u8>>();
            if rest == b"From " {
                deep_quoted += 1;
            }
        }
        previous_blank = is_blank(line);
    }
    if with_length > 0 {
        if let Some(framed) = frame_by_content_length(file)? {
            let (variant, why) = if quoted == 0 {
                (MboxVariant::Mboxcl2, "no >From lines")
            } else if framed == messages {
                (
                    MboxVariant::Mboxcl,
                    ">From lines present and no unquoted From lines in bodies",
                )
            } else {
                (MboxVariant::Mboxcl2, "bodies hold unquoted From lines")
            };
            return Ok(Detection {
                variant,
                basis: format!(
                    "all {framed} messages carry a Content-Length that frames the file exactly; {why}"
                ),
            });
        }
    }
    let (variant, basis) = if deep_quoted > 0 {
        (
            MboxVariant::Mboxrd,
            format!("{deep_quoted} lines quoted as >>From: the writer quotes every >*From line"),
        )
    } else {
        let lengths = if with_length > 0 {
            format!("; Content-Length present on {with_length} of {messages} messages but does not frame the file")
        } else {
            String::new()
        };
        (
            MboxVariant::Mboxo,
            format!("framed by {messages} From_ lines; {quoted} >From lines, no >>From lines (mboxo and mboxrd read alike){lengths}"),
        )
    };
    let basis = format!(
        "{basis}; a From_ line is one of the grammar `From <sender> <asctime date>` (RFC 4155), \
         with or without a blank line before it ({unseparated} without)"
    );
    Ok(Detection { variant, basis })
}

/// Walks the file by Content-Length; `Some(messages)` when it frames the whole
/// file exactly (each length lands on a From_ line, after at most one blank
/// line, or on the end).
fn frame_by_content_length<F: Read + Seek>(file: &mut F) -> io::Result<Option<u64>> {
    let end = file.seek(SeekFrom::End(0))?;
    let mut pos = 0u64;
    let mut messages = 0u64;
    while pos < end {
        file.seek(SeekFrom::Start(pos))?;
        let mut reader = LineReader::new(BufReader::with_capacity(1 << 14, &mut *file), 1 << 12);
        match reader.next_line()? {
            Some(_) if is_from_line(&reader.buf) => {}
            Some(_) if messages > 0 && is_blank(&reader.buf) => {
                // One blank separator line after the previous body.
                if reader.next_line()?.is_none() {
                    return Ok(Some(messages));
                }
                if !is_from_line(&reader.buf) {
                    return Ok(None);
                }
            }
            _ => return Ok(None),
        }
        let mut length = None;
        loop {
            match reader.next_line()? {
                None => return Ok(None),
                Some(_) if is_blank(&reader.buf) => break,
                Some(_) => length = length.or_else(|| content_length(&reader.buf)),
            }
        }
        let Some(length) = length else {
            return Ok(None);
        };
        messages += 1;
        pos = pos + reader.position() + length;
        if pos > end {
            return Ok(None);
        }
    }
    Ok(Some(messages))
}

/// Splits the mbox read from `file`, calling `each` for every message in
/// order. Messages larger than `max_message` bytes come out as `oversize`.
///
/// # Errors
/// [`Stop::Input`] when reading fails, [`Stop::Sink`] with the callback's
/// own error when it stops the split.
pub fn split_mbox<R: Read, E>(
    file: R,
    variant: MboxVariant,
    max_message: usize,
    mut each: impl FnMut(MboxMessage) -> Result<(), E>,
) -> Result<(), Stop<io::Error, E>> {
    let mut reader = LineReader::new(
        BufReader::with_capacity(READ_BUFFER, file),
        max_message.saturating_add(1),
    );
    let mut current: Option<MboxMessage> = None;
    // Content-Length framing: bytes of body still owed to the current message.
    let mut body_owed: Option<u64> = None;
    let mut in_headers = false;
    let mut header_length: Option<u64> = None;
    while let Some(line) = reader.next_line().map_err(Stop::Input)? {
        let bytes = without_bom(line.start, reader.buf.as_slice());
        let owed = body_owed.filter(|n| *n > 0);
        let starts_message = owed.is_none() && is_from_line(bytes);
        if starts_message {
            if let Some(done) = current.take() {
                each(finish(done)).map_err(Stop::Sink)?;
            }
            current = Some(MboxMessage {
                from_line: trim_eol(bytes).to_vec(),
                bytes: Vec::new(),
                range: [line.start, line.start + line.len],
                lines: [reader.line_number(), reader.line_number()],
                oversize: line.truncated,
            });
            in_headers = true;
            header_length = None;
            body_owed = None;
            continue;
        }
        let Some(message) = current.as_mut() else {
            // Bytes before the first From_ line: keep them as a message of
            // their own so nothing is lost; the parser will judge them.
            current = Some(MboxMessage {
                from_line: Vec::new(),
                bytes: bytes.to_vec(),
                range: [line.start, line.start + line.len],
                lines: [reader.line_number(), reader.line_number()],
                oversize: line.truncated,
            });
            continue;
        };
        message.range[1] = line.start + line.len;
        message.lines[1] = reader.line_number();
        if variant.by_content_length() {
            if in_headers {
                if is_blank(bytes) {
                    in_headers = false;
                    body_owed = header_length;
                } else {
                    header_length = header_length.or_else(|| content_length(bytes));
                }
            } else if let Some(n) = body_owed.as_mut() {
                *n = n.saturating_sub(line.len);
            }
        }
        let unquoted = match variant {
            MboxVariant::Mboxo | MboxVariant::Mboxcl if bytes.starts_with(b">From ") => &bytes[1..],
            MboxVariant::Mboxrd
                if bytes.first() == Some(&b'>') && {
                    let rest: Vec<u8> = bytes
                        .iter()
                        .skip_while(|b| **b == b'>')
                        .copied()
                        .take(5)
                        .collect();
                    rest == b"From "
                } =>
            {
                &bytes[1..]
            }
            _ => bytes,
        };
        if line.truncated || message.bytes.len() + unquoted.len() > max_message {
            message.oversize = true;
            message.bytes = Vec::new();
        }
        if !message.oversize {
            message.bytes.extend_from_slice(unquoted);
        }
    }
    if let Some(done) = current.take() {
        each(finish(done)).map_err(Stop::Sink)?;
    }
    Ok(())
}

fn finish(mut message: MboxMessage) -> MboxMessage {
    // The separator is the empty line before the next From_ line; it belongs
    // to the format, not to the message.
    if message.bytes.ends_with(b"\r\n\r\n") {
        message.bytes.truncate(message.bytes.len() - 2);
    } else if message.bytes.ends_with(b"\n\n") {
        message.bytes.truncate(message.bytes.len() - 1);
    }
    message
}

/// The first line of a file without the byte order mark some writers put
/// before it (it stays in the message's byte range, which is the file's).
fn without_bom(start: u64, line: &[u8]) -> &[u8] {
    if start == 0 {
        line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
    } else {
        line
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::{is_from_line, MboxVariant};

    #[test]
    fn variant_names_read_back() {
        for variant in [
            MboxVariant::Mboxo,
            MboxVariant::Mboxrd,
            MboxVariant::Mboxcl,
            MboxVariant::Mboxcl2,
        ] {
            assert_eq!(MboxVariant::from_name(variant.name()), Some(variant));
        }
        assert_eq!(MboxVariant::from_name("mboxq"), None);
    }

    /// See: #16. Separators as writers put them, and body lines that only
    /// start with `From `.
    #[test]
    fn from_lines_by_their_grammar() {
        for line in [
            "From a@b.example Mon Apr  1 09:00:00 2024\n",
            "From - Tue Mar 05 09:12:44 2024\r\n",
            "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n",
            "From a@b.example Mon Apr 1 09:00 2024\n",
            "From a@b.example Mon Apr  1 09:00:00 +0200 2024\n",
            "From a@b.example Mon Apr  1 09:00:00 2024 +0200\n",
            "From a@b.example Mon Apr  1 09:00:00 CEST 2024\n",
            "From \"Jan de Wit\"@b.example Wed Jan 10 08:00:00 2024\n",
            "From Mon Apr  1 09:00:00 2024\n",
            "From a@b.example Sat, 5 Mar 2022 12:00:00 +0100\n",
        ] {
            assert!(is_from_line(line.as_bytes()), "{line:?}");
        }
        for line in [
            "From the minutes of last week: the bridge stays closed.\n",
            "From a@b.example\n",
            "From a@b.example Mon Apr  1 2024\n",
            "From here on, Mon Apr  1 09:00:00 2024 is the date\n",
            "From a@b.example Xyz Apr  1 09:00:00 2024\n",
            "From a@b.example Mon Apr 41 09:00:00 2024\n",
            "From: a@b.example\n",
            "From \n",
        ] {
            assert!(!is_from_line(line.as_bytes()), "{line:?}");
        }
    }
}
