//! `GET /nodes`: the cluster's nodes with their load.

use serde::{Deserialize, Serialize};

use super::de;
use crate::ids::{InvalidId, NodeName};

/// One entry of `GET /nodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// Node name.
    #[serde(deserialize_with = "de::string_lenient")]
    pub node: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub status: String,
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
        self.status == "online"
    }

    /// The node name as a validated path segment.
    pub fn name(&self) -> Result<NodeName, InvalidId> {
        NodeName::parse(&self.node)
    }
}
