//! Live stream benchmark (issue 6; not a timed test, prints numbers): the simulator at 50 nodes
//! and 10,000 VMs, Cecyber with 100, 1,000 and 10,000 server-sent-events subscribers, and in the
//! same run the same viewers polling `/cluster/resources` per browser tab as PVE's web UI does.
//!
//! Run: `cargo bench -p server --bench live_sse` (about 5 minutes on 2 cores with the defaults,
//! after the build). Sizes, from the environment: `LIVE_BENCH_SUBSCRIBERS` (default
//! `100,1000,10000`), `LIVE_BENCH_NODES` (50), `LIVE_BENCH_VMS` (10000), `LIVE_BENCH_TICK_SECS`
//! (5), `LIVE_BENCH_SECS` (measured seconds per subscriber count, 60), `LIVE_BENCH_TABS` (100)
//! and `LIVE_BENCH_TAB_SECS` (30); `LIVE_BENCH_SERVER` runs another `cecyber` binary (e.g. from
//! another checkout, to compare). A quick run: `LIVE_BENCH_SUBSCRIBERS=100,1000
//! LIVE_BENCH_SECS=20 LIVE_BENCH_TAB_SECS=10 cargo bench -p server --bench live_sse`.
//!
//! Three processes, so that each one's CPU time and memory are its own:
//! - the **simulator**, this executable started again with `LIVE_BENCH_ROLE=sim` (HTTPS; the
//!   server pins its certificate and uses its API token); `GET /_sim/stats` counts the requests
//!   that reach it, per path;
//! - the **server**, the release `cecyber` binary with the simulator as its configured cluster,
//!   started fresh for each subscriber count (fresh database, nothing left from the last run);
//! - this process: the **subscribers**, raw HTTP/1.1 connections to `GET /api/live?view=overview`,
//!   each with its own admin session (as that many browsers would have), reading the chunked
//!   stream without parsing the JSON: each tick's `at_ms` (when the server published the poll,
//!   same clock) is taken from the first bytes of the event, and the lag is the time the whole
//!   event had arrived minus `at_ms`.
//!
//! The simulator refuses `/cluster/metrics/export`: the server's history backfill at 10,000 VMs
//! is ~20 million samples, which the simulator cannot build in this machine's memory; the
//! server's charts then start from its first poll (memory before the subscribers is that much
//! smaller; the figures per subscriber are unaffected).
//!
//! Per subscriber count: connect them all (at most 200 connecting at once), wait a second, then
//! measure for `LIVE_BENCH_SECS`: upstream requests per minute (simulator counters), ticks
//! published (seen by one extra reference subscriber) and events received against expected,
//! lag percentiles, the server's RSS before the subscribers came and with them (per subscriber:
//! the difference over the count), and the CPU of the server, the simulator, the subscribers and
//! the rest of the machine (other processes disturb the figures: it should be near 0).
//!
//! Per-tab polling is measured for `LIVE_BENCH_TABS` tabs against the simulator alone (before the
//! server starts): each tab asks `/cluster/resources` and, as PVE's `UpdateStore` does, asks again
//! 3 s plus twice the answer time after each answer. Larger tab counts are computed (nominally
//! 20 requests per minute per tab), not run: the simulator cannot serve them on this machine.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use app::{access::sessions, users::ssr as users};
use pve::sim::{Faults, SimConfig, Simulator};
use rand::Rng;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch},
};

/// Set in the environment of the simulator's process.
const ROLE: &str = "LIVE_BENCH_ROLE";
/// The API token secret handed to the simulator's process.
const SECRET: &str = "LIVE_BENCH_TOKEN_SECRET";
const ADMIN_PASSWORD: &str = "live-bench-admin";
/// Subscribers connecting at once (the rest wait for a snapshot to arrive).
const CONNECTING: usize = 200;
/// Bytes of each event kept to read its name, `seq` and `at_ms`.
const HEAD_BYTES: usize = 256;
const READ_BUFFER: usize = 8 * 1024;
/// PVE's web UI refreshes its resource store every 3 s (`PVE.data.UpdateStore`).
const UI_INTERVAL: Duration = Duration::from_secs(3);
/// The server's history backfill, refused by the simulator here (see [`simulator_process`]).
const BACKFILL_PATH: &str = "/cluster/metrics/export";
/// The p99 lag target at 10,000 subscribers.
const LAG_TARGET_MS: f64 = 250.0;

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("sim") {
        return simulator_process();
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("live_sse: a benchmark; run it with `cargo bench -p server --bench live_sse`");
        return;
    }
    let settings = Settings::from_env();
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(run(settings));
}

/// What to run, from the environment.
struct Settings {
    subscribers: Vec<usize>,
    nodes: usize,
    vms: usize,
    tick_secs: u64,
    window: Duration,
    tabs: usize,
    tab_window: Duration,
}

