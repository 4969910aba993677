//! The reading room: `spoor export html` writes a self-contained static
//! site of the selected conversations (no server, no scripts, nothing
//! fetched from elsewhere), and `spoor show` prints one conversation or
//! record on the terminal. Archived text is data: the pages are made with
//! an auto-escaping template engine (minijinja) and forbid scripts with a
//! Content-Security-Policy; the terminal view neutralises control
//! characters.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;
use spoor_archive::{
    ArchivedRecord, ConversationSummary, Evidence, SearchResults, Selection, Store,
};
use spoor_normalize::{BlobRef, Record};

const BASE_TEMPLATE: &str = include_str!("templates/base.html");
const INDEX_TEMPLATE: &str = include_str!("templates/index.html");
const CONVERSATION_TEMPLATE: &str = include_str!("templates/conversation.html");
pub(crate) const STYLE: &str = include_str!("templates/style.css");

/// Media types shown inline as pictures; every other blob is a download.
const INLINE_IMAGES: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];

/// What the export did, for the summary line.
pub(crate) struct Exported {
    pub(crate) conversations: usize,
    pub(crate) records: usize,
    pub(crate) covered: usize,
    pub(crate) blobs: usize,
}

/// Writes the site for `selection` into `out` (created; must be empty or
/// new). `pubkey` is the log key the messages' coverage is checked
/// against (the store's own when not given, which the index says).
pub(crate) fn export_html(
    store: &Store,
    selection: &Selection,
    out: &Path,
    pubkey: Option<&str>,
) -> anyhow::Result<Exported> {
    let made = spoor_normalize::format_utc(jiff::Timestamp::now());
    write_site(store, selection, out, pubkey, &made)
}

/// [`export_html`], saying in the index when or from what it was `made`.
pub(crate) fn write_site(
    store: &Store,
    selection: &Selection,
    out: &Path,
    pubkey: Option<&str>,
    made: &str,
) -> anyhow::Result<Exported> {
    prepare_out(out)?;
    let (key, own_key) = match pubkey {
        Some(key) => (key.to_owned(), false),
        None => (
            fs::read_to_string(store.root().join("log/public-key"))
                .context("log/public-key")?
                .trim()
                .to_owned(),
            true,
        ),
    };
    let zone = jiff::tz::TimeZone::get(&store.config().default_zone)
        .with_context(|| format!("zone {}", store.config().default_zone))?;
    let mut env = templates()?;
    env.add_template("index.html", INDEX_TEMPLATE)?;
    env.add_template("conversation.html", CONVERSATION_TEMPLATE)?;
    let conversations = store.conversations(selection)?;
    let evidence = store.evidence()?;
    let mut exported = Exported {
        conversations: conversations.len(),
        records: 0,
        covered: 0,
        blobs: 0,
    };
    let mut listed = Vec::new();
    for (n, summary) in conversations.iter().enumerate() {
        let file = format!("c/{:04}.html", n + 1);
        let conversation_selection = Selection {
            conversations: vec![summary.id.clone()],
            ..selection.clone()
        };
        let records = store.records(&conversation_selection)?;
        let mut blobs = BlobCopier::new(store, out);
        let page = conversation_page(&evidence, summary, &records, &zone, &key, out, &mut blobs)?;
        exported.records += page.messages;
        exported.covered += page.covered;
        exported.blobs += blobs.copied;
        let html = env
            .get_template("conversation.html")?
            .render(minijinja::value::Serde(&page))?;
        fs::write(out.join(&file), html)
            .with_context(|| format!("{}", out.join(&file).display()))?;
        listed.push(ListedConversation {
            file,
            title: display_title(summary),
            id: summary.id.clone(),
            source_format: summary.source_format.clone(),
            participants: summary.participants.join(", "),
            period: period(summary, &zone),
            records: summary.records,
        });
    }
    let index = Index {
        style: STYLE,
        store_id: store.config().store_id.clone(),
        zone: store.config().default_zone.clone(),
        made: made.to_owned(),
        own_key,
        key,
        records: exported.records,
        covered: exported.covered,
        conversations: listed,
    };
    fs::write(
        out.join("index.html"),
        env.get_template("index.html")?
            .render(minijinja::value::Serde(&index))?,
    )
    .with_context(|| format!("{}", out.join("index.html").display()))?;
    Ok(exported)
}

