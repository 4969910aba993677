//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Implements §3.2: no insignificant whitespace (§3.2.1), strings escaped as
//! ECMAScript's `JSON.stringify` does (§3.2.2.2), numbers in ECMAScript's
//! shortest round-trip form (§3.2.2.3), and object members sorted by the
//! UTF-16 code units of their names (§3.2.3). The hash of a record is taken
//! over these exact bytes, so a verifier never needs to re-serialise a record
//! it did not parse: it checks `canonical(parse(line)) == line`.

use std::borrow::Cow;

use serde::ser::{self, Serialize};
use serde_json::Value;

/// Serialises `value` as RFC 8785 canonical JSON.
pub fn to_canonical(value: &Value) -> Vec<u8> {
    // A JSON value always serialises: its keys are strings, its numbers
    // finite.
    serialize(value).unwrap_or_default()
}

/// Serialises anything `serde` can as RFC 8785 canonical JSON, straight to
/// bytes (no intermediate [`Value`]): the same bytes as
/// `to_canonical(&serde_json::to_value(x)?)`, non-finite floats as `null`
/// as there.
///
/// # Errors
/// A map key that is not a string, char or integer, or the value's own
/// serialisation error.
pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    value.serialize(Canonical { out: &mut out })?;
    Ok(out)
}

/// Why a value has no canonical JSON form.
#[derive(Debug)]
pub struct CanonicalError(String);

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

impl ser::Error for CanonicalError {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        CanonicalError(message.to_string())
    }
}

/// Tells whether `bytes` is one JSON value in RFC 8785 canonical form.
///
/// Duplicate member names, insignificant whitespace, non-shortest numbers and
/// unnecessary escapes all make the answer `false`. The bytes are checked in
/// one pass without building a value (a store-wide verify asks this of
/// every record line and log entry); the answer is that of
/// `to_canonical(parse(bytes)) == bytes`.
pub fn is_canonical(bytes: &[u8]) -> bool {
    let mut scan = Scan { bytes, at: 0 };
    scan.value(0).is_some() && scan.at == bytes.len()
}

/// Deepest nesting accepted (serde_json refuses deeper input, so such
/// bytes have no canonical form to compare with).
const MAX_DEPTH: usize = 127;

/// A cursor over bytes being checked for canonical form; each method
/// returns `None` at the first byte that is not canonical.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.at.checked_add(literal.len())?;
        (self.bytes.get(self.at..end)? == literal).then(|| self.at = end)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(|_| ()),
            b't' => self.eat(b"true"),
            b'f' => self.eat(b"false"),
            b'n' => self.eat(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b"[")?;
        if self.eat(b"]").is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b"{")?;
        if self.eat(b"}").is_some() {
            return Some(());
        }
        let mut previous: Option<Cow<'a, str>> = None;
        loop {
            let key = self.string()?;
            // Members sorted by the UTF-16 code units of their names, each
            // name once (§3.2.3).
            if let Some(previous) = &previous {
                if utf16_order(previous, &key) != std::cmp::Ordering::Less {
                    return None;
                }
            }
            previous = Some(key);
            self.eat(b":")?;
            self.value(depth)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string in the form `write_string` gives it; its decoded text.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b"\"")?;
        let start = self.at;
        let mut decoded: Option<String> = None;
        let mut plain_from = start;
        loop {
            let b = self.peek()?;
            match b {
                b'"' => {
                    let tail = std::str::from_utf8(&self.bytes[plain_from..self.at]).ok()?;
                    self.at += 1;
                    return Some(match decoded {
                        None => Cow::Borrowed(tail),
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                    });
                }
                0x00..=0x1f => return None,
                b'\\' => {
                    let text = decoded.get_or_insert_with(String::new);
                    text.push_str(std::str::from_utf8(&self.bytes[plain_from..self.at]).ok()?);
                    let escaped = *self.bytes.get(self.at + 1)?;
                    let (length, char) = match escaped {
                        b'"' => (2, '"'),
                        b'\\' => (2, '\\'),
                        b'b' => (2, '\u{8}'),
                        b't' => (2, '\t'),
                        b'n' => (2, '\n'),
                        b'f' => (2, '\u{c}'),
                        b'r' => (2, '\r'),
                        // Only the other control characters are written
                        // as \u00xx, in lower case.
                        b'u' => {
                            let hex = self.bytes.get(self.at + 2..self.at + 6)?;
                            let [b'0', b'0', high @ (b'0' | b'1'), low] = *hex else {
                                return None;
                            };
                            let low = match low {
                                b'0'..=b'9' => low - b'0',
                                b'a'..=b'f' => low - b'a' + 10,
                                _ => return None,
                            };
                            let code = (high - b'0') << 4 | low;
                            if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            (6, char::from(code))
                        }
                        _ => return None,
                    };
                    text.push(char);
                    self.at += length;
                    plain_from = self.at;
                }
                _ => self.at += 1,
            }
        }
    }

    /// A number exactly as `to_canonical` writes the value it parses to.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        let text = &self.bytes[start..self.at];
        let number: Value = serde_json::from_slice(text).ok()?;
        (number.is_number() && to_canonical(&number) == text).then_some(())
    }
}

