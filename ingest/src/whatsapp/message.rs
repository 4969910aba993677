//! One record of a chat file: its header, sender and body turned into a
//! [`Record`], with the structural marks WhatsApp adds read and removed.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::DateTime;
use serde_json::{json, Value};
use spoor_normalize::text::normalize_text_keeping_marks;
use spoor_normalize::{
    format_wall, Ambiguity, BlobRef, Conversation, Deletion, FoldChoice, Links, Locator, Party,
    Record, RecordId, RecordKind, RecordTime, Sha256, Source, Zone, RECORD_SCHEMA,
};

use super::header::{DateOrder, Family, Header};
use super::media::{Fetched, Media};
use super::phrases::{self, SystemEvent};
use super::{read_date, ChatContext, Grammar};
use crate::lines::Line;
use crate::read::Store;
use crate::read::{Quarantined, PARSER};

const LRM: char = '\u{200e}';

/// The lines of one record as they are read.
pub(crate) struct Pending {
    start: u64,
    end: u64,
    first_line: u64,
    last_line: u64,
    raw: Vec<u8>,
    oversize: bool,
    header: Option<Header>,
}

impl Pending {
    pub(crate) fn start(
        line: &Line,
        number: u64,
        buf: &[u8],
        header: Header,
        max: usize,
    ) -> Pending {
        let mut pending = Pending::preamble(line, number);
        pending.header = Some(header);
        pending.push(line, number, buf, max);
        pending
    }

    /// Lines before any header.
    pub(crate) fn preamble(line: &Line, number: u64) -> Pending {
        Pending {
            start: line.start,
            end: line.start,
            first_line: number,
            last_line: number,
            raw: Vec::new(),
            oversize: false,
            header: None,
        }
    }

    pub(crate) fn push(&mut self, line: &Line, number: u64, buf: &[u8], max: usize) {
        self.end = line.start + line.len;
        self.last_line = number;
        if line.truncated || self.raw.len() + buf.len() > max {
            self.oversize = true;
            self.raw = Vec::new();
        }
        if !self.oversize {
            self.raw.extend_from_slice(buf);
        }
    }

    fn locator(&self, context: &ChatContext<'_>) -> Locator {
        Locator {
            path: context.path.clone(),
            bytes: Some([self.start, self.end]),
            lines: Some([self.first_line, self.last_line]),
            ..Locator::default()
        }
    }

    pub(crate) fn into_quarantine(self, context: &ChatContext<'_>, reason: &str) -> Quarantined {
        let size = self.end - self.start;
        let reason = if self.oversize {
            format!(
                "{reason}; {size} bytes exceed the limit of {} bytes and are kept only in the original",
                context.limits.max_chat_message_bytes
            )
        } else {
            reason.to_owned()
        };
        Quarantined {
            locator: self.locator(context),
            reason,
            raw: self.raw,
            raw_size: size,
        }
    }
}

/// What reading carries from one record to the next: the clock's place in
/// a fall-back hour and the count of identical lines so far. A chat read in
/// chunks starts each chunk with a fresh carry and checks, once the chunk
/// before is done, that starting fresh made no difference
/// ([`Carry::same_as_fresh`]).
#[derive(Default)]
pub(crate) struct Carry {
    clock: Clock,
    occurrences: Occurrences,
    /// Wall time of the first record that consulted this carry.
    first_wall: Option<DateTime>,
}

impl Carry {
    /// A fresh carry for a file of `lines` message headers: room for all
    /// their counts at once, so the table never grows (and never holds two
    /// sizes at once) while reading.
    pub(crate) fn for_headers(lines: u64) -> Carry {
        let mut carry = Carry::default();
        carry
            .occurrences
            .counts
            .reserve(usize::try_from(lines).unwrap_or(0));
        carry
    }

