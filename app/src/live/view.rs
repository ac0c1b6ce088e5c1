//! The browser's copy of the live window of one view: applies snapshots, ticks and stale
//! marks. Plain data, so it is tested natively.

use std::collections::{BTreeMap, VecDeque};

pub use crate::live::Totals;
use crate::live::{LiveSnapshot, LiveStale, LiveTick, NodeLive, NodePoint, VmLive, VmPoint};

/// The state of a page's live stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamStatus {
    /// Not connected yet, or reconnecting (retried forever, with backoff).
    #[default]
    Connecting,
    /// Events arrive.
    Live,
    /// The server ended the stream for good: the session or wall link was revoked.
    Revoked,
}

impl StreamStatus {
    /// Short text for the page.
    pub fn label(self) -> &'static str {
        match self {
            StreamStatus::Connecting => "○ connecting…",
            StreamStatus::Live => "● live",
            StreamStatus::Revoked => "✕ access revoked",
        }
    }
}

#[derive(Debug, Clone, Default)]
struct ClusterView {
    nodes: BTreeMap<String, (NodeLive, VecDeque<NodePoint>)>,
    totals: VecDeque<Totals>,
    busiest: Vec<VmLive>,
    vms: BTreeMap<u32, (VmLive, VecDeque<VmPoint>)>,
    cpu: BTreeMap<u32, VecDeque<f32>>,
    gaps: Vec<i64>,
    stale: Option<(i64, String)>,
}

/// Appends to a bounded window.
fn push_bounded<T>(window: &mut VecDeque<T>, capacity: usize, value: T) {
    if window.len() == capacity {
        window.pop_front();
    }
    window.push_back(value);
}

/// Keeps the newest `capacity` values.
fn bounded<T>(values: Vec<T>, capacity: usize) -> VecDeque<T> {
    let skip = values.len().saturating_sub(capacity);
    values.into_iter().skip(skip).collect()
}

/// What the browser knows of the live stream.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    seq: u64,
    capacity: usize,
    clusters: BTreeMap<String, ClusterView>,
}

