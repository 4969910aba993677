//! Reading BagIt 1.0 tag files (RFC 8493): manifests (§2.1.3) and
//! bag-info.txt (§2.2.2), written independently of spoor-archive.

use std::collections::BTreeMap;

/// Parses a manifest into `path → hex digest`. Returns the problems met
/// (malformed lines, duplicate paths) beside the entries.
pub(crate) fn parse_manifest(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut entries = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let Some((digest, path)) = line.split_once(char::is_whitespace) else {
            problems.push(format!("line {}: not `<digest> <path>`", i + 1));
            continue;
        };
        let path = decode_path(path.trim_start());
        if !(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())) {
            problems.push(format!(
                "line {}: \"{digest}\" is not a SHA-256 digest",
                i + 1
            ));
            continue;
        }
        if entries
            .insert(path.clone(), digest.to_ascii_lowercase())
            .is_some()
        {
            problems.push(format!("line {}: {path} listed twice", i + 1));
        }
    }
    (entries, problems)
}

/// Undoes the manifest path encoding: `%0D`, `%0A`, `%25`.
fn decode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3);
        match code.map(|c| c.to_ascii_uppercase()).as_deref() {
            Some("0D") => out.push('\r'),
            Some("0A") => out.push('\n'),
            Some("25") => out.push('%'),
            _ => {
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// Parses bag-info.txt into label → values (labels may repeat).
pub(crate) fn parse_bag_info(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(values) = last.as_ref().and_then(|l| out.get_mut(l)) {
                if let Some(v) = values.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
            }
            continue;
        }
        if let Some((label, value)) = line.split_once(':') {
            out.entry(label.trim().to_owned())
                .or_default()
                .push(value.trim().to_owned());
            last = Some(label.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests() {
        let d = "a".repeat(64);
        let (entries, problems) = parse_manifest(&format!(
            "{d}  data/x%0Ay\n{d} data/p%25\nbad\n{d}  data/p%25\n"
        ));
        assert_eq!(entries.get("data/x\ny"), Some(&d));
        assert_eq!(entries.get("data/p%"), Some(&d));
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn bag_info_folding() {
        let info = parse_bag_info("Payload-Oxum: 10.2\nExternal-Description: one\n  two\n");
        assert_eq!(info["Payload-Oxum"], ["10.2"]);
        assert_eq!(info["External-Description"], ["one two"]);
    }
}
