//! The application's error type: what a server function may tell the browser, and nothing more.
//!
//! Internals (SQL errors, upstream URLs, credentials) are logged on the server and replaced by a
//! generic message; PVE's own messages are passed on because operators need them.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Result of a server function.
pub type AppResult<T> = Result<T, AppError>;

/// An error a server function returns to the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No valid session: the user must log in (again).
    #[error("Your session has expired or you are not logged in. Please log in again.")]
    Unauthenticated,
    /// Logged in, but the role does not allow this.
    #[error("Permission denied: {0}")]
    Forbidden(String),
    /// Login refused; deliberately does not say whether the user or the password was wrong.
    #[error("Invalid username or password.")]
    BadCredentials,
    /// The user's input was rejected before anything was sent anywhere.
    #[error("{0}")]
    InvalidInput(String),
    /// The cluster, node, VM or task does not exist.
    #[error("Not found: {0}")]
    NotFound(String),
    /// Proxmox VE answered with an error; the message is PVE's own.
    #[error("Proxmox VE: {0}")]
    Pve(String),
    /// Proxmox VE could not be reached.
    #[error("Proxmox VE is unreachable: {0}")]
    Unavailable(String),
    /// Cecyber gave up waiting for the answer (its own time limit for a request).
    #[error("Timed out: {0}")]
    TimedOut(String),
    /// Something failed inside Cecyber; details are in the server log only.
    #[error("Internal error; the details are in the server log.")]
    Internal,
    /// The server function call itself failed (network, encoding).
    #[error("Request failed: {0}")]
    ServerFn(ServerFnErrorErr),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::ServerFn(value)
    }
}

impl AppError {
    /// True when the user should be sent to the login page.
    pub fn needs_login(&self) -> bool {
        matches!(self, AppError::Unauthenticated)
    }
}

#[cfg(feature = "ssr")]
impl From<pve::Error> for AppError {
    fn from(err: pve::Error) -> Self {
        use pve::Error as E;
        match err {
            E::NotFound { message } => AppError::NotFound(message),
            E::Forbidden { message, .. } => AppError::Pve(message),
            E::InvalidParameters { message, errors } => {
                let details: Vec<String> =
                    errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                AppError::Pve(format!("{} {}", message.trim(), details.join("; ")))
            }
            E::Unauthorized { .. } => {
                tracing::warn!("PVE refused Cecyber's credentials");
                AppError::Pve("Cecyber's credentials were refused by Proxmox VE.".into())
            }
            E::Connect { .. } | E::Timeout | E::Tls { .. } => {
                tracing::warn!(error = %err, "PVE unreachable");
                AppError::Unavailable(err.to_string())
            }
            E::InvalidId(id) => AppError::InvalidInput(id.to_string()),
            E::TaskFailed { exitstatus, .. } => AppError::Pve(exitstatus),
            other => {
                tracing::warn!(error = %other, "PVE error");
                AppError::Pve(other.to_string())
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        AppError::Internal
    }
}
