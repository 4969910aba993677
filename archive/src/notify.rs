//! E-mailing the run report (SMTP, with lettre's tokio transport). A failed
//! send never undoes or fails the archiving; it is recorded in the report.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::Error;

/// How the connection to the mail server is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// STARTTLS, required (the default for `smtp://`).
    #[default]
    Starttls,
    /// TLS from the start (the default for `smtps://`).
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    None,
}

/// The `[notify]` table of `spoor.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// `smtp://[user@]host[:port]` or `smtps://…`; `--notify` overrides it.
    #[serde(default)]
    pub url: Option<String>,
    /// Who gets the report.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// The sender address.
    #[serde(default)]
    pub from: Option<String>,
    /// Connection protection; default from the URL's scheme.
    #[serde(default)]
    pub security: Option<SmtpSecurity>,
    /// A file holding the SMTP password (never the password itself here).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The name of an environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<String>,
}

impl NotifySettings {
    pub(crate) fn is_unset(&self) -> bool {
        *self == NotifySettings::default()
    }
}

/// What became of a notification.
#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    /// The server, as `host:port` (never with credentials).
    pub server: String,
    /// Who it was sent to.
    pub recipients: Vec<String>,
    /// Whether the server accepted it.
    pub sent: bool,
    /// Why not.
    pub error: Option<String>,
}

/// A parsed `smtp://[user@]host[:port]` URL.
struct Endpoint {
    user: Option<String>,
    host: String,
    port: Option<u16>,
    tls: bool,
}

fn parse_url(url: &str) -> Result<Endpoint, Error> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "notify URL {url:?}: {why} (expected smtp://[user@]host[:port])"
        ))
    };
    let (tls, rest) = if let Some(rest) = url.strip_prefix("smtps://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("smtp://") {
        (false, rest)
    } else {
        return Err(bad("not an smtp:// or smtps:// URL"));
    };
    let rest = rest.trim_end_matches('/');
    let (user, host_port) = match rest.rsplit_once('@') {
        Some((user, host)) => (Some(user.to_owned()), host),
        None => (None, rest),
    };
    if user.as_deref().is_some_and(|u| u.contains(':')) {
        return Err(bad(
            "a password does not belong in the URL; use password_file or password_env",
        ));
    }
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (
            host,
            Some(port.parse::<u16>().map_err(|_| bad("bad port"))?),
        ),
        None => (host_port, None),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(Endpoint {
        user,
        host: host.to_owned(),
        port,
        tls,
    })
}

/// A text file sent beside the body.
pub(crate) struct Attachment {
    /// Its file name.
    pub(crate) name: String,
    /// Its text.
    pub(crate) text: String,
}

/// Sends `subject` and `body` (and `attachment`) as configured.
/// Configuration mistakes are errors; a server that cannot be reached or
/// refuses is a [`Notification`] with `sent: false`.
pub(crate) fn send(
    settings: &NotifySettings,
    url: &str,
    subject: &str,
    body: String,
    attachment: Option<Attachment>,
) -> Result<Notification, Error> {
    let endpoint = parse_url(url)?;
    if settings.recipients.is_empty() {
        return Err(Error::Usage(
            "notify: no recipients in the [notify] settings of spoor.toml".to_owned(),
        ));
    }
    let from: Mailbox = settings
        .from
        .as_deref()
        .unwrap_or("spoor@localhost")
        .parse()
        .map_err(|e| Error::Usage(format!("notify: bad from address: {e}")))?;
    let mut builder = Message::builder().from(from).subject(subject);
    for recipient in &settings.recipients {
        let to: Mailbox = recipient
            .parse()
            .map_err(|e| Error::Usage(format!("notify: bad recipient {recipient:?}: {e}")))?;
        builder = builder.to(to);
    }
    let message = match attachment {
        None => builder.body(body),
        Some(file) => builder.multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(
                    lettre::message::Attachment::new(file.name)
                        .body(file.text, ContentType::TEXT_PLAIN),
                ),
        ),
    }
    .map_err(|e| Error::Usage(format!("notify: {e}")))?;
    let password =
        match (&settings.password_file, &settings.password_env) {
            (Some(path), _) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        Error::Usage(format!(
                            "notify: {}: cannot read the password file: {e}",
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_owned(),
            ),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                Error::Usage(format!("notify: environment variable {var} is not set"))
            })?),
            (None, None) => None,
        };
    let security = settings.security.unwrap_or(if endpoint.tls {
        SmtpSecurity::Tls
    } else {
        SmtpSecurity::Starttls
    });
    let transport_error = |e: lettre::transport::smtp::Error| Error::Notify(e.to_string());
    let mut transport = match security {
        SmtpSecurity::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&endpoint.host).map_err(transport_error)?
        }
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&endpoint.host)
                .map_err(transport_error)?
        }
        SmtpSecurity::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
        }
    };
    if let Some(port) = endpoint.port {
        transport = transport.port(port);
    }
    if let (Some(user), Some(password)) = (&endpoint.user, password) {
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    let transport = transport.timeout(Some(Duration::from_secs(30))).build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Notify(format!("cannot start the runtime: {e}")))?;
    let outcome = runtime.block_on(transport.send(message));
    let server = format!(
        "{}:{}",
        endpoint.host,
        endpoint
            .port
            .map_or("default".to_owned(), |p| p.to_string())
    );
    Ok(Notification {
        server,
        recipients: settings.recipients.clone(),
        sent: outcome.is_ok(),
        error: outcome.err().map(|e| e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = parse_url("smtp://archief@mail.example.org:2525").expect("url");
        assert_eq!(
            (e.user.as_deref(), e.host.as_str(), e.port, e.tls),
            (Some("archief"), "mail.example.org", Some(2525), false)
        );
        let e = parse_url("smtps://mail.example.org").expect("url");
        assert_eq!((e.user, e.port, e.tls), (None, None, true));
        assert!(parse_url("http://x").is_err());
        assert!(
            parse_url("smtp://user:secret@host").is_err(),
            "no passwords on the command line"
        );
        assert!(parse_url("smtp://host:port").is_err());
    }
}
