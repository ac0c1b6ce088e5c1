//! Load and soak harness (not a timed test; prints figures): the real `cecyber` binary in demo
//! mode, used for a while by many people at once, as they would use it:
//! - each user (one in five an admin, two operators, two viewers, all logged in through the
//!   Users API) loads every page it may see and calls every read-only server function it may
//!   call, in a shuffled order, over the demo cluster's VMs in turn, with a random think time
//!   between requests;
//! - live streams (`GET /api/live?view=overview`) stay open, their events counted and a stream
//!   that ends reopened;
//! - consoles (operators and admins) stay open through the relay, asking for a full framebuffer
//!   update twice a second, and reconnect when they end;
//! - `/healthz` is probed every 250 ms with a 1 s limit.
//!
//! At the end it prints requests per second, latency (p50/p99/max) and errors per route, errors
//! by kind, live events and reopenings, console frames and reconnections, `/healthz` misses, and
//! the server's memory (RSS) and CPU time. It asserts only what must always hold: no request
//! went without an answer for 15 s ("hung"), `/healthz` always answered within 1 s, and no
//! answer was a 5xx.
//!
//! Run (release, 10 minutes by default):
//! `cargo test -p server --release --test soak -- --ignored --nocapture`
//!
//! Settings: `SOAK_USERS` (50), `SOAK_SECS` (600), `SOAK_CONSOLES` (5), `SOAK_STREAMS` (one per
//! user), `SOAK_THINK_MS` (`50-200`: a random pause in that range between one user's requests;
//! a single number for a fixed pause). A short run:
//! `SOAK_USERS=10 SOAK_SECS=30 cargo test -p server --release --test soak -- --ignored --nocapture`

mod support;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use rand::{Rng, seq::SliceRandom};
use serde_json::Value;
use support::{
    Viewer, Vm, Ws,
    process::{ServerProcess, fresh_dir},
};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

/// Longest a request may go without its complete answer before it counts as hung.
const REQUEST_LIMIT: Duration = Duration::from_secs(15);
/// How often `/healthz` is asked, and how soon it must answer.
const HEALTH_EVERY: Duration = Duration::from_millis(250);
const HEALTH_LIMIT: Duration = Duration::from_secs(1);
/// How often an open console asks for a full framebuffer update.
const FRAME_EVERY: Duration = Duration::from_millis(500);
/// Pause before a stream or console that ended is opened again (noVNC waits too).
const REOPEN_AFTER: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak harness: prints figures; run it in release with --ignored --nocapture"]
async fn soak() {
    let settings = Settings::from_env();
    let server = ServerProcess::start(&fresh_dir("soak"), &[]).await;
    let pid = server.pid();
    let memory_at_boot = memory(pid);
    let started = Instant::now();
    let users = create_users(&server, settings.users).await;
    let vms = demo_vms(&server, &users[0].cookie).await;
    eprintln!(
        "set up {} users in {:.1} s; {} VMs; running for {} s…",
        users.len(),
        started.elapsed().as_secs_f64(),
        vms.all.len(),
        settings.run.as_secs()
    );

    let memory_before = memory(pid);
    let cpu_before = cpu_time(pid);
    let run = Run {
        base: server.base.clone(),
        addr: server.addr,
        deadline: Instant::now() + settings.run,
        figures: Arc::new(Figures::default()),
    };
    let report = run.all(&settings, &users, &vms).await;
    let cpu = cpu_time(pid)
        .zip(cpu_before)
        .map(|(after, before)| after - before);

    print_settings(&settings, &users);
    report.print(&run.figures, settings.run);
    let memory = [
        ("at boot", memory_at_boot),
        ("after the logins", memory_before),
        ("at the end", memory(pid)),
    ];
    print_server(&memory, cpu, settings.run);
    print_log_summary(&server.log());
    report.check(&run.figures, &server.log());
}

/// The harness's settings, from `SOAK_*` environment variables.
struct Settings {
    users: usize,
    run: Duration,
    consoles: usize,
    streams: usize,
    /// A user's pause between two requests: a random number of milliseconds in this range.
    think_ms: (u64, u64),
}

