//! One e-mail message (RFC 5322 with MIME, RFC 2045–2049) into a record.
//!
//! Parsing is mailparse's (RFC 2047 encoded words, RFC 2231 parameters);
//! this module chooses the text, decodes charsets by the WHATWG table
//! (`encoding_rs`, so `iso-8859-1` decodes as windows-1252), turns every
//! other part into a blob, and records every fallback as a warning.

use std::collections::BTreeMap;

use mailparse::body::Body;
use mailparse::{DispositionType, MailAddr, MailHeader, ParsedMail};
use serde_json::Value;
use spoor_normalize::text::{html_to_text, normalize_text};
use spoor_normalize::{
    BlobRef, Conversation, Links, Locator, Party, Recipient, Record, RecordId, RecordKind,
    RecordTime, Sha256, Source, RECORD_SCHEMA,
};

use crate::read::{Blob, Limits, PARSER};

/// What the caller knows about a message besides its bytes.
pub struct MessageContext<'a> {
    /// Record format name, e.g. `email/mbox`.
    pub format: &'a str,
    /// SHA-256 of the whole export.
    pub export_sha256: Sha256,
    /// Where the message sits in the export.
    pub locator: Locator,
    /// Flags from the container (Maildir flags).
    pub flags: Vec<String>,
    /// Container facts kept in the record's `extra` (From_ line…).
    pub extra: BTreeMap<String, Value>,
}

/// A message turned into a record, with the blobs it references.
pub struct ParsedMessage {
    /// The record.
    pub record: Record,
    /// Every blob the record references, in reference order.
    pub blobs: Vec<Blob>,
}

/// Parses one message. `Err` carries the reason to quarantine it with.
///
/// # Errors
/// A reason text when the bytes are not a message that can be read (empty,
/// no header fields, a header line over the limit, nesting over the limit).
pub fn parse_message(
    bytes: &[u8],
    context: MessageContext<'_>,
    limits: &Limits,
) -> Result<ParsedMessage, String> {
    precheck(bytes, limits)?;
    let mail = mailparse::parse_mail(bytes).map_err(|e| format!("not a parseable message: {e}"))?;
    if mail.headers.is_empty() {
        return Err("no header fields: not an e-mail message".to_owned());
    }
    let mut builder = Builder {
        warnings: Vec::new(),
        flags: context.flags.clone(),
        blobs: Vec::new(),
    };
    let headers = &mail.headers;
    let obsolete: Vec<String> = headers
        .iter()
        .map(|h| h.get_key_ref())
        .filter(|key| {
            *key != key.trim_end() && super::looks_like_header_field(format!("{key}:").as_bytes())
        })
        .map(|key| key.trim_end().to_owned())
        .collect();
    if !obsolete.is_empty() {
        builder.warnings.push(format!(
            "obsolete header syntax (white space before the colon) read in {obsolete:?}"
        ));
    }
    for line in stray_header_lines(bytes) {
        builder.warnings.push(format!(
            "a line in the header block that is not a header field (kept in the original): {line:?}"
        ));
    }

    let message_id = first(headers, "Message-ID", &mut builder).and_then(|v| {
        mailparse::msgidparse(&v)
            .ok()
            .and_then(|ids| ids.first().cloned())
            .or(Some(v.trim().to_owned()))
    });
    let in_reply_to = first(headers, "In-Reply-To", &mut builder)
        .map(|v| ids(&v))
        .unwrap_or_default();
    let references = first(headers, "References", &mut builder)
        .map(|v| ids(&v))
        .unwrap_or_default();
    let subject = first(headers, "Subject", &mut builder).map(|s| normalize_text(&s));

    let from = addresses(headers, "From", &mut builder);
    let sender_header = addresses(headers, "Sender", &mut builder);
    let mut recipients = Vec::new();
    for (role, name) in [
        ("to", "To"),
        ("cc", "Cc"),
        ("bcc", "Bcc"),
        ("reply-to", "Reply-To"),
    ] {
        for party in addresses(headers, name, &mut builder) {
            recipients.push(Recipient {
                role: role.to_owned(),
                party,
            });
        }
    }
    for party in sender_header.iter().cloned() {
        recipients.push(Recipient {
            role: "sender".to_owned(),
            party,
        });
    }
    let sender = from
        .first()
        .cloned()
        .or_else(|| sender_header.first().cloned());
    if from.len() > 1 {
        builder.warnings.push(format!(
            "From names {} addresses; the first is the sender",
            from.len()
        ));
    }

    let time = match first(headers, "Date", &mut builder) {
        None => RecordTime::unresolved(None, "no Date header"),
        Some(text) => match parse_date(&text) {
            Ok((seconds, note)) => {
                builder.warnings.extend(note);
                RecordTime::from_unix_seconds(seconds, &text)
            }
            Err(e) => RecordTime::unresolved(Some(&text), &format!("unparseable Date header: {e}")),
        },
    };

    let mut text_parts = Vec::new();
    let mut html_parts = Vec::new();
    let mut attachments = Vec::new();
    builder.walk(
        &mail,
        0,
        &mut text_parts,
        &mut html_parts,
        &mut attachments,
        limits,
    );
    // An empty plain part (some mailers send one beside the HTML) does not
    // hide the HTML.
    let text = if text_parts.iter().any(|t| !t.trim().is_empty()) {
        Some(text_parts.join("\n"))
    } else if let Some((html, _)) = html_parts.first() {
        Some(html_to_text(html))
    } else {
        None
    }
    .map(|t| normalize_text(t.trim_end()))
    .filter(|t| !t.is_empty());
    let bodies = html_parts.into_iter().map(|(_, blob)| blob).collect();

    let mut participants: Vec<Party> = Vec::new();
    for party in from.iter().chain(recipients.iter().map(|r| &r.party)) {
        if !participants
            .iter()
            .any(|p| p.address == party.address && p.name == party.name)
        {
            participants.push(party.clone());
        }
    }
    let conversation_id = references
        .first()
        .or(in_reply_to.first())
        .or(message_id.as_ref())
        .cloned();

    let item_sha256 = Sha256::of(bytes);

    let id = RecordId::derive(
        "email",
        &[message_id.as_deref().unwrap_or(""), &item_sha256.to_hex()],
    );
    let extra = context.extra;

    let record = Record {
        schema: RECORD_SCHEMA.to_owned(),
        id,
        kind: RecordKind::Email,
        source: Source {
            format: context.format.to_owned(),
            export_sha256: context.export_sha256,
            locator: context.locator,
            item_sha256: Some(item_sha256),
            parser: PARSER.to_owned(),
        },
        conversation: Conversation {
            id: conversation_id,
            title: None,
            participants,
        },
        sender,
        recipients,
        time,
        subject,
        text,
        bodies,
        attachments,
        links: Links {
            source_id: message_id,
            in_reply_to,
            references,
        },
        revision: None,
        deletion: None,
        flags: builder.flags,
        warnings: builder.warnings,
        extra,
    };
    Ok(ParsedMessage {
        record,
        blobs: builder.blobs,
    })
}

