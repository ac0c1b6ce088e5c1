//! Console embed links for partner portals: HMAC-SHA256-signed tokens naming one VM, an expiry,
//! the partner's origin and the flags (single use, view only). The signature proves the facts;
//! every use is still checked against the database (revoked? already used?) and recorded.
//!
//! Token: `<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, first part))>`, URL-safe as is.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use super::{console::ConsoleTarget, guard, now, state::AppState, users};
use crate::{
    error::{AppError, AppResult},
    model::{EmbedLink, EmbedLinkInfo},
};

/// Name of the HMAC key in `server_secrets`.
const KEY_NAME: &str = "embed_token_hmac";
/// Longest lifetime of a link: one year.
pub const MAX_TTL_SECS: u64 = 365 * 24 * 3600;
/// Path of the embeddable console page (the browser part draws it).
pub const PAGE_PATH: &str = "/embed/console";

/// HMAC-SHA256 (RFC 2104) over SHA-256, which the app already has.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block_key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Compares without stopping at the first difference.
fn equal_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What an embed token says; signed, so it cannot be changed without the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The link's id in `embed_links`.
    #[serde(rename = "l")]
    pub link_id: i64,
    /// Cluster name.
    #[serde(rename = "c")]
    pub cluster: String,
    /// Node.
    #[serde(rename = "n")]
    pub node: String,
    /// VM id.
    #[serde(rename = "v")]
    pub vmid: u32,
    /// Expiry, unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// The partner origin (`https://portal.example`).
    #[serde(rename = "o")]
    pub origin: String,
    /// Opens the console once only.
    #[serde(rename = "s")]
    pub single_use: bool,
    /// Input is dropped.
    #[serde(rename = "r")]
    pub view_only: bool,
}

/// The signed token for `claims`.
pub fn sign(key: &[u8; 32], claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mac = hmac_sha256(key, payload.as_bytes());
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The claims of `token` if its signature is right (expiry and database not checked).
pub fn verify_signature(key: &[u8; 32], token: &str) -> Option<Claims> {
    if token.len() > 2048 {
        return None;
    }
    let (payload, mac) = token.split_once('.')?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    if !equal_constant_time(&hmac_sha256(key, payload.as_bytes()), &mac) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Loads the HMAC key, making it on the first start.
pub(super) async fn load_or_create_key(db: &SqlitePool) -> AppResult<[u8; 32]> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)")
        .bind(KEY_NAME)
        .bind(fresh.as_slice())
        .bind(now())
        .execute(db)
        .await?;
    let (stored,): (Vec<u8>,) = sqlx::query_as("SELECT value FROM server_secrets WHERE name = ?")
        .bind(KEY_NAME)
        .fetch_one(db)
        .await?;
    stored.try_into().map_err(|_| {
        tracing::error!("embed token key in the database has the wrong length");
        AppError::Internal
    })
}

/// `scheme://host[:port]` of an origin or URL as the admin typed it, lower-cased, without path
/// or trailing slash; only `http` and `https`.
pub fn normalize_origin(input: &str) -> Option<String> {
    let input = input.trim();
    let (scheme, rest) = input.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    let valid = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| format!("{scheme}://{authority}"))
}

/// Whether a request with these `Origin` (or `Referer`-derived) and `Host` values may use a
/// link for `link_origin`: the partner's own pages, or our own page inside the partner's
/// iframe (its requests carry our origin). No origin at all (not a browser) is allowed: the
/// token is the credential; framing is limited by `frame-ancestors`.
pub fn origin_allowed(link_origin: &str, request_origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = request_origin else {
        return true;
    };
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    if origin == link_origin {
        return true;
    }
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
}

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

/// The origin a request comes from: its `Origin` header, else the origin of its `Referer`.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match text(header::ORIGIN) {
        Some(origin) => Some(origin.to_owned()),
        None => text(header::REFERER).and_then(normalize_origin),
    }
}

/// The peer address of a request (when the server records it) and the proxies' view of it.
pub fn remote_addr(headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.to_string());
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(128).collect::<String>());
    match (peer, forwarded) {
        (Some(p), Some(f)) => Some(format!("{p} (for {f})")),
        (p, f) => p.or(f),
    }
}

/// Checks a use of `token` coming with these request `headers`: signature, link state, origin.
/// Refusals are logged and recorded; the caller takes a single-use link's one use
/// ([`consume`]) and records the final outcome ("ok" or its own failure).
pub async fn authorize(
    db: &SqlitePool,
    key: &[u8; 32],
    token: &str,
    action: UseAction,
    headers: &HeaderMap,
    remote: Option<&str>,
) -> Result<Claims, Refusal> {
    let origin = request_origin(headers);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let outcome = async {
        let claims = check(db, key, token).await?;
        if !origin_allowed(&claims.origin, origin.as_deref(), host) {
            return Err(Refusal::WrongOrigin);
        }
        Ok(claims)
    }
    .await;
    if let Err(refusal) = outcome {
        let link_id = verify_signature(key, token).map(|c| c.link_id);
        tracing::warn!(
            ?link_id,
            ?action,
            origin = origin.as_deref().unwrap_or("-"),
            remote = remote.unwrap_or("-"),
            reason = refusal.as_str(),
            "embed link refused"
        );
        record_use(
            db,
            link_id,
            action,
            remote,
            origin.as_deref(),
            refusal.as_str(),
        )
        .await;
    }
    outcome
}

