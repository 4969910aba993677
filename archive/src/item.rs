//! A record's item as its source wrote it, cut from the original kept in
//! its package (FORMAT.md §5.1, §6.1 `locator`): an e-mail's message, a
//! WhatsApp message's lines, a Teams message's or a Signal chat item's
//! JSON. Each is checked against the record's `source.item_sha256`, so
//! what is handed out is provably what the record was made from.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};

use serde_json::Value;
use spoor_ingest::internal::{split_mbox, MboxVariant};
use spoor_normalize::{jcs, Sha256};

use crate::fsutil::with_path;
use crate::reading::ArchivedRecord;
use crate::store::Store;
use crate::Error;

/// Largest original file read whole (a Teams page, a zip export's chat):
/// items of larger files are cut by byte range, streaming.
const MAX_WHOLE: u64 = 256 << 20;

/// A record's source item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceItem {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// A file extension for them: `eml`, `txt` or `json`.
    pub extension: &'static str,
    /// Whether they hash to the record's `source.item_sha256`.
    pub matches_record: bool,
}

impl Store {
    /// A reader of source items (see [`SourceItems::item`]).
    pub fn source_items(&self) -> SourceItems<'_> {
        SourceItems {
            store: self,
            open: None,
        }
    }
}

/// Reads records' source items, keeping the last package open (and the
/// zip export inside it unpacked once), since a disclosure asks for the
/// items of one conversation, and so of one package, in a row.
pub struct SourceItems<'s> {
    store: &'s Store,
    open: Option<OpenPackage>,
}

/// A package opened for its originals.
struct OpenPackage {
    package_id: String,
    zip: zip::ZipArchive<File>,
    /// Its files under `data/original/`.
    originals: Vec<String>,
    /// The zip export among them, copied out once: its name and archive.
    export: Option<(String, zip::ZipArchive<File>)>,
}

impl SourceItems<'_> {
    /// The item `archived` was made from, cut from the original in its
    /// package; `None` where the original does not hold it readably (an
    /// encrypted Signal backup, an item too large to have been kept).
    ///
    /// # Errors
    /// A package that cannot be read.
    pub fn item(&mut self, archived: &ArchivedRecord) -> Result<Option<SourceItem>, Error> {
        let zip_path = self.store.root.join(&archived.package_path);
        let bad = |reason: String| Error::Package {
            path: zip_path.clone(),
            reason,
        };
        if self.open.as_ref().map(|o| o.package_id.as_str()) != Some(&archived.package_id) {
            let zip = zip::ZipArchive::new(File::open(&zip_path).map_err(with_path(&zip_path))?)
                .map_err(|e| bad(e.to_string()))?;
            let prefix = format!("{}/data/original/", archived.package_id);
            let originals = zip
                .file_names()
                .filter_map(Result::ok)
                .filter(|n| n.starts_with(&prefix) && !n.ends_with('/'))
                .map(|n| n.into_owned())
                .collect();
            self.open = Some(OpenPackage {
                package_id: archived.package_id.clone(),
                zip,
                originals,
                export: None,
            });
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        let prefix = format!("{}/data/original/", archived.package_id);
        let record = &archived.record;
        let path = record.source.locator.path.as_deref();
        // The folder export's file, or the one file (maybe a zip holding
        // the item's file).
        let folder_file = path.and_then(|p| {
            open.originals.iter().find(|n| {
                n.strip_prefix(&prefix)
                    .and_then(|rest| rest.split_once('/'))
                    .is_some_and(|(_, inner)| inner == p)
            })
        });
        let (name, inner) = match (folder_file, open.originals.as_slice(), path) {
            (Some(name), _, _) => (name.clone(), None),
            (None, [one], None) => (one.clone(), None),
            (None, [one], Some(entry)) => (one.clone(), Some(entry.to_owned())),
            _ => return Ok(None),
        };
        let cut = match inner {
            None => {
                let mut entry = open
                    .zip
                    .by_name(&name)
                    .map_err(|e| bad(format!("{name}: {e}")))?;
                cut_item(&mut entry, record)
            }
            Some(inner) => {
                if open.export.as_ref().map(|(n, _)| n) != Some(&name) {
                    // A zip export is read from a copy in the store's
                    // private work space, never from /tmp.
                    let work = self.store.work_space();
                    let mut copy = tempfile::tempfile_in(&work).map_err(with_path(&work))?;
                    let mut entry = open
                        .zip
                        .by_name(&name)
                        .map_err(|e| bad(format!("{name}: {e}")))?;
                    io::copy(&mut entry, &mut copy).map_err(|e| bad(format!("{name}: {e}")))?;
                    drop(entry);
                    copy.rewind().map_err(|e| bad(e.to_string()))?;
                    let export =
                        zip::ZipArchive::new(copy).map_err(|e| bad(format!("{name}: {e}")))?;
                    open.export = Some((name.clone(), export));
                }
                let Some((_, export)) = open.export.as_mut() else {
                    return Ok(None);
                };
                let Ok(mut file) = export.by_name(&inner) else {
                    return Ok(None);
                };
                cut_item(&mut file, record)
            }
        };
        let Some((bytes, extension)) = cut.map_err(|e| bad(format!("{name}: {e}")))? else {
            return Ok(None);
        };
        let matches_record = record
            .source
            .item_sha256
            .as_ref()
            .is_some_and(|expected| Sha256::of(&bytes) == *expected);
        Ok(Some(SourceItem {
            bytes,
            extension,
            matches_record,
        }))
    }
}