fn write_u64(u: u64, out: &mut Vec<u8>) {
    // Integers within ±2^53 print the same in ECMAScript; anything else goes
    // through the double, as a JavaScript reader would see it.
    if u <= EXACT {
        out.extend_from_slice(u.to_string().as_bytes());
    } else {
        write_f64(u as f64, out);
    }
}

fn write_i64(i: i64, out: &mut Vec<u8>) {
    if i.unsigned_abs() <= EXACT {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        write_f64(i as f64, out);
    }
}

/// Largest integer a double holds exactly.
const EXACT: u64 = 1 << 53;

fn write_f64(f: f64, out: &mut Vec<u8>) {
    if !f.is_finite() {
        // As `serde_json::to_value` has it: JSON has no NaN or infinity.
        out.extend_from_slice(b"null");
    } else if f == 0.0 {
        // ECMAScript prints -0 as "0".
        out.push(b'0');
    } else {
        let mut buffer = ryu_js::Buffer::new();
        out.extend_from_slice(buffer.format_finite(f).as_bytes());
    }
}

/// The serializer: writes one value to `out`.
struct Canonical<'o> {
    out: &'o mut Vec<u8>,
}

/// An array being written.
struct Array<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
    /// For a tuple variant: the object around the array to close.
    in_variant: bool,
}

/// An object being gathered: members are serialised into `out` in the order
/// given, then written again sorted (§3.2.3) when it ends and moved down over
/// what was gathered, so no object needs a buffer of its own.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    /// Where the object begins in `out`.
    base: usize,
    /// (name, start and end of its value in `out`), in the order given.
    members: Vec<(Cow<'static, str>, usize, usize)>,
    /// A map key waiting for its value.
    key: Option<String>,
    /// For a struct variant: the object around this one to close.
    in_variant: bool,
}

impl<'o> Object<'o> {
    fn new(out: &'o mut Vec<u8>, in_variant: bool) -> Object<'o> {
        Object {
            base: out.len(),
            out,
            members: Vec::with_capacity(16),
            key: None,
            in_variant,
        }
    }

    fn member<T: Serialize + ?Sized>(
        &mut self,
        name: Cow<'static, str>,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let start = self.out.len();
        value.serialize(Canonical {
            out: &mut *self.out,
        })?;
        self.members.push((name, start, self.out.len()));
        Ok(())
    }

    fn finish(mut self) {
        if !self
            .members
            .is_sorted_by(|a, b| utf16_order(&a.0, &b.0).is_le())
        {
            self.members.sort_by(|a, b| utf16_order(&a.0, &b.0));
        }
        let gathered_end = self.out.len();
        self.out.push(b'{');
        for (i, (name, start, end)) in self.members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_string(name, self.out);
            self.out.push(b':');
            self.out.extend_from_within(*start..*end);
        }
        self.out.push(b'}');
        if self.in_variant {
            self.out.push(b'}');
        }
        let written = self.out.len() - gathered_end;
        self.out.copy_within(gathered_end.., self.base);
        self.out.truncate(self.base + written);
    }
}

