//! Microsoft Teams: Graph `chatMessage` JSON, as collection pages
//! (`GET /chats/{id}/messages`, channel messages with replies, the Export
//! APIs' `getAllMessages`) or single messages, with inline images from a
//! `hostedContents/` folder beside the pages (docs/FORMAT.md §14).
//!
//! A page is streamed: its `value` array is read one message at a time, so a
//! page of any size costs the memory of one message.

mod message;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Map, Value};
use spoor_normalize::{Locator, Sha256};

use crate::format::{head, Format, Input, Reading};
use crate::read::{stream_out, Item, Limits, Quarantined, ReadOptions, Stop};
use crate::Error;

/// Format name of Graph chatMessage JSON.
pub(crate) const FORMAT: &str = "teams/graph-json";

/// Does `head` (a file's first bytes) look like Graph JSON: an object that
/// carries OData annotations or a chatMessage's `messageType`?
fn sniff(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|i| head[i] == b'{')
        && [&b"\"@odata."[..], b"\"messageType\""]
            .iter()
            .any(|needle| memchr::memmem::find(head, needle).is_some())
}

/// A Graph JSON file: a page of chatMessages or a single one.
pub(crate) struct Page;

pub(crate) static PAGE: Page = Page;

impl Format for Page {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(sniff)
    }

    /// Inline images are looked up under `hostedContents/` at the root of a
    /// folder export. A page that stops part way keeps what came before and
    /// is quarantined whole besides.
    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        let (path, rel, size) = (input.path(), input.rel(), input.size());
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return reading.undecidable(path, rel, format!("cannot open: {e}")),
        };
        let root = rel.map(|_| reading.root().to_owned());
        let context = PageContext {
            export_sha256: options.export_sha256,
            path: rel.map(str::to_owned),
            root: root.as_deref(),
            limits: &options.limits,
        };
        let why = match read_page(file, size, &context, &mut |item| reading.put(item)) {
            Ok(facts) => {
                if let Some(link) = facts.next_link {
                    reading.decide(json!({
                        "decision": "teams-next-page",
                        "path": rel,
                        "value": link,
                        "basis": "the page names a next page (@odata.nextLink); what it holds is not in this file",
                    }));
                }
                if facts.replies_continue > 0 {
                    reading.decide(json!({
                        "decision": "teams-replies-continue",
                        "path": rel,
                        "value": facts.replies_continue,
                        "basis": "messages whose replies continue on another page (replies@odata.nextLink)",
                    }));
                }
                return Ok(());
            }
            Err(Stop::Sink(e)) => return Err(e),
            Err(Stop::Input(PageFault::Malformed(why))) => {
                format!("{why}; messages before that point were read")
            }
            Err(Stop::Input(PageFault::NotMessages(why))) => why,
        };
        reading.quarantine_file(path, rel, size, why)
    }
}

/// Where a page sits and what surrounds it.
pub(crate) struct PageContext<'a> {
    pub(crate) export_sha256: Sha256,
    /// Path of the page in the export (null for a one-file export).
    pub(crate) path: Option<String>,
    /// The export's root folder, for `hostedContents/` (none for a file).
    pub(crate) root: Option<&'a Path>,
    pub(crate) limits: &'a Limits,
}

/// What a page said about itself.
#[derive(Debug, Default)]
pub(crate) struct PageFacts {
    /// `@odata.nextLink`: more pages exist than this one.
    pub(crate) next_link: Option<String>,
    /// `@odata.context`.
    pub(crate) context: Option<String>,
    /// Messages whose replies continue on another page.
    pub(crate) replies_continue: u64,
}

/// What was wrong with a page that stopped being read.
pub(crate) enum PageFault {
    /// The bytes are not JSON (or stop in the middle); what was read before
    /// stays read.
    Malformed(String),
    /// The JSON is not a chatMessage collection or message.
    NotMessages(String),
}

/// Reads one page (or single message) from `input`, handing each message
/// (and each reply after its parent) to `emit` in order. A page up to
/// `limits.max_message_bytes` is read whole (parsing from memory is several
/// times faster); a larger one is streamed.
fn read_page<R: Read, E>(
    input: R,
    size: u64,
    context: &PageContext<'_>,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<PageFacts, Stop<PageFault, E>> {
    let mut state = State {
        context,
        emit,
        facts: PageFacts::default(),
        stopped: None,
        wrong_kind: None,
    };
    let outcome = if size <= context.limits.max_message_bytes as u64 {
        let mut bytes = Vec::with_capacity(size as usize);
        input
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| Stop::Input(PageFault::Malformed(format!("cannot read: {e}"))))?;
        parse(serde_json::Deserializer::from_slice(&bytes), &mut state)
    } else {
        let buffered = io::BufReader::with_capacity(1 << 20, input);
        parse(serde_json::Deserializer::from_reader(buffered), &mut state)
    };
    if let Some(e) = state.stopped.take() {
        return Err(Stop::Sink(e));
    }
    if let Some(why) = state.wrong_kind.take() {
        return Err(Stop::Input(PageFault::NotMessages(why)));
    }
    match outcome {
        Err(e) => Err(Stop::Input(PageFault::Malformed(format!(
            "malformed JSON: {e}"
        )))),
        Ok(None) => Ok(state.facts),
        Ok(Some(single)) => {
            if single.get("id").is_none() && single.get("messageType").is_none() {
                return Err(Stop::Input(PageFault::NotMessages(
                    "a JSON object that is neither a Graph collection (`value`) nor a chatMessage"
                        .to_owned(),
                )));
            }
            state.message(Value::Object(single), String::new(), None)?;
            Ok(state.facts)
        }
    }
}