    /// Would a chunk read from a fresh carry have read the same had it
    /// started from `self`? True when no line of the chunk repeats a line
    /// counted before it (so every count started at zero rightly) and its
    /// first record takes the first instant of its wall time, as a fresh
    /// clock does; and for a chunk that consulted no carry at all.
    pub(crate) fn same_as_fresh(&self, chunk: &Carry) -> bool {
        chunk.first_wall.is_none_or(|first| {
            self.clock.choice(first) == FoldChoice::Earlier
                && chunk
                    .occurrences
                    .counts
                    .keys()
                    .all(|k| !self.occurrences.counts.contains_key(k))
        })
    }

    /// The carry after `chunk`, which was read fresh right after `self`.
    pub(crate) fn then(mut self, chunk: Carry) -> Carry {
        if chunk.first_wall.is_some() {
            self.clock = chunk.clock;
            self.first_wall = self.first_wall.or(chunk.first_wall);
        }
        for (key, count) in chunk.occurrences.counts {
            *self.occurrences.counts.entry(key).or_insert(0) += count;
        }
        self
    }
}

/// Resolves wall-clock times in file order. In the autumn fall-back hour
/// the first pass through the hour takes summer time; once the clock steps
/// back inside the hour, the second pass takes standard time.
#[derive(Default)]
struct Clock {
    previous: Option<(DateTime, Option<Ambiguity>)>,
    second_pass: bool,
}

impl Clock {
    fn choice(&self, wall: DateTime) -> FoldChoice {
        let stepped_back = matches!(
            self.previous,
            Some((before, Some(Ambiguity::FoldEarlier | Ambiguity::FoldLater))) if wall < before
        );
        if self.second_pass || stepped_back {
            FoldChoice::Later
        } else {
            FoldChoice::Earlier
        }
    }

    fn resolve(
        &mut self,
        wall: DateTime,
        zone: &Zone,
        source_text: &str,
    ) -> (RecordTime, Option<[String; 2]>) {
        let time = RecordTime::from_wall_clock(wall, zone, self.choice(wall), source_text);
        let candidates = match time.ambiguity {
            Some(Ambiguity::FoldEarlier | Ambiguity::FoldLater) => zone.fold_candidates(wall),
            _ => None,
        };
        self.second_pass = time.ambiguity == Some(Ambiguity::FoldLater);
        self.previous = Some((wall, time.ambiguity));
        (time, candidates)
    }
}

/// How many lines of the file so far had each (wall time, sender slot,
/// text): the n-th such line is occurrence n, wherever it stands, so every
/// line of an export is a record of its own and a later export of the same
/// chat numbers the same lines alike. Keyed by a 64-bit hash of the three,
/// about 20 bytes a distinct line (a collision only numbers two different
/// lines together: their ids still differ by their text).
#[derive(Default)]
struct Occurrences {
    counts: HashMap<u64, u32, std::hash::BuildHasherDefault<SipKey>>,
}

/// The keys are SipHash values already: used as they are, not hashed again
/// on every lookup (three a line: counting, checking a chunk, merging it).
#[derive(Default)]
struct SipKey(u64);

impl std::hash::Hasher for SipKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; this is for completeness.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Occurrences {
    fn next(&mut self, wall: DateTime, sender: &str, body: &str) -> u32 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (wall, sender, body).hash(&mut hasher);
        let n = self.counts.entry(hasher.finish()).or_insert(0);
        *n += 1;
        *n
    }
}

/// One step of the reading pass, in file order.
pub(crate) enum Step {
    Ready(Built),
    Quarantine(Quarantined),
}

