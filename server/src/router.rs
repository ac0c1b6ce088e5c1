//! The HTTP router: Leptos pages and server functions, static files, and the middleware.

use app::{App, shell, state::AppState};
use axum::{
    Extension, Router,
    handler::Handler,
    middleware::from_fn_with_state,
    routing::{delete, get},
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::{assets, console, health, live::sse, middleware, render, runtime::Runtime, time_limit};

/// The whole application as an axum router; tests drive it directly.
pub fn app(runtime: &Runtime) -> Router {
    let state = runtime.state.clone();
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    // Feature state server functions and page renders take from the context.
    let (console, embed_key) = (runtime.console.clone(), runtime.embed_key.clone());
    let lite_bundle = runtime.lite_bundle.clone();
    let scheduler = runtime.scheduler.clone();
    let feature_contexts = move || {
        provide_context(console.clone());
        provide_context(embed_key.clone());
        provide_context(scheduler.clone());
        if let Some(lite) = &lite_bundle {
            provide_context(lite.clone());
        }
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/live", get(sse::live_events))
        .route("/api/console/ws", get(console::console_ws))
        .route(
            "/api/v1/embed-links",
            get(console::api::list).post(console::api::create),
        )
        .route("/api/v1/embed-links/{id}", delete(console::api::revoke))
        .leptos_routes_with_context(&state, routes, feature_contexts, move || {
            shell(options.clone())
        })
        .fallback_service(assets::site_files(
            &state.leptos_options.site_root,
            leptos_axum::file_and_error_handler::<AppState, _>(shell).with_state(state.clone()),
        ))
        // Innermost first: pages leave for the render runtime after the session gate has put
        // the request's session in it.
        .layer(axum::middleware::from_fn(middleware::server_fn_status))
        .layer(from_fn_with_state(
            runtime.render.clone(),
            render::pages_apart,
        ))
        .layer(from_fn_with_state(
            runtime.request_timeout,
            time_limit::api_time_limit,
        ))
        .layer(Extension(runtime.live.clone()))
        .layer(Extension(runtime.render.clone()))
        .layer(Extension(runtime.shutdown.clone()))
        .layer(from_fn_with_state(state.clone(), middleware::session_gate))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::same_origin_writes,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn(assets::cache_control))
        .layer(assets::compression())
        // Outermost, so every layer above finds them.
        .layer(Extension(runtime.console.clone()))
        .layer(Extension(runtime.embed_key.clone()))
        .with_state(state)
}
