//! WhatsApp's fixed phrases, per language, as data. WhatsApp localises every
//! structural text (system events, attachment and omission markers, deleted
//! and edited notes) and publishes none of them; these tables collect the
//! forms seen in real exports. To support another language, add rows: no
//! code changes are needed.
//!
//! In system-event patterns `{actor}`, `{target}`, `{subject}` and `{old}`
//! stand for a non-empty part that is kept; `{rest}` for a tail that may be
//! empty and is ignored. A `"` in a pattern matches any quotation mark
//! (`"`, `“`, `”`, `„`, `«`, `»`), since iOS and some languages use curly ones.

/// System events: (event type, language, pattern). More specific patterns
/// come first.
pub(crate) const SYSTEM_EVENTS: &[(&str, &str, &str)] = &[
    // English
    ("encryption-notice", "en", "Messages and calls are end-to-end encrypted{rest}"),
    ("encryption-notice", "en", "Messages to this group are now secured with end-to-end encryption{rest}"),
    ("group-created", "en", "{actor} created group \"{subject}\""),
    ("group-created", "en", "{actor} created this group"),
    ("member-joined", "en", "{target} joined using this group's invite link"),
    ("member-added", "en", "{actor} added {target}"),
    ("member-removed", "en", "{actor} removed {target}"),
    ("member-left", "en", "{target} left"),
    ("subject-changed", "en", "{actor} changed the subject from \"{old}\" to \"{subject}\""),
    ("subject-changed", "en", "{actor} changed the subject to \"{subject}\""),
    ("icon-changed", "en", "{actor} changed this group's icon"),
    ("icon-deleted", "en", "{actor} deleted this group's icon"),
    ("description-changed", "en", "{actor} changed the group description"),
    ("security-code-changed", "en", "Your security code with {target} changed{rest}"),
    ("number-changed", "en", "{actor} changed their phone number to a new number{rest}"),
    ("number-changed", "en", "{actor} changed to {target}"),
    ("missed-voice-call", "en", "Missed voice call{rest}"),
    ("missed-video-call", "en", "Missed video call{rest}"),
    ("disappearing-messages", "en", "{actor} turned on disappearing messages{rest}"),
    ("disappearing-messages", "en", "{actor} turned off disappearing messages{rest}"),
    ("settings-changed", "en", "{actor} changed this group's settings{rest}"),
    ("admin-granted", "en", "You're now an admin"),
    ("waiting-for-message", "en", "Waiting for this message{rest}"),
    // Dutch (older builds say "U hebt", newer ones "Je hebt")
    ("encryption-notice", "nl", "Berichten en gesprekken worden end-to-end versleuteld{rest}"),
    ("encryption-notice", "nl", "Berichten die naar deze groep worden verzonden, zijn beveiligd met end-to-end encryptie{rest}"),
    ("encryption-notice", "nl", "Uw oproepen en berichten zijn beveiligd met end-to-end encryptie{rest}"),
    ("encryption-notice", "nl", "Je oproepen en berichten zijn beveiligd met end-to-end encryptie{rest}"),
    ("group-created", "nl", "{actor} heeft groep \"{subject}\" aangemaakt"),
    ("group-created", "nl", "{actor} hebt groep \"{subject}\" aangemaakt"),
    ("group-created", "nl", "{actor} hebt deze groep aangemaakt"),
    ("group-created", "nl", "{actor} heeft deze groep aangemaakt"),
    ("member-joined", "nl", "{target} is deelnemer geworden via de uitnodigingslink van deze groep"),
    ("member-left", "nl", "{target} heeft de groep verlaten"),
    ("member-left", "nl", "{target} hebt de groep verlaten"),
    ("subject-changed", "nl", "{actor} heeft het onderwerp gewijzigd van \"{old}\" naar \"{subject}\""),
    ("subject-changed", "nl", "{actor} hebt het onderwerp gewijzigd van \"{old}\" naar \"{subject}\""),
    ("subject-changed", "nl", "{actor} heeft het onderwerp gewijzigd naar \"{subject}\""),
    ("subject-changed", "nl", "{actor} hebt het onderwerp gewijzigd naar \"{subject}\""),
    ("icon-changed", "nl", "{actor} heeft de groepsafbeelding gewijzigd"),
    ("icon-changed", "nl", "{actor} hebt de groepsafbeelding gewijzigd"),
    ("icon-deleted", "nl", "{actor} heeft de groepsafbeelding verwijderd"),
    ("icon-deleted", "nl", "{actor} hebt de groepsafbeelding verwijderd"),
    ("description-changed", "nl", "{actor} heeft de groepsomschrijving gewijzigd"),
    ("description-changed", "nl", "{actor} hebt de groepsomschrijving gewijzigd"),
    ("member-added", "nl", "{actor} heeft {target} toegevoegd"),
    ("member-added", "nl", "{actor} hebt {target} toegevoegd"),
    ("member-removed", "nl", "{actor} heeft {target} verwijderd"),
    ("member-removed", "nl", "{actor} hebt {target} verwijderd"),
    ("security-code-changed", "nl", "Je beveiligingscode voor {target} is gewijzigd{rest}"),
    ("security-code-changed", "nl", "Uw beveiligingscode voor {target} is gewijzigd{rest}"),
    ("number-changed", "nl", "{actor} heeft een nieuw telefoonnummer{rest}"),
    ("missed-voice-call", "nl", "Gemist spraakgesprek{rest}"),
    ("missed-voice-call", "nl", "Gemiste spraakoproep{rest}"),
    ("missed-video-call", "nl", "Gemist videogesprek{rest}"),
    ("missed-video-call", "nl", "Gemiste video-oproep{rest}"),
    ("waiting-for-message", "nl", "Wachten op dit bericht{rest}"),
    // German
    ("encryption-notice", "de", "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt{rest}"),
    ("group-created", "de", "{actor} hat die Gruppe \"{subject}\" erstellt"),
    ("group-created", "de", "{actor} hast die Gruppe \"{subject}\" erstellt"),
    ("member-joined", "de", "{target} ist über den Einladungslink dieser Gruppe beigetreten"),
    ("member-left", "de", "{target} hat die Gruppe verlassen"),
    ("subject-changed", "de", "{actor} hat den Betreff von \"{old}\" zu \"{subject}\" geändert"),
    ("subject-changed", "de", "{actor} hat den Betreff zu \"{subject}\" geändert"),
    ("icon-changed", "de", "{actor} hat das Gruppenbild geändert"),
    ("description-changed", "de", "{actor} hat die Gruppenbeschreibung geändert"),
    ("member-added", "de", "{actor} hat {target} hinzugefügt"),
    ("member-added", "de", "{actor} hast {target} hinzugefügt"),
    ("member-removed", "de", "{actor} hat {target} entfernt"),
    ("member-removed", "de", "{actor} hast {target} entfernt"),
    ("security-code-changed", "de", "Deine Sicherheitsnummer für {target} hat sich geändert{rest}"),
    ("number-changed", "de", "{actor} hat eine neue Telefonnummer{rest}"),
    ("missed-voice-call", "de", "Verpasster Sprachanruf{rest}"),
    ("missed-video-call", "de", "Verpasster Videoanruf{rest}"),
    ("waiting-for-message", "de", "Warten auf diese Nachricht{rest}"),
];

