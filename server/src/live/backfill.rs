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
use pve::{
    client::PveApi,
    ids::VmId,
    types::{ClusterResource, MetricsExport, MetricsExportOptions, RrdCf, RrdTimeframe},
};

/// Per VM id, points oldest first.
pub type History = BTreeMap<u32, Vec<VmPoint>>;

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
        return History::new();
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
            History::new()
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
    samples
        .into_iter()
        .map(|(vmid, by_time)| {
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
            (vmid, points)
        })
        .collect()
}

async fn from_rrddata(api: &dyn PveApi, resources: &[ClusterResource]) -> History {
    let running: Vec<_> = resources
        .iter()
        .filter(|r| r.is_vm() && r.is_running())
        .collect();
    if running.len() > RRD_FALLBACK_LIMIT {
        return History::new();
    }
    let mut history = History::new();
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
        history.insert(vmid.get(), points);
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
            {"id": "node/pve1", "metric": "cpu_current", "timestamp": 20, "type": "gauge", "value": 0.9}
        ]}))
        .unwrap();
        let history = from_export(&export);
        assert_eq!(history.len(), 1, "nodes are not VMs");
        let points = &history[&100];
        assert_eq!(
            (points[0].t, points[0].cpu, points[0].netin),
            (10, 0.5, None)
        );
        assert_eq!(
            (points[1].t, points[1].cpu, points[1].netin),
            (20, 0.25, Some(500.0))
        );
    }
}
