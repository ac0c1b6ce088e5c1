//! What every server function and request handler shares (server only): the database, the
//! clusters, the instance's settings. Feature state (console sessions, the embed key) lives in
//! its feature and reaches handlers as a context of its own, so that this module depends on no
//! feature.

pub mod clusters;
pub mod db;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::request::Parts;
use leptos::prelude::{LeptosOptions, use_context};
use sqlx::SqlitePool;

use crate::error::{AppError, AppResult};
use clusters::Clusters;

/// Shared application state, cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Leptos's own options (site root, output name).
    pub leptos_options: LeptosOptions,
    /// The database.
    pub db: SqlitePool,
    /// The Proxmox VE clusters Cecyber manages.
    pub clusters: Arc<Clusters>,
    /// Session cookie settings.
    pub sessions: SessionSettings,
    /// True when running against the built-in simulator.
    pub demo: bool,
    /// The origin browsers reach Cecyber at (`https://panel.example`, from `public_url`), for a
    /// reverse proxy that rewrites `Host`; `None`: the request's `Host` is the origin.
    pub public_origin: Option<String>,
}

/// How session cookies are made.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long a session lasts after login.
    pub ttl: Duration,
    /// `Some(true)`/`Some(false)` forces the `Secure` flag; `None` sets it when the request
    /// arrived over HTTPS (Cecyber's own TLS, or a trusted proxy that says
    /// `X-Forwarded-Proto: https`).
    pub secure_cookie: Option<bool>,
    /// Pause before answering a failed login, against guessing.
    pub login_failure_delay: Duration,
}

/// A value the router provides to every server function and page render (the shared state,
/// a feature's own state); its absence is a wiring bug, logged.
pub fn context<T: Clone + Send + Sync + 'static>() -> AppResult<T> {
    use_context::<T>().ok_or_else(|| {
        tracing::error!(missing = std::any::type_name::<T>(), "context missing");
        AppError::Internal
    })
}

/// The shared state, from the context the router provides.
pub fn app_state() -> AppResult<AppState> {
    context()
}

/// The request's headers and URI (server functions and page renders).
pub fn request_parts() -> AppResult<Parts> {
    context()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
