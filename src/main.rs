//! `spoor`: the command line. It parses flags, opens the store, calls the
//! crates and prints; all logic lives in the crates.

mod disclosure;
mod reading;
mod witness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use spoor_archive::{
    DateOrder, Fixity, InboxOptions, InitOptions, Passphrase, RecoveryKey, RunProgress,
    SearchOrder, SearchQuery, Selection, Store,
};

/// Exit code when the command could not run at all.
const COULD_NOT_RUN: u8 = 2;

/// Exit codes, as every `--help` states them.
const EXIT_CODES: &str =
    "Exit codes: 0 success; 1 problems found (verify) or an input failed (run); \
2 could not run (bad flags, unusable key, store or file unreadable); 3 done, but not all is well \
(run: quarantined items, unreadable parts, a report not e-mailed, a checkpoint not attested or \
the catalogue lagging; verify --record: its checkpoint not attested).";
const RUN_EXIT_CODES: &str =
    "Exit codes: 0 every input archived (or already archived); 1 an input \
failed; 2 could not run; 3 archived, but with quarantined items or unreadable parts (the summary \
names them), the report could not be e-mailed, the new checkpoint could not be \
time-stamped or cosigned by a configured authority or witness, or the catalogue could not be \
told where the run's log entries are (the next run tells it).";
const VERIFY_EXIT_CODES: &str =
    "Exit codes: 0 intact; 1 problems found (each printed); 2 could not \
run (unreadable store or package, unusable --pubkey, --since, --tsa-cert or --witness-key); \
3 intact, but with --record the new checkpoint could not be time-stamped or cosigned.";
const PROOF_EXIT_CODES: &str =
    "Exit codes: 0 proven; 1 not proven (each problem printed); 2 could not run (unreadable or \
unusable bundle or key).";
const PLAIN_EXIT_CODES: &str = "Exit codes: 0 done; 2 could not run.";

#[derive(Parser)]
#[command(
    name = "spoor",
    version,
    about = "Archive chat and mail exports as verifiable, hashed records",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Log events to stderr as text or as JSON lines (level from SPOOR_LOG,
    /// e.g. `info`; default: warnings only for text, info for JSON).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Structured logs on stderr, for the nightly job's journal.
fn init_logging(format: LogFormat) {
    let default = if format == LogFormat::Json {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPOOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(use_color())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Colour only on a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>).
fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A progress bar over the inputs of a run on a terminal; nothing when
/// stderr is not a terminal (indicatif hides itself).
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed}] {bar:30} {pos}/{len} {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A Signal secret from the file given with `flag`, else from the
/// environment variable `env`; errors never repeat it, nor the file's name
/// (given by mistake, that is the secret itself).
fn signal_secret(file: Option<&Path>, flag: &str, env: &str) -> anyhow::Result<Option<String>> {
    match file {
        Some(file) => std::fs::read_to_string(file).map(Some).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the file given with {flag} ({e}); \
                 its name is not shown, in case it is the secret itself"
            )
        }),
        None => Ok(std::env::var(env).ok()),
    }
}

