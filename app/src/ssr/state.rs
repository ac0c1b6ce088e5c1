//! The state every request handler and server function shares.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::SqlitePool;

use super::{clusters::Clusters, console::ConsoleHub, sessions::SessionSettings};

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
    /// Console sessions waiting for their WebSocket, per-VM console locks, embed token key.
    pub console: Arc<ConsoleHub>,
}
