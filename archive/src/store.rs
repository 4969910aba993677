//! Opening and creating a store.

use std::fs;
use std::path::{Path, PathBuf};

use spoor_ingest::{DateOrder, Limits, Passphrase, RecoveryKey};
use spoor_normalize::{jcs, Sha256, Zone};

use crate::catalog::Catalog;
use crate::config::{StoreConfig, STORE_FORMAT};
use crate::fsutil::{remove_leftovers, with_path, write_atomic};
use crate::inbox::{self, InboxOptions};
use crate::lock::{FixityLock, StoreLock};
use crate::log::Log;
use crate::notify;
use crate::notify::NotifySettings;
use crate::run::report::{InputReport, InputStatus, RunProgress, RunReport};
use crate::Error;

/// The package format this version writes.
pub const PACKAGE_FORMAT: &str = "spoor-package/1";

/// The log's private key, loaded for a run.
pub struct SigningKey(pub(crate) signed_note::StandardSigner);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("SigningKey(..)")
    }
}

/// Choices made at `spoor init`.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Default IANA zone for wall-clock sources.
    pub default_zone: String,
    /// Organisation named in every bag.
    pub organization: Option<String>,
    /// Date order for WhatsApp chats whose dates fit several.
    pub date_order_hint: Option<DateOrder>,
    /// Where to write the log's private signing key. It must lie outside the
    /// store; the default is `$HOME/.config/spoor/keys/<store id>.key`.
    pub key_file: Option<PathBuf>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            default_zone: "Europe/Amsterdam".to_owned(),
            organization: None,
            date_order_hint: None,
            key_file: None,
        }
    }
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    pub(crate) root: PathBuf,
    pub(crate) config: StoreConfig,
    /// For Signal backups; held for this process only, never written.
    pub(crate) signal_passphrase: Option<Passphrase>,
    /// For Signal message-backup folders; held for this process only,
    /// never written.
    pub(crate) signal_recovery_key: Option<RecoveryKey>,
}

impl Store {
    /// Creates a new store at `root` (which must not exist, or be empty).
    ///
    /// # Errors
    /// [`Error::Usage`] when `root` already holds files, [`Error::Config`]
    /// for an unknown zone, [`Error::Io`] when it cannot be written.
    pub fn init(root: &Path, options: &InitOptions) -> Result<Store, Error> {
        if root.exists()
            && fs::read_dir(root)
                .map_err(with_path(root))?
                .next()
                .is_some()
        {
            return Err(Error::Usage(format!(
                "{}: not empty; a store is created in a new or empty folder",
                root.display()
            )));
        }
        if jiff::tz::TimeZone::get(&options.default_zone).is_err() {
            return Err(Error::Config {
                path: root.join("spoor.toml"),
                reason: format!("unknown time zone {:?}", options.default_zone),
            });
        }
        let existed = root.exists();
        let made = Store::make(root, options);
        if made.is_err() {
            // Refused or failed half-way: leave no half-made store behind.
            let _ = if existed {
                fs::read_dir(root).map(|entries| {
                    for entry in entries.flatten() {
                        let _ = fs::remove_dir_all(entry.path())
                            .or_else(|_| fs::remove_file(entry.path()));
                    }
                })
            } else {
                fs::remove_dir_all(root)
            };
        }
        made
    }

    /// The work of [`Store::init`] once its checks passed.
    fn make(root: &Path, options: &InitOptions) -> Result<Store, Error> {
        for dir in ["intake", "packages", "runs", "tmp"] {
            fs::create_dir_all(root.join(dir)).map_err(with_path(root))?;
        }
        let nonce = format!(
            "{}|{}|{}",
            fs::canonicalize(root).map_err(with_path(root))?.display(),
            jiff::Timestamp::now(),
            std::process::id()
        );
        let store_id = Sha256::of(nonce.as_bytes()).to_hex()[..32].to_owned();
        let origin = format!("spoor/{store_id}");
        let key_file = match &options.key_file {
            Some(path) => path.clone(),
            None => default_key_file(&store_id)?,
        };
        let absolute_root = fs::canonicalize(root).map_err(with_path(root))?;
        let key_parent = key_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(key_parent).map_err(with_path(key_parent))?;
        if fs::canonicalize(key_parent)
            .map_err(with_path(key_parent))?
            .starts_with(&absolute_root)
        {
            return Err(Error::Usage(format!(
                "{}: the private key must be kept outside the store",
                key_file.display()
            )));
        }
        let (private_key, public_key) = signed_note::generate_key(&mut rand_core::OsRng, &origin);
        write_private_key(&key_file, &private_key)?;
        let config = StoreConfig {
            format: STORE_FORMAT.to_owned(),
            store_id,
            default_zone: options.default_zone.clone(),
            date_order_hint: options.date_order_hint,
            organization: options.organization.clone(),
            origin,
            log_public_key: public_key.clone(),
            signing_key_file: Some(fs::canonicalize(&key_file).map_err(with_path(&key_file))?),
            limits: Limits::default(),
            notify: NotifySettings::default(),
            timestamping: None,
            witnesses: Vec::new(),
        };
        fs::create_dir_all(root.join("log")).map_err(with_path(root))?;
        let key_path = root.join("log/public-key");
        write_atomic(&key_path, format!("{public_key}\n").as_bytes())
            .map_err(with_path(&key_path))?;
        let path = root.join("spoor.toml");
        write_atomic(&path, config.to_toml()?.as_bytes()).map_err(with_path(&path))?;
        let store = Store {
            root: root.to_owned(),
            config,
            signal_passphrase: None,
            signal_recovery_key: None,
        };
        store.catalog()?;
        Ok(store)
    }

