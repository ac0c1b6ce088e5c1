//! The router: one module per API area under `/api2/json`, the `/_sim` controls, and PVE's
//! answers for everything else (501 "Method '… …' not implemented").
//!
//! Each handler follows pve-manager's `rest_handler` order: conflicting duplicate parameters,
//! permission check, proxy to the node (`proxyto`), parameter verification, then the work.

mod access;
mod access_admin;
mod backup;
mod backup_jobs;
mod cluster;
mod extras;
mod metrics;
mod nodes;
mod qemu;
mod qemu_config;
mod qemu_ops;
mod qemu_resize;
mod tasks;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};

use super::reply::ApiError;
use super::state::SimState;
use super::{auth, control, http, stats};

/// The whole simulator: API, controls, headers.
pub(crate) fn router(state: SimState) -> Router {
    let counts = std::sync::Arc::new(stats::RequestCounts::default());
    let api = Router::new()
        .merge(access::routes())
        .merge(access_admin::routes())
        .merge(backup::routes())
        .merge(backup_jobs::routes())
        .merge(extras::routes())
        .merge(metrics::routes())
        .merge(cluster::routes())
        .merge(nodes::routes())
        .merge(qemu::routes())
        .merge(qemu_config::routes())
        .merge(qemu_ops::routes())
        .merge(qemu_resize::routes())
        .merge(super::console::routes())
        .merge(tasks::routes())
        .fallback(not_implemented)
        .method_not_allowed_fallback(not_implemented)
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), control::inject))
        .layer(from_fn_with_state(counts.clone(), stats::count));
    Router::new()
        .nest("/api2/json", api)
        .merge(control::routes())
        .merge(stats::routes(counts))
        .merge(super::console::control_routes())
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
