//! A deterministic generator of Microsoft Graph chatMessage pages of any
//! size: HTML bodies with mentions and emoji, reactions, edits, deletions,
//! file links and system events, several chats mixed as the Export API
//! delivers them. The same seed and size give the same bytes.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::mbox_gen::{civil, Rng, NAMES, WORDS};

const CHATS: &[&str] = &[
    "19:0a1b2c3d4e5f60718293a4b5c6d7e8f9@thread.v2",
    "19:aaaa0000bbbb1111cccc2222dddd3333@thread.v2",
    "19:meeting_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA@thread.v2",
];

fn user(rng: &mut Rng) -> Value {
    let n = rng.below(NAMES.len() as u64);
    json!({"application": null, "device": null, "user": {
        "@odata.type": "#microsoft.graph.teamworkUserIdentity",
        "id": format!("a1000000-0000-4000-8000-{n:012}"),
        "displayName": NAMES[n as usize],
        "userIdentityType": "aadUser",
        "tenantId": "7e1d0a3c-0000-4000-8000-00000000aa01"}})
}

/// `min` to `min + spread - 1` random words.
fn words(rng: &mut Rng, min: u64, spread: u64) -> String {
    let n = min + rng.below(spread);
    (0..n)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn message(rng: &mut Rng, serial: u64) -> Value {
    let created = 1_709_283_600_000u64 + serial * 37_000;
    let id = created.to_string();
    let chat = CHATS[rng.below(CHATS.len() as u64) as usize];
    let stamp = |ms: u64| {
        let (y, m, d) = civil(ms / 86_400_000);
        let of_day = ms % 86_400_000;
        format!(
            "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            of_day / 3_600_000,
            of_day / 60_000 % 60,
            of_day / 1000 % 60,
            of_day % 1000
        )
    };
    let kind = rng.below(100);
    if kind < 2 {
        return json!({"id": id, "etag": id, "messageType": "systemEventMessage", "chatId": chat,
            "createdDateTime": stamp(created), "lastModifiedDateTime": stamp(created), "from": null,
            "body": {"contentType": "html", "content": "<systemEventMessage/>"},
            "attachments": [], "mentions": [], "reactions": [],
            "eventDetail": {"@odata.type": "#microsoft.graph.membersAddedEventMessageDetail",
                "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
                "members": [{"id": "b2000000-0000-4000-8000-000000000002", "displayName": null}],
                "initiator": user(rng)}});
    }
    let edited = kind < 7;
    let deleted = kind == 7;
    let modified = if edited || deleted {
        created + 600_000
    } else {
        created
    };
    let mention = rng.below(5) == 0;
    let body = if deleted {
        String::new()
    } else if mention {
        format!("<div><at id=\"0\">{}</at>&nbsp;{} <emoji id=\"1f44d_thumbsup\" alt=\"👍\" title=\"Like\"></emoji></div><p>{}</p>",
            rng.pick(NAMES), words(rng, 8, 20), words(rng, 5, 30))
    } else {
        format!("<p>{}</p>", words(rng, 5, 40))
    };
    let attachments = if kind >= 95 {
        json!([{"id": format!("5e8a6c1b-{serial:04}"), "contentType": "reference",
            "contentUrl": format!("https://contoso-my.sharepoint.com/personal/x/Documents/Microsoft Teams Chatbestanden/Stuk {serial}.docx"),
            "content": null, "name": format!("Stuk {serial}.docx"), "thumbnailUrl": null}])
    } else {
        json!([])
    };
    let reactions = if rng.below(4) == 0 {
        json!([{"reactionType": "like", "displayName": null, "reactionContentUrl": null,
            "createdDateTime": stamp(created + 60_000), "user": user(rng)}])
    } else {
        json!([])
    };
    json!({"id": id, "replyToId": null, "etag": modified.to_string(), "messageType": "message",
        "createdDateTime": stamp(created), "lastModifiedDateTime": stamp(modified),
        "lastEditedDateTime": if edited { Value::from(stamp(modified)) } else { Value::Null },
        "deletedDateTime": if deleted { Value::from(stamp(modified)) } else { Value::Null },
        "subject": null, "summary": null, "chatId": chat, "importance": "normal", "locale": "en-us",
        "webUrl": null, "channelIdentity": null, "policyViolation": null, "eventDetail": null,
        "from": user(rng), "body": {"contentType": "html", "content": body},
        "attachments": attachments,
        "mentions": if mention { json!([{"id": 0, "mentionText": "x", "mentioned": {"user": {"id": "c3", "displayName": "x"}}}]) } else { json!([]) },
        "reactions": reactions})
}

/// Writes pages of 50 messages until about `target` bytes were written,
/// calling `next_page` for the writer of each page, or into one single page
/// when `next_page` always returns the same writer. Returns the bytes written.
pub(crate) fn write_pages(
    target: u64,
    seed: u64,
    per_page: u64,
    next_page: &mut dyn FnMut(u64) -> io::Result<Box<dyn Write>>,
) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let mut written = 0u64;
    let mut serial = 0u64;
    let mut page = 0u64;
    let context = "https://graph.microsoft.com/v1.0/$metadata#Collection(chatMessage)";
    while written < target {
        let mut out = next_page(page)?;
        let head = format!("{{\"@odata.context\":\"{context}\",\"value\":[");
        out.write_all(head.as_bytes())?;
        written += head.len() as u64;
        for i in 0..per_page {
            if i > 0 {
                out.write_all(b",")?;
            }
            let line = serde_json::to_vec(&message(&mut rng, serial)).map_err(io::Error::other)?;
            out.write_all(&line)?;
            written += line.len() as u64 + 1;
            serial += 1;
            if written >= target && per_page == u64::MAX {
                break;
            }
        }
        out.write_all(b"]}\n")?;
        out.flush()?;
        page += 1;
    }
    Ok(written)
}
