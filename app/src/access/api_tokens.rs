//! API tokens for scripts: `Authorization: Bearer <token>` on `/api/v1/…`. A token acts as
//! the user who made it, with that user's role at the time of use; only a SHA-256 of it is
//! stored, and it is shown once.

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use super::{CurrentUser, Role, Scope};
use crate::error::{AppError, AppResult};
use crate::state::now;

/// Prefix that makes Cecyber tokens recognisable (e.g. by secret scanners).
const PREFIX: &str = "cecyber_";

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Makes a token for `username` labelled `label`; returns it (the only time it is seen).
pub async fn create(db: &SqlitePool, username: &str, label: &str) -> AppResult<String> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(AppError::InvalidInput(
            "A token label is 1 to 100 characters.".into(),
        ));
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (token_hash, label, user_id, created_at) \
         SELECT ?, ?, id, ? FROM users WHERE username = ?",
    )
    .bind(hash(&token))
    .bind(label)
    .bind(now())
    .bind(username)
    .execute(db)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(AppError::NotFound(format!("user {username:?}")));
    }
    Ok(token)
}

/// The user a token acts as, or `None` for an unknown token.
pub async fn lookup(db: &SqlitePool, token: &str) -> AppResult<Option<CurrentUser>> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let token_hash = hash(token);
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT u.username, u.role, u.scope_tags FROM api_tokens t \
         JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
    )
    .bind(&token_hash)
    .fetch_optional(db)
    .await?;
    let Some((username, role, scope)) = row else {
        return Ok(None);
    };
    sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?")
        .bind(now())
        .bind(&token_hash)
        .execute(db)
        .await?;
    Ok(role.parse::<Role>().ok().map(|role| CurrentUser {
        username,
        role,
        scope: Scope::from_db(scope.as_deref()),
    }))
}

/// The bearer token of a request's `Authorization` header.
pub fn from_headers(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[tokio::test]
    async fn tokens_act_as_their_user() {
        let db = crate::state::db::temp().await;
        crate::users::ssr::create(&db, "ops", "password-1", Role::Admin)
            .await
            .unwrap();
        let token = create(&db, "ops", "portal").await.unwrap();
        assert!(token.starts_with(PREFIX));
        let user = lookup(&db, &token).await.unwrap().unwrap();
        assert_eq!((user.username.as_str(), user.role), ("ops", Role::Admin));
        assert!(lookup(&db, "cecyber_forged").await.unwrap().is_none());
        assert!(create(&db, "nobody", "x").await.is_err());
        assert!(create(&db, "ops", " ").await.is_err());

        // Another admin who sees everything, so that "ops" may be demoted.
        crate::users::ssr::create(&db, "root", "password-1", Role::Admin)
            .await
            .unwrap();
        crate::users::ssr::set_role(&db, "ops", Role::Viewer)
            .await
            .unwrap();
        assert_eq!(
            lookup(&db, &token).await.unwrap().unwrap().role,
            Role::Viewer,
            "the user's current role counts"
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert_eq!(from_headers(&headers), Some(token.as_str()));
    }
}
