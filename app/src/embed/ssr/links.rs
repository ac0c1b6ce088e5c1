//! Embed links in the database: made, listed, revoked, checked at each use, consumed once.

use serde::Deserialize;
use sqlx::SqlitePool;

use super::{
    PAGE_PATH,
    token::{Claims, sign, verify_signature},
};
use crate::access::origin::normalize_origin;
use crate::state::now;
use crate::{
    embed::{EmbedLink, EmbedLinkInfo},
    error::{AppError, AppResult},
};

/// Longest lifetime of a link: one year.
pub const MAX_TTL_SECS: u64 = 365 * 24 * 3600;

/// Why an embed token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Garbled, or the signature is wrong.
    Forged,
    /// Signed, but no such link (the database was reset).
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked by an admin.
    Revoked,
    /// A single-use link that was used already.
    Used,
    /// Requested from an origin the link is not for.
    WrongOrigin,
    /// The database failed; details in the log.
    Internal,
}

impl Refusal {
    /// The reason, as recorded and told.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Forged => "invalid embed token",
            Refusal::Unknown => "unknown embed link",
            Refusal::Expired => "embed link expired",
            Refusal::Revoked => "embed link revoked",
            Refusal::Used => "single-use embed link already used",
            Refusal::WrongOrigin => "embed link not valid for this origin",
            Refusal::Internal => "internal error",
        }
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Internal => AppError::Internal,
            other => AppError::Forbidden(other.as_str().into()),
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error checking an embed link");
        Refusal::Internal
    }
}

type LinkRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    bool,
    bool,
    Option<i64>,
    Option<i64>,
);

const LINK_COLUMNS: &str = "id, cluster, node, vmid, origin, created_by, created_at, expires_at, \
                            single_use, view_only, used_at, revoked_at";

/// Checks `token` as of now: signature, expiry, and the link's row (exists, same facts, not
/// revoked, single-use not used yet). Does not mark it used: see [`consume`].
pub async fn check(db: &SqlitePool, key: &[u8; 32], token: &str) -> Result<Claims, Refusal> {
    let claims = verify_signature(key, token).ok_or(Refusal::Forged)?;
    let row: Option<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM embed_links WHERE id = ?"
    ))
    .bind(claims.link_id)
    .fetch_optional(db)
    .await?;
    let (_, cluster, node, vmid, origin, _, _, expires_at, single_use, view_only, used_at, revoked) =
        row.ok_or(Refusal::Unknown)?;
    let same = cluster == claims.cluster
        && node == claims.node
        && vmid == i64::from(claims.vmid)
        && origin == claims.origin
        && expires_at == claims.expires_at
        && single_use == claims.single_use
        && view_only == claims.view_only;
    if !same {
        return Err(Refusal::Unknown);
    }
    if revoked.is_some() {
        return Err(Refusal::Revoked);
    }
    if now() >= expires_at {
        return Err(Refusal::Expired);
    }
    if single_use && used_at.is_some() {
        return Err(Refusal::Used);
    }
    Ok(claims)
}

/// Marks a single-use link used; only one caller can win (refused with [`Refusal::Used`]).
/// Other links are not changed.
pub async fn consume(db: &SqlitePool, claims: &Claims) -> Result<(), Refusal> {
    if !claims.single_use {
        return Ok(());
    }
    let done = sqlx::query(
        "UPDATE embed_links SET used_at = ? \
         WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(claims.link_id)
    .execute(db)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Refusal::Used)
    }
}

/// A link to make: validated by [`create`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewLink {
    /// Cluster name.
    pub cluster: String,
    /// Node of the VM.
    pub node: String,
    /// VM id.
    pub vmid: u32,
    /// Partner origin allowed to frame it.
    pub origin: String,
    /// Lifetime in seconds (1 s to one year).
    pub ttl_secs: u64,
    /// Opens the console once only.
    #[serde(default)]
    pub single_use: bool,
    /// Input is dropped.
    #[serde(default)]
    pub view_only: bool,
}

/// Stores a new link made by `by` and returns it with its signed URL. The VM is not checked
/// here; callers check it exists.
pub async fn create(
    db: &SqlitePool,
    key: &[u8; 32],
    by: &str,
    new: &NewLink,
) -> AppResult<EmbedLink> {
    let origin = normalize_origin(&new.origin).ok_or_else(|| {
        AppError::InvalidInput(
            "The origin must look like https://portal.example (scheme and host, optional port)."
                .into(),
        )
    })?;
    if !(1..=MAX_TTL_SECS).contains(&new.ttl_secs) {
        return Err(AppError::InvalidInput(format!(
            "The lifetime must be between 1 and {MAX_TTL_SECS} seconds."
        )));
    }
    let created_at = now();
    let expires_at = created_at + new.ttl_secs as i64;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO embed_links (cluster, node, vmid, origin, created_by, created_at, \
         expires_at, single_use, view_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&new.cluster)
    .bind(&new.node)
    .bind(i64::from(new.vmid))
    .bind(&origin)
    .bind(by)
    .bind(created_at)
    .bind(expires_at)
    .bind(new.single_use)
    .bind(new.view_only)
    .fetch_one(db)
    .await?;
    let token = sign(
        key,
        &Claims {
            link_id: id,
            cluster: new.cluster.clone(),
            node: new.node.clone(),
            vmid: new.vmid,
            expires_at,
            origin,
            single_use: new.single_use,
            view_only: new.view_only,
        },
    );
    Ok(EmbedLink {
        id,
        url: format!("{PAGE_PATH}?token={token}"),
        expires_at,
    })
}

/// Every link, newest first, with its number of recorded uses.
pub async fn list(db: &SqlitePool) -> AppResult<Vec<EmbedLinkInfo>> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM embed_links ORDER BY id DESC"
    ))
    .fetch_all(db)
    .await?;
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT link_id, COUNT(*) FROM embed_link_uses WHERE link_id IS NOT NULL \
         GROUP BY link_id",
    )
    .fetch_all(db)
    .await?;
    let counts: std::collections::HashMap<i64, i64> = counts.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                cluster,
                node,
                vmid,
                origin,
                by,
                created,
                expires,
                single,
                view,
                used,
                revoked,
            )| {
                EmbedLinkInfo {
                    id,
                    cluster,
                    node,
                    vmid: u32::try_from(vmid).unwrap_or_default(),
                    origin,
                    created_by: by,
                    created_at: created,
                    expires_at: expires,
                    single_use: single,
                    view_only: view,
                    used_at: used,
                    revoked_at: revoked,
                    uses: counts.get(&id).copied().unwrap_or(0),
                }
            },
        )
        .collect())
}

/// Whether link `id` was revoked (or is gone): an open console of it ends.
pub async fn is_revoked(db: &SqlitePool, id: i64) -> AppResult<bool> {
    let revoked: Option<Option<i64>> =
        sqlx::query_scalar("SELECT revoked_at FROM embed_links WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(!matches!(revoked, Some(None)))
}

/// Revokes link `id` (it stays listed); revoking twice is no error.
pub async fn revoke(db: &SqlitePool, id: i64) -> AppResult<()> {
    let done =
        sqlx::query("UPDATE embed_links SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(db)
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("embed link {id}")));
    }
    Ok(())
}
