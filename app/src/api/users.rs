//! User management, for admins only.

use leptos::prelude::*;

use crate::{error::AppError, model::UserInfo};
#[cfg(feature = "ssr")]
use crate::{
    model::Role,
    ssr::{guard, users},
};

/// Every local user.
#[server(prefix = "/api", endpoint = "users_list")]
pub async fn list_users() -> Result<Vec<UserInfo>, AppError> {
    guard::require(Role::Admin).await?;
    users::list(&guard::state()?.db).await
}

/// Creates a local user.
#[server(prefix = "/api", endpoint = "users_create")]
pub async fn create_user(username: String, password: String, role: String) -> Result<(), AppError> {
    let admin = guard::require(Role::Admin).await?;
    let role: Role = role.parse().map_err(AppError::InvalidInput)?;
    users::create(&guard::state()?.db, username.trim(), &password, role).await?;
    tracing::info!(by = %admin.username, user = %username.trim(), role = role.as_str(), "user created");
    Ok(())
}

/// Changes a user's role; the last admin keeps theirs.
#[server(prefix = "/api", endpoint = "users_set_role")]
pub async fn set_user_role(username: String, role: String) -> Result<(), AppError> {
    let admin = guard::require(Role::Admin).await?;
    let role: Role = role.parse().map_err(AppError::InvalidInput)?;
    let db = guard::state()?.db;
    if username == admin.username && role != Role::Admin && users::admin_count(&db).await? <= 1 {
        return Err(AppError::InvalidInput(
            "The last admin cannot give up the admin role.".into(),
        ));
    }
    users::set_role(&db, &username, role).await?;
    tracing::info!(by = %admin.username, user = %username, role = role.as_str(), "role changed");
    Ok(())
}

/// Deletes a user; admins cannot delete themselves.
#[server(prefix = "/api", endpoint = "users_delete")]
pub async fn delete_user(username: String) -> Result<(), AppError> {
    let admin = guard::require(Role::Admin).await?;
    if username == admin.username {
        return Err(AppError::InvalidInput(
            "You cannot delete your own account.".into(),
        ));
    }
    users::delete(&guard::state()?.db, &username).await?;
    tracing::info!(by = %admin.username, user = %username, "user deleted");
    Ok(())
}
