//! The in-memory window of one cluster: recent points per VM, and rates from counters; and
//! what goes in and out of it: the [`History`] it is filled with, the [`Poll`] it records, the
//! [`Tick`] published from that.

use std::collections::{BTreeMap, VecDeque};

use app::live::{NodeLive, NodePoint, VmLive, VmPoint};
use pve::types::ClusterResource;

/// PVE's cumulative counters of one VM at one moment (a poll, or the newest sample of PVE's
/// history).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counters {
    /// When they were read, milliseconds: rates over a short tick need better than whole
    /// seconds (a 2 s tick measured as 2 s while 2.9 s passed is a 45% spike).
    pub at_ms: i64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
}

/// Recent history of a cluster's VMs from PVE (see [`backfill`](super::backfill)), put in
/// front of a fresh window by [`ClusterSeries::backfill`].
#[derive(Debug, Default)]
pub struct History {
    /// Per VM id, points oldest first.
    pub points: BTreeMap<u32, Vec<VmPoint>>,
    /// Per VM id, its cumulative counters at its newest sample (from the export only: rrddata
    /// holds rates), so the first poll's rates can be taken against them.
    pub counters: BTreeMap<u32, Counters>,
}

/// One VM's recent history.
#[derive(Debug)]
pub struct VmWindow {
    /// The VM as of the newest poll.
    pub live: VmLive,
    /// Its PVE tags (they decide which scopes see it).
    pub tags: Vec<String>,
    /// Older points first.
    pub points: VecDeque<VmPoint>,
    counters: Option<Counters>,
}

/// One node's recent history.
#[derive(Debug)]
pub struct NodeWindow {
    /// The node as of the newest poll.
    pub live: NodeLive,
    /// Older points first.
    pub points: VecDeque<NodePoint>,
}

/// A VM at one poll, with the tags that decide who may see it.
#[derive(Debug, Clone)]
pub struct VmNow {
    /// The VM's state.
    pub live: VmLive,
    /// Its PVE tags.
    pub tags: Vec<String>,
}

/// What one poll found.
#[derive(Debug, Clone, Default)]
pub struct Poll {
    /// The nodes.
    pub nodes: Vec<NodeLive>,
    /// The VMs.
    pub vms: Vec<VmNow>,
}

/// A poll's result as the hub publishes it, before it is cut to each audience.
#[derive(Debug)]
pub struct Tick {
    /// Event sequence number.
    pub seq: u64,
    /// Cluster name.
    pub cluster: String,
    /// Unix time of the poll.
    pub t: i64,
    /// Unix time in milliseconds when it was published.
    pub at_ms: i64,
    /// The nodes.
    pub nodes: Vec<NodeLive>,
    /// The VMs, with their tags.
    pub vms: Vec<VmNow>,
}

/// One cluster's recent history, bounded by `capacity` points per VM and node.
#[derive(Debug)]
pub struct ClusterSeries {
    capacity: usize,
    vms: BTreeMap<u32, VmWindow>,
    nodes: BTreeMap<String, NodeWindow>,
    /// One-minute load per node, from the slower node status reads.
    loads: BTreeMap<String, f64>,
    last_good: Option<i64>,
    stale: bool,
}

/// A point with a time, so two polls within one second keep one point (the newer).
trait Timed {
    fn t(&self) -> i64;
}

impl Timed for VmPoint {
    fn t(&self) -> i64 {
        self.t
    }
}

impl Timed for NodePoint {
    fn t(&self) -> i64 {
        self.t
    }
}

fn push_bounded<T: Timed>(window: &mut VecDeque<T>, capacity: usize, value: T) {
    if let Some(last) = window.back_mut()
        && last.t() == value.t()
    {
        *last = value;
        return;
    }
    if window.len() == capacity {
        window.pop_front();
    }
    window.push_back(value);
}

/// Bytes per second between two counter readings; `None` when the counter went backwards
/// (the VM restarted) or no time passed.
fn rate(previous: u64, current: u64, millis: i64) -> Option<f64> {
    (current >= previous && millis > 0)
        .then(|| (current - previous) as f64 * 1000.0 / millis as f64)
}

