//! The console relay: `GET /api/console/ws?session=<id>` (a one-time console session made by
//! the `open_console` server function, opened by the same logged-in user) or `?embed=<token>`
//! (an embed link; no cookie needed). Every check — session, user, embed link, origin, the VM —
//! and the whole connection to PVE, including its VNC authentication, happen before the
//! browser's upgrade is accepted: a refusal is an HTTP status with a message and a log line,
//! never a half-open socket.
//!
//! - `upstream`: `vncwebsocket` and the RFB handshake with PVE
//! - `relay`: the RFB handshake with the browser (security None), then byte relay
//! - `websocket`: the WebSocket protocol on both sides (our own: PVE's frames pass on as they are)
//! - `recheck`: the grant checked again while the console is open
//! - `filter`: view-only input filter; `wire`: frames as bytes
//! - `api`: `/api/v1/embed-links` for scripts with an admin API token

pub mod api;
mod filter;
mod recheck;
mod relay;
mod upstream;
mod websocket;
mod wire;

use std::time::{Duration, Instant};

use std::sync::Arc;

use app::{
    access::{
        self, Role,
        origin::{self, ClientAddr},
    },
    console::ssr::{ConsoleHub, ConsoleTarget, PendingConsole, TakeError},
    embed::ssr::{self as embed, EmbedKey, UseAction},
    error::AppError,
    state::AppState,
};
use axum::{
    Extension,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use pve::types::VncProxy;
use serde::Deserialize;

use crate::{middleware::status_of, shutdown::Shutdown};
use upstream::{Upstream, UpstreamError};
use websocket::handshake::{BrowserUpgrade, NotAnUpgrade};

/// A `vncproxy` answer is used only this long after it came: PVE's proxy waits 10 s for its
/// connection. Older ones are replaced by a fresh `vncproxy`.
const PROXY_FRESH: Duration = Duration::from_secs(8);
/// Longest wait for another console of the same VM to finish opening.
const VM_LOCK_WAIT: Duration = Duration::from_secs(30);
/// Longest time for `vncproxy` + `vncwebsocket` + VNC authentication.
const OPEN_TIMEOUT: Duration = Duration::from_secs(25);

/// The query of the console WebSocket.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// A console session id from `open_console`.
    session: Option<String>,
    /// An embed token.
    embed: Option<String>,
}

/// What the request may open.
struct Grant {
    target: ConsoleTarget,
    view_only: bool,
    /// The `vncproxy` answer of `open_console`, and when it came.
    proxy: Option<(VncProxy, Instant)>,
    /// For the log: `user ann` or `embed link 3`.
    who: String,
    /// Who holds it: checked again while it is open; an embed link's outcome is recorded.
    holder: recheck::Holder,
}

/// A refusal before the upgrade: status and message.
struct Refused(StatusCode, String);

impl From<AppError> for Refused {
    fn from(e: AppError) -> Self {
        Refused(status_of(&e), e.to_string())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

/// The handler of `GET /api/console/ws`.
#[allow(
    clippy::too_many_arguments,
    reason = "one parameter per axum extractor"
)]
pub(crate) async fn console_ws(
    State(state): State<AppState>,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    client: Option<Extension<ClientAddr>>,
    Extension(stopping): Extension<Shutdown>,
    Extension(hub): Extension<Arc<ConsoleHub>>,
    Extension(key): Extension<Arc<EmbedKey>>,
    upgrade: Result<BrowserUpgrade, NotAnUpgrade>,
) -> Response {
    let remote = client.map(|Extension(client)| client.to_string());
    let remote_text = remote.as_deref().unwrap_or("-");
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(remote = remote_text, error = %e, "console refused: not a WebSocket upgrade");
            return Refused(
                e.status,
                format!("the console needs a WebSocket upgrade: {e}"),
            )
            .into_response();
        }
    };
    let grant = match query {
        Ok(Query(WsQuery {
            session: Some(id),
            embed: None,
        })) => session_grant(&state, &hub, &id, &headers, remote_text).await,
        Ok(Query(WsQuery {
            session: None,
            embed: Some(token),
        })) => embed_grant(&state, &key, &token, &headers, remote.as_deref()).await,
        _ => {
            tracing::warn!(
                remote = remote_text,
                "console refused: no session or embed token"
            );
            Err(Refused(
                StatusCode::BAD_REQUEST,
                "give either a console session or an embed token".into(),
            ))
        }
    };
    let grant = match grant {
        Ok(g) => g,
        Err(refused) => return refused.into_response(),
    };
    let upstream = match open_upstream(&state, &hub, &grant).await {
        Ok(u) => u,
        Err(refused) => {
            tracing::warn!(remote = remote_text, console = %grant.who, cluster = %grant.target.cluster, node = %grant.target.node, vmid = %grant.target.vmid, reason = %refused.1, "console refused: PVE side failed");
            record(&state, &grant, remote.as_deref(), &headers, &refused.1).await;
            return refused.into_response();
        }
    };
    record(&state, &grant, remote.as_deref(), &headers, "ok").await;
    let options = relay::Options {
        view_only: grant.view_only,
        label: format!(
            "{} → {}/{}/{}",
            grant.who, grant.target.cluster, grant.target.node, grant.target.vmid
        ),
        access: recheck::Access {
            state: state.clone(),
            holder: grant.holder.clone(),
            target: grant.target.clone(),
        },
        stopping,
    };
    upgrade.accept(options.label.clone(), move |socket| {
        relay::run(socket, upstream, options)
    })
}

