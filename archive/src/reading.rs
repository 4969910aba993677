//! Reading the archive as people do: which conversations there are, and
//! the messages of one in order, read back from the packages (the
//! catalogue only says where they are). The pages and the terminal view
//! are the `spoor` command's; this is what they read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, Write};

use rusqlite::types::Value as SqlValue;
use spoor_normalize::access::{self, AccessPoint};
use spoor_normalize::{Record, Sha256};

use crate::catalog::{Catalog, IS_CURRENT};
use crate::fsutil::with_path;
use crate::store::Store;
use crate::Error;

/// Which records to read: every filter given must hold.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Conversation ids (any of them).
    pub conversations: Vec<String>,
    /// Record ids (any of them).
    pub records: Vec<String>,
    /// Sender contains this (name or address, case-insensitive).
    pub from: Option<String>,
    /// Sender or a recipient contains this.
    pub participant: Option<String>,
    /// Source format, e.g. `whatsapp/text` (a prefix such as `signal/`
    /// matches every Signal format).
    pub source_format: Option<String>,
    /// From this UTC time on (RFC 3339, or a date).
    pub since: Option<String>,
    /// Before this UTC time (RFC 3339, or a date: that whole day included).
    pub until: Option<String>,
    /// Record kind: `message`, `email`, `system-event`.
    pub kind: Option<String>,
}

impl Selection {
    /// The SQL condition over `records r JOIN packages p` and its values.
    pub(crate) fn condition(&self) -> (String, Vec<SqlValue>) {
        let mut clauses = vec!["1".to_owned()];
        let mut values = Vec::new();
        let mut places = |any: Vec<SqlValue>| {
            let first = values.len() + 1;
            values.extend(any);
            let places: Vec<String> = (first..=values.len()).map(|n| format!("?{n}")).collect();
            places.join(", ")
        };
        if !self.conversations.is_empty() {
            let any = self.conversations.iter().cloned().map(SqlValue::Text);
            let places = places(any.collect());
            clauses.push(format!("coalesce(r.conversation, '') IN ({places})"));
        }
        if !self.records.is_empty() {
            // By the id index, where ids are blobs (a text that is no id
            // matches nothing).
            let any = self.records.iter().map(|id| match Sha256::from_hex(id) {
                Ok(id) => SqlValue::Blob(id.as_bytes().to_vec()),
                Err(_) => SqlValue::Text(id.clone()),
            });
            let places = places(any.collect());
            clauses.push(format!(
                "r.row IN (SELECT row FROM record_ids WHERE id IN ({places}))"
            ));
        }
        let mut add = |clause: &str, value: String| {
            values.push(SqlValue::Text(value));
            clauses.push(clause.replace('?', &format!("?{}", values.len())));
        };
        if let Some(from) = &self.from {
            add("instr(lower(r.sender), lower(?)) > 0", from.clone());
        }
        if let Some(who) = &self.participant {
            add(
                "(instr(lower(r.sender), lower(?)) > 0 OR instr(lower(r.recipients), lower(?)) > 0)",
                who.clone(),
            );
        }
        if let Some(format) = &self.source_format {
            add("substr(p.format, 1, length(?)) = ?", format.clone());
        }
        if let Some(since) = &self.since {
            add("r.time_utc >= ?", since.clone());
        }
        if let Some(until) = &self.until {
            // A bare date means the whole day: compare with the next
            // possible text after it.
            let bound = if until.len() == 10 {
                format!("{until}U")
            } else {
                until.clone()
            };
            add("r.time_utc < ?", bound);
        }
        if let Some(kind) = &self.kind {
            add("r.kind = ?", kind.clone());
        }
        (clauses.join(" AND "), values)
    }
}

/// One conversation, as the index of the reading room lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConversationSummary {
    /// The conversation id (`conversation.id` of its records).
    pub id: String,
    /// Its title, if any record names one.
    pub title: Option<String>,
    /// The source format(s) of its packages, e.g. `whatsapp/text`.
    pub source_format: String,
    /// Senders, most frequent first.
    pub participants: Vec<String>,
    /// UTC time of its first and last dated record.
    pub first: Option<String>,
    /// See `first`.
    pub last: Option<String>,
    /// Records selected.
    pub records: u64,
}

/// One archived record, read back from its package.
#[derive(Clone, Debug)]
pub struct ArchivedRecord {
    /// The record.
    pub record: Record,
    /// The record line exactly as in `records.jsonl`.
    pub line: Vec<u8>,
    /// The package holding it, and its path in the store.
    pub package_id: String,
    /// See `package_id`.
    pub package_path: String,
    /// Its index in the log, when the catalogue knows one.
    pub log_index: Option<u64>,
}