/// Non-standard zone names seen in European mail, with their offsets.
const ZONE_NAMES: &[(&str, &str)] = &[
    ("MET DST", "+0200"),
    ("CEST", "+0200"),
    ("MEST", "+0200"),
    ("EEST", "+0300"),
    ("WEST", "+0100"),
    ("CET", "+0100"),
    ("MET", "+0100"),
    ("BST", "+0100"),
    ("EET", "+0200"),
    ("WET", "+0000"),
];

/// Parses an RFC 5322 date (obsolete forms included, by jiff), after
/// dropping a trailing comment such as `(CET)`. A non-standard zone name from
/// [`ZONE_NAMES`] is read as its offset, with a note saying so.
fn parse_date(text: &str) -> Result<(i64, Option<String>), String> {
    let mut cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.ends_with(')') {
        if let Some(open) = cleaned.rfind('(') {
            cleaned.truncate(open);
            cleaned = cleaned.trim_end().to_owned();
        }
    }
    let parser = jiff::fmt::rfc2822::DateTimeParser::new();
    // Checked first: RFC 5322 §4.3 reads unknown zone names as -0000, which
    // would put a CET message an hour off.
    for (name, offset) in ZONE_NAMES {
        if let Some(head) = cleaned.strip_suffix(name).filter(|h| h.ends_with(' ')) {
            if let Ok(ts) = parser.parse_timestamp(format!("{head}{offset}")) {
                return Ok((
                    ts.as_second(),
                    Some(format!("Date: non-standard zone {name} read as {offset}")),
                ));
            }
        }
    }
    let strict = parser.parse_timestamp(&cleaned);
    let error = match strict {
        Ok(ts) => return Ok((ts.as_second(), None)),
        Err(e) => e.to_string(),
    };
    // Forms other readers accept: a zone glued to the time
    // (`00:01+0000`), and a weekday that does not match the date (the date
    // is what the sender's clock said; the weekday is kept out, noted).
    let glued = glued_zone(&cleaned);
    if let Some(fixed) = &glued {
        if let Ok(ts) = parser.parse_timestamp(fixed) {
            return Ok((
                ts.as_second(),
                Some("Date: zone written against the time".to_owned()),
            ));
        }
    }
    let base = glued.unwrap_or(cleaned);
    if let Some((weekday, rest)) = base.split_once(',') {
        if let Ok(ts) = parser.parse_timestamp(rest.trim()) {
            return Ok((
                ts.as_second(),
                Some(format!(
                    "Date: weekday {weekday:?} does not match the date; the date is kept"
                )),
            ));
        }
    }
    Err(error)
}

