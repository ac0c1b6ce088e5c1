//! Pages are rendered on a runtime of their own, with a time limit, so that no render can take
//! the server down.
//!
//! Leptos's server-side rendering takes the reactive graph's locks (`std::sync::RwLock`) on the
//! worker thread that polls it; a lock-order inversion between `Suspense` boundaries (upstream
//! leptos-rs/leptos issues 4673, 4578, 4851) blocked both tokio workers for good, and with them
//! `/healthz`, logins, live streams and consoles. Our pages follow rules that avoid it (see
//! `app::pages`); this module makes sure that if a render ever blocks its threads again, only
//! page renders wait, and not for long:
//!
//! - every page render runs on the render runtime; its response is passed to the main runtime
//!   chunk by chunk, through a bounded channel;
//! - a render that has not produced its headers within the limit is answered with 503, and one
//!   whose body is not done by then is cut off with a notice at its end (both logged);
//! - a watchdog on the main runtime sends the render runtime a no-op task every second; when
//!   none has run for [`RenderSettings::stall`], the runtime is taken as stuck, logged, and
//!   replaced by a fresh one (the stuck threads are left behind: a blocked thread cannot be
//!   stopped, and they hold nothing the rest of the server needs).

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use futures::StreamExt;
use tokio::{
    runtime::{Handle, Runtime},
    sync::{mpsc, oneshot},
    time::Instant,
};

/// How the render runtime is sized and watched.
#[derive(Debug, Clone, Copy)]
pub struct RenderSettings {
    /// Worker threads of the render runtime.
    pub threads: usize,
    /// Longest a render may take, headers and body.
    pub timeout: Duration,
    /// How long the runtime may run none of the watchdog's tasks before it is replaced.
    pub stall: Duration,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            threads: 2,
            timeout: Duration::from_secs(40),
            stall: Duration::from_secs(5),
        }
    }
}

/// Chunks of a response body in flight between the runtimes (a browser that reads slowly
/// holds back its render, not the server's memory).
const BODY_CHUNKS: usize = 16;
/// How often the watchdog checks the render runtime.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The runtime pages are rendered on; cheap to clone.
#[derive(Clone)]
pub struct RenderPool {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RenderSettings,
    /// The current render runtime (`None` only while dropping).
    runtime: Mutex<Option<Runtime>>,
    /// Renders started and not yet finished.
    in_flight: AtomicUsize,
    /// Runtimes replaced because they were stuck.
    replaced: AtomicU64,
    /// False from a missed heartbeat until one runs again.
    responsive: AtomicBool,
}

impl Inner {
    /// A handle of the current render runtime, for spawning on it.
    fn handle(&self) -> Handle {
        self.runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .expect("the render runtime lives as long as the pool")
            .handle()
            .clone()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which is not allowed inside another
        // runtime and would hang on a stuck one.
        if let Some(runtime) = self.runtime.get_mut().ok().and_then(Option::take) {
            runtime.shutdown_background();
        }
    }
}

fn build_runtime(threads: usize, generation: u64) -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(format!("render-{generation}"))
        .enable_all()
        .build()
}

/// What [`RenderPool::health`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderHealth {
    /// The render runtime ran the watchdog's last task in time.
    pub responsive: bool,
    /// Renders in progress.
    pub in_flight: usize,
    /// Runtimes replaced since the start because they were stuck.
    pub replaced: u64,
}

impl RenderPool {
    /// Starts the render runtime; the watchdog runs on the caller's runtime until the last
    /// clone of the pool is dropped.
    pub fn start(settings: RenderSettings) -> std::io::Result<Self> {
        let runtime = build_runtime(settings.threads, 0)?;
        let pool = Self {
            inner: Arc::new(Inner {
                settings,
                runtime: Mutex::new(Some(runtime)),
                in_flight: AtomicUsize::new(0),
                replaced: AtomicU64::new(0),
                responsive: AtomicBool::new(true),
            }),
        };
        tokio::spawn(watchdog(Arc::downgrade(&pool.inner)));
        Ok(pool)
    }

