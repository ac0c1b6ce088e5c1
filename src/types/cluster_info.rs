//! Cluster membership and history: `GET /cluster/status` (quorum, nodes) and
//! `GET /cluster/log` (the cluster-wide syslog of API actions).

use serde::{Deserialize, Serialize};

use super::de;

/// One entry of `GET /cluster/status`: the cluster itself (`type: cluster`) or a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatusEntry {
    /// `cluster` or `node/<name>`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub id: String,
    /// Cluster or node name.
    #[serde(deserialize_with = "de::string_lenient")]
    pub name: String,
    /// `cluster` or `node`.
    #[serde(rename = "type", deserialize_with = "de::string_lenient")]
    pub kind: String,
    /// Cluster: true when a majority of nodes is online.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub quorate: Option<bool>,
    /// Cluster: number of nodes, offline ones included.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub nodes: Option<u32>,
    /// Cluster: version of the corosync configuration.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub version: Option<u32>,
    /// Node: online in the cluster.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub online: Option<bool>,
    /// Node: true for the node that answered.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub local: Option<bool>,
    /// Node: corosync node ID.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub nodeid: Option<u32>,
    /// Node: IP address of the node name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ip: Option<String>,
    /// Node: subscription level (`""` without subscription).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub level: Option<String>,
}

impl ClusterStatusEntry {
    /// True for the cluster entry (absent on a single node without a cluster).
    pub fn is_cluster(&self) -> bool {
        self.kind == "cluster"
    }

    /// True for a node entry that is online.
    pub fn is_online_node(&self) -> bool {
        self.kind == "node" && self.online == Some(true)
    }
}

/// One resource pool of `GET /pools` (the pools the caller has `Pool.Audit` on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    /// The pool's ID.
    pub poolid: String,
    /// Its comment, if any.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
}

/// One entry of `GET /cluster/log`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterLogEntry {
    /// Entry number (per node).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uid: Option<u64>,
    /// Unique ID, `<uid>:<node>`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// Time, Unix seconds.
    #[serde(deserialize_with = "de::i64_lenient")]
    pub time: i64,
    /// Syslog priority (0 emergency … 7 debug).
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub pri: Option<u32>,
    /// Program, e.g. `pvedaemon`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tag: Option<String>,
    /// Process ID.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub pid: Option<u32>,
    /// Node that logged the entry.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub node: Option<String>,
    /// User who caused it.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub user: Option<String>,
    /// The message.
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub msg: String,
}

impl ClusterLogEntry {
    /// True for warnings and worse (priority 4 or lower).
    pub fn is_warning(&self) -> bool {
        self.pri.is_some_and(|p| p <= 4)
    }
}
