//! Smaller read-only endpoints that monitoring tools query: `/cluster/log`,
//! `/cluster/config/qdevice`, and per node `subscription` and `replication`. The simulated
//! cluster has no subscription, no QDevice and no replication jobs.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec};
use crate::sim::api::reply::{ApiResult, ok};
use crate::sim::world::SimState;

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/cluster/log", get(cluster_log))
        .route("/cluster/config/qdevice", get(qdevice))
        .route("/nodes/{node}/subscription", get(subscription))
        .route("/nodes/{node}/replication", get(replication))
}

/// `GET /cluster/log[?max=]`: newest first (default 50); without Sys.Syslog on `/` only the
/// caller's own entries.
async fn cluster_log(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(&[Spec::integer("max").min(1).optional()])?;
    let max = usize::try_from(params.int("max").unwrap_or(50)).unwrap_or(50);
    let all = st.can(&who.authid, "/", "Sys.Syslog");
    let me = who.authid.split('!').next().unwrap_or_default().to_owned();
    let world = st.world();
    let list = world.log.newest(max, |e| {
        all || e.user == who.authid || e.user.split('!').next() == Some(me.as_str())
    });
    ok(Value::Array(list))
}

/// `GET /cluster/config/qdevice` (Sys.Audit on `/`): no QDevice configured, an empty object.
async fn qdevice(call: Call) -> ApiResult {
    call.on("/", &["Sys.Audit"], &[])?;
    ok(json!({}))
}

/// `GET /nodes/{node}/subscription`: no key (status `notfound`), as a fresh install.
async fn subscription(call: Call) -> ApiResult {
    call.on_node(&[], &[NODE])?;
    ok(
        json!({"status": "notfound", "message": "There is no subscription key", "url": "https://www.proxmox.com/en/proxmox-virtual-environment/pricing"}),
    )
}

/// `GET /nodes/{node}/replication[?guest=]`: no replication jobs.
async fn replication(call: Call) -> ApiResult {
    call.on_node(&[], &[NODE, Spec::integer("guest").min(100).optional()])?;
    ok(json!([]))
}
