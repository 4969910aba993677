//! The header that starts each record of a WhatsApp export: Android
//! `DATE[,] TIME[ AMPM] - `, iOS `[DATE[,] TIME[ AMPM]] `, some iOS
//! locales `[TIME, DATE] ` (time first), and early iOS exports without the
//! bracket, `DATE, TIME[ AMPM]: ` with seconds.
//!
//! [`parse`] reads any header it can and reports its [`Shape`]; a reader
//! picks one shape per file and then accepts only lines of exactly that
//! shape, so a continuation line that merely starts with a date (`12-03-2021
//! om 10:00 is …`) stays body text.

use serde::{Deserialize, Serialize};

/// Which app family wrote the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    /// `DATE TIME - ` without seconds.
    Android,
    /// `[DATE TIME] ` with seconds.
    Ios,
}

impl Family {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Android => "android",
            Family::Ios => "ios",
        }
    }
}

/// The exact grammar of a header line, apart from the digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub(crate) family: Family,
    /// `/`, `.` or `-`.
    date_separator: u8,
    /// A space after each date separator (`13. 6. 2018`).
    spaced_date: bool,
    /// A dot after the last date component.
    trailing_dot: bool,
    /// Between date and time: `, `, ` `, or a word (` klo `), as bytes.
    between: Between,
    /// `:` or `.`.
    time_separator: u8,
    seconds: bool,
    /// The 12-hour marker style and the space before it, if any.
    meridiem: Option<(MarkerStyle, char)>,
    /// iOS: the time before the date (`[14:56:01, 3/18/22] `).
    time_first: bool,
    /// iOS: no bracket, the header ends in `: ` (early iOS exports).
    unbracketed: bool,
    /// The year is a Japanese era letter and number (`R4/03/14`).
    era: bool,
    /// The digits the header is written in.
    numerals: Numerals,
    /// The month written as an English name (`Mar 5`, `18 Mar`), and where.
    month_name: Option<MonthName>,
}

/// Where a month written as a name stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MonthName {
    /// `Mar 5`: month, day (then an optional year).
    BeforeDay,
    /// `18 Mar`: day, month (then an optional year).
    AfterDay,
}

/// English month abbreviations, as written in headers.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The digits of a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Numerals {
    Latin,
    /// U+0660–U+0669 (Arabic).
    ArabicIndic,
    /// U+06F0–U+06F9 (Persian, Urdu).
    ExtendedArabicIndic,
}

impl Shape {
    /// Whether years are written as Japanese era years.
    pub(crate) fn era(&self) -> bool {
        self.era
    }

    /// Where the month stands when it is written as a name.
    pub(crate) fn month_name(&self) -> Option<MonthName> {
        self.month_name
    }

    /// The grammar as a pattern: `n-n-n h:mm - ` (Android Dutch),
    /// `[n/n/n, h:mm:ss\u{202f}AM] ` (iOS en-US); `n` is a date component,
    /// spaces other than U+0020 are written as `\u{…}`.
    pub(crate) fn describe(&self) -> String {
        let sep = char::from(self.date_separator);
        let space = if self.spaced_date { " " } else { "" };
        let dot = if self.trailing_dot { "." } else { "" };
        let between = String::from_utf8_lossy(&self.between.bytes[..usize::from(self.between.len)]);
        let t = char::from(self.time_separator);
        let seconds = if self.seconds {
            format!("{t}ss")
        } else {
            String::new()
        };
        let meridiem = match self.meridiem {
            None => String::new(),
            Some((style, space)) => {
                let am = MARKERS.iter().find(|m| m.2 == style.0).map_or("", |m| m.0);
                let space = if space == ' ' {
                    " ".to_owned()
                } else {
                    format!("\\u{{{:x}}}", u32::from(space))
                };
                format!("{space}{}", am.replace('\u{a0}', "\\u{a0}"))
            }
        };
        let era = if self.era { "Ey" } else { "" };
        let date = match self.month_name {
            Some(MonthName::BeforeDay) => "Mon n".to_owned(),
            Some(MonthName::AfterDay) => "n Mon".to_owned(),
            None => format!("{era}n{sep}{space}n{sep}{space}n{dot}"),
        };
        let time = format!("h{t}mm{seconds}{meridiem}");
        let body = if self.time_first {
            format!("{time}{between}{date}")
        } else {
            format!("{date}{between}{time}")
        };
        let pattern = match (self.family, self.unbracketed) {
            (Family::Android, _) => format!("{body} - "),
            (Family::Ios, false) => format!("[{body}] "),
            (Family::Ios, true) => format!("{body}: "),
        };
        match self.numerals {
            Numerals::Latin => pattern,
            Numerals::ArabicIndic => format!("{pattern}(Arabic-Indic digits)"),
            Numerals::ExtendedArabicIndic => format!("{pattern}(Extended Arabic-Indic digits)"),
        }
    }
}

