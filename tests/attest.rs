//! Trust outside the store's own key (#19): RFC 3161 time-stamps from a
//! real TSA (OpenSSL's `ts -reply` with a test CA made here, behind an
//! HTTP endpoint on loopback), and cosignatures from `spoor witness`
//! processes on loopback; rollbacks and forks refused by the witness and
//! caught by `spoor verify`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::util::{copy_dir, fixture, spoor, text, TestStore};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A time-stamping authority: a test CA (RSA) and a TSA certificate
/// (P-256, extended key usage timeStamping, critical) made with openssl,
/// answering on loopback with `openssl ts -reply`; its `genTime` has
/// `fraction_digits` digits after the seconds, as many real TSAs write.
struct Tsa {
    dir: PathBuf,
    url: String,
    /// The CA certificate an auditor trusts.
    ca: PathBuf,
    /// While false, the endpoint answers 503 (an outage).
    up: Arc<AtomicBool>,
}

impl Tsa {
    fn start(dir: &Path, fraction_digits: u8) -> Tsa {
        fs::create_dir_all(dir).expect("tsa dir");
        fs::write(
            dir.join("tsa.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
        )
        .expect("ext");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=spoor test CA",
                "-days",
                "3650",
            ],
        );
        openssl(
            dir,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "tsa.key",
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                "tsa.key",
                "-out",
                "tsa.csr",
                "-subj",
                "/CN=spoor test TSA",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tsa.pem",
                "-days",
                "3650",
                "-sha256",
                "-extfile",
                "tsa.ext",
            ],
        );
        let config = format!(
            "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\ndir = {dir}\nserial = $dir/serial\n\
             signer_cert = $dir/tsa.pem\nsigner_key = $dir/tsa.key\nsigner_digest = sha256\n\
             default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n\
             ordering = no\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n\
             clock_precision_digits = {fraction_digits}\n",
            dir = dir.display()
        );
        fs::write(dir.join("ts.cnf"), config).expect("ts.cnf");
        fs::write(dir.join("serial"), "01\n").expect("serial");

        let server = tiny_http::Server::http("127.0.0.1:0").expect("listen");
        let url = format!(
            "http://{}/tsr",
            server.server_addr().to_ip().expect("an IP address")
        );
        let up = Arc::new(AtomicBool::new(true));
        let state = (dir.to_owned(), Arc::clone(&up));
        std::thread::spawn(move || {
            let (dir, up) = state;
            for mut request in server.incoming_requests() {
                let mut query = Vec::new();
                let _ = request.as_reader().read_to_end(&mut query);
                if !up.load(Ordering::SeqCst) {
                    let _ = request.respond(tiny_http::Response::empty(503));
                    continue;
                }
                let _ = fs::write(dir.join("q.tsq"), &query);
                let replied = Command::new("openssl")
                    .args([
                        "ts",
                        "-reply",
                        "-config",
                        "ts.cnf",
                        "-queryfile",
                        "q.tsq",
                        "-out",
                        "r.tsr",
                    ])
                    .current_dir(&dir)
                    .output();
                let reply = match replied {
                    Ok(out) if out.status.success() => {
                        fs::read(dir.join("r.tsr")).unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                let _ = request.respond(tiny_http::Response::from_data(reply));
            }
        });
        Tsa {
            dir: dir.to_owned(),
            url,
            ca: dir.join("ca.pem"),
            up,
        }
    }
}

impl Tsa {
    /// A token over the file `data`, asked of the TSA directly (as an
    /// insider with a rewritten log would).
    fn stamp(&self, data: &Path) -> Vec<u8> {
        let query = self.dir.join("direct.tsq");
        let token = self.dir.join("direct.tst");
        let data = data.to_str().expect("utf-8");
        openssl(
            &self.dir,
            &[
                "ts",
                "-query",
                "-data",
                data,
                "-sha256",
                "-cert",
                "-out",
                query.to_str().expect("utf-8"),
            ],
        );
        openssl(
            &self.dir,
            &[
                "ts",
                "-reply",
                "-config",
                "ts.cnf",
                "-queryfile",
                "direct.tsq",
                "-token_out",
                "-out",
                "direct.tst",
            ],
        );
        fs::read(token).expect("token")
    }
}

