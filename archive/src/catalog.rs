//! The SQLite catalogue (`STORE/catalog.sqlite`): an index of intake
//! receipts, packages and records with full-text search. It is never the
//! truth: everything in it is rebuilt from the packages and receipts.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::de::IgnoredAny;
use serde_json::Value;
use spoor_normalize::layout::{ExportShape, IntakeReceipt};
use spoor_normalize::{catalogue, Sha256};

use crate::fsutil::with_path;
use crate::stage::KnownRecords;
use crate::Error;

/// Record rows are keyed by `row` = package number × 2³² + line, so a
/// package's rows are one range and are appended in order; ids and hashes
/// are 32-byte blobs. The id index (`record_ids`) is filled once per
/// package in id order: inserted row by row, its random keys touched a
/// random page each, and a run slowed as the store grew (#21). The view
/// `records` gives the rows as FORMAT §9 describes them.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sources(
    sha256 TEXT NOT NULL, receipt TEXT PRIMARY KEY, name TEXT, size INTEGER,
    kind TEXT, received_at TEXT, package_id TEXT);
CREATE INDEX IF NOT EXISTS sources_sha256 ON sources(sha256);
CREATE TABLE IF NOT EXISTS packages(
    number INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, path TEXT NOT NULL,
    export_sha256 TEXT NOT NULL, format TEXT, records INTEGER, quarantined INTEGER,
    known INTEGER, log_index INTEGER, first_log_index INTEGER);
CREATE TABLE IF NOT EXISTS record_rows(
    row INTEGER PRIMARY KEY, id BLOB NOT NULL, hash BLOB NOT NULL,
    kind TEXT, sender TEXT, recipients TEXT, time_utc TEXT, conversation TEXT, subject TEXT,
    version_of TEXT, version_time TEXT);
CREATE TABLE IF NOT EXISTS record_ids(id BLOB PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_rows_version ON record_rows(version_of, version_time)
    WHERE version_of IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5(subject, text, people);
CREATE VIEW IF NOT EXISTS records AS SELECT
    lower(hex(r.id)) AS id, lower(hex(r.hash)) AS hash, p.id AS package_id,
    r.row & 4294967295 AS line, r.kind, r.sender, r.recipients, r.time_utc,
    r.conversation, r.subject, p.first_log_index + (r.row & 4294967295) - 1 AS log_index,
    r.version_of, r.version_time, r.row
    FROM record_rows r JOIN packages p ON p.number = r.row >> 32
    AND r.row BETWEEN p.number << 32 AND (p.number << 32) + 4294967295;
CREATE VIEW IF NOT EXISTS version_chain AS
    SELECT r.id, r.version_of, r.version_time, (
        SELECT s.id FROM records s WHERE s.version_of = r.version_of
        AND (s.version_time < r.version_time OR (s.version_time = r.version_time AND s.id < r.id))
        ORDER BY s.version_time DESC, s.id DESC LIMIT 1) AS previous_id
    FROM records r WHERE r.version_of IS NOT NULL;
CREATE VIEW IF NOT EXISTS current_versions AS
    SELECT r.version_of, r.id, r.version_time FROM records r
    WHERE r.version_of IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM records s WHERE s.version_of = r.version_of
        AND (s.version_time > r.version_time OR (s.version_time = r.version_time AND s.id > r.id)));
";

/// SQL true when record `r` (of the view `records`) is current: not
/// versioned, or its latest version.
pub(crate) const IS_CURRENT: &str = "(r.version_of IS NULL OR NOT EXISTS (
    SELECT 1 FROM records s WHERE s.version_of = r.version_of
    AND (s.version_time > r.version_time OR (s.version_time = r.version_time AND s.id > r.id))))";

/// Where one package's entries are in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoggedPackage {
    pub(crate) package_id: String,
    /// Index of its first record entry (its records follow in line order).
    pub(crate) first_record: u64,
    /// Index of its `package` entry.
    pub(crate) package_entry: u64,
}

/// Where a package is and the bytes of its `package.json`.
pub(crate) struct PackageContents<'a> {
    pub(crate) package_id: &'a str,
    /// The package file, relative to the store.
    pub(crate) relative: &'a str,
    pub(crate) package_json: &'a [u8],
}