/// §3.2.3: names compare as arrays of UTF-16 code units, not UTF-8 bytes.
/// The two orders differ only between a character above U+FFFF and one in
/// U+E000..U+FFFF, and those differ in their UTF-8 lead bytes, both 0xEE or
/// above; anywhere else the first differing byte decides as in UTF-16.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let differ = a.bytes().zip(b.bytes()).find(|(x, y)| x != y);
    match differ {
        None => a.len().cmp(&b.len()),
        Some((x, y)) if x >= 0xEE && y >= 0xEE => a.encode_utf16().cmp(b.encode_utf16()),
        Some((x, y)) => x.cmp(&y),
    }
}

/// Opens `{"variant":` for the enum forms that wrap their content.
fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_string(variant, out);
    out.push(b':');
}

impl<'o> ser::Serializer for Canonical<'o> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'o>;
    type SerializeTuple = Array<'o>;
    type SerializeTupleStruct = Array<'o>;
    type SerializeTupleVariant = Array<'o>;
    type SerializeMap = Object<'o>;
    type SerializeStruct = Object<'o>;
    type SerializeStructVariant = Object<'o>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), CanonicalError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), CanonicalError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), CanonicalError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), CanonicalError> {
        write_i64(v, self.out);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), CanonicalError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), CanonicalError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), CanonicalError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), CanonicalError> {
        write_u64(v, self.out);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), CanonicalError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), CanonicalError> {
        write_f64(v, self.out);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), CanonicalError> {
        write_string(v.encode_utf8(&mut [0; 4]), self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), CanonicalError> {
        write_string(v, self.out);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalError> {
        // As serde_json: an array of numbers.
        let mut array = self.serialize_seq(Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut array, b)?;
        }
        ser::SerializeSeq::end(array)
    }
    fn serialize_none(self) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CanonicalError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CanonicalError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), CanonicalError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        open_variant(self.out, variant);
        value.serialize(Canonical {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'o>, CanonicalError> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            first: true,
            in_variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'o>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'o>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'o>, CanonicalError> {
        open_variant(self.out, variant);
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            first: true,
            in_variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'o>, CanonicalError> {
        Ok(Object::new(self.out, false))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Object<'o>, CanonicalError> {
        Ok(Object::new(self.out, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'o>, CanonicalError> {
        open_variant(self.out, variant);
        Ok(Object::new(self.out, true))
    }
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Canonical {
            out: &mut *self.out,
        })
    }

    fn close(self) -> Result<(), CanonicalError> {
        self.out.push(b']');
        if self.in_variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// The four serde array forms write alike.
macro_rules! array_form {
    ($form:ident, $add:ident) => {
        impl ser::$form for Array<'_> {
            type Ok = ();
            type Error = CanonicalError;
            fn $add<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
                self.element(value)
            }
            fn end(self) -> Result<(), CanonicalError> {
                self.close()
            }
        }
    };
}

array_form!(SerializeSeq, serialize_element);
array_form!(SerializeTuple, serialize_element);
array_form!(SerializeTupleStruct, serialize_field);
array_form!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        self.key = Some(key.serialize(MapKey)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        let name = self
            .key
            .take()
            .ok_or_else(|| CanonicalError("a map value without its key".to_owned()))?;
        self.member(Cow::Owned(name), value)
    }
    fn end(self) -> Result<(), CanonicalError> {
        self.finish();
        Ok(())
    }
}

/// The two serde struct forms write alike.
macro_rules! struct_form {
    ($form:ident) => {
        impl ser::$form for Object<'_> {
            type Ok = ();
            type Error = CanonicalError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                name: &'static str,
                value: &T,
            ) -> Result<(), CanonicalError> {
                self.member(Cow::Borrowed(name), value)
            }
            fn end(self) -> Result<(), CanonicalError> {
                self.finish();
                Ok(())
            }
        }
    };
}