/// Turns one record's lines into a record, or a quarantine item. Called in
/// file order: the time in a fall-back hour and the occurrence number of
/// identical messages depend on the records before.
pub(crate) fn build(
    message: Pending,
    grammar: &Grammar,
    context: &ChatContext<'_>,
    carry: &mut Carry,
) -> Step {
    let Some(header) = message.header else {
        let reason = if message.raw.iter().all(u8::is_ascii_whitespace) {
            "blank lines before the first message header"
        } else {
            "text before the first message header"
        };
        return Step::Quarantine(message.into_quarantine(context, reason));
    };
    if message.oversize {
        return Step::Quarantine(message.into_quarantine(context, "message too large"));
    }
    let text = match std::str::from_utf8(&message.raw) {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("invalid UTF-8 at byte {} of the message", e.valid_up_to());
            return Step::Quarantine(message.into_quarantine(context, &reason));
        }
    };
    let date = read_date(grammar.order, &header);
    if date.is_none() && grammar.shape.month_name().is_none() {
        let reason = format!(
            "the date is not valid in the file's date order {}",
            grammar.order.name()
        );
        return Step::Quarantine(message.into_quarantine(context, &reason));
    }
    // Without a year (`Mar 5, 8:11 PM`) the day and time still tell
    // identical messages apart; year 2000 (a leap year) only stands in for
    // that, never as the record's time.
    let key_date = date.or_else(|| yearless_date(grammar.order, &header));
    let Some(key_date) = key_date else {
        let reason = "the day or month is not valid".to_owned();
        return Step::Quarantine(message.into_quarantine(context, &reason));
    };
    let wall = key_date.to_datetime(jiff::civil::time(
        header.hour as i8,
        header.minute as i8,
        header.second as i8,
        0,
    ));
    let time_text = text
        .get(header.time_text.0..header.time_text.1)
        .unwrap_or("");
    let rest = text.get(header.body_start..).unwrap_or("");
    let rest = rest
        .strip_suffix("\r\n")
        .or_else(|| rest.strip_suffix('\n'))
        .unwrap_or(rest);
    let rest = normalize_text_keeping_marks(rest);
    let (time, fold_candidates) = match date {
        Some(_) => {
            carry.first_wall.get_or_insert(wall);
            carry.clock.resolve(wall, context.zone, time_text)
        }
        None => (
            RecordTime::unresolved(
                Some(time_text),
                "the header names no year (the export leaves it out); the day and time are as written",
            ),
            None,
        ),
    };
    let parts = split_sender(&rest, grammar.shape.family);
    let occurrence = carry
        .occurrences
        .next(wall, parts.slot.unwrap_or(""), &rest);
    let mut number = [0u8; 10];
    let wall_text = format_wall(wall);
    let id = RecordId::derive(
        "whatsapp",
        &[
            &context.identity.key,
            &wall_text,
            parts.slot.unwrap_or(""),
            &rest,
            itoa(occurrence, &mut number),
        ],
    );
    let mut out = Draft::default();
    // What the id is made of, so a verifier can make it again from the
    // original (docs/FORMAT.md §7): the text is the record's bytes from
    // `body_start` on.
    let mut basis = serde_json::Map::with_capacity(4);
    basis.insert("wall".to_owned(), Value::String(wall_text));
    basis.insert(
        "sender_slot".to_owned(),
        parts.slot.map_or(Value::Null, Value::from),
    );
    basis.insert("body_start".to_owned(), Value::from(header.body_start));
    basis.insert("occurrence".to_owned(), Value::from(occurrence));
    out.extra
        .insert("id_basis".to_owned(), Value::Object(basis));
    if let Some(candidates) = fold_candidates {
        out.extra.insert(
            "time_candidates".to_owned(),
            json!({ "earlier": candidates[0], "later": candidates[1], "basis": "file order" }),
        );
    }
    if time.ambiguity == Some(Ambiguity::Gap) {
        out.warnings.push(format!(
            "{} does not exist in {} (daylight-saving gap): the configured zone is wrong or the phone was elsewhere",
            time.source_text.as_deref().unwrap_or(""),
            context.zone.name()
        ));
    }
    let kind = classify(&parts, grammar.shape.family, &mut out);
    let sender = match kind {
        RecordKind::SystemEvent => None,
        _ => parts.slot.map(|slot| party(slot, &mut out.flags)),
    };
    let record = Record {
        schema: RECORD_SCHEMA.to_owned(),
        id,
        kind,
        source: Source {
            format: context.format.to_owned(),
            export_sha256: context.export_sha256,
            locator: message.locator(context),
            item_sha256: Some(Sha256::of(&message.raw)),
            parser: PARSER.to_owned(),
        },
        conversation: Conversation {
            id: Some(context.identity.key.clone()),
            title: context.identity.title.clone(),
            participants: Vec::new(),
        },
        sender,
        recipients: Vec::new(),
        time,
        subject: None,
        text: out.text.filter(|t| !t.is_empty()),
        bodies: Vec::new(),
        attachments: out.attachments,
        links: Links::default(),
        revision: None,
        deletion: out.deletion,
        flags: out.flags,
        warnings: out.warnings,
        extra: out.extra,
    };
    Step::Ready(Built {
        record: Box::new(record),
        fetch: out.fetch,
    })
}

