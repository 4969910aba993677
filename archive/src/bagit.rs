//! BagIt 1.0 tag files (RFC 8493): `bagit.txt` (§2.1.1), payload and tag
//! manifests (§2.1.3, §2.2.1) and `bag-info.txt` (§2.2.2). Only the text
//! formats live here; which files a spoor package holds is `package`'s
//! business.

use spoor_normalize::Sha256;

/// `bagit.txt` exactly as §2.1.1 requires.
pub(crate) const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// Encodes a path for a manifest line (§2.1.3): `%` as `%25`, CR as `%0D`,
/// LF as `%0A`.
pub(crate) fn encode_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A manifest: one `<hex digest>  <path>` line per file, sorted by path.
pub(crate) fn manifest(entries: &[(String, Sha256)]) -> String {
    let mut sorted: Vec<&(String, Sha256)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (path, digest) in sorted {
        out.push_str(&format!("{digest}  {}\n", encode_path(path)));
    }
    out
}

/// The `bag-info.txt` of a spoor package (docs/FORMAT.md §4.3): the
/// fields it carries besides the Payload-Oxum, which sealing computes.
pub(crate) struct BagInfo {
    /// `Bag-Software-Agent`: `spoor <version>`.
    pub(crate) software_agent: String,
    /// `External-Identifier`: the package id.
    pub(crate) external_identifier: String,
    /// `Source-Organization`, when the store names one.
    pub(crate) source_organization: Option<String>,
    /// `Spoor-Export-SHA256`.
    pub(crate) export_sha256: Sha256,
    /// `Spoor-Package-Format`.
    pub(crate) package_format: String,
    /// `Spoor-Source-Format`: the format the reader detected.
    pub(crate) source_format: String,
}

impl BagInfo {
    /// The file's text, `Payload-Oxum` first.
    pub(crate) fn to_text(&self, payload_oxum: &str) -> String {
        let mut fields = vec![
            ("Payload-Oxum", payload_oxum.to_owned()),
            ("Bag-Software-Agent", self.software_agent.clone()),
            ("External-Identifier", self.external_identifier.clone()),
        ];
        if let Some(org) = &self.source_organization {
            fields.push(("Source-Organization", org.clone()));
        }
        fields.push(("Spoor-Export-SHA256", self.export_sha256.to_hex()));
        fields.push(("Spoor-Package-Format", self.package_format.clone()));
        fields.push(("Spoor-Source-Format", self.source_format.clone()));
        bag_info(&fields)
    }
}

/// `bag-info.txt` from label/value pairs, in the order given. Values are
/// single lines (spoor writes no folded values).
fn bag_info(fields: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (label, value) in fields {
        let value = value.replace(['\r', '\n'], " ");
        out.push_str(&format!("{label}: {value}\n"));
    }
    out
}

/// Payload-Oxum (§2.2.2): `<octet count>.<stream count>` of the payload.
pub(crate) fn payload_oxum(octets: u64, streams: u64) -> String {
    format!("{octets}.{streams}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_sorts_and_encodes() {
        let a = Sha256::of(b"a");
        let b = Sha256::of(b"b");
        let text = manifest(&[("data/z%1".to_owned(), a), ("data/a\nb".to_owned(), b)]);
        assert_eq!(text, format!("{b}  data/a%0Ab\n{a}  data/z%251\n"));
    }

    #[test]
    fn bag_info_and_oxum() {
        assert_eq!(payload_oxum(1024, 3), "1024.3");
        assert_eq!(
            bag_info(&[("Payload-Oxum", "1.1".into()), ("X", "a\nb".into())]),
            "Payload-Oxum: 1.1\nX: a b\n"
        );
    }
}
