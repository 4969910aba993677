//! WhatsApp "Export chat": the text file (Android `WhatsApp Chat with
//! NAME.txt` and its localised names, iOS `_chat.txt`) and the zip "with
//! media" from either family. There is no specification; what is handled and
//! why is in docs/FORMAT.md §13 and ../shared/research/whatsapp.md.
//!
//! A chat file is read twice, streaming both times: a survey decides the
//! header grammar and the date order once for the whole file, then the
//! reading pass turns each header and its continuation lines into a record.
//! A chat file of 4 MB or more on disk is surveyed in parts and read in
//! chunks on every core (`chunks`), with exactly the records, in exactly
//! the order, of one pass; a chat inside a zip is read in one pass.

mod chunks;
mod export;
pub(crate) mod header;
mod media;
mod message;
mod phrases;

use std::io::{self, BufRead};

use serde_json::{json, Value};
use spoor_normalize::{Sha256, Zone};

pub(crate) use chunks::{read_chat_file, survey_file};
pub(crate) use export::{read_in_folder, read_zip, CHAT};
pub use header::DateOrder;
pub(crate) use media::{FolderMedia, Media, NoMedia, ZipMedia};

use crate::lines::LineReader;
use crate::read::{stream_out, Item, Limits, Stop};
use header::{Family, Header, Shape};
use message::{Carry, Pending, Step};

/// Format names of the two containers.
pub(crate) const FORMAT_TEXT: &str = "whatsapp/text";
pub(crate) const FORMAT_ZIP: &str = "whatsapp/zip";

/// Is `head` (the first bytes of a file) the start of a WhatsApp chat? Its
/// first line that is not blank is a header (some tools write the export
/// after empty lines).
pub(crate) fn sniff(head: &[u8]) -> bool {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    valid_prefix(head)
        .lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| header::parse(line.as_bytes()).is_some())
}

/// The longest valid UTF-8 start of `bytes`: a header is short and ASCII,
/// so a line cut inside a character, or invalid later on, still shows it.
fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// What the survey of a chat file decided, once for the whole file.
#[derive(Clone, Debug)]
pub(crate) struct Grammar {
    shape: Shape,
    order: DateOrder,
    order_basis: String,
    headers: u64,
    /// iOS: the name in the sender slot of the first system line (the chat's
    /// name in a group export).
    first_slot: Option<String>,
    /// The calendar the years are written in, when not the Gregorian.
    calendar: Option<Calendar>,
}

/// A calendar other than the Gregorian, and how it was recognised.
#[derive(Clone, Debug)]
struct Calendar {
    name: &'static str,
    basis: String,
}

impl Grammar {
    /// Message headers the survey counted.
    pub(crate) fn headers(&self) -> u64 {
        self.headers
    }

    /// The decisions to record in `package.json`.
    pub(crate) fn decisions(&self, path: Option<&str>, zone: &Zone) -> Vec<Value> {
        let calendar = self.calendar.as_ref().map(|c| {
            json!({
                "decision": "whatsapp-calendar",
                "path": path,
                "value": c.name,
                "basis": c.basis,
            })
        });
        let mut decisions = vec![
            json!({
                "decision": "whatsapp-header-grammar",
                "path": path,
                "value": self.shape.family.name(),
                "basis": format!(
                    "header grammar `{}` (n: date component), the most frequent in the file ({} lines), then required exactly",
                    self.shape.describe(),
                    self.headers
                ),
            }),
            json!({
                "decision": "whatsapp-date-order",
                "path": path,
                "value": self.order.name(),
                "basis": self.order_basis,
            }),
            json!({
                "decision": "whatsapp-time-zone",
                "path": path,
                "value": zone.name(),
                "basis": "configured zone (the export carries wall-clock time only)",
            }),
        ];
        decisions.extend(calendar);
        decisions
    }
}

/// Per-shape tallies of the survey.
struct ShapeTally {
    count: u64,
    /// Offset of the first line of this shape.
    first_at: u64,
    orders: [OrderTally; 4],
    /// The first 4-digit date component of a Buddhist Era year, if any.
    buddhist_year: Option<u32>,
}