/// An export's file name starts with one of these, then the chat's name;
/// with the language the name is in (`""` when the form is the same in
/// several).
pub(crate) const CHAT_FILE_PREFIXES: &[(&str, &str)] = &[
    ("WhatsApp Chat with ", "en"),
    ("WhatsApp Chat - ", ""),
    ("WhatsApp-chat met ", "nl"),
    ("WhatsApp Chat met ", "nl"),
    ("WhatsApp-Chat mit ", "de"),
    ("WhatsApp Chat mit ", "de"),
    ("WhatsApp-chat - ", ""),
    ("Chat de WhatsApp con ", "es"),
];

/// Languages whose numeric dates always put the day before the month
/// (CLDR short date patterns of nl, de, es, fr, it, pt); English does not
/// decide (the US writes the month first).
pub(crate) const DAY_FIRST_LANGUAGES: &[&str] = &["nl", "de", "es", "fr", "it", "pt"];

/// Android: the first body line ends with one of these after the file name.
pub(crate) const ATTACHED_SUFFIXES: &[&str] = &[
    " (file attached)",
    " (bestand bijgevoegd)",
    " (Datei angehängt)",
    " (fichier joint)",
    " (archivo adjuntado)",
];

/// iOS: `<WORD: NAME>` marks an attached file.
pub(crate) const ATTACHED_WORDS: &[&str] = &["attached", "bijgevoegd", "Anhang", "adjunto"];

/// Android: the whole body when media was left out of the export.
pub(crate) const MEDIA_OMITTED: &[&str] = &[
    "<Media omitted>",
    "<Media weggelaten>",
    "<Medien ausgeschlossen>",
    "<Medien weggelassen>",
    "<Multimedia omitido>",
    "<Media tidak disertakan>",
];