impl Settings {
    fn from_env() -> Self {
        let users = env_number("SOAK_USERS", 50).max(1);
        Self {
            users,
            run: Duration::from_secs(env_number("SOAK_SECS", 600) as u64),
            consoles: env_number("SOAK_CONSOLES", 5),
            streams: env_number("SOAK_STREAMS", users),
            think_ms: think_range(&std::env::var("SOAK_THINK_MS").unwrap_or_default()),
        }
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `MIN-MAX` or a single number of milliseconds; 50–200 when unset or unreadable.
fn think_range(text: &str) -> (u64, u64) {
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let range = match text.split_once('-') {
        Some((low, high)) => number(low).zip(number(high)),
        None => number(text).map(|n| (n, n)),
    };
    let (low, high) = range.unwrap_or((50, 200));
    (low.min(high), low.max(high))
}

/// What a user may do, as the panel's roles say.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    /// One user in five is an admin, two are operators, two are viewers.
    fn of(index: usize) -> Self {
        match index % 5 {
            0 => Role::Admin,
            1 | 2 => Role::Operator,
            _ => Role::Viewer,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

/// A logged-in user of the soak.
struct User {
    role: Role,
    /// The session cookie, `name=value`.
    cookie: String,
}

/// Creates `count` users with mixed roles (through the admin) and logs each in.
async fn create_users(server: &ServerProcess, count: usize) -> Vec<User> {
    let admin = server.admin().await;
    let mut users = Vec::with_capacity(count);
    for index in 0..count {
        let role = Role::of(index);
        let name = format!("soak-{}-{index}", role.name());
        let cookie = server.user(&admin, &name, role.name()).await;
        users.push(User { role, cookie });
    }
    users
}

/// The VMs of the demo cluster.
struct Vms {
    /// Every VM, running or not.
    all: Vec<Vm>,
    /// The running ones (consoles need them).
    running: Vec<Vm>,
}

/// The VMs of the demo cluster, as `cookie`'s user sees them.
async fn demo_vms(server: &ServerProcess, cookie: &str) -> Vms {
    let running = server.vms(cookie, true).await;
    let mut all = running.clone();
    all.extend(server.vms(cookie, false).await);
    assert!(!all.is_empty(), "the demo cluster has no VMs");
    Vms { all, running }
}

/// One thing a user does: load a page, or call a server function.
enum Request {
    Page {
        /// The path's pattern, which the figures are grouped by.
        pattern: &'static str,
        path: String,
    },
    Call {
        endpoint: &'static str,
        form: Vec<(&'static str, String)>,
    },
}

impl Request {
    fn page(pattern: &'static str, path: impl Into<String>) -> Self {
        Request::Page {
            pattern,
            path: path.into(),
        }
    }

    fn call(endpoint: &'static str, form: &[(&'static str, &str)]) -> Self {
        Request::Call {
            endpoint,
            form: form.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    /// The row of the figures this request counts in.
    fn route(&self) -> String {
        match self {
            Request::Page { pattern, .. } => format!("GET {pattern}"),
            Request::Call { endpoint, .. } => format!("POST {endpoint}"),
        }
    }
}

/// Every page and read-only server function `role` may use, on `vm` and its node.
fn round(role: Role, vm: &Vm) -> Vec<Request> {
    let vmid = vm.vmid.to_string();
    let vm_path = format!("/vms/{}/{}/{vmid}", vm.cluster, vm.node);
    let on_vm = [
        ("cluster", vm.cluster.as_str()),
        ("node", vm.node.as_str()),
        ("vmid", vmid.as_str()),
    ];
    let on_node = [("cluster", vm.cluster.as_str()), ("node", vm.node.as_str())];
    let hour = [("timeframe", "hour"), ("cf", "AVERAGE")];
    let mut requests = vec![
        Request::page("/", "/"),
        Request::page("/vms/{cluster}/{node}/{vmid}", vm_path.clone()),
        Request::page(
            "/nodes/{cluster}/{node}",
            format!("/nodes/{}/{}", vm.cluster, vm.node),
        ),
        Request::page("/dashboard", "/dashboard"),
        Request::page("/alerts", "/alerts"),
        Request::call("session", &[]),
        Request::call("vms_list", &[]),
        Request::call("vm_detail", &on_vm),
        Request::call("vm_history", &[&on_vm[..], &hour].concat()),
        Request::call("node_overview", &on_node),
        Request::call("node_history", &[&on_node[..], &hour].concat()),
        Request::call("alerts_active", &[]),
        Request::call("alerts_history", &[]),
        Request::call("alert_rules", &[]),
    ];
    if role != Role::Viewer {
        requests.push(Request::page(
            "/vms/{cluster}/{node}/{vmid}/console",
            format!("{vm_path}/console"),
        ));
    }
    if role == Role::Admin {
        requests.extend([
            Request::page("/users", "/users"),
            Request::page("/wall-links", "/wall-links"),
            Request::page("/embed-links", "/embed-links"),
            Request::call("users_list", &[]),
            Request::call("wall_list", &[]),
            Request::call("embed_links_list", &[]),
        ]);
    }
    requests
}

/// Why a request did not succeed.
#[derive(Debug)]
enum Failure {
    /// An answer other than 2xx: its status and the start of its body.
    Status(u16, String),
    /// A page whose HTML stopped before `</html>` (its length).
    Incomplete(usize),
    /// No complete answer within [`REQUEST_LIMIT`].
    Hung,
    /// The connection failed or broke.
    Connection(String),
}

impl Failure {
    /// The row of "errors by kind" it counts in.
    fn kind(&self) -> String {
        match self {
            Failure::Status(status, _) => format!("status {status}"),
            Failure::Incomplete(_) => "incomplete page".into(),
            Failure::Hung => format!("hung (no answer in {} s)", REQUEST_LIMIT.as_secs()),
            Failure::Connection(_) => "connection error".into(),
        }
    }

    fn detail(&self) -> String {
        match self {
            Failure::Status(status, body) => format!("{status}: {body}"),
            Failure::Incomplete(len) => format!("page ended after {len} bytes"),
            Failure::Hung => self.kind(),
            Failure::Connection(error) => error.clone(),
        }
    }
}

/// An HTTP client as one browser has: its own connections, no redirects followed.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends `request` with `cookie` and reads the whole answer; its body, or what went wrong.
async fn perform(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    request: &Request,
) -> Result<String, Failure> {
    let builder = match request {
        Request::Page { path, .. } => http.get(format!("{base}{path}")),
        Request::Call { endpoint, form } => http
            .post(format!("{base}/api/{endpoint}"))
            .header("accept", "application/json")
            .form(form),
    };
    let whole = async {
        let broke = |e: reqwest::Error| Failure::Connection(e.to_string());
        let response = builder
            .header("cookie", cookie)
            .send()
            .await
            .map_err(broke)?;
        let status = response.status();
        let body = response.text().await.map_err(broke)?;
        if !status.is_success() {
            let start = body.chars().take(160).collect();
            return Err(Failure::Status(status.as_u16(), start));
        }
        if matches!(request, Request::Page { .. }) && !body.contains("</html>") {
            return Err(Failure::Incomplete(body.len()));
        }
        Ok(body)
    };
    timeout(REQUEST_LIMIT, whole)
        .await
        .unwrap_or(Err(Failure::Hung))
}

/// Every request's latency and failures, by route, from all tasks.
#[derive(Default)]
struct Figures(Mutex<Tally>);

#[derive(Default)]
struct Tally {
    routes: BTreeMap<String, Route>,
    /// Failures by [`Failure::kind`].
    errors: BTreeMap<String, u64>,
    /// The first few failures in full, to show.
    examples: Vec<String>,
}

#[derive(Default)]
struct Route {
    latencies: Vec<Duration>,
    errors: u64,
}

impl Figures {
    fn record(&self, route: &str, took: Duration, result: Result<(), &Failure>) {
        let mut tally = self.0.lock().unwrap();
        let row = tally.routes.entry(route.to_owned()).or_default();
        row.latencies.push(took);
        if let Err(failure) = result {
            row.errors += 1;
            *tally.errors.entry(failure.kind()).or_default() += 1;
            if tally.examples.len() < 8 {
                tally
                    .examples
                    .push(format!("{route}: {}", failure.detail()));
            }
        }
    }

    /// How many failures were of a kind that `is` picks.
    fn count(&self, is: impl Fn(&str) -> bool) -> u64 {
        let tally = self.0.lock().unwrap();
        tally
            .errors
            .iter()
            .filter(|(kind, _)| is(kind))
            .map(|(_, n)| n)
            .sum()
    }
}

/// A 5xx kind of [`Failure::kind`].
fn is_server_error(kind: &str) -> bool {
    kind.strip_prefix("status ")
        .and_then(|s| s.parse::<u16>().ok())
        .is_some_and(|status| status >= 500)
}

/// The soak itself: what every task shares.
#[derive(Clone)]
struct Run {
    base: String,
    addr: SocketAddr,
    deadline: Instant,
    figures: Arc<Figures>,
}

/// What the streams, consoles and the prober saw, gathered at the end.
struct Report {
    streams: Vec<StreamTally>,
    consoles: Vec<ConsoleTally>,
    frames: Arc<Frames>,
    health: HealthTally,
}

impl Run {
    /// Runs users, streams, consoles and the prober until the deadline; waits for them all.
    async fn all(&self, settings: &Settings, users: &[User], vms: &Vms) -> Report {
        let everything = Arc::new(vms.all.clone());
        let frames = Arc::new(Frames::default());
        let health = tokio::spawn(probe_health(self.base.clone(), self.deadline));
        let browsing: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(index, user)| {
                let run = self.clone();
                let (role, cookie) = (user.role, user.cookie.clone());
                let (vms, think) = (Arc::clone(&everything), settings.think_ms);
                tokio::spawn(async move { run.browse(role, cookie, index, vms, think).await })
            })
            .collect();
        let streams: Vec<_> = (0..settings.streams)
            .map(|i| {
                let run = self.clone();
                let cookie = users[i % users.len()].cookie.clone();
                tokio::spawn(async move { run.watch_live(cookie).await })
            })
            .collect();
        let consoles: Vec<_> = console_targets(settings.consoles, users, &vms.running)
            .into_iter()
            .map(|(cookie, vm)| {
                let (run, frames) = (self.clone(), Arc::clone(&frames));
                tokio::spawn(async move { run.keep_console(cookie, vm, frames).await })
            })
            .collect();
        for user in browsing {
            user.await.unwrap();
        }
        Report {
            streams: futures::future::join_all(streams)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect(),
            consoles: futures::future::join_all(consoles)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect(),
            frames,
            health: health.await.unwrap(),
        }
    }

    /// One user: rounds of every page and read call, each round on the next VM, a random
    /// pause between requests.
    async fn browse(
        &self,
        role: Role,
        cookie: String,
        index: usize,
        vms: Arc<Vec<Vm>>,
        think_ms: (u64, u64),
    ) {
        let http = client();
        // Users do not all arrive at the same instant.
        self.think(think_ms).await;
        for turn in index.. {
            let mut requests = round(role, &vms[turn % vms.len()]);
            requests.shuffle(&mut rand::thread_rng());
            for request in &requests {
                if Instant::now() >= self.deadline {
                    return;
                }
                let started = Instant::now();
                let result = perform(&http, &self.base, &cookie, request).await;
                self.figures.record(
                    &request.route(),
                    started.elapsed(),
                    result.as_ref().map(drop),
                );
                self.think(think_ms).await;
            }
        }
    }

    /// Sleeps a random time in `think_ms`, or until the deadline.
    async fn think(&self, (low, high): (u64, u64)) {
        let ms = rand::thread_rng().gen_range(low..=high);
        self.pause(Duration::from_millis(ms)).await;
    }

    /// Sleeps `time`, or until the deadline.
    async fn pause(&self, time: Duration) {
        sleep_until(self.deadline.min(Instant::now() + time)).await;
    }

    /// One live stream, reopened whenever it ends before the deadline.
    async fn watch_live(&self, cookie: String) -> StreamTally {
        let http = client();
        let mut tally = StreamTally::default();
        loop {
            let started = Instant::now();
            let opened = open_stream(&http, &self.base, &cookie).await;
            self.figures.record(
                "GET /api/live (open)",
                started.elapsed(),
                opened.as_ref().map(drop),
            );
            if let Ok(response) = opened {
                tally.read(response, self.deadline).await;
            }
            if Instant::now() >= self.deadline {
                return tally;
            }
            tally.reopenings += 1;
            self.pause(REOPEN_AFTER).await;
        }
    }

    /// One console, reconnected whenever it ends before the deadline.
    async fn keep_console(&self, cookie: String, vm: Vm, frames: Arc<Frames>) -> ConsoleTally {
        let http = client();
        let mut tally = ConsoleTally::default();
        loop {
            let ended = self.console_session(&http, &cookie, &vm, &frames).await;
            if Instant::now() >= self.deadline {
                return tally;
            }
            tally.reconnections += 1;
            if tally.ends.len() < 5 {
                tally.ends.push(ended);
            }
            self.pause(REOPEN_AFTER).await;
        }
    }

    /// Opens a console on `vm` and watches it until it ends or the deadline; why it ended.
    async fn console_session(
        &self,
        http: &reqwest::Client,
        cookie: &str,
        vm: &Vm,
        frames: &Arc<Frames>,
    ) -> String {
        let vmid = vm.vmid.to_string();
        let open = Request::call(
            "console_open",
            &[
                ("cluster", &vm.cluster),
                ("node", &vm.node),
                ("vmid", &vmid),
            ],
        );
        let started = Instant::now();
        let opened = perform(http, &self.base, cookie, &open).await;
        self.figures
            .record(&open.route(), started.elapsed(), opened.as_ref().map(drop));
        let path = match opened {
            Ok(body) => ws_path(&body),
            Err(failure) => return failure.detail(),
        };
        let Some(path) = path else {
            return "console_open answered without a ws_path".into();
        };
        let started = Instant::now();
        let upgraded = connect_console(self.addr, &self.base, &path, cookie).await;
        self.figures.record(
            "WS /api/console/ws (upgrade)",
            started.elapsed(),
            upgraded.as_ref().map(drop),
        );
        let ws = match upgraded {
            Ok(ws) => ws,
            Err(failure) => return failure.detail(),
        };
        // The support viewer panics on a broken connection; its own task turns that into an end.
        let watching = tokio::spawn(watch_frames(ws, self.deadline, Arc::clone(frames)));
        match watching.await {
            Ok(ended) => ended,
            Err(error) => format!("viewer failed: {error}"),
        }
    }
}

/// `ws_path` of `console_open`'s answer.
fn ws_path(body: &str) -> Option<String> {
    let ticket: Value = serde_json::from_str(body).ok()?;
    ticket["ws_path"].as_str().map(str::to_owned)
}

/// Which consoles to keep open: `count` of them, by operators and admins, on `running` VMs
/// (each on another VM while there are enough).
fn console_targets(count: usize, users: &[User], running: &[Vm]) -> Vec<(String, Vm)> {
    let allowed: Vec<&User> = users.iter().filter(|u| u.role != Role::Viewer).collect();
    if allowed.is_empty() || running.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|i| {
            let user = allowed[i % allowed.len()];
            (user.cookie.clone(), running[i % running.len()].clone())
        })
        .collect()
}

/// Opens the dashboard's live stream: the response once its headers came, or what went wrong.
async fn open_stream(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
) -> Result<reqwest::Response, Failure> {
    let send = http
        .get(format!("{base}/api/live?view=overview"))
        .header("cookie", cookie)
        .send();
    match timeout(REQUEST_LIMIT, send).await {
        Err(_) => Err(Failure::Hung),
        Ok(Err(error)) => Err(Failure::Connection(error.to_string())),
        Ok(Ok(response)) if !response.status().is_success() => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Err(Failure::Status(status, body.chars().take(160).collect()))
        }
        Ok(Ok(response)) => Ok(response),
    }
}

/// What one live stream received.
#[derive(Default)]
struct StreamTally {
    events: u64,
    reopenings: u64,
    /// Longest time between two events (or between opening and the first).
    longest_silence: Duration,
}

impl StreamTally {
    /// Counts the `event:` lines of `response` until it ends or the deadline.
    async fn read(&mut self, response: reqwest::Response, deadline: Instant) {
        let mut body = response.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        let mut last = Instant::now();
        while let Ok(Some(Ok(chunk))) = timeout_at(deadline, body.next()).await {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                if pending[start..start + end].starts_with(b"event:") {
                    self.events += 1;
                    self.longest_silence = self.longest_silence.max(last.elapsed());
                    last = Instant::now();
                }
                start += end + 1;
            }
            pending.drain(..start);
        }
    }
}

/// Opens the console WebSocket as noVNC does (subprotocol `binary`, our origin, the cookie).
async fn connect_console(
    addr: SocketAddr,
    origin: &str,
    path: &str,
    cookie: &str,
) -> Result<Ws, Failure> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    headers.insert("origin", HeaderValue::from_str(origin).unwrap());
    headers.insert("cookie", HeaderValue::from_str(cookie).unwrap());
    match timeout(REQUEST_LIMIT, tokio_tungstenite::connect_async(request)).await {
        Err(_) => Err(Failure::Hung),
        Ok(Ok((ws, _))) => Ok(Ws::new(ws)),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let body = response.body().as_deref().unwrap_or_default();
            let body = String::from_utf8_lossy(body).chars().take(160).collect();
            Err(Failure::Status(response.status().as_u16(), body))
        }
        Ok(Err(error)) => Err(Failure::Connection(error.to_string())),
    }
}

