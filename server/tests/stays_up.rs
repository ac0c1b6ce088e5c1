//! The server stays up under concurrent page loads: every page, 16 at a time, a few hundred
//! times each, against the real `cecyber` binary in demo mode — every load must answer in full,
//! and `/healthz` must answer within 1 s throughout. This is the regression test for the SSR
//! deadlock (both tokio workers blocked inside Leptos's reactive graph after ~16 concurrent
//! loads of the VM page, taking every other request down with them).
//!
//! `cargo test -p server --test stays_up` (`STAYS_UP_REQUESTS=N` loads per page; 240 by default).

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use reqwest::StatusCode;
use support::process::{ServerProcess, fresh_dir};

const CONCURRENCY: usize = 16;
/// Longest a page may take under this load before it counts as hung.
const PAGE_LIMIT: Duration = Duration::from_secs(10);

/// A page to load: its path, the cookie to send, the status it must answer with, and a mark
/// its loaded data shows (so a render that gave up on its data does not pass as complete).
struct Page {
    path: String,
    cookie: Option<String>,
    status: StatusCode,
    shows: &'static str,
}

impl Page {
    fn new(path: impl Into<String>, cookie: Option<&str>, status: StatusCode) -> Self {
        Self {
            path: path.into(),
            cookie: cookie.map(str::to_owned),
            status,
            shows: "</html>",
        }
    }

    fn showing(self, shows: &'static str) -> Self {
        Self { shows, ..self }
    }
}

/// Every page of the application, with what it needs to render fully.
async fn every_page(server: &ServerProcess) -> Vec<Page> {
    let admin = server.admin().await;
    let viewer = server.user(&admin, "vera", "viewer").await;
    let vm = server.vms(&admin, true).await.remove(0);
    let vm_path = format!("/vms/{}/{}/{}", vm.cluster, vm.node, vm.vmid);
    let (status, wall) = server
        .call(Some(&admin), "wall_create", &[("label", "tv")])
        .await;
    assert!(status.is_success(), "wall link: {wall}");
    let vmid = vm.vmid.to_string();
    let (status, embed) = server
        .call(
            Some(&admin),
            "embed_links_create",
            &[
                ("cluster", vm.cluster.as_str()),
                ("node", vm.node.as_str()),
                ("vmid", vmid.as_str()),
                ("origin", "https://portal.example"),
                ("ttl_secs", "3600"),
                ("single_use", "false"),
                ("view_only", "false"),
            ],
        )
        .await;
    assert!(status.is_success(), "embed link: {embed}");
    let ok = StatusCode::OK;
    let admin = Some(admin.as_str());
    vec![
        Page::new("/", admin, ok).showing("data-testid=\"vm-table\""),
        Page::new(vm_path.clone(), admin, ok).showing("data-testid=\"detail-status\""),
        Page::new(vm_path.clone(), Some(&viewer), ok).showing("data-testid=\"detail-status\""),
        Page::new(format!("{vm_path}/console"), admin, ok),
        Page::new(format!("/nodes/{}/{}", vm.cluster, vm.node), admin, ok)
            .showing("data-testid=\"node-vms\""),
        Page::new("/dashboard", admin, ok),
        Page::new("/alerts", admin, ok),
        Page::new("/tasks", admin, ok),
        Page::new("/schedules", admin, ok).showing("data-testid=\"no-schedules\""),
        Page::new("/nodes", admin, ok).showing("data-testid=\"node-table\""),
        Page::new("/users", admin, ok),
        Page::new("/wall-links", admin, ok),
        Page::new("/embed-links", admin, ok),
        Page::new("/no-such-page", admin, StatusCode::NOT_FOUND),
        Page::new("/login", None, ok),
        Page::new(wall["url"].as_str().unwrap(), None, ok),
        Page::new(embed["url"].as_str().unwrap(), None, ok),
    ]
}

