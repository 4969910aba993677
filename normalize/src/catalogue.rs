//! The catalogue's format number and record-row key (docs/FORMAT.md §9):
//! spoor writes `catalog.sqlite` with them and `spoor verify` reads it with
//! them, so both say the same.

use std::ops::RangeInclusive;

/// The catalogue's format, kept as SQLite's `user_version`.
pub const FORMAT: i64 = 2;

/// A record row is `package number << LINE_BITS` plus its line.
const LINE_BITS: u32 = 32;
const LINE_MASK: i64 = (1 << LINE_BITS) - 1;

/// The rows of package `number`: line `n` (from 1; line 0 is never
/// written) is row `start + n`. `None` past SQLite's integers.
pub fn package_rows(number: i64) -> Option<RangeInclusive<i64>> {
    let start = number.checked_mul(1 << LINE_BITS)?;
    Some(start..=start.checked_add(LINE_MASK)?)
}

/// The package number and line a row stands for.
pub fn row_place(row: i64) -> (i64, i64) {
    (row >> LINE_BITS, row & LINE_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_places_agree() {
        let rows = package_rows(7).expect("in range");
        assert_eq!(*rows.start(), 7 * 4_294_967_296);
        assert_eq!(row_place(rows.start() + 12), (7, 12));
        assert_eq!(row_place(*rows.end()), (7, 4_294_967_295));
        assert_eq!(row_place(rows.end() + 1), (8, 0));
        assert!(package_rows(i64::MAX / 2).is_none());
    }
}