/// The last access point (docs/FORMAT.md §4.4) at or before `line` from
/// the package's list; `None` when the package has none (packages sealed
/// before them) or the best is the start.
fn access_point_before(
    archive: &mut zip::ZipArchive<File>,
    package_id: &str,
    line: u64,
) -> Result<Option<AccessPoint>, String> {
    let Ok(mut entry) = archive.by_name(&format!("{package_id}/{}", access::FILE)) else {
        return Ok(None);
    };
    let mut text = String::new();
    io::Read::read_to_string(&mut entry, &mut text)
        .map_err(|e| format!("{}: {e}", access::FILE))?;
    let points = access::parse(&text).map_err(|why| format!("{}: {why}", access::FILE))?;
    Ok(points
        .into_iter()
        .take_while(|p| p.line <= line)
        .last()
        .filter(|p| p.packed > 0))
}

/// Where the raw data of a deflated entry starts in the zip, and its
/// compressed size.
fn raw_span(archive: &mut zip::ZipArchive<File>, name: &str) -> Result<(u64, u64), String> {
    let entry = archive
        .by_name_raw(name.as_bytes())
        .map_err(|e| format!("{name}: {e}"))?;
    if entry.compression() != zip::CompressionMethod::Deflated {
        return Err(format!("{name}: has access points but is not deflated"));
    }
    let start = entry
        .data_start()
        .ok_or_else(|| format!("{name}: where its data starts is unknown"))?;
    Ok((start, entry.compressed_size()))
}

/// A record line to read: its number, its log index and the record id the
/// catalogue expects there.
struct WantedLine {
    line: u64,
    log_index: Option<u64>,
    id: String,
}

