//! The HTTP side of pveproxy: its response headers, the delay on every 401 answer, and serving.
//! Serving is plain HTTP for now; HTTPS (a generated cluster CA and node certificate) will be a
//! second `serve_*` function next to [`serve_plain`], chosen in `Simulator::start`.

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::state::SimState;
use super::util::{http_date, now_secs};

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

/// Serves `app` on `listener` until `stop` fires (or its sender is dropped).
pub(crate) async fn serve_plain(
    listener: TcpListener,
    app: Router,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = stop.await;
        })
        .await
}
