//! Live metrics as they travel over server-sent events: one poll of Proxmox VE per tick,
//! shared by every viewer. The server sends a `snapshot` on connect (and after a resync),
//! then a `tick` per poll and a `stale` when a cluster stops answering.
//!
//! A page subscribes to the [`LiveViewKind`] it shows, so each event carries only that: the
//! dashboard and the wall get cluster totals, nodes and the busiest VMs; the VM list gets each
//! VM's CPU; a VM or node page gets that VM or node. Parts a view does not carry are `None`.

use serde::{Deserialize, Serialize};

pub mod view;

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
    /// Load average over one minute, from the node's status (read at a slower pace than
    /// the tick); `None` until read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
}

/// A node's usage at one poll.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodePoint {
    /// Unix time of the poll, seconds.
    pub t: i64,
    /// CPU use, fraction of the node's threads (0..1).
    pub cpu: f64,
    /// Memory used, bytes.
    pub mem: u64,
}

impl NodeLive {
    /// This poll's values as a chart point.
    pub fn point(&self, t: i64) -> NodePoint {
        NodePoint {
            t,
            cpu: self.cpu,
            mem: self.mem,
        }
    }
}

/// A node's recent history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSeries {
    /// The node as of the newest poll.
    pub node: NodeLive,
    /// Older points first (empty in views that show only the current state).
    pub points: Vec<NodePoint>,
}

/// A cluster's (or a scope's) VMs summed at one poll. `None` marks a gap or a missing rate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Unix time, seconds.
    pub t: i64,
    /// CPU use of VMs as a fraction of their vCPUs.
    pub cpu: Option<f64>,
    /// Memory used by VMs, bytes.
    pub mem: Option<f64>,
    /// Network in, bytes/s.
    pub netin: Option<f64>,
    /// Network out, bytes/s.
    pub netout: Option<f64>,
    /// Disk read, bytes/s.
    pub diskread: Option<f64>,
    /// Disk write, bytes/s.
    pub diskwrite: Option<f64>,
}

/// Sums VM points that share one time into [`Totals`].
#[derive(Debug, Clone, Copy, Default)]
struct TotalsSum {
    totals: Totals,
    used_vcpus: f64,
    vcpus: f64,
}

impl TotalsSum {
    fn add(&mut self, maxcpu: f64, p: &VmPoint) {
        fn plus(slot: &mut Option<f64>, v: Option<f64>) {
            if let Some(v) = v {
                *slot = Some(slot.unwrap_or(0.0) + v);
            }
        }
        let t = &mut self.totals;
        t.t = p.t;
        if maxcpu > 0.0 {
            self.used_vcpus += p.cpu * maxcpu;
            self.vcpus += maxcpu;
        }
        plus(&mut t.mem, Some(p.mem as f64));
        plus(&mut t.netin, p.netin);
        plus(&mut t.netout, p.netout);
        plus(&mut t.diskread, p.diskread);
        plus(&mut t.diskwrite, p.diskwrite);
    }

    fn finish(mut self) -> Totals {
        self.totals.cpu = Some(if self.vcpus > 0.0 {
            self.used_vcpus / self.vcpus
        } else {
            0.0
        });
        self.totals
    }
}

impl Totals {
    /// The totals of `vms` at one poll `t`: CPU weighted by vCPUs, the rest summed; a rate
    /// no VM has yet stays `None` (no rate is not zero).
    pub fn of_poll<'a>(t: i64, vms: impl IntoIterator<Item = &'a VmLive>) -> Totals {
        let mut sum = TotalsSum::default();
        for vm in vms {
            sum.add(vm.maxcpu, &vm.point);
        }
        Totals { t, ..sum.finish() }
    }

    /// The totals per time of the VMs' windows, oldest first.
    pub fn of_series<'a, P>(vms: impl IntoIterator<Item = (&'a VmLive, P)>) -> Vec<Totals>
    where
        P: IntoIterator<Item = &'a VmPoint>,
    {
        let mut by_time: std::collections::BTreeMap<i64, TotalsSum> = Default::default();
        for (vm, points) in vms {
            for p in points {
                by_time.entry(p.t).or_default().add(vm.maxcpu, p);
            }
        }
        by_time.into_values().map(TotalsSum::finish).collect()
    }

    /// A gap at `t`: the cluster did not answer.
    pub fn gap(t: i64) -> Totals {
        Totals {
            t,
            ..Totals::default()
        }
    }
}

/// The running VMs using the most CPU, at most `n`, busiest first.
pub fn busiest<'a>(vms: impl IntoIterator<Item = &'a VmLive>, n: usize) -> Vec<VmLive> {
    let mut running: Vec<&VmLive> = vms.into_iter().filter(|v| v.status == "running").collect();
    running.sort_by(|a, b| {
        b.point
            .cpu
            .total_cmp(&a.point.cpu)
            .then(a.vmid.cmp(&b.vmid))
    });
    running.into_iter().take(n).cloned().collect()
}

/// CPU use rounded for the wire (three digits are plenty for a sparkline).
pub fn compact_cpu(cpu: f64) -> f32 {
    ((cpu * 1000.0).round() / 1000.0) as f32
}

/// What a page subscribes to (`/api/live?view=…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LiveViewKind {
    /// Cluster totals, nodes (current state) and the busiest VMs: dashboard and wall.
    Overview,
    /// Every VM's CPU: the VM list's sparklines.
    VmCpu,
    /// One VM with its whole window.
    Vm {
        /// Cluster name.
        cluster: String,
        /// VM id.
        vmid: u32,
    },
    /// One node with its whole window.
    Node {
        /// Cluster name.
        cluster: String,
        /// Node name.
        node: String,
    },
}

