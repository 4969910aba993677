//! `spoor export disclosure`: what a Woo or FOIA request hands out, in one
//! deterministic zip: the selected conversations as the reading room's
//! pages, each record's source item as the source wrote it (e-mails as
//! `.eml`, chat messages as their lines or JSON), an inventory (CSV and
//! HTML) and one evidence bundle per record. The same selection of the
//! same store gives the same bytes.
//!
//! Redaction is not done here; the inventory's `redaction` column is where
//! a later step (or a person) records what was withheld and why.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use spoor_archive::{Selection, Store};
use spoor_normalize::Sha256;

use crate::reading::{self, write_site};

const INVENTORY_TEMPLATE: &str = include_str!("templates/inventory.html");

/// What the disclosure holds, for the summary.
pub(crate) struct Disclosed {
    pub(crate) zip: PathBuf,
    pub(crate) sha256: Sha256,
    pub(crate) records: usize,
    pub(crate) items: usize,
    pub(crate) items_matching: usize,
}

#[derive(Serialize)]
struct InventoryRow {
    record_id: String,
    time_utc: String,
    sender: String,
    conversation: String,
    kind: String,
    source_format: String,
    record_sha256: String,
    item_file: String,
    item_sha256: String,
    item_matches_record: String,
    in_log: String,
    redaction: String,
}

/// The columns of `inventory.csv`, in order.
const COLUMNS: [&str; 12] = [
    "record_id",
    "time_utc",
    "sender",
    "conversation",
    "kind",
    "source_format",
    "record_sha256",
    "item_file",
    "item_sha256",
    "item_matches_record",
    "in_log",
    "redaction",
];

impl InventoryRow {
    fn cells(&self) -> [&str; 12] {
        [
            &self.record_id,
            &self.time_utc,
            &self.sender,
            &self.conversation,
            &self.kind,
            &self.source_format,
            &self.record_sha256,
            &self.item_file,
            &self.item_sha256,
            &self.item_matches_record,
            &self.in_log,
            &self.redaction,
        ]
    }
}