/// A record whose attachments still have to be looked up.
pub(crate) struct Built {
    record: Box<Record>,
    /// Indices into `record.attachments` of files to fetch.
    fetch: Vec<usize>,
}

/// Looks up the files a record references, streaming each to the store,
/// and returns the record naming them.
/// The day and month of a header that names no year, on year 2000.
fn yearless_date(order: DateOrder, header: &Header) -> Option<jiff::civil::Date> {
    let (month, day) = match order {
        DateOrder::Mdy => (header.date[0], header.date[1]),
        _ => (header.date[1], header.date[0]),
    };
    jiff::civil::Date::new(2000, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

pub(crate) fn resolve(built: Built, media: &mut dyn Media, store: &mut Store<'_>) -> Box<Record> {
    let Built { mut record, fetch } = built;
    for index in fetch {
        let Some(blob) = record.attachments.get_mut(index) else {
            continue;
        };
        let name = blob.name.clone().unwrap_or_default();
        match media.fetch(&name, store) {
            Fetched::Stored { sha256, size } => {
                blob.size = Some(size);
                blob.sha256 = Some(sha256);
            }
            Fetched::Missing(why) => {
                blob.missing = true;
                blob.details.insert("missing".to_owned(), Value::from(why));
            }
            Fetched::Damaged(why) => {
                blob.missing = true;
                record.warnings.push(format!("{name}: {why}"));
                blob.details.insert("damaged".to_owned(), Value::from(why));
            }
        }
    }
    record
}

/// `n` in decimal, written into `buf`.
fn itoa(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("0")
}

/// The sender slot and body of a record.
struct Parts<'a> {
    /// The name before `: `, if the line has one.
    slot: Option<&'a str>,
    /// The body after `: ` (or the whole text of a line without a sender).
    body: &'a str,
    /// iOS: U+200E right after the separator, WhatsApp's cue for a line it
    /// wrote itself (system event, attachment, omitted media).
    cue: bool,
}

fn split_sender(rest: &str, family: Family) -> Parts<'_> {
    let first_line = rest.split('\n').next().unwrap_or("");
    // A sender whose name is empty (a deleted account): the mark, then `: `.
    if let Some(body) = rest.strip_prefix("\u{200e}: ") {
        return Parts {
            slot: Some(""),
            body,
            cue: false,
        };
    }
    if let Some(body) = rest.strip_prefix(LRM) {
        return Parts {
            slot: None,
            body,
            cue: true,
        };
    }
    if family == Family::Ios {
        if let Some(at) = first_line.find(": \u{200e}") {
            return Parts {
                slot: Some(&rest[..at]),
                body: &rest[at + 2 + LRM.len_utf8()..],
                cue: true,
            };
        }
    }
    match first_line.find(": ") {
        Some(at) => Parts {
            slot: Some(&rest[..at]),
            body: &rest[at + 2..],
            cue: false,
        },
        None => Parts {
            slot: None,
            body: rest,
            cue: false,
        },
    }
}

/// What classification fills in.
#[derive(Default)]
struct Draft {
    text: Option<String>,
    attachments: Vec<BlobRef>,
    fetch: Vec<usize>,
    deletion: Option<Deletion>,
    flags: Vec<String>,
    warnings: Vec<String>,
    extra: BTreeMap<String, Value>,
}

