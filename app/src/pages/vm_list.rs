//! The VM list: every VM of every cluster, one page at a time, filtered and sorted on the
//! server as the URL says (a view can be shared), with power actions per VM and bulk actions
//! on the picked ones.

use std::{sync::Arc, time::Duration};

use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    components::A,
    hooks::{use_navigate, use_query_map},
};

use crate::{
    access::{Role, Session},
    bulk::{Selection, VmPick},
    components::{
        bulk::BulkBar,
        error_box::ErrorBox,
        live_status::{LiveStatus, StaleClusters},
        power::PowerButtons,
        sparkline::CpuSparkline,
        tasks::Tasks,
    },
    format,
    vm_query::{PAGE_SIZES, SortKey, StatusFilter, VmList, VmQuery, list_vms},
    vms::VmRow,
};

/// The VM list page.
#[component]
pub fn VmListPage() -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|p| VmQuery::from_params(|k| p.get(k))));
    let navigate = use_navigate();
    // A new view replaces the URL (typing in the filter is not a page of history each).
    let go = move |view: VmQuery| {
        navigate(
            &view.href(),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        )
    };
    let tick = RwSignal::new(0u64);
    let refresh = RwSignal::new(0u64);
    // A refresh or an ended task asks PVE now (the VM's state changed); the periodic reload
    // and a new view take the collector's poll, shared by every open list.
    let forced = StoredValue::new(0u64);
    let vms = Resource::new(
        move || {
            (
                query.get(),
                tasks.finished.get() + refresh.get(),
                tick.get(),
            )
        },
        move |(view, asked, _)| {
            let fresh = asked != forced.get_value();
            forced.set_value(asked);
            list_vms(fresh, view)
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
    // The filter box keeps what is typed; the URL follows it (and back/forward set it).
    let text = RwSignal::new(query.with_untracked(|q| q.text.clone()));
    Effect::new(move |_| {
        let in_url = query.with(|q| q.text.clone());
        if in_url != text.get_untracked() {
            text.set(in_url);
        }
    });
    let selection = RwSignal::new(Selection::default());
    let may_act = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    // Set by an effect, not while rendering: the server's HTML and the first browser render
    // then agree (effects run after hydration).
    let matched = RwSignal::new(0usize);
    Effect::new(move |_| {
        let now = vms.with(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map(|l| l.matched));
        if let Some(now) = now {
            matched.set(now);
        }
    });
    let on_text = {
        let go = go.clone();
        move |ev| {
            let typed = event_target_value(&ev);
            text.set(typed.clone());
            go(VmQuery {
                text: typed,
                page: 1,
                ..query.get_untracked()
            });
        }
    };
    let on_status = {
        let go = go.clone();
        move |ev| {
            go(VmQuery {
                status: StatusFilter::parse(&event_target_value(&ev)),
                page: 1,
                ..query.get_untracked()
            })
        }
    };
    // Selected through each option's property: a `value` set on the select before its options
    // exist (tachys sets properties before children) would not stick.
    let status_options = StatusFilter::ALL
        .into_iter()
        .map(|f| {
            view! {
                <option value=f.as_str() prop:selected=move || query.with(|q| q.status == f)>
                    {f.label()}
                </option>
            }
        })
        .collect_view();
    view! {
        <h1>"Virtual machines"</h1>
        <div class="toolbar">
            <input
                type="search"
                placeholder="Filter by name, id, node, tag or pool"
                aria-label="Filter"
                data-testid="vm-filter"
                value=query.with_untracked(|q| q.text.clone())
                prop:value=move || text.get()
                on:input=on_text
            />
            <select
                aria-label="Status"
                data-testid="status-filter"
                on:change=on_status
            >
                {status_options}
            </select>
            <button class="btn" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
        </div>
        {may_act.then(|| view! {
            <BulkBar selection query=query.into() matched=matched.into() />
        })}
        <LiveStatus status=live_status carries=" — CPU sparklines, one poll of Proxmox VE per tick" />
        <StaleClusters view=live />
        <Transition fallback=|| view! { <p class="muted">"Loading virtual machines…"</p> }>
            {
                let go = go.clone();
                move || {
                    let go = go.clone();
                    Suspend::new(async move {
                        match vms.await {
                            Ok(list) => view! { <VmTable list query go selection may_act /> }.into_any(),
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                        }
                    })
                }
            }
        </Transition>
    }
}

#[component]
fn VmTable(
    list: VmList,
    query: Memo<VmQuery>,
    go: impl Fn(VmQuery) + Clone + 'static,
    selection: RwSignal<Selection>,
    may_act: bool,
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
    let view_now = query.get_untracked();
    let picks: Vec<VmPick> = list.vms.iter().map(VmPick::from).collect();
    // What was picked earlier takes the states shown now (a bulk action plans with them).
    selection.try_update(|s| s.refresh(&picks));
    // Plain shared data, not an arena value: the boxes' closures may run once more while a
    // newer page replaces this one.
    let page_picks = Arc::new(picks);
    let header = |key: SortKey, label: &'static str| {
        let go = go.clone();
        let arrow = match (view_now.sort == key, view_now.descending) {
            (true, false) => " ▲",
            (true, true) => " ▼",
            _ => "",
        };
        let aria_sort = match (view_now.sort == key, view_now.descending) {
            (true, false) => "ascending",
            (true, true) => "descending",
            _ => "none",
        };
        view! {
            <th aria-sort=aria_sort>
                <button class="sort" on:click=move |_| {
                    let now = query.get_untracked();
                    let descending = now.sort == key && !now.descending;
                    go(VmQuery { sort: key, descending, page: 1, ..now });
                }>
                    {label}{arrow}
                </button>
            </th>
        }
    };
    let page_toggle = may_act.then(|| {
        let all_picked = {
            let page = page_picks.clone();
            move || {
                !page.is_empty() && selection.with(|s| page.iter().all(|v| s.contains(&v.key())))
            }
        };
        let page = page_picks.clone();
        let toggle_all = all_picked.clone();
        view! {
            <th>
                <input
                    type="checkbox"
                    aria-label="Select the VMs of this page"
                    data-testid="select-page"
                    prop:checked=all_picked
                    on:change=move |_| {
                        let on = !toggle_all();
                        selection.update(|s| s.set_all(&page, on));
                    }
                />
            </th>
        }
    });
    let rows = list
        .vms
        .into_iter()
        .map(|vm| view! { <VmRowView vm multi_cluster selection may_act page_picks=page_picks.clone() /> })
        .collect_view();
    // The page size the answer was cut with (the server puts odd ones right).
    let shown_per_page = list.per_page;
    let first_shown = (list.page - 1) * shown_per_page + 1;
    let last_shown = first_shown + page_picks.len() - 1;
    // VMs and containers alike: PVE's word for both is guests.
    let (matched, total) = (format::count(list.matched), format::count(list.total));
    let (first, last) = (format::count(first_shown), format::count(last_shown));
    let shown = if list.matched == 0 {
        format!("Nothing matches (of {total} guests).")
    } else if list.matched == list.total {
        format!("{first}–{last} of {total} guests")
    } else {
        format!("{first}–{last} of {matched} matching ({total} guests)")
    };
    let to_page = |page: usize| VmQuery {
        page,
        ..view_now.clone()
    };
    let pager = (list.pages > 1).then(|| {
        let prev = (list.page > 1).then(|| to_page(list.page - 1).href());
        let next = (list.page < list.pages).then(|| to_page(list.page + 1).href());
        view! {
            <nav class="pager" aria-label="Pages" data-testid="pager">
                {prev.map(|href| view! { <A href=href attr:rel="prev" attr:data-testid="page-prev">"← Previous"</A> })}
                <span data-testid="page-of">{format!("Page {} of {}", list.page, list.pages)}</span>
                {next.map(|href| view! { <A href=href attr:rel="next" attr:data-testid="page-next">"Next →"</A> })}
            </nav>
        }
    });
    let per_page = {
        let go = go.clone();
        let options = PAGE_SIZES
            .into_iter()
            .map(|n| {
                view! {
                    <option value=n.to_string() selected=n == shown_per_page prop:selected=n == shown_per_page>
                        {format!("{n} per page")}
                    </option>
                }
            })
            .collect_view();
        view! {
            <select
                aria-label="Rows per page"
                data-testid="per-page"
                on:change=move |ev| {
                    let per_page = event_target_value(&ev).parse().unwrap_or(PAGE_SIZES[0]);
                    go(VmQuery { per_page, page: 1, ..query.get_untracked() });
                }
            >
                {options}
            </select>
        }
    };
    view! {
        {problems}
        {nodes_down}
        <table class="vms" data-testid="vm-table">
            <thead>
                <tr>
                    {page_toggle}
                    {header(SortKey::Vmid, "ID")}
                    {header(SortKey::Name, "Name")}
                    {header(SortKey::Node, "Node")}
                    {header(SortKey::Status, "Status")}
                    {header(SortKey::Cpu, "CPU")}
                    {header(SortKey::Memory, "Memory")}
                    {header(SortKey::Uptime, "Uptime")}
                    <th>"Recent CPU"</th>
                    {header(SortKey::Ha, "HA")}
                    {header(SortKey::Pool, "Pool")}
                    <th>"Tags"</th>
                    <th>"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <div class="toolbar list-foot">
            <p class="muted" data-testid="vm-count">{shown}</p>
            {pager}
            {per_page}
        </div>
    }
    .into_any()
}