/// `… 00:01+0000` with a space put before the zone, when it is glued to the
/// time.
fn glued_zone(text: &str) -> Option<String> {
    let at = text.rfind(['+', '-'])?;
    let (head, zone) = text.split_at(at);
    let glued = head.ends_with(|c: char| c.is_ascii_digit())
        && head.rsplit(' ').next().is_some_and(|t| t.contains(':'))
        && zone.len() == 5
        && zone[1..].bytes().all(|b| b.is_ascii_digit());
    glued.then(|| format!("{head} {zone}"))
}

/// Cheap checks before handing bytes to the parser, whose cost and stack
/// depth grow with them.
fn precheck(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("empty message".to_owned());
    }
    if !super::looks_like_header_field(bytes) {
        return Err("does not start with a header field: not an e-mail message".to_owned());
    }
    let header_end = memchr::memmem::find(bytes, b"\n\n")
        .or_else(|| memchr::memmem::find(bytes, b"\r\n\r\n"))
        .unwrap_or(bytes.len());
    let mut line_start = 0usize;
    for line_end in
        memchr::memchr_iter(b'\n', &bytes[..header_end]).chain(std::iter::once(header_end))
    {
        if line_end - line_start > limits.max_header_line_bytes {
            return Err(format!(
                "header line at byte {line_start} is {} bytes long, over the limit of {} bytes",
                line_end - line_start,
                limits.max_header_line_bytes
            ));
        }
        line_start = line_end + 1;
    }
    // mailparse recurses once per nested multipart, so the count of
    // multipart declarations bounds its depth.
    let multiparts = memchr::memmem::find_iter(bytes, b"ultipart/").count();
    if multiparts > limits.max_mime_parts {
        return Err(format!(
            "{multiparts} multipart declarations, over the limit of {}",
            limits.max_mime_parts
        ));
    }
    Ok(())
}

struct Builder {
    warnings: Vec<String>,
    flags: Vec<String>,
    blobs: Vec<Blob>,
}

impl Builder {
    fn flag(&mut self, flag: &str) {
        if !self.flags.iter().any(|f| f == flag) {
            self.flags.push(flag.to_owned());
        }
    }