/// The item's bytes from the file that holds it, as §6.1 defines them per
/// format.
fn cut_item(
    file: &mut impl Read,
    record: &spoor_normalize::Record,
) -> io::Result<Option<(Vec<u8>, &'static str)>> {
    let locator = &record.source.locator;
    let format = record.source.format.as_str();
    if let Some([first, _]) = locator.lines.filter(|_| format.starts_with("signal/")) {
        // A JSON-lines export (Signal's main.jsonl): the line's chat item,
        // or the revision the pointer names, canonical (§15.3).
        let line = BufReader::new(file)
            .split(b'\n')
            .nth(usize::try_from(first.saturating_sub(1)).unwrap_or(usize::MAX))
            .transpose()?;
        let value = line.and_then(|l| serde_json::from_slice::<Value>(&l).ok());
        let item = value.as_ref().and_then(|v| match &locator.pointer {
            Some(pointer) => v.pointer(pointer),
            None => v.get("chatItem"),
        });
        return Ok(item.map(|item| (jcs::to_canonical(item), "json")));
    }
    if let Some(pointer) = locator
        .pointer
        .as_ref()
        .filter(|_| format.starts_with("teams/"))
    {
        // Teams: the message at the JSON pointer, canonical (§14.3).
        let mut whole = Vec::new();
        file.take(MAX_WHOLE).read_to_end(&mut whole)?;
        let page = serde_json::from_slice::<Value>(&whole).ok();
        return Ok(page
            .as_ref()
            .and_then(|p| p.pointer(pointer))
            .map(|v| (jcs::to_canonical(v), "json")));
    }
    let email = format.starts_with("email/");
    let mut bytes = Vec::new();
    match locator.bytes {
        Some([start, end]) => {
            io::copy(&mut file.take(start), &mut io::sink())?;
            file.take(end.saturating_sub(start))
                .read_to_end(&mut bytes)?;
        }
        // A one-message file (.eml, a Maildir file): the whole of it.
        None if email => {
            file.take(MAX_WHOLE).read_to_end(&mut bytes)?;
        }
        None => return Ok(None),
    }
    if format == "email/mbox" {
        let Some(variant) = record
            .extra
            .get("mbox_variant")
            .and_then(Value::as_str)
            .and_then(MboxVariant::from_name)
        else {
            return Ok(None);
        };
        let mut message = None;
        let split = split_mbox(bytes.as_slice(), variant, usize::MAX, |m| {
            message.get_or_insert(m.bytes);
            Ok::<(), io::Error>(())
        });
        return Ok(split.ok().and(message).map(|m| (m, "eml")));
    }
    if email {
        // A byte order mark is not part of the message.
        if bytes.starts_with(b"\xef\xbb\xbf") {
            bytes.drain(..3);
        }
        return Ok(Some((bytes, "eml")));
    }
    Ok(Some((bytes, "txt")))
}
