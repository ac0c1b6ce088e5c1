//! `/nodes`: the node list and a node's index (pve-manager `API2::Nodes`).

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Params};
use crate::sim::api::reply::{ApiResult, ok};
use crate::sim::api::view::node_entry;
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::metrics::Snapshot;

/// Subdirectories of `GET /nodes/{node}` in PVE 9.1.
const NODE_INDEX: &[&str] = &[
    "aplinfo",
    "apt",
    "capabilities",
    "ceph",
    "certificates",
    "config",
    "disks",
    "dns",
    "firewall",
    "hardware",
    "hosts",
    "journal",
    "lxc",
    "migrateall",
    "netstat",
    "network",
    "qemu",
    "query-oci-repo-tags",
    "query-url-metadata",
    "replication",
    "report",
    "rrd",
    "rrddata",
    "scan",
    "sdn",
    "services",
    "spiceshell",
    "startall",
    "status",
    "stopall",
    "storage",
    "subscription",
    "suspendall",
    "syslog",
    "tasks",
    "termproxy",
    "time",
    "version",
    "vncshell",
    "vzdump",
    "wakeonlan",
];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes", get(list))
        .route("/nodes/{node}", get(index))
}

/// `GET /nodes`: every node; statistics only with Sys.Audit on the node.
async fn list(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(&[])?;
    let now = now_secs();
    let world = st.world();
    let snap = Snapshot::take(&world.model, now);
    let nodes = world
        .model
        .nodes
        .iter()
        .map(|n| {
            let audit = st.can(&who.authid, &format!("/nodes/{}", n.name), "Sys.Audit");
            node_entry(n, &snap.node(&n.name), audit, false)
        })
        .collect();
    ok(Value::Array(nodes))
}

/// `GET /nodes/{node}`: a static list. PVE does not proxy this call, so it does not check that
/// the node exists; only the name's format is verified.
async fn index(Path(node): Path<String>, params: Params) -> ApiResult {
    params.with_uri(&[("node", &node)])?.validate(&[NODE])?;
    ok(NODE_INDEX
        .iter()
        .map(|name| json!({ "name": name }))
        .collect())
}