pub(crate) struct Catalog {
    conn: Connection,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Catalog {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

impl Catalog {
    pub(crate) fn open(path: &Path) -> Result<Catalog, Error> {
        let conn = Connection::open(path).map_err(db_err(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err(path))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err(path))?;
        // A package's rows go in one transaction; with SQLite's default
        // 2 MB page cache its dirty pages spill to the WAL mid-transaction
        // and are read back (#21). 16 MiB: a 14 MB chat's run 4.0-4.5 s ->
        // 3.4-3.5 s (+14 MB peak); a 100 MB chat's 33-35 s -> 32-33 s, peak
        // unchanged (docs/PERFORMANCE.md); 32 and 64 MiB gained no more.
        conn.pragma_update(None, "cache_size", -16_384)
            .map_err(db_err(path))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_err(path))?;
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(db_err(path))?;
        if version != catalogue::FORMAT && objects > 0 {
            return Err(Error::Catalog {
                path: path.to_owned(),
                reason: format!(
                    "catalogue format {version}, where this spoor reads format {}; it is an index only: rebuild it with `spoor reindex`",
                    catalogue::FORMAT
                ),
            });
        }
        if objects == 0 {
            // One transaction: the tables and their format number, or nothing.
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA} PRAGMA user_version = {}; COMMIT;",
                catalogue::FORMAT
            ))
            .map_err(db_err(path))?;
        }
        Ok(Catalog { conn })
    }

    /// Removes the catalogue at `path`, whatever its format, and creates an
    /// empty one (for a rebuild; the caller holds the store lock).
    pub(crate) fn create_empty(path: &Path) -> Result<Catalog, Error> {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = PathBuf::from(file);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(with_path(&file)(e)),
            }
        }
        Catalog::open(path)
    }

    /// Opens the catalogue read-only, fixed at this moment: a read
    /// transaction is held until the connection is dropped, so later
    /// commits of this process are not seen (SQLite WAL snapshot).
    pub(crate) fn open_snapshot(path: &Path) -> Result<Catalog, Error> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err(path))?;
        conn.execute_batch("BEGIN; SELECT count(*) FROM packages;")
            .map_err(db_err(path))?;
        Ok(Catalog { conn })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        |e| Error::Catalog {
            path: self.conn.path().unwrap_or("catalog.sqlite").into(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Packages sealed whose `package` log entry the catalogue does not know,
    /// as (id, path), oldest path first.
    pub(crate) fn unlogged_packages(&self) -> Result<Vec<(String, String)>, Error> {
        let mut statement = self
            .conn
            .prepare("SELECT id, path FROM packages WHERE log_index IS NULL ORDER BY path, id")
            .map_err(self.err())?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// The store-relative path of the first intake receipt naming a package.
    pub(crate) fn receipt_of(&self, package_id: &str) -> Result<Option<String>, Error> {
        self.conn
            .query_row(
                "SELECT receipt FROM sources WHERE package_id = ?1 ORDER BY received_at, receipt LIMIT 1",
                [package_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Records where each package's entries are in the log: its `package`
    /// entry, and its record entries, which are the package's records in
    /// line order from `first_record` on.
    pub(crate) fn set_log_indexes(&mut self, logged: &[LoggedPackage]) -> Result<(), Error> {
        let place = PathBuf::from(self.conn.path().unwrap_or("catalog.sqlite"));
        let tx = self.conn.transaction().map_err(db_err(&place))?;
        {
            let mut package = tx
                .prepare("UPDATE packages SET log_index = ?2, first_log_index = ?3 WHERE id = ?1")
                .map_err(db_err(&place))?;
            let index = |i: u64| {
                i64::try_from(i).map_err(|_| Error::Catalog {
                    path: place.clone(),
                    reason: format!("log index {i} does not fit SQLite's integers"),
                })
            };
            for logged in logged {
                package
                    .execute(params![
                        logged.package_id,
                        index(logged.package_entry)?,
                        index(logged.first_record)?
                    ])
                    .map_err(db_err(&place))?;
            }
        }
        tx.commit().map_err(db_err(&place))
    }

    /// Moves everything from the write-ahead log into the database file, so
    /// a copy of `catalog.sqlite` alone is complete.
    pub(crate) fn checkpoint_wal(&self) -> Result<(), Error> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.err())
    }

    /// The stored path of a package, if the catalogue knows it.
    pub(crate) fn package_path(&self, package_id: &str) -> Result<Option<String>, Error> {
        self.conn
            .query_row(
                "SELECT path FROM packages WHERE id = ?1",
                [package_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Indexes an intake receipt.
    pub(crate) fn index_receipt(
        &mut self,
        relative: &str,
        receipt: &IntakeReceipt,
    ) -> Result<(), Error> {
        let kind = match receipt.kind {
            ExportShape::File => "file",
            ExportShape::Folder => "folder",
        };
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sources(sha256, receipt, name, size, kind, received_at, package_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    receipt.sha256,
                    relative,
                    receipt.name,
                    i64::try_from(receipt.size).ok(),
                    kind,
                    receipt.received_at,
                    receipt.package_id,
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Indexes one sealed package by reading its `package.json` and
    /// `records.jsonl` back from the zip (for a rebuild).
    pub(crate) fn index_package(&mut self, zip_path: &Path, relative: &str) -> Result<u64, Error> {
        let bad = |reason: String| Error::Package {
            path: zip_path.to_owned(),
            reason,
        };
        let file = File::open(zip_path).map_err(with_path(zip_path))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        let package_id = zip_path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| bad("package file name is not UTF-8".to_owned()))?
            .to_owned();
        let mut package_json = Vec::new();
        archive
            .by_name(&format!("{package_id}/data/package.json"))
            .map_err(|e| bad(format!("data/package.json: {e}")))?
            .read_to_end(&mut package_json)
            .map_err(|e| bad(format!("data/package.json: {e}")))?;
        let contents = PackageContents {
            package_id: &package_id,
            relative,
            package_json: &package_json,
        };
        let records = archive
            .by_name(&format!("{package_id}/data/records.jsonl"))
            .map_err(|e| bad(format!("data/records.jsonl: {e}")))?;
        let mut records = BufReader::new(records);
        let indexed = self.index_contents(zip_path, &contents, &mut records, || true)?;
        Ok(indexed)
    }

    /// Indexes a package from its `package.json` bytes and its
    /// `records.jsonl`, in one transaction that is committed only when
    /// `commit` says so (a run indexes while it seals, and commits once the
    /// package is in place). Returns the records indexed.
    pub(crate) fn index_contents(
        &mut self,
        place: &Path,
        contents: &PackageContents<'_>,
        records: &mut dyn BufRead,
        commit: impl FnOnce() -> bool,
    ) -> Result<u64, Error> {
        let bad = |reason: String| Error::Package {
            path: place.to_owned(),
            reason,
        };
        let package_id = contents.package_id;
        let package_json: Value = serde_json::from_slice(contents.package_json)
            .map_err(|e| bad(format!("data/package.json: {e}")))?;
        let count = |k: &str| {
            package_json
                .pointer(&format!("/counts/{k}"))
                .and_then(Value::as_i64)
        };
        let tx = self.conn.transaction().map_err(db_err(place))?;
        // Indexed again, a package keeps its number (and loses its rows and
        // its place in the log until they are noted again).
        let number: i64 = tx
            .query_row(
                "INSERT INTO packages(id, path, export_sha256, format, records, quarantined, known)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET path = excluded.path,
                    export_sha256 = excluded.export_sha256, format = excluded.format,
                    records = excluded.records, quarantined = excluded.quarantined,
                    known = excluded.known, log_index = NULL, first_log_index = NULL
                 RETURNING number",
                params![
                    package_id,
                    contents.relative,
                    package_json
                        .pointer("/export/sha256")
                        .and_then(Value::as_str),
                    package_json.get("source_format").and_then(Value::as_str),
                    count("records"),
                    count("quarantined"),
                    count("known"),
                ],
                |r| r.get(0),
            )
            .map_err(db_err(place))?;
        let rows = catalogue::package_rows(number).ok_or_else(|| Error::Catalog {
            path: place.to_owned(),
            reason: format!("package number {number} is past the catalogue's range"),
        })?;
        tx.execute(
            "DELETE FROM record_ids WHERE id IN (SELECT id FROM record_rows WHERE row BETWEEN ?1 AND ?2)
             AND row BETWEEN ?1 AND ?2",
            params![rows.start(), rows.end()],
        )
        .map_err(db_err(place))?;
        tx.execute(
            "DELETE FROM records_fts WHERE rowid BETWEEN ?1 AND ?2",
            params![rows.start(), rows.end()],
        )
        .map_err(db_err(place))?;
        tx.execute(
            "DELETE FROM record_rows WHERE row BETWEEN ?1 AND ?2",
            params![rows.start(), rows.end()],
        )
        .map_err(db_err(place))?;
        let mut indexed = 0u64;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO record_rows(row, id, hash, kind, sender, recipients, time_utc, conversation, subject, version_of, version_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(db_err(place))?;
            let mut fts = tx
                .prepare(
                    "INSERT INTO records_fts(rowid, subject, text, people) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db_err(place))?;
            for (index, line) in records.split(b'\n').enumerate() {
                let at = || format!("data/records.jsonl line {}", index + 1);
                let line = line.map_err(|e| bad(format!("{}: {e}", at())))?;
                let record: Indexed<'_> =
                    serde_json::from_slice(&line).map_err(|e| bad(format!("{}: {e}", at())))?;
                let id = Sha256::from_hex(&record.id)
                    .map_err(|e| bad(format!("{}: record id: {e}", at())))?;
                let row = i64::try_from(index + 1)
                    .ok()
                    .and_then(|line| rows.start().checked_add(line))
                    .filter(|row| row <= rows.end())
                    .ok_or_else(|| {
                        bad(format!("{}: past the catalogue's lines per package", at()))
                    })?;
                let sender = record.sender.as_ref().map(IndexedParty::display);
                let recipients = record
                    .recipients
                    .iter()
                    .map(|r| r.party.display())
                    .collect::<Vec<_>>()
                    .join(", ");
                // A versioned message (Teams) is one identity across records.
                let version_of =
                    record
                        .revision
                        .and(record.links.source_id.as_ref())
                        .map(|source_id| {
                            format!(
                                "{}/{source_id}",
                                record.conversation.id.as_deref().unwrap_or("")
                            )
                        });
                let version_time = version_of.as_ref().and_then(|_| {
                    record
                        .extra
                        .last_modified
                        .as_ref()
                        .and_then(Value::as_str)
                        .or(record.time.utc.as_deref())
                });
                insert
                    .execute(params![
                        row,
                        &id.as_bytes()[..],
                        &Sha256::of(&line).as_bytes()[..],
                        record.kind,
                        sender,
                        recipients,
                        record.time.utc,
                        record.conversation.id,
                        record.subject,
                        version_of,
                        version_time,
                    ])
                    .map_err(db_err(place))?;
                let people = format!("{} {}", sender.unwrap_or_default(), recipients);
                fts.execute(params![row, record.subject, record.text, people])
                    .map_err(db_err(place))?;
                indexed += 1;
            }
        }
        // In id order, so the index is written page after page; an id
        // met before (in another package) keeps pointing at its first row.
        tx.execute(
            "INSERT OR IGNORE INTO record_ids(id, row)
             SELECT id, row FROM record_rows WHERE row BETWEEN ?1 AND ?2 ORDER BY id",
            params![rows.start(), rows.end()],
        )
        .map_err(db_err(place))?;
        if commit() {
            tx.commit().map_err(db_err(place))?;
        }
        Ok(indexed)
    }
}

impl KnownRecords for Catalog {
    fn contains(&mut self, id: &str) -> std::io::Result<bool> {
        let Ok(id) = Sha256::from_hex(id) else {
            return Ok(false);
        };
        self.conn
            .prepare_cached("SELECT 1 FROM record_ids WHERE id = ?1")
            .and_then(|mut query| query.exists([&id.as_bytes()[..]]))
            .map_err(std::io::Error::other)
    }
}

/// The fields of a record line the catalogue keeps, borrowed from the line
/// where they need no unescaping; the rest is skipped unread (reading each
/// line as a whole `Record` was a third of the catalogue's time, #21).
/// Names as in `spoor_normalize::Record`.
#[derive(serde::Deserialize)]
struct Indexed<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    conversation: IndexedConversation<'a>,
    #[serde(borrow)]
    sender: Option<IndexedParty<'a>>,
    #[serde(borrow)]
    recipients: Vec<IndexedRecipient<'a>>,
    #[serde(borrow)]
    time: IndexedTime<'a>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    links: IndexedLinks<'a>,
    revision: Option<IgnoredAny>,
    extra: IndexedExtra,
}

#[derive(serde::Deserialize)]
struct IndexedConversation<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct IndexedParty<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    address: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct IndexedRecipient<'a> {
    #[serde(borrow)]
    party: IndexedParty<'a>,
}

#[derive(serde::Deserialize)]
struct IndexedTime<'a> {
    #[serde(borrow)]
    utc: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct IndexedLinks<'a> {
    #[serde(borrow)]
    source_id: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct IndexedExtra {
    last_modified: Option<Value>,
}

impl IndexedParty<'_> {
    /// `Name <address>`, or whichever of the two there is.
    fn display(&self) -> String {
        match (&self.name, &self.address) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (Some(n), None) => n.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => String::new(),
        }
    }
}