/// The template environment with the pages' common frame (`base.html`).
pub(crate) fn templates() -> anyhow::Result<minijinja::Environment<'static>> {
    let mut env = minijinja::Environment::new();
    env.add_template("base.html", BASE_TEMPLATE)?;
    Ok(env)
}

fn prepare_out(out: &Path) -> anyhow::Result<()> {
    if out.exists() && fs::read_dir(out)?.next().is_some() {
        anyhow::bail!("{}: not empty; give a new or empty folder", out.display());
    }
    for dir in ["c", "blobs", "evidence"] {
        fs::create_dir_all(out.join(dir))
            .with_context(|| format!("{}", out.join(dir).display()))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Index {
    style: &'static str,
    store_id: String,
    zone: String,
    made: String,
    own_key: bool,
    key: String,
    records: usize,
    covered: usize,
    conversations: Vec<ListedConversation>,
}

#[derive(Serialize)]
struct ListedConversation {
    file: String,
    title: String,
    id: String,
    source_format: String,
    participants: String,
    period: String,
    records: u64,
}

#[derive(Serialize)]
struct ConversationPage {
    style: &'static str,
    title: String,
    id: String,
    source_format: String,
    zone: String,
    days: Vec<Day>,
    messages: usize,
    covered: usize,
}

#[derive(Serialize)]
struct Day {
    date: String,
    items: Vec<MessageView>,
}

#[derive(Serialize)]
struct MessageView {
    record_id: String,
    kind: String,
    sender: Option<String>,
    /// The sender's address (phone number, account id), on hover.
    sender_address: Option<String>,
    outgoing: bool,
    local_time: String,
    utc: Option<String>,
    time_note: Option<String>,
    subject: Option<String>,
    headers: Vec<(String, String)>,
    text: Option<String>,
    attachments: Vec<AttachmentView>,
    reply_to: Option<ReplyView>,
    reactions: Vec<String>,
    edit_of: Option<String>,
    edited_by: Option<String>,
    deleted: Option<String>,
    flags: Vec<String>,
    covered: bool,
    evidence: Option<String>,
    package_id: String,
}

#[derive(Serialize)]
struct AttachmentView {
    name: String,
    media_type: String,
    size: Option<u64>,
    href: Option<String>,
    image: bool,
    missing: bool,
}

#[derive(Serialize)]
struct ReplyView {
    href: Option<String>,
    excerpt: String,
}

/// Copies each blob once into `blobs/`, named by its digest.
struct BlobCopier<'a> {
    store: &'a Store,
    out: &'a Path,
    copied: usize,
}

impl<'a> BlobCopier<'a> {
    fn new(store: &'a Store, out: &'a Path) -> BlobCopier<'a> {
        BlobCopier {
            store,
            out,
            copied: 0,
        }
    }

    /// The page-relative link to the blob of `blob`, copied if needed.
    fn link(
        &mut self,
        archived: &ArchivedRecord,
        blob: &BlobRef,
    ) -> anyhow::Result<Option<(String, bool)>> {
        let Some(sha256) = blob.sha256.as_ref().map(|d| d.to_hex()) else {
            return Ok(None);
        };
        let sha256 = sha256.as_str();
        let media_type = blob.media_type.as_deref().unwrap_or_default();
        let image = INLINE_IMAGES.iter().find(|(t, _)| *t == media_type);
        // Only known picture types keep an extension a browser renders;
        // everything else is `.bin`, a download, never a page that could
        // run what an archived file carries.
        let name = format!("{sha256}.{}", image.map_or("bin", |(_, ext)| ext));
        let path = self.out.join("blobs").join(&name);
        if !path.exists() {
            let mut file =
                fs::File::create(&path).with_context(|| format!("{}", path.display()))?;
            self.store.copy_blob(
                &archived.package_id,
                &archived.package_path,
                sha256,
                &mut file,
            )?;
            file.sync_all()?;
            self.copied += 1;
        }
        Ok(Some((format!("../blobs/{name}"), image.is_some())))
    }
}