impl Settings {
    fn from_env() -> Self {
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().replace('_', "").parse().ok())
                .unwrap_or(default)
        };
        let subscribers = std::env::var("LIVE_BENCH_SUBSCRIBERS")
            .unwrap_or_else(|_| "100,1000,10000".to_owned())
            .split(',')
            .filter_map(|n| n.trim().replace('_', "").parse().ok())
            .filter(|n| *n > 0)
            .collect();
        Self {
            subscribers,
            nodes: number("LIVE_BENCH_NODES", 50) as usize,
            vms: number("LIVE_BENCH_VMS", 10_000) as usize,
            tick_secs: number("LIVE_BENCH_TICK_SECS", 5).max(1),
            window: Duration::from_secs(number("LIVE_BENCH_SECS", 60).max(5)),
            tabs: number("LIVE_BENCH_TABS", 100) as usize,
            tab_window: Duration::from_secs(number("LIVE_BENCH_TAB_SECS", 30).max(5)),
        }
    }
}

/// The simulator's process: serves until its standard input closes (the benchmark ended or
/// died), and announces `BASE_URL FINGERPRINT` on its first output line.
fn simulator_process() {
    let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let config = SimConfig {
        nodes: number("LIVE_BENCH_NODES").unwrap_or(50),
        vms: number("LIVE_BENCH_VMS").unwrap_or(10_000),
        api_token_secret: std::env::var(SECRET).ok(),
        auth_failure_delay: Duration::from_millis(100),
        faults: Faults {
            // The history export at this size is ~20 million samples (30 min × 10 s × 11
            // metrics × 10,000 VMs), more than this machine's memory as JSON: refused, so the
            // server's charts start from its first poll (see the note in the output).
            error_rates: [(BACKFILL_PATH.to_owned(), 1.0)].into_iter().collect(),
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let sim = Simulator::start(config).await.expect("simulator start");
        println!("{} {}", sim.base_url(), sim.fingerprint());
        let _ = tokio::task::spawn_blocking(|| {
            std::io::copy(&mut std::io::stdin(), &mut std::io::sink())
        })
        .await;
        sim.shutdown().await;
    });
}

async fn run(settings: Settings) {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("cecyber-live-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    println!(
        "live_sse: simulator {} nodes × {} VMs, tick {} s, {} s measured per subscriber count, \
         {} cores, load average {}; logs in {}",
        settings.nodes,
        group(settings.vms as f64),
        settings.tick_secs,
        settings.window.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        dir.display()
    );
    let sim = Sim::start(&settings).await;
    println!(
        "  simulator: pid {} at {}; it refuses {BACKFILL_PATH} (the history backfill of \
         {} VMs, ~{} million samples, does not fit in memory), so charts start empty",
        sim.process.pid(),
        sim.base_url,
        group(settings.vms as f64),
        settings.vms * 180 * 11 / 1_000_000
    );

    let tabs = if settings.tabs > 0 {
        println!(
            "  per-tab polling: {} tabs for {} s …",
            settings.tabs,
            settings.tab_window.as_secs()
        );
        let t = per_tab_polling(&sim, settings.tabs, settings.tab_window).await;
        println!(
            "    {} /cluster/resources per minute, answer p50 {:.0} ms",
            group(t.requests_per_min),
            t.answer_p50_ms
        );
        Some(t)
    } else {
        None
    };

    let mut rows = Vec::new();
    for &n in &settings.subscribers {
        println!("  {} subscribers …", group(n as f64));
        let row = sse_run(&sim, &settings, &dir, n).await;
        println!(
            "    connected in {:.1} s; lag p50 {:.0} ms, p99 {:.0} ms; {}",
            row.connect_secs,
            row.lag_p50_ms,
            row.lag_p99_ms,
            row.paths_line()
        );
        rows.push(row);
    }

    report(&settings, tabs.as_ref(), &rows);
    println!(
        "\nThe benchmark took {:.1} min.",
        started.elapsed().as_secs_f64() / 60.0
    );
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A child process that is killed when dropped.
struct Process {
    child: Child,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    fn cpu_secs(&self) -> f64 {
        cpu_secs(&format!("/proc/{}/stat", self.pid()))
    }

    fn rss_kb(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// CPU seconds the whole machine spent busy (all cores, everything but idle and I/O wait).
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4))
        .map(|(_, v)| v)
        .sum();
    busy as f64 / clock_ticks_per_sec()
}

/// User plus system CPU seconds from a `/proc/…/stat` file.
fn cpu_secs(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    ticks as f64 / clock_ticks_per_sec()
}

fn clock_ticks_per_sec() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The simulator's process and how to reach it.
struct Sim {
    process: Process,
    base_url: String,
    fingerprint: String,
    token_secret: String,
    http: reqwest::Client,
}

