//! Microsoft Teams Graph JSON: the hand-written fixtures in
//! `fixtures/teams/` read and checked field by field.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use spoor_ingest::ReadSummary;
use spoor_normalize::{Record, RecordKind, Sha256};

use common::Collected;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/teams")
        .join(rel)
}

fn read(rel: &str) -> (ReadSummary, Collected) {
    common::read(&fixture(rel))
}

fn at<'a>(records: &'a [Record], path: &str, pointer: &str) -> &'a Record {
    records
        .iter()
        .find(|r| {
            r.source.locator.path.as_deref() == Some(path)
                && r.source.locator.pointer.as_deref() == Some(pointer)
        })
        .unwrap_or_else(|| panic!("no record at {path}#{pointer}"))
}

fn system_type(record: &Record) -> &Value {
    &record.extra["system_event"]["type"]
}

const CHAT: &str = "chat:19:0a1b2c3d4e5f60718293a4b5c6d7e8f9@thread.v2";

#[test]
fn two_overlapping_pages_of_one_chat() {
    let (summary, c) = read("chat-pages");
    assert_eq!(summary.format, "teams/folder");
    assert_eq!((c.records.len(), c.quarantined.len()), (14, 0));
    assert!(summary
        .decisions
        .iter()
        .any(|d| d["decision"] == "teams-next-page"));
    let r = &c.records;

    // The message repeated on both pages, same version: one id.
    let a = at(r, "page-1.json", "/value/7");
    let b = at(r, "page-2.json", "/value/0");
    assert_eq!(a.id, b.id);
    assert_eq!(a.links.source_id.as_deref(), Some("1709284000000"));
    assert_eq!(a.conversation.id.as_deref(), Some(CHAT));

    // Two versions of an edited message: two ids, one identity.
    let v2 = at(r, "page-1.json", "/value/3");
    let v1 = at(r, "page-2.json", "/value/3");
    assert_ne!(v1.id, v2.id);
    assert_eq!(v1.links.source_id, v2.links.source_id);
    assert_eq!(
        v2.text.as_deref(),
        Some("Besluit: we kiezen optie B & plannen de uitvoering.")
    );
    assert_eq!(v1.text.as_deref(), Some("Besluit: we kiezen optie A."));
    let revision = v2.revision.as_ref().expect("revision");
    assert_eq!(revision.version.as_deref(), Some("1709287200000"));
    assert_eq!(revision.edited_at.as_deref(), Some("2024-03-01T10:00:00Z"));
    assert!(v2.flags.contains(&"edited".to_owned()));
    assert_eq!(v2.extra["last_modified"], "2024-03-01T10:00:00Z");
    let sender = v2.sender.as_ref().expect("sender");
    assert_eq!(sender.name.as_deref(), Some("Anne de Vries"));
    assert_eq!(
        sender.address.as_deref(),
        Some("a1000000-0000-4000-8000-000000000001")
    );
    assert_eq!(sender.address_type.as_deref(), Some("aad"));
    assert_eq!(v2.extra["sender_identity_type"], "aadUser");
    assert_eq!(v2.time.utc.as_deref(), Some("2024-03-01T09:00:00Z"));
    assert_eq!(
        v2.time.source_text.as_deref(),
        Some("2024-03-01T09:00:00.000Z")
    );
    // The raw HTML body is kept as a blob.
    let body = &v2.bodies[0];
    assert_eq!(
        (body.role.as_str(), body.media_type.as_deref()),
        ("html", Some("text/html"))
    );
    let html = "<p>Besluit: we kiezen <strong>optie B</strong> &amp; plannen de uitvoering.</p>";
    assert_eq!(body.sha256, Some(Sha256::of(html.as_bytes())));

    // Deleted: an event on the message's identity, without a body.
    let deleted = at(r, "page-1.json", "/value/2");
    assert_eq!(
        deleted
            .deletion
            .as_ref()
            .and_then(|d| d.deleted_at.as_deref()),
        Some("2024-03-01T10:46:40Z")
    );
    assert_eq!(deleted.text, None);
    assert!(deleted.flags.contains(&"deleted".to_owned()));

    // The HTML rule: mentions as text, emoji as their alt, NBSP and raw
    // CR/LF as spaces, <br> and closing blocks as line breaks, empty
    // paragraphs collapsed.
    let mention = at(r, "page-2.json", "/value/2");
    assert_eq!(
        mention.text.as_deref(),
        Some("Sanne de Wit kun je hiernaar kijken? 👍\nTweede regel 😀\n\npunt een\npunt twee")
    );
    assert_eq!(mention.extra["importance"], "high");
    assert_eq!(
        mention.extra["mentions"][0]["target_id"],
        "c3000000-0000-4000-8000-000000000003"
    );
    assert_eq!(mention.extra["mentions"][0]["text"], "Sanne de Wit");
    assert_eq!(mention.extra["reactions"][0]["type"], "like");
    assert_eq!(
        mention.extra["reactions"][0]["time"],
        "2024-03-01T09:03:20Z"
    );
    assert_eq!(
        mention.extra["reactions"][0]["user"]["id"],
        "c3000000-0000-4000-8000-000000000003"
    );

    // A \u-escaped surrogate pair, and inline images: one delivered in
    // hostedContents/, one missing.
    let image = at(r, "page-2.json", "/value/1");
    assert!(image
        .text
        .as_deref()
        .is_some_and(|t| t.starts_with("Foto van de kade 📷:")));
    let delivered = &image.attachments[0];
    let bytes = fs::read(fixture(
        "chat-pages/hostedContents/1709283900000/aWQ9eF8wLXdldS1kMS0xMjM0NTY3ODkw",
    ))
    .expect("read");
    assert_eq!(delivered.role, "inline");
    assert_eq!(delivered.sha256, Some(Sha256::of(&bytes)));
    assert!(c.blobs.iter().any(|b| b.bytes == bytes));
    assert!(image.attachments[1].missing);
    assert_eq!(
        image.attachments[1].details["hosted_content_id"],
        "aWQ9eF8wLXdldS1kMS0wMDAwMDAwMDAw"
    );

    // A file is a link only; its URL is kept verbatim.
    let files = at(r, "page-1.json", "/value/7");
    let file = &files.attachments[0];
    assert_eq!(file.name.as_deref(), Some("Begroting 2024 (v2).xlsx"));
    assert!(file.missing);
    assert_eq!(file.details["link_only"], true);
    assert!(file.details["content_url"]
        .as_str()
        .is_some_and(|u| u.ends_with("Chatbestanden/Begroting 2024 (v2).xlsx")));
    assert!(files.flags.contains(&"link-only-attachment".to_owned()));
    assert_eq!(files.text.as_deref(), Some("Zie de begroting"));

    // A quoted reply links to the quoted message.
    let quote = at(r, "page-1.json", "/value/6");
    assert_eq!(quote.links.in_reply_to, vec!["1709283600000".to_owned()]);
    assert_eq!(quote.extra["quoted"]["sender"]["name"], "Anne de Vries");
    assert_eq!(quote.attachments[0].role, "message-reference");
    assert_eq!(quote.text.as_deref(), Some("Eens, optie B."));

    // A card from a bot: the card JSON is a blob; the sender an application.
    let card = at(r, "page-1.json", "/value/5");
    assert_eq!(card.text, None);
    assert_eq!(card.attachments[0].role, "card");
    assert_eq!(
        card.attachments[0].media_type.as_deref(),
        Some("application/vnd.microsoft.card.adaptive")
    );
    assert!(card.attachments[0].sha256.is_some());
    let bot = card.sender.as_ref().expect("bot");
    assert_eq!(
        (bot.name.as_deref(), bot.address_type.as_deref()),
        (Some("Vergaderbot"), Some("teams-application"))
    );
    assert_eq!(card.extra["sender_identity_type"], "bot");

    // A text body is taken literally, CRLF as LF, trimmed.
    assert_eq!(
        at(r, "page-1.json", "/value/4").text.as_deref(),
        Some("Platte tekst\nmet twee regels")
    );

    // System messages, whatever messageType says.
    let added = at(r, "page-2.json", "/value/5");
    assert_eq!(added.kind, RecordKind::SystemEvent);
    assert_eq!(added.sender, None);
    assert_eq!(system_type(added), "membersAdded");
    assert_eq!(
        added.extra["system_event"]["initiator"]["id"],
        "a1000000-0000-4000-8000-000000000001"
    );
    assert_eq!(
        added.extra["system_event"]["detail"]["visibleHistoryStartDateTime"],
        "0001-01-01T00:00:00Z"
    );
    assert_eq!(added.text, None);
    let renamed = at(r, "page-2.json", "/value/4");
    assert_eq!(system_type(renamed), "chatRenamed");
    assert_eq!(
        renamed.extra["system_event"]["detail"]["chatDisplayName"],
        "Kade: fase 2"
    );
    assert_eq!(system_type(at(r, "page-1.json", "/value/1")), "callEnded");
    assert_eq!(
        system_type(at(r, "page-1.json", "/value/0")),
        "membersDeleted"
    );
}

