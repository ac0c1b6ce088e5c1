//! Configuration: defaults → TOML file → `CECYBER_` environment variables → command-line flags.
//!
//! Every layer is merged into one TOML table before it is read, so each key can come from any
//! layer. Nested keys use `__` in environment variables (`CECYBER_DEMO__VMS=40`,
//! `CECYBER_CLUSTERS__0__URLS=https://a:8006,https://b:8006`). Unknown keys are reported, not
//! silently ignored.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::Parser;
use pve::client::{ClientConfig, Credentials, TlsTrust};
use serde::Deserialize;
use toml::{Table, Value};

use app::{access::origin::TrustedProxies, console::ssr::SESSION_TTL};

/// Longest console session lifetime accepted: the session is a bearer secret in a URL, so it
/// should not live long (the `vncproxy` answer in it is renewed after a few seconds anyway).
const CONSOLE_SESSION_MAX_SECS: u64 = 3600;

/// Command-line flags; each overrides the same key from the file and the environment.
#[derive(Debug, Default, Clone, Parser)]
#[command(
    name = "cecyber",
    version,
    about = "Cecyber — a web control panel for Proxmox VE"
)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, env = "CECYBER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:3000.
    #[arg(long)]
    pub listen: Option<String>,
    /// Database URL, e.g. sqlite://cecyber.db.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Directory with the built site (pkg/ and public files).
    #[arg(long)]
    pub site_root: Option<String>,
    /// Run against the built-in simulated cluster even when clusters are configured.
    #[arg(long)]
    pub demo: bool,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL (SQLite by default).
    pub database_url: String,
    /// Directory the site (wasm, JS, CSS, public files) is served from.
    pub site_root: String,
    /// How long a login lasts, in hours.
    pub session_hours: u64,
    /// Force the cookie's `Secure` flag on or off; unset means "when served over HTTPS".
    pub secure_cookies: Option<bool>,
    /// The URL browsers open Cecyber at (`https://panel.example`) when it runs behind a reverse
    /// proxy that rewrites `Host`: the same-origin checks compare with its origin instead.
    pub public_url: Option<String>,
    /// Password for the first `admin` account (otherwise a random one is printed once).
    pub admin_password: Option<String>,
    /// Milliseconds to wait before refusing a failed login (against guessing).
    pub login_failure_delay_ms: u64,
    /// Seconds between two polls of each cluster for the live view (PVE refreshes every 10 s).
    pub live_tick_secs: u64,
    /// Minutes of live history kept in memory per VM.
    pub live_window_minutes: u64,
    /// Seconds a console session made by `open_console` waits for its WebSocket (one use).
    pub console_session_secs: u64,
    /// Longest a page render or a server function may take before it is answered with 503/504
    /// (a backstop: each cluster's own `request_timeout_secs` normally ends a slow PVE call
    /// first).
    pub request_timeout_secs: u64,
    /// Worker threads of the runtime that renders pages (apart from the one serving the rest).
    pub render_threads: usize,
    /// Seconds that open streams and consoles get to close on SIGTERM/Ctrl+C before exiting.
    pub shutdown_grace_secs: u64,
    /// Connections open at once (live streams included); more are closed at once.
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's headers, or stay idle between two
    /// requests, before it is closed.
    pub header_read_timeout_secs: u64,
    /// Run the power schedules in this process (off: they are stored and shown, not run).
    pub run_schedules: bool,
    /// Built-in HTTPS (`[tls]`); unset: plain HTTP (behind a TLS proxy, or on loopback).
    pub tls: TlsConfig,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (IP
    /// addresses or CIDR ranges); nobody's by default.
    pub trusted_proxies: TrustedProxies,
    /// Settings of the built-in simulated cluster (demo mode).
    pub demo: DemoConfig,
    /// Managed clusters; at least one, unless in demo mode.
    pub clusters: Vec<ClusterConfig>,
    /// Demo mode: the built-in simulated cluster instead of the configured ones (set by
    /// `--demo`, or `CECYBER_FORCE_DEMO=true`). Never implied: a configuration without clusters
    /// is an error, so a typo cannot quietly start a demo in production.
    pub force_demo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://cecyber.db".into(),
            site_root: "target/site".into(),
            session_hours: 12,
            secure_cookies: None,
            public_url: None,
            admin_password: None,
            login_failure_delay_ms: 1000,
            live_tick_secs: 10,
            live_window_minutes: 30,
            console_session_secs: SESSION_TTL.as_secs(),
            request_timeout_secs: 40,
            render_threads: 2,
            shutdown_grace_secs: 5,
            max_connections: 20_000,
            header_read_timeout_secs: 30,
            run_schedules: true,
            tls: TlsConfig::default(),
            trusted_proxies: TrustedProxies::default(),
            demo: DemoConfig::default(),
            clusters: Vec::new(),
            force_demo: false,
        }
    }
}