/// Frames and bytes received by all consoles.
#[derive(Default)]
struct Frames {
    frames: AtomicU64,
    bytes: AtomicU64,
}

/// What one console went through.
#[derive(Default)]
struct ConsoleTally {
    reconnections: u64,
    /// Why its first sessions ended early.
    ends: Vec<String>,
}

/// The RFB handshake, then a full framebuffer update every [`FRAME_EVERY`] until the deadline;
/// why the console ended (empty at the deadline).
async fn watch_frames(ws: Ws, deadline: Instant, frames: Arc<Frames>) -> String {
    let Ok((mut viewer, _)) = timeout_at(deadline, Viewer::handshake(ws)).await else {
        return String::new();
    };
    loop {
        let next = Instant::now() + FRAME_EVERY;
        viewer.request_update(false).await;
        match timeout_at(deadline, viewer.read_update()).await {
            Err(_) => return String::new(),
            Ok(Err(ended)) => return format!("console ended: {ended:?}"),
            Ok(Ok(rects)) => {
                // The update's header, and each rectangle's header and pixels.
                let bytes: usize = 4 + rects.iter().map(|(_, size)| 12 + size).sum::<usize>();
                frames.frames.fetch_add(1, Ordering::Relaxed);
                frames.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            }
        }
        sleep_until(deadline.min(next)).await;
    }
}