/// iOS: the body (after U+200E, possibly after a document's name) when one
/// kind of media was left out: (phrase, kind).
pub(crate) const KIND_OMITTED: &[(&str, &str)] = &[
    ("image omitted", "image"),
    ("video omitted", "video"),
    ("audio omitted", "audio"),
    ("sticker omitted", "sticker"),
    ("GIF omitted", "gif"),
    ("document omitted", "document"),
    ("Contact card omitted", "contact"),
    ("afbeelding weggelaten", "image"),
    ("video weggelaten", "video"),
    ("audio weggelaten", "audio"),
    ("sticker weggelaten", "sticker"),
    ("GIF weggelaten", "gif"),
    ("document weggelaten", "document"),
    ("Visitekaartje weggelaten", "contact"),
    ("Bild weggelassen", "image"),
    ("Video weggelassen", "video"),
    ("Audio weggelassen", "audio"),
    ("Sticker weggelassen", "sticker"),
    ("GIF weggelassen", "gif"),
    ("Dokument weggelassen", "document"),
    ("Kontaktkarte weggelassen", "contact"),
];

/// The whole body of a deleted message (a trailing full stop is ignored):
/// (phrase, who deleted it: `sender`, `self` or `admin`).
pub(crate) const DELETED: &[(&str, &str)] = &[
    ("This message was deleted", "sender"),
    ("You deleted this message", "self"),
    ("This message was deleted by an admin", "admin"),
    ("Dit bericht is verwijderd", "sender"),
    ("Je hebt dit bericht verwijderd", "self"),
    ("U hebt dit bericht verwijderd", "self"),
    ("Dit bericht is verwijderd door een beheerder", "admin"),
    ("Diese Nachricht wurde gelöscht", "sender"),
    ("Du hast diese Nachricht gelöscht", "self"),
    ("Diese Nachricht wurde von einem Admin gelöscht", "admin"),
    ("Se eliminó este mensaje", "sender"),
    ("Eliminaste este mensaje", "self"),
];

/// Appended to the body of an edited message.
pub(crate) const EDITED: &[&str] = &[
    "<This message was edited>",
    "<Dit bericht is bewerkt>",
    "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>",
];

/// A shared location: the first body line starts with one of these and a URL.
pub(crate) const LOCATION: &[&str] = &[
    "location: ",
    "Location: ",
    "locatie: ",
    "Locatie: ",
    "Standort: ",
    "ubicación: ",
];

/// The whole body of a shared live location.
pub(crate) const LIVE_LOCATION: &[&str] = &[
    "live location shared",
    "live locatie gedeeld",
    "Live-Standort geteilt",
];

/// The first body line of a poll; options follow as `WORD: text (n votes)`.
pub(crate) const POLL: &[&str] = &["POLL:", "PEILING:", "UMFRAGE:", "ENCUESTA:"];

/// A matched system event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SystemEvent {
    pub(crate) event: &'static str,
    pub(crate) language: &'static str,
    pub(crate) actor: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) old: Option<String>,
}

/// Finds the first system-event pattern that matches all of `text`.
pub(crate) fn system_event(text: &str) -> Option<SystemEvent> {
    SYSTEM_EVENTS.iter().find_map(|(event, language, pattern)| {
        if !may_match(pattern, text) {
            return None;
        }
        let mut found = SystemEvent {
            event,
            language,
            ..SystemEvent::default()
        };
        matches_pattern(pattern, text, &mut found).then_some(found)
    })
}

/// A quick test that rules out most patterns before the full match: the
/// text starts with the pattern's first literal, ends with its last, and
/// holds every literal between. Literals with quotes (which match any
/// quote) are left to the full match.
fn may_match(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('{');
    let head = pieces.next().unwrap_or_default();
    let tail = &pattern[pattern.rfind('}').map_or(0, |at| at + 1)..];
    let plain = |literal: &str| !literal.contains(is_quote);
    (!plain(head) || text.starts_with(head))
        && (!plain(tail) || text.ends_with(tail))
        && pieces
            .filter_map(|piece| piece.split_once('}').map(|(_, literal)| literal))
            .all(|literal| !plain(literal) || text.contains(literal))
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„' | '«' | '»')
}

/// Does `text` start with `literal`, quotes matching any quote? Returns the
/// byte length matched in `text`.
fn literal_at(text: &str, literal: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for want in literal.chars() {
        let (_, got) = chars.next()?;
        if !(got == want || is_quote(want) && is_quote(got)) {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(i, _)| i))
}

