//! `GET /api/live`: the live stream as server-sent events.
//!
//! On connect a `snapshot` (or, with `Last-Event-ID`, the events missed since), then a `tick`
//! or `stale` event per poll. A viewer that falls behind gets a new `snapshot` rather than
//! slowing anyone down. Events carry their sequence number as the SSE id; after a snapshot,
//! events with a lower or equal `seq` are already included and can be skipped.

use std::{collections::HashMap, convert::Infallible, sync::Arc, time::Duration};

use app::{
    model::Role,
    ssr::{sessions, state::AppState, wall},
};
use axum::{
    Extension,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{StreamExt, stream};
use tokio::sync::broadcast::error::RecvError;

use super::hub::{LiveEvent, LiveHub, Subscription};

/// The SSE handler; viewers and above.
pub async fn live_events(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<LiveHub>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !may_watch(&state, &headers, query.get("wall").map(String::as_str)).await {
        return (
            StatusCode::UNAUTHORIZED,
            "log in first, or use a valid wall link",
        )
            .into_response();
    }
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let subscription = hub.subscribe();
    let opening: Vec<Event> = match last_seen.and_then(|seq| hub.since(seq)) {
        Some(missed) => missed.iter().map(|e| event(&hub, e)).collect(),
        None => vec![snapshot(&hub)],
    };
    let updates = stream::unfold(subscription, |mut sub: Subscription| async move {
        let next = match sub.events.recv().await {
            Ok(e) => event(sub.hub(), &e),
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "live viewer fell behind; resynchronising");
                snapshot(sub.hub())
            }
            Err(RecvError::Closed) => return None,
        };
        Some((next, sub))
    });
    let stream = stream::iter(opening)
        .chain(updates)
        .map(Ok::<_, Infallible>);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A viewer (or higher) session, or a live wall token (read-only by construction).
async fn may_watch(state: &AppState, headers: &HeaderMap, wall_token: Option<&str>) -> bool {
    if let Some(token) = wall_token {
        return wall::is_valid(&state.db, token).await.unwrap_or(false);
    }
    let user = match sessions::token_from_headers(headers) {
        Some(token) => sessions::lookup(&state.db, &token).await.ok().flatten(),
        None => None,
    };
    user.is_some_and(|u| u.role.allows(Role::Viewer))
}

fn snapshot(hub: &LiveHub) -> Event {
    let snapshot = hub.snapshot();
    json_event("snapshot", snapshot.seq, &snapshot)
}

fn event(hub: &LiveHub, event: &LiveEvent) -> Event {
    match event {
        LiveEvent::Tick(tick) => json_event("tick", tick.seq, tick),
        LiveEvent::Stale(stale) => json_event("stale", stale.seq, stale),
        LiveEvent::Resync(_) => snapshot(hub),
    }
}

fn json_event(name: &str, seq: u64, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .id(seq.to_string())
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event("error").data("encoding failed"))
}
