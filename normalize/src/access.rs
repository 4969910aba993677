//! Access points into `data/records.jsonl` (docs/FORMAT.md §4.4): places in
//! its deflate stream where inflating can begin, listed in the tag file
//! [`FILE`] so that one record can be read without inflating all before it.
//! spoor writes the list, the reading room and `spoor verify` read it.

use std::fmt;

/// The tag file's name in the bag.
pub const FILE: &str = "records-access.txt";

/// One access point: line `line` (from 1) starts `offset` bytes into
/// `records.jsonl` and `packed` bytes into the entry's deflate data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessPoint {
    /// The number of the line that starts there.
    pub line: u64,
    /// Where that line starts in `records.jsonl`.
    pub offset: u64,
    /// Where inflating can begin, in the entry's compressed data.
    pub packed: u64,
}

impl AccessPoint {
    /// The start of the file, every list's first point.
    pub const START: AccessPoint = AccessPoint {
        line: 1,
        offset: 0,
        packed: 0,
    };
}

/// One line of [`FILE`], without its LF.
impl fmt::Display for AccessPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.line, self.offset, self.packed)
    }
}

/// Parses the list: `<line> <offset> <deflate offset>` per line, the first
/// `1 0 0`, all three growing strictly.
pub fn parse(text: &str) -> Result<Vec<AccessPoint>, String> {
    let mut points: Vec<AccessPoint> = Vec::new();
    for (number, row) in text.split_terminator('\n').enumerate() {
        let number = number + 1;
        let fields: Vec<u64> = row
            .split(' ')
            .map(|f| {
                // Decimal digits only: no sign, no leading zero but "0".
                let decimal = !f.is_empty()
                    && f.bytes().all(|b| b.is_ascii_digit())
                    && (f == "0" || !f.starts_with('0'));
                decimal.then(|| f.parse().ok()).flatten()
            })
            .collect::<Option<_>>()
            .ok_or_else(|| format!("line {number}: not three decimal numbers"))?;
        let &[line, offset, packed] = fields.as_slice() else {
            return Err(format!("line {number}: not three decimal numbers"));
        };
        let point = AccessPoint {
            line,
            offset,
            packed,
        };
        match points.last() {
            None if point != AccessPoint::START => {
                return Err("line 1: the first point is not 1 0 0".to_owned())
            }
            Some(last) if line <= last.line || offset <= last.offset || packed <= last.packed => {
                return Err(format!(
                    "line {number}: does not come after the point before it"
                ))
            }
            _ => points.push(point),
        }
    }
    if !text.ends_with('\n') {
        return Err("does not end with LF".to_owned());
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_must_start_at_the_beginning_and_grow() {
        let ok = parse("1 0 0\n900 131072 24001\n1800 262150 48000\n").expect("well formed");
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[1].line, 900);
        // What the writer prints reads back the same.
        let listed: String = ok.iter().map(|p| format!("{p}\n")).collect();
        assert_eq!(parse(&listed), Ok(ok));
        for (text, why) in [
            ("", "does not end with LF"),
            ("2 0 0\n", "first point"),
            ("1 0 0\n900 131072\n", "three decimal numbers"),
            ("1 0 0\n900 131072 -5\n", "three decimal numbers"),
            ("1 0 0\n0900 131072 5\n", "three decimal numbers"),
            (
                "1 0 0\n900 131072 5\n800 231072 9\n",
                "after the point before",
            ),
            (
                "1 0 0\n900 131072 5\n1000 131072 9\n",
                "after the point before",
            ),
            ("1 0 0\n900 131072 5", "does not end with LF"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }
}
