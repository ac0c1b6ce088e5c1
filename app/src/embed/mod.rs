//! Console embed links for partner portals: admins mint and revoke them; the embedded page
//! turns a link's token into a console (no session needed: the token is the credential).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role, origin},
    console::ssr::ConsoleTarget,
    state::{app_state, context, request_parts},
};
use crate::{console::ConsoleTicket, error::AppError};
#[cfg(feature = "ssr")]
use ssr::EmbedKey;
#[cfg(feature = "ssr")]
use std::sync::Arc;

#[cfg(feature = "ssr")]
pub mod ssr;

/// A freshly minted console embed link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedLink {
    /// Id of the link (for revoking).
    pub id: i64,
    /// Path of the embeddable page on this origin: `/embed/console?token=<token>`.
    pub url: String,
    /// When the link stops working, unix seconds.
    pub expires_at: i64,
}

/// A console embed link as admins see it in the list (without its token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedLinkInfo {
    /// Id of the link.
    pub id: i64,
    /// Cluster of the VM.
    pub cluster: String,
    /// Node of the VM when the link was made.
    pub node: String,
    /// VM id.
    pub vmid: u32,
    /// The partner origin allowed to frame the console (`https://portal.example`).
    pub origin: String,
    /// Admin who made the link.
    pub created_by: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Opens the console once only.
    pub single_use: bool,
    /// Input from the viewer is dropped.
    pub view_only: bool,
    /// When a single-use link was used, unix seconds.
    pub used_at: Option<i64>,
    /// When the link was revoked, unix seconds.
    pub revoked_at: Option<i64>,
    /// Number of recorded uses (allowed and refused).
    pub uses: i64,
}

/// For the `/embed/console` page: checks an embed token (signature, expiry, revocation, single
/// use, and the request's `Origin`/`Referer` against the link's origin) and that its VM runs;
/// returns the WebSocket path carrying the token. Needs no session.
#[server(prefix = "/api", endpoint = "console_embed")]
pub async fn embed_console(token: String) -> Result<ConsoleTicket, AppError> {
    use ssr::UseAction;

    let state = app_state()?;
    let parts = request_parts()?;
    let key = context::<Arc<EmbedKey>>()?.get(&state.db).await?;
    let remote = origin::remote_addr(&parts.extensions);
    let claims = ssr::authorize(
        &state.db,
        &key,
        &token,
        UseAction::Page,
        &parts.headers,
        remote.as_deref(),
        state.public_origin.as_deref(),
    )
    .await?;
    let origin = origin::request_origin(&parts.headers);
    let record = |result: String| {
        let (db, remote, origin) = (state.db.clone(), remote.clone(), origin.clone());
        async move {
            ssr::record_use(
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
        if !status.is_running() {
            return Err(AppError::Conflict(format!(
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
    let admin = access::require(Role::Admin).await?;
    let state = app_state()?;
    let vmid: pve::ids::VmId = vmid
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    let new = ssr::NewLink {
        cluster,
        node,
        vmid: vmid.get(),
        origin,
        ttl_secs,
        single_use,
        view_only,
    };
    let key = context::<Arc<EmbedKey>>()?;
    ssr::mint(&state.db, &state.clusters, &key, &admin.username, &new).await
}

/// Every embed link, newest first (admins).
#[server(prefix = "/api", endpoint = "embed_links_list")]
pub async fn list_embed_links() -> Result<Vec<EmbedLinkInfo>, AppError> {
    access::require(Role::Admin).await?;
    ssr::list(&app_state()?.db).await
}

/// Revokes an embed link (admins); consoles opened with it stay open until they close.
#[server(prefix = "/api", endpoint = "embed_links_revoke")]
pub async fn revoke_embed_link(id: i64) -> Result<(), AppError> {
    let admin = access::require(Role::Admin).await?;
    ssr::revoke(&app_state()?.db, id).await?;
    tracing::info!(by = %admin.username, id, "embed link revoked");
    Ok(())
}