impl LiveViewKind {
    /// The stream's URL path and query for this view.
    pub fn url(&self) -> String {
        /// Percent-encodes every UTF-8 byte but letters, digits and `-_.`.
        fn enc(s: &str) -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        }
        match self {
            LiveViewKind::Overview => "/api/live?view=overview".into(),
            LiveViewKind::VmCpu => "/api/live?view=vm-cpu".into(),
            LiveViewKind::Vm { cluster, vmid } => {
                format!("/api/live?view=vm&cluster={}&vmid={vmid}", enc(cluster))
            }
            LiveViewKind::Node { cluster, node } => {
                format!(
                    "/api/live?view=node&cluster={}&node={}",
                    enc(cluster),
                    enc(node)
                )
            }
        }
    }

    /// A short stable key (equal views, equal keys): encoded events are shared by key.
    pub fn key(&self) -> String {
        match self {
            LiveViewKind::Overview => "overview".into(),
            LiveViewKind::VmCpu => "vm-cpu".into(),
            LiveViewKind::Vm { cluster, vmid } => format!("vm:{cluster}:{vmid}"),
            LiveViewKind::Node { cluster, node } => format!("node:{cluster}:{node}"),
        }
    }
}

/// What one poll of one cluster found, as one view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveTick {
    /// Event sequence number (the SSE `id`).
    pub seq: u64,
    /// Cluster name.
    pub cluster: String,
    /// Unix time of the poll.
    pub t: i64,
    /// Unix time in milliseconds when the server published the poll (for delivery lag).
    pub at_ms: i64,
    /// Nodes (overview: all; node view: that node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeLive>>,
    /// The VMs in scope summed (overview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// The busiest VMs in scope (overview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busiest: Option<Vec<VmLive>>,
    /// VMs in full (VM view: that VM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vms: Option<Vec<VmLive>>,
    /// `[vmid, cpu]` of every VM in scope (VM-CPU view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Vec<(u32, f32)>>,
}

/// A VM's recent history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmSeries {
    /// The VM as of its newest point.
    pub vm: VmLive,
    /// Older points first, at most the window's length.
    pub points: Vec<VmPoint>,
}

/// Everything in the window a view shows, sent on connect and when a viewer fell behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// Sequence number of the newest event included.
    pub seq: u64,
    /// Per cluster.
    pub clusters: Vec<ClusterWindow>,
}

/// One cluster's window, as one view shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterWindow {
    /// Cluster name.
    pub cluster: String,
    /// Set while the cluster does not answer: when the last good poll was.
    pub stale_since: Option<i64>,
    /// Nodes (overview: current state only; node view: that node's window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeSeries>>,
    /// Totals per poll, oldest first (overview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<Vec<Totals>>,
    /// The busiest VMs now (overview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busiest: Option<Vec<VmLive>>,
    /// VMs with their windows (VM view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vms: Option<Vec<VmSeries>>,
    /// `(vmid, CPU per poll, oldest first)` (VM-CPU view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Vec<(u32, Vec<f32>)>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(vmid: u32, status: &str, cpu: f64, maxcpu: f64, netin: Option<f64>) -> VmLive {
        VmLive {
            vmid,
            node: "pve1".into(),
            name: format!("vm{vmid}"),
            status: status.into(),
            maxcpu,
            maxmem: 1000,
            point: VmPoint {
                t: 10,
                cpu,
                mem: 100,
                netin,
                netout: None,
                diskread: None,
                diskwrite: None,
            },
        }
    }

    #[test]
    fn totals_weight_cpu_by_vcpus_and_sum_rates() {
        let vms = [
            vm(100, "running", 1.0, 1.0, Some(5.0)),
            vm(101, "running", 0.0, 3.0, Some(7.0)),
        ];
        let totals = Totals::of_poll(10, &vms);
        assert_eq!(totals.cpu, Some(0.25));
        assert_eq!(totals.mem, Some(200.0));
        assert_eq!(totals.netin, Some(12.0));
        assert_eq!(totals.netout, None, "no rate yet is not zero");
        let series = Totals::of_series(vms.iter().map(|v| (v, std::slice::from_ref(&v.point))));
        assert_eq!(series, vec![totals]);
    }

    #[test]
    fn busiest_lists_running_vms_by_cpu() {
        let vms = [
            vm(100, "running", 0.2, 1.0, None),
            vm(101, "stopped", 0.9, 1.0, None),
            vm(102, "running", 0.7, 1.0, None),
            vm(103, "running", 0.1, 1.0, None),
        ];
        let ids: Vec<u32> = busiest(&vms, 2).iter().map(|v| v.vmid).collect();
        assert_eq!(ids, [102, 100]);
    }

    #[test]
    fn view_urls_escape_names() {
        let view = LiveViewKind::Node {
            cluster: "a b".into(),
            node: "pve1".into(),
        };
        assert_eq!(view.url(), "/api/live?view=node&cluster=a%20b&node=pve1");
        let vm = LiveViewKind::Vm {
            cluster: "zürich".into(),
            vmid: 100,
        };
        assert_eq!(vm.url(), "/api/live?view=vm&cluster=z%C3%BCrich&vmid=100");
        assert_eq!(compact_cpu(0.123456), 0.123);
    }
}