impl Config {
    /// Time between two live polls.
    pub fn live_tick(&self) -> Duration {
        Duration::from_secs(self.live_tick_secs.max(1))
    }

    /// How long the collector's last `/cluster/resources` answers lists and VM look-ups
    /// instead of a call of their own: two ticks and a little (one late poll is no reason to
    /// ask PVE once per viewer).
    pub fn resources_fresh_for(&self) -> Duration {
        self.live_tick() * 2 + Duration::from_secs(2)
    }

    /// Points kept per VM: the window over the tick.
    pub fn live_points(&self) -> usize {
        (self.live_window_minutes * 60 / self.live_tick_secs.max(1)).max(1) as usize
    }

    /// How long a console session waits for its WebSocket.
    pub fn console_session_ttl(&self) -> Duration {
        Duration::from_secs(self.console_session_secs)
    }

    /// Longest time a page render or server function may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long shutdown waits for streams and consoles to close.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The bounds on connections.
    pub fn connection_limits(&self) -> crate::serve::ConnectionLimits {
        crate::serve::ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
        }
    }

    /// The origin of `public_url` (validated at load).
    pub fn public_origin(&self) -> Option<String> {
        self.public_url
            .as_deref()
            .and_then(app::access::origin::normalize_origin)
    }

    /// True when Cecyber should run against its built-in simulator.
    pub fn is_demo(&self) -> bool {
        self.force_demo
    }
}

/// Built-in HTTPS: a PEM certificate chain and its PEM private key, reloaded on SIGHUP and when
/// the files change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM file with the certificate, then any intermediates.
    pub cert_file: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// The certificate and key files; `None` for plain HTTP (load refuses only one of them).
    pub fn files(&self) -> Option<(&Path, &Path)> {
        Some((self.cert_file.as_deref()?, self.key_file.as_deref()?))
    }
}

/// The simulated cluster of demo mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DemoConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of VMs.
    pub vms: usize,
    /// Number of LXC containers (IDs from 200).
    pub containers: usize,
    /// Seed of the simulated metrics.
    pub seed: u64,
    /// Loopback port of the simulator's API (0 picks a free one).
    pub port: u16,
    /// Run each running VM as a real tiny QEMU (needs `qemu-system-x86_64`), so consoles show
    /// a real boot screen.
    pub qemu: bool,
    /// How much faster than on a real node tasks run (1: as long as on PVE).
    pub task_speed: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            vms: 12,
            containers: 3,
            seed: 42,
            port: 0,
            qemu: false,
            task_speed: 1.0,
        }
    }
}

/// One Proxmox VE cluster.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Name shown in the panel and used in its URLs.
    pub name: String,
    /// API addresses of the cluster's nodes, tried in order (`https://pve1:8006`).
    pub urls: Vec<String>,
    /// API token id, `user@realm!tokenid`.
    pub token_id: Option<String>,
    /// API token secret.
    pub token_secret: Option<String>,
    /// A file holding the API token secret instead (a systemd credential, or a root-only
    /// file); read once at start-up, surrounding whitespace ignored.
    pub token_secret_file: Option<PathBuf>,
    /// User for ticket login, `user@realm`.
    pub username: Option<String>,
    /// Password for ticket login.
    pub password: Option<String>,
    /// A file holding the password instead, like `token_secret_file`.
    pub password_file: Option<PathBuf>,
    /// PEM file with the CA that signed the nodes' certificates.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 fingerprint of the certificate to pin (PVE's default certificate is self-signed).
    pub fingerprint: Option<String>,
    /// Connect timeout in seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Per-request timeout in seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
}