/// The text between date and time, up to 15 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Between {
    len: u8,
    bytes: [u8; 15],
}

/// A 12-hour marker spelling, AM and PM as one style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct MarkerStyle(u8);

/// Which part of the day a 12-hour time is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Period {
    Am,
    Pm,
    /// `at night`: 9 to 11 in the evening, 12 to 5 in the morning (CLDR's
    /// English day periods).
    Night,
}

/// 12-hour markers: text, period, style. Longest first, so `a. m.` wins
/// over `a`. The space inside `p. m.` may be U+00A0 (Spanish exports).
/// Day-period words (`9:15 in the morning`) are markers too.
const MARKERS: &[(&str, Period, u8)] = &[
    ("a.\u{a0}m.", Period::Am, 0),
    ("p.\u{a0}m.", Period::Pm, 0),
    ("a. m.", Period::Am, 1),
    ("p. m.", Period::Pm, 1),
    ("a.m.", Period::Am, 2),
    ("p.m.", Period::Pm, 2),
    ("AM", Period::Am, 3),
    ("PM", Period::Pm, 3),
    ("am", Period::Am, 4),
    ("pm", Period::Pm, 4),
    ("in the morning", Period::Am, 5),
    ("in the afternoon", Period::Pm, 5),
    ("in the evening", Period::Pm, 5),
    ("at night", Period::Night, 5),
];

/// Spaces seen before a 12-hour marker.
const MARKER_SPACES: &[char] = &[' ', '\u{a0}', '\u{2009}', '\u{202f}'];

/// A parsed header: the digits as written, and where the body starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The three date components in written order.
    pub(crate) date: [u32; 3],
    /// How many digits each was written with.
    pub(crate) digits: [u8; 3],
    /// 24-hour clock.
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    /// Byte range of the date-and-time text in the line.
    pub(crate) time_text: (usize, usize),
    /// Offset of the body (after ` - ` or `] `).
    pub(crate) body_start: usize,
    /// The Japanese era the first component counts in (`R`, `H`, `S`).
    pub(crate) era: Option<Era>,
}

/// A Japanese era, by the letter that abbreviates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Era {
    /// Reiwa: year 1 is 2019.
    Reiwa,
    /// Heisei: year 1 is 1989.
    Heisei,
    /// Showa: year 1 is 1926.
    Showa,
}

impl Era {
    fn from_letter(letter: u8) -> Option<Era> {
        match letter {
            b'R' => Some(Era::Reiwa),
            b'H' => Some(Era::Heisei),
            b'S' => Some(Era::Showa),
            _ => None,
        }
    }

    /// The Gregorian year of the era's year 1.
    fn first_year(self) -> u32 {
        match self {
            Era::Reiwa => 2019,
            Era::Heisei => 1989,
            Era::Showa => 1926,
        }
    }
}

/// Years from this one on are Buddhist Era years (Thai exports write
/// 2565 for 2022): WhatsApp dates begin in 2009, and no Gregorian year of
/// a message comes near.
pub(crate) const BUDDHIST_ERA_FROM: u32 = 2400;

/// The Buddhist Era counts from 543 BCE: BE 2565 is 2022.
const BUDDHIST_ERA_OFFSET: u32 = 543;

/// Order of the date components.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    /// Day, month, year (most of Europe).
    Dmy,
    /// Month, day, year (en-US).
    Mdy,
    /// Year, month, day (en-CA, en-ZA, zh, ja, sv).
    Ymd,
    /// Year, day, month (rare).
    Ydm,
}