#[test]
fn channel_with_replies_over_two_pages() {
    let (summary, c) = read("channel-replies");
    let r = &c.records;
    assert_eq!(r.len(), 6);
    assert!(summary
        .decisions
        .iter()
        .any(|d| d["decision"] == "teams-replies-continue" && d["value"] == 1));
    let root = at(r, "page-1.json", "/value/1");
    assert_eq!(root.subject.as_deref(), Some("Overleg kademuur"));
    assert_eq!(
        root.conversation.id.as_deref(),
        Some("channel:f6000000-0000-4000-8000-0000000000d1/19:7f8e9d0c1b2a39485766a5b4c3d2e1f0@thread.tacv2")
    );
    assert_eq!(
        root.extra["channel"]["teamId"],
        "f6000000-0000-4000-8000-0000000000d1"
    );
    // Replies follow their root, linked to it.
    let reply = at(r, "page-1.json", "/value/1/replies/0");
    assert_eq!(reply.links.in_reply_to, vec!["1709370000000".to_owned()]);
    assert_eq!(reply.conversation.id, root.conversation.id);
    // The same reply on the replies page is the same record.
    assert_eq!(
        at(r, "page-1.json", "/value/1/replies/1").id,
        at(r, "page-2-replies.json", "/value/1").id
    );
    let later = at(r, "page-2-replies.json", "/value/0");
    assert_eq!(later.text.as_deref(), Some("Prima, tot maandag."));
}

