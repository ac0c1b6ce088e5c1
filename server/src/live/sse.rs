//! `GET /api/live?view=…`: the live stream as server-sent events.
//!
//! On connect a `snapshot` (or, with `Last-Event-ID`, the events missed since), then a `tick`
//! or `stale` event per poll, cut to the page's view and the user's scope. A viewer that
//! falls behind gets a new `snapshot` rather than slowing anyone down. Events carry their
//! sequence number as the SSE id; after a snapshot, events with a lower or equal `seq` are
//! already included and can be skipped. The session (or wall token) is checked again every
//! [`RECHECK`] (all streams' checks share one reading, see [`credentials`](super::credentials)):
//! a revoked one ends the stream with a `revoked` event.

use std::{collections::HashMap, convert::Infallible, sync::Arc, time::Duration};

use app::{
    access::{self, Role, Scope, sessions},
    error::AppError,
    live::LiveViewKind,
    state::AppState,
    wall::ssr as wall,
};
use axum::{
    Extension,
    body::{Body, Bytes},
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::{StreamExt, stream};
use sqlx::SqlitePool;
use tokio::{sync::broadcast::error::RecvError, time::Instant};

use crate::shutdown::Shutdown;

use super::{
    credentials::Credential,
    hub::{LiveEvent, LiveHub, Published, Subscription},
    views::Audience,
};

/// A comment line every so often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often a running stream checks that its session or wall token still holds.
pub const RECHECK: Duration = Duration::from_secs(10);

/// The scope `token` grants when a stream opens (checked directly, not through the board):
/// a session through the access layer (viewers and above), a wall link by its own check.
async fn scope_at_open(state: &AppState, token: &Token) -> Result<Scope, AppError> {
    match token {
        Token::Wall(token) => match wall::is_valid(&state.db, token).await? {
            true => Ok(Scope::everything()),
            false => Err(AppError::Forbidden(
                "this wall link is invalid or revoked.".into(),
            )),
        },
        Token::Session(token) => {
            let user = sessions::lookup(&state.db, token).await?;
            Ok(access::authorize(user, Role::Viewer)?.scope)
        }
    }
}

/// What a request showed to watch.
enum Token {
    Session(String),
    Wall(String),
}

/// The SSE handler; viewers and above, or a wall link.
pub async fn live_events(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<LiveHub>>,
    Extension(shutdown): Extension<Shutdown>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = match (query.get("wall"), sessions::token_from_headers(&headers)) {
        (Some(token), _) => Token::Wall(token.clone()),
        (None, Some(token)) => Token::Session(token),
        (None, None) => return refuse(&AppError::Unauthenticated),
    };
    let wall_link = matches!(token, Token::Wall(_));
    let scope = match scope_at_open(&state, &token).await {
        Ok(scope) => scope,
        Err(e) => {
            tracing::info!(wall = wall_link, reason = %e, "live stream refused");
            return refuse(&e);
        }
    };
    let view = match parse_view(&state, &query) {
        Ok(view) => view,
        Err(e) => return refuse(&e),
    };
    if wall_link && view != LiveViewKind::Overview {
        return refuse(&AppError::Forbidden(
            "a wall link shows the overview only.".into(),
        ));
    }
    if matches!(view, LiveViewKind::Node { .. }) && !scope.sees_nodes() {
        return refuse(&AppError::Forbidden(
            "node figures are outside your scope.".into(),
        ));
    }
    let audience = Audience { view, scope };
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let viewer = Viewer {
        key: audience.key(),
        audience,
        subscription: hub.subscribe(),
        credential: match &token {
            Token::Session(token) => Credential::session(token),
            Token::Wall(token) => Credential::wall(token),
        },
        db: state.db.clone(),
        next_check: Instant::now() + RECHECK,
        confirmed: std::time::Instant::now(),
        ended: false,
    };
    let opening: Vec<Bytes> = match last_seen.and_then(|seq| hub.since(seq)) {
        Some(missed) => missed.iter().filter_map(|e| viewer.frame(e)).collect(),
        None => vec![viewer.snapshot()],
    };
    let updates = stream::unfold(viewer, |mut viewer| async move {
        let frame = viewer.next_frame().await?;
        Some((frame, viewer))
    });
    // A stopping server ends its streams; browsers reconnect (to the next instance) by themselves.
    let body = stream::iter(opening)
        .chain(updates)
        .take_until(async move { shutdown.begun().await })
        .map(Ok::<_, Infallible>);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A refusal before the stream opens, with the status the access layer's error carries.
fn refuse(error: &AppError) -> Response {
    (crate::middleware::status_of(error), error.to_string()).into_response()
}

/// The view named by the query: `view=overview` (default), `vm-cpu`, `vm` with `cluster` and
/// `vmid`, `node` with `cluster` and `node`. Names are validated before use.
fn parse_view(state: &AppState, query: &HashMap<String, String>) -> Result<LiveViewKind, AppError> {
    let missing = |what: &str| AppError::InvalidInput(format!("{what} is missing"));
    let invalid = |e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string());
    let cluster = || -> Result<String, AppError> {
        let name = query.get("cluster").ok_or_else(|| missing("cluster"))?;
        state.clusters.get(name).map(|_| name.clone())
    };
    match query.get("view").map(String::as_str).unwrap_or("overview") {
        "overview" => Ok(LiveViewKind::Overview),
        "vm-cpu" => Ok(LiveViewKind::VmCpu),
        "vm" => {
            let vmid: pve::ids::VmId = query
                .get("vmid")
                .ok_or_else(|| missing("vmid"))?
                .parse()
                .map_err(invalid)?;
            Ok(LiveViewKind::Vm {
                cluster: cluster()?,
                vmid: vmid.get(),
            })
        }
        "node" => {
            let node: pve::ids::NodeName = query
                .get("node")
                .ok_or_else(|| missing("node"))?
                .parse()
                .map_err(invalid)?;
            Ok(LiveViewKind::Node {
                cluster: cluster()?,
                node: node.to_string(),
            })
        }
        other => Err(AppError::InvalidInput(format!(
            "unknown view {other:?} (overview, vm-cpu, vm or node)"
        ))),
    }
}

/// One SSE connection's state.
struct Viewer {
    audience: Audience,
    key: String,
    subscription: Subscription,
    credential: Credential,
    db: SqlitePool,
    next_check: Instant,
    /// When the credential was last seen to hold.
    confirmed: std::time::Instant,
    ended: bool,
}

impl Viewer {
    fn hub(&self) -> &LiveHub {
        self.subscription.hub()
    }

    fn snapshot(&self) -> Bytes {
        self.hub().snapshot_frame(&self.key, |hub| {
            let snapshot = hub.snapshot(&self.audience);
            encode("snapshot", snapshot.seq, &snapshot)
        })
    }

    /// The event's bytes for this viewer, shared with every viewer of the same audience.
    fn frame(&self, published: &Published) -> Option<Bytes> {
        match &published.event {
            LiveEvent::Resync(_) => Some(self.snapshot()),
            event => published.frame(&self.key, |_| match event {
                LiveEvent::Tick(tick) => {
                    self.audience.tick(tick).map(|t| encode("tick", t.seq, &t))
                }
                LiveEvent::Stale(stale) => Some(encode("stale", stale.seq, stale)),
                LiveEvent::Resync(_) => None,
            }),
        }
    }

    /// The next bytes to send: an event, a snapshot after falling behind, a keep-alive, or
    /// `None` to end the stream.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        let keep_alive = Instant::now() + KEEP_ALIVE;
        loop {
            if Instant::now() >= self.next_check {
                self.next_check = Instant::now() + RECHECK;
                let now = self
                    .hub()
                    .credentials
                    .scope(&self.db, &self.credential, self.confirmed)
                    .await;
                match now {
                    // Not known now: next time.
                    None => {}
                    Some(None) => {
                        tracing::info!("live stream ended: session or wall link revoked");
                        self.ended = true;
                        return Some(Bytes::from_static(b"event: revoked\ndata: {}\n\n"));
                    }
                    // A changed scope: end the stream; the browser reconnects with the new one.
                    Some(Some(scope)) if scope != self.audience.scope => return None,
                    Some(Some(_)) => self.confirmed = std::time::Instant::now(),
                }
            }
            let wake = keep_alive.min(self.next_check);
            let received = tokio::select! {
                received = self.subscription.events.recv() => received,
                _ = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= keep_alive {
                        return Some(Bytes::from_static(b": keep-alive\n\n"));
                    }
                    continue;
                }
            };
            match received {
                Ok(event) => {
                    if let Some(frame) = self.frame(&event) {
                        return Some(frame);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "live viewer fell behind; resynchronising");
                    return Some(self.snapshot());
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// One SSE event: `event`, `id` and the JSON on one `data` line (JSON has no raw newlines).
fn encode(name: &str, seq: u64, data: &impl serde::Serialize) -> Bytes {
    match serde_json::to_string(data) {
        Ok(json) => Bytes::from(format!("event: {name}\nid: {seq}\ndata: {json}\n\n")),
        Err(e) => {
            tracing::error!(error = %e, "live event encoding failed");
            Bytes::from_static(b"event: error\ndata: \"encoding failed\"\n\n")
        }
    }
}