impl Store {
    /// The conversations with selected records, most recent first.
    ///
    /// # Errors
    /// A catalogue that cannot be read.
    pub fn conversations(&self, selection: &Selection) -> Result<Vec<ConversationSummary>, Error> {
        let catalog = self.catalog()?;
        let conn = catalog.connection();
        let (condition, values) = selection.condition();
        let err = |e: rusqlite::Error| Error::Catalog {
            path: "catalog.sqlite".into(),
            reason: e.to_string(),
        };
        let mut statement = conn
            .prepare(&format!(
                "SELECT coalesce(r.conversation, ''), group_concat(DISTINCT p.format), min(r.time_utc), max(r.time_utc), count(*)
                 FROM records r JOIN packages p ON p.id = r.package_id WHERE {condition}
                 GROUP BY coalesce(r.conversation, '') ORDER BY max(r.time_utc) DESC, 1"
            ))
            .map_err(err)?;
        let mut out = statement
            .query_map(rusqlite::params_from_iter(values.iter()), |row| {
                Ok(ConversationSummary {
                    id: row.get(0)?,
                    title: None,
                    source_format: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    participants: Vec::new(),
                    first: row.get(2)?,
                    last: row.get(3)?,
                    records: row.get::<_, i64>(4)?.try_into().unwrap_or(0),
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(err)?;
        let mut senders = conn
            .prepare_cached(
                "SELECT sender, count(*) FROM records WHERE coalesce(conversation, '') = ?1 AND sender IS NOT NULL AND sender != ''
                 GROUP BY sender ORDER BY count(*) DESC, sender LIMIT 12",
            )
            .map_err(err)?;
        for summary in &mut out {
            summary.participants = senders
                .query_map([&summary.id], |row| row.get::<_, String>(0))
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(err)?;
        }
        drop(senders);
        // The title is in the records; one line of each conversation says it.
        for summary in &mut out {
            let selection = Selection {
                conversations: vec![summary.id.clone()],
                ..Selection::default()
            };
            if let Some(first) = self
                .records_where(&catalog, &selection, Some(1))?
                .into_iter()
                .next()
            {
                summary.title = first.record.conversation.title.or(first.record.subject);
            }
        }
        Ok(out)
    }

    /// The selected records, in time order (records without a time keep
    /// their place in their package), read back from the packages.
    ///
    /// # Errors
    /// A catalogue or package that cannot be read, or a record line that
    /// is not where the catalogue says (run `spoor reindex`).
    pub fn records(&self, selection: &Selection) -> Result<Vec<ArchivedRecord>, Error> {
        let records = self.records_where(&self.catalog()?, selection, None)?;
        // An undated record sorts with the dated one before it in its
        // package (a total order, as sorting needs; the sort is stable).
        let mut last = String::new();
        let mut package = String::new();
        let mut keyed: Vec<(String, ArchivedRecord)> = records
            .into_iter()
            .map(|r| {
                if r.package_id != package {
                    package.clone_from(&r.package_id);
                    last.clear();
                }
                if let Some(time) = &r.record.time.utc {
                    last.clone_from(time);
                }
                (last.clone(), r)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let records = keyed.into_iter().map(|(_, r)| r).collect();
        Ok(records)
    }

    fn records_where(
        &self,
        catalog: &Catalog,
        selection: &Selection,
        limit: Option<u32>,
    ) -> Result<Vec<ArchivedRecord>, Error> {
        let (condition, values) = selection.condition();
        let err = |e: rusqlite::Error| Error::Catalog {
            path: "catalog.sqlite".into(),
            reason: e.to_string(),
        };
        let limit = limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
        let mut statement = catalog
            .connection()
            .prepare(&format!(
                "SELECT r.package_id, p.path, r.line, r.log_index, r.id FROM records r JOIN packages p ON p.id = r.package_id
                 WHERE {condition} ORDER BY p.path, r.line{limit}"
            ))
            .map_err(err)?;
        let places = statement
            .query_map(rusqlite::params_from_iter(values.iter()), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(err)?;
        // Each package is read once, in line order.
        let mut by_package: BTreeMap<(String, String), Vec<WantedLine>> = BTreeMap::new();
        for (package_id, path, line, index, id) in places {
            by_package
                .entry((package_id, path))
                .or_default()
                .push(WantedLine {
                    line: u64::try_from(line).unwrap_or(0),
                    log_index: index.and_then(|i| u64::try_from(i).ok()),
                    id,
                });
        }
        let mut out = Vec::new();
        for ((package_id, path), lines) in by_package {
            self.read_lines(&package_id, &path, &lines, &mut out)?;
        }
        Ok(out)
    }

    /// Reads the `wanted` lines (in line order) of one package's
    /// `records.jsonl`, starting at the access point before the first
    /// (docs/FORMAT.md §4.4) when the package has them.
    fn read_lines(
        &self,
        package_id: &str,
        package_path: &str,
        wanted: &[WantedLine],
        out: &mut Vec<ArchivedRecord>,
    ) -> Result<(), Error> {
        let zip_path = self.root.join(package_path);
        let bad = |reason: String| Error::Package {
            path: zip_path.clone(),
            reason,
        };
        let mut archive =
            zip::ZipArchive::new(File::open(&zip_path).map_err(with_path(&zip_path))?)
                .map_err(|e| bad(e.to_string()))?;
        let first = wanted.first().map_or(1, |w| w.line);
        let start = access_point_before(&mut archive, package_id, first).map_err(bad)?;
        let records_name = format!("{package_id}/data/records.jsonl");
        let records: Box<dyn io::Read> = match start {
            None => Box::new(
                archive
                    .by_name(&records_name)
                    .map_err(|e| bad(format!("data/records.jsonl: {e}")))?,
            ),
            Some(point) => {
                let (data_start, compressed) =
                    raw_span(&mut archive, &records_name).map_err(bad)?;
                let at = data_start
                    .checked_add(point.packed)
                    .filter(|_| point.packed < compressed)
                    .ok_or_else(|| {
                        bad(format!(
                            "{}: deflate offset {} is past records.jsonl's {compressed} bytes",
                            access::FILE,
                            point.packed
                        ))
                    })?;
                let mut file = File::open(&zip_path).map_err(with_path(&zip_path))?;
                file.seek(io::SeekFrom::Start(at))
                    .map_err(with_path(&zip_path))?;
                let rest = compressed.saturating_sub(point.packed);
                Box::new(flate2::read::DeflateDecoder::new(BufReader::new(
                    io::Read::take(file, rest),
                )))
            }
        };
        let first_line = start.map_or(1, |p| p.line);
        let mut wanted = wanted.iter().peekable();
        for (number, line) in BufReader::new(records).split(b'\n').enumerate() {
            let Some(want) = wanted.peek() else {
                break;
            };
            let line_number = first_line + number as u64;
            if line_number != want.line {
                continue;
            }
            let line = line.map_err(|e| bad(format!("data/records.jsonl: {e}")))?;
            let record: Record = serde_json::from_slice(&line)
                .map_err(|e| bad(format!("data/records.jsonl line {line_number}: {e}")))?;
            if record.id.as_str() != want.id {
                return Err(bad(format!(
                    "data/records.jsonl line {line_number} holds record {} where the catalogue has {}; run spoor verify, then spoor reindex",
                    record.id.as_str(),
                    want.id
                )));
            }
            out.push(ArchivedRecord {
                record,
                line,
                package_id: package_id.to_owned(),
                package_path: package_path.to_owned(),
                log_index: want.log_index,
            });
            wanted.next();
        }
        if let Some(want) = wanted.next() {
            return Err(bad(format!(
                "data/records.jsonl has no line {}; run spoor reindex",
                want.line
            )));
        }
        Ok(())
    }

    /// Copies the blob `sha256` of the package at `package_path` (as in
    /// [`ArchivedRecord`]) to `to`, checking its hash on the way; returns
    /// its size.
    ///
    /// # Errors
    /// A package that cannot be read, a blob it does not hold, or one
    /// whose bytes do not hash to its name.
    pub fn copy_blob(
        &self,
        package_id: &str,
        package_path: &str,
        sha256: &str,
        to: &mut impl Write,
    ) -> Result<u64, Error> {
        let zip_path = self.root.join(package_path);
        let bad = |reason: String| Error::Package {
            path: zip_path.clone(),
            reason,
        };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("{sha256:?} is not a blob digest")));
        }
        let mut archive =
            zip::ZipArchive::new(File::open(&zip_path).map_err(with_path(&zip_path))?)
                .map_err(|e| bad(e.to_string()))?;
        let name = format!("{package_id}/data/blobs/sha256/{}/{sha256}", &sha256[..2]);
        let blob = archive
            .by_name(&name)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        let mut hashing = spoor_normalize::HashingReader::new(blob);
        let copied = io::copy(&mut hashing, to).map_err(|e| bad(format!("{name}: {e}")))?;
        let (digest, _) = hashing.finish();
        if digest.to_hex() != sha256 {
            return Err(bad(format!("{name}: its bytes do not hash to its name")));
        }
        Ok(copied)
    }
}

/// How search results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best match first (FTS5's bm25); by time when there are no words.
    #[default]
    Relevance,
    /// Oldest first.
    Time,
}

/// A search: words (FTS5 syntax) and/or a selection, and which page of
/// the results.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// The words to find in subject, text and people; none: every
    /// selected record.
    pub words: Option<String>,
    /// Filters that must all hold.
    pub selection: Selection,
    /// The order.
    pub order: SearchOrder,
    /// Most hits returned.
    pub limit: u32,
    /// Hits skipped first (for the next page).
    pub offset: u32,
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SearchHit {
    /// Record id.
    pub id: String,
    /// Package holding it.
    pub package_id: String,
    /// The conversation it belongs to.
    pub conversation: Option<String>,
    /// UTC time, if known.
    pub time_utc: Option<String>,
    /// Sender as `name <address>`.
    pub sender: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// The words around the match, each match between `«` and `»`; null
    /// when searching without words.
    pub snippet: Option<String>,
    /// False when a later version of the same message (Teams) is archived.
    pub current: bool,
}

/// A page of results and how many there are in all.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SearchResults {
    /// Every hit of the query, not only those on this page.
    pub total: u64,
    /// This page's hits.
    pub hits: Vec<SearchHit>,
}

impl Store {
    /// Searches the catalogue.
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed query (FTS5 syntax), or a
    /// catalogue error.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, Error> {
        let catalog = self.catalog()?;
        let (condition, mut values) = query.selection.condition();
        let (from, snippet, order) = match &query.words {
            Some(words) => {
                values.push(SqlValue::Text(words.clone()));
                let from = format!(
                    "records_fts f JOIN records r ON r.row = f.rowid JOIN packages p ON p.id = r.package_id
                     WHERE records_fts MATCH ?{} AND {condition}",
                    values.len()
                );
                let order = match query.order {
                    SearchOrder::Relevance => "bm25(records_fts), r.time_utc, r.id",
                    SearchOrder::Time => "r.time_utc, r.id",
                };
                (from, "snippet(records_fts, -1, '«', '»', '…', 16)", order)
            }
            None => (
                format!("records r JOIN packages p ON p.id = r.package_id WHERE {condition}"),
                "NULL",
                "r.time_utc, r.id",
            ),
        };
        let usage = |e: rusqlite::Error| {
            Error::Usage(format!(
                "search {:?}: {e}",
                query.words.as_deref().unwrap_or("")
            ))
        };
        let conn = catalog.connection();
        let total: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {from}"),
                rusqlite::params_from_iter(values.iter()),
                |row| row.get(0),
            )
            .map_err(usage)?;
        let mut statement = conn
            .prepare(&format!(
                "SELECT r.id, r.package_id, r.conversation, r.time_utc, r.sender, r.subject, {snippet}, {IS_CURRENT}
                 FROM {from} ORDER BY {order} LIMIT {} OFFSET {}",
                query.limit, query.offset
            ))
            .map_err(usage)?;
        let hits = statement
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                Ok(SearchHit {
                    id: r.get(0)?,
                    package_id: r.get(1)?,
                    conversation: r.get(2)?,
                    time_utc: r.get(3)?,
                    sender: r.get(4)?,
                    subject: r.get(5)?,
                    snippet: r.get(6)?,
                    current: r.get(7)?,
                })
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(usage)?;
        Ok(SearchResults {
            total: u64::try_from(total).unwrap_or(0),
            hits,
        })
    }
}
