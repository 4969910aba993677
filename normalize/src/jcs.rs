//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Implements §3.2: no insignificant whitespace (§3.2.1), strings escaped as
//! ECMAScript's `JSON.stringify` does (§3.2.2.2), numbers in ECMAScript's
//! shortest round-trip form (§3.2.2.3), and object members sorted by the
//! UTF-16 code units of their names (§3.2.3). The hash of a record is taken
//! over these exact bytes, so a verifier never needs to re-serialise a record
//! it did not parse: it checks `canonical(parse(line)) == line`.

use serde_json::{Map, Number, Value};

/// Serialises `value` as RFC 8785 canonical JSON.
pub fn to_canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

/// Tells whether `bytes` is one JSON value in RFC 8785 canonical form.
///
/// Duplicate member names, insignificant whitespace, non-shortest numbers and
/// unnecessary escapes all make the answer `false`.
pub fn is_canonical(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => to_canonical(&value) == bytes,
        Err(_) => false,
    }
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    // §3.2.3: compare names as arrays of UTF-16 code units, not UTF-8 bytes;
    // the two orders differ for characters above U+FFFF versus U+E000..U+FFFF.
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    out.push(b'{');
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(name, out);
        out.push(b':');
        write_value(value, out);
    }
    out.push(b'}');
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    // Integers within ±2^53 print the same in ECMAScript; anything else goes
    // through the double, as a JavaScript reader would see it.
    const EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        if f == 0.0 {
            // ECMAScript prints -0 as "0".
            out.push(b'0');
        } else {
            let mut buffer = ryu_js::Buffer::new();
            out.extend_from_slice(buffer.format_finite(f).as_bytes());
        }
    }
}

/// Writes `s` as a JSON string escaped as ECMAScript's `JSON.stringify`
/// does. Runs of characters that need no escape are copied whole.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        if escape.is_empty() {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(DIGITS[usize::from(b >> 4)]);
            out.push(DIGITS[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(json: &str) -> String {
        let value: Value = serde_json::from_str(json).expect("test input is JSON");
        String::from_utf8(to_canonical(&value)).expect("canonical JSON is UTF-8")
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

    proptest! {
        /// Canonicalising is idempotent: parse and canonicalise again gives
        /// the same bytes, and the result is recognised as canonical.
        #[test]
        fn idempotent(value in json()) {
            let once = to_canonical(&value);
            let reparsed: Value = serde_json::from_slice(&once).expect("canonical JSON parses");
            prop_assert_eq!(to_canonical(&reparsed), once.clone());
            prop_assert!(is_canonical(&once));
        }
    }
}