    fn walk(
        &mut self,
        part: &ParsedMail<'_>,
        depth: usize,
        text_parts: &mut Vec<String>,
        html_parts: &mut Vec<(String, BlobRef)>,
        attachments: &mut Vec<BlobRef>,
        limits: &Limits,
    ) {
        let mime = part.ctype.mimetype.as_str();
        match mime {
            "multipart/signed" => {
                let protocol = part
                    .ctype
                    .params
                    .get("protocol")
                    .map(|p| p.to_ascii_lowercase())
                    .unwrap_or_default();
                if protocol.contains("pkcs7-signature") {
                    self.flag("smime-signed");
                } else if protocol.contains("pgp-signature") {
                    self.flag("pgp-signed");
                } else {
                    self.flag("signed");
                }
            }
            "multipart/encrypted" => self.flag("pgp-encrypted"),
            "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
                let kind = part
                    .ctype
                    .params
                    .get("smime-type")
                    .map(|s| s.to_ascii_lowercase());
                self.flag(match kind.as_deref() {
                    Some("signed-data") => "smime-signed-data",
                    _ => "smime-encrypted",
                });
            }
            "application/ms-tnef" | "application/vnd.ms-tnef" => self.flag("tnef"),
            _ => {}
        }
        if mime.starts_with("multipart/") {
            // A digest's parts default to message/rfc822, which only
            // mailparse's own split knows; elsewhere the exact split.
            let exact = (mime != "multipart/digest")
                .then(|| exact_subparts(part))
                .flatten();
            let closed = exact.as_ref().is_none_or(|e| e.closed);
            let subparts = exact
                .as_ref()
                .map_or(part.subparts.as_slice(), |e| &e.parts);
            if subparts.is_empty() {
                self.warnings.push(format!(
                    "{mime} part without readable sub-parts; kept as a blob"
                ));
                attachments.push(self.blob(part, "attachment"));
            }
            if !closed {
                self.warnings.push(format!(
                    "{mime} has no closing boundary: the message may be truncated"
                ));
            }
            let alternative = mime == "multipart/alternative";
            let texts_before = text_parts.len();
            for sub in subparts {
                // In multipart/alternative the plain text is one rendering of
                // the same content; take only the first one found.
                if alternative
                    && text_parts.len() > texts_before
                    && sub.ctype.mimetype == "text/plain"
                {
                    continue;
                }
                self.walk(sub, depth + 1, text_parts, html_parts, attachments, limits);
            }
            return;
        }
        if let Some(declared) = part_header(part, "Content-Transfer-Encoding") {
            let label = declared.trim().to_ascii_lowercase();
            if declared != label {
                self.warnings.push(format!(
                    "Content-Transfer-Encoding {declared:?} read as {label:?}"
                ));
            }
        }
        let disposition = part.get_content_disposition();
        let name = file_name(part);
        if name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("winmail.dat"))
        {
            self.flag("tnef");
        }
        let is_attachment =
            disposition.disposition == DispositionType::Attachment || name.is_some();
        match mime {
            "text/plain" if !is_attachment => {
                let text = self.decode_text(part, text_parts.len() + html_parts.len());
                text_parts.push(text);
            }
            "text/html" if !is_attachment => {
                let html = self.decode_text(part, text_parts.len() + html_parts.len());
                let blob = self.blob(part, "html");
                html_parts.push((html, blob));
            }
            "message/external-body" => {
                // A reference to content held elsewhere (RFC 2046 §5.2.3):
                // nothing is carried, so nothing is stored.
                let mut details = BTreeMap::new();
                for key in ["access-type", "name", "site", "directory", "url", "server"] {
                    if let Some(value) = part.ctype.params.get(key) {
                        details.insert(key.replace('-', "_"), Value::from(value.clone()));
                    }
                }
                details.insert(
                    "missing".to_owned(),
                    Value::from("message/external-body: the content is referenced, not carried"),
                );
                attachments.push(BlobRef {
                    role: "attachment".to_owned(),
                    name: part.ctype.params.get("name").cloned(),
                    media_type: Some(mime.to_owned()),
                    size: None,
                    sha256: None,
                    missing: true,
                    details,
                });
            }
            "message/rfc822" | "message/global" => {
                let mut blob = self.blob(part, "message");
                if depth < limits.max_nesting {
                    if let Ok(bytes) = decoded_body(part) {
                        blob.details.insert("summary".to_owned(), summarize(&bytes));
                    }
                } else {
                    self.warnings.push(format!(
                        "nested message deeper than {} levels not summarised",
                        limits.max_nesting
                    ));
                }
                attachments.push(blob);
            }
            _ => {
                let role = if disposition.disposition == DispositionType::Inline && name.is_none() {
                    "inline"
                } else {
                    "attachment"
                };
                attachments.push(self.blob(part, role));
            }
        }
    }

    /// The part's body with its transfer encoding undone; when it cannot
    /// be, base64 with junk after it gives its valid beginning, anything
    /// else its raw bytes; either way a warning naming `what`.
    fn body(&mut self, part: &ParsedMail<'_>, what: &str) -> Vec<u8> {
        let error = match decoded_body(part) {
            Ok(bytes) => return bytes,
            Err(e) => e,
        };
        let base64 = part_header(part, "Content-Transfer-Encoding")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"));
        let prefix = base64
            .then(|| match part.get_body_encoded() {
                Body::Base64(b) | Body::QuotedPrintable(b) => decode_base64_prefix(b.get_raw()),
                Body::SevenBit(b) | Body::EightBit(b) => decode_base64_prefix(b.get_raw()),
                Body::Binary(b) => decode_base64_prefix(b.get_raw()),
            })
            .flatten();
        if let Some((bytes, tail)) = prefix {
            self.warnings.push(format!(
                "{what}: base64 followed by what is not base64 ({tail:?}); the valid part decoded, the rest kept only in the original"
            ));
            return bytes;
        }
        self.warnings.push(format!(
            "{what}: transfer encoding not decodable ({error}); raw bytes used"
        ));
        part.raw_bytes.to_vec()
    }

    /// The part's decoded bytes as a blob, its reference returned.
    fn blob(&mut self, part: &ParsedMail<'_>, role: &str) -> BlobRef {
        let bytes = self.body(part, &format!("{} part", part.ctype.mimetype));
        let sha256 = Sha256::of(&bytes);
        let mut details = BTreeMap::new();
        if let Some(cid) = part_header(part, "Content-ID") {
            details.insert(
                "content_id".to_owned(),
                Value::from(cid.trim().trim_matches(['<', '>']).to_owned()),
            );
        }
        let reference = BlobRef {
            role: role.to_owned(),
            name: file_name(part),
            media_type: Some(part.ctype.mimetype.clone()),
            size: Some(bytes.len() as u64),
            sha256: Some(sha256),
            missing: false,
            details,
        };
        self.blobs.push(Blob { sha256, bytes });
        reference
    }

    /// Decodes a text part by its declared charset (WHATWG labels); without
    /// one, UTF-8 if valid, else windows-1252. Damage is a warning.
    fn decode_text(&mut self, part: &ParsedMail<'_>, index: usize) -> String {
        let bytes = self.body(part, &format!("part {index}"));
        let label = part
            .ctype
            .params
            .get("charset")
            .map(|s| s.trim().to_owned());
        // The WHATWG labels, and UTF-7 (RFC 2152), which mail still carries
        // and browsers dropped (the `charset` crate has both).
        let encoding = match label.as_deref() {
            Some(label) => match charset::Charset::for_label(label.as_bytes()) {
                Some(e) => {
                    if e == charset::UTF_7 {
                        self.warnings
                            .push(format!("part {index}: UTF-7 text decoded"));
                    }
                    e
                }
                None => {
                    self.warnings.push(format!(
                        "part {index}: unknown charset {label:?}; decoded as UTF-8"
                    ));
                    charset::Charset::from(encoding_rs::UTF_8)
                }
            },
            None if std::str::from_utf8(&bytes).is_ok() => {
                charset::Charset::from(encoding_rs::UTF_8)
            }
            None => {
                self.warnings.push(format!(
                    "part {index}: no charset declared and not UTF-8; decoded as windows-1252"
                ));
                charset::Charset::from(encoding_rs::WINDOWS_1252)
            }
        };
        let (text, _, had_errors) = encoding.decode(&bytes);
        if had_errors {
            self.warnings.push(format!(
                "part {index}: bytes invalid in {} replaced with U+FFFD",
                encoding.name()
            ));
        }
        text.into_owned()
    }
}

