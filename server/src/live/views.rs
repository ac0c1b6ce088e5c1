//! What each subscriber receives: the page's view of the data, cut to the user's scope.
//!
//! Subscribers with the same view and scope share an [`Audience::key`], so each event is
//! built and encoded once per key, not once per subscriber.

use app::{
    access::Scope,
    live::{
        ClusterWindow, LiveTick, LiveViewKind, NodeSeries, Totals, VmSeries, busiest, compact_cpu,
    },
};

use super::window::{ClusterSeries, Tick, VmNow};

/// How many VMs the overview's "busiest" list carries.
pub const BUSIEST: usize = 12;

/// A view as one scope may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// What the page shows.
    pub view: LiveViewKind,
    /// What the user may see.
    pub scope: Scope,
}

impl Audience {
    /// Equal audiences, equal keys.
    pub fn key(&self) -> String {
        format!("{}|{}", self.view.key(), self.scope.key())
    }

    /// Whether this audience may see node figures at all.
    fn nodes_visible(&self) -> bool {
        self.scope.sees_nodes()
    }

    /// Whether the view concerns `cluster`.
    fn concerns(&self, cluster: &str) -> bool {
        match &self.view {
            LiveViewKind::Overview | LiveViewKind::VmCpu => true,
            LiveViewKind::Vm { cluster: c, .. } | LiveViewKind::Node { cluster: c, .. } => {
                c == cluster
            }
        }
    }

    /// The tick this audience receives, or `None` when it concerns them not.
    pub fn tick(&self, tick: &Tick) -> Option<LiveTick> {
        if !self.concerns(&tick.cluster) {
            return None;
        }
        let in_scope = || {
            tick.vms
                .iter()
                .filter(|v| self.scope.allows_vm(&v.tags))
                .map(|v: &VmNow| &v.live)
        };
        let mut out = LiveTick {
            seq: tick.seq,
            cluster: tick.cluster.clone(),
            t: tick.t,
            at_ms: tick.at_ms,
            nodes: None,
            totals: None,
            busiest: None,
            vms: None,
            cpu: None,
        };
        match &self.view {
            LiveViewKind::Overview => {
                out.nodes = Some(if self.nodes_visible() {
                    tick.nodes.clone()
                } else {
                    Vec::new()
                });
                out.totals = Some(Totals::of_poll(tick.t, in_scope()));
                out.busiest = Some(busiest(in_scope(), BUSIEST));
            }
            LiveViewKind::VmCpu => {
                out.cpu = Some(
                    in_scope()
                        .map(|v| (v.vmid, compact_cpu(v.point.cpu)))
                        .collect(),
                );
            }
            LiveViewKind::Vm { vmid, .. } => {
                out.vms = Some(in_scope().filter(|v| v.vmid == *vmid).cloned().collect());
            }
            LiveViewKind::Node { node, .. } => {
                if !self.nodes_visible() {
                    return None;
                }
                out.nodes = Some(
                    tick.nodes
                        .iter()
                        .filter(|n| &n.node == node)
                        .cloned()
                        .collect(),
                );
            }
        }
        Some(out)
    }