#[derive(Clone, Copy, Default)]
struct OrderTally {
    invalid: bool,
    /// The first and the last valid date read.
    first: Option<jiff::civil::Date>,
    previous: Option<jiff::civil::Date>,
    decreases: u64,
}

impl OrderTally {
    fn add(&mut self, date: Option<jiff::civil::Date>) {
        match date {
            None => self.invalid = true,
            Some(date) => {
                if self.previous.is_some_and(|p| date < p) {
                    self.decreases += 1;
                }
                self.first.get_or_insert(date);
                self.previous = Some(date);
            }
        }
    }

    /// These tallies followed by `later`'s, of the part of the file after.
    fn then(&mut self, later: &OrderTally) {
        self.invalid |= later.invalid;
        self.decreases += later.decreases;
        if let (Some(before), Some(after)) = (self.previous, later.first) {
            if after < before {
                self.decreases += 1;
            }
        }
        self.first = self.first.or(later.first);
        self.previous = later.previous.or(self.previous);
    }
}

/// Most distinct header shapes tracked: a real file has one, and date-led
/// body lines add a few. (Surveyed in parts, a file with more than this in
/// one part may count a late shape less than one pass would.)
const MAX_SHAPES: usize = 64;

/// What the survey found in one part of a file (or in all of it).
#[derive(Default)]
pub(crate) struct SurveyPart {
    // A file has one shape and a few look-alikes: a list beats hashing.
    tallies: Vec<(Shape, ShapeTally)>,
    first_slot: Option<String>,
    /// System notices recognised among the first header lines of this part
    /// (language, event), in file order. Only the first lines are looked
    /// at: notices open a chat, and matching every line of a large file
    /// would cost the survey dearly.
    notices: Vec<(&'static str, &'static str)>,
    /// Header lines looked at for notices so far.
    notice_lines: u32,
}

/// Header lines at the start of a file looked at for system notices.
const NOTICE_LINES: u32 = 64;

impl SurveyPart {
    /// Tallies the headers of the lines read from `lines` that start
    /// before `end`.
    pub(crate) fn read<R: BufRead>(lines: &mut LineReader<R>, end: u64) -> io::Result<SurveyPart> {
        let mut part = SurveyPart::default();
        while let Some(line) = lines.next_line()? {
            if line.start >= end {
                break;
            }
            let buf = &lines.buf;
            let Some(&first) = buf.first() else { continue };
            if !could_start_header(first) && first != 0xef {
                continue;
            }
            let buf = buf.strip_prefix(BOM).unwrap_or(buf);
            // The header is in the first bytes, as when reading (`header_of`).
            let Some((shape, header)) = header::parse(&buf[..buf.len().min(HEADER_BYTES)]) else {
                continue;
            };
            if part.first_slot.is_none() && shape.family == Family::Ios {
                part.first_slot = valid_prefix(buf)
                    .get(header.body_start..)
                    .and_then(|rest| rest.split_once(": \u{200e}"))
                    .map(|(slot, _)| slot.to_owned());
            }
            if part.notice_lines < NOTICE_LINES {
                part.notice_lines += 1;
                let body = valid_prefix(buf).get(header.body_start..).unwrap_or("");
                // iOS writes the chat's name before a system notice.
                let body = body.split_once(": \u{200e}").map_or(body, |(_, text)| text);
                let body = body.trim_start_matches('\u{200e}').trim_end();
                if let Some(event) = phrases::system_event(body) {
                    part.notices.push((event.language, event.event));
                }
            }
            let Some(tally) = part.tally(shape, line.start) else {
                continue;
            };
            tally.count += 1;
            if tally.buddhist_year.is_none() {
                tally.buddhist_year = header
                    .date
                    .iter()
                    .zip(header.digits)
                    .find(|(v, d)| *d == 4 && **v >= header::BUDDHIST_ERA_FROM)
                    .map(|(v, _)| *v);
            }
            for (order, t) in DateOrder::ALL.iter().zip(&mut tally.orders) {
                t.add(read_date(*order, &header));
            }
        }
        Ok(part)
    }