impl Sim {
    async fn start(settings: &Settings) -> Self {
        let token_secret = {
            let mut rng = rand::thread_rng();
            let hex = |n: usize, rng: &mut rand::rngs::ThreadRng| {
                (0..n)
                    .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
                    .collect::<String>()
            };
            [8, 4, 4, 4, 12]
                .iter()
                .map(|&n| hex(n, &mut rng))
                .collect::<Vec<_>>()
                .join("-")
        };
        let mut child = Command::new(std::env::current_exe().expect("own executable"))
            .env(ROLE, "sim")
            .env(SECRET, &token_secret)
            .env("LIVE_BENCH_NODES", settings.nodes.to_string())
            .env("LIVE_BENCH_VMS", settings.vms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("simulator process");
        let stdout = child.stdout.take().expect("simulator output");
        let line = tokio::time::timeout(
            Duration::from_secs(120),
            BufReader::new(stdout).lines().next_line(),
        )
        .await
        .expect("simulator started within 2 minutes")
        .expect("simulator output")
        .expect("simulator announced its address");
        let (base_url, fingerprint) = line.split_once(' ').expect("URL and fingerprint");
        Self {
            process: Process { child },
            base_url: base_url.to_owned(),
            fingerprint: fingerprint.to_owned(),
            token_secret,
            http: insecure_client(),
        }
    }

    fn authorization(&self) -> String {
        format!(
            "PVEAPIToken={}={}",
            pve::sim::API_TOKEN_ID,
            self.token_secret
        )
    }

    /// Requests that reached the simulator so far, per `METHOD /path/shape`.
    async fn counts(&self) -> BTreeMap<String, u64> {
        let stats: Value = self
            .http
            .get(format!("{}/_sim/stats", self.base_url))
            .send()
            .await
            .expect("GET /_sim/stats")
            .json()
            .await
            .expect("stats JSON");
        stats["requests"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The simulator's certificate is self-signed; the benchmark's own requests need no pinning.
fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("HTTP client")
}

const RESOURCES: &str = "GET /cluster/resources";

/// The difference of two counter readings.
fn delta(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// Per-tab polling, measured.
struct TabRow {
    tabs: usize,
    secs: f64,
    requests_per_min: f64,
    answers: usize,
    failures: usize,
    answer_p50_ms: f64,
    answer_p99_ms: f64,
    bytes_per_answer: f64,
    sim_cpu_pct: f64,
}

/// `tabs` browser tabs refreshing `/cluster/resources` as PVE's UI does, for `window`.
async fn per_tab_polling(sim: &Sim, tabs: usize, window: Duration) -> TabRow {
    let url = format!("{}/api2/json/cluster/resources", sim.base_url);
    let before = sim.counts().await;
    let cpu_before = sim.process.cpu_secs();
    let started = Instant::now();
    let deadline = started + window;
    let mut handles = Vec::new();
    for i in 0..tabs {
        // Each tab its own connection, opened at a different moment of the first interval.
        let http = insecure_client();
        let url = url.clone();
        let auth = sim.authorization();
        let offset = UI_INTERVAL.mul_f64(i as f64 / tabs as f64);
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut answers = Vec::new();
            let mut failures = 0;
            while Instant::now() < deadline {
                let asked = Instant::now();
                let body = match http.get(&url).header("authorization", &auth).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok(),
                    _ => None,
                };
                let took = asked.elapsed();
                match body {
                    Some(body) => answers.push((took, body.len())),
                    None => failures += 1,
                }
                // UpdateStore: the next load 3 s plus twice the last load's time after it ended
                // (cut at the end of the window, which the rate is computed over).
                let next = Instant::now() + UI_INTERVAL + took * 2;
                tokio::time::sleep_until(next.min(deadline).into()).await;
            }
            (answers, failures)
        }));
    }
    let mut answers = Vec::new();
    let mut failures = 0;
    for handle in handles {
        let (a, f) = handle.await.expect("tab task");
        answers.extend(a);
        failures += f;
    }
    let secs = started.elapsed().as_secs_f64();
    let sim_cpu = sim.process.cpu_secs() - cpu_before;
    let requests = delta(&sim.counts().await, &before)
        .get(RESOURCES)
        .copied()
        .unwrap_or(0);
    let mut times: Vec<f64> = answers.iter().map(|(d, _)| d.as_secs_f64() * 1e3).collect();
    times.sort_by(f64::total_cmp);
    TabRow {
        tabs,
        secs,
        requests_per_min: requests as f64 / secs * 60.0,
        answers: answers.len(),
        failures,
        answer_p50_ms: percentile(&times, 0.50),
        answer_p99_ms: percentile(&times, 0.99),
        bytes_per_answer: answers.iter().map(|(_, n)| *n as f64).sum::<f64>()
            / answers.len().max(1) as f64,
        sim_cpu_pct: sim_cpu / secs * 100.0,
    }
}

/// The `cecyber` server, configured with the simulator as its only cluster.
struct Server {
    process: Process,
    addr: SocketAddr,
    database_url: String,
    cookie: String,
}