impl DateOrder {
    /// Every order, in the order they are tried.
    pub(crate) const ALL: [DateOrder; 4] = [
        DateOrder::Dmy,
        DateOrder::Mdy,
        DateOrder::Ymd,
        DateOrder::Ydm,
    ];

    /// The order's name: `dmy`, `mdy`, `ymd`, `ydm`.
    pub fn name(self) -> &'static str {
        match self {
            DateOrder::Dmy => "dmy",
            DateOrder::Mdy => "mdy",
            DateOrder::Ymd => "ymd",
            DateOrder::Ydm => "ydm",
        }
    }

    /// Positions of (year, month, day) in the written date.
    fn positions(self) -> (usize, usize, usize) {
        match self {
            DateOrder::Dmy => (2, 1, 0),
            DateOrder::Mdy => (2, 0, 1),
            DateOrder::Ymd => (0, 1, 2),
            DateOrder::Ydm => (0, 2, 1),
        }
    }

    /// The calendar date this order reads from `header`, if it is a valid
    /// one: the year has 2 or 4 digits (two mean 20yy: WhatsApp dates from
    /// 2009; four from [`BUDDHIST_ERA_FROM`] on are Buddhist Era years), or
    /// is an era year written first; the day exists in its month.
    pub(crate) fn read(self, header: &Header) -> Option<jiff::civil::Date> {
        let (y, m, d) = self.positions();
        let value = header.date[y];
        let year = match (header.era, header.digits[y]) {
            (Some(era), 1 | 2) if y == 0 && value >= 1 => era.first_year() + value - 1,
            (Some(_), _) => return None,
            (None, 2) => 2000 + value,
            (None, 4) if value >= BUDDHIST_ERA_FROM => value - BUDDHIST_ERA_OFFSET,
            (None, 4) => value,
            _ => return None,
        };
        if header.digits[m] > 2 || header.digits[d] > 2 {
            return None;
        }
        let year = i16::try_from(year).ok()?;
        let month = i8::try_from(header.date[m]).ok()?;
        let day = i8::try_from(header.date[d]).ok()?;
        jiff::civil::Date::new(year, month, day).ok()
    }
}

impl std::str::FromStr for DateOrder {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        DateOrder::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown date order {text:?} (expected dmy, mdy, ymd or ydm)"))
    }
}

/// Reads a header at the start of `line` (after any structural U+200E),
/// returning its shape and values, or `None` when the line does not start
/// with a header of any shape. Works on bytes: a header is ASCII apart from
/// marks and spaces matched whole, so the line need not be valid UTF-8 past
/// it (nor checked first).
pub(crate) fn parse(line: &[u8]) -> Option<(Shape, Header)> {
    // Arabic-Indic digits start with byte 0xd9 or 0xdb; most lines have
    // none near their start and skip the rewriting altogether.
    let arabic = line.iter().take(16).any(|&b| matches!(b, 0xd9 | 0xdb));
    match arabic.then(|| latin_header(line)).flatten() {
        Some((numerals, latin, origin)) => {
            let (mut shape, mut header) = parse_latin(&latin)?;
            shape.numerals = numerals;
            let at = |i: usize| origin.get(i).copied();
            header.time_text = (at(header.time_text.0)?, at(header.time_text.1)?);
            header.body_start = at(header.body_start)?;
            Some((shape, header))
        }
        None => parse_latin(line),
    }
}