/// Moves the bar as the run reports.
fn show(bar: &indicatif::ProgressBar, event: RunProgress<'_>) {
    match event {
        RunProgress::Started { inputs } => bar.set_length(inputs as u64),
        RunProgress::Committing { input } => bar.set_message(input.display().to_string()),
        RunProgress::InputDone { .. } => bar.inc(1),
        _ => {}
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a new store in an empty or new folder.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Init {
        /// The store folder.
        store: PathBuf,
        /// Default IANA time zone for sources that give only wall-clock time.
        #[arg(long, default_value = "Europe/Amsterdam")]
        zone: String,
        /// Organisation named in every package's bag-info.txt.
        #[arg(long)]
        organization: Option<String>,
        /// Date order (dmy, mdy, ymd, ydm) for WhatsApp chats whose dates
        /// fit several orders; unset, such chats are reported as ambiguous.
        #[arg(long)]
        date_order: Option<DateOrder>,
        /// Where to write the log's private signing key (mode 0600, outside
        /// the store). Default: $SPOOR_SIGNING_KEY_FILE, else
        /// ~/.config/spoor/keys/<store id>.key.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Archive exports (files or folders) into the store.
    #[command(after_help = RUN_EXIT_CODES)]
    Run(RunArgs),
    /// Verify a whole store (--store) or one package zip.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(VerifyArgs),
    /// Print the evidence bundle of one record: its line, blobs' hashes, log
    /// entry, inclusion proof and the signed checkpoint.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Prove {
        /// The store folder.
        #[arg(long)]
        store: PathBuf,
        /// The record id.
        record_id: String,
    },
    /// Check an evidence bundle offline against the log's public key.
    #[command(after_help = PROOF_EXIT_CODES)]
    VerifyProof {
        /// The bundle (as printed by `spoor prove`).
        bundle: PathBuf,
        /// The log's public key, obtained out of band.
        #[arg(long)]
        pubkey: PathBuf,
        /// Print findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the catalogue from the packages and intake receipts.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Reindex {
        /// The store folder.
        #[arg(long)]
        store: PathBuf,
    },
    /// Search archived records: words (SQLite FTS5 syntax: `besluit`,
    /// `"optie B"`, `kade*`, `a OR b`) in subject, text and people, and/or
    /// filters; prints each hit with the words around the match.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Search {
        /// The store folder.
        #[arg(long)]
        store: PathBuf,
        /// Most hits shown.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Hits skipped first (the next page: --offset 50).
        #[arg(long, default_value_t = 0)]
        offset: u32,
        /// Order: relevance (best match first; by time without words) or
        /// time (oldest first).
        #[arg(long, value_enum, default_value_t = SortOrder::Relevance)]
        sort: SortOrder,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        selection: SelectionArgs,
        /// The words; without them, every record the filters select.
        query: Option<String>,
    },
    /// Print shell completions for spoor (bash, zsh, fish, elvish,
    /// powershell), e.g. `spoor completions bash > /etc/bash_completion.d/spoor`.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print one conversation (by its id, as `spoor export html` and
    /// `search` show it) or one record (by its id) for reading.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Show {
        /// The store folder.
        #[arg(long)]
        store: PathBuf,
        /// A conversation id or a record id.
        target: String,
    },
    /// Export for people: `html` writes a self-contained static site of
    /// the selected conversations (open its index.html in a browser).
    #[command(subcommand, after_help = PLAIN_EXIT_CODES)]
    Export(ExportCommand),
    /// Witness other stores' logs (C2SP tlog-witness): cosign each new
    /// checkpoint that is consistent with the last one cosigned.
    #[command(subcommand, after_help = PLAIN_EXIT_CODES)]
    Witness(witness::WitnessCommand),
    /// Print spoor's manual page (roff), e.g. `spoor man > spoor.1`.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Man,
}

/// `spoor search --sort`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SortOrder {
    Relevance,
    Time,
}

/// What `spoor export` writes.
#[derive(Subcommand)]
enum ExportCommand {
    /// A static site: an index of conversations and one page per
    /// conversation, attachments and evidence bundles beside them.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Html(ExportArgs),
    /// One deterministic zip for a disclosure (Woo, FOIA): the pages as
    /// for `html`, each record's source item (e-mails as .eml, chat
    /// messages as their lines or JSON), an inventory (CSV and HTML, with
    /// a redaction column) and one evidence bundle per record.
    #[command(after_help = PLAIN_EXIT_CODES)]
    Disclosure(ExportArgs),
}

/// The flags of `spoor export`.
#[derive(clap::Args)]
struct ExportArgs {
    /// The store folder.
    #[arg(long)]
    store: PathBuf,
    /// A new or empty folder: the site itself (html), or where
    /// `disclosure.zip` goes (disclosure).
    #[arg(long)]
    out: PathBuf,
    /// The log's public key, obtained out of band, to check each
    /// message's coverage against (default: the store's own).
    #[arg(long)]
    pubkey: Option<PathBuf>,
    #[command(flatten)]
    selection: SelectionArgs,
}

/// Which records: every filter given must hold.
#[derive(clap::Args, Clone, Default)]
struct SelectionArgs {
    /// Only this conversation (repeat for several).
    #[arg(long = "conversation")]
    conversations: Vec<String>,
    /// Sender contains this (name or address, any case).
    #[arg(long)]
    from: Option<String>,
    /// Sender or a recipient contains this.
    #[arg(long, visible_alias = "to")]
    participant: Option<String>,
    /// Source format, or its start (`signal/` for all of Signal).
    #[arg(long)]
    source_format: Option<String>,
    /// From this UTC time or date on (e.g. 2024-03-01).
    #[arg(long)]
    since: Option<String>,
    /// Up to this UTC time, or through this date.
    #[arg(long)]
    until: Option<String>,
    /// Record kind: message, email, system-event.
    #[arg(long)]
    kind: Option<String>,
}