fn conversation_page(
    evidence: &Evidence,
    summary: &ConversationSummary,
    records: &[ArchivedRecord],
    zone: &jiff::tz::TimeZone,
    key: &str,
    out: &Path,
    blobs: &mut BlobCopier<'_>,
) -> anyhow::Result<ConversationPage> {
    // Replies name their target by its source id (or, in Signal, by the
    // sent time that ends it).
    let mut by_source: HashMap<&str, &ArchivedRecord> = HashMap::new();
    let mut by_time: HashMap<&str, &ArchivedRecord> = HashMap::new();
    let mut superseded_by: HashMap<&str, &str> = HashMap::new();
    for r in records {
        if let Some(source_id) = &r.record.links.source_id {
            by_source.insert(source_id, r);
            if let Some((_, tail)) = source_id.rsplit_once('/') {
                by_time.insert(tail, r);
            }
        }
        if let Some(earlier) = r
            .record
            .revision
            .as_ref()
            .and_then(|v| v.supersedes.as_ref())
        {
            superseded_by.insert(earlier.as_str(), r.record.id.as_str());
        }
    }
    let mut days: Vec<Day> = Vec::new();
    let mut covered = 0;
    for archived in records {
        let record = &archived.record;
        let id = record.id.as_str();
        let evidence = write_evidence(evidence, archived, out)?;
        let is_covered = evidence.as_ref().is_some_and(|bundle| {
            spoor_verify::verify_evidence(bundle, key).is_ok_and(|r| r.is_intact())
        });
        covered += usize::from(is_covered);
        let (date, local_time) = local(record, zone);
        let reply_to = record.links.in_reply_to.first().map(|target| {
            let found = by_source
                .get(target.as_str())
                .or_else(|| target.rsplit_once('/').and_then(|(_, t)| by_time.get(t)))
                .or_else(|| by_time.get(target.as_str()));
            let quoted = record
                .extra
                .get("quote")
                .or_else(|| record.extra.get("quoted"))
                .and_then(|q| q.get("text").or_else(|| q.get("preview")))
                .and_then(Value::as_str);
            ReplyView {
                href: found.map(|t| format!("#r-{}", t.record.id.as_str())),
                excerpt: excerpt(
                    found
                        .and_then(|t| t.record.text.as_deref())
                        .or(quoted)
                        .unwrap_or(target),
                ),
            }
        });
        let mut attachments = Vec::new();
        for blob in record
            .bodies
            .iter()
            .filter(|b| b.role != "html")
            .chain(&record.attachments)
        {
            let link = if blob.missing {
                None
            } else {
                blobs.link(archived, blob)?
            };
            attachments.push(AttachmentView {
                name: blob.name.clone().unwrap_or_else(|| blob.role.clone()),
                media_type: blob.media_type.clone().unwrap_or_default(),
                size: blob.size,
                image: link.as_ref().is_some_and(|(_, image)| *image),
                href: link.map(|(href, _)| href),
                missing: blob.missing,
            });
        }
        let view = MessageView {
            record_id: id.to_owned(),
            kind: kind_name(record),
            sender: record
                .sender
                .as_ref()
                .map(|p| p.name.clone().unwrap_or_else(|| party(p))),
            sender_address: record.sender.as_ref().and_then(|p| p.address.clone()),
            outgoing: record.extra.get("direction").and_then(Value::as_str) == Some("outgoing"),
            local_time,
            utc: record.time.utc.clone(),
            time_note: time_note(record),
            subject: record.subject.clone().filter(|_| record_is_email(record)),
            headers: headers(record),
            text: record.text.clone().or_else(|| system_event(record)),
            attachments,
            reply_to,
            reactions: reactions(record),
            edit_of: record
                .revision
                .as_ref()
                .and_then(|r| r.supersedes.as_ref())
                .map(|s| format!("#r-{}", s.as_str())),
            edited_by: superseded_by.get(id).map(|later| format!("#r-{later}")),
            deleted: deletion(record),
            // `deleted` is said by `deleted` above.
            flags: record
                .flags
                .iter()
                .filter(|f| *f != "deleted")
                .cloned()
                .collect(),
            covered: is_covered,
            evidence: evidence.as_ref().map(|_| format!("../evidence/{id}.json")),
            package_id: archived.package_id.clone(),
        };
        match days.last_mut() {
            Some(day) if day.date == date => day.items.push(view),
            _ => days.push(Day {
                date,
                items: vec![view],
            }),
        }
    }
    Ok(ConversationPage {
        style: STYLE,
        title: display_title(summary),
        id: summary.id.clone(),
        source_format: summary.source_format.clone(),
        zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        messages: records.len(),
        covered,
        days,
    })
}

