//! The native PVE client (feature `client`): the [`PveApi`] trait and its HTTP implementation.
//!
//! - `config`: endpoints, credentials, TLS trust, timeouts
//! - `api`: the trait and [`wait_task`]
//! - `http`: transport, failover, re-login, retries; `methods`: the operations
//! - `auth`: ticket and token state; `tls`: CA file and fingerprint pinning
//! - `retry`: retry policy for reads; `response`: answer and error decoding

mod api;
mod auth;
mod config;
mod http;
mod methods;
mod response;
mod retry;
mod tls;

pub use api::{PveApi, wait_task};
pub use config::{ClientConfig, Credentials, TlsTrust};
pub use http::HttpClient;
pub use retry::RetryPolicy;
pub use tls::{certificate_fingerprint, format_fingerprint};