    /// Opens the store at `root`.
    ///
    /// # Errors
    /// [`Error::Config`] when `root/spoor.toml` is missing or invalid.
    pub fn open(root: &Path) -> Result<Store, Error> {
        let path = root.join("spoor.toml");
        if !path.is_file() {
            return Err(Error::Config {
                path,
                reason: "not a spoor store (no spoor.toml; create one with `spoor init`)"
                    .to_owned(),
            });
        }
        Ok(Store {
            root: root.to_owned(),
            config: StoreConfig::load(&path)?,
            signal_passphrase: None,
            signal_recovery_key: None,
        })
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Reads the log's private signing key from `path`.
    ///
    /// # Errors
    /// [`Error::Usage`] when the file cannot be read or holds no key for
    /// this store's log. Without the key the archive stays readable and
    /// verifiable; it only cannot be extended.
    pub fn signer(&self, path: &Path) -> Result<SigningKey, Error> {
        let text = fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "{}: cannot read the signing key ({e}); the archive stays readable, but cannot be extended without it",
                path.display()
            ))
        })?;
        let signer = signed_note::StandardSigner::new(text.trim())
            .map_err(|e| Error::Usage(format!("{}: not a signing key: {e}", path.display())))?;
        use signed_note::Signer;
        if signer.name() != self.config.origin {
            return Err(Error::Usage(format!(
                "{}: the key is for {:?}, not for this store's log {:?}",
                path.display(),
                signer.name(),
                self.config.origin
            )));
        }
        Ok(SigningKey(signer))
    }

    /// Overrides, for this process only, the zone and the date-order hint
    /// used for sources that give only wall-clock time (WhatsApp). Both
    /// shape the records, so packages made with other values get other ids.
    ///
    /// # Errors
    /// [`Error::Config`] for a zone the tz database does not know.
    pub fn override_wall_clock(
        &mut self,
        zone: Option<&str>,
        date_order_hint: Option<DateOrder>,
    ) -> Result<(), Error> {
        if let Some(zone) = zone {
            Zone::get(zone).map_err(|e| Error::Config {
                path: "--tz".into(),
                reason: e.to_string(),
            })?;
            self.config.default_zone = zone.to_owned();
        }
        if date_order_hint.is_some() {
            self.config.date_order_hint = date_order_hint;
        }
        Ok(())
    }

    /// Sets the passphrase Signal backups are opened with, for this process
    /// only: it is never written to the store, a package or a log.
    pub fn set_signal_passphrase(&mut self, passphrase: Passphrase) {
        self.signal_passphrase = Some(passphrase);
    }

    /// Sets the recovery key Signal message-backup folders are opened with,
    /// for this process only: it is never written to the store, a package
    /// or a log.
    pub fn set_signal_recovery_key(&mut self, key: RecoveryKey) {
        self.signal_recovery_key = Some(key);
    }

    pub(crate) fn catalog(&self) -> Result<Catalog, Error> {
        Catalog::open(&self.root.join("catalog.sqlite"))
    }

    /// The settings that shape a package's contents, and their hash. The
    /// package id derives from these and the export's hash.
    pub(crate) fn package_settings(&self) -> (serde_json::Value, Sha256) {
        let settings = serde_json::json!({
            "package_format": PACKAGE_FORMAT,
            "parser": spoor_ingest::PARSER,
            "limits": self.config.limits,
            "zone": self.config.default_zone,
            "date_order_hint": self.config.date_order_hint,
            // Whether a Signal passphrase was given (never the passphrase):
            // a backup sealed unread for want of it is read when it comes.
            "signal_passphrase_given": self.signal_passphrase.is_some(),
            "signal_recovery_key_given": self.signal_recovery_key.is_some(),
        });
        let digest = Sha256::of(&jcs::to_canonical(&settings));
        (settings, digest)
    }

    /// Rebuilds the catalogue from the intake receipts and packages alone.
    /// Returns the number of packages and records indexed.
    ///
    /// # Errors
    /// The first package or receipt that cannot be read, or a catalogue error.
    pub fn reindex(&self) -> Result<(u64, u64), Error> {
        let _lock = StoreLock::acquire(&self.root)?;
        // Made anew, so a catalogue of an older format is replaced too.
        let mut catalog = Catalog::create_empty(&self.root.join("catalog.sqlite"))?;
        for receipt in files_under(&self.root.join("intake"), "json")? {
            let value = crate::intake::read_receipt(&receipt)?;
            catalog.index_receipt(&self.relative(&receipt), &value)?;
        }
        let (mut packages, mut records) = (0, 0);
        for zip in files_under(&self.root.join("packages"), "zip")? {
            records += catalog.index_package(&zip, &self.relative(&zip))?;
            packages += 1;
        }
        // Where each record's and package's entry is in the log (for
        // `spoor prove` and the roll-forward of interrupted runs).
        let log = Log::open(&self.root.join("log"), &self.config.origin)?;
        crate::trail::note_entries(&log, 0, &mut catalog)?;
        Ok((packages, records))
    }

    /// E-mails the report (to the `[notify]` recipients of spoor.toml, via
    /// `url` or the settings' URL) and records the outcome in it and in
    /// `runs/<run>.json`. Without a URL nothing is sent.
    ///
    /// # Errors
    /// Only for settings that cannot work (no recipients, a bad URL or
    /// address, a password file that cannot be read); a server that fails
    /// is recorded in the report instead.
    pub fn notify(&self, report: &mut RunReport, url: Option<&str>) -> Result<(), Error> {
        let Some(url) = url.or(self.config.notify.url.as_deref()) else {
            return Ok(());
        };
        let failed = report
            .inputs
            .iter()
            .filter(|i| i.status == InputStatus::Failed)
            .count();
        let verdict = match report.exit_code() {
            0 => "archived".to_owned(),
            3 => "archived, with items to look at".to_owned(),
            _ => format!("{failed} inputs FAILED"),
        };
        let subject = format!("spoor run {}: {verdict}", report.run_id);
        // The checkpoint this run published leaves the building with the
        // report: its recipients hold a copy the store cannot change.
        let checkpoint_path = self
            .root
            .join("log/checkpoints")
            .join(report.log_size.to_string());
        let checkpoint =
            std::fs::read_to_string(&checkpoint_path).map_err(with_path(&checkpoint_path))?;
        let body = format!(
            "{}\nThe log's signed checkpoint after this run. Keep this mail: \
             `spoor verify --store STORE --pubkey KEY --since THIS-MAIL` shows whether the \
             log was later rolled back or rewritten.\n\n{checkpoint}",
            report.summary()
        );
        let attachment = notify::Attachment {
            name: format!("checkpoint-{}.txt", report.log_size),
            text: checkpoint,
        };
        report.notification = Some(notify::send(
            &self.config.notify,
            url,
            &subject,
            body,
            Some(attachment),
        )?);
        crate::run::report::write_report(self, report)
    }

    /// Takes the store's lock for a scheduled check, waiting for a run
    /// that holds it to finish (`waiting` is told who holds it): the check
    /// then reads a store nobody changes, and its outcome is recorded
    /// with [`FixityLock::record`] before the lock is let go.
    ///
    /// # Errors
    /// When the lock file cannot be opened or locked.
    pub fn lock_for_fixity(&self, waiting: &dyn Fn(&str)) -> Result<FixityLock<'_>, Error> {
        Ok(FixityLock {
            store: self,
            _lock: StoreLock::acquire_waiting(&self.root, waiting)?,
        })
    }

    /// Archives every input; returns the report (also written to `runs/`).
    ///
    /// # Errors
    /// Only when the run cannot happen at all (catalogue unusable, report not
    /// writable); a failing input is reported in its [`InputReport`].
    pub fn run(
        &self,
        inputs: &[PathBuf],
        key: &SigningKey,
        progress: &dyn Fn(RunProgress<'_>),
    ) -> Result<RunReport, Error> {
        crate::run::run_inputs(self, inputs, Vec::new(), None, key, progress)
    }

    /// Archives every export in `inbox` that is ready (see
    /// [`InboxOptions`]); those still being delivered are reported as
    /// [`InputStatus::Waiting`] and left for the next run.
    ///
    /// # Errors
    /// As [`Store::run`], and when the inbox cannot be read.
    pub fn run_inbox(
        &self,
        inbox: &Path,
        options: &InboxOptions,
        key: &SigningKey,
        progress: &dyn Fn(RunProgress<'_>),
    ) -> Result<RunReport, Error> {
        let inbox::Scan { ready, waiting } = inbox::scan(inbox, options.settle)?;
        let waiting = waiting
            .into_iter()
            .map(|(path, why)| InputReport {
                status: InputStatus::Waiting,
                error: Some(why),
                ..InputReport::new(&path)
            })
            .collect();
        crate::run::run_inputs(
            self,
            &ready,
            waiting,
            options.move_done.then_some(inbox),
            key,
            progress,
        )
    }

    /// Removes what an interrupted run left: everything in `tmp/` (staging
    /// folders, unfinished zips, decrypted working copies), and the
    /// temporary files of writes it did not finish in `intake/`, `runs/`
    /// and `log/`. `tmp/` is made private to the store's owner (mode 0700),
    /// since decrypted sources are worked on there. Only called under the
    /// store lock.
    pub(crate) fn clear_work_space(&self) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = self.work_space();
        fs::create_dir_all(&tmp).map_err(with_path(&tmp))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700)).map_err(with_path(&tmp))?;
        for entry in fs::read_dir(&tmp).map_err(with_path(&tmp))?.flatten() {
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(with_path(&path))?;
        }
        for dir in ["intake", "runs", "log"] {
            let dir = self.root.join(dir);
            let removed = remove_leftovers(&dir).map_err(with_path(&dir))?;
            if removed > 0 {
                tracing::warn!(folder = %dir.display(), removed, "removed unfinished files of an interrupted run");
            }
        }
        Ok(())
    }

    /// The package with this id, from the catalogue, else by looking in
    /// `packages/` (the catalogue may have been lost).
    pub(crate) fn find_package(
        &self,
        catalog: &Catalog,
        package_id: &str,
    ) -> Result<Option<String>, Error> {
        if let Some(path) = catalog.package_path(package_id)? {
            if self.root.join(&path).is_file() {
                return Ok(Some(path));
            }
        }
        let name = format!("{package_id}.zip");
        Ok(files_under(&self.root.join("packages"), "zip")?
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n == name.as_str()))
            .map(|p| self.relative(&p)))
    }

    /// Builds the evidence bundle for one record: its line, its blobs'
    /// hashes, its log entry, leaf index, inclusion proof and the latest
    /// signed checkpoint, as canonical JSON (docs/FORMAT.md §12).
    ///
    /// # Errors
    /// [`Error::Usage`] for an unknown record, and the errors of reading the
    /// package or the log.
    pub fn prove(&self, record_id: &str) -> Result<Vec<u8>, Error> {
        crate::prove::evidence(self, record_id)
    }

    /// `STORE/tmp/`: where a run stages, seals and decrypts before anything
    /// is renamed into the store; private (0700) and emptied by every run.
    pub(crate) fn work_space(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(crate) fn relative(&self, path: &Path) -> String {
        relative_to(&self.root, path)
    }
}

/// `path` relative to the store's `root`, as the catalogue and the log name
/// files.
pub(crate) fn relative_to(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// `$HOME/.config/spoor/keys/<store id>.key`.
fn default_key_file(store_id: &str) -> Result<PathBuf, Error> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Error::Usage("no HOME to keep the private key under; give a key file".to_owned())
        })?;
    Ok(PathBuf::from(home)
        .join(".config/spoor/keys")
        .join(format!("{store_id}.key")))
}

/// Writes a private key readable by its owner only (mode 0600), refusing to
/// overwrite an existing file.
fn write_private_key(path: &Path, key: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(with_path(path))?;
    file.write_all(format!("{key}\n").as_bytes())
        .map_err(with_path(path))?;
    file.sync_all().map_err(with_path(path))
}

/// Files with the given extension anywhere under `dir`, sorted.
pub(crate) fn files_under(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let entries = match fs::read_dir(&current) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Io {
                    path: current,
                    source: e,
                })
            }
        };
        for entry in entries {
            let path = entry.map_err(with_path(&current))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
