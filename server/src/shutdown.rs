//! Stopping within a bounded time: on SIGTERM or Ctrl+C the server stops accepting, ends its
//! live streams (browsers reconnect to the next instance by themselves) and closes its consoles
//! with 1012 "service restart" (noVNC reconnects), then exits — after
//! `shutdown_grace_secs` at the latest, whatever is still open. A second signal exits at once.

use tokio_util::sync::CancellationToken;

/// "The server is stopping", for whatever lives longer than one request; cheap to clone.
#[derive(Clone, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    /// A server that is not stopping yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts stopping: every [`Shutdown::begun`] wakes up.
    pub fn begin(&self) {
        self.0.cancel();
    }

    /// Waits until stopping begins.
    pub async fn begun(&self) {
        self.0.cancelled().await;
    }
}

/// Waits for SIGTERM or Ctrl+C (SIGINT).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