/// Reads what kind of line this is and fills the draft. Android system
/// lines have no sender; a would-be sender that ends inside a quotation
/// (an odd number of quotation marks: the `: ` was in a quoted group
/// subject) is a system line when the phrase table knows it, while a
/// sender with a quoted nickname (`Muhammed "Mo" V.: …`) stays a sender.
/// iOS system lines carry a name and the U+200E cue, and are known by the
/// phrase table.
fn classify(parts: &Parts<'_>, family: Family, out: &mut Draft) -> RecordKind {
    let whole = || match parts.slot {
        Some(slot) => format!("{slot}: {}", parts.body),
        None => parts.body.to_owned(),
    };
    match (family, parts.slot) {
        (Family::Android, None) => {
            system(out, parts.body, None);
            return RecordKind::SystemEvent;
        }
        (Family::Android, Some(slot))
            if slot
                .chars()
                .filter(|c| matches!(c, '"' | '“' | '”' | '„' | '«' | '»'))
                .count()
                % 2
                == 1 =>
        {
            let text = whole();
            if let Some(event) = phrases::system_event(&text) {
                system_with(out, &text, event, None);
                return RecordKind::SystemEvent;
            }
        }
        (Family::Ios, None) => {
            system(out, parts.body, None);
            return RecordKind::SystemEvent;
        }
        _ => {}
    }
    if parts.cue {
        if let Some(event) = phrases::system_event(parts.body.trim_end()) {
            system_with(out, parts.body, event, parts.slot);
            return RecordKind::SystemEvent;
        }
    }
    message_body(parts.body, parts.cue, out);
    RecordKind::Message
}

fn system(out: &mut Draft, text: &str, slot: Option<&str>) {
    match phrases::system_event(text.trim_end()) {
        Some(event) => system_with(out, text, event, slot),
        None => {
            out.text = Some(text.to_owned());
            out.flags.push("unrecognised-system-event".to_owned());
            out.extra.insert(
                "system_event".to_owned(),
                json!({ "type": "unknown", "sender_slot": slot }),
            );
        }
    }
}

fn system_with(out: &mut Draft, text: &str, event: SystemEvent, slot: Option<&str>) {
    // A missed call names no one in its text: the caller is in the slot.
    let actor = event.actor.or_else(|| {
        event
            .event
            .starts_with("missed-")
            .then(|| slot.map(str::to_owned))
            .flatten()
    });
    out.text = Some(text.to_owned());
    out.extra.insert(
        "system_event".to_owned(),
        json!({
            "type": event.event,
            "language": event.language,
            "actor": actor,
            "target": event.target,
            "subject": event.subject,
            "previous_subject": event.old,
            "sender_slot": slot,
        }),
    );
}

/// A user's message: attachments, omitted media, deletions, the edited
/// marker, locations and polls are read; what remains is the text.
fn message_body(body: &str, cue: bool, out: &mut Draft) {
    let mut body = match strip_edited(body) {
        Some(stripped) => {
            out.flags.push("edited".to_owned());
            stripped
        }
        None => body.to_owned(),
    };
    let (first, caption) = match body.split_once('\n') {
        Some((first, rest)) => (first, Some(rest)),
        None => (body.as_str(), None),
    };
    let first_bare = first.trim_start_matches(LRM);

    let plain = body.trim_start_matches(LRM).trim_end();
    if let Some((_, by)) = phrases::DELETED
        .iter()
        .find(|(phrase, _)| plain.strip_suffix('.').unwrap_or(plain) == *phrase)
    {
        out.deletion = Some(Deletion {
            deleted_at: None,
            deleted_by: None,
        });
        out.flags.push("deleted".to_owned());
        out.extra
            .insert("deleted".to_owned(), json!({ "by": by, "marker": plain }));
        return;
    }
    if phrases::MEDIA_OMITTED.contains(&plain) {
        omitted(out, None, None);
        return;
    }
    if cue {
        if let Some((phrase, kind)) = phrases::KIND_OMITTED
            .iter()
            .find(|(phrase, _)| plain == *phrase || plain.ends_with(&format!(" {phrase}")))
        {
            let info = plain
                .strip_suffix(phrase)
                .map(str::trim)
                .filter(|i| !i.is_empty());
            omitted(out, Some(kind), info);
            return;
        }
    }
    if let Some(name) = phrases::ATTACHED_SUFFIXES
        .iter()
        .find_map(|s| first_bare.strip_suffix(s))
    {
        attach(out, name, None);
        out.text = caption.map(str::to_owned);
        return;
    }
    if let Some((before, name)) = ios_attachment(first) {
        let before = before.trim_end_matches(LRM).trim();
        let info = before.contains(" • ").then_some(before);
        attach(out, name, info);
        let mut text = if info.is_some() || before.is_empty() {
            String::new()
        } else {
            before.to_owned()
        };
        if let Some(caption) = caption {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(caption);
        }
        out.text = Some(text);
        return;
    }
    if phrases::LIVE_LOCATION.contains(&plain) {
        out.flags.push("live-location".to_owned());
    } else if let Some(url) = phrases::LOCATION
        .iter()
        .find_map(|p| first_bare.strip_prefix(p))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        out.flags.push("location".to_owned());
        out.extra.insert("location".to_owned(), location(url));
    } else if phrases::POLL.contains(&first_bare.trim_end()) {
        out.flags.push("poll".to_owned());
        out.extra
            .insert("poll".to_owned(), poll(caption.unwrap_or("")));
        // The marks before each option line are structure.
        body = body
            .lines()
            .map(|l| l.trim_start_matches(LRM))
            .collect::<Vec<_>>()
            .join("\n");
    }
    if cue {
        body = body.trim_start_matches(LRM).to_owned();
    }
    out.text = Some(body);
}

