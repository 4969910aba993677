//! Text normalisation: Unicode NFC, bidi controls removed, and plain text
//! derived from HTML by one documented rule (docs/FORMAT.md, "Text").

use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Normalises text for a record: Unicode NFC, and the invisible bidi
/// control characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)
/// removed, since they change how text displays but not what it says.
/// CRLF and lone CR become LF.
pub fn normalize_text(text: &str) -> String {
    normalize(text, true)
}

/// As [`normalize_text`], but keeps bidi controls: for sources (WhatsApp)
/// where the reader removes them only at structural places and a mark the
/// writer typed inside the text is part of what was written.
pub fn normalize_text_keeping_marks(text: &str) -> String {
    normalize(text, false)
}

fn normalize(text: &str, strip_marks: bool) -> String {
    // Fast path: most text is already NFC, without CR or bidi controls, and
    // the full pass costs more than the rest of reading a message.
    if text.is_ascii() && !text.contains('\r') {
        return text.to_owned();
    }
    let marked = strip_marks && text.chars().any(is_bidi_control);
    let clean = !marked && !text.contains('\r');
    if clean && unicode_normalization::is_nfc_quick(text.chars()) == IsNormalized::Yes {
        return text.to_owned();
    }
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    unified
        .chars()
        .filter(|c| !(strip_marks && is_bidi_control(*c)))
        .nfc()
        .collect()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Derives plain text from HTML.
///
/// The rule: raw CR/LF count as spaces; `<br>` and the closing tags of `p`,
/// `div`, `li`, `tr`, `h1`–`h6`, `blockquote` and `pre` become line breaks;
/// an emoji (`<emoji alt="X">`, or an `<img>` whose `itemtype` names an
/// Emoji, as Teams writes them) becomes its `alt` text, any other `<img>`
/// becomes `[image]`; the contents of `script`, `style`, `head` and
/// `title` and comments vanish; other tags are removed keeping their text;
/// character references are decoded and NBSP becomes a space; then each line
/// has its runs of white space collapsed and is trimmed, leading and trailing
/// empty lines are dropped and runs of empty lines collapse to one.
pub fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        let (text, tail) = rest.split_at(lt);
        if skip_until.is_none() {
            push_text(&mut raw, text);
        }
        if let Some(after) = tail.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(tag_end) = find_tag_end(tail) else {
            // An unclosed `<` is text, as browsers show it.
            if skip_until.is_none() {
                push_text(&mut raw, tail);
            }
            rest = "";
            break;
        };
        let tag = &tail[1..tag_end];
        rest = &tail[tag_end + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if let Some(until) = skip_until {
            if closing && name == until {
                skip_until = None;
            }
            continue;
        }
        match (closing, name.as_str()) {
            (false, "script") => skip_until = Some("script"),
            (false, "style") => skip_until = Some("style"),
            (false, "head") => skip_until = Some("head"),
            (false, "title") => skip_until = Some("title"),
            (_, "br") => raw.push('\n'),
            (false, "emoji") => push_text(&mut raw, attribute(tag, "alt").unwrap_or("")),
            (false, "img") => match attribute(tag, "alt") {
                Some(alt) if attribute(tag, "itemtype").is_some_and(|t| t.ends_with("/Emoji")) => {
                    push_text(&mut raw, alt)
                }
                _ => raw.push_str("[image]"),
            },
            (
                true,
                "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote"
                | "pre",
            ) => raw.push('\n'),
            _ => {}
        }
    }
    if skip_until.is_none() {
        push_text(&mut raw, rest);
    }
    tidy_lines(&raw)
}

/// The value of attribute `name` in a tag's text (`img src="…" alt='x'`),
/// undecoded; names compare without case.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find('=') {
        let before = rest[..at].trim_end();
        let key_start = before
            .rfind(|c: char| c.is_whitespace() || c == '/')
            .map_or(0, |i| i + 1);
        let key = &before[key_start..];
        let after = rest[at + 1..].trim_start();
        let (value, tail) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &after[1..];
                let end = inner.find(q)?;
                (&inner[..end], &inner[end + 1..])
            }
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = tail;
    }
    None
}