/// Parses the whole input: `Some` for a single message, `None` for a page.
fn parse<'de, R: serde_json::de::Read<'de>, E>(
    mut reader: serde_json::Deserializer<R>,
    state: &mut State<'_, '_, E>,
) -> serde_json::Result<Option<Map<String, Value>>> {
    let single = TopLevel(state).deserialize(&mut reader)?;
    reader.end()?;
    Ok(single)
}

struct State<'s, 'c, E> {
    context: &'s PageContext<'c>,
    emit: &'s mut dyn FnMut(Item) -> Result<(), E>,
    facts: PageFacts,
    stopped: Option<E>,
    wrong_kind: Option<String>,
}

impl<E> State<'_, '_, E> {
    fn send(&mut self, item: Item<'_>) -> Result<(), Stop<PageFault, E>> {
        (self.emit)(item).map_err(Stop::Sink)
    }

    /// One message of the page, then its replies (`$expand=replies`).
    fn message(
        &mut self,
        mut value: Value,
        pointer: String,
        conversation_hint: Option<&str>,
    ) -> Result<(), Stop<PageFault, E>> {
        let replies = match value.as_object_mut() {
            Some(object) => {
                if object.contains_key("replies@odata.nextLink") {
                    self.facts.replies_continue += 1;
                }
                object.get("replies").filter(|r| r.is_array()).cloned()
            }
            None => None,
        };
        let locator = Locator {
            path: self.context.path.clone(),
            pointer: Some(pointer.clone()),
            ..Locator::default()
        };
        let page_conversation = conversation_hint.map(str::to_owned).or_else(|| {
            self.facts
                .context
                .as_deref()
                .and_then(message::conversation_from_context)
        });
        // Hosted contents reach the store ahead of the record naming them.
        let mut stopped = None;
        let built = message::record(
            &value,
            locator.clone(),
            page_conversation.as_deref(),
            self.context,
            &mut |bytes| stream_out(&mut *self.emit, &mut stopped, bytes),
        );
        if let Some(e) = stopped {
            return Err(Stop::Sink(e));
        }
        let item = match built {
            Ok((record, blobs)) => Item::Record(Box::new(record), blobs),
            Err(reason) => {
                let raw = serde_json::to_vec(&value).unwrap_or_default();
                Item::Quarantine(Quarantined {
                    locator,
                    reason,
                    raw_size: raw.len() as u64,
                    raw,
                })
            }
        };
        self.send(item)?;
        if let Some(Value::Array(replies)) = replies {
            let parent = message::conversation_of(&value).or(page_conversation);
            for (index, reply) in replies.into_iter().enumerate() {
                self.message(
                    reply,
                    format!("{pointer}/replies/{index}"),
                    parent.as_deref(),
                )?;
            }
        }
        Ok(())
    }
}

/// The top-level object: a page (returns `None`, messages already handed
/// out) or a single message (returned whole).
struct TopLevel<'a, 's, 'c, E>(&'a mut State<'s, 'c, E>);

impl<'de, E> DeserializeSeed<'de> for TopLevel<'_, '_, '_, E> {
    type Value = Option<Map<String, Value>>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, E> Visitor<'de> for TopLevel<'_, '_, '_, E> {
    type Value = Option<Map<String, Value>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph collection page or a chatMessage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut others = Map::new();
        let mut paged = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" => {
                    paged = true;
                    if let Some(context) = &self.0.facts.context {
                        if !message::is_message_context(context) {
                            self.0.wrong_kind = Some(format!(
                                "a Graph collection of something other than chatMessage ({context})"
                            ));
                            return Err(de::Error::custom("not chatMessage"));
                        }
                    }
                    map.next_value_seed(Elements(&mut *self.0))?;
                }
                "@odata.context" => {
                    let context = map.next_value::<Value>()?;
                    self.0.facts.context = context.as_str().map(str::to_owned);
                }
                "@odata.nextLink" => {
                    let link = map.next_value::<Value>()?;
                    self.0.facts.next_link = link.as_str().map(str::to_owned);
                }
                _ if paged => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    let value = map.next_value::<Value>()?;
                    others.insert(key, value);
                }
            }
        }
        Ok((!paged).then_some(others))
    }
}

/// The `value` array, one message at a time.
struct Elements<'a, 's, 'c, E>(&'a mut State<'s, 'c, E>);

impl<'de, E> DeserializeSeed<'de> for Elements<'_, '_, '_, E> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for Elements<'_, '_, '_, E> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of chatMessage objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while let Some(value) = seq.next_element::<Value>()? {
            match self.0.message(value, format!("/value/{index}"), None) {
                Ok(()) => {}
                Err(Stop::Sink(e)) => {
                    self.0.stopped = Some(e);
                    return Err(de::Error::custom("stopped"));
                }
                Err(Stop::Input(PageFault::Malformed(why) | PageFault::NotMessages(why))) => {
                    self.0.wrong_kind = Some(why);
                    return Err(de::Error::custom("stopped"));
                }
            }
            index += 1;
        }
        Ok(())
    }
}
