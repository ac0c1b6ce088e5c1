//! The VM console: opening a one-time console session for a logged-in operator.
//!
//! Nothing secret reaches the browser: the `vncproxy` answer (port, ticket, VNC password) stays
//! in the server's console session; the browser gets only the path of our own WebSocket, which
//! the relay (`server::console`) serves.

use leptos::prelude::*;

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::access::{self, Role};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use {
    crate::state::context,
    ssr::{ConsoleHub, ConsoleTarget, PendingConsole},
    std::sync::Arc,
};

#[cfg(feature = "ssr")]
pub mod ssr;
mod status;

pub use status::{ConsoleStatus, Scaling, TicketSource, backoff_secs};

/// A console the browser may open now: where its WebSocket goes. Carries no secret: the
/// session id in `ws_path` is random, single-use and bound to the user and VM on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleTicket {
    /// Path of the console WebSocket on this origin, e.g. `/api/console/ws?session=<id>`
    /// (or `?embed=<token>` for embed links).
    pub ws_path: String,
    /// The VM's name, for the title.
    pub vm_name: String,
    /// True when the relay drops keyboard, pointer and clipboard input.
    pub view_only: bool,
}

/// Opens the console of a running VM in the user's scope for the logged-in operator or admin:
/// calls `vncproxy` and keeps its answer in a one-time console session, to be opened (by the
/// returned `ws_path`) by the same user within `console_session_secs` (default 30 s).
#[server(prefix = "/api", endpoint = "console_open")]
pub async fn open_console(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<ConsoleTicket, AppError> {
    let access::VmAccess {
        user,
        cluster,
        node,
        vmid,
    } = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let hub = context::<Arc<ConsoleHub>>()?;
    let target = ConsoleTarget {
        cluster: cluster.name.clone(),
        node,
        vmid,
    };
    let (node, vmid) = (&target.node, target.vmid);
    let status = cluster.api.qemu_status(node, vmid).await.inspect_err(|e| {
        tracing::warn!(user = %user.username, cluster = %cluster.name, %node, %vmid, error = %e, "console refused: VM status unavailable");
    })?;
    if !status.is_running() {
        tracing::warn!(user = %user.username, cluster = %cluster.name, %node, %vmid, status = %status.status, "console refused: VM not running");
        return Err(AppError::Conflict(format!(
            "VM {vmid} is not running; start it to open its console."
        )));
    }
    // PVE 9.1 makes a new VNC password at each vncproxy: wait for a console of this VM that is
    // being opened right now to finish its VNC authentication.
    let proxy = {
        let _vm = hub.lock_vm(&cluster.name, vmid).await;
        cluster.api.qemu_vncproxy(node, vmid, true).await
    }
    .inspect_err(|e| {
        tracing::warn!(user = %user.username, cluster = %cluster.name, %node, %vmid, error = %e, "console refused: vncproxy failed");
    })?;
    let vm_name = status.name.clone().unwrap_or_else(|| format!("VM {vmid}"));
    tracing::info!(user = %user.username, cluster = %cluster.name, %node, %vmid, "console session made");
    let id = hub.insert(PendingConsole::new(
        target,
        user.username,
        vm_name.clone(),
        false,
        proxy,
    ))?;
    Ok(ConsoleTicket {
        ws_path: format!("/api/console/ws?session={id}"),
        vm_name,
        view_only: false,
    })
}