impl LiveView {
    /// An empty view keeping at most `capacity` points per series.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ..Self::default()
        }
    }

    /// Sequence number of the newest event applied.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Replaces everything with a snapshot.
    pub fn apply_snapshot(&mut self, snapshot: LiveSnapshot) {
        let cap = self.capacity;
        self.seq = snapshot.seq;
        self.clusters = snapshot
            .clusters
            .into_iter()
            .map(|c| {
                let view = ClusterView {
                    nodes: c
                        .nodes
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| (s.node.node.clone(), (s.node, bounded(s.points, cap))))
                        .collect(),
                    totals: bounded(c.totals.unwrap_or_default(), cap),
                    busiest: c.busiest.unwrap_or_default(),
                    vms: c
                        .vms
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| (s.vm.vmid, (s.vm, bounded(s.points, cap))))
                        .collect(),
                    cpu: c
                        .cpu
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(vmid, values)| (vmid, bounded(values, cap)))
                        .collect(),
                    gaps: Vec::new(),
                    stale: c.stale_since.map(|since| (since, String::new())),
                };
                (c.cluster, view)
            })
            .collect();
    }

    /// Adds a tick; ticks already in the last snapshot are skipped.
    pub fn apply_tick(&mut self, tick: LiveTick) {
        if tick.seq <= self.seq {
            return;
        }
        self.seq = tick.seq;
        let cap = self.capacity;
        let cluster = self.clusters.entry(tick.cluster).or_default();
        cluster.stale = None;
        if let Some(nodes) = tick.nodes {
            cluster
                .nodes
                .retain(|name, _| nodes.iter().any(|n| &n.node == name));
            for node in nodes {
                let entry = cluster
                    .nodes
                    .entry(node.node.clone())
                    .or_insert_with(|| (node.clone(), VecDeque::new()));
                push_bounded(&mut entry.1, cap, node.point(tick.t));
                entry.0 = node;
            }
        }
        if let Some(totals) = tick.totals {
            push_bounded(&mut cluster.totals, cap, totals);
        }
        if let Some(busiest) = tick.busiest {
            cluster.busiest = busiest;
        }
        if let Some(vms) = tick.vms {
            cluster
                .vms
                .retain(|vmid, _| vms.iter().any(|v| v.vmid == *vmid));
            for vm in vms {
                let entry = cluster
                    .vms
                    .entry(vm.vmid)
                    .or_insert_with(|| (vm.clone(), VecDeque::new()));
                push_bounded(&mut entry.1, cap, vm.point);
                entry.0 = vm;
            }
        }
        if let Some(cpu) = tick.cpu {
            let present: std::collections::BTreeSet<u32> = cpu.iter().map(|c| c.0).collect();
            cluster.cpu.retain(|vmid, _| present.contains(vmid));
            for (vmid, value) in cpu {
                push_bounded(cluster.cpu.entry(vmid).or_default(), cap, value);
            }
        }
    }

    /// Marks a cluster stale: its charts get a gap.
    pub fn apply_stale(&mut self, stale: LiveStale, now: i64) {
        if stale.seq <= self.seq {
            return;
        }
        self.seq = stale.seq;
        let cluster = self.clusters.entry(stale.cluster).or_default();
        cluster.gaps.push(now);
        cluster.stale = Some((stale.since, stale.message));
    }

    /// Cluster names.
    pub fn clusters(&self) -> Vec<String> {
        self.clusters.keys().cloned().collect()
    }

    /// When and why a cluster went stale, if it is.
    pub fn stale(&self, cluster: &str) -> Option<(i64, String)> {
        self.clusters.get(cluster).and_then(|c| c.stale.clone())
    }

    /// The nodes of a cluster as of the newest poll.
    pub fn nodes(&self, cluster: &str) -> Vec<NodeLive> {
        self.clusters
            .get(cluster)
            .map(|c| c.nodes.values().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default()
    }

    /// A node's points, oldest first, with `None` where the cluster went stale.
    pub fn node_points(&self, cluster: &str, node: &str) -> Vec<(i64, Option<NodePoint>)> {
        self.clusters
            .get(cluster)
            .and_then(|c| {
                c.nodes
                    .get(node)
                    .map(|(_, points)| with_gaps(points.iter().map(|p| (p.t, *p)), &c.gaps))
            })
            .unwrap_or_default()
    }

    /// The busiest VMs of a cluster now.
    pub fn busiest(&self, cluster: &str) -> Vec<VmLive> {
        self.clusters
            .get(cluster)
            .map(|c| c.busiest.clone())
            .unwrap_or_default()
    }

    /// The VMs shown in full (VM view) as of their newest point.
    pub fn vm(&self, cluster: &str, vmid: u32) -> Option<VmLive> {
        self.clusters
            .get(cluster)
            .and_then(|c| c.vms.get(&vmid))
            .map(|(vm, _)| vm.clone())
    }

    /// A VM's points, oldest first, with `None` where the cluster went stale.
    pub fn vm_points(&self, cluster: &str, vmid: u32) -> Vec<(i64, Option<VmPoint>)> {
        self.clusters
            .get(cluster)
            .and_then(|c| {
                c.vms
                    .get(&vmid)
                    .map(|(_, points)| with_gaps(points.iter().map(|p| (p.t, *p)), &c.gaps))
            })
            .unwrap_or_default()
    }

    /// A VM's recent CPU use (VM-CPU view), oldest first.
    pub fn vm_cpu(&self, cluster: &str, vmid: u32) -> Vec<f64> {
        self.clusters
            .get(cluster)
            .and_then(|c| c.cpu.get(&vmid))
            .map(|values| values.iter().map(|v| f64::from(*v)).collect())
            .unwrap_or_default()
    }

    /// The cluster's totals per poll, oldest first, with a gap entry where it went stale.
    pub fn totals(&self, cluster: &str) -> Vec<Totals> {
        let Some(view) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        with_gaps(view.totals.iter().map(|t| (t.t, *t)), &view.gaps)
            .into_iter()
            .map(|(t, totals)| totals.unwrap_or_else(|| Totals::gap(t)))
            .collect()
    }
}