/// What the `/healthz` prober saw.
#[derive(Default)]
struct HealthTally {
    probes: u64,
    misses: u64,
    slowest: Duration,
}

/// Asks `/healthz` every [`HEALTH_EVERY`] until the deadline; a miss is a failure or an answer
/// later than [`HEALTH_LIMIT`].
async fn probe_health(base: String, deadline: Instant) -> HealthTally {
    let http = reqwest::Client::new();
    let mut tally = HealthTally::default();
    let mut ticks = tokio::time::interval(HEALTH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while ticks.tick().await < deadline {
        let started = Instant::now();
        let answer = http
            .get(format!("{base}/healthz"))
            .timeout(HEALTH_LIMIT)
            .send()
            .await;
        tally.probes += 1;
        tally.slowest = tally.slowest.max(started.elapsed());
        if !answer.is_ok_and(|r| r.status().is_success()) {
            tally.misses += 1;
        }
    }
    tally
}

fn print_settings(settings: &Settings, users: &[User]) {
    let of = |role| users.iter().filter(|u| u.role == role).count();
    println!(
        "\nsoak: {} users ({} admins, {} operators, {} viewers), {} s, {} live streams, \
         {} consoles, think {}–{} ms",
        users.len(),
        of(Role::Admin),
        of(Role::Operator),
        of(Role::Viewer),
        settings.run.as_secs(),
        settings.streams,
        settings.consoles,
        settings.think_ms.0,
        settings.think_ms.1
    );
}

impl Report {
    fn print(&self, figures: &Figures, run: Duration) {
        print_routes(figures, run);
        self.print_streams(run);
        self.print_consoles(run);
        let health = &self.health;
        println!(
            "/healthz: {} probes, {} misses (over {} s or failed), slowest {:.1} ms",
            health.probes,
            health.misses,
            HEALTH_LIMIT.as_secs(),
            ms(health.slowest)
        );
    }

    fn print_streams(&self, run: Duration) {
        let events: u64 = self.streams.iter().map(|s| s.events).sum();
        let reopenings: u64 = self.streams.iter().map(|s| s.reopenings).sum();
        let silence = self.streams.iter().map(|s| s.longest_silence).max();
        let per_minute = events as f64 / self.streams.len().max(1) as f64 * 60.0 / secs(run);
        println!(
            "live streams: {} open, {events} events ({per_minute:.1} per stream per minute), \
             {reopenings} reopenings, longest silence {:.1} s",
            self.streams.len(),
            silence.unwrap_or_default().as_secs_f64()
        );
    }

    fn print_consoles(&self, run: Duration) {
        let frames = self.frames.frames.load(Ordering::Relaxed);
        let bytes = self.frames.bytes.load(Ordering::Relaxed);
        let reconnections: u64 = self.consoles.iter().map(|c| c.reconnections).sum();
        println!(
            "consoles: {} open, {frames} frames ({:.1}/s), {:.1} MB ({:.1} MB/s), \
             {reconnections} reconnections",
            self.consoles.len(),
            frames as f64 / secs(run),
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs(run)
        );
        for end in self.consoles.iter().flat_map(|c| &c.ends) {
            println!("  ended early: {end}");
        }
    }

    /// The hard invariants, after everything was printed.
    fn check(&self, figures: &Figures, log: &str) {
        let hung = figures.count(|kind| kind.starts_with("hung"));
        let server_errors = figures.count(is_server_error);
        let tail = tail(log, 30);
        assert_eq!(hung, 0, "{hung} requests hung; server log (end):\n{tail}");
        assert_eq!(
            self.health.misses, 0,
            "/healthz missed {} times (slowest {:?}); server log (end):\n{tail}",
            self.health.misses, self.health.slowest
        );
        assert_eq!(
            server_errors, 0,
            "{server_errors} answers were 5xx; server log (end):\n{tail}"
        );
    }
}

/// The per-route table, the totals, and the errors by kind.
fn print_routes(figures: &Figures, run: Duration) {
    let mut tally = figures.0.lock().unwrap();
    let total: usize = tally.routes.values().map(|r| r.latencies.len()).sum();
    println!(
        "requests: {total} in {:.0} s = {:.1}/s\n",
        secs(run),
        total as f64 / secs(run)
    );
    println!(
        "{:<44} {:>7} {:>9} {:>9} {:>9} {:>7}",
        "route", "count", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for (route, row) in &mut tally.routes {
        row.latencies.sort_unstable();
        let at = |q: f64| ms(percentile(&row.latencies, q));
        println!(
            "{route:<44} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>7}",
            row.latencies.len(),
            at(0.50),
            at(0.99),
            at(1.0),
            row.errors
        );
    }
    println!("\nerrors by kind:");
    if tally.errors.is_empty() {
        println!("  none");
    }
    for (kind, count) in &tally.errors {
        println!("  {kind:<40} {count:>7}");
    }
    for example in &tally.examples {
        println!("  e.g. {example}");
    }
    println!();
}

/// The `q` quantile (0–1) of sorted `values`.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(0.001)
}

/// The server's resident memory now and its peak so far, in kB (`/proc/<pid>/status`).
fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    field("VmRSS:").zip(field("VmHWM:"))
}

