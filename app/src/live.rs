//! Live metrics as they travel over server-sent events: one poll of Proxmox VE per tick,
//! shared by every viewer. The server sends a `snapshot` on connect (and after a resync),
//! then a `tick` per poll and a `stale` when a cluster stops answering.

use serde::{Deserialize, Serialize};

/// One VM's usage at one tick. Rates are bytes per second, computed from the change of PVE's
/// counters since the previous poll; `None` where there is no previous poll to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VmPoint {
    /// Unix time of the poll, seconds.
    pub t: i64,
    /// CPU use, fraction of the VM's vCPUs (0..1).
    pub cpu: f64,
    /// Memory used, bytes.
    pub mem: u64,
    /// Network receive rate.
    pub netin: Option<f64>,
    /// Network send rate.
    pub netout: Option<f64>,
    /// Disk read rate.
    pub diskread: Option<f64>,
    /// Disk write rate.
    pub diskwrite: Option<f64>,
}

/// A VM's identity and state in the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmLive {
    /// VM id.
    pub vmid: u32,
    /// Node it runs on.
    pub node: String,
    /// Name.
    pub name: String,
    /// `running`, `stopped`, ...
    pub status: String,
    /// vCPUs.
    pub maxcpu: f64,
    /// Memory configured, bytes.
    pub maxmem: u64,
    /// The newest point.
    pub point: VmPoint,
}

/// A node's state at one poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeLive {
    /// Node name.
    pub node: String,
    /// `online`, `offline` or `unknown`.
    pub status: String,
    /// CPU use, fraction of `maxcpu` (0..1).
    pub cpu: f64,
    /// CPU threads.
    pub maxcpu: f64,
    /// Memory used, bytes.
    pub mem: u64,
    /// Memory installed, bytes.
    pub maxmem: u64,
    /// Uptime, seconds.
    pub uptime: u64,
}

/// What one poll of one cluster found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveTick {
    /// Event sequence number (the SSE `id`).
    pub seq: u64,
    /// Cluster name.
    pub cluster: String,
    /// Unix time of the poll.
    pub t: i64,
    /// The cluster's nodes.
    pub nodes: Vec<NodeLive>,
    /// Every VM the viewer may see.
    pub vms: Vec<VmLive>,
}

/// A VM's recent history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmSeries {
    /// The VM as of its newest point.
    pub vm: VmLive,
    /// Older points first, at most the window's length.
    pub points: Vec<VmPoint>,
}

/// Everything in the window, sent on connect and when a viewer fell behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// Sequence number of the newest tick included.
    pub seq: u64,
    /// Per cluster.
    pub clusters: Vec<ClusterWindow>,
}

/// One cluster's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterWindow {
    /// Cluster name.
    pub cluster: String,
    /// Set while the cluster does not answer: when the last good poll was.
    pub stale_since: Option<i64>,
    /// The nodes as of the newest poll.
    pub nodes: Vec<NodeLive>,
    /// Per VM.
    pub vms: Vec<VmSeries>,
}

/// A cluster stopped answering; charts show a gap instead of inventing values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStale {
    /// Event sequence number.
    pub seq: u64,
    /// Cluster name.
    pub cluster: String,
    /// Unix time of the last good poll (0 if none yet).
    pub since: i64,
    /// What went wrong, for the operator.
    pub message: String,
}
