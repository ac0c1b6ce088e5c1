//! What an open console was granted on, checked again while it is open: a revoked embed link,
//! a logged-out or deleted user, a role lowered below operator or a scope that no longer holds
//! the VM ends the console, as the live stream ends on revocation.

use std::time::Duration;

use app::access::Role;
use app::{
    access::{self, sessions},
    console::ssr::ConsoleTarget,
    embed::ssr as embed,
    state::AppState,
};

/// How often an open console's access is checked.
pub(crate) const RECHECK_EVERY: Duration = Duration::from_secs(10);

/// Who holds a console.
#[derive(Debug, Clone)]
pub(crate) enum Holder {
    /// A user, by the session token of the cookie that opened it.
    Session(String),
    /// An embed link, by id.
    Link(i64),
}

/// A console's grant, to check again.
#[derive(Clone)]
pub(crate) struct Access {
    pub state: AppState,
    pub holder: Holder,
    pub target: ConsoleTarget,
}

impl Access {
    /// Whether the holder may still have the console. A database or PVE that cannot answer
    /// does not end it: only a clear "no" does.
    pub(crate) async fn holds(&self) -> bool {
        match &self.holder {
            Holder::Link(id) => !matches!(embed::is_revoked(&self.state.db, *id).await, Ok(true)),
            Holder::Session(token) => {
                let user = match sessions::lookup(&self.state.db, token).await {
                    Ok(Some(user)) => user,
                    Ok(None) => return false,
                    Err(_) => return true,
                };
                if !user.role.allows(Role::Operator) {
                    return false;
                }
                let Ok(cluster) = self.state.clusters.get(&self.target.cluster) else {
                    return false;
                };
                let t = &self.target;
                match access::vm_in_scope(&user.username, &user.scope, cluster, &t.node, t.vmid)
                    .await
                {
                    Ok(()) => true,
                    Err(app::error::AppError::Unavailable(_)) => true,
                    Err(_) => false,
                }
            }
        }
    }

    /// Waits until the holder loses the console.
    pub(crate) async fn lost(&self) {
        let mut every = tokio::time::interval(RECHECK_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            if !self.holds().await {
                return;
            }
        }
    }
}