/// Arabic and Persian exports write the header in their own digits, with
/// U+200F after each date component, the Arabic comma, and `ص`/`م` for
/// AM/PM (CLDR `ar`). Such a header is rewritten in Latin digits, up to
/// and including its end (` - `, `] ` or `: `), with the offset in `line`
/// of every byte written (and of the end); `None` for a line whose first
/// characters hold no such digit.
fn latin_header(line: &[u8]) -> Option<(Numerals, Vec<u8>, Vec<usize>)> {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(line.get(..e.valid_up_to())?).ok()?,
    };
    let numerals = text.chars().take(8).find_map(|c| match c {
        '\u{660}'..='\u{669}' => Some(Numerals::ArabicIndic),
        '\u{6f0}'..='\u{6f9}' => Some(Numerals::ExtendedArabicIndic),
        _ => None,
    })?;
    let mut latin = Vec::new();
    let mut origin = Vec::new();
    for (at, c) in text.char_indices() {
        let written: &[u8] = match c {
            '\u{660}'..='\u{669}' => &[b'0' + (c as u32 - 0x660) as u8],
            '\u{6f0}'..='\u{6f9}' => &[b'0' + (c as u32 - 0x6f0) as u8],
            '\u{60c}' => b",",
            '\u{200f}' => b"",
            '\u{635}' => b"AM",
            '\u{645}' => b"PM",
            _ => {
                let mut buf = [0u8; 4];
                let bytes = c.encode_utf8(&mut buf).as_bytes().to_vec();
                latin.extend_from_slice(&bytes);
                origin.extend(std::iter::repeat_n(at, bytes.len()));
                if latin.ends_with(b" - ") || latin.ends_with(b"] ") || latin.ends_with(b": ") {
                    origin.push(at + c.len_utf8());
                    return Some((numerals, latin, origin));
                }
                continue;
            }
        };
        latin.extend_from_slice(written);
        origin.extend(std::iter::repeat_n(at, written.len()));
        if latin.len() > 64 {
            return None;
        }
    }
    None
}

fn parse_latin(line: &[u8]) -> Option<(Shape, Header)> {
    let mut cursor = Cursor { text: line, pos: 0 };
    cursor.skip_marks();
    let bracketed = cursor.eat("[");
    if bracketed {
        // Some exports carry their byte order mark inside the bracket of
        // the first line.
        cursor.eat("\u{feff}");
        cursor.skip_marks();
    }
    let first = cursor.pos;
    // `[14:56:01, 3/18/22] `: a time (one or two digits, a separator) where
    // the date would start.
    let time_first = bracketed && {
        let rest = cursor.rest();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        (1..=2).contains(&digits) && matches!(rest.get(digits), Some(b':'))
    };
    let (date, time, between) = if time_first {
        let time = time_part(&mut cursor)?;
        let between = between_part(&mut cursor, line)?;
        (date_part(&mut cursor)?, time, between)
    } else {
        let date = date_part(&mut cursor)?;
        let between = between_part(&mut cursor, line)?;
        (date, time_part(&mut cursor)?, between)
    };
    let time_end = cursor.pos;
    let (family, unbracketed) = if bracketed {
        cursor.eat("] ").then_some((Family::Ios, false))?
    } else if cursor.eat(" - ") {
        (Family::Android, false)
    } else if time.seconds && cursor.eat(": ") {
        // Early iOS, without the bracket: always with seconds.
        (Family::Ios, true)
    } else {
        return None;
    };
    let hour = time.hour_24()?;
    let shape = Shape {
        family,
        date_separator: date.separator,
        spaced_date: date.spaced,
        trailing_dot: date.trailing_dot,
        between,
        time_separator: time.separator,
        seconds: time.seconds,
        meridiem: time.meridiem,
        time_first,
        unbracketed,
        era: date.era.is_some(),
        numerals: Numerals::Latin,
        month_name: date.month_name,
    };
    let header = Header {
        date: date.values,
        digits: date.digits,
        hour,
        minute: time.minute,
        second: time.second,
        time_text: (first, time_end),
        body_start: cursor.pos,
        era: date.era,
    };
    Some((shape, header))
}

/// The date of a header as written.
struct DatePart {
    values: [u32; 3],
    digits: [u8; 3],
    separator: u8,
    spaced: bool,
    trailing_dot: bool,
    era: Option<Era>,
    month_name: Option<MonthName>,
}