impl Server {
    async fn start(sim: &Sim, settings: &Settings, dir: &Path, n: usize) -> Self {
        let addr = free_port();
        let run_dir = dir.join(format!("run-{n}"));
        let database_url = format!("sqlite://{}/cecyber.db", run_dir.display());
        std::fs::create_dir_all(&run_dir).expect("run directory");
        let log_path = run_dir.join("server.log");
        let log = std::fs::File::create(&log_path).expect("server log");
        let binary = std::env::var("LIVE_BENCH_SERVER")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cecyber").into());
        let mut command = Command::new(binary);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CECYBER_")) {
            command.env_remove(key);
        }
        command
            .current_dir(&run_dir)
            .env("RUST_LOG", "warn")
            .env("CECYBER_LISTEN", addr.to_string())
            .env("CECYBER_DATABASE_URL", &database_url)
            .env("CECYBER_SITE_ROOT", site_root())
            .env("CECYBER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CECYBER_LIVE_TICK_SECS", settings.tick_secs.to_string())
            .env("CECYBER_CLUSTERS__0__NAME", "bench")
            .env("CECYBER_CLUSTERS__0__URLS", &sim.base_url)
            .env("CECYBER_CLUSTERS__0__TOKEN_ID", pve::sim::API_TOKEN_ID)
            .env("CECYBER_CLUSTERS__0__TOKEN_SECRET", &sim.token_secret)
            .env("CECYBER_CLUSTERS__0__FINGERPRINT", &sim.fingerprint)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("server log"))
            .stderr(log)
            .kill_on_drop(true);
        let mut child = command.spawn().expect("cecyber process");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("cecyber exited ({status}); see {}", log_path.display());
            }
            let up = http.get(format!("http://{addr}/healthz")).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cecyber did not start; see {}",
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let login = http
            .post(format!("http://{addr}/api/login"))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .expect("login");
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned();
        Self {
            process: Process { child },
            addr,
            database_url,
            cookie,
        }
    }

    /// `n` more admin sessions, one per subscriber as `n` browsers would have, made with the
    /// application's own session code in the server's database (a login each would spend
    /// minutes hashing passwords); returns their cookies.
    async fn sessions(&self, n: usize) -> Vec<String> {
        let options = SqliteConnectOptions::from_str(&self.database_url)
            .expect("database URL")
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Off)
            .foreign_keys(true);
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("server database");
        let admin = users::check_login(&db, "admin", ADMIN_PASSWORD)
            .await
            .expect("admin lookup")
            .expect("admin user");
        let mut cookies = Vec::with_capacity(n);
        for _ in 0..n {
            let token = sessions::create(&db, admin.id, Duration::from_secs(3600))
                .await
                .expect("session");
            cookies.push(format!("{}={token}", sessions::COOKIE));
        }
        db.close().await;
        cookies
    }

    fn live_request(&self, cookie: &str) -> Vec<u8> {
        format!(
            "GET /api/live?view=overview HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\
             Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
            self.addr
        )
        .into_bytes()
    }
}

/// The workspace's built browser files (the stream needs none; the server wants a site root).
fn site_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site")
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// What one subscriber received.
#[derive(Default)]
struct Received {
    /// `(seq, at_ms, lag in µs)` of each tick.
    ticks: Vec<(u64, i64, i64)>,
    /// Bytes of all tick events.
    tick_bytes: u64,
    snapshots: u32,
    stale: u32,
    keep_alives: u32,
    other: u32,
    /// Chunks that were not exactly one SSE event.
    framing: u32,
    error: Option<String>,
}

enum Phase {
    Headers,
    ChunkSize,
    Data(usize),
    ChunkEnd(usize),
    Ended,
}

/// Reads a chunked SSE response: hyper writes each event as one chunk, so an event is known
/// complete at the end of its chunk without looking at the bytes in between.
struct Reader {
    phase: Phase,
    line: Vec<u8>,
    head: Vec<u8>,
    last_two: [u8; 2],
    /// Size of the current chunk (event).
    size: usize,
    got: Received,
    /// Told when the first snapshot arrived.
    ready: Option<oneshot::Sender<()>>,
    /// Held until the first snapshot arrived (limits how many connect at once).
    permit: Option<OwnedSemaphorePermit>,
    /// The reference subscriber reports each tick as it arrives.
    ticks: Option<mpsc::UnboundedSender<(u64, i64)>>,
}

impl Reader {
    fn new(ready: oneshot::Sender<()>, permit: Option<OwnedSemaphorePermit>) -> Self {
        Self {
            phase: Phase::Headers,
            line: Vec::new(),
            head: Vec::with_capacity(HEAD_BYTES),
            last_two: [0; 2],
            size: 0,
            got: Received::default(),
            ready: Some(ready),
            permit,
            ticks: None,
        }
    }