/// Writes `out/disclosure.zip` for `selection`.
pub(crate) fn export_disclosure(
    store: &Store,
    selection: &Selection,
    out: &Path,
    pubkey: Option<&str>,
) -> anyhow::Result<Disclosed> {
    let zip_path = out.join("disclosure.zip");
    if zip_path.exists() {
        anyhow::bail!(
            "{}: exists already; give another folder",
            zip_path.display()
        );
    }
    fs::create_dir_all(out).with_context(|| format!("{}", out.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".disclosure-")
        .tempdir_in(out)
        .with_context(|| format!("{}", out.display()))?;
    let root = staging.path().join("disclosure");
    // Made from the log as it stands, not from the clock: the same
    // selection of the same store gives the same zip.
    let size = fs::read_to_string(store.root().join("log/checkpoint"))
        .ok()
        .and_then(|c| c.lines().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "0".to_owned());
    let made = format!("from the log at size {size}");
    let site = write_site(store, selection, &root, pubkey, &made)?;

    let records = store.records(selection)?;
    fs::create_dir_all(root.join("items"))?;
    let mut rows = Vec::new();
    let mut items = 0;
    let mut items_matching = 0;
    let mut source_items = store.source_items();
    for archived in &records {
        let record = &archived.record;
        let id = record.id.as_str();
        let item = source_items.item(archived)?;
        let (item_file, item_sha256, matches) = match &item {
            Some(item) => {
                let name = format!("items/{id}.{}", item.extension);
                fs::write(root.join(&name), &item.bytes)?;
                items += 1;
                items_matching += usize::from(item.matches_record);
                (
                    name,
                    Sha256::of(&item.bytes).to_hex(),
                    if item.matches_record { "yes" } else { "NO" },
                )
            }
            None => (String::new(), String::new(), "not in the original"),
        };
        let in_log = root.join(format!("evidence/{id}.json")).exists();
        rows.push(InventoryRow {
            record_id: id.to_owned(),
            time_utc: record.time.utc.clone().unwrap_or_default(),
            sender: record
                .sender
                .as_ref()
                .map(reading::party)
                .unwrap_or_default(),
            conversation: record.conversation.id.clone().unwrap_or_default(),
            kind: reading::kind_name(record),
            source_format: record.source.format.clone(),
            record_sha256: Sha256::of(&archived.line).to_hex(),
            item_file,
            item_sha256,
            item_matches_record: matches.to_owned(),
            in_log: if in_log { "yes" } else { "no" }.to_owned(),
            redaction: String::new(),
        });
    }
    fs::write(root.join("inventory.csv"), inventory_csv(&rows))?;
    let mut env = reading::templates()?;
    env.add_template("inventory.html", INVENTORY_TEMPLATE)?;
    let html = env
        .get_template("inventory.html")?
        .render(minijinja::context! {
            style => reading::STYLE,
            made => &made,
            columns => COLUMNS,
            rows => minijinja::value::Serde(&rows),
        })?;
    fs::write(root.join("inventory.html"), html)?;
    fs::write(root.join("README.txt"), readme(site.records, items, &made))?;

    let sha256 = zip_deterministically(&root, &zip_path)?;
    Ok(Disclosed {
        zip: zip_path,
        sha256,
        records: records.len(),
        items,
        items_matching,
    })
}

/// RFC 4180 CSV. A cell that a spreadsheet would take for a formula
/// (`=`, `+`, `-`, `@`, tab, CR at its start) gets a leading `'`, so
/// archived text never runs as one when the inventory is opened.
fn inventory_csv(rows: &[InventoryRow]) -> String {
    let cell = |text: &str| -> String {
        let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{text}")
        } else {
            text.to_owned()
        };
        if guarded.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", guarded.replace('"', "\"\""))
        } else {
            guarded
        }
    };
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = row.cells().iter().map(|c| cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn readme(records: usize, items: usize, made: &str) -> String {
    format!(
        "Disclosure made by spoor {version} {made}.\r\n\
         \r\n\
         index.html         the conversations, as pages for people (open in a browser)\r\n\
         inventory.csv/html one row per record: id, time, sender, conversation, hashes,\r\n\
         \x20                  and a redaction column for what is withheld and why\r\n\
         items/             each record's item as its source wrote it ({items} of {records});\r\n\
         \x20                  item_matches_record says it hashes to the record's item_sha256\r\n\
         evidence/          one evidence bundle per record (docs/FORMAT.md section 12):\r\n\
         \x20                  spoor verify-proof evidence/ID.json --pubkey LOG-KEY\r\n\
         blobs/             attachments, named by their SHA-256\r\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// Zips `root` (as `disclosure/…`) into `zip_path`: entries sorted by
/// name, fixed times and permissions, deflated. Returns the zip's SHA-256.
fn zip_deterministically(root: &Path, zip_path: &Path) -> anyhow::Result<Sha256> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let base = root.parent().unwrap_or(root);
    let mut names: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            (name, p)
        })
        .collect();
    names.sort();
    let partial = zip_path.with_extension("zip.part");
    let mut zip = zip::ZipWriter::new(
        fs::File::create(&partial).with_context(|| format!("{}", partial.display()))?,
    );
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, path) in names {
        zip.start_file(name, options)?;
        zip.write_all(&fs::read(&path)?)?;
    }
    zip.finish()?.sync_all()?;
    fs::rename(&partial, zip_path)?;
    let (sha256, _) = spoor_normalize::hash_reader(fs::File::open(zip_path)?)?;
    Ok(sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_cells_are_quoted_and_never_formulas() {
        let row = InventoryRow {
            record_id: "ab".into(),
            time_utc: "2024-03-01T09:00:00Z".into(),
            sender: "=HYPERLINK(\"http://x\",\"klik\")".into(),
            conversation: "Müller, Greta".into(),
            kind: "message".into(),
            source_format: "whatsapp/text".into(),
            record_sha256: "00".into(),
            item_file: String::new(),
            item_sha256: String::new(),
            item_matches_record: "yes".into(),
            in_log: "yes".into(),
            redaction: "-withheld".into(),
        };
        let csv = inventory_csv(&[row]);
        let line = csv.lines().nth(1).expect("a row");
        assert_eq!(
            line,
            "ab,2024-03-01T09:00:00Z,\"'=HYPERLINK(\"\"http://x\"\",\"\"klik\"\")\",\"Müller, Greta\",message,whatsapp/text,00,,,yes,yes,'-withheld"
        );
        assert!(csv.ends_with("\r\n"));
    }
}