struct_form!(SerializeStruct);
struct_form!(SerializeStructVariant);

/// Integer map keys are their decimal text.
macro_rules! key_as_text {
    ($($method:ident: $t:ty,)*) => {
        $(fn $method(self, v: $t) -> Result<String, CanonicalError> {
            Ok(v.to_string())
        })*
    };
}

/// Map keys: strings, chars and integers (as their decimal text, as
/// serde_json writes them); anything else has no JSON form.
struct MapKey;

fn not_a_key<T>() -> Result<T, CanonicalError> {
    Err(CanonicalError("a map key must be a string".to_owned()))
}

impl ser::Serializer for MapKey {
    type Ok = String;
    type Error = CanonicalError;
    type SerializeSeq = ser::Impossible<String, CanonicalError>;
    type SerializeTuple = ser::Impossible<String, CanonicalError>;
    type SerializeTupleStruct = ser::Impossible<String, CanonicalError>;
    type SerializeTupleVariant = ser::Impossible<String, CanonicalError>;
    type SerializeMap = ser::Impossible<String, CanonicalError>;
    type SerializeStruct = ser::Impossible<String, CanonicalError>;
    type SerializeStructVariant = ser::Impossible<String, CanonicalError>;

    fn serialize_str(self, v: &str) -> Result<String, CanonicalError> {
        Ok(v.to_owned())
    }
    key_as_text!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    );
    fn serialize_char(self, v: char) -> Result<String, CanonicalError> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, CanonicalError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, CanonicalError> {
        value.serialize(self)
    }
    fn serialize_bool(self, _v: bool) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_f32(self, _v: f32) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_f64(self, _v: f64) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_none(self) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_unit(self) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, CanonicalError> {
        not_a_key()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, CanonicalError> {
        not_a_key()
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, CanonicalError> {
        not_a_key()
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, CanonicalError> {
        not_a_key()
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalError> {
        not_a_key()
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, CanonicalError> {
        not_a_key()
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, CanonicalError> {
        not_a_key()
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalError> {
        not_a_key()
    }
}

/// The bytes a JSON string cannot hold as they are: controls, `"` and `\\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Where the first byte at or after `from` that needs an escape is, or
/// `bytes.len()`. Eight bytes are tested at a time while none of them is a
/// control, `"` or `\`, which for most text is all of it.
fn next_escape(bytes: &[u8], mut from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Some byte of `v` is below `n` (n <= 0x80); exact for "some", which is
    // all that is asked.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGHS != 0;
    let any_equal = |v: u64, b: u8| below(v ^ (ONES * u64::from(b)), 1);
    while let Some(word) = bytes
        .get(from..from + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let v = u64::from_ne_bytes(word);
        if below(v, 0x20) || any_equal(v, b'"') || any_equal(v, b'\\') {
            break;
        }
        from += 8;
    }
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]))
        .map_or(bytes.len(), |at| from + at)
}

/// Writes `s` as a JSON string escaped as ECMAScript's `JSON.stringify`
/// does. Runs of characters that need no escape are copied whole.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    loop {
        let at = next_escape(bytes, plain_from);
        out.extend_from_slice(bytes.get(plain_from..at).unwrap_or_default());
        let Some(&b) = bytes.get(at) else { break };
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            _ => b"",
        };
        if escape.is_empty() {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(DIGITS[usize::from(b >> 4)]);
            out.push(DIGITS[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        plain_from = at + 1;
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(json: &str) -> String {
        let value: Value = serde_json::from_str(json).expect("test input is JSON");
        String::from_utf8(to_canonical(&value)).expect("canonical JSON is UTF-8")
    }

    /// Serialising a Rust value directly gives the bytes its JSON value
    /// gives: members sorted whatever the field order, every enum form,
    /// integer map keys, bytes, large and non-finite numbers.
    #[test]
    fn direct_serialisation_matches_the_value_path() {
        #[derive(serde::Serialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(i32, &'static str),
            Struct { z: bool, a: Option<f64> },
        }
        #[derive(serde::Serialize)]
        struct Sample {
            zeta: Vec<Shape>,
            alpha: std::collections::BTreeMap<u64, &'static str>,
            #[serde(with = "serde_bytes_as_seq")]
            bytes: Vec<u8>,
            big: u64,
            negative: i64,
            nothing: f64,
            unit: (),
            nested: (char, [f32; 2]),
            #[serde(rename = "\u{e000}")]
            private_use: u8,
            #[serde(rename = "\u{1f600}")]
            astral: u8,
        }
        mod serde_bytes_as_seq {
            pub(super) fn serialize<S: serde::Serializer>(
                b: &[u8],
                s: S,
            ) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b)
            }
        }
        let sample = Sample {
            zeta: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-3, "t\n"),
                Shape::Struct {
                    z: true,
                    a: Some(0.1),
                },
                Shape::Struct { z: false, a: None },
            ],
            alpha: [(10, "ten"), (2, "two")].into_iter().collect(),
            bytes: vec![0, 255],
            big: u64::MAX,
            negative: -(1 << 60),
            nothing: f64::NAN,
            unit: (),
            nested: ('€', [1.5, -0.0]),
            private_use: 1,
            astral: 2,
        };
        let direct = serialize(&sample).expect("serialises");
        let via_value = to_canonical(&serde_json::to_value(&sample).expect("a JSON value"));
        assert_eq!(
            String::from_utf8_lossy(&direct),
            String::from_utf8_lossy(&via_value)
        );
        assert!(is_canonical(&direct));
        let text = String::from_utf8(direct).expect("utf-8");
        assert!(
            text.starts_with(r#"{"alpha":{"10":"ten","2":"two"},"big":18446744073709552000,"#),
            "{text}"
        );
        // U+1F600 sorts before U+E000 in UTF-16 (a surrogate pair), after it in UTF-8.
        assert!(text.ends_with("\"\u{1f600}\":2,\"\u{e000}\":1}"), "{text}");
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1u8);
        assert!(serialize(&map).is_err(), "a key that is not a string");
    }

    /// RFC 8785 §3.2.2: the example of §3.2.2 with whitespace, escapes and numbers.
    #[test]
    fn rfc8785_section_3_2_2_example() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canon(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    /// RFC 8785 §3.2.3: sorting by UTF-16 code units.
    #[test]
    fn rfc8785_section_3_2_3_sorting() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let out = canon(input);
        let keys: Vec<&str> = vec![
            "\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ];
        let value: Value = serde_json::from_str(&out).expect("output parses");
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| {
                out.find(&format!("\"{}\":", k.replace('\r', "\\r")))
                    .expect("key present")
            })
            .collect();
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        assert_eq!(positions, sorted, "keys out of UTF-16 order in {out}");
        assert_eq!(value.as_object().map(|m| m.len()), Some(7));
    }

    /// RFC 8785 Appendix B: number serialisation samples (those JSON can carry).
    #[test]
    fn rfc8785_appendix_b_numbers() {
        let cases = [
            ("0", "0"),
            ("-0.0", "0"),
            ("5e-324", "5e-324"),
            ("-5e-324", "-5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("9007199254740992", "9007199254740992"),
            ("9007199254740993", "9007199254740992"),
            ("295147905179352830000", "295147905179352830000"),
            ("1e+21", "1e+21"),
            ("999999999999999900000", "999999999999999900000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("333333333.3333333", "333333333.3333333"),
            ("-1.5", "-1.5"),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "input {input}");
        }
    }

    #[test]
    fn canonical_check_rejects_whitespace_duplicates_and_escapes() {
        assert!(is_canonical(br#"{"a":1,"b":[true,null]}"#));
        assert!(!is_canonical(br#"{"b":1,"a":2}"#));
        assert!(!is_canonical(br#"{"a": 1}"#));
        assert!(!is_canonical(br#"{"a":1,"a":1}"#));
        assert!(!is_canonical(br#"{"a":"\u0041"}"#));
        assert!(!is_canonical(br#"{"a":1.0}"#));
        assert!(!is_canonical(b"{\"a\":1}\n"));
        assert!(!is_canonical(b"not json"));
    }

    #[test]
    fn control_characters_use_lowercase_hex() {
        assert_eq!(canon(r#""\u001F\u007f""#), "\"\\u001f\u{7f}\"");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// JSON without fractions and with ASCII names, for which canonical JSON is
    /// serde_json's compact form with members sorted.
    fn plain_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            // Integers a double holds exactly, written alike by both.
            (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map("[ -~]{0,6}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Members come out sorted and values in place, however objects
        /// and arrays nest: the same bytes as serde_json writes a sorted
        /// map compactly.
        #[test]
        fn nesting_matches_serde_json(value in plain_json()) {
            let theirs = serde_json::to_vec(&value).expect("a value serialises");
            prop_assert_eq!(to_canonical(&value), theirs);
        }

        /// Strings are escaped as serde_json (and `JSON.stringify`) escape
        /// them, whatever runs of plain bytes and escapes they hold.
        #[test]
        fn strings_escape_as_serde_json_does(
            text in prop_oneof![any::<String>(), "[\\x00-\\x7f]{0,40}", "[a\"\\\\\\x1f\\n\\x7f€]{0,40}"]
        ) {
            let mut ours = Vec::new();
            write_string(&text, &mut ours);
            let theirs = serde_json::to_string(&text).expect("a string serialises");
            prop_assert_eq!(String::from_utf8(ours).expect("UTF-8"), theirs);
        }

        /// Canonicalising is idempotent: parse and canonicalise again gives
        /// the same bytes, and the result is recognised as canonical.
        #[test]
        fn idempotent(value in json()) {
            let once = to_canonical(&value);
            let reparsed: Value = serde_json::from_slice(&once).expect("canonical JSON parses");
            prop_assert_eq!(to_canonical(&reparsed), once.clone());
            prop_assert!(is_canonical(&once));
        }

        /// The one-pass check answers as its definition does,
        /// `to_canonical(parse(bytes)) == bytes`, on canonical JSON and on
        /// it with one byte changed, inserted or removed.
        #[test]
        fn check_agrees_with_its_definition(
            value in json(),
            at in any::<prop::sample::Index>(),
            byte in prop_oneof![any::<u8>(), Just(b' '), Just(b','), Just(b'"'), Just(b'\\'), Just(b'0'), Just(b'}')],
            edit in 0..4u8,
        ) {
            let by_definition = |bytes: &[u8]| {
                serde_json::from_slice::<Value>(bytes).is_ok_and(|v| to_canonical(&v) == bytes)
            };
            let mut bytes = to_canonical(&value);
            let i = at.index(bytes.len() + 1);
            match edit {
                0 => {}
                1 if i < bytes.len() => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {}
            }
            prop_assert_eq!(is_canonical(&bytes), by_definition(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn check_agrees_on_hand_made_cases() {
        let by_definition = |bytes: &[u8]| {
            serde_json::from_slice::<Value>(bytes).is_ok_and(|v| to_canonical(&v) == bytes)
        };
        for case in [
            &br#"{"\u0000":1}"#[..],
            br#""\u000a""#,
            br#""\n""#,
            br#""\/""#,
            br#""\u001f""#,
            br#""\u001F""#,
            "\"\u{7f}\"".as_bytes(),
            br#"-0"#,
            br#"0"#,
            br#"1e21"#,
            br#"1e+21"#,
            br#"100000000000000000000"#,
            br#"9007199254740993"#,
            br#"0.1"#,
            br#"1E3"#,
            br#"[1,2,]"#,
            br#"{"a":1,}"#,
            "{\"\u{e000}\":1,\"\u{10000}\":2}".as_bytes(),
            "{\"\u{10000}\":1,\"\u{e000}\":2}".as_bytes(),
            br#"{"":1}"#,
            br#"[[[[]]]]"#,
            b"\"\xff\"",
        ] {
            assert_eq!(
                is_canonical(case),
                by_definition(case),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            is_canonical(deep.as_bytes()),
            by_definition(deep.as_bytes())
        );
    }
}