impl ClusterSeries {
    /// An empty window keeping at most `capacity` points per VM.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            vms: BTreeMap::new(),
            nodes: BTreeMap::new(),
            loads: BTreeMap::new(),
            last_good: None,
            stale: false,
        }
    }

    /// Adds one poll taken at `t` (unix seconds, the chart time; `at_ms` is the same moment in
    /// milliseconds, for rates); VMs and nodes that disappeared are dropped. Returns what the
    /// poll found.
    pub fn record(&mut self, t: i64, at_ms: i64, resources: &[ClusterResource]) -> Poll {
        self.last_good = Some(t);
        self.stale = false;
        let nodes: Vec<NodeLive> = resources
            .iter()
            .filter(|r| r.kind == "node")
            .map(|r| NodeLive {
                node: r.node.clone().unwrap_or_default(),
                status: r.status.clone().unwrap_or_else(|| "unknown".into()),
                cpu: r.cpu.unwrap_or(0.0),
                maxcpu: r.maxcpu.unwrap_or(0.0),
                mem: r.mem.unwrap_or(0),
                maxmem: r.maxmem.unwrap_or(0),
                uptime: r.uptime.unwrap_or(0),
                load: r.node.as_ref().and_then(|n| self.loads.get(n)).copied(),
            })
            .collect();
        self.nodes
            .retain(|name, _| nodes.iter().any(|n| &n.node == name));
        for node in &nodes {
            let window = self
                .nodes
                .entry(node.node.clone())
                .or_insert_with(|| NodeWindow {
                    live: node.clone(),
                    points: VecDeque::new(),
                });
            window.live = node.clone();
            push_bounded(&mut window.points, self.capacity, node.point(t));
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in resources.iter().filter(|r| r.is_vm()) {
            let Some(vmid) = r.vmid else { continue };
            seen.insert(vmid);
            let counters = Counters {
                at_ms,
                netin: r.netin.unwrap_or(0),
                netout: r.netout.unwrap_or(0),
                diskread: r.diskread.unwrap_or(0),
                diskwrite: r.diskwrite.unwrap_or(0),
            };
            let state = self.vms.entry(vmid).or_insert_with(|| empty_window(vmid));
            state.tags = r.tag_list();
            let previous = state.counters.replace(counters);
            let rates = |f: fn(&Counters) -> u64| {
                previous.and_then(|p| rate(f(&p), f(&counters), at_ms - p.at_ms))
            };
            let point = VmPoint {
                t,
                cpu: r.cpu.unwrap_or(0.0),
                mem: r.mem.unwrap_or(0),
                netin: rates(|c| c.netin),
                netout: rates(|c| c.netout),
                diskread: rates(|c| c.diskread),
                diskwrite: rates(|c| c.diskwrite),
            };
            state.live = VmLive {
                vmid,
                node: r.node.clone().unwrap_or_default(),
                name: r.name.clone().unwrap_or_default(),
                status: r.status.clone().unwrap_or_else(|| "unknown".into()),
                maxcpu: r.maxcpu.unwrap_or(0.0),
                maxmem: r.maxmem.unwrap_or(0),
                point,
            };
            push_bounded(&mut state.points, self.capacity, point);
        }
        self.vms.retain(|vmid, _| seen.contains(vmid));
        Poll {
            nodes,
            vms: self
                .vms
                .values()
                .map(|w| VmNow {
                    live: w.live.clone(),
                    tags: w.tags.clone(),
                })
                .collect(),
        }
    }

    /// Puts history (per VM, oldest first) in front of what the window holds, keeping the
    /// newest `capacity` points. VMs not in the window yet are added when the next poll names
    /// them; until then their history waits here. The history's newest counters stand in for a
    /// previous poll where there was none, so the first live rates join the history.
    pub fn backfill(&mut self, history: History) {
        for (vmid, points) in history.points {
            let state = self.vms.entry(vmid).or_insert_with(|| empty_window(vmid));
            let newest_known = state.points.front().map_or(i64::MAX, |p| p.t);
            let older: Vec<VmPoint> = points.into_iter().filter(|p| p.t < newest_known).collect();
            for p in older.into_iter().rev() {
                if state.points.len() == self.capacity {
                    break;
                }
                state.points.push_front(p);
            }
        }
        for (vmid, counters) in history.counters {
            let state = self.vms.entry(vmid).or_insert_with(|| empty_window(vmid));
            state.counters.get_or_insert(counters);
        }
    }

    /// Marks the cluster unreachable; returns when it last answered.
    pub fn mark_stale(&mut self) -> Option<i64> {
        self.stale = true;
        self.last_good
    }

    /// Notes a node's one-minute load (shown from the next poll on).
    pub fn set_load(&mut self, node: &str, load: f64) {
        self.loads.insert(node.to_owned(), load);
    }

    /// When the cluster last answered, while it does not.
    pub fn stale_since(&self) -> Option<i64> {
        self.stale.then_some(self.last_good.unwrap_or(0))
    }

    /// The VMs' windows, by VM id. VMs known only from history (not polled yet) have no node.
    pub fn vms(&self) -> impl Iterator<Item = &VmWindow> {
        self.vms.values().filter(|w| !w.live.node.is_empty())
    }

    /// One VM's window.
    pub fn vm(&self, vmid: u32) -> Option<&VmWindow> {
        self.vms.get(&vmid).filter(|w| !w.live.node.is_empty())
    }

    /// The nodes' windows, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeWindow> {
        self.nodes.values()
    }
}