/// The body parts of a multipart part, split at its boundary.
struct Subparts<'a> {
    parts: Vec<ParsedMail<'a>>,
    /// Whether the close delimiter (`--boundary--`) was met.
    closed: bool,
}

/// Splits a multipart part's body at its boundary exactly as RFC 2046
/// §5.1.1 has it: a delimiter is a line of `--` and the boundary, then an
/// optional `--` (the close delimiter), then only white space; the line
/// break before it belongs to the delimiter. A line that merely begins with
/// the delimiter (an inner boundary that extends the outer one) is content.
/// mailparse matches boundaries by prefix, so the parts are cut here and
/// each is parsed by mailparse. `None` without a boundary parameter.
fn exact_subparts<'a>(part: &ParsedMail<'a>) -> Option<Subparts<'a>> {
    let boundary = part.ctype.params.get("boundary")?;
    let delimiter = format!("--{boundary}");
    let raw: &'a [u8] = part.raw_bytes;
    let (_, body_start) = mailparse::parse_headers(raw).ok()?;
    let mut slices: Vec<&'a [u8]> = Vec::new();
    let mut open: Option<usize> = None;
    let mut closed = false;
    let mut at = body_start;
    while at < raw.len() {
        let rest = raw.get(at..).unwrap_or_default();
        let line_end = memchr::memchr(b'\n', rest).map_or(raw.len(), |i| at + i + 1);
        let line = raw.get(at..line_end).unwrap_or_default();
        let delimits = line.strip_prefix(delimiter.as_bytes()).map(|after| {
            let (close, after) = match after.strip_prefix(b"--") {
                Some(after) => (true, after),
                None => (false, after),
            };
            (close, after.iter().all(u8::is_ascii_whitespace))
        });
        if let Some((close, true)) = delimits {
            if let Some(start) = open {
                let mut end = at;
                if end > start && raw.get(end - 1) == Some(&b'\n') {
                    end -= 1;
                    if end > start && raw.get(end - 1) == Some(&b'\r') {
                        end -= 1;
                    }
                }
                slices.push(raw.get(start..end).unwrap_or_default());
            }
            if close {
                open = None;
                closed = true;
                break;
            }
            open = Some(line_end);
        }
        at = line_end;
    }
    if let Some(start) = open {
        slices.push(raw.get(start..).unwrap_or_default());
    }
    let parts = slices
        .into_iter()
        .filter_map(|slice| mailparse::parse_mail(slice).ok())
        .collect();
    Some(Subparts { parts, closed })
}