    /// The tally of `shape`, new if there is room for it.
    fn tally(&mut self, shape: Shape, at: u64) -> Option<&mut ShapeTally> {
        let index = match self.tallies.iter().position(|(s, _)| *s == shape) {
            Some(index) => index,
            None if self.tallies.len() >= MAX_SHAPES => return None,
            None => {
                let tally = ShapeTally {
                    count: 0,
                    first_at: at,
                    orders: [OrderTally::default(); 4],
                    buddhist_year: None,
                };
                self.tallies.push((shape, tally));
                self.tallies.len() - 1
            }
        };
        self.tallies.get_mut(index).map(|(_, t)| t)
    }

    /// This part followed by `later`, the part of the file after it.
    pub(crate) fn then(mut self, later: SurveyPart) -> SurveyPart {
        for (shape, tally) in later.tallies {
            let Some(mine) = self.tally(shape, tally.first_at) else {
                continue;
            };
            mine.count += tally.count;
            mine.buddhist_year = mine.buddhist_year.or(tally.buddhist_year);
            for (order, later) in mine.orders.iter_mut().zip(&tally.orders) {
                order.then(later);
            }
        }
        self.first_slot = self.first_slot.or(later.first_slot);
        self.notices.extend(later.notices);
        self
    }
}

/// Reads the chat once, deciding its header grammar and date order (see
/// docs/FORMAT.md §13.2). `Ok(Err(reason))` when no decision is possible.
pub(crate) fn survey<R: BufRead>(
    input: R,
    hint: Option<DateOrder>,
    names: &[&str],
) -> io::Result<Result<Grammar, String>> {
    let part = SurveyPart::read(&mut LineReader::new(input, 160), u64::MAX)?;
    Ok(decide(part, hint, names))
}