/// `n/n/n`, with `/`, `.` or `-`, a space after each separator or none, and
/// a trailing dot or none.
fn date_part(cursor: &mut Cursor<'_>) -> Option<DatePart> {
    if let Some(date) = named_month_date(cursor) {
        return Some(date);
    }
    let mut values = [0u32; 3];
    let mut digits = [0u8; 3];
    // A Japanese era letter before the year (`R4/03/14`).
    let era = cursor.peek_byte().and_then(Era::from_letter).filter(|_| {
        cursor
            .text
            .get(cursor.pos + 1)
            .is_some_and(u8::is_ascii_digit)
    });
    if era.is_some() {
        cursor.pos += 1;
    }
    (values[0], digits[0]) = cursor.number(4)?;
    let separator = cursor.peek_byte()?;
    if !matches!(separator, b'/' | b'.' | b'-') {
        return None;
    }
    cursor.pos += 1;
    let spaced = cursor.eat(" ");
    (values[1], digits[1]) = cursor.number(4)?;
    if !cursor.eat_byte(separator) || cursor.eat(" ") != spaced {
        return None;
    }
    (values[2], digits[2]) = cursor.number(4)?;
    let trailing_dot = cursor.eat(".");
    Some(DatePart {
        values,
        digits,
        separator,
        spaced,
        trailing_dot,
        era,
        month_name: None,
    })
}

/// `Mar 5` or `18 Mar`: the month as an English abbreviation and the day,
/// without a year (the export leaves it out). The month comes out as a
/// component written with no digits, the year as one of none.
fn named_month_date(cursor: &mut Cursor<'_>) -> Option<DatePart> {
    let start = cursor.pos;
    let month_at = |cursor: &mut Cursor<'_>| {
        let rest = cursor.rest();
        let index = MONTHS.iter().position(|m| rest.starts_with(m.as_bytes()))?;
        // The abbreviation must end there (`Mar`, not `March` or `Mart`).
        if rest.get(3).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        cursor.pos += 3;
        u32::try_from(index + 1).ok()
    };
    let (month, day, position) = if let Some(month) = month_at(cursor) {
        if !cursor.eat(" ") {
            cursor.pos = start;
            return None;
        }
        let Some((day, _)) = cursor.number(2) else {
            cursor.pos = start;
            return None;
        };
        (month, day, MonthName::BeforeDay)
    } else {
        let digits = cursor
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=2).contains(&digits) || cursor.rest().get(digits) != Some(&b' ') {
            return None;
        }
        let (day, _) = cursor.number(2)?;
        cursor.pos += 1;
        let Some(month) = month_at(cursor) else {
            cursor.pos = start;
            return None;
        };
        (month, day, MonthName::AfterDay)
    };
    let (values, digits) = match position {
        MonthName::BeforeDay => ([month, day, 0], [0, 2, 0]),
        MonthName::AfterDay => ([day, month, 0], [2, 0, 0]),
    };
    Some(DatePart {
        values,
        digits,
        separator: b' ',
        spaced: false,
        trailing_dot: false,
        era: None,
        month_name: Some(position),
    })
}

/// Between date and time (either way round): `, `, ` `, or a short word
/// between spaces (Finnish ` klo `).
fn between_part(cursor: &mut Cursor<'_>, line: &[u8]) -> Option<Between> {
    let start = cursor.pos;
    cursor.eat(",");
    if !cursor.eat(" ") {
        return None;
    }
    let word = cursor
        .rest()
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if word > 0 && word <= 8 && cursor.rest().get(word) == Some(&b' ') {
        cursor.pos += word + 1;
    }
    let bytes = line.get(start..cursor.pos)?;
    let mut between = Between {
        len: u8::try_from(bytes.len()).ok()?,
        bytes: [0; 15],
    };
    between.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(between)
}

/// The time of a header as written.
struct TimePart {
    hour: u32,
    minute: u8,
    second: u8,
    seconds: bool,
    separator: u8,
    meridiem: Option<(MarkerStyle, char)>,
    period: Option<Period>,
}

impl TimePart {
    /// The hour on a 24-hour clock: `12:xx AM` is 00:xx; `00:08 a. m.`
    /// also occurs.
    fn hour_24(&self) -> Option<u8> {
        let hour = u8::try_from(self.hour).ok()?;
        match self.period {
            None if hour < 24 => Some(hour),
            Some(Period::Am) if hour <= 12 => Some(hour % 12),
            Some(Period::Pm) if hour <= 12 => Some(hour % 12 + 12),
            Some(Period::Night) if (6..=11).contains(&hour) => Some(hour + 12),
            Some(Period::Night) if hour <= 12 => Some(hour % 12),
            _ => None,
        }
    }
}

