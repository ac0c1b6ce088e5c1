//! The VM console: opening a one-time console session, and embed links for partner portals.
//!
//! Nothing secret reaches the browser: the `vncproxy` answer (port, ticket, VNC password) stays
//! in the server's console session; the browser gets only the path of our own WebSocket, which
//! the relay (`server::console`) serves.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{ConsoleTicket, EmbedLink, EmbedLinkInfo},
};
#[cfg(feature = "ssr")]
use crate::{
    model::Role,
    ssr::{
        api_tokens,
        console::{ConsoleTarget, PendingConsole},
        embed, guard,
    },
};

/// Opens the console of a running VM in the user's scope for the logged-in operator or admin:
/// calls `vncproxy` and keeps its answer in a one-time console session, to be opened (by the
/// returned `ws_path`) by the same user within `console_session_secs` (default 30 s).
#[server(prefix = "/api", endpoint = "console_open")]
pub async fn open_console(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<ConsoleTicket, AppError> {
    let guard::VmAccess {
        user,
        cluster,
        node,
        vmid,
    } = guard::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let state = guard::state()?;
    let target = ConsoleTarget {
        cluster: cluster.name.clone(),
        node,
        vmid,
    };
    let (node, vmid) = (&target.node, target.vmid);
    let status = cluster.api.qemu_status(node, vmid).await.inspect_err(|e| {
        tracing::warn!(user = %user.username, cluster = %cluster.name, %node, %vmid, error = %e, "console refused: VM status unavailable");
    })?;
    if status.status != "running" {
        tracing::warn!(user = %user.username, cluster = %cluster.name, %node, %vmid, status = %status.status, "console refused: VM not running");
        return Err(AppError::InvalidInput(format!(
            "VM {vmid} is not running; start it to open its console."
        )));
    }
    // PVE 9.1 makes a new VNC password at each vncproxy: wait for a console of this VM that is
    // being opened right now to finish its VNC authentication.
    let proxy = {
        let _vm = state.console.lock_vm(&cluster.name, vmid).await;
        cluster.api.qemu_vncproxy(node, vmid, true).await
    }
    .inspect_err(|e| {
        tracing::warn!(user = %user.username, cluster = %cluster.name, %node, %vmid, error = %e, "console refused: vncproxy failed");
    })?;
    let vm_name = status.name.clone().unwrap_or_else(|| format!("VM {vmid}"));
    tracing::info!(user = %user.username, cluster = %cluster.name, %node, %vmid, "console session made");
    let id = state.console.insert(PendingConsole::new(
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

/// For the `/embed/console` page: checks an embed token (signature, expiry, revocation, single
/// use, and the request's `Origin`/`Referer` against the link's origin) and that its VM runs;
/// returns the WebSocket path carrying the token. Needs no session.
#[server(prefix = "/api", endpoint = "console_embed")]
pub async fn embed_console(token: String) -> Result<ConsoleTicket, AppError> {
    use embed::UseAction;

    let state = guard::state()?;
    let parts = guard::request_parts()?;
    let key = state.console.embed_key(&state.db).await?;
    let remote = embed::remote_addr(&parts.headers, &parts.extensions);
    let claims = embed::authorize(
        &state.db,
        &key,
        &token,
        UseAction::Page,
        &parts.headers,
        remote.as_deref(),
    )
    .await?;
    let origin = embed::request_origin(&parts.headers);
    let record = |result: String| {
        let (db, remote, origin) = (state.db.clone(), remote.clone(), origin.clone());
        async move {
            embed::record_use(
                &db,
                Some(claims.link_id),
                UseAction::Page,
                remote.as_deref(),
                origin.as_deref(),
                &result,
            )
            .await
        }
    };
    let checked = async {
        let cluster = state.clusters.get(&claims.cluster)?;
        let target = ConsoleTarget::parse(&cluster.name, &claims.node, &claims.vmid.to_string())?;
        let status = cluster.api.qemu_status(&target.node, target.vmid).await?;
        if status.status != "running" {
            return Err(AppError::InvalidInput(format!(
                "VM {} is not running.",
                target.vmid
            )));
        }
        Ok(status.name.unwrap_or_else(|| format!("VM {}", target.vmid)))
    }
    .await;
    match checked {
        Ok(vm_name) => {
            record("ok".into()).await;
            Ok(ConsoleTicket {
                ws_path: format!("/api/console/ws?embed={token}"),
                vm_name,
                view_only: claims.view_only,
            })
        }
        Err(e) => {
            tracing::warn!(link = claims.link_id, error = %e, "embed console refused");
            record(e.to_string()).await;
            Err(e)
        }
    }
}

/// Mints an embed link for one VM (admins): valid `ttl_secs` seconds, for pages of `origin`
/// (`https://portal.example`), optionally single-use and view-only.
#[server(prefix = "/api", endpoint = "embed_links_create")]
pub async fn create_embed_link(
    cluster: String,
    node: String,
    vmid: String,
    origin: String,
    ttl_secs: u64,
    single_use: bool,
    view_only: bool,
) -> Result<EmbedLink, AppError> {
    let admin = guard::require(Role::Admin).await?;
    let state = guard::state()?;
    let vmid: pve::ids::VmId = vmid
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    let new = embed::NewLink {
        cluster,
        node,
        vmid: vmid.get(),
        origin,
        ttl_secs,
        single_use,
        view_only,
    };
    embed::mint(&state, &admin.username, &new).await
}

/// Every embed link, newest first (admins).
#[server(prefix = "/api", endpoint = "embed_links_list")]
pub async fn list_embed_links() -> Result<Vec<EmbedLinkInfo>, AppError> {
    guard::require(Role::Admin).await?;
    embed::list(&guard::state()?.db).await
}

/// Revokes an embed link (admins); consoles opened with it stay open until they close.
#[server(prefix = "/api", endpoint = "embed_links_revoke")]
pub async fn revoke_embed_link(id: i64) -> Result<(), AppError> {
    let admin = guard::require(Role::Admin).await?;
    embed::revoke(&guard::state()?.db, id).await?;
    tracing::info!(by = %admin.username, id, "embed link revoked");
    Ok(())
}

/// Makes an API token for the calling admin (for `/api/v1/…` with `Authorization: Bearer`);
/// returns it — the only time it is shown.
#[server(prefix = "/api", endpoint = "api_tokens_create")]
pub async fn create_api_token(label: String) -> Result<String, AppError> {
    let admin = guard::require(Role::Admin).await?;
    let token = api_tokens::create(&guard::state()?.db, &admin.username, &label).await?;
    tracing::info!(by = %admin.username, label = %label.trim(), "API token created");
    Ok(token)
}