/// The grammar a survey of the whole file found, or why there is none.
/// `names` are the export's own file names (the chat file, the zip it came
/// in): their language is evidence for the date order when the dates fit
/// several.
pub(crate) fn decide(
    survey: SurveyPart,
    hint: Option<DateOrder>,
    names: &[&str],
) -> Result<Grammar, String> {
    let names_of_export = names;
    let SurveyPart {
        tallies,
        first_slot,
        notices,
        ..
    } = survey;
    let Some((shape, tally)) = tallies
        .into_iter()
        .max_by_key(|(_, t)| (t.count, std::cmp::Reverse(t.first_at)))
    else {
        return Err("no WhatsApp message header found".to_owned());
    };
    // A month written as a name fixes the order, and the header names no
    // year to test it against.
    if let Some(position) = shape.month_name() {
        let (order, basis) = match position {
            header::MonthName::BeforeDay => (
                DateOrder::Mdy,
                "the month is written as a name before the day (`Mar 5`); the headers name no year, so times stay unresolved",
            ),
            header::MonthName::AfterDay => (
                DateOrder::Dmy,
                "the month is written as a name after the day (`18 Mar`); the headers name no year, so times stay unresolved",
            ),
        };
        return Ok(Grammar {
            shape,
            order,
            order_basis: basis.to_owned(),
            headers: tally.count,
            first_slot,
            calendar: None,
        });
    }
    let fits: Vec<(DateOrder, u64)> = DateOrder::ALL
        .iter()
        .zip(&tally.orders)
        .filter(|(_, t)| !t.invalid)
        .map(|(o, t)| (*o, t.decreases))
        .collect();
    let names = |orders: &[(DateOrder, u64)]| {
        orders
            .iter()
            .map(|(o, _)| o.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let decided = match fits.as_slice() {
        [] => Err("no date order reads every header as a valid date".to_owned()),
        [(order, _)] => Ok((
            *order,
            "the only order in which every date is valid (a component above 12, or the year's place)"
                .to_owned(),
        )),
        _ => {
            let steady: Vec<_> = fits.iter().filter(|(_, d)| *d == 0).copied().collect();
            // The export's own language, where it writes the day first.
            let day_first = names_of_export
                .iter()
                .find_map(|n| file_name_language(n).map(|language| (n, language)))
                .filter(|(_, language)| phrases::DAY_FIRST_LANGUAGES.contains(language))
                .filter(|_| fits.iter().any(|(o, d)| *o == DateOrder::Dmy && *d == 0));
            // The language of the system notices the chat opens with.
            let notice_day_first = notices
                .iter()
                .find(|(language, _)| phrases::DAY_FIRST_LANGUAGES.contains(language))
                .filter(|_| fits.iter().any(|(o, d)| *o == DateOrder::Dmy && *d == 0));
            match (steady.as_slice(), hint, day_first) {
                ([(order, _)], _, _) => Ok((
                    *order,
                    format!("the only order, of those that fit ({}), in which dates never decrease", names(&fits)),
                )),
                (_, _, Some((name, language))) => Ok((
                    DateOrder::Dmy,
                    format!(
                        "the dates fit {} alike; the export's file name {name:?} is in {language}, which writes the day before the month",
                        names(&fits)
                    ),
                )),
                (_, _, None) if notice_day_first.is_some() => {
                    let (language, event) = notice_day_first.copied().unwrap_or_default();
                    Ok((
                        DateOrder::Dmy,
                        format!(
                            "the dates fit {} alike; the chat's system notices are in {language} (a {event} notice), which writes the day before the month",
                            names(&fits)
                        ),
                    ))
                }
                (_, Some(hint), _) if fits.iter().any(|(o, _)| *o == hint) => Ok((
                    hint,
                    format!("configured hint; the dates fit {} alike", names(&fits)),
                )),
                (_, Some(hint), _) => Err(format!(
                    "the configured date order {} does not fit this file (it fits {})",
                    hint.name(),
                    names(&fits)
                )),
                (_, None, _) => Err(format!(
                    "ambiguous date order: the dates read validly as {}; give the order with `spoor run --date-order ORDER` or `date_order_hint` in spoor.toml",
                    names(&fits)
                )),
            }
        }
    };
    let calendar = if shape.era() {
        Some(Calendar {
            name: "japanese-era",
            basis: "years written as an era letter and number (R4 = Reiwa 4 = 2022, H = Heisei from 1989, S = Showa from 1926), converted to Gregorian years".to_owned(),
        })
    } else {
        tally.buddhist_year.map(|year| Calendar {
            name: "buddhist-era",
            basis: format!(
                "years such as {year} lie centuries after WhatsApp's time: Buddhist Era years (the Thai calendar), converted to Gregorian by subtracting 543 ({year} is {})",
                year - 543
            ),
        })
    };
    decided.map(|(order, order_basis)| Grammar {
        shape,
        order,
        order_basis,
        headers: tally.count,
        first_slot,
        calendar,
    })
}

/// The calendar date of a header under `order`. Year-first orders need a
/// 4-digit year: every locale that writes the year first writes it whole,
/// and `31-12-20` must not read as 2031-12-20.
fn read_date(order: DateOrder, header: &Header) -> Option<jiff::civil::Date> {
    if matches!(order, DateOrder::Ymd | DateOrder::Ydm)
        && header.digits[0] != 4
        && header.era.is_none()
    {
        return None;
    }
    order.read(header)
}

/// What identifies the chat a file belongs to.
#[derive(Clone, Debug)]
pub(crate) struct ChatIdentity {
    /// `whatsapp:` and the chat's name as far as the export tells it.
    pub(crate) key: String,
    /// The chat's name, when the export names it.
    pub(crate) title: Option<String>,
    /// How the name was found.
    pub(crate) basis: &'static str,
}

/// Names a chat from the names of its file and container and the survey.
pub(crate) fn chat_identity(names: &[&str], grammar: &Grammar) -> ChatIdentity {
    let from_name = names.iter().find_map(|n| chat_name(n));
    let (title, basis) = match (from_name, &grammar.first_slot) {
        (Some(name), _) => (Some(name), "the export's file name"),
        (None, Some(slot)) => (
            Some(slot.clone()),
            "the sender slot of the first iOS system line",
        ),
        (None, None) => (None, "no name in the export; the file's own name"),
    };
    let fallback = names
        .first()
        .map_or("chat", |n| n.rsplit('/').next().unwrap_or(n));
    ChatIdentity {
        key: format!("whatsapp:{}", title.as_deref().unwrap_or(fallback)),
        title,
        basis,
    }
}

/// The chat's name from an export's file name: `WhatsApp Chat with NAME.txt`,
/// `WhatsApp-chat met NAME.zip`, `WhatsApp Chat - NAME.zip`…, without a
/// browser's ` (1)` copy counter.
fn chat_name(file_name: &str) -> Option<String> {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let stem = [".txt", ".zip", ".TXT", ".ZIP"]
        .iter()
        .find_map(|e| base.strip_suffix(e))
        .unwrap_or(base);
    let stem = match stem.rsplit_once(" (") {
        Some((s, n))
            if n.strip_suffix(')')
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            s
        }
        _ => stem,
    };
    phrases::CHAT_FILE_PREFIXES
        .iter()
        .find_map(|(p, _)| stem.strip_prefix(p))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

/// The language an export's file name is written in, when its form tells.
fn file_name_language(file_name: &str) -> Option<&'static str> {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    phrases::CHAT_FILE_PREFIXES
        .iter()
        .find(|(p, language)| !language.is_empty() && base.starts_with(p))
        .map(|(_, language)| *language)
}

/// Everything the reading pass needs besides the bytes.
pub(crate) struct ChatContext<'a> {
    pub(crate) format: &'static str,
    /// Path of the chat file inside the export, if not the export itself.
    pub(crate) path: Option<String>,
    pub(crate) export_sha256: Sha256,
    pub(crate) identity: ChatIdentity,
    pub(crate) zone: &'a Zone,
    pub(crate) limits: &'a Limits,
}