impl From<SelectionArgs> for Selection {
    fn from(args: SelectionArgs) -> Selection {
        Selection {
            conversations: args.conversations,
            records: Vec::new(),
            from: args.from,
            participant: args.participant,
            source_format: args.source_format,
            since: args.since,
            until: args.until,
            kind: args.kind,
        }
    }
}

/// The flags of `spoor run`.
#[derive(clap::Args)]
struct RunArgs {
    /// The store folder.
    #[arg(long)]
    store: PathBuf,
    /// Print the run report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// The log's private signing key file. Default: the environment
    /// variable SPOOR_SIGNING_KEY_FILE, else the file named at init.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// Archive every ready export in this folder (files and folders;
    /// `done/` and names like `*.part` or `.*` are skipped).
    #[arg(long, conflicts_with = "inputs")]
    inbox: Option<PathBuf>,
    /// With --inbox: an export changed less than this many seconds ago
    /// is taken to be still being written and left for the next run.
    #[arg(long, default_value_t = 60, requires = "inbox")]
    settle_seconds: u64,
    /// With --inbox: move each archived export to `done/` in the inbox.
    #[arg(long, requires = "inbox")]
    move_done: bool,
    /// E-mail the report: smtp://[user@]host[:port] or smtps://…
    /// (recipients, sender, security and the password file or variable
    /// come from the [notify] settings in spoor.toml).
    #[arg(long)]
    notify: Option<String>,
    /// IANA zone of wall-clock times in sources without offsets
    /// (WhatsApp), for this run; default: the store's default_zone.
    #[arg(long)]
    tz: Option<String>,
    /// Date order (dmy, mdy, ymd, ydm) for WhatsApp chats whose dates
    /// fit several orders, for this run; default: the store's
    /// date_order_hint.
    #[arg(long)]
    date_order: Option<DateOrder>,
    /// A file holding the passphrase of Signal backups (30 digits;
    /// spaces and dashes ignored). Default: $SPOOR_SIGNAL_PASSPHRASE.
    /// The passphrase itself never goes on the command line.
    #[arg(long)]
    signal_passphrase_file: Option<PathBuf>,
    /// A file holding the recovery key of Signal backup folders (64
    /// letters and digits; spaces and dashes ignored). Default:
    /// $SPOOR_SIGNAL_RECOVERY_KEY. Never on the command line.
    #[arg(long)]
    signal_recovery_key_file: Option<PathBuf>,
    /// Exports to archive.
    #[arg(required_unless_present = "inbox")]
    inputs: Vec<PathBuf>,
}

