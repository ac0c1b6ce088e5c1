//! History for a fresh window, so a chart never starts empty: `/cluster/metrics/export`
//! (PVE ≥ 8.2: the last ~30 minutes at 10 s for every guest in one call), else each running
//! VM's `rrddata` (hour, one point a minute), for at most [`RRD_FALLBACK_LIMIT`] VMs.
//!
//! The export's answer grows with guests × time: 30 minutes of 10,000 guests are some 20
//! million samples (gigabytes of JSON). So the window asked for shrinks as guests grow, within
//! [`EXPORT_SAMPLE_BUDGET`], and a cluster too large for even a few minutes starts from the
//! first poll.

use std::collections::{BTreeMap, HashMap};

use app::live::VmPoint;

use super::window::{Counters, History};
use pve::{
    client::PveApi,
    ids::VmId,
    types::{ClusterResource, MetricsExport, MetricsExportOptions, RrdCf, RrdTimeframe},
};

/// Beyond this many running VMs the rrddata fallback is skipped: one call per VM would be a
/// burst of requests against the cluster.
pub const RRD_FALLBACK_LIMIT: usize = 200;

/// Samples one export answer may carry (about 100 bytes of JSON each: some 20 MB).
pub const EXPORT_SAMPLE_BUDGET: usize = 200_000;
/// Samples per guest and step in the export (gauges and counters).
const SAMPLES_PER_GUEST: usize = 11;
/// The export's spacing and reach (pvestatd keeps 30 minutes at 10 s).
const EXPORT_STEP_SECS: i64 = 10;
const EXPORT_STEPS: usize = 180;
/// Fewer steps than this (one minute) are not worth the request.
const MIN_EXPORT_STEPS: usize = 6;

/// The `start-time` to ask the export for with `guests` guests at unix time `now`: as far back
/// as the sample budget allows, at most 30 minutes; `None` when not even a minute fits.
pub fn export_start(guests: usize, now: i64) -> Option<i64> {
    let steps = (EXPORT_SAMPLE_BUDGET / (guests.max(1) * SAMPLES_PER_GUEST)).min(EXPORT_STEPS);
    (steps >= MIN_EXPORT_STEPS).then(|| now - steps as i64 * EXPORT_STEP_SECS)
}

/// The recent history of the VMs in `resources`.
pub async fn history(api: &dyn PveApi, resources: &[ClusterResource]) -> History {
    let guests = resources
        .iter()
        .filter(|r| r.kind == "qemu" || r.kind == "lxc")
        .count();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let Some(start) = export_start(guests, now) else {
        tracing::info!(
            guests,
            "too many guests for a history fill; charts start from the first poll"
        );
        return History::default();
    };
    let options = MetricsExportOptions {
        history: Some(true),
        start_time: Some(start),
        ..MetricsExportOptions::default()
    };
    match api.cluster_metrics_export(&options).await {
        Ok(Some(export)) => from_export(&export),
        Ok(None) => from_rrddata(api, resources).await,
        Err(e) => {
            tracing::warn!(error = %e, "metrics export failed; charts start from the first poll");
            History::default()
        }
    }
}

/// Turns export samples (gauges and cumulative counters) into points with rates.
pub fn from_export(export: &MetricsExport) -> History {
    // vmid → timestamp → metric → value
    let mut samples: BTreeMap<u32, BTreeMap<i64, HashMap<&str, f64>>> = BTreeMap::new();
    for p in &export.data {
        let Some(vmid) = p.id.strip_prefix("qemu/").and_then(|v| v.parse().ok()) else {
            continue;
        };
        samples
            .entry(vmid)
            .or_default()
            .entry(p.timestamp)
            .or_default()
            .insert(p.metric.as_str(), p.value);
    }
    let mut history = History::default();
    for (vmid, by_time) in samples {
        let mut points = Vec::with_capacity(by_time.len());
        let mut previous: Option<(i64, &HashMap<&str, f64>)> = None;
        for (t, m) in &by_time {
            let rate = |name: &str| {
                let (pt, pm) = previous?;
                let (now, before) = (*m.get(name)?, *pm.get(name)?);
                (now >= before && *t > pt).then(|| (now - before) / (t - pt) as f64)
            };
            points.push(VmPoint {
                t: *t,
                cpu: m.get("cpu_current").copied().unwrap_or(0.0),
                mem: m.get("mem_used").copied().unwrap_or(0.0) as u64,
                netin: rate("net_in"),
                netout: rate("net_out"),
                diskread: rate("disk_read"),
                diskwrite: rate("disk_write"),
            });
            previous = Some((*t, m));
        }
        if let Some(counters) = previous.and_then(|(t, m)| counters_at(t, m)) {
            history.counters.insert(vmid, counters);
        }
        history.points.insert(vmid, points);
    }
    history
}

