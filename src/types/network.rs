//! `GET /nodes/{node}/network`: a node's network interfaces, for one the bridges a VM's
//! network device can join.

use serde::{Deserialize, Serialize};

use super::de;

/// The `type` filter of `GET /nodes/{node}/network`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterfaceFilter {
    /// Linux and Open vSwitch bridges (`any_bridge`): where a VM's NIC can go.
    AnyBridge,
    /// Physical NICs (`eth`).
    Eth,
    /// Bonds (`bond`).
    Bond,
}

impl InterfaceFilter {
    /// The name PVE takes.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceFilter::AnyBridge => "any_bridge",
            InterfaceFilter::Eth => "eth",
            InterfaceFilter::Bond => "bond",
        }
    }
}

/// One interface of `GET /nodes/{node}/network`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterface {
    /// Interface name (`vmbr0`, `eno1`, `bond0`).
    #[serde(deserialize_with = "de::string_lenient")]
    pub iface: String,
    /// `bridge`, `bond`, `eth`, `vlan`, `OVSBridge`, … (`unknown` for the rest).
    #[serde(rename = "type", default, deserialize_with = "de::string_lenient")]
    pub kind: String,
    /// True when the interface is up now.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// IPv4 address with prefix length (`10.10.0.11/24`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cidr: Option<String>,
    /// A bridge's ports (`eno1`), space-separated.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bridge_ports: Option<String>,
    /// True for a VLAN-aware bridge.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub bridge_vlan_aware: Option<bool>,
    /// The administrator's comment.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comments: Option<String>,
}

impl NetworkInterface {
    /// True for a Linux or Open vSwitch bridge.
    pub fn is_bridge(&self) -> bool {
        matches!(self.kind.as_str(), "bridge" | "OVSBridge")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_pve_sends() {
        let list: Vec<NetworkInterface> = serde_json::from_value(serde_json::json!([
            {"iface": "vmbr0", "type": "bridge", "active": 1, "bridge_ports": "eno1",
             "cidr": "10.10.0.11/24", "families": ["inet"], "priority": 5},
            {"iface": "eno1", "type": "eth", "exists": 1}
        ]))
        .unwrap();
        assert!(list[0].is_bridge() && list[0].active == Some(true));
        assert_eq!(list[0].bridge_ports.as_deref(), Some("eno1"));
        assert!(!list[1].is_bridge() && list[1].active.is_none());
    }
}
