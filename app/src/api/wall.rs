//! Wall display links, for admins.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{WallLink, WallLinkInfo},
};
#[cfg(feature = "ssr")]
use crate::{
    model::Role,
    ssr::{guard, wall},
};

/// Mints a wall link; its URL is shown once. The wall shows every node and VM, so a scoped
/// admin may not mint one.
#[server(prefix = "/api", endpoint = "wall_create")]
pub async fn create_wall_link(label: String) -> Result<WallLink, AppError> {
    let admin = guard::require_nodes(Role::Admin).await?;
    let (id, token) = wall::create(&guard::state()?.db, &label, &admin.username).await?;
    tracing::info!(by = %admin.username, id, "wall link minted");
    Ok(WallLink {
        id,
        url: format!("/wall?token={token}"),
    })
}

/// Every wall link.
#[server(prefix = "/api", endpoint = "wall_list")]
pub async fn list_wall_links() -> Result<Vec<WallLinkInfo>, AppError> {
    guard::require(Role::Admin).await?;
    wall::list(&guard::state()?.db).await
}

/// Revokes a wall link.
#[server(prefix = "/api", endpoint = "wall_revoke")]
pub async fn revoke_wall_link(id: i64) -> Result<(), AppError> {
    let admin = guard::require(Role::Admin).await?;
    wall::revoke(&guard::state()?.db, id).await?;
    tracing::info!(by = %admin.username, id, "wall link revoked");
    Ok(())
}
