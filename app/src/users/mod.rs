//! User management, for admins only: users, their roles and their scopes.
//!
//! There is always at least one admin who sees everything (unscoped): the database refuses the
//! change that would scope, demote or delete the last one. An admin may be scoped too; the
//! scope then limits which VMs and node figures they see and act on (embed links included),
//! not their management of users — an admin can still change scopes, their own included.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::{access, state::app_state};
use crate::{
    access::{Role, Scope},
    error::AppError,
};

#[cfg(feature = "ssr")]
pub mod passwords;
#[cfg(feature = "ssr")]
pub mod ssr;

/// A local user, as admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Which VMs the user may see.
    pub scope: Scope,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// Every local user.
#[server(prefix = "/api", endpoint = "users_list")]
pub async fn list_users() -> Result<Vec<UserInfo>, AppError> {
    access::require(Role::Admin).await?;
    ssr::list(&app_state()?.db).await
}

/// Creates a local user. `scope`: PVE tags separated by commas, semicolons or spaces; empty or
/// absent for every VM.
#[server(prefix = "/api", endpoint = "users_create")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
    scope: Option<String>,
) -> Result<(), AppError> {
    let admin = access::require(Role::Admin).await?;
    let role: Role = role.parse().map_err(AppError::InvalidInput)?;
    let scope = parse_scope(scope.as_deref().unwrap_or_default())?;
    ssr::create_scoped(&app_state()?.db, username.trim(), &password, role, &scope).await?;
    tracing::info!(by = %admin.username, user = %username.trim(), role = role.as_str(), %scope, "user created");
    Ok(())
}

/// Changes a user's role; the last admin keeps theirs.
#[server(prefix = "/api", endpoint = "users_set_role")]
pub async fn set_user_role(username: String, role: String) -> Result<(), AppError> {
    let admin = access::require(Role::Admin).await?;
    let role: Role = role.parse().map_err(AppError::InvalidInput)?;
    let db = app_state()?.db;
    if username == admin.username && role != Role::Admin && ssr::admin_count(&db).await? <= 1 {
        return Err(AppError::InvalidInput(
            "The last admin cannot give up the admin role.".into(),
        ));
    }
    ssr::set_role(&db, &username, role).await?;
    tracing::info!(by = %admin.username, user = %username, role = role.as_str(), "role changed");
    Ok(())
}

/// Changes which VMs a user sees: `scope` is PVE tags separated by commas, semicolons or spaces,
/// or empty for every VM. A bad tag changes nothing; the last unscoped admin stays unscoped.
#[server(prefix = "/api", endpoint = "users_set_scope")]
pub async fn set_user_scope(username: String, scope: String) -> Result<(), AppError> {
    let admin = access::require(Role::Admin).await?;
    let scope = parse_scope(&scope)?;
    ssr::set_scope(&app_state()?.db, &username, &scope).await?;
    tracing::info!(by = %admin.username, user = %username, %scope, "scope changed");
    Ok(())
}

/// Deletes a user; admins cannot delete themselves, nor the last unscoped admin.
#[server(prefix = "/api", endpoint = "users_delete")]
pub async fn delete_user(username: String) -> Result<(), AppError> {
    let admin = access::require(Role::Admin).await?;
    if username == admin.username {
        return Err(AppError::InvalidInput(
            "You cannot delete your own account.".into(),
        ));
    }
    ssr::delete(&app_state()?.db, &username).await?;
    tracing::info!(by = %admin.username, user = %username, "user deleted");
    Ok(())
}

/// A scope as an admin typed it, with Scope's own explanation when a tag is bad.
#[cfg(feature = "ssr")]
fn parse_scope(text: &str) -> Result<Scope, AppError> {
    if text.len() > 4096 {
        return Err(AppError::InvalidInput(
            "A scope is at most 4096 characters.".into(),
        ));
    }
    Scope::parse(text).map_err(|e| AppError::InvalidInput(format!("Scope: {e}.")))
}