/// A part's body with its transfer encoding undone. Base64 is decoded here
/// rather than by mailparse, which copies the body to drop white space and
/// so cost more than the decoding itself; the result is the same
/// (RFC 2045 §6.8: white space and line breaks are ignored).
fn decoded_body(part: &ParsedMail<'_>) -> Result<Vec<u8>, String> {
    // mailparse compares the declared encoding as written; RFC 2045 §6.1
    // values are case-insensitive, and white space around them is noise.
    let declared =
        part_header(part, "Content-Transfer-Encoding").map(|v| v.trim().to_ascii_lowercase());
    match (part.get_body_encoded(), declared.as_deref()) {
        (Body::Base64(body), _) => decode_base64(body.get_raw()),
        (Body::SevenBit(body) | Body::EightBit(body), Some("base64")) => {
            decode_base64(body.get_raw())
        }
        (Body::SevenBit(body) | Body::EightBit(body), Some("quoted-printable")) => {
            quoted_printable::decode(body.get_raw(), quoted_printable::ParseMode::Robust)
                .map_err(|e| e.to_string())
        }
        _ => part.get_body_raw().map_err(|e| e.to_string()),
    }
}

/// Base64 as RFC 2045 §6.8 has it: white space and line breaks ignored.
fn decode_base64(raw: &[u8]) -> Result<Vec<u8>, String> {
    let decoder = &data_encoding::BASE64_MIME_PERMISSIVE;
    // The decoder itself skips CR and LF; only other white space needs a
    // cleaning copy first.
    if memchr::memchr2(b' ', b'\t', raw).is_none() {
        if let Ok(bytes) = decoder.decode(raw) {
            return Ok(bytes);
        }
    }
    decoder
        .decode(&without_whitespace(raw))
        .map_err(|e| e.to_string())
}

/// Base64 text without its white space, which RFC 2045 §6.8 ignores.
fn without_whitespace(raw: &[u8]) -> Vec<u8> {
    raw.iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}

/// Base64 whose tail is not base64 (a signature pasted after it, a cut
/// end): the valid beginning decoded, and the tail as text for a warning;
/// `None` when no valid beginning decodes.
fn decode_base64_prefix(raw: &[u8]) -> Option<(Vec<u8>, String)> {
    let cleaned = without_whitespace(raw);
    let valid = cleaned
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    let (prefix, tail) = cleaned.split_at_checked(valid - valid % 4)?;
    let bytes = data_encoding::BASE64_MIME_PERMISSIVE.decode(prefix).ok()?;
    let tail = String::from_utf8_lossy(tail).chars().take(80).collect();
    (!bytes.is_empty()).then_some((bytes, tail))
}

/// Lines of the header block (up to the first empty line) that are neither
/// a header field nor the continuation of one. mailparse reads past them
/// without a word; they stay in the original, and the record says so.
fn stray_header_lines(bytes: &[u8]) -> Vec<String> {
    let mut stray = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation && !super::looks_like_header_field(line) {
            stray.push(String::from_utf8_lossy(line).chars().take(200).collect());
        }
    }
    stray
}

/// Whether a header field is called `name` (any case). White space before
/// the colon is RFC 5322 §4.5 obsolete syntax (`Subject : …`), still read.
fn is_named(header: &MailHeader<'_>, name: &str) -> bool {
    header.get_key_ref().trim_end().eq_ignore_ascii_case(name)
}

