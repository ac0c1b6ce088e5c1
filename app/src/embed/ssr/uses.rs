//! The record of every use of an embed link, allowed or refused.

use sqlx::SqlitePool;

use crate::error::AppResult;
use crate::state::now;

/// What a use was: loading the page, or opening the console's WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseAction {
    /// `embed_console` (the page asking for its console).
    Page,
    /// The console WebSocket.
    Console,
}

/// Records one use of a link (`link_id` is `None` when the token named no real link).
/// Failing to record is logged, not fatal.
pub async fn record_use(
    db: &SqlitePool,
    link_id: Option<i64>,
    action: UseAction,
    remote_addr: Option<&str>,
    origin: Option<&str>,
    result: &str,
) {
    let action = match action {
        UseAction::Page => "page",
        UseAction::Console => "console",
    };
    let clip = |s: &str| s.chars().take(256).collect::<String>();
    let outcome = sqlx::query(
        "INSERT INTO embed_link_uses (link_id, at, action, remote_addr, origin, result) \
         VALUES ((SELECT id FROM embed_links WHERE id = ?), ?, ?, ?, ?, ?)",
    )
    .bind(link_id)
    .bind(now())
    .bind(action)
    .bind(remote_addr.map(clip))
    .bind(origin.map(clip))
    .bind(result)
    .execute(db)
    .await;
    if let Err(e) = outcome {
        tracing::error!(error = %e, "could not record an embed link use");
    }
}

/// One recorded use, for admins and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRecord {
    /// Unix seconds.
    pub at: i64,
    /// `page` or `console`.
    pub action: String,
    /// Peer address, when known.
    pub remote_addr: Option<String>,
    /// `Origin` (or `Referer` origin) of the request.
    pub origin: Option<String>,
    /// `ok` or the refusal.
    pub result: String,
}

/// The recorded uses of link `id`, oldest first.
pub async fn uses(db: &SqlitePool, id: i64) -> AppResult<Vec<UseRecord>> {
    type UseRow = (i64, String, Option<String>, Option<String>, String);
    let rows: Vec<UseRow> = sqlx::query_as(
        "SELECT at, action, remote_addr, origin, result FROM embed_link_uses \
         WHERE link_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, action, remote_addr, origin, result)| UseRecord {
            at,
            action,
            remote_addr,
            origin,
            result,
        })
        .collect())
}
