//! `/nodes/:cluster/:node` — a node: versions, CPU, load, memory, root disk, storages, its VMs,
//! history.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    components::{
        error_box::ErrorBox,
        history::{History, HistoryOf},
        live_charts::LiveNodeCharts,
    },
    format,
    nodes::{NodeOverview, load_node_overview},
    vms::VmRow,
};

/// `/nodes/:cluster/:node`: built anew when the URL names another node (back and forward
/// between two node pages), so that its resource is created at the top of a component (see
/// the rules in [`crate::pages`]).
#[component]
pub fn NodePage() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| {
        params.with(|p| {
            (
                p.get("cluster").unwrap_or_default(),
                p.get("node").unwrap_or_default(),
            )
        })
    });
    move || {
        let (cluster, node) = target.get();
        view! { <NodeView cluster node /> }
    }
}

#[component]
fn NodeView(cluster: String, node: String) -> impl IntoView {
    let overview = Resource::new(
        {
            let (cluster, node) = (cluster.clone(), node.clone());
            move || (cluster.clone(), node.clone())
        },
        |(cluster, node)| load_node_overview(cluster, node),
    );
    view! {
        <p><a href="/nodes">"← Nodes"</a></p>
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
    .into_any()
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
    let vms = overview.vms.len();
    let others = overview
        .other_nodes
        .iter()
        .map(|other| {
            let href = format!("/nodes/{}/{other}", overview.cluster);
            view! { " " <a href=href>{other.clone()}</a> }
        })
        .collect_view();
    view! {
        <p class="muted" data-testid="other-nodes">"Other nodes of the cluster:"{others}</p>
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
        <h2>{format!("VMs on this node ({vms})")}</h2>
        <NodeVms vms=overview.vms />
    }
}

/// The node's VMs: each links to its page.
#[component]
fn NodeVms(vms: Vec<VmRow>) -> impl IntoView {
    if vms.is_empty() {
        return view! { <p class="muted" data-testid="node-vms">"No VMs on this node."</p> }
            .into_any();
    }
    let rows = vms
        .into_iter()
        .map(|vm| {
            let href = format!("/vms/{}/{}/{}", vm.cluster, vm.node, vm.vmid);
            let memory = if vm.has_process() {
                format!("{} / {}", format::bytes(vm.mem), format::bytes(vm.maxmem))
            } else {
                format::bytes(vm.maxmem)
            };
            // Containers have no page of their own yet.
            let name = match vm.kind {
                pve::types::GuestKind::Qemu => view! { <a href=href>{vm.name.clone()}</a> }.into_any(),
                pve::types::GuestKind::Lxc => view! {
                    <span>{vm.name.clone()}</span>" "<abbr class="tag kind" title="LXC container">"CT"</abbr>
                }
                .into_any(),
            };
            view! {
                <tr data-vmid=vm.vmid.get() data-kind=vm.kind.as_str()>
                    <td>{vm.vmid.get()}</td>
                    <td>{name}</td>
                    <td class=format!("status {}", vm.status.as_str())>{vm.status.as_str()}</td>
                    <td>{format::percent(vm.cpu)}" of "{vm.maxcpu}" vCPU"</td>
                    <td>{memory}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list" data-testid="node-vms">
            <thead><tr><th>"ID"</th><th>"Name"</th><th>"Status"</th><th>"CPU"</th><th>"Memory"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