/// The flags of `spoor verify`.
#[derive(clap::Args)]
struct VerifyArgs {
    /// The store folder.
    #[arg(long, conflicts_with = "package")]
    store: Option<PathBuf>,
    /// Print findings as JSON.
    #[arg(long)]
    json: bool,
    /// The log's public key (signed-note verifier key), obtained out of
    /// band. Without it the store's own key is used, which proves
    /// nothing against an insider.
    #[arg(long, requires = "store")]
    pubkey: Option<PathBuf>,
    /// Append the outcome to the log as a `fixity` entry with a new
    /// signed checkpoint (needs the signing key).
    #[arg(long, requires = "store")]
    record: bool,
    /// The log's private signing key file, for --record (default as for
    /// `spoor run`).
    #[arg(long, requires = "record")]
    signing_key: Option<PathBuf>,
    /// A checkpoint kept from an earlier check (log/checkpoints/<size>):
    /// the log must have grown from it, not been rewritten or rolled back.
    #[arg(long, requires = "store")]
    since: Option<PathBuf>,
    /// The time-stamping authority's certificate(s), PEM or DER, obtained
    /// out of band: every token in log/timestamps/ must lead to one, and
    /// the latest checkpoint must have a token.
    #[arg(long, requires = "store")]
    tsa_cert: Option<PathBuf>,
    /// A witness's verifier key (`<name>+<key id>+<base64>`), obtained out
    /// of band; repeat for each witness. Their cosignatures must verify,
    /// and the latest checkpoint must be cosigned by --witness-quorum of
    /// them.
    #[arg(long, requires = "store")]
    witness_key: Vec<String>,
    /// How many of the --witness-key witnesses must have cosigned the
    /// latest checkpoint (default: all of them).
    #[arg(long, requires = "witness_key")]
    witness_quorum: Option<usize>,
    /// A package zip to verify on its own.
    #[arg(required_unless_present = "store")]
    package: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match execute(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("spoor: {}", message_of(&err));
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// The error and its causes, each once: our errors already write their
/// cause into their own message ("path: what the system said"), so a
/// cause whose text is there already is not repeated.
fn message_of(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
    }
    message
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn execute(command: Command) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Init {
            store,
            zone,
            organization,
            date_order,
            key_file,
        } => {
            let key_file =
                key_file.or_else(|| std::env::var_os("SPOOR_SIGNING_KEY_FILE").map(PathBuf::from));
            let options = InitOptions {
                default_zone: zone,
                organization,
                date_order_hint: date_order,
                key_file,
            };
            let created = Store::init(&store, &options)?;
            let config = created.config();
            writeln!(out, "created store {}", store.display())?;
            if let Some(key) = &config.signing_key_file {
                writeln!(
                    out,
                    "private signing key: {} (keep it safe; it never goes in the store)",
                    key.display()
                )?;
            }
            writeln!(
                out,
                "log public key (give it to auditors): {}",
                config.log_public_key
            )?;
            Ok(0)
        }
        Command::Run(args) => run_command(&mut out, args),
        Command::Verify(args) => verify_command(&mut out, args),
        Command::Prove { store, record_id } => {
            let store = Store::open(&store)?;
            out.write_all(&store.prove(&record_id)?)?;
            Ok(0)
        }
        Command::VerifyProof {
            bundle,
            pubkey,
            json,
        } => {
            let bytes = std::fs::read(&bundle)
                .with_context(|| format!("{}: cannot read the bundle", bundle.display()))?;
            let report = spoor_verify::verify_evidence(&bytes, &read_public_key(&pubkey)?)?;
            if json {
                let result = if report.is_intact() {
                    "proven"
                } else {
                    "not-proven"
                };
                print_json(&mut out, "spoor.verify-proof/1", result, &report, [])?;
            } else {
                for finding in &report.findings {
                    writeln!(out, "{finding}")?;
                }
                let verdict = if report.is_intact() {
                    "proven"
                } else {
                    "NOT PROVEN"
                };
                writeln!(
                    out,
                    "{}: {verdict}: {} problems",
                    bundle.display(),
                    report.findings.len()
                )?;
            }
            Ok(if report.is_intact() { 0 } else { 1 })
        }
        Command::Reindex { store } => {
            let store = Store::open(&store)?;
            let (packages, records) = store.reindex().context("rebuilding the catalogue")?;
            writeln!(
                out,
                "catalogue rebuilt: {packages} packages, {records} records"
            )?;
            Ok(0)
        }
        Command::Search {
            store,
            limit,
            offset,
            sort,
            json,
            selection,
            query,
        } => {
            let store = Store::open(&store)?;
            let search = SearchQuery {
                words: query.clone(),
                selection: selection.into(),
                order: match sort {
                    SortOrder::Relevance => SearchOrder::Relevance,
                    SortOrder::Time => SearchOrder::Time,
                },
                limit,
                offset,
            };
            let results = store.search(&search)?;
            if json {
                let result = if results.total == 0 {
                    "no-hits"
                } else {
                    "hits"
                };
                let document = serde_json::json!({
                    "schema": "spoor.search/1",
                    "result": result,
                    "query": query,
                    "total": results.total,
                    "offset": offset,
                    "hits": results.hits,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
            } else {
                reading::print_hits(&mut out, &results, query.as_deref(), offset)?;
            }
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "spoor", &mut out);
            Ok(0)
        }
        Command::Show { store, target } => reading::show(&mut out, &Store::open(&store)?, &target),
        Command::Export(command) => {
            let (ExportCommand::Html(args) | ExportCommand::Disclosure(args)) = &command;
            let store = Store::open(&args.store)?;
            let key = args.pubkey.as_deref().map(read_public_key).transpose()?;
            let selection: Selection = args.selection.clone().into();
            match command {
                ExportCommand::Html(args) => {
                    let done = reading::export_html(&store, &selection, &args.out, key.as_deref())?;
                    writeln!(
                        out,
                        "wrote {}: {} conversations, {} records ({} covered by the signed log), {} attachments",
                        args.out.join("index.html").display(),
                        done.conversations,
                        done.records,
                        done.covered,
                        done.blobs
                    )?;
                }
                ExportCommand::Disclosure(args) => {
                    let done = disclosure::export_disclosure(
                        &store,
                        &selection,
                        &args.out,
                        key.as_deref(),
                    )?;
                    writeln!(
                        out,
                        "wrote {} (sha256 {}): {} records, {} source items ({} match their record's item_sha256)",
                        done.zip.display(),
                        done.sha256.to_hex(),
                        done.records,
                        done.items,
                        done.items_matching
                    )?;
                }
            }
            Ok(0)
        }
        Command::Witness(command) => witness::witness_command(&mut out, command),
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut out)?;
            Ok(0)
        }
    }
}

