//! The access checks. Each transport asks the same questions here and gets the same
//! [`AppError`] (which knows its HTTP status): server functions through [`require`],
//! [`require_nodes`] and [`require_vm`] (the request comes from the Leptos context); pages,
//! REST, the live stream and the console WebSocket through [`session_user`] or [`token_user`]
//! and [`authorize`]. The role decides what a user may do; the scope decides which VMs (and
//! whether node figures) they may see and act on — checked here on the server, never left to
//! the browser.

use axum::http::HeaderMap;
use sqlx::SqlitePool;

use super::{CurrentUser, Role, Scope, api_tokens, sessions};
use crate::{
    error::{AppError, AppResult},
    state::{
        app_state,
        clusters::{Cluster, Located},
        request_parts,
    },
};

/// The session token of a request's cookie and its user, if it carries a live session (for
/// what holds on to the session and checks it again: the console WebSocket).
pub async fn session(
    db: &SqlitePool,
    headers: &HeaderMap,
) -> AppResult<Option<(String, CurrentUser)>> {
    let Some(token) = sessions::token_from_headers(headers) else {
        return Ok(None);
    };
    Ok(sessions::lookup(db, &token)
        .await?
        .map(|user| (token, user)))
}

/// The user behind a request's session cookie, if it carries a live session.
pub async fn session_user(db: &SqlitePool, headers: &HeaderMap) -> AppResult<Option<CurrentUser>> {
    Ok(session(db, headers).await?.map(|(_, user)| user))
}

/// The user behind a request's API token (`Authorization: Bearer …`), if it carries a known one.
pub async fn token_user(db: &SqlitePool, headers: &HeaderMap) -> AppResult<Option<CurrentUser>> {
    match api_tokens::from_headers(headers) {
        Some(token) => api_tokens::lookup(db, token).await,
        None => Ok(None),
    }
}

/// `user` when there is one and their role includes `role`: else 401 (not logged in) or 403.
pub fn authorize(user: Option<CurrentUser>, role: Role) -> AppResult<CurrentUser> {
    let user = user.ok_or(AppError::Unauthenticated)?;
    if !user.role.allows(role) {
        tracing::warn!(user = %user.username, role = user.role.as_str(), needed = role.as_str(), "refused");
        return Err(AppError::Forbidden(format!(
            "this needs the {} role; you are {}.",
            role.as_str(),
            user.role.as_str()
        )));
    }
    Ok(user)
}

/// Refuses node figures (load, memory, storages) to scoped users: they tell about other
/// tenants' VMs.
pub fn sees_nodes(user: &CurrentUser) -> AppResult<()> {
    if user.scope.sees_nodes() {
        return Ok(());
    }
    tracing::warn!(user = %user.username, scope = %user.scope, "node figures refused: scoped user");
    Err(AppError::Forbidden(format!(
        "node figures are outside your scope ({}).",
        user.scope
    )))
}

/// The logged-in user of the server function's request, if any.
pub async fn current_user() -> AppResult<Option<CurrentUser>> {
    session_user(&app_state()?.db, &request_parts()?.headers).await
}

/// The logged-in user when their role includes `role`; otherwise the refusal to return.
pub async fn require(role: Role) -> AppResult<CurrentUser> {
    authorize(current_user().await?, role)
}

/// A node name from the browser, validated before it can become part of a PVE URL.
pub fn parse_node(node: &str) -> AppResult<pve::ids::NodeName> {
    node.parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))
}

/// A node name and VM id from the browser, validated before they can become part of a PVE URL.
pub fn parse_target(node: &str, vmid: &str) -> AppResult<(pve::ids::NodeName, pve::ids::VmId)> {
    let vmid = vmid
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    Ok((parse_node(node)?, vmid))
}

/// A VM the user may see, with the ids checked: what [`require_vm`] hands back.
pub struct VmAccess {
    /// The logged-in user.
    pub user: CurrentUser,
    /// The VM's cluster.
    pub cluster: Cluster,
    /// The node the VM is on: where the collector's last poll saw it, else the one named.
    pub node: pve::ids::NodeName,
    /// The VM id (validated).
    pub vmid: pve::ids::VmId,
}

/// The logged-in user when their role includes `role` and the VM `vmid` on `node` of `cluster`
/// is in their scope. Only a scoped user costs a PVE call (the VM's config, for its tags).
pub async fn require_vm(role: Role, cluster: &str, node: &str, vmid: &str) -> AppResult<VmAccess> {
    vm(require(role).await?, cluster, node, vmid).await
}

/// The VM `vmid` on `node` of `cluster` when it is in `user`'s scope (see [`require_vm`]).
pub async fn vm(user: CurrentUser, cluster: &str, node: &str, vmid: &str) -> AppResult<VmAccess> {
    let state = app_state()?;
    let cluster = state.clusters.get(cluster)?.clone();
    let (named, vmid) = parse_target(node, vmid)?;
    let seen = cluster.locate(vmid).await;
    vm_seen(user, cluster, named, vmid, seen).await
}

