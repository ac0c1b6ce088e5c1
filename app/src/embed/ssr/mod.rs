//! Console embed links for partner portals: HMAC-SHA256-signed tokens naming one VM, an expiry,
//! the partner's origin and the flags (single use, view only). The signature proves the facts;
//! every use is still checked against the database (revoked? already used?) and recorded.
//!
//! Token: `<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, first part))>`, URL-safe as is.

mod links;
mod token;
mod uses;

pub use links::*;
pub use token::*;
pub use uses::*;

use axum::http::HeaderMap;
use sqlx::SqlitePool;

use super::EmbedLink;
use crate::{
    access::{
        self,
        origin::{is_own_origin, normalize_origin, request_origin},
    },
    console::ssr::ConsoleTarget,
    error::AppResult,
    state::clusters::Clusters,
    users,
};

/// Path of the embeddable console page (the browser part draws it).
pub const PAGE_PATH: &str = "/embed/console";

/// Whether a request from `request_origin` (its `Origin`, or its `Referer`'s origin) may use a
/// link for `link_origin`: the partner's own pages, or our own page inside the partner's
/// iframe (its requests carry our origin). No origin at all (not a browser) is allowed: the
/// token is the credential; framing is limited by `frame-ancestors`. `public` is this server's
/// configured origin (see [`is_own_origin`]).
pub fn origin_allowed(
    link_origin: &str,
    request_origin: Option<&str>,
    headers: &HeaderMap,
    public: Option<&str>,
) -> bool {
    let Some(origin) = request_origin else {
        return true;
    };
    let same =
        |a: &str, b: &str| normalize_origin(a).is_some_and(|a| Some(a) == normalize_origin(b));
    same(origin, link_origin) || is_own_origin(origin, headers, public)
}

/// Checks a use of `token` coming with these request `headers`: signature, link state, origin
/// (this server's own is `public`, see [`is_own_origin`]).
/// Refusals are logged and recorded; the caller takes a single-use link's one use
/// ([`consume`]) and records the final outcome ("ok" or its own failure).
pub async fn authorize(
    db: &SqlitePool,
    key: &[u8; 32],
    token: &str,
    action: UseAction,
    headers: &HeaderMap,
    remote: Option<&str>,
    public: Option<&str>,
) -> Result<Claims, Refusal> {
    let origin = request_origin(headers);
    let outcome = async {
        let claims = check(db, key, token).await?;
        if !origin_allowed(&claims.origin, origin.as_deref(), headers, public) {
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
pub async fn mint(
    db: &SqlitePool,
    clusters: &Clusters,
    key: &EmbedKey,
    by: &str,
    new: &NewLink,
) -> AppResult<EmbedLink> {
    let cluster = clusters.get(&new.cluster)?;
    let target = ConsoleTarget::parse(&cluster.name, &new.node, &new.vmid.to_string())?;
    let scope = users::ssr::scope_of(db, by).await?;
    access::vm_in_scope(by, &scope, cluster, &target.node, target.vmid).await?;
    cluster.api.qemu_status(&target.node, target.vmid).await?;
    let key = key.get(db).await?;
    let link = create(db, &key, by, new).await?;
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
    fn links_are_used_from_their_origin_or_ours() {
        use axum::http::{HeaderValue, header};
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("panel:3000"));
        let link = "https://portal.example";
        assert!(origin_allowed(
            link,
            Some("https://portal.example"),
            &HeaderMap::new(),
            None
        ));
        assert!(origin_allowed(
            link,
            Some("https://PORTAL.example:443"),
            &headers,
            None
        ));
        assert!(origin_allowed(
            link,
            Some("http://panel:3000"),
            &headers,
            None
        ));
        assert!(origin_allowed(link, None, &headers, None));
        assert!(!origin_allowed(
            link,
            Some("https://evil.example"),
            &headers,
            None
        ));
        assert!(!origin_allowed(link, Some("null"), &headers, None));
        assert!(
            origin_allowed("https://portal.example:443", Some(link), &headers, None),
            "stored with its default port"
        );
    }

    #[tokio::test]
    async fn links_are_checked_against_the_database() {
        let db = crate::state::db::temp().await;
        let key = EmbedKey::default().get(&db).await.unwrap();
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
