//! `/healthz` (the process answers) and `/readyz` (it can do its work: the database, each
//! cluster and the page renderer answer in time). `/readyz` is public like `/healthz`, so it
//! tells only "ok" or a short kind of failure, never PVE's or the database's own messages.

use std::{future::Future, time::Duration};

use app::state::AppState;
use axum::{
    Extension, Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tokio::time::Instant;

use crate::render::RenderPool;

/// How long each check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: answers as long as the process serves requests.
pub async fn healthz() -> &'static str {
    "ok"
}

/// One check's outcome.
#[derive(Debug, Serialize)]
struct Check {
    ok: bool,
    /// Milliseconds it took.
    ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct ClusterCheck {
    name: String,
    #[serde(flatten)]
    check: Check,
}

#[derive(Debug, Serialize)]
struct RenderCheck {
    ok: bool,
    in_flight: usize,
    replaced: u64,
}

#[derive(Debug, Serialize)]
struct Readiness {
    ready: bool,
    database: Check,
    clusters: Vec<ClusterCheck>,
    render: RenderCheck,
}

async fn check<E>(
    call: impl Future<Output = Result<(), E>>,
    kind: impl Fn(&E) -> &'static str,
) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, call).await;
    let ms = started.elapsed().as_millis() as u64;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(kind(&e)),
        Err(_) => Some("timeout"),
    };
    Check {
        ok: error.is_none(),
        ms,
        error,
    }
}

fn pve_failure(e: &pve::Error) -> &'static str {
    match e {
        pve::Error::Timeout => "timeout",
        pve::Error::Connect { .. } | pve::Error::Tls { .. } => "unreachable",
        pve::Error::Unauthorized { .. } => "credentials refused",
        _ => "error",
    }
}

/// `GET /readyz`: 200 when everything answers within 2 s, else 503; JSON either way.
pub async fn readyz(
    State(state): State<AppState>,
    Extension(render): Extension<RenderPool>,
) -> Response {
    let database = check(
        async { sqlx::query("SELECT 1").execute(&state.db).await.map(drop) },
        |_: &sqlx::Error| "error",
    );
    let clusters = futures::future::join_all(state.clusters.all().iter().map(|c| async move {
        ClusterCheck {
            name: c.name.clone(),
            check: check(async { c.api.version().await.map(drop) }, pve_failure).await,
        }
    }));
    let (database, clusters) = futures::join!(database, clusters);
    let health = render.health();
    let render = RenderCheck {
        ok: health.responsive,
        in_flight: health.in_flight,
        replaced: health.replaced,
    };
    let ready = database.ok && render.ok && clusters.iter().all(|c| c.check.ok);
    if !ready {
        tracing::warn!(database = database.ok, render = render.ok, "not ready");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            clusters,
            render,
        }),
    )
        .into_response()
}
