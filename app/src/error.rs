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
    /// The request is valid but the thing is in the wrong state for it (a console of a VM
    /// that is not running).
    #[error("{0}")]
    Conflict(String),
    /// Proxmox VE answered with an error; the message is PVE's own.
    #[error("Proxmox VE: {0}")]
    Pve(String),
    /// Proxmox VE could not be reached.
    #[error("Proxmox VE is unreachable: {0}")]
    Unavailable(String),
    /// Cecyber gave up waiting for the answer (its own time limit for a request).
    #[error("Timed out: {0}")]
    TimedOut(String),
    /// Cecyber cannot take this on right now (too much of it in hand, or its database is not
    /// answering); trying again later may work.
    #[error("Busy: {0}")]
    Busy(String),
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

    /// The HTTP status every transport answers this error with (server functions, REST, the
    /// live stream, the console WebSocket), so that proxies, monitoring and API clients can
    /// tell a refusal from a failure.
    pub fn status(&self) -> u16 {
        use ServerFnErrorErr as S;
        match self {
            AppError::Unauthenticated | AppError::BadCredentials => 401,
            AppError::Forbidden(_) => 403,
            AppError::InvalidInput(_) => 400,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Pve(_) | AppError::Unavailable(_) => 502,
            AppError::Busy(_) => 503,
            AppError::TimedOut(_) => 504,
            AppError::ServerFn(S::Args(_) | S::MissingArg(_) | S::Deserialization(_)) => 400,
            AppError::Internal | AppError::ServerFn(_) => 500,
        }
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
        match err {
            // The database is there but not answering now: the caller may try again (503).
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                AppError::Busy("the database is not answering; try again in a moment".into())
            }
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_tell_refusals_from_failures() {
        assert_eq!(AppError::Unauthenticated.status(), 401);
        assert_eq!(AppError::BadCredentials.status(), 401);
        assert_eq!(AppError::Forbidden("x".into()).status(), 403);
        assert_eq!(AppError::InvalidInput("x".into()).status(), 400);
        assert_eq!(AppError::NotFound("x".into()).status(), 404);
        assert_eq!(AppError::Conflict("x".into()).status(), 409);
        assert_eq!(AppError::Pve("x".into()).status(), 502);
        assert_eq!(AppError::Unavailable("x".into()).status(), 502);
        assert_eq!(AppError::Busy("x".into()).status(), 503);
        assert_eq!(AppError::TimedOut("x".into()).status(), 504);
        assert_eq!(AppError::Internal.status(), 500);
        assert_eq!(
            AppError::ServerFn(ServerFnErrorErr::Args("bad".into())).status(),
            400
        );
    }
}
