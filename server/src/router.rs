//! The HTTP router: Leptos pages and server functions, static files, and the middleware.

use std::sync::Arc;

use app::{App, shell, ssr::state::AppState};
use axum::{
    Extension, Router,
    middleware::from_fn_with_state,
    routing::{delete, get},
};
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::{
    console,
    live::{LiveHub, sse},
    middleware,
};

/// The whole application as an axum router; tests drive it directly.
pub fn app(state: AppState, live: Arc<LiveHub>) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/live", get(sse::live_events))
        .route("/api/console/ws", get(console::console_ws))
        .route(
            "/api/v1/embed-links",
            get(console::api::list).post(console::api::create),
        )
        .route("/api/v1/embed-links/{id}", delete(console::api::revoke))
        .leptos_routes_with_context(&state, routes, || {}, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(Extension(live))
        .layer(from_fn_with_state(state.clone(), middleware::session_gate))
        .layer(axum::middleware::from_fn(middleware::same_origin_writes))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .with_state(state)
}
