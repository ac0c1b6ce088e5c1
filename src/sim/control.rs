//! Test controls outside the PVE API (no authentication; the simulator listens on loopback):
//!
//! - `POST /_sim/fault` with JSON `{"latency_ms": 200, "error_rate": 0.1, "path_prefix":
//!   "/nodes", "node_offline": "pve2", "error_status": 500, "error_message": "…"}` replaces the
//!   fault settings (omitted fields take their defaults, so `{}` clears everything). Latency and
//!   errors apply to `/api2/json` requests whose path (after `/api2/json`) starts with
//!   `path_prefix` (empty: all). An offline node shows as `offline` and requests proxied to it
//!   fail with 595 like pveproxy's.
//! - `GET /_sim/fault` returns the current settings.
//! - `POST /_sim/reset`: a fresh cluster from the seed, no tasks but the generated history, no
//!   faults. Tickets and the API token stay valid.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::reply::{ApiError, json_response};
use super::routes::rel_path;
use super::state::SimState;

/// Fault injection settings (all off by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Extra delay before each matching request is handled, in milliseconds.
    pub latency_ms: u64,
    /// Share of matching requests (0–1) that fail with `error_status`.
    pub error_rate: f64,
    /// Only requests whose path after `/api2/json` starts with this are affected.
    pub path_prefix: String,
    /// A node that is unreachable (shown offline, requests to it fail with 595).
    pub node_offline: Option<String>,
    /// Status of injected errors (default 500).
    pub error_status: Option<u16>,
    /// Message of injected errors (default "simulated failure (pve-sim fault injection)").
    pub error_message: Option<String>,
}

/// The `/_sim` routes.
pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/_sim/fault", get(get_fault).post(set_fault))
        .route("/_sim/reset", post(reset))
}

async fn get_fault(State(st): State<SimState>) -> Response {
    Json(st.faults()).into_response()
}

async fn set_fault(State(st): State<SimState>, Json(faults): Json<Faults>) -> Response {
    match st.set_faults(faults) {
        Ok(()) => Json(st.faults()).into_response(),
        Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e })),
    }
}

async fn reset(State(st): State<SimState>) -> Response {
    st.reset();
    Json(json!({ "reset": true })).into_response()
}

/// Middleware on `/api2/json`: applies latency and random errors of the fault settings.
pub(crate) async fn inject(State(st): State<SimState>, req: Request, next: Next) -> Response {
    let faults = st.faults();
    if rel_path(req.uri().path()).starts_with(&faults.path_prefix) {
        if faults.latency_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
        }
        if faults.error_rate > 0.0 && rand::thread_rng().gen_bool(faults.error_rate.min(1.0)) {
            let status = faults
                .error_status
                .filter(|s| (400..=599).contains(s))
                .unwrap_or(500);
            let message = faults
                .error_message
                .clone()
                .unwrap_or_else(|| "simulated failure (pve-sim fault injection)\n".to_owned());
            return ApiError::new(status, message).into_response();
        }
    }
    next.run(req).await
}
