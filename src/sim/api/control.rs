//! Test controls outside the PVE API (no authentication; the simulator listens on loopback):
//!
//! - `POST /_sim/fault` with JSON [`Faults`](crate::sim::Faults), e.g. `{"latency_ms": 200,
//!   "jitter_ms": 50, "error_rate": 0.1, "path_prefix": "/nodes", "error_rates": {"/cluster/resources": 0.5},
//!   "error_status": 503, "node_offline": "pve2", "ws_drop_after_secs": 5,
//!   "ticket_lifetime_secs": 30}` replaces the fault settings (omitted fields take their
//!   defaults, so `{}` clears everything). Latency and `error_rate` apply to `/api2/json`
//!   requests whose path (after `/api2/json`) starts with `path_prefix` (empty: all);
//!   `error_rates` sets a rate per path prefix (the longest matching prefix wins over
//!   `error_rate`). An offline node shows as `offline` (its VMs and storages as `unknown`) and
//!   requests proxied to it fail with 595 like pveproxy's. Console sessions end
//!   `ws_drop_after_secs` after they opened (0: at once, open ones included). Tickets older than
//!   `ticket_lifetime_secs` are refused with 401 (PVE: 2 h), so clients must renew them.
//!   `task_speed` runs tasks that many times faster (a long migration in a test).
//! - `GET /_sim/fault` returns the current settings.
//! - `POST /_sim/reset`: a fresh cluster from the seed, no tasks but the generated history, the
//!   faults the simulator was started with. Tickets and the API token stay valid.
//! - `POST /_sim/vm/{vmid}/load` with `{"cpu": 0.0–1.0}` forces a VM's CPU use (`null`: back to
//!   its own curve).
//! - `POST /_sim/vm/{vmid}/crash`: a running VM stops as if QEMU died (a crash, an OOM kill, a
//!   shutdown from inside the guest): `stopped` at once, no task, nothing in the cluster log —
//!   as in PVE, where no task records it. 409 when the VM is not running, 404 for an unknown VM.
//! - `POST /_sim/storage` with `{"storage": "fast", "type": "lvmthin", "content":
//!   "images,rootdir", "shared": false, "nodes": ["pve1", "pve2"]}` adds a storage to
//!   `storage.cfg` (or replaces the one of that ID): `shared` defaults to false, no `nodes`
//!   means every node. 400 for an invalid ID, an unknown type or content type, or an unknown
//!   node. A reset takes it away again.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::json;

use super::rel_path;
use super::reply::{ApiError, json_response};
use crate::sim::util::now_secs;
use crate::sim::world::migrate::check_storage_id;
use crate::sim::world::model::{Power, STORAGE_TYPES, Storage};
use crate::sim::world::{Faults, SimState};

/// The `/_sim` routes.
pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/_sim/fault", get(get_fault).post(set_fault))
        .route("/_sim/reset", post(reset))
        .route("/_sim/vm/{vmid}/load", post(set_load))
        .route("/_sim/vm/{vmid}/crash", post(crash))
        .route("/_sim/storage", post(add_storage))
}

async fn get_fault(State(st): State<SimState>) -> Response {
    Json(&*st.faults_ref()).into_response()
}

async fn set_fault(State(st): State<SimState>, Json(faults): Json<Faults>) -> Response {
    match st.set_faults(faults) {
        Ok(()) => Json(&*st.faults_ref()).into_response(),
        Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e.to_string() })),
    }
}

async fn reset(State(st): State<SimState>) -> Response {
    st.reset();
    Json(json!({ "reset": true })).into_response()
}

