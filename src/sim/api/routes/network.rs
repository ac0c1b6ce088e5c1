//! `GET /nodes/{node}/network` (pve-manager `API2::Network`): the node's interfaces as
//! `/etc/network/interfaces` defines them. Every simulated node has two NICs, `vmbr0` bridged
//! to the first (the node's address) and `vmbr1`, an internal bridge without ports.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::Node;

/// The `type` filter's values (the schema's enum).
const TYPES: &[&str] = &[
    "bridge",
    "bond",
    "eth",
    "alias",
    "vlan",
    "fabric",
    "OVSBridge",
    "OVSBond",
    "OVSPort",
    "OVSIntPort",
    "vnet",
    "any_bridge",
    "any_local_bridge",
    "include_sdn",
];

pub(super) fn routes() -> Router<SimState> {
    Router::new().route("/nodes/{node}/network", get(list))
}

/// The interfaces of `node`, sorted by name.
fn interfaces(node: &Node) -> Vec<Value> {
    let prefix = node.ip.rsplit_once('.').map_or("10.10.0", |(p, _)| p);
    vec![
        json!({
            "iface": "eno1", "type": "eth", "method": "manual", "method6": "manual",
            "active": 1, "exists": 1, "families": ["inet"], "priority": 3,
        }),
        json!({
            "iface": "eno2", "type": "eth", "method": "manual", "method6": "manual",
            "exists": 1, "families": ["inet"], "priority": 4,
        }),
        json!({
            "iface": "vmbr0", "type": "bridge", "method": "static", "method6": "manual",
            "active": 1, "autostart": 1, "bridge_ports": "eno1",
            "cidr": format!("{}/24", node.ip), "address": node.ip, "netmask": "24",
            "gateway": format!("{prefix}.1"), "families": ["inet"], "priority": 5,
        }),
        json!({
            "iface": "vmbr1", "type": "bridge", "method": "manual", "method6": "manual",
            "active": 1, "autostart": 1, "comments": "internal network\n",
            "families": ["inet"], "priority": 6,
        }),
    ]
}

/// `GET /nodes/{node}/network[?type=]`. Anyone may call it; without Sys.Audit on the node
/// only the bridges the caller may use (SDN.Use on `/sdn/zones/localnetwork/<bridge>`) are
/// listed, the way PVE 8.3+ lets guest administrators pick a bridge.
async fn list(call: Call) -> ApiResult {
    let params = call.on_node(&[], &[NODE, Spec::string("type").one_of(TYPES).optional()])?;
    let Call { st, who, .. } = &call;
    let node_name = call.node();
    let audit = st.can(&who.authid, &format!("/nodes/{node_name}"), "Sys.Audit");
    let wanted = params.get("type");
    let listed: Vec<Value> = {
        let world = st.world();
        let node = world
            .model
            .node(node_name)
            .ok_or_else(|| ApiError::fail(format!("no such cluster node '{node_name}'")))?;
        interfaces(node)
    };
    let list = listed
        .into_iter()
        .filter(|i| {
            let kind = i["type"].as_str().unwrap_or_default();
            match wanted {
                None => true,
                Some("any_bridge" | "any_local_bridge" | "include_sdn") => {
                    matches!(kind, "bridge" | "OVSBridge")
                }
                Some(t) => kind == t,
            }
        })
        .filter(|i| {
            let iface = i["iface"].as_str().unwrap_or_default();
            audit
                || (i["type"] == "bridge"
                    && st.can(
                        &who.authid,
                        &format!("/sdn/zones/localnetwork/{iface}"),
                        "SDN.Use",
                    ))
        })
        .collect();
    ok(Value::Array(list))
}
