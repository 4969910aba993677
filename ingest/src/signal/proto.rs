//! The few protobuf messages of the legacy `.backup` (`Backups.proto`,
//! proto2), decoded by hand: nine small messages do not warrant generated
//! code. Unknown fields and frames are skipped, as forks add some.

/// One field of a message.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A 64- or 32-bit little-endian value.
    Fixed(&'a [u8]),
}

/// Iterates over `(number, field)` of an encoded message; `None` at the end
/// or at the first malformed field (the caller then rejects the frame).
struct Fields<'a> {
    rest: &'a [u8],
    broken: bool,
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, Field<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.broken {
            return None;
        }
        let parsed = (|| {
            let key = varint(&mut self.rest)?;
            let field = match key & 7 {
                0 => Field::Varint(varint(&mut self.rest)?),
                1 => {
                    let (value, rest) = (self.rest.get(..8)?, self.rest.get(8..)?);
                    self.rest = rest;
                    Field::Fixed(value)
                }
                2 => {
                    let len = usize::try_from(varint(&mut self.rest)?).ok()?;
                    let (value, rest) = (self.rest.get(..len)?, self.rest.get(len..)?);
                    self.rest = rest;
                    Field::Bytes(value)
                }
                5 => {
                    let (value, rest) = (self.rest.get(..4)?, self.rest.get(4..)?);
                    self.rest = rest;
                    Field::Fixed(value)
                }
                _ => return None,
            };
            Some((key >> 3, field))
        })();
        if parsed.is_none() {
            self.broken = true;
        }
        parsed
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields {
        rest: bytes,
        broken: false,
    }
}

/// A parameter of an SQL statement. Public for the test writer only.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "test-support"), allow(unreachable_pub))]
pub enum Param {
    /// Text.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// Bytes.
    Blob(Vec<u8>),
    /// NULL.
    Null,
}