fn default_connect_timeout() -> u64 {
    5
}

fn default_request_timeout() -> u64 {
    30
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .field("urls", &self.urls)
            .field("token_id", &self.token_id)
            .field("token_secret", &redact(&self.token_secret))
            .field("token_secret_file", &self.token_secret_file)
            .field("username", &self.username)
            .field("password", &redact(&self.password))
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl ClusterConfig {
    /// The client settings for this cluster, or what is wrong with the entry.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        let bad = |msg: String| ConfigError(format!("cluster {:?}: {msg}", self.name));
        let credentials = match (
            &self.token_id,
            &self.token_secret,
            &self.username,
            &self.password,
        ) {
            (Some(id), Some(secret), None, None) => Credentials::Token {
                token_id: id.clone(),
                secret: secret.clone(),
            },
            (None, None, Some(user), Some(password)) => Credentials::Password {
                username: user.clone(),
                password: password.clone(),
            },
            _ => {
                return Err(bad(
                    "set either token_id and token_secret, or username and password".into(),
                ));
            }
        };
        let tls = match (&self.ca_file, &self.fingerprint) {
            (None, None) => TlsTrust::System,
            (Some(file), None) => TlsTrust::CaFile(file.clone()),
            (None, Some(fp)) => TlsTrust::Fingerprint(fp.clone()),
            (Some(_), Some(_)) => return Err(bad("set ca_file or fingerprint, not both".into())),
        };
        Ok(ClientConfig {
            endpoints: self.urls.clone(),
            credentials,
            tls,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
        })
    }

    /// Replaces `token_secret_file` and `password_file` with the secrets they hold.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let name = self.name.clone();
        for (key, file, secret) in [
            (
                "token_secret",
                self.token_secret_file.take(),
                &mut self.token_secret,
            ),
            ("password", self.password_file.take(), &mut self.password),
        ] {
            let Some(file) = file else { continue };
            let bad = |msg: String| ConfigError(format!("cluster {name:?}: {msg}"));
            if secret.is_some() {
                return Err(bad(format!("set {key} or {key}_file, not both")));
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| bad(format!("cannot read {key}_file {}: {e}", file.display())))?;
            let text = text.trim();
            if text.is_empty() {
                return Err(bad(format!("{key}_file {} is empty", file.display())));
            }
            *secret = Some(text.to_owned());
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |msg: &str| ConfigError(format!("cluster {:?}: {msg}", self.name));
        let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.name.is_empty() || self.name.len() > 64 || !self.name.chars().all(name_ok) {
            return Err(bad("names are 1 to 64 letters, digits, '-' or '_'"));
        }
        if self.urls.is_empty() {
            return Err(bad("needs at least one API URL in `urls`"));
        }
        if let Some(url) = self
            .urls
            .iter()
            .find(|u| !(u.starts_with("https://") || u.starts_with("http://")))
        {
            return Err(bad(&format!(
                "URL {url:?} must start with https:// (or http://)"
            )));
        }
        self.client_config().map(|_| ())
    }
}

