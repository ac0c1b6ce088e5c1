//! `GET /cluster/resources`: every node, guest, storage and SDN zone of the cluster in one list.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::de;
use crate::ids::{InvalidId, NodeName, VmId};

/// Filter for `GET /cluster/resources?type=…`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    /// Guests: QEMU VMs and LXC containers.
    Vm,
    /// Storages (one entry per storage and node).
    Storage,
    /// Nodes.
    Node,
    /// SDN zones.
    Sdn,
}

impl ResourceType {
    /// The query value PVE expects: `vm`, `storage`, `node` or `sdn`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Vm => "vm",
            ResourceType::Storage => "storage",
            ResourceType::Node => "node",
            ResourceType::Sdn => "sdn",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceType {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        match s {
            "vm" => Ok(ResourceType::Vm),
            "storage" => Ok(ResourceType::Storage),
            "node" => Ok(ResourceType::Node),
            "sdn" => Ok(ResourceType::Sdn),
            _ => Err(InvalidId::new("resource type", s)),
        }
    }
}

/// One entry of `GET /cluster/resources`. Which fields are set depends on `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterResource {
    /// Resource ID, e.g. `qemu/100`, `node/pve1`, `storage/pve1/local`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub id: String,
    /// `node`, `storage`, `pool`, `qemu`, `lxc`, `openvz`, `sdn` or `network`.
    #[serde(rename = "type", deserialize_with = "de::string_lenient")]
    pub kind: String,
    /// Node the resource is on (nodes, guests, storages).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub node: Option<String>,
    /// Guest ID (qemu, lxc).
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub vmid: Option<u32>,
    /// Guest name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// Type-dependent status: `running`/`stopped` for guests, `online`/`offline` for nodes,
    /// `available` for storages.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// CPU utilisation, 0.0 to 1.0 of `maxcpu` (nodes, guests).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    /// Number of CPUs (nodes, guests); guests may have fractional CPU limits.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    /// Used memory, bytes (nodes, guests).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    /// Memory size, bytes (nodes, guests).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    /// Memory used by the guest as the host sees it, bytes (qemu, PVE 9+).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub memhost: Option<u64>,
    /// Used space, bytes: storage usage, or a guest's root disk usage.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    /// Size, bytes: storage size, or a guest's root disk size.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    /// Bytes a guest read from its disks since it started.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskread: Option<u64>,
    /// Bytes a guest wrote to its disks since it started.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskwrite: Option<u64>,
    /// Bytes a guest received over the network since it started.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netin: Option<u64>,
    /// Bytes a guest sent over the network since it started.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netout: Option<u64>,
    /// Seconds since the node booted or the guest started.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// A guest's tags as PVE stores them (`;`-separated); see [`ClusterResource::tag_list`].
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tags: Option<String>,
    /// True for guest templates.
    #[serde(default, deserialize_with = "de::bool_lenient")]
    pub template: bool,
    /// A guest's config lock (`backup`, `migrate`, `snapshot`, …), if any.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub lock: Option<String>,
    /// HA state of an HA-managed guest (`started`, `stopped`, `migrate`, …) or node.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub hastate: Option<String>,
    /// Resource pool of a guest (or the pool's name for `pool` entries).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub pool: Option<String>,
    /// Storage ID (storages).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub storage: Option<String>,
    /// Storage plugin type (`dir`, `lvmthin`, `zfspool`, `nfs`, …).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub plugintype: Option<String>,
    /// Content types a storage holds, comma-separated (`images,rootdir,iso,backup`, …).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub content: Option<String>,
    /// True for storages shared between nodes.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub shared: Option<bool>,
    /// Subscription support level of a node.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub level: Option<String>,
    /// cgroup version a node runs (1 or 2).
    #[serde(rename = "cgroup-mode", default, deserialize_with = "de::opt_u32")]
    pub cgroup_mode: Option<u32>,
    /// SDN zone name (`sdn` entries).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub sdn: Option<String>,
}

/// The two kinds of guests: QEMU virtual machines and LXC containers. They share the ID space
/// and the ACL paths (`/vms/{vmid}`), not the API: `/nodes/{node}/qemu/…` or `…/lxc/…`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A QEMU virtual machine.
    #[default]
    Qemu,
    /// An LXC container.
    Lxc,
}

impl GuestKind {
    /// The resource `type` and path segment: `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

impl ClusterResource {
    /// The tags, split. PVE separates them with `;`; `,` and spaces are accepted too.
    pub fn tag_list(&self) -> Vec<String> {
        split_tags(self.tags.as_deref().unwrap_or(""))
    }

    /// True for QEMU virtual machines (not containers).
    pub fn is_vm(&self) -> bool {
        self.kind == "qemu"
    }

    /// What kind of guest this is: a VM or an LXC container; `None` for nodes, storages and
    /// the rest (and for OpenVZ, gone since PVE 4).
    pub fn guest_kind(&self) -> Option<GuestKind> {
        match self.kind.as_str() {
            "qemu" => Some(GuestKind::Qemu),
            "lxc" => Some(GuestKind::Lxc),
            _ => None,
        }
    }

    /// True for guests whose status is `running`.
    pub fn is_running(&self) -> bool {
        self.status.as_deref() == Some("running")
    }

    /// True for nodes whose status is `online`.
    pub fn is_online(&self) -> bool {
        self.status.as_deref() == Some("online")
    }

    /// The guest ID as a validated [`VmId`], for guests.
    pub fn vm_id(&self) -> Option<VmId> {
        self.vmid.and_then(|id| VmId::new(id).ok())
    }

    /// The node as a validated [`NodeName`], when set and valid.
    pub fn node_name(&self) -> Option<NodeName> {
        self.node.as_deref().and_then(|n| NodeName::parse(n).ok())
    }
}

/// Splits PVE's tag string on `;`, `,` and whitespace, dropping empty pieces.
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(json: &str) -> ClusterResource {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn tags() {
        let r = resource(r#"{"id":"qemu/100","type":"qemu","tags":"web;prod, db  x"}"#);
        assert_eq!(r.tag_list(), ["web", "prod", "db", "x"]);
        let r = resource(r#"{"id":"qemu/100","type":"qemu"}"#);
        assert!(r.tag_list().is_empty());
    }

    #[test]
    fn resource_type_query_values() {
        for t in [
            ResourceType::Vm,
            ResourceType::Storage,
            ResourceType::Node,
            ResourceType::Sdn,
        ] {
            assert_eq!(t.as_str().parse::<ResourceType>().unwrap(), t);
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
    }
}
