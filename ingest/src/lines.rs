//! A line reader that never holds more than a set number of bytes of a line,
//! so one enormous line (or a file with no line breaks at all) cannot
//! exhaust memory. Lines keep their terminator.

use std::io::{self, BufRead};

/// One line as read: its first bytes (at most the cap) and where it was.
pub(crate) struct Line {
    /// Offset of the line's first byte in the stream.
    pub(crate) start: u64,
    /// Full length of the line including its LF, even when `truncated`.
    pub(crate) len: u64,
    /// True when the line was longer than the cap and `LineReader::buf`
    /// holds only its beginning.
    pub(crate) truncated: bool,
}

pub(crate) struct LineReader<R> {
    inner: R,
    pos: u64,
    line_number: u64,
    pub(crate) buf: Vec<u8>,
    cap: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, cap: usize) -> Self {
        LineReader {
            inner,
            pos: 0,
            line_number: 0,
            buf: Vec::new(),
            cap,
        }
    }

    /// A reader of `inner`, which starts at offset `pos` of the stream,
    /// right after line `line_number`.
    pub(crate) fn starting_at(inner: R, cap: usize, pos: u64, line_number: u64) -> Self {
        LineReader {
            pos,
            line_number,
            ..LineReader::new(inner, cap)
        }
    }

    /// 1-based number of the line last returned.
    pub(crate) fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Offset just after the line last returned.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Reads the next line into `self.buf`; `None` at the end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line>> {
        self.buf.clear();
        let start = self.pos;
        let mut len = 0u64;
        let mut truncated = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let room = self.cap.saturating_sub(self.buf.len());
            if chunk.len() > room {
                truncated = true;
            }
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len();
            len += used as u64;
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if len == 0 {
            return Ok(None);
        }
        self.pos += len;
        self.line_number += 1;
        Ok(Some(Line {
            start,
            len,
            truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_long_lines_but_counts_them() {
        let data = b"short\nthis line is long\nend";
        let mut r = LineReader::new(io::BufReader::with_capacity(4, &data[..]), 8);
        let a = r.next_line().expect("read").expect("line");
        assert_eq!(
            (a.start, a.len, a.truncated, r.buf.as_slice()),
            (0, 6, false, &b"short\n"[..])
        );
        let b = r.next_line().expect("read").expect("line");
        assert_eq!(
            (b.start, b.len, b.truncated, r.buf.as_slice()),
            (6, 18, true, &b"this lin"[..])
        );
        let c = r.next_line().expect("read").expect("line");
        assert_eq!((c.start, c.len, r.buf.as_slice()), (24, 3, &b"end"[..]));
        assert_eq!(r.line_number(), 3);
        assert!(r.next_line().expect("read").is_none());
    }
}
