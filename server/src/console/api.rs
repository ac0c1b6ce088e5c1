//! `/api/v1/embed-links` for scripts (a partner portal's backend), authenticated by
//! `Authorization: Bearer <API token>` of an admin (tokens come from the `create_api_token`
//! server function):
//! - `POST` JSON `{cluster, node, vmid, origin, ttl_secs, single_use?, view_only?}` → 201
//!   `{id, url, expires_at}`
//! - `GET` → the links; `DELETE /api/v1/embed-links/{id}` → 204 (revoked)
//!
//! Errors are JSON `{"error": "..."}` with a fitting status.

use app::{
    error::AppError,
    model::{CurrentUser, Role},
    ssr::{api_tokens, embed, state::AppState},
};
use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An API error: status and message.
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
        let status = match &e {
            AppError::Unauthenticated | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Pve(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::Internal | AppError::ServerFn(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

/// The admin behind the request's bearer token.
async fn admin(state: &AppState, headers: &HeaderMap) -> Result<CurrentUser, ApiError> {
    let Some(token) = api_tokens::from_headers(headers) else {
        tracing::warn!("API call without a bearer token");
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "an API token is needed (Authorization: Bearer …)".into(),
        ));
    };
    let Some(user) = api_tokens::lookup(&state.db, token).await? else {
        tracing::warn!("API call with an unknown token");
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "unknown API token".into(),
        ));
    };
    if !user.role.allows(Role::Admin) {
        tracing::warn!(user = %user.username, "API call refused: not an admin");
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "this needs an admin's API token".into(),
        ));
    }
    Ok(user)
}

/// `POST /api/v1/embed-links`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<embed::NewLink>, JsonRejection>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &headers).await?;
    let Json(new) = body.map_err(|e| ApiError(e.status(), e.body_text()))?;
    let link = embed::mint(&state, &admin.username, &new).await?;
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