#[test]
fn export_api_page_mixing_chats() {
    let (summary, c) = read("export-api/getAllMessages.json");
    assert_eq!(summary.format, "teams/graph-json");
    let r = &c.records;
    assert_eq!(r.len(), 4);
    let conversations: Vec<_> = r
        .iter()
        .map(|m| m.conversation.id.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        conversations[0],
        "chat:19:aaaa0000bbbb1111cccc2222dddd3333@thread.v2"
    );
    assert!(conversations[1].ends_with("@unq.gbl.spaces"));
    // Deleted within 21 days: the Export API still carries the body.
    assert!(r[2].deletion.is_some());
    assert_eq!(r[2].text.as_deref(), Some("Dit haal ik straks weg"));
    assert_eq!(r[1].text.as_deref(), Some("Eén-op-één in chat B"));
    assert_eq!(system_type(&r[3]), "membersJoined");
    assert_eq!(r[3].source.locator.pointer.as_deref(), Some("/value/3"));
}

#[test]
fn a_single_message() {
    let (_, c) = read("single-message.json");
    assert_eq!(c.records.len(), 1);
    let (_, page) = read("export-api/getAllMessages.json");
    assert_eq!(
        c.records[0].id, page.records[0].id,
        "same message, same version, same id"
    );
    assert_eq!(c.records[0].source.locator.pointer.as_deref(), Some(""));
}

#[test]
fn bad_input() {
    let (_, c) = read("bad/users.json");
    assert_eq!(c.records.len(), 0);
    assert!(
        c.quarantined[0].reason.contains("other than chatMessage"),
        "{}",
        c.quarantined[0].reason
    );

    let (_, c) = read("bad/truncated.json");
    assert_eq!(c.records.len(), 2, "the messages before the cut are read");
    assert_eq!(c.quarantined.len(), 1);
    assert!(
        c.quarantined[0].reason.contains("malformed JSON"),
        "{}",
        c.quarantined[0].reason
    );
    assert_eq!(
        c.quarantined[0].raw,
        fs::read(fixture("bad/truncated.json")).expect("read")
    );

    let (_, c) = read("bad/no-id.json");
    assert_eq!(c.records.len(), 1);
    assert_eq!(c.quarantined.len(), 1);
    assert_eq!(c.quarantined[0].reason, "chatMessage without an id");
    assert_eq!(
        c.quarantined[0].locator.pointer.as_deref(),
        Some("/value/0")
    );
    let raw: Value = serde_json::from_slice(&c.quarantined[0].raw).expect("raw JSON kept");
    assert_eq!(
        raw["chatId"],
        json!("19:aaaa0000bbbb1111cccc2222dddd3333@thread.v2")
    );
}

/// A hosted content larger than `max_message_bytes` is streamed to the sink
/// as a blob like any other (a page that large is streamed too).
#[test]
fn hosted_content_over_the_message_limit_is_a_blob() {
    let bytes = fs::read(fixture(
        "chat-pages/hostedContents/1709283900000/aWQ9eF8wLXdldS1kMS0xMjM0NTY3ODkw",
    ))
    .expect("read");
    let limits = spoor_ingest::Limits {
        max_message_bytes: 16,
        ..spoor_ingest::Limits::default()
    };
    assert!(bytes.len() > limits.max_message_bytes);
    let (summary, c) = common::read_with(&fixture("chat-pages"), limits);
    assert!(summary.unreadable.is_empty(), "{:?}", summary.unreadable);
    let image = at(&c.records, "page-2.json", "/value/1");
    let delivered = &image.attachments[0];
    assert_eq!(delivered.sha256, Some(Sha256::of(&bytes)));
    assert_eq!(
        (delivered.size, delivered.missing),
        (Some(bytes.len() as u64), false)
    );
    assert!(c.blobs.iter().any(|b| b.bytes == bytes));
}
