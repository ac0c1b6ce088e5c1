//! `/api/v1/embed-links` for scripts (a partner portal's backend), authenticated by
//! `Authorization: Bearer <API token>` of an admin (tokens come from the `create_api_token`
//! server function):
//! - `POST` JSON `{cluster, node, vmid, origin, ttl_secs, single_use?, view_only?}` → 201
//!   `{id, url, expires_at}`
//! - `GET` → the links; `DELETE /api/v1/embed-links/{id}` → 204 (revoked)
//!
//! Errors are JSON `{"error": "..."}` with a fitting status.

use std::sync::Arc;

use app::{
    access::{self, CurrentUser, Role},
    embed::ssr::{self as embed, EmbedKey},
    error::AppError,
    state::AppState,
};
use axum::{
    Extension, Json,
    extract::{Path, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::middleware::status_of;

/// An API error: the [`AppError`]'s status, and its message as JSON.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(status_of(&e), e.to_string())
    }
}

/// The admin behind the request's bearer token (the access layer's check, as for every
/// transport).
async fn admin(state: &AppState, headers: &HeaderMap) -> Result<CurrentUser, ApiError> {
    let Some(user) = access::token_user(&state.db, headers).await? else {
        tracing::warn!("API call without a known bearer token");
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "a valid API token is needed (Authorization: Bearer …)".into(),
        ));
    };
    Ok(access::authorize(Some(user), Role::Admin)?)
}

/// `POST /api/v1/embed-links`.
pub async fn create(
    State(state): State<AppState>,
    Extension(key): Extension<Arc<EmbedKey>>,
    headers: HeaderMap,
    body: Result<Json<embed::NewLink>, JsonRejection>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &headers).await?;
    let Json(new) = body.map_err(|e| ApiError(e.status(), e.body_text()))?;
    let link = embed::mint(&state.db, &state.clusters, &key, &admin.username, &new).await?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

/// `GET /api/v1/embed-links`.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    admin(&state, &headers).await?;
    Ok(Json(embed::list(&state.db).await?).into_response())
}

/// `DELETE /api/v1/embed-links/{id}`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &headers).await?;
    embed::revoke(&state.db, id).await?;
    tracing::info!(by = %admin.username, id, "embed link revoked (API)");
    Ok(StatusCode::NO_CONTENT)
}
