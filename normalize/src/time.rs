//! Instants in UTC, and wall-clock times resolved with real zone rules.
//!
//! Sources either give an instant (an e-mail `Date:` with its offset, epoch
//! milliseconds) or only a wall-clock time (a WhatsApp line). The second kind
//! is resolved with the IANA tz database bundled in `jiff`; a time that occurs
//! twice (autumn fall-back) or never (spring gap) is reported as such, never
//! silently shifted. The source's own text is always kept beside the result.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The times of a record: the UTC instant (or why there is none), the
/// source's own text, and the zone used when the source gave only wall-clock
/// time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordTime {
    /// The instant as RFC 3339 in UTC (`2024-03-01T09:30:00Z`), or null.
    pub utc: Option<String>,
    /// The time exactly as the source wrote it.
    pub source_text: Option<String>,
    /// IANA zone name used to resolve a wall-clock time; null when the source
    /// carried its own offset.
    pub zone: Option<String>,
    /// Set when the wall-clock time was ambiguous or impossible in `zone`.
    pub ambiguity: Option<Ambiguity>,
    /// Why `utc` is null, when it is.
    pub unresolved: Option<String>,
}

/// How a wall-clock time fell in its zone's transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ambiguity {
    /// The time occurs twice (fall-back); the earlier instant was taken.
    FoldEarlier,
    /// The time occurs twice (fall-back); the later instant was taken.
    FoldLater,
    /// The time does not exist (spring-forward gap); `utc` is null.
    Gap,
}

/// Which instant to take when a wall-clock time occurs twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoldChoice {
    /// The first occurrence (summer time).
    Earlier,
    /// The second occurrence (standard time).
    Later,
}

impl RecordTime {
    /// A time for which the source gave an instant (seconds since the epoch).
    pub fn from_unix_seconds(seconds: i64, source_text: &str) -> RecordTime {
        match Timestamp::from_second(seconds) {
            Ok(ts) => RecordTime {
                utc: Some(format_utc(ts)),
                source_text: Some(source_text.to_owned()),
                ..RecordTime::default()
            },
            Err(_) => RecordTime::unresolved(Some(source_text), "instant out of range"),
        }
    }

    /// A time with no instant, saying why.
    pub fn unresolved(source_text: Option<&str>, reason: &str) -> RecordTime {
        RecordTime {
            source_text: source_text.map(str::to_owned),
            unresolved: Some(reason.to_owned()),
            ..RecordTime::default()
        }
    }

    /// Resolves a wall-clock time in `zone`; in a fall-back fold `fold`
    /// decides which instant is taken, and the ambiguity is recorded.
    pub fn from_wall_clock(
        wall: DateTime,
        zone: &Zone,
        fold: FoldChoice,
        source_text: &str,
    ) -> RecordTime {
        let ambiguous = zone.tz.to_ambiguous_timestamp(wall);
        let (offset, ambiguity) = match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { offset } => (Some(offset), None),
            AmbiguousOffset::Fold { before, after } => match fold {
                FoldChoice::Earlier => (Some(before), Some(Ambiguity::FoldEarlier)),
                FoldChoice::Later => (Some(after), Some(Ambiguity::FoldLater)),
            },
            AmbiguousOffset::Gap { .. } => (None, Some(Ambiguity::Gap)),
        };
        let utc = offset
            .and_then(|o| o.to_timestamp(wall).ok())
            .map(format_utc);
        let unresolved = match (&utc, ambiguity) {
            (None, Some(Ambiguity::Gap)) => {
                Some("wall-clock time falls in a daylight-saving gap".to_owned())
            }
            (None, _) => Some("instant out of range".to_owned()),
            _ => None,
        };
        RecordTime {
            utc,
            source_text: Some(source_text.to_owned()),
            zone: Some(zone.name.clone()),
            ambiguity,
            unresolved,
        }
    }
}

/// An IANA time zone from the bundled tz database, looked up once.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Looks up `name` (e.g. `Europe/Amsterdam`).
    ///
    /// # Errors
    /// [`Error::UnknownZone`] when the bundled tz database has no such zone.
    pub fn get(name: &str) -> Result<Zone, Error> {
        let tz = TimeZone::get(name).map_err(|_| Error::UnknownZone(name.to_owned()))?;
        Ok(Zone {
            name: name.to_owned(),
            tz,
        })
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Both instants of a wall-clock time that occurs twice, earlier first;
    /// `None` when it occurs once or never.
    pub fn fold_candidates(&self, wall: DateTime) -> Option<[String; 2]> {
        match self.tz.to_ambiguous_timestamp(wall).offset() {
            AmbiguousOffset::Fold { before, after } => Some([
                format_utc(before.to_timestamp(wall).ok()?),
                format_utc(after.to_timestamp(wall).ok()?),
            ]),
            _ => None,
        }
    }
}

/// Formats an instant as RFC 3339 in UTC with a `Z`, seconds always present and
/// fractional digits only when non-zero.
pub fn format_utc(ts: Timestamp) -> String {
    let wall = jiff::tz::Offset::UTC.to_datetime(ts);
    if ts.subsec_nanosecond() != 0 || !(1000..=9999).contains(&wall.year()) {
        return ts.to_string();
    }
    let mut text = format_wall(wall);
    text.push('Z');
    text
}

