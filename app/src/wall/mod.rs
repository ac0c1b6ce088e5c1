//! Wall display links, for admins.

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub mod ssr;

use serde::{Deserialize, Serialize};

/// A wall display link, as admins see it (the token itself is shown only when minted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallLinkInfo {
    /// Id, for revoking.
    pub id: i64,
    /// Name, e.g. the room the TV is in.
    pub label: String,
    /// Admin who minted it.
    pub created_by: String,
    /// Unix time minted.
    pub created_at: i64,
    /// Unix time revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A freshly minted wall link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallLink {
    /// Id, for revoking.
    pub id: i64,
    /// `/wall?token=…` — shown once; open it on the TV.
    pub url: String,
}

/// Mints a wall link; its URL is shown once. The wall shows every node and VM, so a scoped
/// admin may not mint one.
#[server(prefix = "/api", endpoint = "wall_create")]
pub async fn create_wall_link(label: String) -> Result<WallLink, AppError> {
    let admin = access::require_nodes(Role::Admin).await?;
    let (id, token) = ssr::create(&app_state()?.db, &label, &admin.username).await?;
    tracing::info!(by = %admin.username, id, "wall link minted");
    Ok(WallLink {
        id,
        url: format!("/wall?token={token}"),
    })
}

/// Every wall link.
#[server(prefix = "/api", endpoint = "wall_list")]
pub async fn list_wall_links() -> Result<Vec<WallLinkInfo>, AppError> {
    access::require(Role::Admin).await?;
    ssr::list(&app_state()?.db).await
}

/// Revokes a wall link.
#[server(prefix = "/api", endpoint = "wall_revoke")]
pub async fn revoke_wall_link(id: i64) -> Result<(), AppError> {
    let admin = access::require(Role::Admin).await?;
    ssr::revoke(&app_state()?.db, id).await?;
    tracing::info!(by = %admin.username, id, "wall link revoked");
    Ok(())
}
