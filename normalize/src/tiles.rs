//! Paths of the C2SP tlog-tiles layout (<https://c2sp.org/tlog-tiles>):
//! hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles
//! `tile/entries/<N>[.p/<W>]`, with `N` written in groups of three digits,
//! every group but the last prefixed with `x`. Pure text; no I/O.

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Path of the hash tile at `level`, index `index`, holding `width` hashes
/// (1..=256; less than 256 makes it a partial tile).
pub fn tile_path(level: u8, index: u64, width: u64) -> String {
    format!("tile/{level}/{}{}", encode_index(index), partial(width))
}

/// Path of the entry bundle `index` holding `width` entries.
pub fn entries_path(index: u64, width: u64) -> String {
    format!("tile/entries/{}{}", encode_index(index), partial(width))
}

fn partial(width: u64) -> String {
    if width >= TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

fn encode_index(mut n: u64) -> String {
    let mut out = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        out = format!("x{:03}/{out}", n % 1000);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of the C2SP tlog-tiles specification.
    #[test]
    fn spec_examples() {
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(1, 0, 3), "tile/1/000.p/3");
        assert_eq!(tile_path(2, 999, 256), "tile/2/999");
        assert_eq!(tile_path(2, 1000, 256), "tile/2/x001/000");
        assert_eq!(
            entries_path(1_234_067, 128),
            "tile/entries/x001/x234/067.p/128"
        );
        assert_eq!(entries_path(0, 256), "tile/entries/000");
    }
}
