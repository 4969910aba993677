//! E-mailed run reports, received by a real SMTP server on loopback.

use std::fs;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

use crate::util::{copy_dir, fixture, spoor, text, TestStore};

/// Every mail the server accepted: its recipients and its text.
type Mailbag = Arc<Mutex<Vec<(Vec<String>, String)>>>;

#[derive(Clone, Default)]
struct Received {
    mails: Mailbag,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Received {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = (
            self.to.clone(),
            String::from_utf8_lossy(&self.data).into_owned(),
        );
        if let Ok(mut mails) = self.mails.lock() {
            mails.push(mail);
        }
        response::OK
    }
}

/// Starts an SMTP server on a free loopback port; returns the port and
/// what it receives.
fn smtp_server() -> (u16, Mailbag) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("address").port();
    let received = Received::default();
    let mails = Arc::clone(&received.mails);
    let mut server = Server::new(received);
    server
        .with_name("smtp.test")
        .with_ssl(SslConfig::None)
        .expect("no tls")
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, mails)
}

fn configure(t: &TestStore) {
    let config = t.store.join("spoor.toml");
    let mut text = fs::read_to_string(&config).expect("spoor.toml");
    text.push_str(
        "\n[notify]\nrecipients = [\"archivaris@ministerie.example\", \"beheer@ministerie.example\"]\nfrom = \"spoor@ministerie.example\"\nsecurity = \"none\"\n",
    );
    fs::write(&config, text).expect("write spoor.toml");
}

/// Runs `spoor run --notify` on one e-mail into `t`, against a fresh SMTP
/// server; returns the run's output and the one mail the server received.
fn run_mailed(t: &TestStore) -> (std::process::Output, (Vec<String>, String)) {
    let (port, mails) = smtp_server();
    let url = format!("smtp://127.0.0.1:{port}");
    let input = fixture("email/eml/plain.eml");
    let out = spoor(&[
        "run",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--notify",
        &url,
        input.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let start = Instant::now();
    let mail = loop {
        if let Some(mail) = mails.lock().expect("lock").first().cloned() {
            break mail;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no mail arrived");
        std::thread::sleep(Duration::from_millis(20));
    };
    (out, mail)
}

#[test]
fn the_report_is_mailed_to_the_recipients() {
    let t = TestStore::new();
    configure(&t);
    let (out, mail) = run_mailed(&t);
    assert!(
        text(&out).contains("report e-mailed to archivaris@ministerie.example"),
        "{}",
        text(&out)
    );
    assert_eq!(
        mail.0,
        ["archivaris@ministerie.example", "beheer@ministerie.example"]
    );
    // Undo quoted-printable soft line breaks, so long lines can be matched.
    let mail = (mail.0, mail.1.replace("=\r\n", "").replace("=\n", ""));
    assert!(mail.1.contains("Subject: spoor run r-"), "{}", mail.1);
    assert!(mail.1.contains(": archived"), "{}", mail.1);
    assert!(
        mail.1.contains("From: spoor@ministerie.example"),
        "{}",
        mail.1
    );
    assert!(
        mail.1
            .contains("plain.eml: archived as email/eml: 1 records"),
        "{}",
        mail.1
    );
    // The report on disk says so too.
    let report = fs::read_dir(t.store.join("runs"))
        .expect("runs")
        .flatten()
        .next()
        .expect("a report")
        .path();
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(report).expect("read")).expect("json");
    assert_eq!(report["notification"]["sent"], true);
}

#[test]
fn a_failed_send_is_reported_but_archiving_stands() {
    let t = TestStore::new();
    configure(&t);
    // A port with nothing listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let store = t.store.to_str().expect("utf-8");
    let url = format!("smtp://127.0.0.1:{port}");
    let input = fixture("email/eml/plain.eml");
    let out = spoor(&[
        "run",
        "--store",
        store,
        "--json",
        "--notify",
        &url,
        input.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["inputs"][0]["status"], "archived");
    assert_eq!(report["notification"]["sent"], false);
    assert!(report["notification"]["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    assert_eq!(t.packages().len(), 1);
    assert_eq!(t.verify().status.code(), Some(0));
}

/// The mailed report carries the checkpoint its run published, in its text
/// and as an attachment, so its recipients hold a copy the store cannot
/// change; `spoor verify --since` takes the saved mail and catches a
/// rollback that left no trace in the store. See: #19.
#[test]
fn r19_the_mailed_checkpoint_catches_a_later_rollback() {
    let t = TestStore::new();
    configure(&t);
    t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    let before = t.path("log-before");
    copy_dir(&t.store.join("log"), &before);
    let reports_before: Vec<_> = fs::read_dir(t.store.join("runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .collect();
    let (_, mail) = run_mailed(&t);
    let store = t.store.to_str().expect("utf-8");
    let mail = mail.1;
    let checkpoint = fs::read_to_string(t.store.join("log/checkpoint")).expect("checkpoint");
    let size = checkpoint.lines().nth(1).expect("size");
    assert!(
        mail.contains(&format!("filename=\"checkpoint-{size}.txt\"")),
        "{mail}"
    );
    assert!(mail.contains("Content-Type: multipart/mixed"), "{mail}");
    let saved = t.path("report.eml");
    fs::write(&saved, &mail).expect("save the mail");
    let key = t.store.join("log/public-key");
    let key = key.to_str().expect("utf-8");
    let since = saved.to_str().expect("utf-8");
    let intact = spoor(&[
        "verify", "--store", store, "--pubkey", key, "--since", since,
    ]);
    assert_eq!(intact.status.code(), Some(0), "{}", text(&intact));

    // The insider puts the store back as it was before that run: log,
    // package, receipt and report of the run gone.
    let (package, id) = t.package_of("plain.eml");
    fs::remove_file(package).expect("remove package");
    for receipt in crate::util::files_under(&t.store.join("intake")) {
        if fs::read_to_string(&receipt).is_ok_and(|r| r.contains(&id)) {
            fs::remove_file(receipt).expect("remove receipt");
        }
    }
    for report in fs::read_dir(t.store.join("runs")).expect("runs").flatten() {
        if !reports_before.contains(&report.path()) {
            fs::remove_file(report.path()).expect("remove report");
        }
    }
    fs::remove_dir_all(t.store.join("log")).expect("remove log");
    copy_dir(&before, &t.store.join("log"));
    assert_eq!(spoor(&["reindex", "--store", store]).status.code(), Some(0));
    let alone = spoor(&["verify", "--store", store, "--pubkey", key]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone));
    let caught = spoor(&[
        "verify", "--store", store, "--pubkey", key, "--since", since,
    ]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(
        text(&caught).contains("the log was rolled back"),
        "{}",
        text(&caught)
    );
}