/// A configuration that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Reads every layer and returns the configuration and warnings (unknown keys).
pub fn load(
    cli: &Cli,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut table = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            text.parse::<Table>()
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
        }
        None => Table::new(),
    };
    for (key, value) in env {
        if let Some(rest) = key.strip_prefix("CECYBER_")
            && rest != "CONFIG"
        {
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            set_path(&mut table, &path, env_value(&path, &value))?;
        }
    }
    for (key, value) in [
        ("listen", &cli.listen),
        ("database_url", &cli.database_url),
        ("site_root", &cli.site_root),
    ] {
        if let Some(v) = value {
            table.insert(key.into(), Value::String(v.clone()));
        }
    }
    if cli.demo {
        table.insert("force_demo".into(), Value::Boolean(true));
    }
    let mut warnings = Vec::new();
    let mut config: Config = serde_ignored::deserialize(Value::Table(table), |path| {
        warnings.push(format!("unknown configuration key `{path}` ignored"));
    })
    .map_err(|e| ConfigError(e.to_string()))?;
    if config.clusters.is_empty() && !config.force_demo {
        return Err(ConfigError(
            "no cluster is configured: add a [[clusters]] section to the configuration file \
             (--config), or start with --demo for the built-in simulated cluster"
                .into(),
        ));
    }
    if let Some(url) = &config.public_url
        && app::access::origin::normalize_origin(url).is_none()
    {
        return Err(ConfigError(format!(
            "public_url must be an http:// or https:// URL of a host (e.g. https://panel.example), \
             not {url:?}"
        )));
    }
    if !(1..=CONSOLE_SESSION_MAX_SECS).contains(&config.console_session_secs) {
        return Err(ConfigError(format!(
            "console_session_secs must be from 1 to {CONSOLE_SESSION_MAX_SECS}, not {}",
            config.console_session_secs
        )));
    }
    for (key, value, range) in [
        (
            "request_timeout_secs",
            config.request_timeout_secs,
            1..=3600,
        ),
        ("render_threads", config.render_threads as u64, 1..=64),
        ("shutdown_grace_secs", config.shutdown_grace_secs, 0..=600),
        (
            "max_connections",
            config.max_connections as u64,
            1..=1_000_000,
        ),
        (
            "header_read_timeout_secs",
            config.header_read_timeout_secs,
            1..=3600,
        ),
    ] {
        if !range.contains(&value) {
            return Err(ConfigError(format!(
                "{key} must be from {} to {}, not {value}",
                range.start(),
                range.end()
            )));
        }
    }
    if !(config.demo.task_speed > 0.0 && config.demo.task_speed <= 1000.0) {
        return Err(ConfigError(format!(
            "demo.task_speed must be above 0 and at most 1000, not {}",
            config.demo.task_speed
        )));
    }
    if config.tls.files().is_none()
        && (config.tls.cert_file.is_some() || config.tls.key_file.is_some())
    {
        return Err(ConfigError(
            "[tls] needs both cert_file and key_file (PEM files)".into(),
        ));
    }
    for cluster in &mut config.clusters {
        cluster.read_secret_files()?;
    }
    let mut names = std::collections::HashSet::new();
    for cluster in &config.clusters {
        cluster.validate()?;
        if !names.insert(cluster.name.as_str()) {
            return Err(ConfigError(format!(
                "cluster name {:?} is used twice",
                cluster.name
            )));
        }
    }
    Ok((config, warnings))
}

/// Environment values are text; numbers and booleans are recognised, `urls` and
/// `trusted_proxies` are comma lists.
fn env_value(path: &[String], raw: &str) -> Value {
    if path
        .last()
        .is_some_and(|k| k == "urls" || k == "trusted_proxies")
    {
        return Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        );
    }
    let secret_or_text = path.last().is_some_and(|k| {
        matches!(
            k.as_str(),
            "password"
                | "token_secret"
                | "admin_password"
                | "token_id"
                | "username"
                | "name"
                | "cert_file"
                | "key_file"
                | "token_secret_file"
                | "password_file"
                | "ca_file"
                | "fingerprint"
                | "site_root"
                | "database_url"
                | "public_url"
                | "listen"
        )
    });
    if !secret_or_text {
        if let Ok(n) = raw.parse::<i64>() {
            return Value::Integer(n);
        }
        if let Ok(b) = raw.parse::<bool>() {
            return Value::Boolean(b);
        }
    }
    Value::String(raw.to_owned())
}

/// Sets `path` (table keys, or array indexes for numeric segments) in `table`.
fn set_path(table: &mut Table, path: &[String], value: Value) -> Result<(), ConfigError> {
    let (first, rest) = path
        .split_first()
        .ok_or_else(|| ConfigError("empty key".into()))?;
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(());
    }
    let slot = table.entry(first.clone()).or_insert_with(|| {
        if rest[0].parse::<usize>().is_ok() {
            Value::Array(Vec::new())
        } else {
            Value::Table(Table::new())
        }
    });
    set_in_value(slot, rest, value, first)
}