/// Validates and stores a new link for an admin (`by`): the cluster must be configured, the VM
/// must exist there and be in `by`'s scope. The scope is read from the database here, so the
/// server function and the `/api/v1` endpoint both apply it.
pub async fn mint(state: &AppState, by: &str, new: &NewLink) -> AppResult<EmbedLink> {
    let cluster = state.clusters.get(&new.cluster)?;
    let target = ConsoleTarget::parse(&cluster.name, &new.node, &new.vmid.to_string())?;
    let scope = users::scope_of(&state.db, by).await?;
    guard::vm_in_scope(by, &scope, cluster, &target.node, target.vmid).await?;
    cluster.api.qemu_status(&target.node, target.vmid).await?;
    let key = state.console.embed_key(&state.db).await?;
    let link = create(&state.db, &key, by, new).await?;
    tracing::info!(
        by,
        id = link.id,
        cluster = %cluster.name,
        node = %target.node,
        vmid = %target.vmid,
        origin = %new.origin,
        ttl = new.ttl_secs,
        single_use = new.single_use,
        view_only = new.view_only,
        "embed link created"
    );
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 4231 test cases 2 (short key) and 6 (key longer than a block).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn claims() -> Claims {
        Claims {
            link_id: 7,
            cluster: "demo".into(),
            node: "pve1".into(),
            vmid: 100,
            expires_at: 2_000_000_000,
            origin: "https://portal.example".into(),
            single_use: false,
            view_only: true,
        }
    }

    #[test]
    fn tokens_verify_and_resist_tampering() {
        let key = [3u8; 32];
        let token = sign(&key, &claims());
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert_eq!(verify_signature(&key, &token), Some(claims()));
        assert_eq!(verify_signature(&[4u8; 32], &token), None, "other key");
        let mut other = claims();
        other.view_only = false;
        let forged = format!(
            "{}.{}",
            sign(&key, &other).split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        assert_eq!(verify_signature(&key, &forged), None, "changed claims");
        assert_eq!(verify_signature(&key, "garbage"), None);
        assert_eq!(verify_signature(&key, ""), None);
    }

    #[test]
    fn origins() {
        assert_eq!(
            normalize_origin("HTTPS://Portal.Example:8443/path?q").as_deref(),
            Some("https://portal.example:8443")
        );
        assert_eq!(
            normalize_origin("http://localhost:3001/").as_deref(),
            Some("http://localhost:3001")
        );
        assert_eq!(normalize_origin("javascript://x"), None);
        assert_eq!(normalize_origin("https://"), None);
        assert_eq!(normalize_origin("https://user@evil"), None);
        assert_eq!(normalize_origin("portal.example"), None);

        let link = "https://portal.example";
        assert!(origin_allowed(link, Some("https://portal.example"), None));
        assert!(origin_allowed(
            link,
            Some("http://panel:3000"),
            Some("panel:3000")
        ));
        assert!(origin_allowed(link, None, Some("panel:3000")));
        assert!(!origin_allowed(
            link,
            Some("https://evil.example"),
            Some("panel:3000")
        ));
        assert!(!origin_allowed(link, Some("null"), Some("panel:3000")));
    }

    #[tokio::test]
    async fn links_are_checked_against_the_database() {
        let db = crate::ssr::db::temp().await;
        let key = load_or_create_key(&db).await.unwrap();
        assert_eq!(load_or_create_key(&db).await.unwrap(), key, "kept");
        let new = NewLink {
            cluster: "demo".into(),
            node: "pve1".into(),
            vmid: 100,
            origin: "https://portal.example/".into(),
            ttl_secs: 60,
            single_use: true,
            view_only: false,
        };
        let link = create(&db, &key, "admin", &new).await.unwrap();
        let token = link.url.strip_prefix("/embed/console?token=").unwrap();
        let claims = check(&db, &key, token).await.unwrap();
        assert_eq!(claims.origin, "https://portal.example");
        consume(&db, &claims).await.unwrap();
        assert_eq!(consume(&db, &claims).await, Err(Refusal::Used));
        assert_eq!(check(&db, &key, token).await, Err(Refusal::Used));

        let again = create(
            &db,
            &key,
            "admin",
            &NewLink {
                single_use: false,
                ..new.clone()
            },
        )
        .await
        .unwrap();
        let token = again.url.strip_prefix("/embed/console?token=").unwrap();
        assert!(check(&db, &key, token).await.is_ok());
        revoke(&db, again.id).await.unwrap();
        assert_eq!(check(&db, &key, token).await, Err(Refusal::Revoked));
        assert!(revoke(&db, 999).await.is_err());

        record_use(&db, Some(again.id), UseAction::Console, None, None, "ok").await;
        record_use(&db, Some(424242), UseAction::Page, None, None, "x").await;
        let listed = list(&db).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].uses, 1);
        assert!(listed[0].revoked_at.is_some());

        assert!(
            create(
                &db,
                &key,
                "admin",
                &NewLink {
                    ttl_secs: 0,
                    ..new.clone()
                }
            )
            .await
            .is_err()
        );
        assert!(
            create(
                &db,
                &key,
                "admin",
                &NewLink {
                    origin: "nope".into(),
                    ..new
                }
            )
            .await
            .is_err()
        );
    }
}
