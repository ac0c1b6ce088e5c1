//! `/version` and `/cluster`: resources (pve-manager `API2::Cluster::resources`) and the
//! cluster-wide task list.

use axum::Router;
use axum::routing::get;
use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{Format, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, json_bytes, ok};
use crate::sim::api::view::{
    GuestKind, network_entry, node_entry, storage_entry, write_vm_resource,
};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::metrics::Snapshot;
use crate::sim::world::model::{Node, Vm};

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
        .route("/cluster/nextid", get(nextid))
        .route("/pools", get(pools))
        .route("/cluster/ha/resources", get(ha_resources))
}

/// `GET /cluster/ha/resources[?type=vm|ct]` (Sys.Audit on `/`): the HA services.
async fn ha_resources(call: Call) -> ApiResult {
    let params = call.on(
        "/",
        &["Sys.Audit"],
        &[Spec::string("type").one_of(&["ct", "vm"]).optional()],
    )?;
    if params.get("type") == Some("ct") {
        return ok(Value::Array(Vec::new()));
    }
    let world = call.st.world();
    let list = world
        .model
        .ha
        .iter()
        .map(|(vmid, service)| {
            json!({
                "sid": format!("vm:{vmid}"), "type": "vm", "state": service.requested,
                "max_restart": 1, "max_relocate": 1, "failback": 1,
            })
        })
        .collect();
    ok(Value::Array(list))
}

/// `GET /pools[?type=qemu|lxc|storage]`: the pools the caller has Pool.Audit on (members come
/// only with `/pools/{poolid}`, which is not simulated).
async fn pools(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(&[
        Spec::string("poolid").format(Format::PoolId).optional(),
        Spec::string("type")
            .one_of(&["qemu", "lxc", "storage"])
            .optional(),
    ])?;
    let world = st.world();
    let list: Vec<Value> = world
        .model
        .pools
        .iter()
        .filter(|(id, _)| {
            params
                .get("poolid")
                .is_none_or(|wanted| wanted == id.as_str())
        })
        .filter(|(id, _)| st.can(&who.authid, &format!("/pool/{id}"), "Pool.Audit"))
        .map(|(id, comment)| {
            if comment.is_empty() {
                json!({ "poolid": id })
            } else {
                json!({ "poolid": id, "comment": comment })
            }
        })
        .collect();
    ok(Value::Array(list))
}

/// `GET /cluster/nextid[?vmid=]` (any user): the lowest free VM ID from 100, or `vmid` if it
/// is free (else 400 "VM … already exists"). PVE answers the ID as a JSON string: Perl's JSON
/// encoder writes a number that was used as a hash key as text, and clients (proxmoxer,
/// Terraform providers) read a string.
async fn nextid(call: Call) -> ApiResult {
    let params = call.sent();
    params.validate(&[VMID.optional()])?;
    let world = call.st.world();
    let taken = |id: u32| world.model.id_taken(id);
    if let Some(vmid) = params.int("vmid").and_then(|v| u32::try_from(v).ok()) {
        if taken(vmid) {
            return Err(ApiError::param("vmid", format!("VM {vmid} already exists")));
        }
        return ok(json!(vmid.to_string()));
    }
    const UPPER: u32 = 1_000_000;
    match (100..UPPER).find(|id| !taken(*id)) {
        Some(id) => ok(json!(id.to_string())),
        None => Err(ApiError::fail(format!(
            "unable to get any free VMID in range [100, {UPPER}]"
        ))),
    }
}

/// `GET /version`.
async fn version(params: Params) -> ApiResult {
    params.validate(&[])?;
    ok(json!({ "version": VERSION, "release": RELEASE, "repoid": REPOID }))
}