/// A `spoor witness serve` process, stopped when dropped.
struct WitnessProcess {
    child: Child,
    url: String,
    key: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl WitnessProcess {
    /// Makes a witness key named `name` in `dir` and serves the logs of
    /// `log_keys`.
    fn start(dir: &Path, name: &str, log_keys: &[String]) -> WitnessProcess {
        fs::create_dir_all(dir).expect("witness dir");
        let key_file = dir.join("witness.key");
        let out = spoor(&[
            "witness",
            "init",
            "--name",
            name,
            "--key-file",
            key_file.to_str().expect("utf-8"),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let key = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("witness verifier key (give it to logs and auditors): "))
            .expect("the verifier key is printed")
            .to_owned();
        let mut args = vec![
            "witness".to_owned(),
            "serve".to_owned(),
            "--key-file".to_owned(),
            key_file.display().to_string(),
            "--state".to_owned(),
            dir.join("state").display().to_string(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
        ];
        for log in log_keys {
            args.push("--log-key".to_owned());
            args.push(log.clone());
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_spoor"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spoor witness serve starts");
        let mut first = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the witness says where it listens");
        let url = first
            .trim()
            .rsplit_once(" listening on ")
            .map(|(_, url)| url.to_owned())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        WitnessProcess { child, url, key }
    }
}

/// A new store with a TSA (see [`Tsa::start`]) in its `[timestamping]`.
fn time_stamped_store(fraction_digits: u8) -> (TestStore, Tsa) {
    let t = TestStore::new();
    let tsa = Tsa::start(&t.path("tsa"), fraction_digits);
    configure(
        &t,
        &format!(
            "[timestamping]\nurl = \"{}\"\ncertificates = \"{}\"\ntimeout_seconds = 10\n",
            tsa.url,
            tsa.ca.display()
        ),
    );
    (t, tsa)
}

fn log_key(t: &TestStore) -> String {
    fs::read_to_string(t.store.join("log/public-key"))
        .expect("public key")
        .trim()
        .to_owned()
}

fn configure(t: &TestStore, extra: &str) {
    let path = t.store.join("spoor.toml");
    let mut config = fs::read_to_string(&path).expect("spoor.toml");
    config.push('\n');
    config.push_str(extra);
    fs::write(&path, config).expect("spoor.toml");
}

fn configure_witness(t: &TestStore, witness: &WitnessProcess) {
    configure(
        t,
        &format!(
            "[[witnesses]]\nurl = \"{}\"\nkey = \"{}\"\ntimeout_seconds = 10\n",
            witness.url, witness.key
        ),
    );
}

/// `spoor verify --store --pubkey` with the extra flags; (code, output).
fn verify(t: &TestStore, extra: &[&str]) -> (Option<i32>, String) {
    let key = t.path("trusted.pub");
    if !key.exists() {
        fs::copy(t.store.join("log/public-key"), &key).expect("copy key");
    }
    let mut args = vec![
        "verify",
        "--store",
        t.store.to_str().expect("utf-8"),
        "--pubkey",
        key.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let out = spoor(&args);
    (out.status.code(), text(&out))
}

fn latest_size(t: &TestStore) -> u64 {
    let checkpoint = fs::read_to_string(t.store.join("log/checkpoint")).expect("checkpoint");
    checkpoint
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("size line")
}

#[test]
fn r19_tokens_from_a_real_tsa_are_kept_checked_and_accepted_by_openssl() {
    let (t, tsa) = time_stamped_store(0);
    let ca = tsa.ca.to_str().expect("utf-8");
    let out = t.run(&[&fixture("email/eml/plain.eml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("checkpoint time-stamped by http://"),
        "{}",
        text(&out)
    );
    let first = latest_size(&t);
    let token = t.store.join(format!("log/timestamps/{first}.tst"));
    assert!(token.exists(), "the token is kept beside the checkpoint");

    // OpenSSL accepts the kept token for the kept checkpoint.
    let checkpoint = t.store.join(format!("log/checkpoints/{first}"));
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-token_in", "-in"])
        .arg(&token)
        .arg("-data")
        .arg(&checkpoint)
        .args(["-CAfile", ca])
        .output()
        .expect("openssl");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("Verification: OK"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A second run: two tokens, in time order; verify checks both.
    let out = t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let second = latest_size(&t);
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains(&format!("the latest checkpoint (size {second}) existed by")),
        "{output}"
    );

    // Without the certificate the tokens are not silently trusted.
    let (code, output) = verify(&t, &[]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("2 time-stamp tokens in log/timestamps/ not checked"),
        "{output}"
    );

    // Another authority's certificate: every token is untrusted.
    let other = Tsa::start(&t.path("other-tsa"), 0);
    let (code, output) = verify(&t, &["--tsa-cert", other.ca.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("no trusted certificate signed"), "{output}");

    // A token for a checkpoint the log does not keep (left by a rollback).
    let stray = t.store.join("log/timestamps/999.tst");
    fs::copy(&token, &stray).expect("stray token");
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains(
            "log/timestamps/999.tst: attests a checkpoint of size 999, which the log does not keep"
        ),
        "{output}"
    );
    fs::remove_file(stray).expect("remove");

    // The first checkpoint's token put in place of the second's: caught.
    let latest_token = t.store.join(format!("log/timestamps/{second}.tst"));
    fs::copy(&token, &latest_token).expect("swap tokens");
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("message imprint is not the SHA-256 of the checkpoint"),
        "{output}"
    );
}

#[test]
fn r19_a_tsa_that_does_not_answer_loses_nothing_and_is_reported() {
    let (t, tsa) = time_stamped_store(3);
    let ca = tsa.ca.to_str().expect("utf-8");
    assert_eq!(
        t.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    tsa.up.store(false, Ordering::SeqCst);
    let out = t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("checkpoint NOT time-stamped by"), "{said}");
    assert!(said.contains("HTTP 503"), "{said}");
    assert!(
        said.contains("exit 3: everything archived, but the checkpoint lacks its timestamp"),
        "{said}"
    );
    // The run itself is whole: archived, logged, verifiable.
    assert!(said.contains("mboxo.mbox: archived"), "{said}");
    let (code, output) = verify(&t, &[]);
    assert_eq!(code, Some(0), "{output}");
    // An auditor who relies on the TSA is told the latest is not stamped.
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("the latest checkpoint has no valid time-stamp token"),
        "{output}"
    );
    // The next run with the TSA back is stamped again.
    tsa.up.store(true, Ordering::SeqCst);
    assert_eq!(
        t.run(&[&fixture("email/eml/bom.eml")]).status.code(),
        Some(0)
    );
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn r19_witnesses_cosign_and_refuse_a_rolled_back_log() {
    let t = TestStore::new();
    let other = TestStore::new();
    // One witness process serves two stores' logs (two organisations
    // witnessing each other would each run one).
    let witness = WitnessProcess::start(
        &t.path("witness-a"),
        "witness.example/a",
        &[log_key(&t), log_key(&other)],
    );
    configure_witness(&t, &witness);
    configure_witness(&other, &witness);

    let out = t.run(&[&fixture("email/eml/plain.eml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("checkpoint cosigned by witness.example/a"),
        "{}",
        text(&out)
    );
    assert_eq!(
        other.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    let after_first = t.path("after-first");
    copy_dir(&t.store, &after_first);

    // A second run: the witness checks the consistency proof from the
    // first checkpoint.
    let out = t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let size = latest_size(&t);
    assert!(t.store.join(format!("log/cosignatures/{size}")).exists());
    let (code, output) = verify(&t, &["--witness-key", &witness.key]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains(&format!(
            "the latest checkpoint (size {size}) was cosigned by the witness witness.example/a"
        )),
        "{output}"
    );

    // An insider rolls the store back to after the first run and
    // archives something else: the witness, which has seen the larger
    // log, refuses; the run says so and verify catches it.
    fs::remove_dir_all(&t.store).expect("remove");
    copy_dir(&after_first, &t.store);
    let out = t.run(&[&fixture("email/eml/bom.eml")]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("checkpoint NOT cosigned by witness.example/a"),
        "{said}"
    );
    assert!(
        said.contains("rolled back or forked") || said.contains("was forked"),
        "{said}"
    );
    let (code, output) = verify(&t, &["--witness-key", &witness.key]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("the latest checkpoint is cosigned by 0 of the 1 witnesses"),
        "{output}"
    );
    // Without witnesses the rewritten store would pass.
    let (code, output) = verify(&t, &[]);
    assert_eq!(code, Some(0), "{output}");
    // Grown past the size the witness holds, the forked log cannot prove
    // itself consistent with it either.
    let out = t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(latest_size(&t) > size, "{said}");
    assert!(
        said.contains("found the consistency proof from size"),
        "{said}"
    );
    assert!(said.contains("the log was rewritten"), "{said}");
    let (code, output) = verify(&t, &["--witness-key", &witness.key]);
    assert_eq!(code, Some(1), "{output}");

    // The other store, witnessed by the same process, is unaffected.
    assert_eq!(
        other
            .run(&[&fixture("email/mbox/mboxo.mbox")])
            .status
            .code(),
        Some(0)
    );
    let (code, output) = verify(&other, &["--witness-key", &witness.key]);
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn r19_a_quorum_of_witnesses_and_a_tampered_cosignature() {
    let t = TestStore::new();
    let a = WitnessProcess::start(&t.path("witness-a"), "witness.example/a", &[log_key(&t)]);
    let b = WitnessProcess::start(&t.path("witness-b"), "witness.example/b", &[log_key(&t)]);
    configure_witness(&t, &a);
    configure_witness(&t, &b);
    assert_eq!(
        t.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    drop(b);
    // One witness away: the run is archived, exit 3, and one of two is
    // enough for an auditor who asks for one.
    let out = t.run(&[&fixture("email/mbox/mboxo.mbox")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("checkpoint NOT cosigned by witness.example/b: no answer"),
        "{}",
        text(&out)
    );
    let b_key = fs::read_to_string(t.path("witness-b/witness.key")).expect("key");
    let b_public = spoor_normalize::cosign::Cosigner::from_private_key(&b_key)
        .expect("witness key")
        .verifier_key();
    let keys = [
        "--witness-key",
        a.key.as_str(),
        "--witness-key",
        b_public.as_str(),
    ];
    let (code, output) = verify(&t, &keys);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("cosigned by 1 of the 2 witnesses you trust, 2 needed"),
        "{output}"
    );
    let mut one_of_two = keys.to_vec();
    one_of_two.extend(["--witness-quorum", "1"]);
    let (code, output) = verify(&t, &one_of_two);
    assert_eq!(code, Some(0), "{output}");

    // A cosignature altered in place is caught, not ignored.
    let size = latest_size(&t);
    let path = t.store.join(format!("log/cosignatures/{size}"));
    let line = fs::read_to_string(&path).expect("cosignature");
    let (name, signature) = line.trim_end().rsplit_once(' ').expect("a signature line");
    let mut bytes: Vec<char> = signature.chars().collect();
    bytes[20] = if bytes[20] == 'A' { 'B' } else { 'A' };
    fs::write(
        &path,
        format!("{name} {}\n", bytes.into_iter().collect::<String>()),
    )
    .expect("tamper");
    let (code, output) = verify(&t, &one_of_two);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("the cosignature of witness.example/a does not verify"),
        "{output}"
    );
}

#[test]
fn r19_a_rewritten_history_cannot_be_backdated_past_the_tsa() {
    use crate::trail::{bundle, forge_log, run_reports, split_entries};
    let (t, tsa) = time_stamped_store(0);
    let ca = tsa.ca.to_str().expect("utf-8");
    assert_eq!(
        t.run(&[&fixture("email/eml/plain.eml")]).status.code(),
        Some(0)
    );
    assert_eq!(
        t.run(&[&fixture("email/mbox/mboxo.mbox")]).status.code(),
        Some(0)
    );
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(0), "{output}");

    // An insider with the signing key removes the second run from the
    // log, its package, receipt and report, and rewrites the rest with
    // its runs dated ten days earlier, as if the history had been that
    // way all along; then has the rewritten checkpoints time-stamped.
    let (package, id) = t.package_of("mboxo.mbox");
    fs::remove_file(&package).expect("delete package");
    for receipt in crate::util::files_under(&t.store.join("intake")) {
        if fs::read_to_string(&receipt).expect("receipt").contains(&id) {
            fs::remove_file(receipt).expect("delete receipt");
        }
    }
    for report in run_reports(&t) {
        fs::remove_file(report).expect("remove run report");
    }
    let ten_days = jiff::SignedDuration::from_hours(240);
    let mut entries = Vec::new();
    for entry in split_entries(&fs::read(bundle(&t)).expect("bundle")) {
        let mut value: serde_json::Value = serde_json::from_slice(&entry).expect("entry");
        if value["package_id"] == id.as_str() {
            continue;
        }
        if value["type"] == "run" {
            if !entries.is_empty() && value["previous_checkpoint"].is_object() {
                break; // the second run's seal
            }
            let started: jiff::Timestamp = value["started_at"]
                .as_str()
                .expect("started_at")
                .parse()
                .expect("time");
            value["started_at"] = serde_json::json!((started - ten_days).to_string());
        }
        entries.push(spoor_normalize::jcs::to_canonical(&value));
    }
    let size = entries.len() as u64;
    forge_log(&t, &entries, &[size]);
    let store = t.store.to_str().expect("utf-8");
    assert_eq!(spoor(&["reindex", "--store", store]).status.code(), Some(0));
    // (forge_log rewrote `log/` whole, old tokens included.)
    fs::create_dir_all(t.store.join("log/timestamps")).expect("mkdir");
    let token = tsa.stamp(&t.store.join(format!("log/checkpoints/{size}")));
    fs::write(t.store.join(format!("log/timestamps/{size}.tst")), token).expect("token");

    // Alone, the rewritten store looks intact; the TSA's time does not
    // fit the dates the rewritten history claims.
    let (code, output) = verify(&t, &[]);
    assert_eq!(code, Some(0), "{output}");
    let (code, output) = verify(&t, &["--tsa-cert", ca]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("h after the run or check it seals says it began"),
        "{output}"
    );
}