/// Writes `evidence/<id>.json` (the `spoor prove` bundle); `None` when the
/// record has no log entry yet.
fn write_evidence(
    evidence: &Evidence,
    archived: &ArchivedRecord,
    out: &Path,
) -> anyhow::Result<Option<Vec<u8>>> {
    let id = archived.record.id.as_str();
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("record id {id:?} is not hex");
    }
    let bundle = evidence.bundle(archived)?;
    if let Some(bundle) = &bundle {
        fs::write(out.join(format!("evidence/{id}.json")), bundle)?;
    }
    Ok(bundle)
}

fn display_title(summary: &ConversationSummary) -> String {
    summary
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| {
            if summary.participants.is_empty() {
                summary.id.clone()
            } else {
                // Names, without the addresses (account ids) after them.
                let names: Vec<&str> = summary
                    .participants
                    .iter()
                    .map(|p| p.split(" <").next().unwrap_or(p))
                    .collect();
                names.join(", ")
            }
        })
}

fn period(summary: &ConversationSummary, zone: &jiff::tz::TimeZone) -> String {
    let day = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.to_zoned(zone.clone()).date().to_string())
    };
    match (day(&summary.first), day(&summary.last)) {
        (Some(a), Some(b)) if a == b => a,
        (Some(a), Some(b)) => format!("{a} –\n{b}"),
        _ => "undated".to_owned(),
    }
}

/// The day (heading) and clock time in the store's zone.
fn local(record: &Record, zone: &jiff::tz::TimeZone) -> (String, String) {
    match record
        .time
        .utc
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    {
        Some(t) => {
            let local = t.to_zoned(zone.clone());
            (
                local.strftime("%Y-%m-%d, %A").to_string(),
                local.strftime("%H:%M").to_string(),
            )
        }
        None => (
            "Time not known".to_owned(),
            record.time.source_text.clone().unwrap_or_default(),
        ),
    }
}

fn time_note(record: &Record) -> Option<String> {
    if record.time.utc.is_none() {
        return Some(match &record.time.unresolved {
            Some(why) => format!("time not resolved: {why}"),
            None => "no time in the source".to_owned(),
        });
    }
    record.time.ambiguity.as_ref().map(|a| {
        format!(
            "ambiguous local time: {}",
            serde_json::to_string(a).unwrap_or_default()
        )
    })
}

pub(crate) fn kind_name(record: &Record) -> String {
    serde_json::to_value(record.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "message".to_owned())
}

fn record_is_email(record: &Record) -> bool {
    kind_name(record) == "email"
}

pub(crate) fn party(party: &spoor_normalize::Party) -> String {
    match (&party.name, &party.address) {
        (Some(n), Some(a)) if n != a => format!("{n} <{a}>"),
        (Some(n), _) => n.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => "(no name)".to_owned(),
    }
}

