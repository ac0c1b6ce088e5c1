//! `GET /nodes`, `GET /nodes/{node}` and `GET /nodes/{node}/status`: the cluster's nodes,
//! their load and their hardware.

use serde::{Deserialize, Serialize};

use super::de;
use crate::ids::{InvalidId, NodeName};

/// A node's state in `GET /nodes` (the schema's enum `unknown`, `online`, `offline`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// In the cluster and answering.
    Online,
    /// Known to the cluster, not answering.
    Offline,
    /// PVE cannot tell (or a value the schema does not know).
    #[default]
    Unknown,
}

impl NodeState {
    /// The name PVE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Online => "online",
            NodeState::Offline => "offline",
            NodeState::Unknown => "unknown",
        }
    }
}

impl<'de> Deserialize<'de> for NodeState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = de::string_lenient(d)?;
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "online" => NodeState::Online,
            "offline" => NodeState::Offline,
            _ => NodeState::Unknown,
        })
    }
}

/// One entry of `GET /nodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// Node name.
    #[serde(deserialize_with = "de::string_lenient")]
    pub node: String,
    /// Whether the node is in the cluster's quorum and answering.
    #[serde(default)]
    pub status: NodeState,
    /// CPU utilisation, 0.0 to 1.0 (share of all `maxcpu` CPUs).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    /// Number of CPUs.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub maxcpu: Option<u32>,
    /// Used memory, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    /// Total memory, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    /// Used space on the root file system, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    /// Size of the root file system, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    /// Seconds since boot.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Subscription support level (`""` without subscription, `c`, `b`, `s`, `p`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub level: Option<String>,
    /// SHA-256 fingerprint of the node's TLS certificate (`AA:BB:…`), usable for pinning.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ssl_fingerprint: Option<String>,
    /// Resource ID, `node/<name>`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
}

impl NodeSummary {
    /// True when PVE reports the node `online`.
    pub fn is_online(&self) -> bool {
        self.status == NodeState::Online
    }

    /// The node name as a validated path segment.
    pub fn name(&self) -> Result<NodeName, InvalidId> {
        NodeName::parse(&self.node)
    }
}

/// One entry of `GET /nodes/{node}`: a sub-directory of the node's API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIndexEntry {
    /// Sub-path name, e.g. `qemu`, `status`, `rrddata`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub name: String,
}

/// Total, used and free amounts of memory or swap, bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryUsage {
    /// Total, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    /// Used, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    /// Free, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub free: Option<u64>,
    /// Available for new programs, bytes (memory only; PVE 8.2+).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub available: Option<u64>,
}

/// Size and usage of the root file system, bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFsUsage {
    /// Size, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    /// Used, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    /// Free, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub free: Option<u64>,
    /// Available to unprivileged users, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
}

/// The node's CPU model and topology.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    /// CPU model name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub model: Option<String>,
    /// Number of sockets.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub sockets: Option<u32>,
    /// Physical cores (all sockets).
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub cores: Option<u32>,
    /// Logical CPUs (threads).
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub cpus: Option<u32>,
    /// Clock, MHz (PVE sends it as a string like `"3400.000"`).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub mhz: Option<f64>,
    /// True when hardware virtualisation is available.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub hvm: Option<bool>,
}

/// The running kernel (`current-kernel`, PVE 8.1+).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// OS name, `Linux`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub sysname: Option<String>,
    /// Kernel release, e.g. `6.8.12-4-pve`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub release: Option<String>,
    /// Kernel build string.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub version: Option<String>,
    /// Hardware architecture, e.g. `x86_64`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub machine: Option<String>,
}

/// How the node booted (`boot-info`, PVE 8.1+).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BootInfo {
    /// `efi` or `legacy-bios`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub mode: Option<String>,
    /// True when booted with Secure Boot (EFI only).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub secureboot: Option<bool>,
}

/// The answer of `GET /nodes/{node}/status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// CPU utilisation, 0.0 to 1.0.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    /// Share of CPU time waiting for IO, 0.0 to 1.0.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub wait: Option<f64>,
    /// Share of idle CPU time (PVE reports 0).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub idle: Option<f64>,
    /// Load averages over 1, 5 and 15 minutes (PVE sends strings like `"0.00"`).
    #[serde(default, deserialize_with = "de_loadavg")]
    pub loadavg: Vec<f64>,
    /// Seconds since boot.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Memory, bytes.
    #[serde(default)]
    pub memory: MemoryUsage,
    /// Swap, bytes.
    #[serde(default)]
    pub swap: MemoryUsage,
    /// Root file system, bytes.
    #[serde(default)]
    pub rootfs: RootFsUsage,
    /// CPU model and topology.
    #[serde(default)]
    pub cpuinfo: CpuInfo,
    /// Kernel version text, e.g. `Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC …`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub kversion: Option<String>,
    /// pve-manager version, e.g. `pve-manager/8.3.0/c1689ccb1065a83b`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub pveversion: Option<String>,
    /// The running kernel (PVE 8.1+).
    #[serde(
        rename = "current-kernel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current_kernel: Option<KernelInfo>,
    /// Boot mode (PVE 8.1+).
    #[serde(rename = "boot-info", default, skip_serializing_if = "Option::is_none")]
    pub boot_info: Option<BootInfo>,
    /// Memory shared by kernel same-page merging, bytes (`ksm.shared` on the wire).
    #[serde(rename = "ksm", default, deserialize_with = "de_ksm_shared")]
    pub ksm_shared: Option<u64>,
}

/// `["0.10","0.20","0.30"]` (or numbers) as numbers; unreadable entries are dropped.
fn de_loadavg<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v = Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(v.iter()
        .filter_map(|x| match x {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .collect())
}

/// Reads `ksm: {shared: n}`, and the plain number our own serialisation writes.
fn de_ksm_shared<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let n = match v {
        Some(serde_json::Value::Object(o)) => o.get("shared").cloned(),
        other => other,
    };
    Ok(n.and_then(|n| match n {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
}

impl NodeStatus {
    /// The pve-manager version number from `pveversion` (e.g. `7.4-16` or `8.3.0`).
    pub fn manager_version(&self) -> Option<&str> {
        self.pveversion.as_deref()?.split('/').nth(1)
    }
}
