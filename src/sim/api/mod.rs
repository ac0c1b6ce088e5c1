//! The API layer over the world: PVE's HTTP API under `/api2/json` (authentication,
//! parameters, permission checks, PVE-shaped answers), the `/_sim` controls and pveproxy's
//! HTTP side. Handlers are thin: they check the request, then read or change the world.
//!
//! Each handler follows pve-manager's `rest_handler` order: conflicting duplicate parameters,
//! permission check, proxy to the node (`proxyto`), parameter verification, then the work.

pub(crate) mod auth;
mod control;
pub(crate) mod extract;
pub(crate) mod http;
pub(crate) mod params;
pub(crate) mod reply;
mod routes;
mod stats;
pub(crate) mod tls;
mod view;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};

use crate::sim::world::SimState;
use reply::ApiError;

/// The whole simulator: API, controls, headers. `more_api` are further endpoints under
/// `/api2/json` (authenticated like the rest), `more_controls` further routes outside it
/// (the console layer's).
pub(crate) fn router(
    state: SimState,
    more_api: Router<SimState>,
    more_controls: Router<SimState>,
) -> Router {
    let counts = std::sync::Arc::new(stats::RequestCounts::default());
    let api = routes::routes()
        .merge(more_api)
        .fallback(not_implemented)
        .method_not_allowed_fallback(not_implemented)
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), control::inject))
        .layer(from_fn_with_state(counts.clone(), stats::count));
    Router::new()
        .nest("/api2/json", api)
        .merge(control::routes())
        .merge(stats::routes(counts))
        .merge(more_controls)
        .fallback(outside_api)
        .layer(from_fn_with_state(state.clone(), http::pve_headers))
        .with_state(state)
}

/// The path relative to `/api2/json` (what PVE calls the `rel_uri`).
pub(crate) fn rel_path(path: &str) -> &str {
    match path.strip_prefix("/api2/json") {
        Some("") => "/",
        Some(rest) => rest,
        None => path,
    }
}

async fn not_implemented(method: Method, uri: Uri) -> ApiError {
    ApiError::not_implemented(method.as_str(), rel_path(uri.path()))
}

/// pveproxy answers `/api2/<unknown format>/…` with 501 "no such uri"; other paths are the web
/// UI, which the simulator does not have.
async fn outside_api(uri: Uri) -> Response {
    if uri.path().starts_with("/api2/") {
        ApiError::proxy(501, "no such uri").into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}