/// From, To, Cc of an e-mail, with its date as written.
fn headers(record: &Record) -> Vec<(String, String)> {
    if !record_is_email(record) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(sender) = &record.sender {
        out.push(("From".to_owned(), party(sender)));
    }
    for role in ["to", "cc", "bcc"] {
        let people: Vec<String> = record
            .recipients
            .iter()
            .filter(|r| r.role == role)
            .map(|r| party(&r.party))
            .collect();
        if !people.is_empty() {
            let mut label = role.to_owned();
            label[..1].make_ascii_uppercase();
            out.push((label, people.join(", ")));
        }
    }
    if let Some(date) = &record.time.source_text {
        out.push(("Date".to_owned(), date.clone()));
    }
    out
}

/// Each reaction as "emoji by author".
fn reactions(record: &Record) -> Vec<String> {
    let Some(Value::Array(list)) = record.extra.get("reactions") else {
        return Vec::new();
    };
    list.iter()
        .map(|r| {
            let what = ["emoji", "display_name", "type"]
                .iter()
                .find_map(|k| r.get(*k).and_then(Value::as_str))
                .unwrap_or("reaction");
            let who = r
                .get("author_name")
                .and_then(Value::as_str)
                .or_else(|| r.pointer("/user/name").and_then(Value::as_str))
                .or_else(|| r.get("author").and_then(Value::as_str))
                .or_else(|| r.pointer("/user/id").and_then(Value::as_str))
                .unwrap_or("someone");
            format!("{what} by {who}")
        })
        .collect()
}

/// What a system event without text was, from its type (`group-update`
/// → "group update").
fn system_event(record: &Record) -> Option<String> {
    record
        .extra
        .get("system_event")
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .map(|t| format!("[{}]", t.replace('-', " ")))
}

fn deletion(record: &Record) -> Option<String> {
    let deletion = record.deletion.as_ref();
    if deletion.is_none() && !record.flags.iter().any(|f| f == "deleted") {
        return None;
    }
    let mut text = "deleted".to_owned();
    if let Some(by) = deletion.and_then(|d| d.deleted_by.as_ref()) {
        text.push_str(&format!(" by {}", party(by)));
    }
    if let Some(at) = deletion.and_then(|d| d.deleted_at.as_ref()) {
        text.push_str(&format!(" at {at}"));
    }
    Some(text)
}

fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(90).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// `spoor show`: one record (by id) or one conversation (by id), as text.
pub(crate) fn show(out: &mut impl Write, store: &Store, target: &str) -> anyhow::Result<u8> {
    let zone = jiff::tz::TimeZone::get(&store.config().default_zone)?;
    let by_conversation = Selection {
        conversations: vec![target.to_owned()],
        ..Selection::default()
    };
    let records = store.records(&by_conversation)?;
    if !records.is_empty() {
        let title = store
            .conversations(&by_conversation)?
            .first()
            .map(display_title)
            .unwrap_or_default();
        writeln!(out, "{} — {} records", terminal_safe(&title), records.len())?;
        let mut last_day = String::new();
        for archived in &records {
            let record = &archived.record;
            let (day, time) = local(record, &zone);
            if day != last_day {
                writeln!(out, "\n── {day} ──")?;
                last_day = day;
            }
            let who = record.sender.as_ref().map_or("·".to_owned(), party);
            let mut text = record
                .text
                .clone()
                .or_else(|| record.subject.clone())
                .unwrap_or_default();
            if let Some(gone) = deletion(record) {
                text = format!("[{gone}] {text}");
            }
            writeln!(
                out,
                "{time}  {}: {}  [{}]",
                terminal_safe(&who),
                terminal_safe(&text).replace('\n', "\n       "),
                &record.id.as_str()[..12]
            )?;
        }
        return Ok(0);
    }
    let one = store
        .records(&Selection::default())?
        .into_iter()
        .find(|r| r.record.id.as_str() == target);
    let Some(archived) = one else {
        anyhow::bail!("{target:?} is neither a conversation id nor a record id in this store (see spoor search)");
    };
    let record = &archived.record;
    let (day, time) = local(record, &zone);
    writeln!(out, "record      {}", record.id.as_str())?;
    writeln!(
        out,
        "package     {} ({})",
        archived.package_id, archived.package_path
    )?;
    writeln!(out, "source      {}", record.source.format)?;
    writeln!(
        out,
        "conversation {}",
        terminal_safe(record.conversation.id.as_deref().unwrap_or(""))
    )?;
    writeln!(
        out,
        "time        {day} {time} ({}; UTC {})",
        store.config().default_zone,
        record.time.utc.as_deref().unwrap_or("unknown")
    )?;
    for (name, value) in headers(record) {
        writeln!(out, "{name:<11} {}", terminal_safe(&value))?;
    }
    if let Some(sender) = &record.sender {
        writeln!(out, "sender      {}", terminal_safe(&party(sender)))?;
    }
    if let Some(subject) = &record.subject {
        writeln!(out, "subject     {}", terminal_safe(subject))?;
    }
    if let Some(gone) = deletion(record) {
        writeln!(out, "deleted     {gone}")?;
    }
    for blob in record.bodies.iter().chain(&record.attachments) {
        writeln!(
            out,
            "blob        {} {} ({} bytes)",
            blob.role,
            terminal_safe(blob.name.as_deref().unwrap_or("")),
            blob.size.unwrap_or(0)
        )?;
    }
    writeln!(
        out,
        "\n{}",
        terminal_safe(record.text.as_deref().unwrap_or(""))
    )?;
    writeln!(
        out,
        "\nevidence: spoor prove --store STORE {}",
        record.id.as_str()
    )?;
    Ok(0)
}

/// `spoor search`'s text: how many hits, then each with its time,
/// sender, conversation, subject and the words around the match.
pub(crate) fn print_hits(
    out: &mut impl Write,
    results: &SearchResults,
    words: Option<&str>,
    offset: u32,
) -> anyhow::Result<()> {
    let what = words.map_or_else(|| "the filters given".to_owned(), |w| format!("{w:?}"));
    if results.total == 0 {
        writeln!(out, "no hits for {}", terminal_safe(&what))?;
        return Ok(());
    }
    let shown = results.hits.len() as u64;
    if shown < results.total {
        writeln!(
            out,
            "{} of {} hits for {} (from {}); use --limit / --offset for more",
            grouped(shown),
            grouped(results.total),
            terminal_safe(&what),
            grouped(u64::from(offset) + 1)
        )?;
    } else {
        writeln!(
            out,
            "{} hits for {}",
            grouped(results.total),
            terminal_safe(&what)
        )?;
    }
    for hit in &results.hits {
        writeln!(
            out,
            "\n{}  {}  [{}]{}",
            hit.time_utc.as_deref().unwrap_or("(no time)"),
            terminal_safe(hit.sender.as_deref().unwrap_or("(no sender)")),
            terminal_safe(hit.conversation.as_deref().unwrap_or("")),
            if hit.current {
                ""
            } else {
                "  (superseded by a later version)"
            }
        )?;
        if let Some(subject) = &hit.subject {
            writeln!(out, "  {}", terminal_safe(subject))?;
        }
        if let Some(snippet) = &hit.snippet {
            writeln!(out, "  {}", terminal_safe(&snippet.replace('\n', " ")))?;
        }
        writeln!(out, "  {}", hit.id)?;
    }
    Ok(())
}

/// A count with its thousands grouped, as people read them: `80,213`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Text for a terminal: control characters (escape sequences could
/// rewrite the screen) shown as `\u{…}`, line breaks and tabs kept.
fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(80_213), "80,213");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn terminal_text_keeps_lines_and_shows_controls() {
        assert_eq!(
            terminal_safe("a\tb\nc\u{1b}[2J\u{7}"),
            "a\tb\nc\\u{1b}[2J\\u{7}"
        );
    }
}