/// Middleware on `/api2/json`: applies latency and random errors of the fault settings.
pub(crate) async fn inject(State(st): State<SimState>, req: Request, next: Next) -> Response {
    let faults = st.faults_ref();
    if !faults.affects_requests() {
        drop(faults);
        return next.run(req).await;
    }
    let rel = rel_path(req.uri().path());
    if rel.starts_with(&faults.path_prefix) {
        let jitter = if faults.jitter_ms > 0 {
            rand::thread_rng().gen_range(0..=faults.jitter_ms)
        } else {
            0
        };
        let delay = faults.latency_ms + jitter;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
    let rate = faults.error_rate_for(rel);
    if rate > 0.0 && rand::thread_rng().gen_bool(rate.min(1.0)) {
        let (status, message) = faults.injected_error();
        return ApiError::new(status, message).into_response();
    }
    drop(faults);
    next.run(req).await
}

/// `POST /_sim/vm/{vmid}/load` with `{"cpu": 0.0–1.0}` forces the VM's CPU use from now on
/// (alert tests); `{"cpu": null}` gives it back its own curve.
async fn set_load(
    State(st): State<SimState>,
    axum::extract::Path(vmid): axum::extract::Path<u32>,
    Json(body): Json<LoadOverride>,
) -> Response {
    if body.cpu.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "cpu is a fraction from 0 to 1" }),
        );
    }
    let now = now_secs();
    let mut world = st.world();
    let Some(vm) = world.model.vms.get_mut(&vmid) else {
        return json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such VM" }));
    };
    vm.cpu_override = body.cpu.map(|c| (c, now));
    json_response(StatusCode::OK, &json!({ "vmid": vmid, "cpu": body.cpu }))
}

/// Body of `/_sim/vm/{vmid}/load`.
#[derive(serde::Deserialize)]
struct LoadOverride {
    cpu: Option<f64>,
}

/// `POST /_sim/vm/{vmid}/crash`: QEMU goes away without a task (in QEMU mode the reconciler
/// kills the real process, as it does for any VM that stopped).
async fn crash(
    State(st): State<SimState>,
    axum::extract::Path(vmid): axum::extract::Path<u32>,
) -> Response {
    let now = now_secs();
    let mut world = st.world();
    let Some(vm) = world.model.vms.get_mut(&vmid) else {
        return json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such VM" }));
    };
    if !vm.has_process() {
        return json_response(
            StatusCode::CONFLICT,
            &json!({ "error": format!("VM {vmid} not running") }),
        );
    }
    vm.end_run(now);
    vm.power = Power::Stopped;
    json_response(
        StatusCode::OK,
        &json!({ "vmid": vmid, "status": "stopped" }),
    )
}

/// Body of `/_sim/storage`.
#[derive(serde::Deserialize)]
struct NewStorage {
    storage: String,
    #[serde(rename = "type")]
    kind: String,
    content: String,
    #[serde(default)]
    shared: bool,
    nodes: Option<Vec<String>>,
}

/// Content types of `storage.cfg`.
const CONTENT_TYPES: &[&str] = &[
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import",
];

/// `POST /_sim/storage`: adds (or replaces) a storage definition.
async fn add_storage(State(st): State<SimState>, Json(body): Json<NewStorage>) -> Response {
    let bad = |e: String| json_response(StatusCode::BAD_REQUEST, &json!({ "error": e }));
    if let Err(e) = check_storage_id(&body.storage) {
        return bad(e.trim_end().to_owned());
    }
    if !STORAGE_TYPES.contains(&body.kind.as_str()) {
        return bad(format!("unknown storage type '{}'", body.kind));
    }
    if let Some(c) = body.content.split(',').find(|c| !CONTENT_TYPES.contains(c)) {
        return bad(format!("unknown content type '{c}'"));
    }
    let mut world = st.world();
    if let Some(n) = body
        .nodes
        .iter()
        .flatten()
        .find(|n| world.model.node(n).is_none())
    {
        return bad(format!("no node '{n}'"));
    }
    let storage = Storage {
        id: body.storage,
        plugintype: body.kind,
        content: body.content,
        shared: body.shared,
        nodes: body.nodes,
    };
    let reply = json!({
        "storage": storage.id, "type": storage.plugintype, "content": storage.content,
        "shared": storage.shared, "nodes": storage.nodes,
    });
    let storages = &mut world.model.storages;
    storages.retain(|s| s.id != storage.id);
    storages.push(storage);
    storages.sort_by(|a, b| a.id.cmp(&b.id));
    json_response(StatusCode::OK, &reply)
}
