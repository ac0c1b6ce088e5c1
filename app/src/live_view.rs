//! The browser's copy of the live window: applies snapshots and ticks, and sums VMs into the
//! cluster totals the dashboard charts. Plain data, so it is tested natively.

use std::collections::{BTreeMap, VecDeque};

use crate::live::{LiveSnapshot, LiveStale, LiveTick, NodeLive, VmLive, VmPoint};

/// A cluster's totals at one poll. `None` marks a gap (the cluster did not answer).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Unix time, seconds.
    pub t: i64,
    /// CPU use of running VMs as a fraction of their vCPUs.
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

#[derive(Debug, Clone, Default)]
struct ClusterView {
    nodes: Vec<NodeLive>,
    vms: BTreeMap<u32, (VmLive, VecDeque<VmPoint>)>,
    gaps: Vec<i64>,
    stale: Option<(i64, String)>,
}

/// What the browser knows of the live stream.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    seq: u64,
    capacity: usize,
    clusters: BTreeMap<String, ClusterView>,
}

impl LiveView {
    /// An empty view keeping at most `capacity` points per VM.
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
        self.seq = snapshot.seq;
        self.clusters = snapshot
            .clusters
            .into_iter()
            .map(|c| {
                let view = ClusterView {
                    nodes: c.nodes,
                    vms: c
                        .vms
                        .into_iter()
                        .map(|s| (s.vm.vmid, (s.vm, s.points.into_iter().collect())))
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
        let capacity = self.capacity;
        let cluster = self.clusters.entry(tick.cluster).or_default();
        cluster.stale = None;
        cluster.nodes = tick.nodes;
        let present: Vec<u32> = tick.vms.iter().map(|v| v.vmid).collect();
        for vm in tick.vms {
            let entry = cluster
                .vms
                .entry(vm.vmid)
                .or_insert_with(|| (vm.clone(), VecDeque::new()));
            if entry.1.len() == capacity {
                entry.1.pop_front();
            }
            entry.1.push_back(vm.point);
            entry.0 = vm;
        }
        cluster.vms.retain(|vmid, _| present.contains(vmid));
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
            .map(|c| c.nodes.clone())
            .unwrap_or_default()
    }

    /// The VMs of a cluster as of their newest point.
    pub fn vms(&self, cluster: &str) -> Vec<VmLive> {
        self.clusters
            .get(cluster)
            .map(|c| c.vms.values().map(|(vm, _)| vm.clone()).collect())
            .unwrap_or_default()
    }

    /// A VM's points, oldest first.
    pub fn vm_points(&self, cluster: &str, vmid: u32) -> Vec<VmPoint> {
        self.clusters
            .get(cluster)
            .and_then(|c| c.vms.get(&vmid))
            .map(|(_, points)| points.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The cluster's totals per poll, oldest first, with a gap entry where it went stale.
    pub fn totals(&self, cluster: &str) -> Vec<Totals> {
        let Some(view) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        let mut by_time: BTreeMap<i64, (Totals, f64)> = BTreeMap::new();
        for (vm, points) in view.vms.values() {
            for p in points {
                let (totals, vcpus) = by_time.entry(p.t).or_insert((
                    Totals {
                        t: p.t,
                        ..Totals::default()
                    },
                    0.0,
                ));
                let add = |slot: &mut Option<f64>, v: Option<f64>| {
                    if let Some(v) = v {
                        *slot = Some(slot.unwrap_or(0.0) + v);
                    }
                };
                if vm.maxcpu > 0.0 {
                    add(&mut totals.cpu, Some(p.cpu * vm.maxcpu));
                    *vcpus += vm.maxcpu;
                }
                add(&mut totals.mem, Some(p.mem as f64));
                add(&mut totals.netin, p.netin);
                add(&mut totals.netout, p.netout);
                add(&mut totals.diskread, p.diskread);
                add(&mut totals.diskwrite, p.diskwrite);
            }
        }
        for &gap in &view.gaps {
            by_time.entry(gap).or_insert((
                Totals {
                    t: gap,
                    ..Totals::default()
                },
                0.0,
            ));
        }
        by_time
            .into_values()
            .map(|(mut totals, vcpus)| {
                totals.cpu = totals
                    .cpu
                    .map(|c| if vcpus > 0.0 { c / vcpus } else { 0.0 });
                totals
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{ClusterWindow, VmSeries};

    fn vm(vmid: u32, t: i64, cpu: f64, maxcpu: f64, netin: Option<f64>) -> VmLive {
        VmLive {
            vmid,
            node: "pve1".into(),
            name: format!("vm{vmid}"),
            status: "running".into(),
            maxcpu,
            maxmem: 1000,
            point: VmPoint {
                t,
                cpu,
                mem: 100,
                netin,
                netout: None,
                diskread: None,
                diskwrite: None,
            },
        }
    }

    fn tick(seq: u64, vms: Vec<VmLive>) -> LiveTick {
        LiveTick {
            seq,
            cluster: "c".into(),
            t: 0,
            nodes: vec![],
            vms,
        }
    }

    #[test]
    fn totals_weight_cpu_by_vcpus_and_sum_rates() {
        let mut view = LiveView::new(10);
        view.apply_tick(tick(
            1,
            vec![
                vm(100, 10, 1.0, 1.0, Some(5.0)),
                vm(101, 10, 0.0, 3.0, Some(7.0)),
            ],
        ));
        let totals = view.totals("c");
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].cpu, Some(0.25));
        assert_eq!(totals[0].mem, Some(200.0));
        assert_eq!(totals[0].netin, Some(12.0));
        assert_eq!(totals[0].netout, None, "no rate yet is not zero");
    }

    #[test]
    fn snapshots_replace_and_older_ticks_are_skipped() {
        let mut view = LiveView::new(10);
        view.apply_snapshot(LiveSnapshot {
            seq: 5,
            clusters: vec![ClusterWindow {
                cluster: "c".into(),
                stale_since: None,
                nodes: vec![],
                vms: vec![VmSeries {
                    vm: vm(100, 20, 0.5, 1.0, None),
                    points: vec![
                        vm(100, 10, 0.4, 1.0, None).point,
                        vm(100, 20, 0.5, 1.0, None).point,
                    ],
                }],
            }],
        });
        view.apply_tick(tick(5, vec![vm(100, 20, 0.9, 1.0, None)]));
        assert_eq!(
            view.vm_points("c", 100).len(),
            2,
            "tick 5 was in the snapshot"
        );
        view.apply_tick(tick(6, vec![vm(100, 30, 0.6, 1.0, None)]));
        assert_eq!(view.vm_points("c", 100).len(), 3);
        assert_eq!(view.seq(), 6);
    }

    #[test]
    fn stale_clusters_show_a_gap_until_they_answer() {
        let mut view = LiveView::new(10);
        view.apply_tick(tick(1, vec![vm(100, 10, 0.5, 1.0, None)]));
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
        view.apply_tick(tick(3, vec![vm(100, 40, 0.5, 1.0, None)]));
        assert!(view.stale("c").is_none());
    }
}
