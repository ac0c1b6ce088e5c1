//! Login sessions: random tokens in an HttpOnly cookie, stored only as SHA-256 hashes.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, header, request::Parts};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use super::{CurrentUser, Role, Scope, origin};
use crate::{
    error::AppResult,
    state::{SessionSettings, now},
};

/// Name of the session cookie.
pub const COOKIE: &str = "cecyber_session";

/// The hash a session token is stored as.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a session for the user with id `user_id`; returns the token for the cookie.
pub async fn create(db: &SqlitePool, user_id: i64, ttl: Duration) -> AppResult<String> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let created = now();
    // Expired sessions are pruned here, where logins happen, rather than by a timer.
    sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
        .bind(created)
        .execute(db)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(created)
    .bind(created + ttl.as_secs() as i64)
    .execute(db)
    .await?;
    Ok(token)
}

/// The user of a live session, or `None` for a missing, unknown or expired token.
pub async fn lookup(db: &SqlitePool, token: &str) -> AppResult<Option<CurrentUser>> {
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT u.username, u.role, u.scope_tags FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = ? AND s.expires_at > ?",
    )
    .bind(token_hash(token))
    .bind(now())
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|(username, role, scope)| {
        role.parse::<Role>().ok().map(|role| CurrentUser {
            username,
            role,
            scope: Scope::from_db(scope.as_deref()),
        })
    }))
}

/// Every current session's user, by [`token_hash`]: one query for what would be one
/// [`lookup`] per session (the live streams re-check thousands of sessions).
pub async fn all_current(db: &SqlitePool) -> AppResult<HashMap<String, CurrentUser>> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.token_hash, u.username, u.role, u.scope_tags FROM sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.expires_at > ?",
    )
    .bind(now())
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(hash, username, role, scope)| {
            let role = role.parse::<Role>().ok()?;
            let scope = Scope::from_db(scope.as_deref());
            Some((
                hash,
                CurrentUser {
                    username,
                    role,
                    scope,
                },
            ))
        })
        .collect())
}

/// Ends the session with this token (no error if it is already gone).
pub async fn delete(db: &SqlitePool, token: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash(token))
        .execute(db)
        .await?;
    Ok(())
}

/// The session token from a request's `Cookie` headers.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that stores `token` (or clears the cookie when `token` is `None`).
/// Unless `secure_cookies` says otherwise, it is `Secure` when `request` came over HTTPS: over
/// Cecyber's own TLS, or from a trusted proxy saying so ([`origin::is_https`]).
pub fn cookie(settings: &SessionSettings, request: &Parts, token: Option<&str>) -> String {
    let secure = settings
        .secure_cookie
        .unwrap_or_else(|| origin::is_https(&request.extensions));
    let (value, max_age) = match token {
        Some(t) => (t, settings.ttl.as_secs()),
        None => ("", 0),
    };
    let mut cookie =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn settings(secure: Option<bool>) -> SessionSettings {
        SessionSettings {
            ttl: Duration::from_secs(3600),
            secure_cookie: secure,
            login_failure_delay: Duration::ZERO,
        }
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; cecyber_session=tok; b=2"),
        );
        assert_eq!(token_from_headers(&headers).as_deref(), Some("tok"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("cecyber_session_x=1"),
        );
        assert_eq!(token_from_headers(&headers), None);
    }

    #[tokio::test]
    async fn sessions_open_expire_and_end() {
        let pool = crate::state::db::temp().await;
        crate::users::ssr::create(&pool, "ann", "password-1", Role::Operator)
            .await
            .unwrap();
        let user = crate::users::ssr::check_login(&pool, "ann", "password-1")
            .await
            .unwrap()
            .unwrap();

        let token = create(&pool, user.id, Duration::from_secs(60))
            .await
            .unwrap();
        let found = lookup(&pool, &token).await.unwrap().expect("live session");
        assert_eq!(
            (found.username.as_str(), found.role),
            ("ann", Role::Operator)
        );
        assert!(lookup(&pool, "forged-token").await.unwrap().is_none());

        let expired = create(&pool, user.id, Duration::ZERO).await.unwrap();
        assert!(
            lookup(&pool, &expired).await.unwrap().is_none(),
            "expired sessions open nothing"
        );
        let all = all_current(&pool).await.unwrap();
        assert_eq!(all.len(), 1, "current sessions only");
        assert_eq!(
            all.get(&token_hash(&token)),
            lookup(&pool, &token).await.unwrap().as_ref(),
            "all at once says what one lookup says"
        );

        delete(&pool, &token).await.unwrap();
        assert!(lookup(&pool, &token).await.unwrap().is_none(), "logged out");
        assert!(all_current(&pool).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_a_hash_of_the_token_is_stored() {
        let pool = crate::state::db::temp().await;
        crate::users::ssr::create(&pool, "ben", "password-1", Role::Viewer)
            .await
            .unwrap();
        let user = crate::users::ssr::check_login(&pool, "ben", "password-1")
            .await
            .unwrap()
            .unwrap();
        let token = create(&pool, user.id, Duration::from_secs(60))
            .await
            .unwrap();
        let (stored,): (String,) = sqlx::query_as("SELECT token_hash FROM sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_ne!(stored, token);
        assert_eq!(stored, token_hash(&token));
    }

    #[test]
    fn cookie_flags_follow_the_transport() {
        use super::origin::{ClientAddr, TrustedProxies};

        let request = |peer: &str, tls: bool, trusted: &[&str]| {
            let (mut parts, ()) = axum::http::Request::builder()
                .header("x-forwarded-proto", "https")
                .body(())
                .unwrap()
                .into_parts();
            let trusted = TrustedProxies::parse(trusted).unwrap();
            let client = ClientAddr::resolve(peer.parse().unwrap(), tls, &parts.headers, &trusted);
            parts.extensions.insert(client);
            parts
        };
        let plain = request("192.0.2.1:1000", false, &[]);
        let c = cookie(&settings(None), &plain, Some("t"));
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age=3600")
        );
        assert!(!c.contains("Secure"), "X-Forwarded-Proto from anyone: {c}");
        let proxied = request("192.0.2.1:1000", false, &["192.0.2.0/24"]);
        assert!(cookie(&settings(None), &proxied, Some("t")).ends_with("; Secure"));
        let tls = request("192.0.2.1:1000", true, &[]);
        assert!(cookie(&settings(None), &tls, Some("t")).ends_with("; Secure"));
        assert!(cookie(&settings(Some(true)), &plain, Some("t")).ends_with("; Secure"));
        assert!(!cookie(&settings(Some(false)), &tls, Some("t")).contains("Secure"));
        assert!(cookie(&settings(None), &plain, None).contains("Max-Age=0"));
    }
}
