//! Accepting connections with bounds: at most `max_connections` open at once (more are closed at
//! once, and counted), and a connection that sends no complete request headers within
//! `header_read_timeout_secs` — a new one, or an idle kept-alive one — is closed. So thousands of
//! idle or trickling connections cost bounded memory and never starve real users; what was cut
//! is logged as a summary once a minute. `axum::serve` has neither bound.
//!
//! HTTP/1.1 with upgrades (the console WebSocket); HTTPS and HTTP/2 belong to the reverse proxy
//! in front.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

use crate::shutdown::Shutdown;

/// The bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once, live streams included. A console leaves the count once its
    /// WebSocket upgrade is done (hyper hands the socket over); it needs an operator's session.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers (or stay idle between
    /// requests) before it is closed.
    pub header_read_timeout: Duration,
}

/// What was cut since the last summary.
#[derive(Default)]
struct Cuts {
    over_limit: AtomicU64,
    too_slow: AtomicU64,
}

/// How often cut connections are reported.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `stopping` begins; then lets open connections finish their
/// current request (streams and consoles end on `stopping` too) and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stopping: Shutdown,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let cuts = Arc::new(Cuts::default());
    let summary = tokio::spawn(report_cuts(Arc::clone(&cuts), limits));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or the peer left before accept: wait, do not spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopping.begun() => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            cuts.over_limit.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let cuts = Arc::clone(&cuts);
        let stopping = stopping.clone();
        tokio::spawn(async move {
            let _permit = permit;
            serve_connection(stream, peer, app, limits, &cuts, stopping).await;
        });
    }
    drop(listener);
    // Every connection holds one permit: all of them back means all connections are closed.
    let _all_closed = open.acquire_many(limits.max_connections as u32).await;
    summary.abort();
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    cuts: &Cuts,
    stopping: Shutdown,
) {
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        // Handlers record who connected (console embed links).
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move { app.oneshot(request).await }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopping.begun() => {
            // Finish the request in progress, take no new one.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            cuts.too_slow.fetch_add(1, Ordering::Relaxed);
        } else {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Logs what was cut, once a minute when anything was.
async fn report_cuts(cuts: Arc<Cuts>, limits: ConnectionLimits) {
    loop {
        tokio::time::sleep(SUMMARY_EVERY).await;
        let over_limit = cuts.over_limit.swap(0, Ordering::Relaxed);
        let too_slow = cuts.too_slow.swap(0, Ordering::Relaxed);
        if over_limit > 0 {
            tracing::warn!(
                refused = over_limit,
                max_connections = limits.max_connections,
                "connections refused in the last minute: too many open at once"
            );
        }
        if too_slow > 0 {
            tracing::info!(
                closed = too_slow,
                header_read_timeout_secs = limits.header_read_timeout.as_secs(),
                "connections closed in the last minute: no request within the header timeout"
            );
        }
    }
}