/// The server's CPU time so far (user + system, `/proc/<pid>/stat`; 100 clock ticks a second,
/// as on every Linux we run on).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line; what follows the name starts at 3.
    let total = ticks(11)? + ticks(12)?;
    Some(Duration::from_millis(total * 10))
}

/// The server's memory at the moments given (the peak from the last), and its CPU use.
fn print_server(memory: &[(&str, Option<(u64, u64)>)], cpu: Option<Duration>, run: Duration) {
    let mib = |kb: u64| kb as f64 / 1024.0;
    let samples: Vec<String> = memory
        .iter()
        .filter_map(|(when, sample)| Some(format!("{:.1} MiB {when}", mib(sample.as_ref()?.0))))
        .collect();
    let peak = memory
        .last()
        .and_then(|(_, sample)| *sample)
        .map(|(_, peak)| peak);
    match peak {
        Some(peak) => println!(
            "server RSS: {} (peak {:.1} MiB)",
            samples.join(", "),
            mib(peak)
        ),
        None => println!("server RSS: not readable"),
    }
    if let Some(cpu) = cpu {
        println!(
            "server CPU: {:.1} s ({:.0} % of one core)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() / secs(run) * 100.0
        );
    }
}

/// How many warnings and errors the server logged, and the first few errors.
fn print_log_summary(log: &str) {
    let warnings = log.lines().filter(|l| l.contains("WARN")).count();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    println!(
        "server log: {} lines, {warnings} warnings, {} errors",
        log.lines().count(),
        errors.len()
    );
    for line in errors.iter().take(5) {
        println!("  {line}");
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