/// [`vm`] once the poll has been asked where the VM is (`seen`).
async fn vm_seen(
    user: CurrentUser,
    cluster: Cluster,
    named: pve::ids::NodeName,
    vmid: pve::ids::VmId,
    seen: Option<Located>,
) -> AppResult<VmAccess> {
    // The URL's node is a hint: a VM migrated since the link was made is where the last poll
    // saw it (a VM the poll does not know yet, just created, is taken at its word). Only a VM
    // the user may see is looked up, so that a refusal names the node the user named and
    // tells nothing of other tenants' VMs.
    let node = match seen {
        Some(seen) if user.scope.allows_vm(seen.tags.as_slice()) => seen.node,
        _ => named,
    };
    vm_in_scope(&user.username, &user.scope, &cluster, &node, vmid).await?;
    Ok(VmAccess {
        user,
        cluster,
        node,
        vmid,
    })
}

/// A guest (VM or container) the user may see: what [`guest`] hands back.
pub struct GuestAccess {
    /// The VM or container, as for a VM.
    pub access: VmAccess,
    /// Which of the two the poll says it is.
    pub kind: pve::types::GuestKind,
}

/// The guest `vmid` on `node` of `cluster` (a VM or an LXC container) when it is in `user`'s
/// scope. The kind comes from the shared poll, never from the caller; a guest the poll does
/// not know is taken for a VM and checked as one ([`vm`]). A container's tags for the scope
/// are the poll's: PVE's container config is not read.
pub async fn guest(
    user: CurrentUser,
    cluster: &str,
    node: &str,
    vmid: &str,
) -> AppResult<GuestAccess> {
    use pve::types::GuestKind;

    let state = app_state()?;
    let found = state.clusters.get(cluster)?.clone();
    let (named, id) = parse_target(node, vmid)?;
    match found.locate(id).await {
        Some(seen) if seen.kind == GuestKind::Lxc => {
            if !user.scope.allows_vm(seen.tags.as_slice()) {
                tracing::warn!(user = %user.username, cluster = %found.name, node = %named, vmid = %id, scope = %user.scope, "container refused: outside the user's scope");
                return Err(not_in_scope(&found.name, &named, id));
            }
            Ok(GuestAccess {
                access: VmAccess {
                    user,
                    cluster: found,
                    node: seen.node,
                    vmid: id,
                },
                kind: GuestKind::Lxc,
            })
        }
        seen => Ok(GuestAccess {
            access: vm_seen(user, found, named, id, seen).await?,
            kind: GuestKind::Qemu,
        }),
    }
}

/// The logged-in user when their role includes `role` and they may see node figures
/// (unscoped users; see [`sees_nodes`]).
pub async fn require_nodes(role: Role) -> AppResult<CurrentUser> {
    let user = require(role).await?;
    sees_nodes(&user)?;
    Ok(user)
}

/// Checks that VM `vmid` on `node` is in `scope` (of user `username`, for the log). For a
/// scoped user the VM's tags come from its config on that node; a VM that is not there answers
/// exactly like one outside the scope, so a scoped user cannot probe for other tenants' VMs.
/// PVE being unreachable is still told as such.
pub async fn vm_in_scope(
    username: &str,
    scope: &Scope,
    cluster: &Cluster,
    node: &pve::ids::NodeName,
    vmid: pve::ids::VmId,
) -> AppResult<()> {
    if scope.is_everything() {
        return Ok(());
    }
    let allowed = match cluster.api.qemu_config(node, vmid).await {
        Ok(config) => scope.allows_vm(&config.tag_list()),
        Err(err) => match AppError::from(err) {
            unavailable @ AppError::Unavailable(_) => return Err(unavailable),
            _ => false,
        },
    };
    if allowed {
        return Ok(());
    }
    tracing::warn!(user = %username, cluster = %cluster.name, %node, %vmid, %scope, "VM refused: outside the user's scope");
    Err(not_in_scope(&cluster.name, node, vmid))
}

/// The one answer for a VM that is outside the scope or does not exist.
pub fn not_in_scope(cluster: &str, node: &pve::ids::NodeName, vmid: pve::ids::VmId) -> AppError {
    AppError::NotFound(format!(
        "no VM {vmid} on node {node} of cluster {cluster} in your scope."
    ))
}

/// Checks that a task concerns a VM in the user's scope: a scoped user may follow the tasks of
/// their VMs (`qmstart`, `vzdump`, … whose id is the VM id), nothing else.
pub async fn task_in_scope(
    user: &CurrentUser,
    cluster: &Cluster,
    upid: &pve::ids::Upid,
) -> AppResult<()> {
    if user.scope.is_everything() {
        return Ok(());
    }
    let refused = || AppError::NotFound("no such task in your scope.".into());
    let vmid: pve::ids::VmId = upid.id().parse().map_err(|_| refused())?;
    // Where the guest is now, not where the task ran: a migration moves the VM off the
    // UPID's node, and a container has no QEMU config to read the tags from.
    if let Some(seen) = cluster.locate(vmid).await {
        if user.scope.allows_vm(seen.tags.as_slice()) {
            return Ok(());
        }
        tracing::warn!(user = %user.username, cluster = %cluster.name, %vmid, scope = %user.scope, "task refused: its guest is outside the user's scope");
        return Err(refused());
    }
    vm_in_scope(&user.username, &user.scope, cluster, upid.node(), vmid)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => refused(),
            other => other,
        })
}
