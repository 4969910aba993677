//! A WhatsApp export as delivered: a bare chat file, or a zip "with media"
//! whose chat file is found by content and whose media are looked up by
//! name. Each chat is surveyed, its decisions recorded, then read.

use std::io::{self, Read};
use std::path::Path;

use serde_json::json;
use zip::ZipArchive;

use super::{ChatContext, ChatIdentity, FolderMedia, Grammar, ZipMedia, FORMAT_TEXT, FORMAT_ZIP};
use crate::format::{head, Format, Input, Reading};
use crate::read::{Emit, ReadOptions, Stop};
use crate::zipped::{self, Entry};
use crate::Error;

/// A chat exported as a text file.
pub(crate) struct Chat;

pub(crate) static CHAT: Chat = Chat;

impl Format for Chat {
    fn sniff(&self, input: &Input<'_>) -> bool {
        head(input).is_some_and(super::sniff)
    }

    fn read(
        &self,
        reading: &mut dyn Reading,
        options: &ReadOptions,
        input: &Input<'_>,
    ) -> Result<(), Error> {
        read_text(reading, options, input.path(), input.rel(), None)
    }
}

/// A chat file in a folder with its media beside it (a zip export
/// unpacked): read as a bare chat file, with the files it names taken from
/// `media`.
pub(crate) fn read_in_folder(
    reading: &mut dyn Reading,
    options: &ReadOptions,
    path: &Path,
    rel: &str,
    media: &mut FolderMedia,
) -> Result<(), Error> {
    read_text(reading, options, path, Some(rel), Some(media))
}

