//! `/wall?token=…` — the metrics wall for a large screen: node tiles and the busiest VMs,
//! dark, no interaction, live over server-sent events (the browser's EventSource reconnects
//! by itself, forever). The token is the only credential; the server checks it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    format,
    live::view::{LiveView, StreamStatus},
    live::{NodeLive, VmLive},
};

/// How many VMs the "busiest" list shows.
const BUSIEST: usize = 12;

/// The wall page.
#[component]
pub fn WallPage() -> impl IntoView {
    let token = use_query_map().with_untracked(|q| q.get("token").unwrap_or_default());
    let view = RwSignal::new(LiveView::new(2));
    let status = RwSignal::new(StreamStatus::Connecting);
    #[cfg(feature = "hydrate")]
    {
        let url = format!(
            "{}&wall={}",
            crate::live::LiveViewKind::Overview.url(),
            js_sys::encode_uri_component(&token)
        );
        crate::web::live_stream::connect(&url, view, status);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = token;
    let nodes = move || {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .flat_map(|c| v.nodes(&c).into_iter().map(move |n| (c.clone(), n)))
                .map(|(cluster, node)| view! { <NodeTile cluster node /> })
                .collect_view()
        })
    };
    let busiest = move || {
        view.with(|v| {
            let mut vms: Vec<(String, VmLive)> = v
                .clusters()
                .into_iter()
                .flat_map(|c| v.busiest(&c).into_iter().map(move |vm| (c.clone(), vm)))
                .collect();
            vms.sort_by(|a, b| b.1.point.cpu.total_cmp(&a.1.point.cpu));
            vms.truncate(BUSIEST);
            vms.into_iter()
                .map(|(_, vm)| {
                    let mem = format::ratio(vm.point.mem, vm.maxmem);
                    view! {
                        <li data-vmid=vm.vmid>
                            <span class="name">{format!("{} {}", vm.vmid, vm.name)}</span>
                            <span class="where">{vm.node.clone()}</span>
                            <Bar label="CPU" fraction=vm.point.cpu />
                            <Bar label="MEM" fraction=mem />
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let stale = move || {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .filter_map(|c| v.stale(&c).map(|(since, _)| (c, since)))
                .map(|(c, since)| view! { <p class="wall-stale">{format!("{c}: stale since {}", format::clock(since))}</p> })
                .collect_view()
        })
    };
    view! {
        <main class="wall" data-testid="wall">
            <header>
                <h1>"Cecyber"</h1>
                <span class="wall-live" data-testid="wall-status" data-state=move || format!("{:?}", status.get())
                    data-connected=move || (status.get() == StreamStatus::Live).to_string()>
                    {move || status.get().label()}
                </span>
            </header>
            {stale}
            <section class="wall-nodes" data-testid="wall-nodes">{nodes}</section>
            <h2>"Busiest VMs"</h2>
            <ol class="wall-vms" data-testid="wall-vms">{busiest}</ol>
        </main>
    }
}

#[component]
fn NodeTile(cluster: String, node: NodeLive) -> impl IntoView {
    let online = node.status == "online";
    view! {
        <article class="tile" class:offline=!online data-node=node.node.clone()>
            <h3>{node.node.clone()}</h3>
            <p class="muted">
                {format!("{cluster} · {} · up {}", node.status, format::uptime(node.uptime))}
                {node.load.map(|l| format!(" · load {l:.2}"))}
            </p>
            <Bar label="CPU" fraction=node.cpu />
            <Bar label="MEM" fraction=format::ratio(node.mem, node.maxmem) />
        </article>
    }
}

#[component]
fn Bar(label: &'static str, fraction: f64) -> impl IntoView {
    let pct = (fraction.clamp(0.0, 1.0) * 100.0).round();
    let level = if pct >= 90.0 {
        "high"
    } else if pct >= 70.0 {
        "mid"
    } else {
        "low"
    };
    view! {
        <div class=format!("bar {level}")>
            <span class="bar-label">{label}</span>
            <span class="bar-track"><span class="bar-fill" style=format!("width: {pct}%")></span></span>
            <span class="bar-value">{format!("{pct:.0}%")}</span>
        </div>
    }
}