/// Index of the `>` closing the tag that starts at `tail[0] == '<'`, skipping
/// quoted attribute values.
fn find_tag_end(tail: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in tail.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn push_text(out: &mut String, text: &str) {
    let decoded = decode_entities(text);
    for c in decoded.chars() {
        out.push(match c {
            '\r' | '\n' | '\u{a0}' => ' ',
            c => c,
        });
    }
}

/// Decodes HTML character references as a browser does: numeric ones and
/// every named one of the HTML5 table (by the `htmlize` crate). Unknown
/// names stay as written.
fn decode_entities(text: &str) -> String {
    htmlize::unescape(text).into_owned()
}

fn tidy_lines(raw: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in raw.split('\n') {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        let empty = collapsed.is_empty();
        if empty && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(collapsed);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// Makes one path component from an input safe as a name inside a package
/// (given as the raw bytes of the name):
/// control characters, `/`, `\`, `%` and bytes that are not UTF-8 become
/// `%XX`, and `.` or `..` become `%2E` / `%2E%2E`. Distinct names stay
/// distinct, and the original name can be read back.
pub fn path_component(bytes: &[u8]) -> String {
    match bytes {
        b"" => return "%00".to_owned(),
        b"." => return "%2E".to_owned(),
        b".." => return "%2E%2E".to_owned(),
        _ => {}
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || matches!(c, '/' | '\\' | '%') {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising_names() {
        assert_eq!(
            path_component(b"WhatsApp Chat met Jan.txt"),
            "WhatsApp Chat met Jan.txt"
        );
        assert_eq!(path_component(str::as_bytes("..")), "%2E%2E");
        assert_eq!(path_component(str::as_bytes("a%b\\c\nd")), "a%25b%5Cc%0Ad");
        assert_eq!(path_component(b"caf\xe9"), "caf%E9");
        assert_eq!(path_component(str::as_bytes("1710.M1:2,S")), "1710.M1:2,S");
    }

    #[test]
    fn nfc_and_bidi_marks() {
        assert_eq!(
            normalize_text("Cafe\u{301}\u{200f} ok\r\nx\ry"),
            "Café ok\nx\ny"
        );
        assert_eq!(
            normalize_text_keeping_marks("Cafe\u{301}\u{200f} ok\r\nx\u{200d}y"),
            "Café\u{200f} ok\nx\u{200d}y"
        );
    }

    /// See: #16. Every named reference of HTML5, not only a short list.
    #[test]
    fn html_references_by_the_full_table() {
        assert_eq!(
            html_to_text("<p>mi&szlig;liche &hearts; &ccaron; &#x1F600; &amp;amp; &zzz;</p>"),
            "mißliche ♥ č 😀 &amp; &zzz;"
        );
    }

    #[test]
    fn html_rule() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\r\n\
            <p>Hallo&nbsp;  <b>wereld</b>,</p><p></p><p></p><div>tweede&amp;regel<br>derde</div>\
            <ul><li>een</li><li>twee &#x263A; &#9731;</li></ul><img src=\"x.png\" alt=\"a>b\">\
            <!-- <p>verborgen</p> --><a href=\"https://example.org\">link</a> 3 &lt; 4 &bogus;</body></html>";
        assert_eq!(
            html_to_text(html),
            "Hallo wereld,\n\ntweede&regel\nderde\neen\ntwee ☺ ☃\n[image]link 3 < 4 &bogus;"
        );
    }

    #[test]
    fn emoji_become_their_text() {
        let html = "<p>Top <emoji id=\"1f44d_thumbsup\" alt=\"👍\" title=\"Like\"></emoji> \
            <img itemtype=\"http://schema.skype.com/Emoji\" alt=\"&#128512;\" src=\"x\"> \
            <img src=\"https://graph.microsoft.com/v1.0/x/$value\" alt=\"image\"></p>";
        assert_eq!(html_to_text(html), "Top 👍 😀 [image]");
    }

    #[test]
    fn unclosed_tag_is_text() {
        assert_eq!(html_to_text("a < b"), "a < b");
        assert_eq!(html_to_text("<p>x</p>\n\n\n<p>y"), "x\ny");
    }
}