/// Prints `value` as the JSON document of a command: its fields, with the
/// schema of the output and the command's result on top (docs/JSON.md).
fn print_json<const N: usize>(
    out: &mut impl Write,
    schema: &str,
    result: &str,
    value: &impl serde::Serialize,
    extra: [(&str, serde_json::Value); N],
) -> anyhow::Result<()> {
    let mut document = serde_json::Map::new();
    document.insert("schema".to_owned(), schema.into());
    document.insert("result".to_owned(), result.into());
    for (key, value) in extra {
        document.insert(key.to_owned(), value);
    }
    if let serde_json::Value::Object(fields) = serde_json::to_value(value)? {
        document.extend(fields);
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    Ok(())
}

/// The signing key from the flag, else `$SPOOR_SIGNING_KEY_FILE`, else the
/// file `spoor init` recorded; never from the command line itself.
fn signing_key_for(
    store: &Store,
    flag: Option<PathBuf>,
) -> anyhow::Result<spoor_archive::SigningKey> {
    let key_file = flag
        .or_else(|| std::env::var_os("SPOOR_SIGNING_KEY_FILE").map(PathBuf::from))
        .or_else(|| store.config().signing_key_file.clone())
        .context("no signing key: give --signing-key FILE or set SPOOR_SIGNING_KEY_FILE")?;
    Ok(store.signer(&key_file)?)
}

fn read_public_key(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the public key", path.display()))
}

/// `spoor run`.
fn run_command(out: &mut impl Write, run: RunArgs) -> anyhow::Result<u8> {
    let RunArgs {
        store,
        json,
        signing_key,
        inbox,
        settle_seconds,
        move_done,
        notify,
        tz,
        date_order,
        signal_passphrase_file,
        signal_recovery_key_file,
        inputs,
    } = run;
    let mut store = Store::open(&store)?;
    store.override_wall_clock(tz.as_deref(), date_order)?;
    let passphrase = signal_secret(
        signal_passphrase_file.as_deref(),
        "--signal-passphrase-file",
        "SPOOR_SIGNAL_PASSPHRASE",
    )?;
    if let Some(text) = passphrase {
        let passphrase =
            Passphrase::parse(&text).map_err(|e| anyhow::anyhow!("Signal passphrase: {e}"))?;
        store.set_signal_passphrase(passphrase);
    }
    let recovery_key = signal_secret(
        signal_recovery_key_file.as_deref(),
        "--signal-recovery-key-file",
        "SPOOR_SIGNAL_RECOVERY_KEY",
    )?;
    if let Some(text) = recovery_key {
        let key =
            RecoveryKey::parse(&text).map_err(|e| anyhow::anyhow!("Signal recovery key: {e}"))?;
        store.set_signal_recovery_key(key);
    }
    let key = signing_key_for(&store, signing_key)?;
    let bar = progress_bar();
    let progress = |event: RunProgress<'_>| show(&bar, event);
    let report = match &inbox {
        Some(inbox) => {
            let options = InboxOptions {
                settle: Duration::from_secs(settle_seconds),
                move_done,
            };
            store.run_inbox(inbox, &options, &key, &progress)?
        }
        None => store.run(&inputs, &key, &progress)?,
    };
    bar.finish_and_clear();
    let mut report = report;
    store.notify(&mut report, notify.as_deref())?;
    if json {
        let result = match report.exit_code() {
            0 => "archived",
            1 => "failed",
            _ => "partial",
        };
        let extra = [
            ("exit_code", serde_json::json!(report.exit_code())),
            ("exit_reason", serde_json::json!(report.exit_reason())),
        ];
        print_json(out, "spoor.run/1", result, &report, extra)?;
    } else {
        write!(out, "{}", report.summary())?;
    }
    Ok(report.exit_code())
}

/// `spoor verify`.
fn verify_command(out: &mut impl Write, verify: VerifyArgs) -> anyhow::Result<u8> {
    let VerifyArgs {
        store,
        json,
        pubkey,
        since,
        record,
        signing_key,
        tsa_cert,
        witness_key,
        witness_quorum,
        package,
    } = verify;
    let since = match &since {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("{}: cannot read the checkpoint", path.display()))?,
        ),
        None => None,
    };
    let tsa_certificates = match &tsa_cert {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("{}: cannot read the certificate", path.display()))?,
        ),
        None => None,
    };
    let trust = spoor_verify::Trust {
        pubkey: pubkey.as_deref().map(read_public_key).transpose()?,
        since,
        tsa_certificates,
        witness_keys: witness_key,
        witness_quorum,
    };
    // A check that is recorded in the log must read a store no run
    // is changing: take the store's lock first, waiting for a run.
    let recorder = match (record, &store) {
        (true, Some(root)) => {
            let opened = Store::open(root)?;
            let key = signing_key_for(&opened, signing_key)?;
            Some((opened, key))
        }
        _ => None,
    };
    let fixity_lock = match &recorder {
        Some((opened, _)) => Some(opened.lock_for_fixity(&|holder| {
            eprintln!("spoor: waiting for the run that holds the store ({holder})");
        })?),
        None => None,
    };
    let report = match (&store, &package) {
        (Some(store), _) => spoor_verify::verify_store(store, &trust)?,
        (None, Some(package)) => spoor_verify::verify_package(package)?,
        (None, None) => anyhow::bail!("give --store STORE or a PACKAGE.zip"),
    };
    if json {
        let result = if report.is_intact() {
            "intact"
        } else {
            "problems-found"
        };
        print_json(out, "spoor.verify/1", result, &report, [])?;
    } else {
        let target = store
            .as_deref()
            .or(package.as_deref())
            .unwrap_or(Path::new("."));
        for finding in &report.findings {
            writeln!(out, "{finding}")?;
        }
        for note in &report.notes {
            writeln!(out, "note: {note}")?;
        }
        let verdict = if report.is_intact() {
            "intact"
        } else {
            "PROBLEMS FOUND"
        };
        writeln!(
            out,
            "{}: {verdict}: {} packages, {} records, {} blobs, {} receipts, {} bytes checked, {} problems",
            target.display(),
            report.packages,
            report.records,
            report.blobs,
            report.receipts,
            report.bytes,
            report.findings.len()
        )?;
    }
    if let (Some(lock), Some((_, key))) = (&fixity_lock, &recorder) {
        let fixity = Fixity {
            intact: report.is_intact(),
            problems: report.findings.len(),
            packages: report.packages,
            records: report.records,
            bytes: report.bytes,
        };
        let (size, attestations) = lock.record(&fixity, key)?;
        if !json {
            writeln!(
                out,
                "recorded in the log: fixity entry, new checkpoint of size {size}"
            )?;
        }
        for a in attestations.iter().filter(|a| !a.ok) {
            writeln!(
                out,
                "the new checkpoint lacks its {} by {}: {}",
                a.kind, a.by, a.detail
            )?;
        }
        if report.is_intact() && attestations.iter().any(|a| !a.ok) {
            return Ok(3);
        }
    }
    Ok(if report.is_intact() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file error names the file and what the system said, once (it was
    /// "…: File too large (os error 27): File too large (os error 27)"),
    /// and context added on top still shows its cause.
    #[test]
    fn an_error_says_its_cause_once() {
        let io = || std::io::Error::from_raw_os_error(27);
        let err = anyhow::Error::new(spoor_archive::Error::Io {
            path: PathBuf::from("log/tile/0"),
            source: io(),
        });
        assert_eq!(message_of(&err), format!("log/tile/0: {}", io()));
        let err = anyhow::Error::new(io()).context("writing the report");
        assert_eq!(message_of(&err), format!("writing the report: {}", io()));
    }
}