/// The reading pass over a chat in one stream (a chat inside a zip): each
/// header of the surveyed shape starts a record, and the lines up to the
/// next one are its body. A chat file on disk is read in chunks on several
/// threads instead ([`read_chat_file`]).
pub(crate) fn read_chat<R: BufRead, E>(
    input: R,
    grammar: &Grammar,
    context: &ChatContext<'_>,
    media: &mut dyn Media,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<(), Stop<io::Error, E>> {
    let mut lines = LineReader::new(
        input,
        context.limits.max_chat_message_bytes.saturating_add(1),
    );
    let span = Span {
        grammar,
        context,
        stop_at: u64::MAX,
    };
    span.read(
        &mut lines,
        &mut Carry::for_headers(grammar.headers),
        media,
        emit,
    )
    .map(|_| ())
}

/// Where a reading pass runs: the file's grammar and context, and the offset
/// at or after which a header ends the span (it starts the next one).
struct Span<'a, 'c> {
    grammar: &'a Grammar,
    context: &'a ChatContext<'c>,
    stop_at: u64,
}

impl Span<'_, '_> {
    /// Reads records from `lines` until a header of the file's shape that
    /// starts at or after `stop_at`, or the end. Returns the number of the
    /// span's last line.
    fn read<R: BufRead, E>(
        &self,
        lines: &mut LineReader<R>,
        carry: &mut Carry,
        media: &mut dyn Media,
        emit: &mut dyn FnMut(Item) -> Result<(), E>,
    ) -> Result<u64, Stop<io::Error, E>> {
        let (grammar, context) = (self.grammar, self.context);
        let max = context.limits.max_chat_message_bytes;
        let mut pending: Option<Pending> = None;
        let mut finish = |message: Pending, carry: &mut Carry| -> Result<(), Stop<io::Error, E>> {
            let item = match message::build(message, grammar, context, carry) {
                Step::Ready(built) => {
                    // Media go to the store before the record that names them.
                    let mut stopped = None;
                    let record = message::resolve(built, media, &mut |bytes| {
                        stream_out(emit, &mut stopped, bytes)
                    });
                    if let Some(e) = stopped {
                        return Err(Stop::Sink(e));
                    }
                    Item::Record(record, Vec::new())
                }
                Step::Quarantine(q) => Item::Quarantine(q),
            };
            emit(item).map_err(Stop::Sink)
        };
        let mut last_line = lines.line_number();
        while let Some(line) = lines.next_line().map_err(Stop::Input)? {
            let mut text_start = 0;
            if line.start == 0 && lines.buf.starts_with(BOM) {
                text_start = BOM.len();
            }
            match header_of(&lines.buf[text_start..], &grammar.shape) {
                Some(_) if line.start >= self.stop_at => break,
                Some(mut header) => {
                    header.time_text.0 += text_start;
                    header.time_text.1 += text_start;
                    header.body_start += text_start;
                    if let Some(done) = pending.take() {
                        finish(done, carry)?;
                    }
                    pending = Some(Pending::start(
                        &line,
                        lines.line_number(),
                        &lines.buf,
                        header,
                        max,
                    ));
                }
                None => pending
                    .get_or_insert_with(|| Pending::preamble(&line, lines.line_number()))
                    .push(&line, lines.line_number(), &lines.buf, max),
            }
            last_line = lines.line_number();
        }
        if let Some(done) = pending.take() {
            finish(done, carry)?;
        }
        Ok(last_line)
    }
}

/// U+FEFF as UTF-8, which some exports start with.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// A header is ASCII apart from marks and spaces; this many bytes hold any.
const HEADER_BYTES: usize = 80;

/// Whether a line starting with this byte can start with a header: a
/// digit, `[`, a mark (U+200E/U+200F), a Japanese era letter, the first
/// letter of an English month, or the first byte of an Arabic-Indic digit
/// (U+0660–U+0669, U+06F0–U+06F9).
fn could_start_header(first: u8) -> bool {
    first.is_ascii_digit()
        || matches!(first, b'[' | 0xe2 | 0xd9 | 0xdb)
        // Era letters (R, H, S) and English month names.
        || matches!(first, b'R' | b'H' | b'S' | b'J' | b'F' | b'M' | b'A' | b'O' | b'N' | b'D')
}

/// The header at the start of `line` if it has exactly the file's shape.
fn header_of(line: &[u8], shape: &Shape) -> Option<Header> {
    let &first = line.first()?;
    if !could_start_header(first) {
        return None;
    }
    let prefix = &line[..line.len().min(HEADER_BYTES)];
    header::parse(prefix).and_then(|(s, h)| (s == *shape).then_some(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey_of(text: &str, hint: Option<DateOrder>) -> Result<Grammar, String> {
        survey(text.as_bytes(), hint, &[]).expect("reads")
    }

    #[test]
    fn date_order_by_value_then_sequence_then_hint() {
        let g =
            survey_of("13/01/2024 10:00 - A: x\n14/01/2024 10:00 - A: y\n", None).expect("decides");
        assert_eq!(g.order, DateOrder::Dmy);
        let g = survey_of("01/13/2024 10:00 - A: x\n", None).expect("decides");
        assert_eq!(g.order, DateOrder::Mdy);
        // 01/02 then 02/01: only d-m-y never goes back.
        let g = survey_of(
            "01/02/2024 10:00 - A: x\n02/02/2024 10:00 - A: y\n01/03/2024 10:00 - A: z\n",
            None,
        )
        .expect("decides");
        assert_eq!(g.order, DateOrder::Dmy);
        assert!(
            g.order_basis.contains("never decrease"),
            "{}",
            g.order_basis
        );
        let one_day = "05/03/24 10:00 - A: x\n05/03/24 10:01 - A: y\n";
        let err = survey_of(one_day, None).expect_err("ambiguous");
        assert!(err.contains("ambiguous date order"), "{err}");
        let g = survey_of(one_day, Some(DateOrder::Mdy)).expect("hint");
        assert_eq!(g.order, DateOrder::Mdy);
        // A hint is only asked when the file cannot decide.
        assert_eq!(
            survey_of("2023/12/20 10:00 - A: x\n", Some(DateOrder::Dmy))
                .expect("decides")
                .order,
            DateOrder::Ymd
        );
    }

    #[test]
    fn chat_names_from_file_names() {
        assert_eq!(
            chat_name("WhatsApp Chat with Team Noord.txt").as_deref(),
            Some("Team Noord")
        );
        assert_eq!(
            chat_name("WhatsApp-chat met Raad (2).zip").as_deref(),
            Some("Raad")
        );
        assert_eq!(
            chat_name("WhatsApp Chat - Wethouders.zip").as_deref(),
            Some("Wethouders")
        );
        assert_eq!(chat_name("_chat.txt"), None);
    }
}
