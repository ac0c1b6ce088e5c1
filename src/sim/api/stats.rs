//! Request counts for benchmarks: `GET /_sim/stats` answers how many `/api2/json` requests
//! reached the simulator since it started, in total and per method and path, e.g.
//! `{"total": 14, "requests": {"GET /cluster/resources": 12, "GET /nodes/{node}/status": 2}}`.
//!
//! Paths are counted by their shape (node names, VM IDs, UPIDs and storage names become
//! placeholders), so the table stays small however many VMs are asked about. Every request is
//! counted, whether it is answered, refused or failed by fault injection. Readers take the
//! difference of two readings; nothing resets the counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::rel_path;
use crate::sim::world::SimState;

/// Distinct paths kept; beyond, requests are counted under `other` (a guard against a client
/// that walks unknown paths).
const MAX_PATHS: usize = 500;

/// Requests per `METHOD /path/shape`, shared by the counting middleware and `/_sim/stats`.
#[derive(Default)]
pub(crate) struct RequestCounts {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounts {
    fn add(&self, method: &str, rel: &str) {
        let key = format!("{method} {}", shape(rel));
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&key) {
            *n += 1;
        } else if counts.len() < MAX_PATHS {
            counts.insert(key, 1);
        } else {
            *counts.entry("other".to_owned()).or_default() += 1;
        }
    }

    fn report(&self) -> Value {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        json!({ "total": counts.values().sum::<u64>(), "requests": *counts })
    }
}

/// The path with the segment after `nodes`, `qemu`, `lxc`, `tasks` and `storage` replaced by a
/// placeholder (`/nodes/pve1/qemu/100/status/current` → `/nodes/{node}/qemu/{vmid}/status/current`).
fn shape(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len());
    let mut placeholder = None;
    for segment in rel.split('/').skip(1) {
        out.push('/');
        match placeholder.take() {
            Some(name) if !segment.is_empty() => out.push_str(name),
            _ => out.push_str(segment),
        }
        placeholder = match segment {
            "nodes" => Some("{node}"),
            "qemu" | "lxc" => Some("{vmid}"),
            "tasks" => Some("{upid}"),
            "storage" => Some("{storage}"),
            _ => None,
        };
    }
    if out.is_empty() { "/".to_owned() } else { out }
}

/// Middleware on `/api2/json`: counts the request.
pub(crate) async fn count(
    State(counts): State<Arc<RequestCounts>>,
    req: Request,
    next: Next,
) -> Response {
    counts.add(req.method().as_str(), rel_path(req.uri().path()));
    next.run(req).await
}

/// The `GET /_sim/stats` route, reading `counts`.
pub(crate) fn routes(counts: Arc<RequestCounts>) -> Router<SimState> {
    Router::new()
        .route("/_sim/stats", get(report))
        .with_state(counts)
}

async fn report(State(counts): State<Arc<RequestCounts>>) -> Json<Value> {
    Json(counts.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_counted_by_shape() {
        assert_eq!(shape("/cluster/resources"), "/cluster/resources");
        assert_eq!(
            shape("/nodes/pve1/qemu/100/status/current"),
            "/nodes/{node}/qemu/{vmid}/status/current"
        );
        assert_eq!(
            shape("/nodes/pve2/tasks/UPID:pve2:1:2:3:qmstart:100:root@pam:/status"),
            "/nodes/{node}/tasks/{upid}/status"
        );
        assert_eq!(shape("/nodes"), "/nodes");
        assert_eq!(shape("/"), "/");
        let counts = RequestCounts::default();
        counts.add("GET", "/nodes/pve1/status");
        counts.add("GET", "/nodes/pve2/status");
        counts.add("GET", "/cluster/resources");
        assert_eq!(
            counts.report(),
            json!({"total": 3, "requests": {
                "GET /cluster/resources": 1,
                "GET /nodes/{node}/status": 2,
            }})
        );
    }
}
