//! The reading room (#20): `spoor export html` opened in a real browser
//! (headless Chromium, installed by .ci/run), and `spoor show`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{fixture, spoor, text, write_zip, TestStore};

/// A PNG of `width` × `height` pixels in two colours, made here (stored
/// deflate blocks, so no compressor is needed).
fn png(width: u32, height: u32) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc(&typed).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            let blue = (x / 8 + y / 8) % 2 == 0;
            raw.extend_from_slice(if blue {
                &[0x2f, 0x7d, 0xe1]
            } else {
                &[0xf2, 0xb1, 0x34]
            });
        }
    }
    let mut zlib = vec![0x78, 0x01];
    for (i, block) in raw.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= raw.len();
        zlib.push(u8::from(last));
        let len = u16::try_from(block.len()).expect("block");
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

const HOSTILE: &str = "<script>document.title='pwned'</script><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";

/// A Dutch Android WhatsApp export (the zip the app shares) with a
/// picture, hostile markup, right-to-left text, emoji, a terminal escape
/// and a long message.
fn whatsapp_export(dir: &Path) -> PathBuf {
    let export = dir.join("WhatsApp-chat met Kade.zip");
    let long = "Lang verslag van het overleg over de kademuur. ".repeat(60);
    let chat = format!(
        "06-06-2024 09:00 - Anne de Vries: Goedemorgen 👋 allemaal\n\
         06-06-2024 09:01 - Bram Jansen: {HOSTILE}\n\
         06-06-2024 09:02 - Samira El Amrani: مرحبا، هل قرأتم المحضر؟\n\
         06-06-2024 09:03 - Anne de Vries: Schets kademuur.png (bestand bijgevoegd)\n\
         Zie de schets\n\
         06-06-2024 09:04 - Bram Jansen: {long}\n\
         07-06-2024 10:00 - Bram Jansen: scherm\u{1b}[2Jweg\n"
    );
    write_zip(
        &export,
        &[
            ("WhatsApp-chat met Kade.txt".to_owned(), chat.into_bytes()),
            ("Schets kademuur.png".to_owned(), png(96, 64)),
        ],
    );
    export
}

/// A store holding the WhatsApp export above and the `fixtures` named.
fn archived_with(fixtures: &[&str]) -> TestStore {
    let t = TestStore::new();
    let mut inputs = vec![whatsapp_export(t.dir.path())];
    inputs.extend(fixtures.iter().map(|f| fixture(f)));
    let paths: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let out = t.run(&paths);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    t
}

