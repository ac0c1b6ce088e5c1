//! The VM list: every VM of every cluster, with filter, sort and power actions.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    components::{
        error_box::ErrorBox,
        live_status::{LiveStatus, StaleClusters},
        power::PowerButtons,
        sparkline::CpuSparkline,
        tasks::Tasks,
    },
    format,
    vms::list_vms,
    vms::{VmList, VmRow},
};

/// Columns the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Vmid,
    Name,
    Node,
    Status,
    Cpu,
    Memory,
    Uptime,
}

fn compare(key: SortKey, a: &VmRow, b: &VmRow) -> std::cmp::Ordering {
    match key {
        SortKey::Vmid => a.vmid.get().cmp(&b.vmid.get()),
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        SortKey::Node => a.node.as_str().cmp(b.node.as_str()),
        SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
        SortKey::Cpu => a.cpu.total_cmp(&b.cpu),
        SortKey::Memory => a.mem.cmp(&b.mem),
        SortKey::Uptime => a.uptime.cmp(&b.uptime),
    }
}

fn matches(row: &VmRow, needle: &str, status: &str) -> bool {
    let status_ok = match status {
        "all" | "" => true,
        wanted => row.status.as_str() == wanted,
    };
    if !status_ok {
        return false;
    }
    if needle.is_empty() {
        return true;
    }
    let needle = needle.to_lowercase();
    row.name.to_lowercase().contains(&needle)
        || row.vmid.to_string().contains(&needle)
        || row.node.as_str().to_lowercase().contains(&needle)
        || row.tags.iter().any(|t| t.to_lowercase().contains(&needle))
}