fn set_in_value(
    slot: &mut Value,
    path: &[String],
    value: Value,
    key: &str,
) -> Result<(), ConfigError> {
    match slot {
        Value::Table(t) => set_path(t, path, value),
        Value::Array(items) => {
            let index: usize = path[0].parse().map_err(|_| {
                ConfigError(format!(
                    "`{key}` is a list: use a number after it, not {:?}",
                    path[0]
                ))
            })?;
            if index > items.len() + 16 {
                return Err(ConfigError(format!(
                    "`{key}` index {index} is too far past the end of the list"
                )));
            }
            while items.len() <= index {
                items.push(Value::Table(Table::new()));
            }
            let rest = &path[1..];
            if rest.is_empty() {
                items[index] = value;
                Ok(())
            } else {
                set_in_value(&mut items[index], rest, value, key)
            }
        }
        _ => Err(ConfigError(format!("`{key}` is not a table"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line of demo mode, for the tests that configure no cluster.
    fn demo() -> Cli {
        Cli {
            demo: true,
            ..Cli::default()
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn public_url_is_an_origin() {
        let (config, _) = load(
            &demo(),
            env(&[("CECYBER_PUBLIC_URL", "https://Panel.example:443/cecyber/")]),
        )
        .unwrap();
        assert_eq!(
            config.public_origin().as_deref(),
            Some("https://panel.example")
        );
        for bad in ["panel.example", "ftp://panel", "https://*.example"] {
            let err = load(&demo(), env(&[("CECYBER_PUBLIC_URL", bad)])).unwrap_err();
            assert!(err.to_string().contains("public_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn demo_mode_is_asked_for_never_implied() {
        let err = load(&Cli::default(), env(&[])).unwrap_err();
        assert!(
            err.to_string().contains("no cluster is configured"),
            "{err}"
        );
        assert!(err.to_string().contains("--demo"), "says what to do: {err}");

        let demo = Cli {
            demo: true,
            ..Cli::default()
        };
        let (config, warnings) = load(&demo, env(&[])).unwrap();
        assert!(config.is_demo());
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert!(warnings.is_empty());
        let (config, _) = load(&Cli::default(), env(&[("CECYBER_FORCE_DEMO", "true")])).unwrap();
        assert!(config.is_demo(), "the same from the environment");
    }

    #[test]
    fn file_then_env_then_cli() {
        let dir = std::env::temp_dir().join(format!("cecyber-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            r#"
            listen = "0.0.0.0:8080"
            session_hours = 4
            [[clusters]]
            name = "prod"
            urls = ["https://pve1:8006"]
            token_id = "cecyber@pve!panel"
            token_secret = "s3cret"
            fingerprint = "AA:BB"
            "#,
        )
        .unwrap();
        let cli = Cli {
            config: Some(file),
            database_url: Some("sqlite://cli.db".into()),
            ..Cli::default()
        };
        let (config, _) = load(
            &cli,
            env(&[
                ("CECYBER_SESSION_HOURS", "8"),
                ("CECYBER_DATABASE_URL", "sqlite://env.db"),
                (
                    "CECYBER_CLUSTERS__0__URLS",
                    "https://a:8006, https://b:8006",
                ),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.listen.to_string(),
            "0.0.0.0:8080",
            "file beats default"
        );
        assert_eq!(config.session_hours, 8, "env beats file");
        assert_eq!(config.database_url, "sqlite://cli.db", "cli beats env");
        assert_eq!(
            config.clusters[0].urls,
            ["https://a:8006", "https://b:8006"]
        );
        assert!(!config.is_demo());
        let client = config.clusters[0].client_config().unwrap();
        assert!(matches!(client.tls, TlsTrust::Fingerprint(ref f) if f == "AA:BB"));
        assert!(
            !format!("{:?}", config.clusters[0]).contains("s3cret"),
            "secrets are redacted"
        );
    }

    #[test]
    fn secrets_from_files() {
        let dir = std::env::temp_dir().join(format!("cecyber-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("pve-token-secret");
        std::fs::write(&secret, "  0f1e2d3c-aaaa-bbbb-cccc-000000000001\n").unwrap();
        let file = secret.display().to_string();
        let cluster = [
            ("CECYBER_CLUSTERS__0__NAME", "prod"),
            ("CECYBER_CLUSTERS__0__URLS", "https://pve1:8006"),
            ("CECYBER_CLUSTERS__0__TOKEN_ID", "cecyber@pve!panel"),
        ];
        let with =
            |extra: &[(&str, &str)]| load(&Cli::default(), env(&[&cluster[..], extra].concat()));

        let (config, _) = with(&[("CECYBER_CLUSTERS__0__TOKEN_SECRET_FILE", &file)]).unwrap();
        let client = config.clusters[0].client_config().unwrap();
        assert!(
            matches!(client.credentials, Credentials::Token { ref secret, .. } if secret == "0f1e2d3c-aaaa-bbbb-cccc-000000000001"),
            "the file's content, trimmed"
        );

        let err = with(&[
            ("CECYBER_CLUSTERS__0__TOKEN_SECRET_FILE", &file),
            ("CECYBER_CLUSTERS__0__TOKEN_SECRET", "other"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");

        let missing = dir.join("missing").display().to_string();
        let err = with(&[("CECYBER_CLUSTERS__0__TOKEN_SECRET_FILE", &missing)]).unwrap_err();
        assert!(
            err.to_string().contains("cannot read token_secret_file")
                && err.to_string().contains(&missing),
            "names the key and the file: {err}"
        );

        std::fs::write(&secret, "\n").unwrap();
        let err = with(&[("CECYBER_CLUSTERS__0__TOKEN_SECRET_FILE", &file)]).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");

        std::fs::write(&secret, "hunter22\n").unwrap();
        let (config, _) = load(
            &Cli::default(),
            env(&[
                ("CECYBER_CLUSTERS__0__NAME", "lab"),
                ("CECYBER_CLUSTERS__0__URLS", "https://pve1:8006"),
                ("CECYBER_CLUSTERS__0__USERNAME", "root@pam"),
                ("CECYBER_CLUSTERS__0__PASSWORD_FILE", &file),
            ]),
        )
        .unwrap();
        let client = config.clusters[0].client_config().unwrap();
        assert!(
            matches!(client.credentials, Credentials::Password { ref password, .. } if password == "hunter22")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn clusters_from_env_alone() {
        let (config, _) = load(
            &Cli::default(),
            env(&[
                ("CECYBER_CLUSTERS__0__NAME", "lab"),
                ("CECYBER_CLUSTERS__0__URLS", "https://10.0.0.1:8006"),
                ("CECYBER_CLUSTERS__0__USERNAME", "root@pam"),
                ("CECYBER_CLUSTERS__0__PASSWORD", "12345678"),
            ]),
        )
        .unwrap();
        let client = config.clusters[0].client_config().unwrap();
        assert!(
            matches!(client.credentials, Credentials::Password { ref password, .. } if password == "12345678")
        );
    }

    #[test]
    fn unknown_keys_warn_and_bad_clusters_fail() {
        let (_, warnings) = load(&demo(), env(&[("CECYBER_LISTN", "x")])).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("listn"));

        let err = load(
            &Cli::default(),
            env(&[
                ("CECYBER_CLUSTERS__0__NAME", "x"),
                ("CECYBER_CLUSTERS__0__URLS", "pve1:8006"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("must start with https://"),
            "{err}"
        );

        let err = load(
            &Cli::default(),
            env(&[
                ("CECYBER_CLUSTERS__0__NAME", "x"),
                ("CECYBER_CLUSTERS__0__URLS", "https://a"),
            ]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("token_id and token_secret"),
            "{err}"
        );
    }

    #[test]
    fn console_session_lifetime() {
        let (config, _) = load(&demo(), env(&[])).unwrap();
        assert_eq!(
            config.console_session_ttl(),
            Duration::from_secs(30),
            "default"
        );

        let dir = std::env::temp_dir().join(format!("cecyber-config-cs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "console_session_secs = 90\n").unwrap();
        let cli = Cli {
            config: Some(file),
            ..demo()
        };
        let (config, warnings) = load(&cli, env(&[])).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            config.console_session_ttl(),
            Duration::from_secs(90),
            "file"
        );
        let (config, _) = load(&cli, env(&[("CECYBER_CONSOLE_SESSION_SECS", "12")])).unwrap();
        assert_eq!(
            config.console_session_ttl(),
            Duration::from_secs(12),
            "env beats file"
        );

        for bad in ["0", "3601", "-1"] {
            let err = load(&demo(), env(&[("CECYBER_CONSOLE_SESSION_SECS", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("console_session_secs"),
                "{bad}: {err}"
            );
        }
        let err = load(
            &demo(),
            env(&[("CECYBER_CONSOLE_SESSION_SECS", "half a minute")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("console_session_secs"), "{err}");
    }

    #[test]
    fn cli_demo_flag_forces_demo() {
        let cli = Cli {
            demo: true,
            ..Cli::default()
        };
        let (config, _) = load(
            &cli,
            env(&[
                ("CECYBER_CLUSTERS__0__NAME", "lab"),
                ("CECYBER_CLUSTERS__0__URLS", "https://a"),
                ("CECYBER_CLUSTERS__0__TOKEN_ID", "a@pve!b"),
                ("CECYBER_CLUSTERS__0__TOKEN_SECRET", "c"),
            ]),
        )
        .unwrap();
        assert!(config.is_demo());
    }

    #[test]
    fn tls_files_from_file_and_env() {
        let (config, _) = load(&demo(), env(&[])).unwrap();
        assert!(config.tls.files().is_none(), "plain HTTP by default");

        let dir = std::env::temp_dir().join(format!("cecyber-config-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[tls]\ncert_file = \"/etc/cecyber/cert.pem\"\nkey_file = \"/etc/cecyber/key.pem\"\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(file),
            ..demo()
        };
        let (config, warnings) = load(&cli, env(&[])).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let (cert, key) = config.tls.files().unwrap();
        assert_eq!(
            (cert.to_str(), key.to_str()),
            (Some("/etc/cecyber/cert.pem"), Some("/etc/cecyber/key.pem"))
        );

        let (config, warnings) = load(
            &demo(),
            env(&[
                ("CECYBER_TLS__CERT_FILE", "1234"),
                ("CECYBER_TLS__KEY_FILE", "/k.pem"),
                ("CECYBER_TLS__CERT_FLIE", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.tls.files().unwrap().0.to_str(),
            Some("1234"),
            "a path, even when it looks like a number"
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("tls.cert_flie"), "{warnings:?}");

        let err = load(&demo(), env(&[("CECYBER_TLS__CERT_FILE", "/c.pem")])).unwrap_err();
        assert!(err.to_string().contains("key_file"), "{err}");
    }

    #[test]
    fn trusted_proxies_are_checked_at_load() {
        let (config, _) = load(&demo(), env(&[])).unwrap();
        assert!(config.trusted_proxies.is_empty(), "nobody's by default");

        let (config, _) = load(
            &demo(),
            env(&[("CECYBER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")]),
        )
        .unwrap();
        for ip in ["127.0.0.1", "10.9.8.7", "::1"] {
            assert!(config.trusted_proxies.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(
            !config
                .trusted_proxies
                .contains("192.168.0.1".parse().unwrap())
        );
        let (config, _) = load(&demo(), env(&[("CECYBER_TRUSTED_PROXIES", "")])).unwrap();
        assert!(config.trusted_proxies.is_empty(), "empty: none");

        let err = load(
            &demo(),
            env(&[("CECYBER_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/40")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("trusted_proxies") && err.to_string().contains("10.0.0.0/40"),
            "{err}"
        );
    }
}
