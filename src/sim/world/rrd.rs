//! `rrddata` series as PVE 9 serves them from its RRD files: per timeframe a fixed step and
//! point count, each point the AVERAGE (or MAX) of the live metrics over its step, time-aligned
//! to the step; periods in which a VM was off have only its static keys (missing values are
//! missing keys, never nulls). Rates (`netin`, `diskread`, …) are bytes per second.

use serde_json::{Map, Value, json};

use crate::sim::util::unit;
use crate::sim::world::metrics::{node_sample, vm_sample_at};
use crate::sim::world::model::{Model, Node, Vm};

/// Samples taken inside each step (plus the one at the step's start, for rates).
const SUBSAMPLES: i64 = 4;

/// An RRD timeframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timeframe {
    Hour,
    Day,
    Week,
    Month,
    Year,
    /// Nodes only.
    Decade,
}

impl Timeframe {
    /// The `timeframe` parameter's value.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            "decade" => Self::Decade,
            _ => return None,
        })
    }

    /// Seconds between points (PVE 9 RRD layout).
    pub(crate) fn step(self) -> i64 {
        match self {
            Self::Hour | Self::Day => 60,
            Self::Week | Self::Month => 1800,
            Self::Year => 6 * 3600,
            Self::Decade => 7 * 86_400,
        }
    }

    /// Number of points returned.
    pub(crate) fn points(self) -> i64 {
        match self {
            Self::Hour => 60,
            Self::Week => 336,
            Self::Day | Self::Month | Self::Year => 1440,
            Self::Decade => 570,
        }
    }
}

/// Point times: aligned to the step, the last one the latest complete step before `now`.
fn times(now: i64, tf: Timeframe) -> impl Iterator<Item = i64> {
    let step = tf.step();
    let last = now.div_euclid(step) * step;
    (0..tf.points()).map(move |i| last - (tf.points() - 1 - i) * step)
}

/// Sample times within the step ending at `t`, from its start to `t`.
fn subsample_times(t: i64, step: i64) -> Vec<i64> {
    (0..=SUBSAMPLES)
        .map(|k| t - step + step * k / SUBSAMPLES)
        .collect()
}