/// The VM list page.
#[component]
pub fn VmListPage() -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let tick = RwSignal::new(0u64);
    let refresh = RwSignal::new(0u64);
    // A refresh or an ended task asks PVE now (the VM's state changed); the periodic reload
    // takes the collector's poll, shared by every open list.
    let forced = StoredValue::new(0u64);
    let vms = Resource::new(
        move || (tasks.finished.get() + refresh.get(), tick.get()),
        move |(asked, _)| {
            let fresh = asked != forced.get_value();
            forced.set_value(asked);
            list_vms(fresh)
        },
    );
    // Refresh every 10 s in the browser; live streaming comes with the monitoring work.
    Effect::new(move |_| {
        let handle =
            set_interval_with_handle(move || tick.update(|n| *n += 1), Duration::from_secs(10))
                .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
    // The live stream feeds the CPU sparklines (one poll of PVE for every viewer).
    let live = RwSignal::new(crate::live::view::LiveView::new(60));
    let live_status = RwSignal::new(crate::live::view::StreamStatus::Connecting);
    #[cfg(feature = "hydrate")]
    crate::web::live_stream::connect(&crate::live::LiveViewKind::VmCpu.url(), live, live_status);
    provide_context(live);
    let filter = RwSignal::new(String::new());
    let status = RwSignal::new("all".to_string());
    let sort = RwSignal::new((SortKey::Vmid, true));
    view! {
        <h1>"Virtual machines"</h1>
        <div class="toolbar">
            <input
                type="search"
                placeholder="Filter by name, id, node or tag"
                aria-label="Filter"
                data-testid="vm-filter"
                prop:value=move || filter.get()
                on:input=move |ev| filter.set(event_target_value(&ev))
            />
            <select aria-label="Status" data-testid="status-filter" on:change=move |ev| status.set(event_target_value(&ev))>
                <option value="all">"All"</option>
                <option value="running">"Running"</option>
                <option value="paused">"Paused"</option>
                <option value="stopped">"Stopped"</option>
            </select>
            <button class="btn" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
        </div>
        <LiveStatus status=live_status carries=" — CPU sparklines, one poll of Proxmox VE per tick" />
        <StaleClusters view=live />
        <Transition fallback=|| view! { <p class="muted">"Loading virtual machines…"</p> }>
            {move || Suspend::new(async move {
                match vms.await {
                    Ok(list) => view! { <VmTable list filter status sort /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn VmTable(
    list: VmList,
    filter: RwSignal<String>,
    status: RwSignal<String>,
    sort: RwSignal<(SortKey, bool)>,
) -> impl IntoView {
    let problems = list
        .problems
        .iter()
        .map(|p| view! { <div class="error" role="alert">{format!("Cluster {}: {}", p.cluster, p.message)}</div> })
        .collect_view();
    let nodes_down = list
        .nodes_down
        .iter()
        .map(|n| {
            let text = format!(
                "Node {} of cluster {} is offline (Proxmox VE reports it {}): its VMs show no status.",
                n.node, n.cluster, n.status
            );
            view! { <div class="error" role="alert" data-testid="node-offline">{text}</div> }
        })
        .collect_view();
    let multi_cluster = list.vms.iter().any(|v| v.cluster != list.vms[0].cluster);
    let total = list.vms.len();
    let all = StoredValue::new(list.vms);
    let visible = move || {
        let needle = filter.get();
        let status = status.get();
        let (key, ascending) = sort.get();
        let mut rows: Vec<VmRow> = all.with_value(|v| {
            v.iter()
                .filter(|r| matches(r, &needle, &status))
                .cloned()
                .collect()
        });
        rows.sort_by(|a, b| {
            if ascending {
                compare(key, a, b)
            } else {
                compare(key, b, a)
            }
        });
        rows
    };
    let header = move |key: SortKey, label: &'static str| {
        let arrow = move || match sort.get() {
            (k, true) if k == key => " ▲",
            (k, false) if k == key => " ▼",
            _ => "",
        };
        view! {
            <th>
                <button class="sort" on:click=move |_| sort.update(|(k, asc)| {
                    if *k == key { *asc = !*asc } else { *k = key; *asc = true }
                })>
                    {label}{arrow}
                </button>
            </th>
        }
    };
    view! {
        {problems}
        {nodes_down}
        <table class="vms" data-testid="vm-table">
            <thead>
                <tr>
                    {header(SortKey::Vmid, "ID")}
                    {header(SortKey::Name, "Name")}
                    {header(SortKey::Node, "Node")}
                    {header(SortKey::Status, "Status")}
                    {header(SortKey::Cpu, "CPU")}
                    {header(SortKey::Memory, "Memory")}
                    {header(SortKey::Uptime, "Uptime")}
                    <th>"Recent CPU"</th>
                    <th>"Tags"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {move || visible().into_iter().map(|vm| view! { <VmRowView vm multi_cluster /> }).collect_view()}
            </tbody>
        </table>
        <p class="muted">{move || format!("{} of {total} VMs shown", visible().len())}</p>
    }
}

#[component]
fn VmRowView(vm: VmRow, multi_cluster: bool) -> impl IntoView {
    let live = expect_context::<RwSignal<crate::live::view::LiveView>>();
    let href = format!("/vms/{}/{}/{}", vm.cluster, vm.node, vm.vmid);
    let node_href = format!("/nodes/{}/{}", vm.cluster, vm.node);
    // Node pages are outside a scoped user's view: show the node's name only.
    let sees_nodes = use_context::<crate::access::Session>()
        .and_then(|s| s.user)
        .is_none_or(|u| u.scope.sees_nodes());
    let running = vm.has_process();
    let node_label = if multi_cluster {
        format!("{} / {}", vm.cluster, vm.node)
    } else {
        vm.node.to_string()
    };
    let memory = if running {
        format!("{} / {}", format::bytes(vm.mem), format::bytes(vm.maxmem))
    } else {
        format::bytes(vm.maxmem)
    };
    let cpu = if running {
        format!("{} of {}", format::percent(vm.cpu), vm.maxcpu)
    } else {
        "-".into()
    };
    let status = match (&vm.lock, vm.template) {
        (_, true) => "template".to_string(),
        (Some(lock), _) => format!("{} (lock: {lock})", vm.status),
        _ => vm.status.to_string(),
    };
    let tags = vm
        .tags
        .iter()
        .map(|t| view! { <span class="tag">{t.clone()}</span> })
        .collect_view();
    let name = vm.name.clone();
    view! {
        <tr data-vmid=vm.vmid.get() data-status=vm.status.as_str()>
            <td>{vm.vmid.get()}</td>
            <td><A href=href>{name}</A></td>
            <td>{if sees_nodes {
                view! { <A href=node_href>{node_label}</A> }.into_any()
            } else {
                node_label.into_any()
            }}</td>
            <td><span class=format!("status {}", vm.status) data-testid="vm-status">{status}</span></td>
            <td>{cpu}</td>
            <td>{memory}</td>
            <td>{format::uptime(vm.uptime)}</td>
            <td><CpuSparkline view=live cluster=vm.cluster.clone() vmid=vm.vmid.get() /></td>
            <td>{tags}</td>
            <td>
                <PowerButtons
                    cluster=vm.cluster.clone()
                    node=vm.node.to_string()
                    vmid=vm.vmid.get()
                    name=vm.name.clone()
                    state=vm.status
                    template=vm.template
                />
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(vmid: u32, name: &str, status: &str, tags: &[&str]) -> VmRow {
        VmRow {
            cluster: "c".into(),
            node: "pve1".parse().unwrap(),
            vmid: pve::ids::VmId::new(vmid).unwrap(),
            name: name.into(),
            status: pve::types::VmStatus::from_name(status),
            cpu: 0.0,
            maxcpu: 1.0,
            mem: 0,
            maxmem: 0,
            uptime: 0,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            template: false,
            lock: None,
        }
    }

    #[test]
    fn filter_matches_name_id_node_and_tags_case_insensitively() {
        let vm = row(101, "Web01", "running", &["prod"]);
        assert!(matches(&vm, "web", "all"));
        assert!(matches(&vm, "101", "all"));
        assert!(matches(&vm, "PVE1", "all"));
        assert!(matches(&vm, "prod", "all"));
        assert!(!matches(&vm, "db", "all"));
        assert!(matches(&vm, "", "running"));
        assert!(!matches(&vm, "", "stopped"));
    }

    #[test]
    fn paused_vms_are_their_own_status() {
        let vm = row(102, "db", "paused", &[]);
        assert!(matches(&vm, "", "paused"));
        assert!(
            !matches(&vm, "", "running"),
            "PVE refuses shutdown and reboot while paused"
        );
        assert!(!matches(&vm, "", "stopped"), "its process still exists");
        assert!(vm.has_process() && !vm.is_running());
    }

    #[test]
    fn sorts_by_name_ignoring_case() {
        let a = row(100, "alpha", "stopped", &[]);
        let b = row(101, "Beta", "running", &[]);
        assert_eq!(compare(SortKey::Name, &a, &b), std::cmp::Ordering::Less);
        assert_eq!(compare(SortKey::Vmid, &b, &a), std::cmp::Ordering::Greater);
    }
}