/// The body without a trailing "edited" marker (and the space or U+200E
/// before it), if it has one.
fn strip_edited(body: &str) -> Option<String> {
    let trimmed = body.trim_end();
    phrases::EDITED.iter().find_map(|marker| {
        let before = trimmed.strip_suffix(marker)?;
        Some(before.trim_end_matches([' ', LRM, '\u{a0}']).to_owned())
    })
}

/// iOS `<attached: NAME>` (localised) at the end of the first line: the
/// text before it and the name.
fn ios_attachment(first: &str) -> Option<(&str, &str)> {
    let inner = first.trim_end().strip_suffix('>')?;
    phrases::ATTACHED_WORDS.iter().find_map(|word| {
        let marker = format!("<{word}: ");
        let at = inner.rfind(&marker)?;
        Some((&inner[..at], &inner[at + marker.len()..]))
    })
}

fn omitted(out: &mut Draft, kind: Option<&str>, info: Option<&str>) {
    let mut details = BTreeMap::new();
    details.insert("omitted".to_owned(), Value::Bool(true));
    if let Some(kind) = kind {
        details.insert("kind".to_owned(), Value::from(kind));
    }
    if let Some(info) = info {
        details.insert("document_info".to_owned(), Value::from(info));
    }
    out.attachments.push(BlobRef {
        role: "attachment".to_owned(),
        name: None,
        media_type: None,
        size: None,
        sha256: None,
        missing: true,
        details,
    });
    out.flags.push("media-omitted".to_owned());
}

/// An attachment reference; the file is looked up later, in file order.
fn attach(out: &mut Draft, name: &str, info: Option<&str>) {
    let mut details = BTreeMap::new();
    if let Some(info) = info {
        details.insert("document_info".to_owned(), Value::from(info));
    }
    let media_type = media_type(name);
    if media_type == Some("text/vcard") {
        out.flags.push("contact-card".to_owned());
    }
    out.fetch.push(out.attachments.len());
    out.attachments.push(BlobRef {
        role: "attachment".to_owned(),
        name: Some(name.to_owned()),
        media_type: media_type.map(str::to_owned),
        size: None,
        sha256: None,
        missing: false,
        details,
    });
}

/// `https://maps.google.com/?q=52.37,4.89`: the URL and, when it carries
/// them, the coordinates.
fn location(url: &str) -> Value {
    let url = url.split_whitespace().next().unwrap_or(url);
    let coordinates = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("q="))
        .and_then(|q| q.split_once(','))
        .and_then(|(lat, lon)| Some((lat.parse::<f64>().ok()?, lon.parse::<f64>().ok()?)));
    json!({
        "url": url,
        "latitude": coordinates.map(|c| c.0),
        "longitude": coordinates.map(|c| c.1),
    })
}