/// AVERAGE or MAX of `values` (not empty).
fn fold(values: &[f64], max: bool) -> f64 {
    if max {
        values.iter().copied().fold(f64::MIN, f64::max)
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// `GET /nodes/{node}/qemu/{vmid}/rrddata`.
pub(crate) fn vm_series(model: &Model, vm: &Vm, now: i64, tf: Timeframe, max: bool) -> Value {
    let maxcpu = vm.cpus(model.node(&vm.node).map_or(1, |n| n.maxcpu));
    let step = tf.step();
    let points = times(now, tf)
        .map(|t| {
            let mut p = Map::new();
            p.insert("time".into(), json!(t));
            p.insert("maxcpu".into(), json!(maxcpu));
            p.insert("maxmem".into(), json!(vm.maxmem()));
            p.insert("maxdisk".into(), json!(vm.maxdisk()));
            p.insert("disk".into(), json!(0));
            let at = subsample_times(t, step);
            let runs: Vec<Option<i64>> = at.iter().map(|x| vm.run_start_at(*x)).collect();
            let on: Vec<usize> = (1..at.len()).filter(|&i| runs[i].is_some()).collect();
            // RRD's xff of 0.5: a step with less than half its samples known is unknown.
            if on.len() * 2 < at.len() - 1 {
                return Value::Object(p);
            }
            let samples: Vec<_> = at
                .iter()
                .map(|x| vm_sample_at(model.seed, vm, *x))
                .collect();
            let gauge =
                |f: &dyn Fn(usize) -> f64| fold(&on.iter().map(|&i| f(i)).collect::<Vec<_>>(), max);
            p.insert("cpu".into(), json!(gauge(&|i| samples[i].cpu)));
            p.insert("mem".into(), json!(gauge(&|i| samples[i].mem as f64)));
            p.insert(
                "memhost".into(),
                json!(gauge(&|i| samples[i].memhost as f64)),
            );
            let dt = (step / SUBSAMPLES) as f64;
            let rate = |c: &dyn Fn(usize) -> u64| {
                gauge(&|i| {
                    let before = if runs[i - 1] == runs[i] { c(i - 1) } else { 0 };
                    c(i).saturating_sub(before) as f64 / dt
                })
            };
            p.insert("netin".into(), json!(rate(&|i| samples[i].netin)));
            p.insert("netout".into(), json!(rate(&|i| samples[i].netout)));
            p.insert("diskread".into(), json!(rate(&|i| samples[i].diskread)));
            p.insert("diskwrite".into(), json!(rate(&|i| samples[i].diskwrite)));
            let names = [
                "cpusome",
                "cpufull",
                "iosome",
                "iofull",
                "memorysome",
                "memoryfull",
            ];
            for (j, name) in names.iter().enumerate() {
                let v = gauge(&|i| samples[i].pressure[j]);
                p.insert(format!("pressure{name}"), json!(v));
            }
            Value::Object(p)
        })
        .collect();
    Value::Array(points)
}

/// `GET /nodes/{node}/rrddata`.
pub(crate) fn node_series(model: &Model, node: &Node, now: i64, tf: Timeframe, max: bool) -> Value {
    let step = tf.step();
    let key = u64::from(node.maxcpu) ^ node.boot_time as u64;
    let swaptotal = 8u64 * 1024 * 1024 * 1024;
    let points = times(now, tf)
        .map(|t| {
            let at = subsample_times(t, step);
            let samples: Vec<_> = at[1..]
                .iter()
                .map(|x| node_sample(model, node, *x))
                .collect();
            let g = |f: &dyn Fn(usize) -> f64| {
                fold(&(0..samples.len()).map(f).collect::<Vec<_>>(), max)
            };
            let dt = (step / SUBSAMPLES) as f64;
            let vm_rate = |pick: fn(&crate::sim::world::metrics::VmSample) -> u64| {
                g(&|i| {
                    model
                        .vms_on(&node.name)
                        .map(|vm| {
                            let (a, b) = (at[i], at[i + 1]);
                            let same = vm.run_start_at(a) == vm.run_start_at(b);
                            let before = if same {
                                pick(&vm_sample_at(model.seed, vm, a))
                            } else {
                                0
                            };
                            pick(&vm_sample_at(model.seed, vm, b)).saturating_sub(before) as f64
                                / dt
                        })
                        .sum::<f64>()
                        + 1500.0
                })
            };
            let cpu = g(&|i| samples[i].cpu);
            let memused = g(&|i| samples[i].mem as f64);
            let noise = unit(model.seed, key ^ t as u64, 3);
            json!({
                "time": t,
                "cpu": cpu,
                "maxcpu": node.maxcpu,
                "iowait": 0.0005 + 0.003 * noise,
                "loadavg": cpu * f64::from(node.maxcpu) * (1.0 + 0.2 * noise),
                "memtotal": node.maxmem,
                "memused": memused,
                "memavailable": node.maxmem as f64 - memused * 1.02,
                "arcsize": 0,
                "swaptotal": swaptotal,
                "swapused": (swaptotal as f64 * 0.02 * (1.0 + noise)),
                "roottotal": node.maxdisk,
                "rootused": g(&|i| samples[i].disk as f64),
                "netin": vm_rate(|s| s.netin),
                "netout": vm_rate(|s| s.netout),
                "pressurecpusome": cpu * 4.0 * noise,
                "pressureiosome": 0.2 * noise,
                "pressureiofull": 0.1 * noise,
                "pressurememorysome": 0,
                "pressurememoryfull": 0,
            })
        })
        .collect();
    Value::Array(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::model::generate;

    #[test]
    fn counts_spacing_and_gaps() {
        let now = 1_800_000_123;
        let m = generate(3, 12, 42, now);
        for (tf, n, step) in [
            (Timeframe::Hour, 60, 60),
            (Timeframe::Day, 1440, 60),
            (Timeframe::Week, 336, 1800),
            (Timeframe::Year, 1440, 21_600),
        ] {
            let vm = m.vms.values().next().unwrap();
            let s = vm_series(&m, vm, now, tf, false);
            let s = s.as_array().unwrap();
            assert_eq!(s.len(), n);
            assert_eq!(
                s[1]["time"].as_i64().unwrap() - s[0]["time"].as_i64().unwrap(),
                step
            );
            assert_eq!(s[0]["time"].as_i64().unwrap() % step, 0);
        }
        let stopped = m.vms.values().find(|v| !v.has_process()).unwrap();
        let s = vm_series(&m, stopped, now, Timeframe::Hour, false);
        assert!(s[59].get("cpu").is_none() && s[59]["maxmem"].is_u64());
        let running = m.vms.values().find(|v| v.has_process()).unwrap();
        let s = vm_series(&m, running, now, Timeframe::Hour, true);
        assert!(s[59]["cpu"].as_f64().unwrap() > 0.0);
        let n = node_series(&m, &m.nodes[0], now, Timeframe::Decade, false);
        assert_eq!(n.as_array().unwrap().len(), 570);
    }
}