/// A chat text file: surveyed, then read; in chunks on every core when no
/// media are to be looked up, else in one pass (as from a zip).
fn read_text(
    reading: &mut dyn Reading,
    options: &ReadOptions,
    path: &Path,
    rel: Option<&str>,
    media: Option<&mut FolderMedia>,
) -> Result<(), Error> {
    let surveyed = super::survey_file(path, options.date_order_hint);
    let grammar = match surveyed.map_err(|e| Error::io(path, e))? {
        Ok(grammar) => grammar,
        Err(reason) => return reading.undecidable(path, rel, reason),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let identity = super::chat_identity(&[name.as_deref().unwrap_or("")], &grammar);
    let place = rel.map(str::to_owned);
    // With nothing to look up, a large chat is read on every core.
    let media = media.filter(|m| !m.is_empty());
    let read = |context: &ChatContext<'_>, emit: &mut Emit<'_>| match media {
        None => super::read_chat_file(path, &grammar, context, emit),
        Some(media) => {
            let file = std::fs::File::open(path).map_err(Stop::Input)?;
            let input = io::BufReader::with_capacity(1 << 20, file);
            super::read_chat(input, &grammar, context, media, emit)
        }
    };
    match read_one(
        reading,
        options,
        &grammar,
        identity,
        FORMAT_TEXT,
        place,
        read,
    ) {
        Ok(()) => Ok(()),
        Err(Stop::Sink(e)) => Err(e),
        Err(Stop::Input(e)) => match rel {
            None => Err(Error::io(path, e)),
            Some(rel) => {
                reading.unreadable(rel, format!("reading stopped: {e}"));
                Ok(())
            }
        },
    }
}

/// A zip export "with media" (Android or iOS): every chat file at its root
/// (by content; `_chat.txt` first), then the media no line named, listed.
/// `text_archive` reads the chats, `media_archive` the media beside them.
pub(crate) fn read_zip(
    reading: &mut dyn Reading,
    options: &ReadOptions,
    path: &Path,
    rel: Option<&str>,
    size: u64,
    (mut text_archive, media_archive): (ZipArchive<std::fs::File>, ZipArchive<std::fs::File>),
    entries: &[Entry],
) -> Result<(), Error> {
    let limits = &options.limits;
    let mut chats = Vec::new();
    for entry in entries {
        let root_txt =
            !entry.name.contains('/') && entry.name.to_ascii_lowercase().ends_with(".txt");
        if entry.unsafe_name.is_some() || !root_txt {
            continue;
        }
        let mut head = Vec::new();
        if let Ok(reader) = zipped::open_entry(&mut text_archive, entry.index, limits) {
            let _ = reader.take(1024).read_to_end(&mut head);
        }
        if super::sniff(&head) {
            chats.push((entry.name != "_chat.txt", entry.index, entry.name.clone()));
        }
    }
    chats.sort();
    if chats.is_empty() {
        let reason =
            "a zip without a WhatsApp chat file (detected by content): not an export spoor reads"
                .to_owned();
        return reading.quarantine_file(path, rel, size, reason);
    }
    reading.name_export(rel, FORMAT_ZIP);
    let zip_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut media = ZipMedia::new(media_archive, entries, limits);
    for (_, index, name) in &chats {
        let place = match rel {
            Some(rel) => format!("{rel}!/{name}"),
            None => name.clone(),
        };
        let surveyed = zipped::open_entry(&mut text_archive, *index, limits).and_then(|r| {
            super::survey(
                io::BufReader::with_capacity(1 << 20, r),
                options.date_order_hint,
                &[name.as_str(), zip_name.as_str()],
            )
            .map_err(|e| e.to_string())
        });
        let grammar = match surveyed {
            Ok(Ok(grammar)) => grammar,
            Ok(Err(reason)) => {
                let rel = rel.map(|_| place.as_str());
                reading.undecidable(path, rel, format!("{name}: {reason}"))?;
                continue;
            }
            Err(reason) => {
                reading.unreadable(&place, reason);
                continue;
            }
        };
        let identity = super::chat_identity(&[name, &zip_name], &grammar);
        let reader = match zipped::open_entry(&mut text_archive, *index, limits) {
            Ok(r) => io::BufReader::with_capacity(1 << 20, r),
            Err(reason) => {
                reading.unreadable(&place, reason);
                continue;
            }
        };
        let read = |context: &ChatContext<'_>, emit: &mut Emit<'_>| {
            super::read_chat(reader, &grammar, context, &mut media, emit)
        };
        match read_one(
            reading,
            options,
            &grammar,
            identity,
            FORMAT_ZIP,
            Some(place.clone()),
            read,
        ) {
            Ok(()) => {}
            Err(Stop::Sink(e)) => return Err(e),
            Err(Stop::Input(e)) => reading.unreadable(&place, format!("reading stopped: {e}")),
        }
    }
    let unreferenced: Vec<&str> = entries
        .iter()
        .filter(|e| e.unsafe_name.is_none() && !media.was_referenced(e.index))
        .filter(|e| !chats.iter().any(|(_, index, _)| *index == e.index))
        .map(|e| e.name.as_str())
        .collect();
    if !unreferenced.is_empty() {
        reading.decide(json!({
            "decision": "whatsapp-unreferenced-files",
            "path": rel,
            "value": unreferenced,
            "basis": "in the zip, but named by no line of the chat; kept in the original",
        }));
    }
    Ok(())
}

/// The reading pass over one chat file, its decisions recorded first.
fn read_one(
    reading: &mut dyn Reading,
    options: &ReadOptions,
    grammar: &Grammar,
    identity: ChatIdentity,
    format: &'static str,
    place: Option<String>,
    read: impl FnOnce(&ChatContext<'_>, &mut Emit<'_>) -> Result<(), Stop<io::Error, Error>>,
) -> Result<(), Stop<io::Error, Error>> {
    reading.decide_all(grammar.decisions(place.as_deref(), &options.zone));
    reading.decide(json!({
        "decision": "whatsapp-chat-identity",
        "path": place,
        "value": identity.key,
        "basis": identity.basis,
    }));
    let context = ChatContext {
        format,
        path: place,
        export_sha256: options.export_sha256,
        identity,
        zone: &options.zone,
        limits: &options.limits,
    };
    read(&context, &mut |item| reading.put(item))
}