/// The lines after `POLL:`: the question, then `OPTION: text (n votes)`.
fn poll(lines: &str) -> Value {
    let mut lines = lines.lines().map(|l| l.trim_start_matches(LRM).trim());
    let question = lines.next().unwrap_or("");
    let options: Vec<Value> = lines
        .filter_map(|l| l.split_once(": ").map(|(_, o)| o))
        .map(|option| {
            let votes = option.rsplit_once(" (").and_then(|(text, n)| {
                let count = n.split(' ').next()?.parse::<u64>().ok()?;
                Some((text, count))
            });
            match votes {
                Some((text, count)) => json!({ "text": text, "votes": count }),
                None => json!({ "text": option, "votes": null }),
            }
        })
        .collect();
    json!({ "question": question, "options": options })
}

/// A sender as written. `~` + U+202F marks a profile name the sender chose
/// (not in the exporter's address book); a phone number becomes E.164.
fn party(slot: &str, flags: &mut Vec<String>) -> Party {
    if slot.starts_with('~') {
        flags.push("self-asserted-name".to_owned());
    }
    let address = e164(slot.trim_start_matches(['~', '\u{202f}', ' ']));
    Party {
        name: Some(slot.to_owned()),
        address_type: address.as_ref().map(|_| "e164".to_owned()),
        address,
    }
}

/// `+31 6 1234 5678`, `+1 (777) 777‑7777` → `+31612345678`, `+17777777777`.
fn e164(text: &str) -> Option<String> {
    let rest = text.trim().strip_prefix('+')?;
    let mut digits = String::from("+");
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' | '\u{a0}' | '\u{2011}' | '\u{202f}' => {}
            _ => return None,
        }
    }
    (9..=16).contains(&digits.len()).then_some(digits)
}

/// Media type from a file name's extension, for the kinds WhatsApp sends.
fn media_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "mov" => "video/quicktime",
        "opus" | "ogg" => "audio/ogg",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        "pdf" => "application/pdf",
        "vcf" => "text/vcard",
        "txt" => "text/plain",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: #17. Identical lines are counted over the whole file, even
    /// with other lines and other minutes between them.
    #[test]
    fn identical_lines_are_counted_over_the_file() {
        let mut seen = Occurrences::default();
        let minute = jiff::civil::date(2024, 5, 1).at(10, 0, 0, 0);
        let next = minute + jiff::SignedDuration::from_mins(1);
        // Sender and body are told apart even when their joins agree.
        assert_eq!(seen.next(minute, "Jan", "ja"), 1);
        assert_eq!(seen.next(minute, "Ja", "nja"), 1);
        assert_eq!(seen.next(minute, "Jan", "ja"), 2);
        for n in 0..20 {
            assert_eq!(seen.next(minute, "Eva", &format!("bericht {n}")), 1);
        }
        assert_eq!(seen.next(minute, "Eva", "bericht 3"), 2);
        // Another minute is another line; going back to the first minute
        // (a delayed message) goes on counting there.
        assert_eq!(seen.next(next, "Jan", "ja"), 1);
        assert_eq!(seen.next(minute, "Jan", "ja"), 3);
        assert_eq!(seen.next(next, "Jan", "ja"), 2);
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(e164("+31 6 12345678").as_deref(), Some("+31612345678"));
        assert_eq!(
            e164("+1 (777) 777\u{2011}7777").as_deref(),
            Some("+17777777777")
        );
        assert_eq!(e164("Jan"), None);
        assert_eq!(e164("+31 6 abc"), None);
    }

    #[test]
    fn edited_marker_is_removed() {
        assert_eq!(
            strip_edited("Tot morgen <This message was edited>").as_deref(),
            Some("Tot morgen")
        );
        assert_eq!(
            strip_edited("Klopt \u{200e}<Dit bericht is bewerkt>").as_deref(),
            Some("Klopt")
        );
        assert_eq!(strip_edited("Gewoon tekst"), None);
    }
}