    /// The part of `series` (cluster `cluster`) this audience receives in a snapshot.
    pub fn window(&self, cluster: &str, series: &ClusterSeries) -> Option<ClusterWindow> {
        if !self.concerns(cluster) {
            return None;
        }
        let in_scope = || series.vms().filter(|w| self.scope.allows_vm(&w.tags));
        let mut out = ClusterWindow {
            cluster: cluster.to_owned(),
            stale_since: series.stale_since(),
            ..ClusterWindow::default()
        };
        match &self.view {
            LiveViewKind::Overview => {
                out.nodes = Some(if self.nodes_visible() {
                    series
                        .nodes()
                        .map(|n| NodeSeries {
                            node: n.live.clone(),
                            points: Vec::new(),
                        })
                        .collect()
                } else {
                    Vec::new()
                });
                out.totals = Some(Totals::of_series(
                    in_scope().map(|w| (&w.live, w.points.iter())),
                ));
                out.busiest = Some(busiest(in_scope().map(|w| &w.live), BUSIEST));
            }
            LiveViewKind::VmCpu => {
                out.cpu = Some(
                    in_scope()
                        .map(|w| {
                            let values = w.points.iter().map(|p| compact_cpu(p.cpu)).collect();
                            (w.live.vmid, values)
                        })
                        .collect(),
                );
            }
            LiveViewKind::Vm { vmid, .. } => {
                out.vms = Some(
                    in_scope()
                        .filter(|w| w.live.vmid == *vmid)
                        .map(|w| VmSeries {
                            vm: w.live.clone(),
                            points: w.points.iter().copied().collect(),
                        })
                        .collect(),
                );
            }
            LiveViewKind::Node { node, .. } => {
                if !self.nodes_visible() {
                    return None;
                }
                out.nodes = Some(
                    series
                        .nodes()
                        .filter(|n| &n.live.node == node)
                        .map(|n| NodeSeries {
                            node: n.live.clone(),
                            points: n.points.iter().copied().collect(),
                        })
                        .collect(),
                );
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pve::types::ClusterResource;

    fn resources() -> Vec<ClusterResource> {
        serde_json::from_value(serde_json::json!([
            {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online",
             "cpu": 0.5, "maxcpu": 8, "mem": 10, "maxmem": 20},
            {"id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve1", "name": "web",
             "status": "running", "cpu": 0.5, "maxcpu": 2, "mem": 100, "maxmem": 200,
             "tags": "prod;web"},
            {"id": "qemu/101", "type": "qemu", "vmid": 101, "node": "pve1", "name": "ci",
             "status": "running", "cpu": 1.0, "maxcpu": 2, "mem": 300, "maxmem": 400,
             "tags": "dev"}
        ]))
        .unwrap()
    }

    fn tick_of(series: &mut ClusterSeries) -> Tick {
        let poll = series.record(10, 10_000, &resources());
        Tick {
            seq: 1,
            cluster: "c".into(),
            t: 10,
            at_ms: 10_000,
            nodes: poll.nodes,
            vms: poll.vms,
        }
    }

    fn audience(view: LiveViewKind, scope: &str) -> Audience {
        Audience {
            view,
            scope: Scope::parse(scope).unwrap(),
        }
    }

    #[test]
    fn a_scoped_overview_sums_only_its_vms_and_shows_no_nodes() {
        let mut series = ClusterSeries::new(5);
        let tick = tick_of(&mut series);
        let everyone = audience(LiveViewKind::Overview, "").tick(&tick).unwrap();
        assert_eq!(everyone.totals.unwrap().mem, Some(400.0));
        assert_eq!(everyone.nodes.unwrap().len(), 1);
        assert_eq!(everyone.busiest.unwrap()[0].vmid, 101);

        let prod = audience(LiveViewKind::Overview, "prod")
            .tick(&tick)
            .unwrap();
        assert_eq!(prod.totals.unwrap().mem, Some(100.0));
        assert_eq!(prod.nodes, Some(vec![]), "node figures are out of scope");
        let ids: Vec<u32> = prod.busiest.unwrap().iter().map(|v| v.vmid).collect();
        assert_eq!(ids, [100]);

        let window = audience(LiveViewKind::Overview, "prod")
            .window("c", &series)
            .unwrap();
        assert_eq!(window.totals.unwrap()[0].mem, Some(100.0));
    }

    #[test]
    fn vm_views_carry_only_that_vm_and_only_in_scope() {
        let mut series = ClusterSeries::new(5);
        let tick = tick_of(&mut series);
        let vm = |vmid| LiveViewKind::Vm {
            cluster: "c".into(),
            vmid,
        };
        let own = audience(vm(100), "web").tick(&tick).unwrap();
        assert_eq!(own.vms.unwrap().len(), 1);
        let other = audience(vm(101), "web").tick(&tick).unwrap();
        assert_eq!(other.vms, Some(vec![]), "VM 101 is not tagged web");
        let elsewhere = LiveViewKind::Vm {
            cluster: "other".into(),
            vmid: 100,
        };
        assert!(audience(elsewhere, "").tick(&tick).is_none());
        let window = audience(vm(100), "").window("c", &series).unwrap();
        assert_eq!(window.vms.unwrap()[0].points.len(), 1);
    }

    #[test]
    fn cpu_and_node_views() {
        let mut series = ClusterSeries::new(5);
        let tick = tick_of(&mut series);
        let cpu = audience(LiveViewKind::VmCpu, "dev").tick(&tick).unwrap();
        assert_eq!(cpu.cpu, Some(vec![(101, 1.0)]));
        let node = LiveViewKind::Node {
            cluster: "c".into(),
            node: "pve1".into(),
        };
        assert_eq!(
            audience(node.clone(), "")
                .window("c", &series)
                .unwrap()
                .nodes
                .unwrap()[0]
                .points
                .len(),
            1
        );
        assert!(audience(node, "dev").tick(&tick).is_none());
    }
}