/// Headless Chromium as the environment allows it: no sandbox (root),
/// no GPU, no network of its own, a fresh profile.
fn chromium(profile: &Path) -> Command {
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// The DOM of `page` after the browser ran whatever it would run.
fn dom(profile: &Path, page: &Path) -> String {
    let out = chromium(profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stdout.is_empty(),
        "no DOM of {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// Takes a screenshot of `page`; returns the PNG's width and height.
fn screenshot(profile: &Path, page: &Path, png: &Path) -> (u32, u32) {
    let out = chromium(profile)
        .arg("--window-size=900,1200")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = fs::read(png).expect("screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    // A page of text in colours, not a blank or an error page.
    assert!(bytes.len() > 20_000, "{} bytes only", bytes.len());
    (size(16), size(20))
}

/// The index page, with the escaped slashes of its links as slashes.
fn index_text(site: &Path) -> String {
    fs::read_to_string(site.join("index.html"))
        .expect("index")
        .replace("&#x2f;", "/")
}

/// The page of the conversation whose title cell says `title`.
fn page_of(site: &Path, title: &str) -> PathBuf {
    let index = index_text(site);
    let at = index
        .find(&format!(">{title}</a>"))
        .unwrap_or_else(|| panic!("{title} not in the index"));
    let href = index[..at].rsplit("href=\"").next().expect("href");
    site.join(href.split('"').next().expect("quote"))
}

/// The page of the first conversation the index lists with `source_format`.
fn page_of_source(site: &Path, index: &str, source_format: &str) -> PathBuf {
    let before = index.split(source_format).next().expect("split");
    let href = before
        .rsplit("href=\"")
        .next()
        .and_then(|s| s.split('"').next());
    site.join(href.unwrap_or_else(|| panic!("no {source_format} conversation")))
}

/// `spoor export KIND --store STORE --out OUT EXTRA…`.
fn export(kind: &str, store: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "export",
        kind,
        "--store",
        store,
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    spoor(&args)
}

fn articles(dom: &str) -> Vec<&str> {
    dom.split("<article ").skip(1).collect()
}

#[test]
fn r20_every_format_reads_as_a_conversation_in_a_real_browser() {
    let t = archived_with(&[
        "signal/plaintext-export",
        "teams/chat-pages",
        "email/mbox/mboxrd.mbox",
    ]);
    let site = t.path("site");
    let store = t.store.to_str().expect("utf-8");
    let out = export("html", store, &site, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("covered by the signed log"),
        "{}",
        text(&out)
    );
    let profile = t.path("chromium-profile");

    // WhatsApp: every message, in order, escaped, the picture inline.
    let page = page_of(&site, "Kade");
    let whatsapp = dom(&profile, &page);
    let messages = articles(&whatsapp);
    assert_eq!(messages.len(), 6, "{whatsapp}");
    let order = [
        "Goedemorgen",
        "&lt;script&gt;",
        "مرحبا",
        "Zie de schets",
        "Lang verslag",
        "scherm",
    ];
    let mut at = 0;
    for expected in order {
        let found = whatsapp[at..]
            .find(expected)
            .unwrap_or_else(|| panic!("{expected} missing or out of order"));
        at += found;
    }
    // The hostile message is text: no script ran, no element was made.
    assert!(
        !whatsapp.contains("<script"),
        "a script element in the page"
    );
    assert!(
        !whatsapp.contains("data-pwned=\"1\""),
        "an injected handler ran"
    );
    assert!(!whatsapp.contains("<title>pwned"), "an injected script ran");
    assert!(whatsapp.contains("&lt;img src=x onerror="), "{whatsapp}");
    assert!(
        whatsapp.contains("dir=\"auto\""),
        "right-to-left text needs dir=auto"
    );
    assert_eq!(
        whatsapp.matches("class=\"day\"").count(),
        2,
        "two days, two separators"
    );
    assert!(
        whatsapp.contains("<img src=\"../blobs/"),
        "the picture is shown inline: {whatsapp}"
    );
    let picture = whatsapp
        .split("<img src=\"../")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("src");
    assert!(
        site.join(picture).exists(),
        "the picture is copied beside the page"
    );
    for message in &messages {
        assert!(message.contains("in the signed log"), "{message}");
        assert!(
            message.contains("title=\"UTC 2024-06-0"),
            "UTC on hover: {message}"
        );
    }
    // Each message's evidence bundle proves it offline.
    let evidence = messages[0]
        .split("href=\"../evidence/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("evidence link");
    let key = t.store.join("log/public-key");
    let proof = spoor(&[
        "verify-proof",
        site.join("evidence")
            .join(evidence)
            .to_str()
            .expect("utf-8"),
        "--pubkey",
        key.to_str().expect("utf-8"),
    ]);
    assert_eq!(proof.status.code(), Some(0), "{}", text(&proof));

    // Signal: a reply linked to its target, a reaction, both versions of
    // an edited message, a deletion.
    let signal = dom(&profile, &page_of(&site, "Bram Jansen"));
    let reply = signal
        .split("class=\"reply\">Reply to <a href=\"#r-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a linked reply");
    assert!(
        signal.contains(&format!("id=\"r-{reply}\"")),
        "the reply's target is on the page"
    );
    assert!(signal.contains("👍 by Anne de Vries"), "{signal}");
    let group = dom(&profile, &page_of(&site, "Projectgroep Kade"));
    assert!(group.contains("Edited later: <a href=\"#r-"), "{group}");
    assert!(
        group.contains("Edited: this replaces <a href=\"#r-"),
        "{group}"
    );
    assert!(group.contains("Message deleted by Bram Jansen"), "{group}");

    // Teams and e-mail: senders, and an e-mail's subject and headers.
    let index = index_text(&site);
    assert!(
        index.contains("teams/folder") && index.contains("email/mbox"),
        "{index}"
    );
    let teams = page_of_source(&site, &index, "teams/folder");
    let teams_dom = dom(&profile, &teams);
    assert!(articles(&teams_dom).len() >= 3, "{teams_dom}");
    let email = page_of_source(&site, &index, "email/mbox");
    let email_dom = dom(&profile, &email);
    assert!(email_dom.contains("class=\"subject\""), "{email_dom}");
    assert!(email_dom.contains("<dt>From</dt>"), "{email_dom}");

    // A screenshot of each, at the size asked for.
    for (name, page) in [
        ("whatsapp", &page),
        ("signal", &page_of(&site, "Bram Jansen")),
        ("teams", &teams),
        ("email", &email),
    ] {
        let shot = t.path(&format!("{name}.png"));
        assert_eq!(screenshot(&profile, page, &shot), (900, 1200), "{name}");
    }
}

#[test]
fn r20_a_selection_exports_only_what_it_names() {
    let t = TestStore::new();
    let out = t.run(&[
        &fixture("signal/plaintext-export"),
        &fixture("teams/chat-pages"),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", text(&out));
    let store = t.store.to_str().expect("utf-8");
    let site = t.path("site");
    let out = export(
        "html",
        store,
        &site,
        &["--source-format", "signal/", "--from", "bram"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let index = index_text(&site);
    assert!(!index.contains("teams/"), "{index}");
    let pages: Vec<_> = fs::read_dir(site.join("c"))
        .expect("pages")
        .flatten()
        .collect();
    assert!(!pages.is_empty());
    for page in pages {
        let html = fs::read_to_string(page.path()).expect("page");
        for article in articles(&html) {
            assert!(
                article.contains("class=\"sender\"") && article.to_lowercase().contains(">bram"),
                "{article}"
            );
        }
    }
    // A store with nothing archived yet exports an index that says so.
    let empty = TestStore::new();
    let empty_site = empty.path("site");
    let out = export(
        "html",
        empty.store.to_str().expect("utf-8"),
        &empty_site,
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(index_text(&empty_site).contains("No conversations match."));
    // A second export into the same folder is refused, not mixed in.
    let again = export("html", store, &site, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("not empty"), "{}", text(&again));
}

#[test]
fn r20_show_prints_a_conversation_and_a_record_safely() {
    let t = archived_with(&[]);
    let store = t.store.to_str().expect("utf-8");
    let out = spoor(&["show", "--store", store, "whatsapp:Kade"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8(out.stdout).expect("utf-8");
    assert!(shown.starts_with("Kade — 6 records"), "{shown}");
    assert!(shown.contains("── 2024-06-06, Thursday ──"), "{shown}");
    assert!(
        shown.contains("09:00  Anne de Vries: Goedemorgen"),
        "{shown}"
    );
    // A terminal escape in a message is shown, not obeyed.
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("scherm\\u{1b}[2Jweg"), "{shown}");
    let id = shown
        .lines()
        .find(|l| l.contains("Goedemorgen"))
        .and_then(|l| l.rsplit('[').next())
        .map(|s| s.trim_end_matches(']').to_owned())
        .expect("short id");
    let hits = spoor(&["search", "--store", store, "--json", "Goedemorgen"]);
    let doc: serde_json::Value = serde_json::from_slice(&hits.stdout).expect("json");
    let full = doc["hits"][0]["id"].as_str().expect("id").to_owned();
    assert!(full.starts_with(&id));
    let out = spoor(&["show", "--store", store, &full]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("record      {full}")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("sender      Anne de Vries"),
        "{}",
        text(&out)
    );
    let unknown = spoor(&["show", "--store", store, "nothing-like-this"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("neither a conversation id nor a record id"),
        "{}",
        text(&unknown)
    );
}

#[test]
fn r20_search_with_filters_order_pages_and_snippets() {
    let t = archived_with(&["signal/plaintext-export", "email/mbox/mboxrd.mbox"]);
    let store = t.store.to_str().expect("utf-8");
    let search = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["search", "--store", store, "--json"];
        all.extend_from_slice(args);
        let out = spoor(&all);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    // Words: the hit marked in its snippet, the total told.
    let doc = search(&["kademuur"]);
    assert_eq!(doc["schema"], "spoor.search/1");
    assert!(doc["total"].as_u64().expect("total") >= 2, "{doc}");
    let snippets: Vec<&str> = doc["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["snippet"].as_str())
        .collect();
    assert!(
        snippets.iter().all(|s| s.contains("«kademuur»")),
        "{snippets:?}"
    );
    // Filters narrow: only WhatsApp, only Bram.
    let doc = search(&["--source-format", "whatsapp/", "--from", "bram", "kademuur"]);
    assert_eq!(doc["total"], 1, "{doc}");
    assert_eq!(doc["hits"][0]["conversation"], "whatsapp:Kade");
    // Without words: every record the filters select, by time; a page.
    let all = search(&["--conversation", "whatsapp:Kade", "--sort", "time"]);
    assert_eq!(all["total"], 6, "{all}");
    let page = search(&[
        "--conversation",
        "whatsapp:Kade",
        "--limit",
        "2",
        "--offset",
        "2",
    ]);
    assert_eq!(page["total"], 6);
    assert_eq!(page["hits"][0]["id"], all["hits"][2]["id"]);
    assert_eq!(page["hits"].as_array().map(Vec::len), Some(2));
    let day = search(&["--conversation", "whatsapp:Kade", "--since", "2024-06-07"]);
    assert_eq!(day["total"], 1, "{day}");
    let before = search(&["--conversation", "whatsapp:Kade", "--until", "2024-06-06"]);
    assert_eq!(before["total"], 5, "{before}");
    assert_eq!(
        search(&["--kind", "email"])["total"],
        search(&["--source-format", "email/"])["total"]
    );
    // For people: the count and the page, or "no hits" plainly.
    let out = spoor(&[
        "search",
        "--store",
        store,
        "--conversation",
        "whatsapp:Kade",
        "--limit",
        "2",
    ]);
    assert!(
        text(&out).starts_with(
            "2 of 6 hits for the filters given (from 1); use --limit / --offset for more"
        ),
        "{}",
        text(&out)
    );
    let out = spoor(&["search", "--store", store, "qqqzzz"]);
    assert_eq!(text(&out).trim(), "no hits for \"qqqzzz\"");
    let out = spoor(&["search", "--store", store, "--json", "qqqzzz"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (doc["result"].as_str(), doc["total"].as_u64()),
        (Some("no-hits"), Some(0))
    );
    // A query FTS5 cannot read is a usage error, said as such.
    let out = spoor(&["search", "--store", store, "\"unclosed"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn r20_disclosure_is_one_deterministic_zip_of_pages_items_inventory_and_evidence() {
    let t = archived_with(&[
        "email/mbox/mboxrd.mbox",
        "email/mbox/thunderbird.mbox",
        "email/maildir/inbox",
        "email/eml/bom.eml",
        "teams/chat-pages",
        "signal/plaintext-export",
    ]);
    let store = t.store.to_str().expect("utf-8");
    let disclose = |dir: &str, extra: &[&str]| {
        let out_dir = t.path(dir);
        let out = export("disclosure", store, &out_dir, extra);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        (text(&out), out_dir.join("disclosure.zip"))
    };
    let (said, first) = disclose("one", &[]);
    let (_, second) = disclose("two", &[]);
    assert_eq!(
        fs::read(&first).expect("zip"),
        fs::read(&second).expect("zip"),
        "not deterministic"
    );
    let records: i64 = rusqlite::Connection::open(t.store.join("catalog.sqlite"))
        .and_then(|db| db.query_row("SELECT count(*) FROM records", [], |r| r.get(0)))
        .expect("count");
    assert!(
        said.contains(&format!(
            "{records} records, {records} source items ({records} match"
        )),
        "{said}"
    );

    let entries = crate::util::read_zip(&first);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "entries in name order");
    assert!(names.iter().all(|n| n.starts_with("disclosure/")));
    for expected in [
        "disclosure/index.html",
        "disclosure/inventory.csv",
        "disclosure/inventory.html",
        "disclosure/README.txt",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let csv =
        String::from_utf8(crate::util::entry(&entries, "inventory.csv").to_vec()).expect("utf-8");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("record_id,time_utc,sender,conversation,kind,source_format,record_sha256,item_file,item_sha256,item_matches_record,in_log,redaction"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as i64, records);
    // Each item file hashes to the inventory's item_sha256, and is what
    // its source wrote: the mbox message un-quoted, the WhatsApp lines.
    for row in &rows {
        let id = &row[..64];
        let item = entries
            .iter()
            .find(|(n, _)| n.starts_with(&format!("disclosure/items/{id}.")))
            .unwrap_or_else(|| panic!("no item for {id}"));
        assert!(row.contains(&crate::util::sha256_hex(&item.1)), "{row}");
        assert!(row.ends_with(",yes,yes,"), "{row}");
        assert!(names.contains(&format!("disclosure/evidence/{id}.json").as_str()));
    }
    let hostile = entries
        .iter()
        .find(|(n, b)| {
            n.ends_with(".txt")
                && n.contains("/items/")
                && String::from_utf8_lossy(b).contains("<script>")
        })
        .expect("the WhatsApp item");
    assert!(
        String::from_utf8_lossy(&hostile.1).starts_with("06-06-2024 09:01 - Bram Jansen: <script>")
    );
    let emails = names.iter().filter(|n| n.ends_with(".eml")).count();
    assert!(emails >= 4, "{names:?}");

    // A selection discloses only itself; a zip already there is kept.
    let (said, _) = disclose("kade", &["--conversation", "whatsapp:Kade"]);
    assert!(
        said.contains("6 records, 6 source items (6 match"),
        "{said}"
    );
    let again = export("disclosure", store, &t.path("kade"), &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
}
