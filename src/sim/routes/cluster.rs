//! `/version` and `/cluster`: resources (pve-manager `API2::Cluster::resources`) and the
//! cluster-wide task list.

use axum::Router;
use axum::extract::{Extension, State};
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::auth::Principal;
use crate::sim::params::{Params, Spec};
use crate::sim::reply::{ApiResult, ok};
use crate::sim::state::SimState;
use crate::sim::util::now_secs;
use crate::sim::view::{network_entry, node_entry, storage_entry, vm_resource};

/// What `/version` reports (a PVE 9.1 release; `repoid` as recorded from pve-manager 9.1.1).
const VERSION: &str = "9.1.1";
const RELEASE: &str = "9.1";
const REPOID: &str = "42db4a6cf33dac83";

const RESOURCES_PARAMS: &[Spec] = &[Spec::string("type")
    .one_of(&["vm", "storage", "node", "sdn"])
    .optional()];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/version", get(version))
        .route("/cluster/resources", get(resources))
        .route("/cluster/status", get(status))
        .route("/cluster/tasks", get(cluster_tasks))
}

/// `GET /version`.
async fn version(params: Params) -> ApiResult {
    params.validate(&[])?;
    ok(json!({ "version": VERSION, "release": RELEASE, "repoid": REPOID }))
}

/// `GET /cluster/resources[?type=vm|storage|node|sdn]`, filtered by the caller's privileges:
/// VMs need VM.Audit, storages Datastore.Audit, node statistics Sys.Audit.
async fn resources(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    params: Params,
) -> ApiResult {
    params.validate(RESOURCES_PARAMS)?;
    let kind = params.get("type");
    let wants = |k: &str| kind.is_none() || kind == Some(k);
    let now = now_secs();
    let world = st.world();
    let model = &world.model;
    let mut out: Vec<Value> = Vec::new();
    if wants("vm") {
        // PVE sorts the VM IDs as strings.
        let mut vms: Vec<_> = model.vms.values().collect();
        vms.sort_by_key(|vm| vm.vmid.to_string());
        for vm in vms {
            if st.can(&who, &format!("/vms/{}", vm.vmid), "VM.Audit") {
                out.push(vm_resource(model, vm, now));
            }
        }
    }
    if wants("node") {
        for node in &model.nodes {
            let audit = st.can(&who, &format!("/nodes/{}", node.name), "Sys.Audit");
            out.push(node_entry(model, node, now, audit, true));
        }
    }
    if wants("storage") {
        for storage in &model.storages {
            if !st.can(&who, &format!("/storage/{}", storage.id), "Datastore.Audit") {
                continue;
            }
            for node in &model.nodes {
                out.push(storage_entry(model, node, storage, now));
            }
        }
    }
    // PVE 9 nodes report SDN as `network` entries; `type=sdn` then finds nothing.
    if kind.is_none() && st.can(&who, "/sdn/zones/localnetwork", "SDN.Audit") {
        out.extend(model.nodes.iter().map(network_entry));
    }
    ok(Value::Array(out))
}

/// `GET /cluster/status` (needs Sys.Audit on `/`): the cluster and its members. The simulator
/// answers as the first node.
async fn status(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    params: Params,
) -> ApiResult {
    st.check(&who, "/", &["Sys.Audit"])?;
    params.validate(&[])?;
    let world = st.world();
    let nodes = &world.model.nodes;
    let online = nodes.iter().filter(|n| n.online).count();
    let mut out = vec![json!({
        "type": "cluster", "id": "cluster", "name": world.model.cluster_name,
        "nodes": nodes.len(), "quorate": u8::from(online * 2 > nodes.len()), "version": nodes.len() + 1,
    })];
    for (i, node) in nodes.iter().enumerate() {
        out.push(json!({
            "type": "node", "id": format!("node/{}", node.name), "name": node.name,
            "nodeid": i + 1, "ip": node.ip, "online": u8::from(node.online),
            "local": u8::from(i == 0), "level": "",
        }));
    }
    ok(Value::Array(out))
}

/// `GET /cluster/tasks`: every node's running and recent tasks; without Sys.Audit on `/` only
/// the caller's own.
async fn cluster_tasks(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    params: Params,
) -> ApiResult {
    params.validate(&[])?;
    let all = st.can(&who, "/", "Sys.Audit");
    let world = st.world();
    let nodes: Vec<&str> = world.model.nodes.iter().map(|n| n.name.as_str()).collect();
    let list: Vec<Value> = world
        .tasks
        .cluster_list(&nodes)
        .into_iter()
        .filter(|t| all || t.user.split('!').next() == Some(who.authid.as_str()))
        .map(|t| t.cluster_entry())
        .collect();
    ok(Value::Array(list))
}