/// A one-time console session: opened by the user it was made for, from our own origin, in
/// time, and once. Every check comes before the session is taken, so a refused attempt (another
/// user's cookie, no cookie, another site) leaves it usable by its owner until it expires.
async fn session_grant(
    state: &AppState,
    hub: &ConsoleHub,
    id: &str,
    headers: &HeaderMap,
    remote: &str,
) -> Result<Grant, Refused> {
    let refuse = |e: AppError| {
        tracing::warn!(remote, reason = %e, "console session refused");
        Refused::from(e)
    };
    origin::same_origin(headers, state.public_origin.as_deref()).map_err(refuse)?;
    // The session is held by its cookie's token: checked again while the console is open.
    let (token, user) = access::session(&state.db, headers)
        .await
        .and_then(|session| session.ok_or(AppError::Unauthenticated))
        .map_err(refuse)?;
    let user = access::authorize(Some(user), Role::Operator).map_err(refuse)?;
    let pending: PendingConsole = match hub.take(id, &user.username) {
        Ok(p) => p,
        Err(e @ TakeError::OtherUser) => {
            tracing::warn!(remote, user = %user.username, "console session of another user refused; left for its owner");
            return Err(Refused(StatusCode::FORBIDDEN, e.to_string()));
        }
        Err(e) => {
            tracing::warn!(remote, reason = %e, "console session refused");
            return Err(Refused(StatusCode::FORBIDDEN, e.to_string()));
        }
    };
    Ok(Grant {
        target: pending.target,
        view_only: pending.view_only,
        proxy: Some((pending.proxy, pending.proxied_at)),
        who: format!("user {}", user.username),
        holder: recheck::Holder::Session(token),
    })
}

/// An embed link: signed, not expired or revoked, from an allowed origin, for a running VM;
/// a single-use link's one use is taken here.
async fn embed_grant(
    state: &AppState,
    key: &EmbedKey,
    token: &str,
    headers: &HeaderMap,
    remote: Option<&str>,
) -> Result<Grant, Refused> {
    let key = key.get(&state.db).await?;
    let public = state.public_origin.as_deref();
    let claims = embed::authorize(
        &state.db,
        &key,
        token,
        UseAction::Console,
        headers,
        remote,
        public,
    )
    .await
    .map_err(|r| {
        let status = match r {
            embed::Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::FORBIDDEN,
        };
        Refused(status, r.as_str().into())
    })?;
    let grant = Grant {
        target: ConsoleTarget::parse(&claims.cluster, &claims.node, &claims.vmid.to_string())
            .map_err(|e| Refused(StatusCode::BAD_REQUEST, e.to_string()))?,
        view_only: claims.view_only,
        proxy: None,
        who: format!("embed link {}", claims.link_id),
        holder: recheck::Holder::Link(claims.link_id),
    };
    let checked = async {
        let cluster = state.clusters.get(&claims.cluster)?;
        let status = cluster
            .api
            .qemu_status(&grant.target.node, grant.target.vmid)
            .await
            .map_err(AppError::from)?;
        if !status.is_running() {
            return Err(Refused(
                StatusCode::CONFLICT,
                format!("VM {} is not running", grant.target.vmid),
            ));
        }
        embed::consume(&state.db, &claims)
            .await
            .map_err(|r| Refused(StatusCode::FORBIDDEN, r.as_str().into()))
    }
    .await;
    if let Err(refused) = checked {
        tracing::warn!(console = %grant.who, remote = remote.unwrap_or("-"), reason = %refused.1, "embed console refused");
        record(state, &grant, remote, headers, &refused.1).await;
        return Err(refused);
    }
    Ok(grant)
}

/// Records the outcome of an embed console opening.
async fn record(
    state: &AppState,
    grant: &Grant,
    remote: Option<&str>,
    headers: &HeaderMap,
    result: &str,
) {
    if let recheck::Holder::Link(id) = grant.holder {
        let origin = origin::request_origin(headers);
        embed::record_use(
            &state.db,
            Some(id),
            UseAction::Console,
            remote,
            origin.as_deref(),
            result,
        )
        .await;
    }
}

/// Connects to PVE and authenticates, holding the VM's console lock throughout: the answer of
/// `open_console` is used while fresh, else (or if it fails) a new `vncproxy` is made.
async fn open_upstream(
    state: &AppState,
    hub: &ConsoleHub,
    grant: &Grant,
) -> Result<Upstream, Refused> {
    let cluster = state.clusters.get(&grant.target.cluster)?;
    let target = &grant.target;
    let _vm = tokio::time::timeout(VM_LOCK_WAIT, hub.lock_vm(&cluster.name, target.vmid))
        .await
        .map_err(|_| {
            Refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "another console of this VM is still opening; try again".into(),
            )
        })?;
    let api = cluster.api.as_ref();
    let attempt = async {
        if let Some((proxy, at)) = &grant.proxy
            && at.elapsed() < PROXY_FRESH
        {
            match upstream::open(api, target, proxy).await {
                Ok(u) => return Ok(u),
                Err(e) => {
                    tracing::info!(console = %grant.who, error = %e, "console: first vncproxy unusable; making a new one");
                }
            }
        }
        let proxy = api
            .qemu_vncproxy(&target.node, target.vmid, true)
            .await
            .map_err(AppError::from)?;
        upstream::open(api, target, &proxy)
            .await
            .map_err(|e: UpstreamError| Refused(StatusCode::BAD_GATEWAY, e.to_string()))
    };
    tokio::time::timeout(OPEN_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(Refused(
                StatusCode::GATEWAY_TIMEOUT,
                "Proxmox VE did not open the console in time".into(),
            ))
        })
}
