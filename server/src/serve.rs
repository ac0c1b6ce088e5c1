//! Accepting connections with bounds: at most `max_connections` open at once (more are closed at
//! once, and counted), and a connection that sends no complete request headers within
//! `header_read_timeout_secs` — a new one, or an idle kept-alive one — is closed. So thousands of
//! idle or trickling connections cost bounded memory and never starve real users; what was cut
//! is logged as a summary once a minute. `axum::serve` has neither bound.
//!
//! HTTP/1.1 with upgrades (the console WebSocket), plain or over TLS ([`crate::tls`]; the TLS
//! handshake gets `header_read_timeout_secs` too). HTTP/2 belongs to a reverse proxy in front.
//!
//! Each request carries a [`ClientAddr`], resolved here once: the peer, or the client a trusted
//! proxy names in `X-Forwarded-For`, and whether it came over HTTPS.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use app::access::origin::{ClientAddr, TrustedProxies};
use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::{
    config::Config,
    shutdown::Shutdown,
    tls::{self, Certificates},
};

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

/// How connections are served: their bounds, TLS or not, whose forwarding headers count.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The bounds on connections.
    pub limits: ConnectionLimits,
    /// Cecyber's own TLS; `None`: plain HTTP.
    pub tls: Option<Arc<Certificates>>,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Arc<TrustedProxies>,
}

impl From<ConnectionLimits> for Serving {
    /// Plain HTTP, no trusted proxies.
    fn from(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            tls: None,
            trusted_proxies: Arc::default(),
        }
    }
}

impl Serving {
    /// As the configuration says; reads the TLS files when `[tls]` is set (an error names the
    /// file).
    pub fn from_config(config: &Config) -> Result<Self, tls::TlsError> {
        let tls = match config.tls.files() {
            Some((cert_file, key_file)) => Some(Certificates::load(cert_file, key_file)?),
            None => None,
        };
        Ok(Self {
            limits: config.connection_limits(),
            tls,
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        })
    }
}

/// What a connection is served with.
#[derive(Clone)]
struct Connection {
    app: Router,
    limits: ConnectionLimits,
    trusted_proxies: Arc<TrustedProxies>,
    cuts: Arc<Cuts>,
    stopping: Shutdown,
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
/// With TLS, the certificate is reloaded on SIGHUP and when its files change, meanwhile;
/// without, a SIGHUP is logged and changes nothing.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    serving: impl Into<Serving>,
    stopping: Shutdown,
) {
    let serving = serving.into();
    let limits = serving.limits;
    let acceptor = match serving.tls.as_ref().map(Certificates::acceptor).transpose() {
        Ok(acceptor) => acceptor,
        Err(e) => {
            // Only a provider without safe protocol versions fails here: not ring's.
            tracing::error!(error = %e, "no TLS configuration could be made; not serving");
            return;
        }
    };
    let reloader = match serving.tls.clone() {
        Some(certs) => tokio::spawn(tls::watch(certs, tls::WATCH_EVERY, stopping.clone())),
        None => tokio::spawn(tls::ignore_hangups(stopping.clone())),
    };
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let cuts = Arc::new(Cuts::default());
    let summary = tokio::spawn(report_cuts(Arc::clone(&cuts), limits));
    let connection = Connection {
        app,
        limits,
        trusted_proxies: serving.trusted_proxies,
        cuts: Arc::clone(&cuts),
        stopping: stopping.clone(),
    };
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
        let connection = connection.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                Some(acceptor) => serve_tls(stream, peer, acceptor, connection).await,
                None => serve_connection(stream, peer, false, connection).await,
            }
        });
    }
    drop(listener);
    // Every connection holds one permit: all of them back means all connections are closed.
    let _all_closed = open.acquire_many(limits.max_connections as u32).await;
    summary.abort();
    reloader.abort();
}

/// The TLS handshake, within the header timeout (a silent client is cut like one that sends no
/// request), then HTTP.
async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    connection: Connection,
) {
    let handshake = tokio::time::timeout(
        connection.limits.header_read_timeout,
        acceptor.accept(stream),
    );
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                connection.cuts.too_slow.fetch_add(1, Ordering::Relaxed);
                return;
            }
        },
        () = connection.stopping.begun() => return,
    };
    serve_connection(stream, peer, true, connection).await;
}

async fn serve_connection<S>(stream: S, peer: SocketAddr, tls: bool, connection: Connection)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Connection {
        app,
        limits,
        trusted_proxies,
        cuts,
        stopping,
    } = connection;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let client = ClientAddr::resolve(peer, tls, request.headers(), &trusted_proxies);
        request.extensions_mut().insert(ConnectInfo(peer));
        // Handlers and logs take the client from here (console embed links record it).
        request.extensions_mut().insert(client);
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
                "connections closed in the last minute: no request (or TLS handshake) within the header timeout"
            );
        }
    }
}