    /// The render runtime's state, for `/readyz`.
    pub fn health(&self) -> RenderHealth {
        RenderHealth {
            responsive: self.inner.responsive.load(Ordering::Relaxed),
            in_flight: self.inner.in_flight.load(Ordering::Relaxed),
            replaced: self.inner.replaced.load(Ordering::Relaxed),
        }
    }

    /// Runs `render` on the render runtime and streams its response back, within the time
    /// limit; `what` names the page in the log.
    pub async fn render<F>(&self, what: String, render: F) -> Response
    where
        F: Future<Output = Response> + Send + 'static,
    {
        let deadline = Instant::now() + self.inner.settings.timeout;
        let (head_tx, head_rx) = oneshot::channel();
        let (body_tx, body_rx) = mpsc::channel(BODY_CHUNKS);
        let in_flight = InFlight::enter(&self.inner);
        let task = self.inner.handle().spawn(async move {
            let _in_flight = in_flight;
            let (parts, body) = render.await.into_parts();
            if head_tx.send(parts).is_err() {
                return;
            }
            let mut chunks = body.into_data_stream();
            while let Some(chunk) = chunks.next().await {
                if body_tx.send(chunk).await.is_err() {
                    return;
                }
            }
        });
        let abort = task.abort_handle();
        let parts = match tokio::time::timeout_at(deadline, head_rx).await {
            Ok(Ok(parts)) => parts,
            Ok(Err(_)) => {
                tracing::error!(page = %what, "page render failed before its headers");
                return unavailable("The page could not be rendered.");
            }
            Err(_) => {
                abort.abort();
                tracing::error!(
                    page = %what,
                    limit_secs = self.inner.settings.timeout.as_secs(),
                    "page render timed out before its headers"
                );
                return unavailable(&format!(
                    "The page took longer than {} s to render.",
                    self.inner.settings.timeout.as_secs()
                ));
            }
        };
        let limit = self.inner.settings.timeout;
        let body = futures::stream::unfold(Some((body_rx, abort, what)), move |state| async move {
            let (mut chunks, abort, what) = state?;
            match tokio::time::timeout_at(deadline, chunks.recv()).await {
                Ok(Some(chunk)) => Some((chunk, Some((chunks, abort, what)))),
                Ok(None) => None,
                Err(_) => {
                    abort.abort();
                    tracing::error!(page = %what, limit_secs = limit.as_secs(), "page render timed out; response cut off");
                    Some((Ok(cut_off_notice(limit)), None))
                }
            }
        });
        // Fused: the compression layer may poll the body again after its end.
        Response::from_parts(parts, Body::from_stream(body.fuse()))
    }
}

/// Counts a render in progress for as long as it is held.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn enter(inner: &Arc<Inner>) -> Self {
        inner.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(inner))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ends a page whose render ran out of time; browsers put it at the end of the body.
fn cut_off_notice(limit: Duration) -> Bytes {
    Bytes::from(format!(
        "<div class=\"error render-cut-off\" role=\"alert\" data-testid=\"render-cut-off\">\
         This page stopped loading: it took longer than {} s. Reload to try again.</div>",
        limit.as_secs()
    ))
}

fn unavailable(message: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cecyber</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}.error{{color:#a40000}}</style></head><body><main>\
         <div class=\"error\" role=\"alert\">{message} Reload to try again.</div></main></body></html>"
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Html(page),
    )
        .into_response()
}

/// Replaces the render runtime when it stops running tasks.
async fn watchdog(inner: std::sync::Weak<Inner>) {
    let mut generation = 0;
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let handle = inner.handle();
        let stall = inner.settings.stall;
        if tokio::time::timeout(stall, handle.spawn(async {}))
            .await
            .is_ok()
        {
            inner.responsive.store(true, Ordering::Relaxed);
            continue;
        }
        inner.responsive.store(false, Ordering::Relaxed);
        generation += 1;
        let fresh = match build_runtime(inner.settings.threads, generation) {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::error!(error = %e, "render runtime stuck, and no new one could be started");
                continue;
            }
        };
        tracing::error!(
            stalled_secs = stall.as_secs(),
            renders_in_flight = inner.in_flight.load(Ordering::Relaxed),
            "render runtime stuck: none of its threads ran a task; replaced by a new one"
        );
        let stuck = inner
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(fresh);
        if let Some(stuck) = stuck {
            stuck.shutdown_background();
        }
        inner.replaced.fetch_add(1, Ordering::Relaxed);
    }
}