/// Loads `page` once, body and all; what went wrong, if anything.
async fn load(http: &reqwest::Client, base: &str, page: &Page) -> Result<(), String> {
    let mut request = http.get(format!("{base}{}", page.path));
    if let Some(cookie) = &page.cookie {
        request = request.header("cookie", cookie);
    }
    let whole = async {
        let response = request.send().await.map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| format!("body: {e}"))?;
        if status != page.status {
            return Err(format!(
                "status {status}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        if !body.contains("</html>") || !body.contains(page.shows) {
            return Err(format!(
                "incomplete page ({} bytes, without {:?})",
                body.len(),
                page.shows
            ));
        }
        Ok(())
    };
    match tokio::time::timeout(PAGE_LIMIT, whole).await {
        Ok(result) => result,
        Err(_) => Err(format!("no complete answer within {PAGE_LIMIT:?}")),
    }
}

/// Asks `/healthz` every 100 ms until `done`; returns how often it took over 1 s (or failed)
/// and the slowest answer.
async fn probe_health(base: String, done: Arc<AtomicBool>) -> (u64, Duration) {
    let http = reqwest::Client::new();
    let mut missed = 0;
    let mut slowest = Duration::ZERO;
    while !done.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answer = http
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        slowest = slowest.max(started.elapsed());
        if !answer.is_ok_and(|r| r.status().is_success()) {
            missed += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (missed, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_answers_under_concurrent_load() {
    let requests: usize = std::env::var("STAYS_UP_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(240);
    let server = ServerProcess::start(&fresh_dir("stays-up"), &[]).await;
    let pages = every_page(&server).await;
    let done = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(probe_health(server.base.clone(), Arc::clone(&done)));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for page in &pages {
        let started = Instant::now();
        let failed = AtomicU64::new(0);
        let errors = futures::stream::iter(0..requests)
            .map(|_| load(&http, &server.base, page))
            .buffer_unordered(CONCURRENCY)
            .filter_map(|r| async { r.err() })
            .inspect(|_| {
                failed.fetch_add(1, Ordering::Relaxed);
            })
            .take(5)
            .collect::<Vec<_>>()
            .await;
        let failed = failed.into_inner();
        eprintln!(
            "{:<50} {requests} loads × {CONCURRENCY} at a time: {:>5.1} s, {failed} failed",
            page.path.chars().take(50).collect::<String>(),
            started.elapsed().as_secs_f64()
        );
        if !errors.is_empty() {
            failures.push(format!("{}: {errors:?}", page.path));
            // A hung server would make every later page fail too; stop at the first.
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    let (missed, slowest) = health.await.unwrap();
    assert!(
        failures.is_empty(),
        "pages did not answer: {failures:#?}\nserver log (end):\n{}",
        tail(&server.log(), 40)
    );
    assert_eq!(
        missed, 0,
        "/healthz missed its 1 s limit {missed} times (slowest {slowest:?})"
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// SIGTERM ends open live streams and the process, within the grace period, even while a
/// browser keeps its stream open (it would otherwise hold the graceful shutdown for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_exits_within_the_grace_period() {
    let mut server = ServerProcess::start(
        &fresh_dir("sigterm"),
        &[("CECYBER_SHUTDOWN_GRACE_SECS", "3")],
    )
    .await;
    let admin = server.admin().await;
    let stream = reqwest::Client::new()
        .get(format!("{}/api/live?view=overview", server.base))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut events = stream.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
    assert!(matches!(first, Ok(Some(Ok(_)))), "no snapshot: {first:?}");
    let started = Instant::now();
    let exit = server.signal("TERM", Duration::from_secs(8)).await;
    let status =
        exit.unwrap_or_else(|| panic!("still running 8 s after SIGTERM:\n{}", server.log()));
    assert!(status.success(), "exit status {status}:\n{}", server.log());
    // The stream ended when stopping began, not when the grace period ran out.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let rest = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(rest.is_ok(), "the live stream stayed open");
    assert!(server.log().contains("stopped"), "{}", server.log());
}

/// Reads from `stream` until the server closes it; how long that took, or `None` if it was
/// still open after `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| started.elapsed())
}

/// Connections that send nothing, or trickle half a request, are closed after the header
/// timeout; past `max_connections` new ones are closed at once; and once the idle ones are gone
/// the server answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_bounded_and_closed() {
    use tokio::io::AsyncWriteExt;
    const MAX: usize = 40;
    let server = ServerProcess::start(
        &fresh_dir("idle"),
        &[
            ("CECYBER_MAX_CONNECTIONS", "40"),
            ("CECYBER_HEADER_READ_TIMEOUT_SECS", "2"),
        ],
    )
    .await;
    // Let the start-up check's kept-alive connection go, so all slots are ours.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut idle = Vec::new();
    for i in 0..MAX {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 1 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        idle.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every slot is taken: one more connection is closed at once, unanswered.
    let mut extra = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let refused = closed_within(&mut extra, Duration::from_millis(1500)).await;
    assert!(
        refused.is_some(),
        "a connection past max_connections was served"
    );
    // The idle ones stay open until the 2 s header timeout, then are closed.
    assert!(
        closed_within(&mut idle[0], Duration::from_millis(300))
            .await
            .is_none(),
        "an idle connection was closed before its header timeout"
    );
    for (i, stream) in idle.iter_mut().enumerate() {
        let closed = closed_within(stream, Duration::from_secs(4)).await;
        assert!(closed.is_some(), "idle connection {i} still open after 4 s");
    }
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect("/healthz after the idle connections were closed");
    assert_eq!(health.status(), StatusCode::OK);
}
