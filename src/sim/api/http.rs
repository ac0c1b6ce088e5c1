//! The HTTP side of pveproxy: its response headers, the delay on every 401 answer, and serving
//! HTTP/1.1 over TLS (or plain TCP) with hyper, which lets answers carry PVE's reason phrase.

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::sim::util::{http_date, now_secs};
use crate::sim::world::SimState;

/// Middleware on everything: holds 401 answers back (pveproxy waits 3 s minus the time spent)
/// and adds the headers pve-api-daemon sends.
pub(crate) async fn pve_headers(State(st): State<SimState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let api = req.uri().path().starts_with("/api2/");
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if api && res.status() == StatusCode::UNAUTHORIZED {
        let wait = st.auth_failure_delay().saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
    }
    tracing::debug!(%method, %path, status = res.status().as_u16(), "request");
    if api {
        let h = res.headers_mut();
        h.insert(
            header::SERVER,
            HeaderValue::from_static("pve-api-daemon/3.0"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=0"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Ok(v) = HeaderValue::from_str(&http_date(now_secs())) {
            h.insert(header::EXPIRES, v);
        }
    }
    res
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `stop` fires or its sender is
/// dropped; then stops accepting and lets open connections finish their current request.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let svc = TowerToHyperService::new(app.clone());
        let tls = tls.clone();
        let closing = closing_rx.clone();
        conns.spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => serve_connection(TokioIo::new(s), svc, closing).await,
                    Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                },
                None => serve_connection(TokioIo::new(stream), svc, closing).await,
            }
        });
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}

/// One HTTP/1.1 connection (with upgrades, for WebSockets) until it ends or the server closes.
async fn serve_connection<I>(
    io: TokioIo<I>,
    svc: TowerToHyperService<Router>,
    mut closing: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = http1::Builder::new()
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
