//! Wall display links: random tokens (stored hashed) that let a TV show the metrics wall
//! without a login. Read-only by construction: they open `/wall` and the live stream only.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use crate::state::now;
use crate::{
    error::{AppError, AppResult},
    wall::WallLinkInfo,
};

/// The hash a wall token is stored as.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Mints a link token; returns `(id, token)`. The token is shown once.
pub async fn create(db: &SqlitePool, label: &str, created_by: &str) -> AppResult<(i64, String)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(AppError::InvalidInput(
            "Give the wall link a name of 1 to 100 characters.".into(),
        ));
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let done = sqlx::query(
        "INSERT INTO wall_tokens (token_hash, label, created_by, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(token_hash(&token))
    .bind(label)
    .bind(created_by)
    .bind(now())
    .execute(db)
    .await?;
    Ok((done.last_insert_rowid(), token))
}

/// True when `token` is a live (not revoked) wall token.
pub async fn is_valid(db: &SqlitePool, token: &str) -> AppResult<bool> {
    if token.is_empty() || token.len() > 100 {
        return Ok(false);
    }
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM wall_tokens WHERE token_hash = ? AND revoked_at IS NULL")
            .bind(token_hash(token))
            .fetch_optional(db)
            .await?;
    Ok(row.is_some())
}

/// The stored hashes ([`token_hash`]) of every wall link not revoked.
pub async fn valid_hashes(db: &SqlitePool) -> AppResult<HashSet<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT token_hash FROM wall_tokens WHERE revoked_at IS NULL")
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|(hash,)| hash).collect())
}

/// Every wall link, newest first.
pub async fn list(db: &SqlitePool) -> AppResult<Vec<WallLinkInfo>> {
    let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, label, created_by, created_at, revoked_at FROM wall_tokens ORDER BY id DESC",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, label, created_by, created_at, revoked_at)| WallLinkInfo {
                id,
                label,
                created_by,
                created_at,
                revoked_at,
            },
        )
        .collect())
}

/// Revokes a link; the wall using it is refused from its next connection on.
pub async fn revoke(db: &SqlitePool, id: i64) -> AppResult<()> {
    let done =
        sqlx::query("UPDATE wall_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(db)
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("active wall link {id}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::db;

    #[tokio::test]
    async fn tokens_work_until_revoked() {
        let pool = db::temp().await;
        let (id, token) = create(&pool, "Ops TV", "admin").await.unwrap();
        assert!(is_valid(&pool, &token).await.unwrap());
        assert!(!is_valid(&pool, "forged").await.unwrap());
        assert!(!is_valid(&pool, "").await.unwrap());
        let (stored,): (String,) = sqlx::query_as("SELECT token_hash FROM wall_tokens")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_ne!(stored, token, "only a hash is stored");
        let valid = valid_hashes(&pool).await.unwrap();
        assert!(valid.len() == 1 && valid.contains(&token_hash(&token)));
        revoke(&pool, id).await.unwrap();
        assert!(!is_valid(&pool, &token).await.unwrap());
        assert!(valid_hashes(&pool).await.unwrap().is_empty());
        assert!(matches!(
            revoke(&pool, id).await,
            Err(AppError::NotFound(_))
        ));
        let links = list(&pool).await.unwrap();
        assert_eq!(links[0].label, "Ops TV");
        assert!(links[0].revoked_at.is_some());
        assert!(matches!(
            create(&pool, " ", "admin").await,
            Err(AppError::InvalidInput(_))
        ));
    }
}