    /// Takes the bytes of one read that completed at `now_us`.
    fn feed(&mut self, mut data: &[u8], now_us: i64) -> Result<(), String> {
        while !data.is_empty() {
            match self.phase {
                Phase::Headers => {
                    self.line.extend_from_slice(data);
                    let Some(end) = find(&self.line, b"\r\n\r\n") else {
                        return Ok(());
                    };
                    let headers = String::from_utf8_lossy(&self.line[..end]).to_ascii_lowercase();
                    if !headers.starts_with("http/1.1 200") {
                        return Err(headers.lines().next().unwrap_or("").to_owned());
                    }
                    if !headers.contains("transfer-encoding: chunked") {
                        return Err("the stream is not chunked".to_owned());
                    }
                    let rest = self.line.split_off(end + 4);
                    self.line.clear();
                    self.phase = Phase::ChunkSize;
                    return self.feed(&rest, now_us);
                }
                Phase::ChunkSize => {
                    let Some(i) = data.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(data);
                        return Ok(());
                    };
                    self.line.extend_from_slice(&data[..i]);
                    data = &data[i + 1..];
                    let text = String::from_utf8_lossy(&self.line);
                    let hex = text.trim_end_matches('\r').split(';').next().unwrap_or("");
                    let size = usize::from_str_radix(hex.trim(), 16)
                        .map_err(|_| format!("bad chunk size {text:?}"))?;
                    self.line.clear();
                    self.head.clear();
                    self.last_two = [0; 2];
                    self.size = size;
                    self.phase = if size == 0 {
                        Phase::Ended
                    } else {
                        Phase::Data(size)
                    };
                }
                Phase::Data(left) => {
                    let take = left.min(data.len());
                    let (chunk, rest) = data.split_at(take);
                    data = rest;
                    let room = HEAD_BYTES - self.head.len();
                    self.head.extend_from_slice(&chunk[..room.min(take)]);
                    match chunk {
                        [.., a, b] => self.last_two = [*a, *b],
                        [b] => self.last_two = [self.last_two[1], *b],
                        [] => {}
                    }
                    if take == left {
                        self.event(now_us);
                        self.phase = Phase::ChunkEnd(2);
                    } else {
                        self.phase = Phase::Data(left - take);
                    }
                }
                Phase::ChunkEnd(left) => {
                    let take = left.min(data.len());
                    data = &data[take..];
                    self.phase = if take == left {
                        Phase::ChunkSize
                    } else {
                        Phase::ChunkEnd(left - take)
                    };
                }
                Phase::Ended => return Err("the server ended the stream".to_owned()),
            }
        }
        Ok(())
    }

    /// One whole event (chunk) arrived at `now_us`.
    fn event(&mut self, now_us: i64) {
        if &self.last_two != b"\n\n" {
            self.got.framing += 1;
        }
        let head = &self.head;
        if head.starts_with(b"event: tick\n") {
            match (
                number_after(head, b"\"seq\":"),
                number_after(head, b"\"at_ms\":"),
            ) {
                (Some(seq), Some(at_ms)) => {
                    self.got.tick_bytes += self.size as u64;
                    self.got
                        .ticks
                        .push((seq as u64, at_ms, now_us - at_ms * 1000));
                    if let Some(ticks) = &self.ticks {
                        let _ = ticks.send((seq as u64, at_ms));
                    }
                }
                _ => self.got.framing += 1,
            }
        } else if head.starts_with(b"event: snapshot\n") {
            self.got.snapshots += 1;
            self.permit = None;
            if let Some(ready) = self.ready.take() {
                let _ = ready.send(());
            }
        } else if head.starts_with(b"event: stale\n") {
            self.got.stale += 1;
        } else if head.starts_with(b":") {
            self.got.keep_alives += 1;
        } else {
            self.got.other += 1;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The decimal number right after `key` in `haystack` (`None` if cut off or absent).
fn number_after(haystack: &[u8], key: &[u8]) -> Option<i64> {
    let start = find(haystack, key)? + key.len();
    let digits = haystack[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || start + digits == haystack.len() {
        return None;
    }
    std::str::from_utf8(&haystack[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn unix_ms() -> i64 {
    unix_us() / 1000
}

/// One subscriber: connects, reads until `stop` changes, returns what it received.
async fn subscriber(
    addr: SocketAddr,
    request: Vec<u8>,
    mut reader: Reader,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let result = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        stream
            .write_all(&request)
            .await
            .map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; READ_BUFFER];
        loop {
            tokio::select! {
                read = stream.read(&mut buffer) => {
                    let n = read.map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("the server closed the connection".to_owned());
                    }
                    reader.feed(&buffer[..n], unix_us())?;
                }
                _ = stop.changed() => return Ok(()),
            }
        }
    }
    .await;
    reader.got.error = result.err();
    reader.got
}

/// One subscriber count's results.
struct SseRow {
    subscribers: usize,
    connect_secs: f64,
    failed: usize,
    secs: f64,
    upstream: BTreeMap<String, u64>,
    ticks: usize,
    expected: u64,
    got: u64,
    resyncs: u64,
    stale: u64,
    framing: u64,
    /// Average size of a tick event.
    tick_bytes: f64,
    errors: usize,
    first_error: Option<String>,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    lag_max_ms: f64,
    /// Per tick, when the last subscriber had it: median and worst.
    last_p50_ms: f64,
    last_max_ms: f64,
    /// Per tick in order, when the last subscriber had it.
    last_in_order_ms: Vec<f64>,
    rss_before_kb: u64,
    rss_with_kb: u64,
    rss_max_kb: u64,
    server_cpu_secs: f64,
    sim_cpu_secs: f64,
    clients_cpu_secs: f64,
    /// Everything else on the machine (other processes, interrupts) in the same window.
    others_cpu_secs: f64,
}

impl SseRow {
    fn per_min(&self, requests: u64) -> f64 {
        requests as f64 / self.secs * 60.0
    }

    fn upstream_total(&self) -> u64 {
        self.upstream.values().sum()
    }

    fn upstream_resources(&self) -> u64 {
        self.upstream.get(RESOURCES).copied().unwrap_or(0)
    }

    fn paths_line(&self) -> String {
        let paths: Vec<String> = self
            .upstream
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        format!(
            "upstream in {:.0} s: {}",
            self.secs,
            if paths.is_empty() {
                "none".to_owned()
            } else {
                paths.join(", ")
            }
        )
    }

    fn per_subscriber_kb(&self) -> f64 {
        (self.rss_with_kb as f64 - self.rss_before_kb as f64) / self.subscribers as f64
    }
}

/// `n` subscribers on a fresh server, measured for `settings.window`.
async fn sse_run(sim: &Sim, settings: &Settings, dir: &Path, n: usize) -> SseRow {
    let server = Server::start(sim, settings, dir, n).await;
    println!("    server: pid {}", server.process.pid());
    let cookies = server.sessions(n).await;
    let (stop_tx, stop) = watch::channel(false);
    let tick = Duration::from_secs(settings.tick_secs);

    // The reference subscriber: every tick published, and a warm server (window filled from
    // history, a few polls done) before anything is measured.
    let (ready_tx, ready) = oneshot::channel();
    let (ticks_tx, mut reference_ticks) = mpsc::unbounded_channel();
    let mut reader = Reader::new(ready_tx, None);
    reader.ticks = Some(ticks_tx);
    let reference = tokio::spawn(subscriber(
        server.addr,
        server.live_request(&server.cookie),
        reader,
        stop.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .expect("reference subscriber's snapshot within 60 s")
        .expect("reference subscriber connected");
    for _ in 0..2 {
        tokio::time::timeout(tick * 4 + Duration::from_secs(30), reference_ticks.recv())
            .await
            .expect("ticks on a warm server")
            .expect("reference subscriber reading");
    }
    let rss_before_kb = server.process.rss_kb();

    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let connect_started = Instant::now();
    let mut readies = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    for cookie in &cookies {
        let permit = Arc::clone(&connecting)
            .acquire_owned()
            .await
            .expect("semaphore");
        let (ready_tx, ready) = oneshot::channel();
        let reader = Reader::new(ready_tx, Some(permit));
        handles.push(tokio::spawn(subscriber(
            server.addr,
            server.live_request(cookie),
            reader,
            stop.clone(),
        )));
        readies.push(ready);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut failed = 0;
    for ready in readies {
        if !matches!(tokio::time::timeout_at(deadline, ready).await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The measured window.
    while reference_ticks.try_recv().is_ok() {}
    let counts_before = sim.counts().await;
    let (server_cpu, sim_cpu, clients_cpu, machine_cpu) = (
        server.process.cpu_secs(),
        sim.process.cpu_secs(),
        cpu_secs("/proc/self/stat"),
        machine_busy_secs(),
    );
    let rss_with_kb = server.process.rss_kb();
    let t0 = Instant::now();
    let t0_ms = unix_ms();
    let mut rss_max_kb = rss_with_kb;
    while t0.elapsed() < settings.window {
        tokio::time::sleep(
            Duration::from_secs(1).min(settings.window.saturating_sub(t0.elapsed())),
        )
        .await;
        rss_max_kb = rss_max_kb.max(server.process.rss_kb());
    }
    let secs = t0.elapsed().as_secs_f64();
    let t1_ms = unix_ms();
    let (server_cpu, sim_cpu, clients_cpu) = (
        server.process.cpu_secs() - server_cpu,
        sim.process.cpu_secs() - sim_cpu,
        cpu_secs("/proc/self/stat") - clients_cpu,
    );
    let others_cpu = machine_busy_secs() - machine_cpu - server_cpu - sim_cpu - clients_cpu;
    let upstream = delta(&sim.counts().await, &counts_before);

    // Late deliveries of the window's last ticks still count; then everyone stops.
    tokio::time::sleep(tick.max(Duration::from_secs(3))).await;
    let _ = stop_tx.send(true);
    let mut window_ticks = BTreeSet::new();
    while let Ok((seq, at_ms)) = reference_ticks.try_recv() {
        if (t0_ms..t1_ms).contains(&at_ms) {
            window_ticks.insert(seq);
        }
    }
    drop(reference.await);

    let mut lags = Vec::new();
    let mut last_per_tick: BTreeMap<u64, i64> = BTreeMap::new();
    let (mut resyncs, mut stale, mut framing, mut errors) = (0, 0, 0, 0);
    let (mut tick_bytes, mut tick_count) = (0, 0);
    let mut first_error = None;
    for handle in handles {
        let got = handle.await.expect("subscriber task");
        resyncs += u64::from(got.snapshots.saturating_sub(1));
        stale += u64::from(got.stale);
        framing += u64::from(got.framing + got.other);
        tick_bytes += got.tick_bytes;
        tick_count += got.ticks.len();
        if let Some(e) = got.error {
            errors += 1;
            first_error.get_or_insert(e);
        }
        for (seq, _, lag_us) in got.ticks {
            if window_ticks.contains(&seq) {
                lags.push(lag_us as f64 / 1e3);
                let last = last_per_tick.entry(seq).or_insert(lag_us);
                *last = (*last).max(lag_us);
            }
        }
    }
    drop(server);
    lags.sort_by(f64::total_cmp);
    let last_in_order_ms: Vec<f64> = last_per_tick.values().map(|&us| us as f64 / 1e3).collect();
    let mut last = last_in_order_ms.clone();
    last.sort_by(f64::total_cmp);
    SseRow {
        subscribers: n,
        connect_secs,
        failed,
        secs,
        upstream,
        ticks: window_ticks.len(),
        expected: (window_ticks.len() * n) as u64,
        got: lags.len() as u64,
        resyncs,
        stale,
        framing,
        tick_bytes: tick_bytes as f64 / tick_count.max(1) as f64,
        errors,
        first_error,
        lag_p50_ms: percentile(&lags, 0.50),
        lag_p99_ms: percentile(&lags, 0.99),
        lag_max_ms: lags.last().copied().unwrap_or(f64::NAN),
        last_p50_ms: percentile(&last, 0.50),
        last_max_ms: last.last().copied().unwrap_or(f64::NAN),
        last_in_order_ms,
        rss_before_kb,
        rss_with_kb,
        rss_max_kb,
        server_cpu_secs: server_cpu,
        sim_cpu_secs: sim_cpu,
        clients_cpu_secs: clients_cpu,
        others_cpu_secs: others_cpu.max(0.0),
    }
}

/// The value at quantile `q` of sorted `values` (NaN when empty).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12345.6` → `12,346`.
fn group(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

fn report(settings: &Settings, tabs: Option<&TabRow>, rows: &[SseRow]) {
    let tick = settings.tick_secs as f64;
    println!(
        "\n## Cecyber: one poll per tick, streamed (measured; simulator {} nodes × {} VMs, tick \
         {} s, view=overview)\n",
        settings.nodes,
        group(settings.vms as f64),
        settings.tick_secs
    );
    println!(
        "| subscribers | connect | upstream req/min (all / resources) | ticks | events got / \
         expected | resyncs, stale, bad frames, errors | lag p50 / p99 / max | last subscriber \
         per tick p50 / max | server RSS before → with (max) | per subscriber | CPU server / \
         simulator / subscribers / rest of the machine |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {:.1} s{} | {:.1} / {:.1} | {} | {} / {} | {}, {}, {}, {} | {:.1} / {:.1} / \
             {:.1} ms | {:.1} / {:.1} ms | {:.1} → {:.1} ({:.1}) MB | {:.1} KB | {:.1}% / {:.1}% / \
             {:.1}% / {:.1}% |",
            group(r.subscribers as f64),
            r.connect_secs,
            if r.failed > 0 {
                format!(" ({} failed)", r.failed)
            } else {
                String::new()
            },
            r.per_min(r.upstream_total()),
            r.per_min(r.upstream_resources()),
            r.ticks,
            group(r.got as f64),
            group(r.expected as f64),
            r.resyncs,
            r.stale,
            r.framing,
            r.errors,
            r.lag_p50_ms,
            r.lag_p99_ms,
            r.lag_max_ms,
            r.last_p50_ms,
            r.last_max_ms,
            r.rss_before_kb as f64 / 1024.0,
            r.rss_with_kb as f64 / 1024.0,
            r.rss_max_kb as f64 / 1024.0,
            r.per_subscriber_kb(),
            r.server_cpu_secs / r.secs * 100.0,
            r.sim_cpu_secs / r.secs * 100.0,
            r.clients_cpu_secs / r.secs * 100.0,
            r.others_cpu_secs / r.secs * 100.0,
        );
    }
    println!(
        "\nCPU in % of one core over the measured window ({} cores here; \"rest of the machine\" \
         is other processes and interrupts, near 0 on a quiet machine); the server's is also {}. Lag: from `at_ms` (the server published the poll) to the whole event read by the \
         subscriber in this process (1 ms resolution). Per subscriber: (RSS with − RSS before) / \
         subscribers.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        rows.iter()
            .map(|r| format!(
                "{:.0} ms per tick at {}",
                r.server_cpu_secs * 1e3 / r.ticks.max(1) as f64,
                group(r.subscribers as f64)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in rows {
        println!(
            "- {}: {}; a tick event is {} bytes",
            group(r.subscribers as f64),
            r.paths_line(),
            group(r.tick_bytes)
        );
        println!(
            "  last subscriber reached, tick by tick: {} ms",
            r.last_in_order_ms
                .iter()
                .map(|ms| format!("{ms:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(e) = &r.first_error {
            println!("  first subscriber error: {e}");
        }
    }

    println!("\n## The same viewers polling per tab, as PVE's web UI does\n");
    println!(
        "| tabs | /cluster/resources req/min | how | vs Cecyber (all upstream requests) | answer \
         p50 / p99 | bytes per answer | simulator CPU |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|");
    let cecyber_at = |n: usize| {
        rows.iter()
            .find(|r| r.subscribers == n)
            .map(|r| r.per_min(r.upstream_total()))
    };
    let ratio = |tab_rate: f64, n: usize| match cecyber_at(n) {
        Some(ours) if ours > 0.0 => format!("{:.0}×", tab_rate / ours),
        _ => "(Cecyber not run at this count)".to_owned(),
    };
    if let Some(t) = tabs {
        println!(
            "| {} | {} | measured: {} answers ({} failed) in {:.0} s | {} | {:.0} / {:.0} ms | {} | \
             {:.0}% |",
            group(t.tabs as f64),
            group(t.requests_per_min),
            group(t.answers as f64),
            t.failures,
            t.secs,
            ratio(t.requests_per_min, t.tabs),
            t.answer_p50_ms,
            t.answer_p99_ms,
            group(t.bytes_per_answer),
            t.sim_cpu_pct,
        );
    }
    for r in rows {
        if tabs.is_some_and(|t| t.tabs == r.subscribers) {
            continue;
        }
        let nominal = r.subscribers as f64 * 60.0 / UI_INTERVAL.as_secs_f64();
        println!(
            "| {} | {} | computed: 20/min per tab (not run) | {} | | | |",
            group(r.subscribers as f64),
            group(nominal),
            ratio(nominal, r.subscribers),
        );
    }
    println!(
        "\nA tab asks again 3 s plus twice the answer time after each answer (PVE's \
         UpdateStore), so a loaded PVE is asked a little less often than 20/min per tab. Only the \
         resource tree's `/cluster/resources` is counted for the tabs (PVE's UI polls more), and \
         every upstream request for Cecyber (node status too), so the ratio is conservative."
    );

    println!("\n## Targets\n");
    let one_per_tick = 60.0 / tick;
    if rows.is_empty() {
        println!("- not run: no subscriber counts given");
        return;
    }
    let smallest = &rows[0];
    let constant = rows.iter().all(|r| {
        r.per_min(r.upstream_resources()) <= one_per_tick + 1.0
            && r.per_min(r.upstream_total())
                <= smallest.per_min(smallest.upstream_total()) * 1.1 + settings.nodes as f64 + 1.0
    });
    println!(
        "- {} upstream requests constant in the number of viewers: {} per minute in all \
         (/cluster/resources: {}; one per tick = {:.0}/min; node status once a minute = {}/min)",
        if constant { "PASS" } else { "FAIL" },
        rows.iter()
            .map(|r| format!(
                "{:.1} at {}",
                r.per_min(r.upstream_total()),
                group(r.subscribers as f64)
            ))
            .collect::<Vec<_>>()
            .join(", "),
        rows.iter()
            .map(|r| format!("{:.1}", r.per_min(r.upstream_resources())))
            .collect::<Vec<_>>()
            .join(", "),
        one_per_tick,
        settings.nodes
    );
    match rows.iter().find(|r| r.subscribers == 10_000) {
        Some(r) => {
            let complete = r.got == r.expected && r.expected > 0 && r.failed == 0;
            let pass = r.lag_p99_ms < LAG_TARGET_MS && complete;
            println!(
                "- {} p99 lag under {LAG_TARGET_MS:.0} ms at 10,000 subscribers: {:.1} ms (p50 \
                 {:.1} ms, max {:.1} ms; {} of {} events, {} failed connections)",
                if pass { "PASS" } else { "FAIL" },
                r.lag_p99_ms,
                r.lag_p50_ms,
                r.lag_max_ms,
                group(r.got as f64),
                group(r.expected as f64),
                r.failed
            );
        }
        None => println!(
            "- NOT RUN p99 lag under {LAG_TARGET_MS:.0} ms at 10,000 subscribers \
             (LIVE_BENCH_SUBSCRIBERS has no 10000)"
        ),
    }
    for r in rows.iter().filter(|r| r.got != r.expected || r.failed > 0) {
        println!(
            "- note: at {} subscribers {} of {} events arrived ({} connections failed)",
            group(r.subscribers as f64),
            group(r.got as f64),
            group(r.expected as f64),
            r.failed
        );
    }
}