/// `GET /cluster/resources[?type=vm|storage|node|sdn]`, filtered by the caller's privileges:
/// VMs need VM.Audit, storages Datastore.Audit, node statistics Sys.Audit.
///
/// Built for scale (50 nodes, 10,000 VMs): usage comes from one pass over the VMs, the VM
/// entries are written straight into the answer's bytes.
async fn resources(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(RESOURCES_PARAMS)?;
    let kind = params.get("type");
    let wants = |k: &str| kind.is_none() || kind == Some(k);
    let now = now_secs();
    let world = st.world();
    let model = &world.model;
    let snap = Snapshot::take(model, now);
    let mut out = Vec::with_capacity(64 + model.vms.len() * 360 + model.nodes.len() * 1200);
    out.extend_from_slice(b"{\"data\":[");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    // `type=vm` means guests: VMs and containers, in one list sorted by ID as strings.
    if wants("vm") {
        let nodes: HashMap<&str, &Node> =
            model.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
        let mut guests: Vec<(&Vm, GuestKind)> = model
            .vms
            .values()
            .map(|vm| (vm, GuestKind::Qemu))
            .chain(model.cts.values().map(|ct| (ct, GuestKind::Lxc)))
            .collect();
        guests.sort_by_key(|(vm, _)| decimal_key(vm.vmid));
        let mut path = String::with_capacity(16);
        for (vm, kind) in guests {
            path.clear();
            let _ = write!(path, "/vms/{}", vm.vmid);
            if st.can(&who.authid, &path, "VM.Audit") {
                sep(&mut out);
                let node = nodes.get(vm.node.as_str()).copied();
                let ha = match kind {
                    GuestKind::Qemu => model.ha.get(&vm.vmid).map(|s| s.hastate()),
                    GuestKind::Lxc => None,
                };
                write_vm_resource(&mut out, vm, kind, node, &snap.vm(vm.vmid), ha);
            }
        }
    }
    let mut push = |out: &mut Vec<u8>, v: Value| {
        sep(out);
        let _ = serde_json::to_writer(&mut *out, &v);
    };
    if wants("node") {
        for node in &model.nodes {
            let audit = st.can(&who.authid, &format!("/nodes/{}", node.name), "Sys.Audit");
            push(
                &mut out,
                node_entry(node, &snap.node(&node.name), audit, true),
            );
        }
    }
    if wants("storage") {
        for storage in &model.storages {
            if !st.can(
                &who.authid,
                &format!("/storage/{}", storage.id),
                "Datastore.Audit",
            ) {
                continue;
            }
            for node in model.nodes.iter().filter(|n| storage.on_node(&n.name)) {
                push(
                    &mut out,
                    storage_entry(node, storage, &snap.node(&node.name)),
                );
            }
        }
    }
    // PVE 9 nodes report SDN as `network` entries; `type=sdn` then finds nothing.
    if kind.is_none() && st.can(&who.authid, "/sdn/zones/localnetwork", "SDN.Audit") {
        for node in &model.nodes {
            push(&mut out, network_entry(node));
        }
    }
    drop(world);
    out.extend_from_slice(b"]}");
    Ok(json_bytes(out))
}

/// Sorts like the decimal string of `n` (shorter strings first on a common prefix), without
/// allocating: the digits as ASCII, padded with zeros (which sort before any digit).
fn decimal_key(n: u32) -> [u8; 10] {
    let mut reversed = [0u8; 10];
    let mut len = 0;
    let mut rest = n;
    loop {
        reversed[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut digits = [0u8; 10];
    for (d, r) in digits.iter_mut().zip(reversed[..len].iter().rev()) {
        *d = *r;
    }
    digits
}

/// `GET /cluster/status` (needs Sys.Audit on `/`): the cluster and its members. The simulator
/// answers as the first node.
async fn status(call: Call) -> ApiResult {
    let st = &call.st;
    call.on("/", &["Sys.Audit"], &[])?;
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
async fn cluster_tasks(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.sent();
    params.validate(&[])?;
    let all = st.can(&who.authid, "/", "Sys.Audit");
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

#[cfg(test)]
mod tests {
    use super::decimal_key;

    #[test]
    fn vmids_sort_as_strings() {
        let mut ids = [1000, 100, 99, 10_000, 101, 4_294_967_295, 0];
        ids.sort_by_key(|n| decimal_key(*n));
        let mut strings: Vec<String> = ids.iter().map(u32::to_string).collect();
        let sorted = strings.clone();
        strings.sort();
        assert_eq!(sorted, strings);
    }
}
