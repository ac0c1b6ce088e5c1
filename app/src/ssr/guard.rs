//! Access checks for server functions: every one of them calls `require` first.

use axum::http::request::Parts;
use leptos::prelude::*;

use super::{sessions, state::AppState};
use crate::{
    error::{AppError, AppResult},
    model::{CurrentUser, Role},
};

/// The shared state, from the Leptos context the router provides.
pub fn state() -> AppResult<AppState> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from context");
        AppError::Internal
    })
}

/// The request's headers and URI.
pub fn request_parts() -> AppResult<Parts> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("request parts missing from context");
        AppError::Internal
    })
}

/// The logged-in user, if the request carries a live session.
pub async fn current_user() -> AppResult<Option<CurrentUser>> {
    let state = state()?;
    let parts = request_parts()?;
    match sessions::token_from_headers(&parts.headers) {
        Some(token) => sessions::lookup(&state.db, &token).await,
        None => Ok(None),
    }
}

/// The logged-in user when their role includes `role`; otherwise the refusal to return.
pub async fn require(role: Role) -> AppResult<CurrentUser> {
    let user = sessions::required(current_user().await?)?;
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