fn empty_window(vmid: u32) -> VmWindow {
    VmWindow {
        live: empty_live(vmid),
        tags: Vec::new(),
        points: VecDeque::new(),
        counters: None,
    }
}

fn empty_live(vmid: u32) -> VmLive {
    VmLive {
        vmid,
        node: String::new(),
        name: String::new(),
        status: String::new(),
        maxcpu: 0.0,
        maxmem: 0,
        point: VmPoint {
            t: 0,
            cpu: 0.0,
            mem: 0,
            netin: None,
            netout: None,
            diskread: None,
            diskwrite: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(vmid: u32, cpu: f64, netin: u64) -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": format!("qemu/{vmid}"), "type": "qemu", "vmid": vmid, "node": "pve1",
            "name": format!("vm{vmid}"), "status": "running", "cpu": cpu, "maxcpu": 2,
            "mem": 100, "maxmem": 200, "netin": netin, "netout": 0, "diskread": 0, "diskwrite": 0
        }))
        .unwrap()
    }

    #[test]
    fn counters_become_rates_and_restarts_are_gaps() {
        let mut series = ClusterSeries::new(10);
        let first = series.record(100, 100_000, &[vm(100, 0.5, 1_000)]).vms;
        assert_eq!(
            first[0].live.point.netin, None,
            "no rate without a previous poll"
        );
        let second = series.record(110, 110_000, &[vm(100, 0.25, 6_000)]).vms;
        assert_eq!(second[0].live.point.netin, Some(500.0));
        assert_eq!(second[0].live.point.cpu, 0.25);
        // Rates divide by the time that really passed, in milliseconds.
        let precise = series.record(111, 111_500, &[vm(100, 0.25, 6_750)]).vms;
        assert_eq!(precise[0].live.point.netin, Some(500.0));
        let restarted = series.record(120, 120_000, &[vm(100, 0.1, 10)]).vms;
        assert_eq!(
            restarted[0].live.point.netin, None,
            "a counter reset is not a negative rate"
        );
    }

    fn node_res() -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": "node/pve1", "type": "node", "node": "pve1", "status": "online",
            "cpu": 0.5, "maxcpu": 8, "mem": 10, "maxmem": 20, "uptime": 99
        }))
        .unwrap()
    }

    #[test]
    fn tags_are_kept_for_scopes() {
        let mut tagged = vm(100, 0.1, 0);
        tagged.tags = Some("prod;web".into());
        let mut series = ClusterSeries::new(3);
        series.record(10, 10_000, &[tagged]);
        assert_eq!(series.vm(100).unwrap().tags, ["prod", "web"]);
    }

    #[test]
    fn nodes_come_from_the_same_poll() {
        let node = node_res();
        let mut series = ClusterSeries::new(3);
        let Poll { nodes, vms } = series.record(10, 10_000, &[node.clone(), vm(100, 0.1, 0)]);
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            (
                nodes[0].node.as_str(),
                nodes[0].status.as_str(),
                nodes[0].maxcpu
            ),
            ("pve1", "online", 8.0)
        );
        assert_eq!(vms.len(), 1, "nodes are not VMs");
        series.record(20, 20_000, &[node, vm(100, 0.1, 0)]);
        series.record(30, 30_000, &[node_res(), vm(100, 0.1, 0)]);
        let windows: Vec<&NodeWindow> = series.nodes().collect();
        assert_eq!(windows.len(), 1);
        assert_eq!(
            windows[0].points.iter().map(|p| p.t).collect::<Vec<_>>(),
            [10, 20, 30],
            "bounded at 3"
        );
        series.record(40, 40_000, &[vm(100, 0.1, 0)]);
        assert_eq!(series.nodes().count(), 0, "a node that left is forgotten");
    }

    #[test]
    fn the_window_is_bounded_and_forgets_deleted_vms() {
        let mut series = ClusterSeries::new(3);
        for t in 0..10 {
            series.record(t * 10, t * 10_000, &[vm(100, 0.1, 0), vm(101, 0.2, 0)]);
        }
        assert_eq!(series.vms().count(), 2);
        let first = series.vm(100).unwrap();
        assert_eq!(first.points.len(), 3);
        assert_eq!(first.points[0].t, 70, "oldest points go first");
        series.record(90, 90_500, &[vm(100, 0.9, 0), vm(101, 0.2, 0)]);
        let same_second = series.vm(100).unwrap();
        assert_eq!(same_second.points.len(), 3, "one point per second");
        assert_eq!(same_second.points[2].cpu, 0.9, "the newer reading");
        series.record(200, 200_000, &[vm(101, 0.2, 0)]);
        assert_eq!(series.vms().count(), 1);
    }

    #[test]
    fn history_goes_in_front_and_respects_the_bound() {
        let mut series = ClusterSeries::new(4);
        series.record(100, 100_000, &[vm(100, 0.5, 0)]);
        let old = |t| VmPoint {
            t,
            cpu: 0.1,
            mem: 1,
            netin: None,
            netout: None,
            diskread: None,
            diskwrite: None,
        };
        series.backfill(History {
            points: [(100, vec![old(50), old(60), old(70), old(80), old(100)])].into(),
            counters: Default::default(),
        });
        let times: Vec<i64> = series.vm(100).unwrap().points.iter().map(|p| p.t).collect();
        assert_eq!(
            times,
            [60, 70, 80, 100],
            "older first, the live point kept, bounded"
        );
    }

    #[test]
    fn the_history_counters_give_the_first_poll_its_rates() {
        let mut series = ClusterSeries::new(10);
        let seed = Counters {
            at_ms: 90_000,
            netin: 1_000,
            netout: 0,
            diskread: 0,
            diskwrite: 0,
        };
        let seeded = || History {
            points: Default::default(),
            counters: [(100, seed)].into(),
        };
        series.backfill(seeded());
        let first = series.record(100, 100_000, &[vm(100, 0.5, 6_000)]).vms;
        assert_eq!(
            first[0].live.point.netin,
            Some(500.0),
            "5,000 bytes in 10 s"
        );
        // A VM that was polled already keeps its own counters.
        series.backfill(seeded());
        let next = series.record(102, 102_000, &[vm(100, 0.5, 7_000)]).vms;
        assert_eq!(
            next[0].live.point.netin,
            Some(500.0),
            "against the last poll"
        );
    }

    #[test]
    fn stale_clusters_say_since_when() {
        let mut series = ClusterSeries::new(3);
        series.record(50, 50_000, &[vm(100, 0.1, 0)]);
        assert_eq!(series.mark_stale(), Some(50));
        assert_eq!(series.stale_since(), Some(50));
        series.record(60, 60_000, &[vm(100, 0.1, 0)]);
        assert_eq!(series.stale_since(), None);
    }
}
