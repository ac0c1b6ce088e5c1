//! The dashboard: cluster totals (CPU, memory, network, disk) as live charts, fed by the
//! server-sent event stream — one poll of Proxmox VE per tick, whatever the number of viewers.

use leptos::prelude::*;

use crate::{
    components::{
        live_status::{LiveStatus, StaleClusters},
        time_chart::{Lines, TimeChart},
    },
    format,
    live::view::{LiveView, StreamStatus, Totals},
};

/// Points kept per cluster in the browser: 30 minutes at a 10 s tick.
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
    let status = RwSignal::new(StreamStatus::Connecting);
    #[cfg(feature = "hydrate")]
    crate::web::live_stream::connect(&crate::live::LiveViewKind::Overview.url(), view, status);
    // The server sums each poll (for this user's scope); the four charts share one copy.
    let totals = Memo::new(move |_| {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .map(|c| {
                    let totals = v.totals(&c);
                    (c, totals)
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <h1>"Dashboard"</h1>
        <LiveStatus status carries=" — the VMs you may see, summed per poll" />
        <StaleClusters view />
        <OfflineNodes view />
        <div class="charts">
            <MetricChart metric=Metric::Cpu totals />
            <MetricChart metric=Metric::Memory totals />
            <MetricChart metric=Metric::Network totals />
            <MetricChart metric=Metric::Disk totals />
        </div>
        <LiveNodes view />
        <h2>"Busiest VMs"</h2>
        <table class="vms" data-testid="busiest"><tbody>
            {move || view.with(|v| {
                v.clusters().into_iter().flat_map(|c| {
                    v.busiest(&c).into_iter().map(move |vm| {
                        let href = format!("/vms/{c}/{}/{}", vm.node, vm.vmid);
                        view! {
                            <tr>
                                <td><a href=href>{format!("{} {}", vm.vmid, vm.name)}</a></td>
                                <td>{vm.node.clone()}</td>
                                <td>{format::percent(vm.point.cpu)}" CPU"</td>
                                <td>{format::bytes(vm.point.mem)}" / "{format::bytes(vm.maxmem)}</td>
                            </tr>
                        }
                    }).collect::<Vec<_>>()
                }).collect_view()
            })}
        </tbody></table>
    }
}

#[component]
fn MetricChart(metric: Metric, totals: Memo<Vec<(String, Vec<Totals>)>>) -> impl IntoView {
    let lines = Memo::new(move |_| {
        totals.with(|all| {
            all.iter()
                .flat_map(|(cluster, totals)| {
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

/// One alert line per node that PVE reports offline (the stream carries nodes to unscoped
/// users only).
#[component]
fn OfflineNodes(view: RwSignal<LiveView>) -> impl IntoView {
    move || {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .flat_map(|cluster| {
                    v.nodes(&cluster)
                        .into_iter()
                        .filter(|n| n.status != "online")
                        .map(move |n| {
                            view! {
                                <div class="error" role="alert" data-testid="node-offline">
                                    {format!("Node {} of cluster {cluster} is offline (Proxmox VE reports it {})", n.node, n.status)}
                                </div>
                            }
                        })
                })
                .collect_view()
        })
    }
}

/// The nodes of each cluster as the last poll saw them (the stream carries nodes to unscoped
/// users only, so a scoped user sees no table).
#[component]
fn LiveNodes(view: RwSignal<LiveView>) -> impl IntoView {
    let rows = move || {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .flat_map(|cluster| {
                    let mut nodes = v.nodes(&cluster);
                    nodes.sort_by(|a, b| a.node.cmp(&b.node));
                    nodes.into_iter().map(move |n| {
                        let href = format!("/nodes/{cluster}/{}", n.node);
                        let online = n.status == "online";
                        let figure = move |text: String| if online { text } else { "-".into() };
                        view! {
                            <tr data-node=n.node.clone() data-status=n.status.clone()>
                                <td><a href=href>{n.node.clone()}</a></td>
                                <td>{cluster.clone()}</td>
                                <td class=format!("status {}", n.status)>{n.status.clone()}</td>
                                <td>{figure(format!("{} of {}", format::percent(n.cpu), n.maxcpu))}</td>
                                <td>{figure(n.load.map(|l| format!("{l:.2}")).unwrap_or_else(|| "-".into()))}</td>
                                <td>{figure(format!("{} / {}", format::bytes(n.mem), format::bytes(n.maxmem)))}</td>
                                <td>{figure(format::uptime(n.uptime))}</td>
                            </tr>
                        }
                    })
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || view.with(|v| v.clusters().iter().any(|c| !v.nodes(c).is_empty()))>
            <h2>"Nodes"</h2>
            <table class="list" data-testid="dashboard-nodes">
                <thead><tr>
                    <th>"Node"</th><th>"Cluster"</th><th>"Status"</th><th>"CPU"</th>
                    <th>"Load"</th><th>"Memory"</th><th>"Uptime"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </Show>
    }
}