fn part_header(part: &ParsedMail<'_>, name: &str) -> Option<String> {
    part.headers
        .iter()
        .find(|h| is_named(h, name))
        .map(|h| h.get_value())
}

/// The file name of a part: RFC 2231 / plain `filename` of the disposition,
/// else the `name` of the content type (mailparse applies RFC 2231 and 2047).
fn file_name(part: &ParsedMail<'_>) -> Option<String> {
    let disposition = part.get_content_disposition();
    disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))
        .map(|n| normalize_text(n.trim()))
        .filter(|n| !n.is_empty())
}

/// The first header of that name, decoded. Raw 8-bit values that are not
/// UTF-8 are read as windows-1252 with a warning.
fn first(headers: &[MailHeader<'_>], name: &str, builder: &mut Builder) -> Option<String> {
    let header = headers.iter().find(|h| is_named(h, name))?;
    Some(decode_header(header, name, &mut builder.warnings))
}

fn all(headers: &[MailHeader<'_>], name: &str, builder: &mut Builder) -> Vec<String> {
    headers
        .iter()
        .filter(|h| is_named(h, name))
        .map(|h| decode_header(h, name, &mut builder.warnings))
        .collect()
}

fn decode_header(header: &MailHeader<'_>, name: &str, warnings: &mut Vec<String>) -> String {
    let quoted = quote_8bit_in_encoded_words(header.get_value_raw());
    if quoted.is_some() {
        warnings.push(format!(
            "{name}: raw 8-bit bytes inside an encoded word, read as bytes of its charset"
        ));
    }
    let raw = quoted.as_deref().unwrap_or(header.get_value_raw());
    if memchr::memmem::find(&raw.to_ascii_lowercase(), b"=?utf-7?").is_some() {
        warnings.push(format!("{name}: UTF-7 encoded word decoded"));
    }
    let value = match (std::str::from_utf8(raw), &quoted) {
        (Ok(_), None) => header.get_value(),
        (Ok(text), Some(_)) => reparse_header(text),
        (Err(_), _) => {
            warnings.push(format!(
                "{name}: raw 8-bit header is not UTF-8; read as windows-1252"
            ));
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(raw);
            reparse_header(&text)
        }
    };
    if value.contains("=?") && value.contains("?=") {
        warnings.push(format!(
            "{name}: encoded word left undecoded (unknown charset or malformed)"
        ));
    }
    value
}

/// A header value (already text) decoded as mailparse decodes one: its
/// encoded words undone.
fn reparse_header(text: &str) -> String {
    let line = format!("X: {text}");
    match mailparse::parse_header(line.as_bytes()) {
        Ok((h, _)) => h.get_value(),
        Err(_) => text.to_owned(),
    }
}

/// Raw 8-bit bytes inside a Q-encoded word (`=?charset?Q?Fr\xfcsche?=`,
/// which RFC 2047 forbids but mailers write) rewritten as `=XX`, so they
/// decode as bytes of the word's charset instead of being dropped; `None`
/// when there are none.
fn quote_8bit_in_encoded_words(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut rest = raw;
    let mut changed = false;
    while let Some(start) = memchr::memmem::find(rest, b"=?") {
        let (before, word) = rest.split_at(start);
        out.extend_from_slice(before);
        // =?charset?Q?text?=
        let parts: Vec<&[u8]> = word.splitn(4, |b| *b == b'?').collect();
        let q_word = parts.get(2).is_some_and(|e| e.eq_ignore_ascii_case(b"q"));
        let end = parts.get(3).and_then(|text| {
            memchr::memmem::find(text, b"?=").map(|i| word.len() - text.len() + i + 2)
        });
        match (q_word, end) {
            (true, Some(end)) => {
                for b in word.get(..end).unwrap_or_default() {
                    if b.is_ascii() {
                        out.push(*b);
                    } else {
                        out.extend_from_slice(format!("={b:02X}").as_bytes());
                        changed = true;
                    }
                }
                rest = word.get(end..).unwrap_or_default();
            }
            _ => {
                out.extend_from_slice(b"=?");
                rest = word.get(2..).unwrap_or_default();
            }
        }
    }
    out.extend_from_slice(rest);
    changed.then_some(out)
}

fn ids(value: &str) -> Vec<String> {
    mailparse::msgidparse(value)
        .map(|list| list.to_vec())
        .unwrap_or_default()
}

fn addresses(headers: &[MailHeader<'_>], name: &str, builder: &mut Builder) -> Vec<Party> {
    let mut out = Vec::new();
    for value in all(headers, name, builder) {
        match mailparse::addrparse(&value) {
            Ok(list) => {
                for addr in list.iter() {
                    match addr {
                        MailAddr::Single(info) => {
                            out.push(party(info.display_name.as_deref(), &info.addr))
                        }
                        MailAddr::Group(group) => {
                            for info in &group.addrs {
                                out.push(party(info.display_name.as_deref(), &info.addr));
                            }
                        }
                    }
                }
            }
            Err(e) => {
                builder.warnings.push(format!(
                    "{name}: address list not parseable ({e}); kept as written"
                ));
                out.push(Party {
                    name: Some(normalize_text(value.trim())),
                    address: None,
                    address_type: None,
                });
            }
        }
    }
    out
}

fn party(name: Option<&str>, address: &str) -> Party {
    Party {
        name: name
            .map(|n| normalize_text(n.trim()))
            .filter(|n| !n.is_empty()),
        address: Some(address.trim().to_owned()),
        address_type: Some("email".to_owned()),
    }
}

/// Subject, From, Date and Message-ID of a nested message.
fn summarize(bytes: &[u8]) -> Value {
    let mut summary = serde_json::Map::new();
    if let Ok((headers, _)) = mailparse::parse_headers(bytes) {
        let mut ignored = Vec::new();
        for (key, name) in [
            ("subject", "Subject"),
            ("from", "From"),
            ("date", "Date"),
            ("message_id", "Message-ID"),
        ] {
            let value = headers
                .iter()
                .find(|h| is_named(h, name))
                .map(|h| decode_header(h, name, &mut ignored))
                .map(|v| {
                    if key == "message_id" {
                        ids(&v).first().cloned().unwrap_or(v)
                    } else {
                        v
                    }
                });
            summary.insert(
                key.to_owned(),
                value.map(Value::from).unwrap_or(Value::Null),
            );
        }
    }
    Value::Object(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_strict_lenient_and_named_zones() {
        assert_eq!(
            parse_date("Tue, 12 Mar 2024 10:30:00 +0100"),
            Ok((1_710_235_800, None))
        );
        assert_eq!(
            parse_date("12 Mar 2024 10:30 +0100 (CET)").map(|d| d.0),
            Ok(1_710_235_800)
        );
        assert_eq!(
            parse_date("Tue, 12 Mar 24 09:30:00 GMT").map(|d| d.0),
            Ok(1_710_235_800)
        );
        let (seconds, note) = parse_date("Tue, 12 Mar 2024 10:30:00 CET").expect("CET is read");
        assert_eq!(seconds, 1_710_235_800);
        assert_eq!(
            note.as_deref(),
            Some("Date: non-standard zone CET read as +0100")
        );
        assert!(parse_date("Tue, 12 Mar 2024 10:30:00 MET DST").is_ok());
        // See: #16. A wrong weekday keeps the date, noted; a zone glued to
        // the time is read.
        let (seconds, note) = parse_date("Wed, 12 Mar 2024 10:30:00 +0100").expect("kept");
        assert_eq!(seconds, 1_710_235_800);
        assert!(note.is_some_and(|n| n.contains("weekday \"Wed\"")));
        assert_eq!(
            parse_date("01 Jan 2001 00:01+0000").map(|d| d.0),
            Ok(978_307_260)
        );
        assert!(parse_date("gisteren rond de middag").is_err());
        assert!(parse_date("").is_err());
    }
}

#[cfg(test)]
mod base64_tests {
    #[test]
    fn base64_bodies_with_and_without_odd_white_space() {
        for raw in [
            "Content-Transfer-Encoding: base64\n\naGVsbG8g\nd29ybGQ=\n",
            "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n",
            "Content-Transfer-Encoding: base64\n\naGVsbG 8g\n\td29ybGQ= \n",
        ] {
            let mail = mailparse::parse_mail(raw.as_bytes()).expect("parses");
            assert_eq!(
                super::decoded_body(&mail).as_deref(),
                Ok(&b"hello world"[..]),
                "{raw:?}"
            );
        }
        let bad =
            mailparse::parse_mail(b"Content-Transfer-Encoding: base64\n\n%%%%\n").expect("parses");
        assert!(super::decoded_body(&bad).is_err());
    }
}