/// A decoded `BackupFrame`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Frame {
    Header {
        iv: Vec<u8>,
        salt: Vec<u8>,
        version: u32,
    },
    Statement {
        sql: String,
        params: Vec<Param>,
    },
    /// An attachment (`kind` 4), sticker (8) or avatar (7); its bytes follow.
    Blob {
        kind: BlobKind,
        row_id: Option<u64>,
        name: Option<String>,
        length: u32,
    },
    Version(u32),
    End,
    /// Preferences and key-values: settings, not messages.
    Setting,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BlobKind {
    Attachment,
    Avatar,
    Sticker,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes one frame; `None` when the bytes are not a well-formed frame.
pub(crate) fn decode(bytes: &[u8]) -> Option<Frame> {
    let mut frame = Frame::Unknown;
    let mut all = fields(bytes);
    for (number, field) in all.by_ref() {
        frame = match (number, field) {
            (1, Field::Bytes(b)) => header(b)?,
            (2, Field::Bytes(b)) => statement(b)?,
            (3 | 9, Field::Bytes(_)) => Frame::Setting,
            (4, Field::Bytes(b)) => blob(b, BlobKind::Attachment)?,
            (5, Field::Bytes(b)) => {
                let version = fields(b).find_map(|(n, f)| match (n, f) {
                    (1, Field::Varint(v)) => u32::try_from(v).ok(),
                    _ => None,
                });
                Frame::Version(version.unwrap_or(0))
            }
            (6, Field::Varint(v)) if v != 0 => Frame::End,
            (7, Field::Bytes(b)) => blob(b, BlobKind::Avatar)?,
            (8, Field::Bytes(b)) => blob(b, BlobKind::Sticker)?,
            _ => frame,
        };
    }
    (!all.broken).then_some(frame)
}

/// One reaction of the `reactions` column (database versions 37–120): the
/// protobuf `ReactionList { repeated Reaction reactions = 1 }` with
/// `Reaction { emoji = 1, author = 2, sentTime = 3, receivedTime = 4 }`.
#[derive(Debug, PartialEq)]
pub(crate) struct ListedReaction {
    pub(crate) emoji: String,
    /// A recipient id.
    pub(crate) author: u64,
    pub(crate) sent_ms: u64,
    pub(crate) received_ms: u64,
}

/// Decodes a `ReactionList`; `None` when the bytes are not one.
pub(crate) fn reaction_list(bytes: &[u8]) -> Option<Vec<ListedReaction>> {
    let mut list = Vec::new();
    let mut all = fields(bytes);
    for (number, field) in all.by_ref() {
        let (1, Field::Bytes(b)) = (number, field) else {
            continue;
        };
        let mut reaction = ListedReaction {
            emoji: String::new(),
            author: 0,
            sent_ms: 0,
            received_ms: 0,
        };
        let mut inner = fields(b);
        for (number, field) in inner.by_ref() {
            match (number, field) {
                (1, Field::Bytes(e)) => reaction.emoji = text(e),
                (2, Field::Varint(v)) => reaction.author = v,
                (3, Field::Varint(v)) => reaction.sent_ms = v,
                (4, Field::Varint(v)) => reaction.received_ms = v,
                _ => {}
            }
        }
        if inner.broken {
            return None;
        }
        list.push(reaction);
    }
    (!all.broken).then_some(list)
}

fn header(bytes: &[u8]) -> Option<Frame> {
    let (mut iv, mut salt, mut version) = (Vec::new(), Vec::new(), 0u32);
    let mut all = fields(bytes);
    for (number, field) in all.by_ref() {
        match (number, field) {
            (1, Field::Bytes(b)) => iv = b.to_vec(),
            (2, Field::Bytes(b)) => salt = b.to_vec(),
            (3, Field::Varint(v)) => version = u32::try_from(v).ok()?,
            _ => {}
        }
    }
    (!all.broken).then_some(Frame::Header { iv, salt, version })
}

fn statement(bytes: &[u8]) -> Option<Frame> {
    let (mut sql, mut params) = (String::new(), Vec::new());
    let mut all = fields(bytes);
    for (number, field) in all.by_ref() {
        match (number, field) {
            (1, Field::Bytes(b)) => sql = text(b),
            (2, Field::Bytes(b)) => params.push(param(b)?),
            _ => {}
        }
    }
    (!all.broken).then_some(Frame::Statement { sql, params })
}

fn param(bytes: &[u8]) -> Option<Param> {
    let mut value = Param::Null;
    let mut all = fields(bytes);
    for (number, field) in all.by_ref() {
        value = match (number, field) {
            (1, Field::Bytes(b)) => Param::Text(text(b)),
            // uint64 on the wire, a signed SQLite integer in meaning.
            (2, Field::Varint(v)) => Param::Integer(v as i64),
            (3, Field::Fixed(raw)) => Param::Real(f64::from_le_bytes(raw.try_into().ok()?)),
            (4, Field::Bytes(b)) => Param::Blob(b.to_vec()),
            (5, _) => Param::Null,
            _ => value,
        };
    }
    (!all.broken).then_some(value)
}

fn blob(bytes: &[u8], kind: BlobKind) -> Option<Frame> {
    let (mut row_id, mut name, mut length) = (None, None, 0u32);
    let mut all = fields(bytes);
    for (number, field) in all.by_ref() {
        match (kind, number, field) {
            (BlobKind::Attachment | BlobKind::Sticker, 1, Field::Varint(v)) => row_id = Some(v),
            (BlobKind::Attachment, 3, Field::Varint(v))
            | (BlobKind::Sticker | BlobKind::Avatar, 2, Field::Varint(v)) => {
                length = u32::try_from(v).ok()?;
            }
            (BlobKind::Avatar, 1 | 3, Field::Bytes(b)) => name = Some(text(b)),
            _ => {}
        }
    }
    (!all.broken).then_some(Frame::Blob {
        kind,
        row_id,
        name,
        length,
    })
}

/// Encoding, for the test writer that makes backup fixtures.
#[cfg(any(test, feature = "test-support"))]
pub(crate) mod encode {
    use super::{BlobKind, Frame, Param};

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    fn varint_field(number: u64, v: u64, out: &mut Vec<u8>) {
        varint(number << 3, out);
        varint(v, out);
    }

    pub(crate) fn frame(frame: &Frame) -> Vec<u8> {
        let mut inner = Vec::new();
        let mut out = Vec::new();
        match frame {
            Frame::Header { iv, salt, version } => {
                bytes_field(1, iv, &mut inner);
                bytes_field(2, salt, &mut inner);
                if *version > 0 {
                    varint_field(3, u64::from(*version), &mut inner);
                }
                bytes_field(1, &inner, &mut out);
            }
            Frame::Statement { sql, params } => {
                bytes_field(1, sql.as_bytes(), &mut inner);
                for p in params {
                    let mut enc = Vec::new();
                    match p {
                        Param::Text(t) => bytes_field(1, t.as_bytes(), &mut enc),
                        Param::Integer(i) => varint_field(2, *i as u64, &mut enc),
                        Param::Real(r) => {
                            varint(3 << 3 | 1, &mut enc);
                            enc.extend_from_slice(&r.to_le_bytes());
                        }
                        Param::Blob(b) => bytes_field(4, b, &mut enc),
                        Param::Null => varint_field(5, 1, &mut enc),
                    }
                    bytes_field(2, &enc, &mut inner);
                }
                bytes_field(2, &inner, &mut out);
            }
            Frame::Blob {
                kind,
                row_id,
                name,
                length,
            } => {
                let number = match kind {
                    BlobKind::Attachment => {
                        varint_field(1, row_id.unwrap_or(0), &mut inner);
                        varint_field(3, u64::from(*length), &mut inner);
                        4
                    }
                    BlobKind::Sticker => {
                        varint_field(1, row_id.unwrap_or(0), &mut inner);
                        varint_field(2, u64::from(*length), &mut inner);
                        8
                    }
                    BlobKind::Avatar => {
                        bytes_field(3, name.as_deref().unwrap_or("").as_bytes(), &mut inner);
                        varint_field(2, u64::from(*length), &mut inner);
                        7
                    }
                };
                bytes_field(number, &inner, &mut out);
            }
            Frame::Version(v) => {
                varint_field(1, u64::from(*v), &mut inner);
                bytes_field(5, &inner, &mut out);
            }
            Frame::End => varint_field(6, 1, &mut out),
            Frame::Setting => bytes_field(3, b"", &mut out),
            Frame::Unknown => bytes_field(15, b"future", &mut out),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_list_decodes() {
        // Two reactions, the second with an unknown field 9 that is skipped.
        let bytes = [
            0x0a, 0x0c, 0x0a, 0x04, 0xf0, 0x9f, 0x91, 0x8d, 0x10, 0x02, 0x18, 0x05, 0x20, 0x06,
            0x0a, 0x05, 0x0a, 0x01, b'x', 0x48, 0x01,
        ];
        let list = reaction_list(&bytes).expect("decodes");
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            ListedReaction {
                emoji: "👍".to_owned(),
                author: 2,
                sent_ms: 5,
                received_ms: 6
            }
        );
        assert_eq!(list[1].emoji, "x");
        assert_eq!(reaction_list(&[0x0a, 0x05, 0x0a]), None, "cut short");
    }

    #[test]
    fn frames_round_trip() {
        let frames = [
            Frame::Header {
                iv: vec![1; 16],
                salt: vec![2; 32],
                version: 1,
            },
            Frame::Statement {
                sql: "INSERT INTO message VALUES (?, ?, ?, ?, ?)".to_owned(),
                params: vec![
                    Param::Integer(-1),
                    Param::Text("hoi".to_owned()),
                    Param::Real(2.5),
                    Param::Blob(vec![0, 1, 2]),
                    Param::Null,
                ],
            },
            Frame::Blob {
                kind: BlobKind::Attachment,
                row_id: Some(7),
                name: None,
                length: 1234,
            },
            Frame::Blob {
                kind: BlobKind::Avatar,
                row_id: None,
                name: Some("12".to_owned()),
                length: 5,
            },
            Frame::Version(215),
            Frame::End,
        ];
        for frame in frames {
            assert_eq!(
                decode(&encode::frame(&frame)),
                Some(frame.clone()),
                "{frame:?}"
            );
        }
        assert_eq!(
            decode(&encode::frame(&Frame::Unknown)),
            Some(Frame::Unknown)
        );
        assert_eq!(decode(&[0x12, 0x05, 0x01]), None, "a length past the end");
    }
}