/// Matches `pattern` against all of `text`, filling the named parts. A
/// placeholder takes the shortest text up to the next literal, except the
/// last one, which takes everything up to the final literal.
fn matches_pattern(pattern: &str, text: &str, found: &mut SystemEvent) -> bool {
    let mut rest_pattern = pattern;
    let mut rest = text;
    loop {
        let Some(open) = rest_pattern.find('{') else {
            return literal_at(rest, rest_pattern) == Some(rest.len());
        };
        let literal = &rest_pattern[..open];
        let Some(used) = literal_at(rest, literal) else {
            return false;
        };
        rest = &rest[used..];
        let Some(close) = rest_pattern[open..].find('}') else {
            return false;
        };
        let name = &rest_pattern[open + 1..open + close];
        rest_pattern = &rest_pattern[open + close + 1..];
        let next_literal = &rest_pattern[..rest_pattern.find('{').unwrap_or(rest_pattern.len())];
        let is_last = !rest_pattern.contains('{');
        let value_end = if next_literal.is_empty() {
            Some(rest.len())
        } else if is_last {
            // The final literal must end the text.
            rest.char_indices()
                .map(|(i, _)| i)
                .rev()
                .find(|&i| literal_at(&rest[i..], next_literal) == Some(rest.len() - i))
        } else {
            rest.char_indices()
                .map(|(i, _)| i)
                .find(|&i| literal_at(&rest[i..], next_literal).is_some())
        };
        let Some(end) = value_end else {
            return false;
        };
        let value = &rest[..end];
        if name != "rest" && value.is_empty() {
            return false;
        }
        let slot = match name {
            "actor" => &mut found.actor,
            "target" => &mut found.target,
            "subject" => &mut found.subject,
            "old" => &mut found.old,
            _ => &mut None,
        };
        if name != "rest" {
            *slot = Some(value.to_owned());
        }
        rest = &rest[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_passes_the_quick_test_for_its_own_lines() {
        for (_, _, pattern) in SYSTEM_EVENTS {
            // Each placeholder filled with a name, quotes as written and
            // as other quotes.
            let mut line = String::new();
            let mut rest = *pattern;
            while let Some((literal, after)) = rest.split_once('{') {
                line.push_str(literal);
                line.push_str("Anna de Vries");
                rest = after.split_once('}').map_or("", |(_, r)| r);
            }
            line.push_str(rest);
            assert!(may_match(pattern, &line), "{pattern}: {line}");
            assert!(system_event(&line).is_some(), "{pattern}: {line}");
            let curly = line.replace('"', "“");
            assert!(system_event(&curly).is_some(), "{pattern}: {curly}");
        }
        assert!(!may_match("{actor} heeft {target} toegevoegd", "Jan: hoi"));
        assert!(!may_match("{actor} added {target}", "Jan removed Piet"));
    }

    #[test]
    fn subject_with_colon_keeps_its_text() {
        let e =
            system_event("Alex Kim changed the subject from \"Records Team\" to \"Records: FY23\"")
                .expect("matches");
        assert_eq!(e.event, "subject-changed");
        assert_eq!(e.actor.as_deref(), Some("Alex Kim"));
        assert_eq!(e.old.as_deref(), Some("Records Team"));
        assert_eq!(e.subject.as_deref(), Some("Records: FY23"));
    }

    #[test]
    fn dutch_and_german_with_curly_quotes() {
        let e = system_event("Marieke heeft het onderwerp gewijzigd naar “Begroting: 2025”")
            .expect("matches");
        assert_eq!((e.event, e.language), ("subject-changed", "nl"));
        assert_eq!(e.subject.as_deref(), Some("Begroting: 2025"));
        let e = system_event("Jan hat den Betreff zu „Haushalt“ geändert").expect("matches");
        assert_eq!(e.subject.as_deref(), Some("Haushalt"));
        let e = system_event("Pieter heeft Sanne toegevoegd").expect("matches");
        assert_eq!(
            (e.actor.as_deref(), e.target.as_deref()),
            (Some("Pieter"), Some("Sanne"))
        );
        let e = system_event(
            "Berichten en gesprekken worden end-to-end versleuteld. Tik voor meer informatie.",
        )
        .expect("matches");
        assert_eq!(e.event, "encryption-notice");
    }

    #[test]
    fn ordinary_text_is_no_event() {
        assert_eq!(system_event("Zullen we om tien uur beginnen?"), None);
        assert_eq!(system_event("left"), None);
    }
}
