//! `/nodes` — every node of every cluster (status, CPU, memory, uptime, PVE version, VMs) and
//! each cluster's quorum and members.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    components::error_box::ErrorBox,
    format,
    nodes::{ClusterNodes, NodeRow, list_nodes},
};

/// The node list.
#[component]
pub fn NodesPage() -> impl IntoView {
    let clusters = Resource::new(|| (), |_| list_nodes());
    view! {
        <h1>"Nodes"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading nodes…"</p> }>
            {move || Suspend::new(async move {
                match clusters.await {
                    Ok(clusters) => clusters
                        .into_iter()
                        .map(|cluster| view! { <ClusterSection cluster /> })
                        .collect_view()
                        .into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

/// One cluster: its quorum, then its nodes.
#[component]
fn ClusterSection(cluster: ClusterNodes) -> impl IntoView {
    let online = cluster
        .nodes
        .iter()
        .filter(|n| n.status == "online")
        .count();
    let quorum = match (cluster.pve_name.as_deref(), cluster.quorate) {
        _ if !cluster.status_read => {
            "Quorum unknown: the cluster status could not be read".to_owned()
        }
        (Some(name), Some(true)) => format!("PVE cluster {name}: quorate"),
        (Some(name), Some(false)) => format!(
            "PVE cluster {name}: NOT quorate — most changes are refused until a majority of nodes is back"
        ),
        (Some(name), None) => format!("PVE cluster {name}: quorum unknown"),
        (None, _) => "A single node, not in a PVE cluster".to_owned(),
    };
    let quorate = match cluster.quorate {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    };
    let name = cluster.cluster.clone();
    view! {
        <section class="cluster" data-testid="cluster" data-cluster=name.clone() data-quorate=quorate>
            <h2>{format!("Cluster {name}")}</h2>
            <p class=if cluster.quorate == Some(false) { "error" } else { "muted" } data-testid="quorum">
                {format!("{quorum}; {online} of {} nodes online", cluster.nodes.len())}
            </p>
            {cluster.problem.map(|p| view! { <p class="error" role="alert">{p}</p> })}
            <table class="list" data-testid="node-table">
                <thead><tr>
                    <th>"Node"</th><th>"Status"</th><th>"CPU"</th><th>"Memory"</th>
                    <th>"Uptime"</th><th>"PVE version"</th><th>"VMs"</th><th>"Address"</th>
                </tr></thead>
                <tbody>
                    {cluster.nodes.into_iter().map(|node| view! { <NodeLine cluster=name.clone() node /> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn NodeLine(cluster: String, node: NodeRow) -> impl IntoView {
    let href = format!("/nodes/{cluster}/{}", node.node);
    let cpu = match (node.cpu, node.maxcpu) {
        (Some(cpu), Some(max)) if node.status == "online" => {
            format!("{} of {max}", format::percent(cpu))
        }
        (_, Some(max)) => format!("{max} threads"),
        _ => "-".into(),
    };
    let memory = match (node.mem, node.maxmem) {
        (Some(used), Some(total)) if node.status == "online" => {
            format!("{} / {}", format::bytes(used), format::bytes(total))
        }
        _ => "-".into(),
    };
    let uptime = match node.uptime {
        Some(secs) if node.status == "online" => format::uptime(secs),
        _ => "-".into(),
    };
    // Corosync may still count a node whose API does not answer, or the reverse.
    let membership = match node.member_online {
        Some(false) if node.status == "online" => " (not in the quorum)",
        _ => "",
    };
    let name = node.node.clone();
    view! {
        <tr data-node=node.node.clone() data-status=node.status.clone()>
            <td><A href=href>{name}</A></td>
            <td class=format!("status {}", node.status)>{node.status.clone()}{membership}</td>
            <td>{cpu}</td>
            <td>{memory}</td>
            <td>{uptime}</td>
            <td>{node.pveversion.unwrap_or_else(|| "-".into())}</td>
            <td data-testid="node-vm-count">{node.vms}</td>
            <td>{node.ip.unwrap_or_else(|| "-".into())}</td>
        </tr>
    }
}