/// Formats seconds since the Unix epoch as [`format_utc`] does; a number
/// out of jiff's range is written as it is, with an `s`.
pub fn format_epoch_seconds(seconds: i64) -> String {
    Timestamp::from_second(seconds).map_or_else(|_| format!("{seconds} s"), format_utc)
}

/// Formats a wall-clock time as ISO 8601 without zone,
/// `2024-03-14T09:05:00`: seconds always present, fractional digits only
/// when non-zero (as jiff prints it).
pub fn format_wall(wall: DateTime) -> String {
    // Whole seconds in years 1000–9999 (every real message) are written
    // directly; jiff's general printer handles the rest and is the reference.
    if wall.subsec_nanosecond() != 0 || !(1000..=9999).contains(&wall.year()) {
        return wall.to_string();
    }
    let mut text = *b"0000-00-00T00:00:00";
    let year = wall.year().unsigned_abs();
    for (at, value) in [
        (0, year / 100),
        (2, year % 100),
        (5, wall.month().unsigned_abs().into()),
        (8, wall.day().unsigned_abs().into()),
        (11, wall.hour().unsigned_abs().into()),
        (14, wall.minute().unsigned_abs().into()),
        (17, wall.second().unsigned_abs().into()),
    ] {
        let value: u16 = value;
        text[at] = b'0' + (value / 10) as u8;
        text[at + 1] = b'0' + (value % 10) as u8;
    }
    // Every byte is an ASCII digit or separator.
    let mut out = String::with_capacity(20);
    out.extend(text.iter().map(|&b| char::from(b)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const AMS: &str = "Europe/Amsterdam";

    #[test]
    fn instant_from_epoch() {
        let t = RecordTime::from_unix_seconds(1_700_000_000, "Tue, 14 Nov 2023 23:13:20 +0100");
        assert_eq!(t.utc.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(t.zone, None);
    }

    #[test]
    fn summer_and_winter_offsets() {
        let summer = date(2024, 7, 1).at(12, 0, 0, 0);
        let ams = Zone::get(AMS).expect("zone exists");
        let t = RecordTime::from_wall_clock(summer, &ams, FoldChoice::Earlier, "01-07-2024 12:00");
        assert_eq!(t.utc.as_deref(), Some("2024-07-01T10:00:00Z"));
        let winter = date(2024, 1, 1).at(12, 0, 0, 0);
        let t = RecordTime::from_wall_clock(winter, &ams, FoldChoice::Earlier, "x");
        assert_eq!(t.utc.as_deref(), Some("2024-01-01T11:00:00Z"));
        assert_eq!(t.ambiguity, None);
    }

    #[test]
    fn fall_back_hour_is_flagged_and_resolved_as_asked() {
        let wall = date(2024, 10, 27).at(2, 30, 0, 0);
        let ams = Zone::get(AMS).expect("zone exists");
        let early = RecordTime::from_wall_clock(wall, &ams, FoldChoice::Earlier, "x");
        let late = RecordTime::from_wall_clock(wall, &ams, FoldChoice::Later, "x");
        assert_eq!(
            ams.fold_candidates(wall),
            Some([
                "2024-10-27T00:30:00Z".to_owned(),
                "2024-10-27T01:30:00Z".to_owned()
            ])
        );
        assert_eq!(early.utc.as_deref(), Some("2024-10-27T00:30:00Z"));
        assert_eq!(early.ambiguity, Some(Ambiguity::FoldEarlier));
        assert_eq!(late.utc.as_deref(), Some("2024-10-27T01:30:00Z"));
        assert_eq!(late.ambiguity, Some(Ambiguity::FoldLater));
    }

    #[test]
    fn spring_gap_is_flagged_never_shifted() {
        let wall = date(2024, 3, 31).at(2, 30, 0, 0);
        let ams = Zone::get(AMS).expect("zone exists");
        let t = RecordTime::from_wall_clock(wall, &ams, FoldChoice::Earlier, "31-03-2024 02:30");
        assert_eq!(t.utc, None);
        assert_eq!(t.ambiguity, Some(Ambiguity::Gap));
        assert_eq!(t.source_text.as_deref(), Some("31-03-2024 02:30"));
    }

    #[test]
    fn utc_text_matches_jiff() {
        for seconds in [
            0i64,
            1_700_000_000,
            951_782_400,
            -1,
            253_402_207_200,
            -30_000_000_000,
        ] {
            let ts = Timestamp::from_second(seconds).expect("in range");
            assert_eq!(format_utc(ts), ts.to_string(), "{seconds}");
        }
        let ts = Timestamp::new(1_700_000_000, 500).expect("in range");
        assert_eq!(format_utc(ts), "2023-11-14T22:13:20.0000005Z");
        let wall = date(2024, 3, 14).at(9, 5, 0, 0);
        assert_eq!(format_wall(wall), wall.to_string());
        assert_eq!(format_wall(wall), "2024-03-14T09:05:00");
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert!(Zone::get("Mars/Olympus").is_err());
    }
}
