//! Maildir file names: the info part after `:2,` (or `;2,` on copies made
//! on Windows) carries the flags.

/// The flags of one Maildir message.
pub(crate) struct Info {
    /// Flag names, e.g. `maildir:seen`.
    pub(crate) flags: Vec<String>,
    /// The info part as written (`2,RS`), if any.
    pub(crate) raw: Option<String>,
}

impl Info {
    pub(crate) fn from_file_name(name: &str, in_new: bool) -> Info {
        let mut flags = Vec::new();
        if in_new {
            flags.push("maildir:new".to_owned());
        }
        let raw = name
            .rsplit_once(":2,")
            .or_else(|| name.rsplit_once(";2,"))
            .map(|(_, f)| f);
        for c in raw.unwrap_or("").chars() {
            let flag = match c {
                'D' => "maildir:draft",
                'F' => "maildir:flagged",
                'P' => "maildir:passed",
                'R' => "maildir:replied",
                'S' => "maildir:seen",
                'T' => "maildir:trashed",
                _ => continue,
            };
            flags.push(flag.to_owned());
        }
        Info {
            flags,
            raw: raw.map(|r| format!("2,{r}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_names() {
        let info = Info::from_file_name("1700000000.M1P2.host,S=120:2,RS", false);
        assert_eq!(info.flags, ["maildir:replied", "maildir:seen"]);
        assert_eq!(info.raw.as_deref(), Some("2,RS"));
        let windows = Info::from_file_name("1700000000.M1P2.host;2,F", false);
        assert_eq!(windows.flags, ["maildir:flagged"]);
        let fresh = Info::from_file_name("1700000000.M1P2.host", true);
        assert_eq!(fresh.flags, ["maildir:new"]);
        assert_eq!(fresh.raw, None);
    }
}