/// The four counters of one sample, when it has them all.
fn counters_at(t: i64, metrics: &HashMap<&str, f64>) -> Option<Counters> {
    let get = |name: &str| metrics.get(name).map(|v| *v as u64);
    Some(Counters {
        at_ms: t * 1000,
        netin: get("net_in")?,
        netout: get("net_out")?,
        diskread: get("disk_read")?,
        diskwrite: get("disk_write")?,
    })
}

async fn from_rrddata(api: &dyn PveApi, resources: &[ClusterResource]) -> History {
    let running: Vec<_> = resources
        .iter()
        .filter(|r| r.is_vm() && r.is_running())
        .collect();
    if running.len() > RRD_FALLBACK_LIMIT {
        return History::default();
    }
    let mut history = History::default();
    for r in running {
        let (Some(node), Some(vmid)) = (r.node_name(), r.vmid.and_then(|v| VmId::new(v).ok()))
        else {
            continue;
        };
        let Ok(rrd) = api
            .qemu_rrddata(&node, vmid, RrdTimeframe::Hour, RrdCf::Average)
            .await
        else {
            continue;
        };
        let points = rrd
            .iter()
            .filter(|p| p.cpu.is_some())
            .map(|p| VmPoint {
                t: p.time,
                cpu: p.cpu.unwrap_or(0.0),
                mem: p.mem.unwrap_or(0.0) as u64,
                // rrddata already holds rates (bytes per second).
                netin: p.netin,
                netout: p.netout,
                diskread: p.diskread,
                diskwrite: p.diskwrite,
            })
            .collect();
        history.points.insert(vmid.get(), points);
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_window_shrinks_as_guests_grow() {
        let now = 1_000_000;
        assert_eq!(export_start(12, now), Some(now - 1800), "30 minutes");
        assert_eq!(export_start(0, now), Some(now - 1800));
        let thousand = export_start(1_000, now).unwrap();
        assert_eq!(now - thousand, 180, "18 steps of 10 s fit the budget");
        assert_eq!(export_start(10_000, now), None, "not even a minute fits");
    }

    #[test]
    fn export_counters_become_rates_and_gauges_pass_through() {
        let export: MetricsExport = serde_json::from_value(serde_json::json!({"data": [
            {"id": "qemu/100", "metric": "cpu_current", "timestamp": 10, "type": "gauge", "value": 0.5},
            {"id": "qemu/100", "metric": "net_in", "timestamp": 10, "type": "derive", "value": 1000},
            {"id": "qemu/100", "metric": "cpu_current", "timestamp": 20, "type": "gauge", "value": 0.25},
            {"id": "qemu/100", "metric": "net_in", "timestamp": 20, "type": "derive", "value": 6000},
            {"id": "qemu/101", "metric": "net_in", "timestamp": 20, "type": "derive", "value": 7},
            {"id": "qemu/101", "metric": "net_out", "timestamp": 20, "type": "derive", "value": 8},
            {"id": "qemu/101", "metric": "disk_read", "timestamp": 20, "type": "derive", "value": 9},
            {"id": "qemu/101", "metric": "disk_write", "timestamp": 20, "type": "derive", "value": 10},
            {"id": "node/pve1", "metric": "cpu_current", "timestamp": 20, "type": "gauge", "value": 0.9}
        ]}))
        .unwrap();
        let history = from_export(&export);
        assert_eq!(history.points.len(), 2, "nodes are not VMs");
        let points = &history.points[&100];
        assert_eq!(
            (points[0].t, points[0].cpu, points[0].netin),
            (10, 0.5, None)
        );
        assert_eq!(
            (points[1].t, points[1].cpu, points[1].netin),
            (20, 0.25, Some(500.0))
        );
        let newest = Counters {
            at_ms: 20_000,
            netin: 7,
            netout: 8,
            diskread: 9,
            diskwrite: 10,
        };
        assert_eq!(
            history.counters,
            [(101, newest)].into(),
            "the newest counters, where all four are there"
        );
    }
}