/// Merges gap times into points ordered by time; a gap older than every point is dropped.
fn with_gaps<T>(points: impl Iterator<Item = (i64, T)>, gaps: &[i64]) -> Vec<(i64, Option<T>)> {
    let mut merged: Vec<(i64, Option<T>)> = points.map(|(t, p)| (t, Some(p))).collect();
    let oldest = merged.first().map_or(i64::MAX, |p| p.0);
    for &gap in gaps.iter().filter(|&&g| g > oldest) {
        if !merged.iter().any(|p| p.0 == gap) {
            merged.push((gap, None));
        }
    }
    merged.sort_by_key(|p| p.0);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{ClusterWindow, NodeSeries, VmSeries};

    fn vm(vmid: u32, t: i64, cpu: f64) -> VmLive {
        VmLive {
            vmid,
            node: "pve1".into(),
            name: format!("vm{vmid}"),
            status: "running".into(),
            maxcpu: 1.0,
            maxmem: 1000,
            point: VmPoint {
                t,
                cpu,
                mem: 100,
                netin: None,
                netout: None,
                diskread: None,
                diskwrite: None,
            },
        }
    }

    fn tick(seq: u64, t: i64) -> LiveTick {
        LiveTick {
            seq,
            cluster: "c".into(),
            t,
            at_ms: t * 1000,
            nodes: None,
            totals: None,
            busiest: None,
            vms: None,
            cpu: None,
        }
    }

    #[test]
    fn snapshots_replace_and_older_ticks_are_skipped() {
        let mut view = LiveView::new(10);
        view.apply_snapshot(LiveSnapshot {
            seq: 5,
            clusters: vec![ClusterWindow {
                cluster: "c".into(),
                vms: Some(vec![VmSeries {
                    vm: vm(100, 20, 0.5),
                    points: vec![vm(100, 10, 0.4).point, vm(100, 20, 0.5).point],
                }]),
                ..ClusterWindow::default()
            }],
        });
        view.apply_tick(LiveTick {
            vms: Some(vec![vm(100, 20, 0.9)]),
            ..tick(5, 20)
        });
        assert_eq!(
            view.vm_points("c", 100).len(),
            2,
            "tick 5 was in the snapshot"
        );
        view.apply_tick(LiveTick {
            vms: Some(vec![vm(100, 30, 0.6)]),
            ..tick(6, 30)
        });
        assert_eq!(view.vm_points("c", 100).len(), 3);
        assert_eq!(view.vm("c", 100).map(|v| v.point.cpu), Some(0.6));
        assert_eq!(view.seq(), 6);
    }

    #[test]
    fn cpu_series_are_bounded_and_forget_deleted_vms() {
        let mut view = LiveView::new(3);
        for seq in 1..=5 {
            view.apply_tick(LiveTick {
                cpu: Some(vec![(100, seq as f32 / 10.0), (101, 0.5)]),
                ..tick(seq, seq as i64 * 10)
            });
        }
        assert_eq!(view.vm_cpu("c", 100).len(), 3);
        assert!((view.vm_cpu("c", 100)[2] - 0.5).abs() < 1e-6);
        view.apply_tick(LiveTick {
            cpu: Some(vec![(101, 0.5)]),
            ..tick(6, 60)
        });
        assert!(view.vm_cpu("c", 100).is_empty(), "deleted VM forgotten");
    }

    #[test]
    fn nodes_keep_a_window_and_totals_come_from_the_server() {
        let node = NodeLive {
            node: "pve1".into(),
            status: "online".into(),
            cpu: 0.5,
            maxcpu: 8.0,
            mem: 10,
            maxmem: 20,
            uptime: 1,
            load: None,
        };
        let mut view = LiveView::new(10);
        view.apply_snapshot(LiveSnapshot {
            seq: 1,
            clusters: vec![ClusterWindow {
                cluster: "c".into(),
                nodes: Some(vec![NodeSeries {
                    node: node.clone(),
                    points: vec![node.point(10)],
                }]),
                ..ClusterWindow::default()
            }],
        });
        view.apply_tick(LiveTick {
            nodes: Some(vec![node.clone()]),
            totals: Some(Totals {
                t: 20,
                cpu: Some(0.3),
                ..Totals::default()
            }),
            ..tick(2, 20)
        });
        assert_eq!(view.node_points("c", "pve1").len(), 2);
        assert_eq!(view.totals("c")[0].cpu, Some(0.3));
        assert_eq!(view.nodes("c").len(), 1);
    }

    #[test]
    fn stale_clusters_show_a_gap_until_they_answer() {
        let mut view = LiveView::new(10);
        view.apply_tick(LiveTick {
            totals: Some(Totals {
                t: 10,
                cpu: Some(0.5),
                ..Totals::default()
            }),
            vms: Some(vec![vm(100, 10, 0.5)]),
            ..tick(1, 10)
        });
        view.apply_stale(
            LiveStale {
                seq: 2,
                cluster: "c".into(),
                since: 10,
                message: "down".into(),
            },
            25,
        );
        assert_eq!(view.stale("c").map(|s| s.0), Some(10));
        let totals = view.totals("c");
        assert_eq!(
            totals.last().map(|t| (t.t, t.cpu)),
            Some((25, None)),
            "a gap, not an invented value"
        );
        assert_eq!(
            view.vm_points("c", 100).last().map(|p| p.1.is_none()),
            Some(true)
        );
        view.apply_tick(tick(3, 40));
        assert!(view.stale("c").is_none());
    }
}
