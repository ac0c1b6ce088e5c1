//! Metric history from PVE's `rrddata`: a period and consolidation picker and four charts.

use leptos::prelude::*;
use pve::types::{NodeRrdPoint, QemuRrdPoint};

use crate::{
    components::{
        error_box::ErrorBox,
        time_chart::{Lines, TimeChart},
    },
    metrics::{node_history, vm_history},
};

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = MIB * 1024.0;

/// Whose history to show.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryOf {
    /// A VM.
    Vm {
        /// Cluster name.
        cluster: String,
        /// Node name.
        node: String,
        /// VM id.
        vmid: String,
    },
    /// A node.
    Node {
        /// Cluster name.
        cluster: String,
        /// Node name.
        node: String,
    },
}

/// Four charts (CPU, memory, network, disk or load) for one period.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
struct Charts {
    cpu: Lines,
    memory: Lines,
    network: Lines,
    fourth: Lines,
}

fn line(name: &str, points: Vec<(i64, Option<f64>)>) -> (String, Vec<(i64, Option<f64>)>) {
    (name.to_owned(), points)
}

fn vm_charts(points: &[QemuRrdPoint]) -> Charts {
    let series = |f: fn(&QemuRrdPoint) -> Option<f64>| {
        points.iter().map(|p| (p.time, f(p))).collect::<Vec<_>>()
    };
    Charts {
        cpu: vec![line("CPU %", series(|p| p.cpu.map(|c| c * 100.0)))],
        memory: vec![
            line("used", series(|p| p.mem.map(|m| m / GIB))),
            line("configured", series(|p| p.maxmem.map(|m| m / GIB))),
        ],
        network: vec![
            line("in", series(|p| p.netin.map(|v| v / MIB))),
            line("out", series(|p| p.netout.map(|v| v / MIB))),
        ],
        fourth: vec![
            line("read", series(|p| p.diskread.map(|v| v / MIB))),
            line("write", series(|p| p.diskwrite.map(|v| v / MIB))),
        ],
    }
}

fn node_charts(points: &[NodeRrdPoint]) -> Charts {
    let series = |f: fn(&NodeRrdPoint) -> Option<f64>| {
        points.iter().map(|p| (p.time, f(p))).collect::<Vec<_>>()
    };
    Charts {
        cpu: vec![
            line("CPU %", series(|p| p.cpu.map(|c| c * 100.0))),
            line("IO wait %", series(|p| p.iowait.map(|c| c * 100.0))),
        ],
        memory: vec![
            line("used", series(|p| p.memused.map(|m| m / GIB))),
            line("total", series(|p| p.memtotal.map(|m| m / GIB))),
        ],
        network: vec![
            line("in", series(|p| p.netin.map(|v| v / MIB))),
            line("out", series(|p| p.netout.map(|v| v / MIB))),
        ],
        fourth: vec![line("load", series(|p| p.loadavg))],
    }
}

/// The history section.
#[component]
pub fn History(of: HistoryOf) -> impl IntoView {
    let timeframe = RwSignal::new("hour".to_string());
    let cf = RwSignal::new("AVERAGE".to_string());
    let is_node = matches!(of, HistoryOf::Node { .. });
    // Only the browser draws charts, so only the browser loads them: a `LocalResource` read
    // outside any boundary (rule 3 in `crate::pages`), never waited for by the server.
    let data = LocalResource::new(move || {
        let (timeframe, cf, of) = (timeframe.get(), cf.get(), of.clone());
        async move {
            match of {
                HistoryOf::Vm {
                    cluster,
                    node,
                    vmid,
                } => vm_history(cluster, node, vmid, timeframe, cf)
                    .await
                    .map(|p| vm_charts(&p)),
                HistoryOf::Node { cluster, node } => node_history(cluster, node, timeframe, cf)
                    .await
                    .map(|p| node_charts(&p)),
            }
        }
    });
    let charts = Signal::derive(move || data.get().and_then(Result::ok).unwrap_or_default());
    let error = move || {
        data.get()
            .and_then(Result::err)
            .map(|error| view! { <ErrorBox error /> })
    };
    let select = |label: &'static str,
                  signal: RwSignal<String>,
                  options: &'static [(&'static str, &'static str)]| {
        view! {
            <label class="inline">
                {label}
                <select data-testid=label on:change=move |ev| signal.set(event_target_value(&ev))>
                    {options.iter().map(|(value, text)| view! { <option value=*value>{*text}</option> }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <section class="history">
            <h2>"History"</h2>
            <div class="toolbar">
                {select("Period", timeframe, &[("hour", "Hour"), ("day", "Day"), ("week", "Week"), ("month", "Month"), ("year", "Year")])}
                {select("Values", cf, &[("AVERAGE", "Average"), ("MAX", "Maximum")])}
            </div>
            {error}
            <div class="charts">
                <TimeChart id="history-cpu" title="CPU (%)" lines=Signal::derive(move || charts.get().cpu) />
                <TimeChart id="history-memory" title="Memory (GiB)" lines=Signal::derive(move || charts.get().memory) />
                <TimeChart id="history-network" title="Network (MiB/s)" lines=Signal::derive(move || charts.get().network) />
                <TimeChart
                    id="history-fourth"
                    title=if is_node { "Load average" } else { "Disk I/O (MiB/s)" }
                    lines=Signal::derive(move || charts.get().fourth)
                />
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_samples_stay_gaps_and_units_convert() {
        let points: Vec<QemuRrdPoint> = serde_json::from_value(serde_json::json!([
            {"time": 60, "cpu": 0.5, "mem": 1073741824.0, "maxmem": 2147483648.0, "netin": 1048576.0},
            {"time": 120, "maxmem": 2147483648.0}
        ]))
        .unwrap();
        let charts = vm_charts(&points);
        assert_eq!(charts.cpu[0].1, vec![(60, Some(50.0)), (120, None)]);
        assert_eq!(charts.memory[0].1[0], (60, Some(1.0)));
        assert_eq!(charts.memory[1].1[1], (120, Some(2.0)));
        assert_eq!(charts.network[0].1[0], (60, Some(1.0)));
    }
}
