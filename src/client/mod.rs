//! The native PVE client (feature `client`): the [`PveApi`] trait and its HTTP implementation.
//!
//! - `config`: endpoints, credentials, TLS trust, timeouts
//! - `api`: the trait and [`wait_task`]
//! - `http`: transport, failover, re-login, retries; `methods`: the operations
//! - `endpoints`: the table of every request the client can make (checked against PVE's schema)
//! - `console`: the VNC WebSocket upgrade request for the console relay
//! - `vnc`: the VNC authentication answer the relay sends to PVE
//! - `auth`: ticket and token state; `tls`: CA file and fingerprint pinning
//! - `retry`: retry policy for reads; `response`: answer and error decoding

mod api;
mod auth;
mod config;
mod console;
pub mod endpoints;
mod http;
mod methods;
mod response;
mod retry;
mod tls;

pub use crate::vnc_auth::vnc_auth_response;
pub use api::{PveApi, wait_task};
pub use config::{ClientConfig, Credentials, TlsTrust};
pub use console::{VNC_SUBPROTOCOL, WebSocketRequest};
pub use http::HttpClient;
pub use retry::RetryPolicy;
pub use tls::{certificate_fingerprint, format_fingerprint};