/// `h:mm[:ss][ AM]`, with `:` or `.`.
fn time_part(cursor: &mut Cursor<'_>) -> Option<TimePart> {
    let (hour, _) = cursor.number(2)?;
    let separator = cursor.peek_byte()?;
    if !matches!(separator, b':' | b'.') {
        return None;
    }
    cursor.pos += 1;
    let minute = cursor.two_digits()?;
    let mut seconds = false;
    let mut second = 0;
    if cursor.peek_byte() == Some(separator)
        && cursor
            .text
            .get(cursor.pos + 1)
            .is_some_and(u8::is_ascii_digit)
    {
        cursor.pos += 1;
        second = cursor.two_digits()?;
        seconds = true;
    }
    if minute >= 60 || second >= 60 {
        return None;
    }
    let mut meridiem = None;
    let mut period = None;
    if let Some(space) = MARKER_SPACES.iter().copied().find(|c| {
        cursor
            .rest()
            .starts_with(c.encode_utf8(&mut [0; 4]).as_bytes())
    }) {
        let after = &cursor.rest()[space.len_utf8()..];
        if let Some((text, is, style)) = MARKERS
            .iter()
            .find(|(m, ..)| after.starts_with(m.as_bytes()))
        {
            cursor.pos += space.len_utf8() + text.len();
            meridiem = Some((MarkerStyle(*style), space));
            period = Some(*is);
        }
    }
    Some(TimePart {
        hour,
        minute,
        second,
        seconds,
        separator,
        meridiem,
        period,
    })
}

struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek_byte(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn eat(&mut self, literal: &str) -> bool {
        let hit = self.rest().starts_with(literal.as_bytes());
        if hit {
            self.pos += literal.len();
        }
        hit
    }

    fn eat_byte(&mut self, byte: u8) -> bool {
        let hit = self.peek_byte() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// U+200E/U+200F before the header are structure, not text.
    fn skip_marks(&mut self) {
        while self.eat("\u{200e}") || self.eat("\u{200f}") {}
    }

    /// 1 to `max` ASCII digits.
    fn number(&mut self, max: usize) -> Option<(u32, u8)> {
        let bytes = self.rest();
        let n = bytes
            .iter()
            .take(max + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n == 0 || n > max {
            return None;
        }
        let value = bytes[..n]
            .iter()
            .fold(0u32, |v, b| v * 10 + u32::from(b - b'0'));
        self.pos += n;
        Some((value, u8::try_from(n).ok()?))
    }

    fn two_digits(&mut self) -> Option<u8> {
        match self.number(2)? {
            (v, 2) => u8::try_from(v).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> (Shape, Header) {
        parse(line.as_bytes()).unwrap_or_else(|| panic!("no header in {line:?}"))
    }

    #[test]
    fn android_dutch() {
        let (shape, h) = read("31-12-2020 23:59 - Naam: tekst");
        assert_eq!(shape.family, Family::Android);
        assert_eq!((h.date, h.digits), ([31, 12, 2020], [2, 2, 4]));
        assert_eq!((h.hour, h.minute, h.second), (23, 59, 0));
        assert_eq!(
            &"31-12-2020 23:59 - Naam: tekst"[h.body_start..],
            "Naam: tekst"
        );
        assert_eq!(shape.describe(), "n-n-n h:mm - ");
        assert!(!shape.seconds);
    }

    #[test]
    fn ios_with_mark_seconds_and_narrow_space() {
        let line = "\u{200e}[1/4/23, 7:05:09\u{202f}PM] Jan: hoi";
        let (shape, h) = read(line);
        assert_eq!(shape.family, Family::Ios);
        assert_eq!((h.hour, h.minute, h.second), (19, 5, 9));
        assert_eq!(
            &line[h.time_text.0..h.time_text.1],
            "1/4/23, 7:05:09\u{202f}PM"
        );
        assert_eq!(&line[h.body_start..], "Jan: hoi");
        assert_eq!(shape.describe(), "[n/n/n, h:mm:ss\\u{202f}AM] ");
    }

    #[test]
    fn twelve_hour_forms() {
        for (line, hour) in [
            ("1/4/23, 12:05 AM - a", 0),
            ("1/4/23, 12:05 PM - a", 12),
            ("1/4/23, 00:08 a.\u{a0}m. - a", 0),
            ("1/4/23, 5:46 p. m. - a", 17),
            ("2023-12-20, 5:46 p.m. - a", 17),
            ("1/4/23, 5:46\u{2009}pm - a", 17),
            ("1/4/23, 5:46\u{a0}am - a", 5),
        ] {
            assert_eq!(read(line).1.hour, hour, "{line}");
        }
        assert!(parse(b"1/4/23, 13:05 PM - a").is_none());
    }

    #[test]
    fn odd_locales() {
        let (shape, h) = read("[13. 6. 2018. 14.08.18] Mia: x");
        assert!(shape.spaced_date && shape.trailing_dot);
        assert_eq!(
            (h.date, h.hour, h.minute, h.second),
            ([13, 6, 2018], 14, 8, 18)
        );
        let (_, h) = read("[20.08.22 klo 14.08.18] Aino: moi");
        assert_eq!((h.hour, h.minute), (14, 8));
        let (_, h) = read("30/08/25 18.30 - Budi: oke");
        assert_eq!((h.hour, h.minute), (18, 30));
    }

    #[test]
    fn bytes_after_the_header_need_not_be_utf8() {
        let (_, h) = parse(b"31-12-2020 23:59 - \xffNaam").expect("header");
        assert_eq!(h.body_start, 19);
        // A narrow space cut short is not a marker space.
        assert!(parse(b"1/4/23, 5:46\xe2\x80 pm - a").is_none());
        assert!(parse(b"1/4/23, 5:46\xe2\x80\xaf").is_none());
    }

    #[test]
    fn shapes_tell_lines_apart() {
        let (android, _) = read("12-03-2021 10:00 - Jan: hoi");
        assert!(parse(b"12-03-2021 om 10:00 is het overleg").is_none_or(|(s, _)| s != android));
        assert!(parse(b"30/08/25 18.30 juga boleh").is_none());
        let (ios, _) = read("[12-03-2021 10:00:00] Jan: hoi");
        assert_ne!(ios, android);
        assert!(parse(b"[ja] dat klopt").is_none());
        assert!(parse(b"12-03-2021 25:00 - x").is_none());
    }

    #[test]
    fn time_before_the_date() {
        let line = "[14:56:01, 3/18/22] Ana: hola";
        let (shape, h) = read(line);
        assert_eq!(shape.family, Family::Ios);
        assert_eq!((h.date, h.digits), ([3, 18, 22], [1, 2, 2]));
        assert_eq!((h.hour, h.minute, h.second), (14, 56, 1));
        assert_eq!(&line[h.time_text.0..h.time_text.1], "14:56:01, 3/18/22");
        assert_eq!(&line[h.body_start..], "Ana: hola");
        assert_eq!(shape.describe(), "[h:mm:ss, n/n/n] ");
        let (date_first, _) = read("[3/18/22, 14:56:01] Ana: hola");
        assert_ne!(shape, date_first);
    }

    #[test]
    fn early_ios_without_brackets() {
        let line = "7/1/16, 4:56:55 PM: Ana: hello";
        let (shape, h) = read(line);
        assert_eq!(shape.family, Family::Ios);
        assert_eq!((h.hour, h.minute, h.second), (16, 56, 55));
        assert_eq!(&line[h.body_start..], "Ana: hello");
        assert_eq!(shape.describe(), "n/n/n, h:mm:ss AM: ");
        // Without seconds a colon after the time is text, not a header.
        assert!(parse(b"7/1/16, 4:56 PM: Ana: hello").is_none());
    }

    #[test]
    fn day_period_words() {
        for (line, hour) in [
            ("14/03/2024, 9:15 in the morning - a", 9),
            ("14/03/2024, 12:30 in the afternoon - a", 12),
            ("14/03/2024, 2:05 in the afternoon - a", 14),
            ("14/03/2024, 7:40 in the evening - a", 19),
            ("14/03/2024, 10:00 at night - a", 22),
            ("14/03/2024, 12:10 at night - a", 0),
            ("14/03/2024, 2:10 at night - a", 2),
        ] {
            assert_eq!(read(line).1.hour, hour, "{line}");
        }
        let (shape, _) = read("14/03/2024, 9:15 in the morning - a");
        assert_eq!(shape.describe(), "n/n/n, h:mm in the morning - ");
    }

    #[test]
    fn buddhist_and_japanese_era_years() {
        let (_, h) = read("14/3/2565 09:05 - a");
        assert_eq!(
            DateOrder::Dmy.read(&h),
            Some(jiff::civil::date(2022, 3, 14))
        );
        let (shape, h) = read("[R4/03/14 9:05:00] a");
        assert_eq!(h.era, Some(Era::Reiwa));
        assert_eq!(
            DateOrder::Ymd.read(&h),
            Some(jiff::civil::date(2022, 3, 14))
        );
        assert_eq!(DateOrder::Dmy.read(&h), None);
        assert_eq!(shape.describe(), "[Eyn/n/n h:mm:ss] ");
        let (_, h) = read("[H31/04/30 9:05:00] a");
        assert_eq!(
            DateOrder::Ymd.read(&h),
            Some(jiff::civil::date(2019, 4, 30))
        );
    }

    #[test]
    fn arabic_indic_digits() {
        let line = "\u{661}\u{664}\u{200f}/\u{663}\u{200f}/\u{662}\u{660}\u{662}\u{664}\u{60c} \u{669}:\u{660}\u{665} \u{645} - \u{633}\u{627}\u{631}\u{629}: \u{645}\u{631}\u{62d}\u{628}\u{627}";
        let (shape, h) = read(line);
        assert_eq!((h.date, h.digits), ([14, 3, 2024], [2, 1, 4]));
        assert_eq!((h.hour, h.minute), (21, 5));
        assert_eq!(
            &line[h.body_start..],
            "\u{633}\u{627}\u{631}\u{629}: \u{645}\u{631}\u{62d}\u{628}\u{627}"
        );
        assert!(line[h.time_text.0..h.time_text.1].ends_with('\u{645}'));
        assert_eq!(shape.describe(), "n/n/n, h:mm AM - (Arabic-Indic digits)");
        let (latin, _) = read("14/3/2024, 9:05 PM - a: b");
        assert_ne!(shape, latin);
    }

    #[test]
    fn month_names_without_a_year() {
        let line = "Mar 5, 8:11 PM - Ana: hi";
        let (shape, h) = read(line);
        assert_eq!(shape.month_name(), Some(MonthName::BeforeDay));
        assert_eq!((h.date, h.hour, h.minute), ([3, 5, 0], 20, 11));
        assert_eq!(&line[h.time_text.0..h.time_text.1], "Mar 5, 8:11 PM");
        assert_eq!(shape.describe(), "Mon n, h:mm AM - ");
        // No year: no calendar date in any order.
        assert_eq!(DateOrder::Mdy.read(&h), None);
        let (shape, h) = read("18 Mar 12:14 - Ana: hi");
        assert_eq!(shape.month_name(), Some(MonthName::AfterDay));
        assert_eq!((h.date, h.hour), ([18, 3, 0], 12));
        assert_eq!(shape.describe(), "n Mon h:mm - ");
        assert!(parse(b"March 5, 8:11 PM - Ana: hi").is_none());
        assert!(parse(b"5 Mart 12:14 - x").is_none());
    }

    #[test]
    fn date_orders() {
        let (_, h) = read("31-12-20 23:59 - x");
        assert_eq!(
            DateOrder::Dmy.read(&h),
            Some(jiff::civil::date(2020, 12, 31))
        );
        assert_eq!(DateOrder::Mdy.read(&h), None);
        let (_, h) = read("2023/5/4 9:00 - x");
        assert_eq!(DateOrder::Ymd.read(&h), Some(jiff::civil::date(2023, 5, 4)));
        assert_eq!(DateOrder::Dmy.read(&h), None);
        assert_eq!("MDY".parse::<DateOrder>(), Ok(DateOrder::Mdy));
        assert!("dym".parse::<DateOrder>().is_err());
    }
}