#[component]
fn VmRowView(
    vm: VmRow,
    multi_cluster: bool,
    selection: RwSignal<Selection>,
    may_act: bool,
    page_picks: Arc<Vec<VmPick>>,
) -> impl IntoView {
    let live = expect_context::<RwSignal<crate::live::view::LiveView>>();
    let href = format!("/vms/{}/{}/{}", vm.cluster, vm.node, vm.vmid);
    let node_href = format!("/nodes/{}/{}", vm.cluster, vm.node);
    // Node pages are outside a scoped user's view: show the node's name only.
    let sees_nodes = use_context::<Session>()
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
    let pick_box = may_act.then(|| {
        let pick = VmPick::from(&vm);
        let key = pick.key();
        let label = format!("Select VM {}", pick.label());
        view! {
            <td>
                <input
                    type="checkbox"
                    aria-label=label
                    data-testid="select-vm"
                    prop:checked=move || selection.with(|s| s.contains(&key))
                    on:click=move |ev| {
                        let shift = ev.shift_key();
                        selection.update(|s| s.click(&pick, shift, &page_picks));
                    }
                />
            </td>
        }
    });
    // Containers have no page of their own yet: their name, marked as a container.
    let name_cell = match vm.kind {
        pve::types::GuestKind::Qemu => view! { <A href=href>{name}</A> }.into_any(),
        pve::types::GuestKind::Lxc => view! {
            <span>{name}</span>" "<abbr class="tag kind" title="LXC container">"CT"</abbr>
        }
        .into_any(),
    };
    let ha = vm.hastate.clone().unwrap_or_default();
    let ha_class = if ha == "error" { "status error" } else { "" };
    let pool = vm.pool.clone().unwrap_or_default();
    view! {
        <tr data-vmid=vm.vmid.get() data-status=vm.status.as_str() data-kind=vm.kind.as_str()>
            {pick_box}
            <td>{vm.vmid.get()}</td>
            <td data-testid="vm-name">{name_cell}</td>
            <td data-testid="vm-node">{if sees_nodes {
                view! { <A href=node_href>{node_label}</A> }.into_any()
            } else {
                node_label.into_any()
            }}</td>
            <td><span class=format!("status {}", vm.status) data-testid="vm-status">{status}</span></td>
            <td>{cpu}</td>
            <td>{memory}</td>
            <td>{format::uptime(vm.uptime)}</td>
            <td><CpuSparkline view=live cluster=vm.cluster.clone() vmid=vm.vmid.get() /></td>
            <td><span class=ha_class data-testid="vm-ha">{ha}</span></td>
            <td data-testid="vm-pool">{pool}</td>
            <td>{tags}</td>
            <td>
                <PowerButtons
                    cluster=vm.cluster.clone()
                    node=vm.node.to_string()
                    vmid=vm.vmid.get()
                    name=vm.name.clone()
                    state=vm.status
                    template=vm.template
                    kind=vm.kind
                />
            </td>
        </tr>
    }
}
