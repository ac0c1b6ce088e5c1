//! `/nodes/:cluster/:node` — a node: versions, CPU, load, memory, root disk, storages, history.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    components::{
        error_box::ErrorBox,
        history::{History, HistoryOf},
        live_charts::LiveNodeCharts,
    },
    format,
    metrics::NodeOverview,
    metrics::load_node_overview,
};

/// The node page.
#[component]
pub fn NodePage() -> impl IntoView {
    let params = use_params_map();
    let get = move |key: &str| params.with_untracked(|p| p.get(key).unwrap_or_default());
    let (cluster, node) = (get("cluster"), get("node"));
    let overview = Resource::new(
        {
            let (cluster, node) = (cluster.clone(), node.clone());
            move || (cluster.clone(), node.clone())
        },
        |(cluster, node)| load_node_overview(cluster, node),
    );
    view! {
        <p><a href="/">"← Virtual machines"</a></p>
        <h1>{format!("Node {node}")}</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <NodeFacts overview /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        <LiveNodeCharts cluster=cluster.clone() node=node.clone() />
        <History of=HistoryOf::Node { cluster, node } />
    }
}

#[component]
fn NodeFacts(overview: NodeOverview) -> impl IntoView {
    let s = overview.status;
    let fact =
        |label: &'static str, value: String| view! { <tr><th>{label}</th><td>{value}</td></tr> };
    let used = |used: Option<u64>, total: Option<u64>| match (used, total) {
        (Some(u), Some(t)) => format!(
            "{} of {} ({})",
            format::bytes(u),
            format::bytes(t),
            format::percent(format::ratio(u, t))
        ),
        _ => "-".into(),
    };
    let cpu_model = s.cpuinfo.model.clone().unwrap_or_else(|| "-".into());
    let cpus = match (s.cpuinfo.cpus, s.cpuinfo.sockets) {
        (Some(cpus), Some(sockets)) => format!("{cpus} threads, {sockets} socket(s)"),
        (Some(cpus), None) => format!("{cpus} threads"),
        _ => "-".into(),
    };
    let load = s
        .loadavg
        .iter()
        .map(|l| format!("{l:.2}"))
        .collect::<Vec<_>>()
        .join(" / ");
    let kernel = s
        .current_kernel
        .as_ref()
        .and_then(|k| k.release.clone())
        .or_else(|| s.kversion.clone())
        .unwrap_or_else(|| "-".into());
    let storages = overview
        .storages
        .iter()
        .map(|st| {
            let fraction = format::ratio(st.used.unwrap_or(0), st.total.unwrap_or(0));
            view! {
                <tr data-storage=st.storage.clone()>
                    <td>{st.storage.clone()}</td>
                    <td>{st.kind.clone()}</td>
                    <td>{st.content.clone()}</td>
                    <td>
                        <meter min="0" max="1" low="0.75" high="0.9" optimum="0.2" value=fraction></meter>
                        " "{used(st.used, st.total)}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="facts" data-testid="node-facts"><tbody>
            {fact("PVE version", s.pveversion.clone().unwrap_or_else(|| "-".into()))}
            {fact("Kernel", kernel)}
            {fact("CPU model", cpu_model)}
            {fact("CPUs", cpus)}
            {fact("CPU use", s.cpu.map(format::percent).unwrap_or_else(|| "-".into()))}
            {fact("Load average", if load.is_empty() { "-".into() } else { load })}
            {fact("Uptime", format::uptime(s.uptime.unwrap_or(0)))}
            {fact("Memory", used(s.memory.used, s.memory.total))}
            {fact("Swap", used(s.swap.used, s.swap.total))}
            {fact("Root disk", used(s.rootfs.used, s.rootfs.total))}
        </tbody></table>
        <h2>"Storages"</h2>
        <table class="storages" data-testid="node-storages">
            <thead><tr><th>"Storage"</th><th>"Type"</th><th>"Content"</th><th>"Usage"</th></tr></thead>
            <tbody>{storages}</tbody>
        </table>
    }
}
