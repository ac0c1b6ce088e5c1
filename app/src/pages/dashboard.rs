//! The dashboard: cluster totals (CPU, memory, network, disk) as live charts, fed by the
//! server-sent event stream — one poll of Proxmox VE per tick, whatever the number of viewers.

use leptos::prelude::*;

use crate::{
    components::time_chart::{Lines, TimeChart},
    format,
    live_view::{LiveView, Totals},
};

/// Points kept per VM in the browser: 30 minutes at a 10 s tick.
const POINTS: usize = 180;

/// Picks one value out of a cluster's totals.
type TotalsField = fn(&Totals) -> Option<f64>;

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    Cpu,
    Memory,
    Network,
    Disk,
}

impl Metric {
    fn title(self) -> &'static str {
        match self {
            Metric::Cpu => "CPU (% of VM vCPUs)",
            Metric::Memory => "Memory used (GiB)",
            Metric::Network => "Network (MiB/s)",
            Metric::Disk => "Disk I/O (MiB/s)",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Metric::Cpu => "chart-cpu",
            Metric::Memory => "chart-memory",
            Metric::Network => "chart-network",
            Metric::Disk => "chart-disk",
        }
    }

    /// The lines of this chart for one cluster: `(suffix, value of a totals point)`.
    fn lines(self) -> Vec<(&'static str, TotalsField)> {
        const MIB: f64 = 1024.0 * 1024.0;
        const GIB: f64 = MIB * 1024.0;
        match self {
            Metric::Cpu => vec![("", |t| t.cpu.map(|v| v * 100.0))],
            Metric::Memory => vec![("", |t| t.mem.map(|v| v / GIB))],
            Metric::Network => vec![
                (" in", |t| t.netin.map(|v| v / MIB)),
                (" out", |t| t.netout.map(|v| v / MIB)),
            ],
            Metric::Disk => vec![
                (" read", |t| t.diskread.map(|v| v / MIB)),
                (" write", |t| t.diskwrite.map(|v| v / MIB)),
            ],
        }
    }
}

/// `/dashboard`.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let view = RwSignal::new(LiveView::new(POINTS));
    let connected = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    crate::web::live_stream::connect("/api/live", view, connected);
    let stale = move || {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .filter_map(|c| v.stale(&c).map(|(since, why)| (c, since, why)))
                .map(|(cluster, since, why)| {
                    let since = if since == 0 {
                        "start".to_string()
                    } else {
                        format::clock(since)
                    };
                    view! {
                        <div class="error" role="alert" data-testid="stale">
                            {format!("Cluster {cluster}: no data since {since} — {why}")}
                        </div>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <h1>"Dashboard"</h1>
        <p class="muted">
            <span data-testid="live-status" data-connected=move || connected.get().to_string()>
                {move || if connected.get() { "● live" } else { "○ connecting…" }}
            </span>
            " — all VMs of all clusters, summed per poll"
        </p>
        {stale}
        <div class="charts">
            <MetricChart metric=Metric::Cpu view />
            <MetricChart metric=Metric::Memory view />
            <MetricChart metric=Metric::Network view />
            <MetricChart metric=Metric::Disk view />
        </div>
    }
}

#[component]
fn MetricChart(metric: Metric, view: RwSignal<LiveView>) -> impl IntoView {
    let lines = Memo::new(move |_| {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .flat_map(|cluster| {
                    let totals = v.totals(&cluster);
                    metric
                        .lines()
                        .into_iter()
                        .map(|(suffix, value)| {
                            (
                                format!("{cluster}{suffix}"),
                                totals.iter().map(|t| (t.t, value(t))).collect::<Vec<_>>(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Lines>()
        })
    });
    view! { <TimeChart id=metric.id() title=metric.title() lines /> }
}