/// Middleware: pages go to the render runtime; server functions, streams, consoles and the
/// REST API (`/api/…`), health checks and static files are served where they arrived.
pub async fn pages_apart(State(pool): State<RenderPool>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || crate::middleware::is_public(path) {
        return next.run(request).await;
    }
    let what = path.to_owned();
    pool.render(what, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(timeout_ms: u64, stall_ms: u64) -> RenderSettings {
        RenderSettings {
            threads: 1,
            timeout: Duration::from_millis(timeout_ms),
            stall: Duration::from_millis(stall_ms),
        }
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_render_runs_on_the_render_runtime_and_streams_back() {
        let pool = RenderPool::start(settings(5_000, 5_000)).unwrap();
        let response = pool
            .render("/".into(), async {
                let thread = std::thread::current().name().unwrap_or_default().to_owned();
                let chunks = futures::stream::iter(["<p>", "rendered on ", "</p>"])
                    .map(|s| Ok::<_, std::io::Error>(Bytes::from(s)));
                let mut response = Response::new(Body::from_stream(chunks));
                response
                    .headers_mut()
                    .insert("x-thread", thread.parse().unwrap());
                response
            })
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let thread = response.headers()["x-thread"].to_str().unwrap().to_owned();
        assert!(thread.starts_with("render-"), "rendered on {thread:?}");
        assert_eq!(body_text(response).await, "<p>rendered on </p>");
        assert_eq!(pool.health().in_flight, 0);
    }

    #[tokio::test]
    async fn a_render_without_headers_in_time_is_answered_503() {
        let pool = RenderPool::start(settings(200, 5_000)).unwrap();
        let response = pool.render("/slow".into(), std::future::pending()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(body_text(response).await.contains("longer than 0 s"));
    }

    #[tokio::test]
    async fn a_body_that_does_not_finish_in_time_is_cut_off_with_a_notice() {
        let pool = RenderPool::start(settings(300, 5_000)).unwrap();
        let response = pool
            .render("/stalls".into(), async {
                let first = futures::stream::once(async {
                    Ok::<_, std::io::Error>(Bytes::from("<p>start</p>"))
                });
                Response::new(Body::from_stream(first.chain(futures::stream::pending())))
            })
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = body_text(response).await;
        assert!(text.starts_with("<p>start</p>"), "{text}");
        assert!(text.contains("render-cut-off"), "{text}");
    }

    /// A render that blocks every thread of the render runtime (as the upstream deadlock did)
    /// costs its own request only: the caller's runtime keeps going, the render is answered
    /// with 503, and the watchdog puts a fresh runtime in place for the next one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_render_that_blocks_its_threads_does_not_stop_the_server() {
        let pool = RenderPool::start(settings(1_500, 500)).unwrap();
        let blocked = pool.render("/deadlock".into(), async {
            // Blocks the render runtime's only worker thread for good.
            std::thread::park();
            unreachable!()
        });
        let elsewhere = async {
            // The caller's runtime still runs timers and tasks meanwhile.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::spawn(async { 42 }).await.unwrap()
        };
        let (response, answer) = tokio::join!(blocked, elsewhere);
        assert_eq!(answer, 42);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let wait = Instant::now();
        while pool.health().replaced == 0 {
            assert!(wait.elapsed() < Duration::from_secs(5), "not replaced");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let response = pool
            .render("/after".into(), async { Response::new(Body::from("fine")) })
            .await;
        assert_eq!(body_text(response).await, "fine");
        let wait = Instant::now();
        while !pool.health().responsive {
            assert!(
                wait.elapsed() < Duration::from_secs(5),
                "not responsive again"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
