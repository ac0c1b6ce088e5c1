//! One VM: its current status and power actions, live charts and history.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    components::{
        clone::CloneButton,
        devices::{DeviceDraft, DevicePanel},
        error_box::ErrorBox,
        hardware::{HardwareDraft, HardwarePanel, HardwareTarget},
        history::{History, HistoryOf},
        live_charts::LiveVmCharts,
        migrate::MigrateButton,
        power::PowerButtons,
        snapshots::{SnapshotDraft, SnapshotPanel, SnapshotTarget},
        tasks::Tasks,
    },
    format,
    snapshots::list_snapshots,
    vm_config::load_vm_config,
    vms::VmDetail,
    vms::vm_status,
};

/// The VM a page shows, as its URL names it.
#[derive(Debug, Clone, PartialEq)]
struct VmTarget {
    cluster: String,
    node: String,
    vmid: String,
}

/// `/vms/:cluster/:node/:vmid`: built anew when the URL names another VM, so that its resource
/// is created at the top of a component (see the rules in [`crate::pages`]).
#[component]
pub fn VmDetailPage() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| {
        params.with(|p| {
            let get = |k: &str| p.get(k).unwrap_or_default();
            VmTarget {
                cluster: get("cluster"),
                node: get("node"),
                vmid: get("vmid"),
            }
        })
    });
    move || view! { <VmPage target=target.get() /> }
}

/// The status (loaded on the server, reloaded when a task ends), then the live charts and the
/// history, which only the browser loads.
#[component]
fn VmPage(target: VmTarget) -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let detail = Resource::new(move || tasks.finished.get(), {
        let target = target.clone();
        move |_| {
            vm_status(
                target.cluster.clone(),
                target.node.clone(),
                target.vmid.clone(),
            )
        }
    });
    let snapshots = Resource::new(move || tasks.finished.get(), {
        let target = target.clone();
        move |_| {
            list_snapshots(
                target.cluster.clone(),
                target.node.clone(),
                target.vmid.clone(),
            )
        }
    });
    let snapshot_target = target.vmid.parse::<u32>().ok().map(|vmid| SnapshotTarget {
        cluster: target.cluster.clone(),
        node: target.node.clone(),
        vmid,
    });
    let draft = SnapshotDraft::new();
    let hardware_reload = RwSignal::new(0u64);
    let hardware = Resource::new(move || (tasks.finished.get(), hardware_reload.get()), {
        let target = target.clone();
        move |_| {
            load_vm_config(
                target.cluster.clone(),
                target.node.clone(),
                target.vmid.clone(),
            )
        }
    });
    let hardware_draft = HardwareDraft::new();
    let device_draft = DeviceDraft::new();
    let hardware_target = snapshot_target.clone();
    let target_node = target.node.clone();
    // The charts show once the VM is known to exist (a missing VM has its one error above),
    // and stay put while the status reloads. Set by an effect, not while rendering: effects
    // run only in the browser and after hydration, so the server's HTML (no charts) and the
    // first browser render agree however fast the status loaded on the server.
    let vm_shown = RwSignal::new(false);
    Effect::new(move |_| {
        let shown = detail.with(|d| d.as_ref().map(Result::is_ok));
        if let Some(shown) = shown
            && vm_shown.get_untracked() != shown
        {
            vm_shown.set(shown);
        }
    });
    let charts = target.vmid.parse::<u32>().ok().map(|vmid| {
        let VmTarget { cluster, node, .. } = target.clone();
        view! {
            <Show when=move || vm_shown.get()>
                {
                    let (cluster, node) = (cluster.clone(), node.clone());
                    view! {
                        <LiveVmCharts cluster=cluster.clone() vmid />
                        <History of=HistoryOf::Vm { cluster, node, vmid: vmid.to_string() } />
                    }
                    .into_any()
                }
            </Show>
        }
    });
    view! {
        <p><a href="/">"← Virtual machines"</a></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let target_node = target_node.clone();
                Suspend::new(async move {
                match detail.await {
                    Ok(detail) => {
                        follow_to(&detail, &target_node);
                        view! { <DetailView detail /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading the hardware…"</p> }>
            {move || {
                let target = hardware_target.clone();
                Suspend::new(async move {
                    // A VM that cannot be shown (gone, out of scope) has its one error above.
                    let Ok(detail) = detail.await else {
                        return ().into_any();
                    };
                    match (hardware.await, target) {
                        (Ok(config), Some(t)) => {
                            let target = HardwareTarget {
                                cluster: t.cluster,
                                node: t.node,
                                vmid: t.vmid,
                                running: detail.status.is_running(),
                            };
                            view! {
                                <HardwarePanel target=target.clone() config=config.clone() draft=hardware_draft reload=hardware_reload />
                                <DevicePanel target config draft=hardware_draft devices=device_draft reload=hardware_reload />
                            }
                            .into_any()
                        }
                        (Err(error), _) => view! { <ErrorBox error /> }.into_any(),
                        (Ok(_), None) => ().into_any(),
                    }
                })
            }}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading snapshots…"</p> }>
            {move || {
                let target = snapshot_target.clone();
                Suspend::new(async move {
                    // A VM that cannot be shown (gone, out of scope) has its one error above.
                    if detail.await.is_err() {
                        return ().into_any();
                    }
                    match (snapshots.await, target) {
                        (Ok(list), Some(target)) => view! { <SnapshotPanel target list draft /> }.into_any(),
                        (Err(error), _) => view! { <ErrorBox error /> }.into_any(),
                        (Ok(_), None) => ().into_any(),
                    }
                })
            }}
        </Transition>
        {charts}
    }
    // The view's type is deep enough to overflow the compiler's limits once nested again.
    .into_any()
}

/// A VM found on another node than its URL names (migrated since the link was made): the URL
/// is replaced by the VM's own, in the browser.
fn follow_to(detail: &VmDetail, url_node: &str) {
    if detail.node.as_str() == url_node {
        return;
    }
    let url = format!(
        "/vms/{}/{}/{}",
        detail.cluster,
        detail.node,
        detail.status.vmid.get()
    );
    // After this render: navigating rebuilds the page.
    #[cfg(feature = "hydrate")]
    {
        let navigate = leptos_router::hooks::use_navigate();
        request_animation_frame(move || {
            navigate(
                &url,
                leptos_router::NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            )
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

#[component]
fn DetailView(detail: VmDetail) -> impl IntoView {
    let s = detail.status;
    let name = s.name.clone().unwrap_or_default();
    let vmid = s.vmid.get();
    let running = s.is_running();
    let state = s.power_state();
    let fact =
        |label: &'static str, value: String| view! { <tr><th>{label}</th><td>{value}</td></tr> };
    let opt = |v: Option<u64>, f: fn(u64) -> String| v.map(f).unwrap_or_else(|| "-".into());
    view! {
        <h1>{format!("VM {vmid} — {name}")}</h1>
        <p>
            <span class=format!("status {state}") data-testid="detail-status">{state.as_str()}</span>
            " on "{detail.node.to_string()}" ("{detail.cluster.clone()}")"
        </p>
        <PowerButtons
            cluster=detail.cluster.clone()
            node=detail.node.to_string()
            vmid
            name=name.clone()
            state
            template=s.template
        />
        <MigrateButton cluster=detail.cluster.clone() node=detail.node.to_string() vmid template=s.template />
        <CloneButton cluster=detail.cluster.clone() node=detail.node.to_string() vmid />
        <table class="facts"><tbody>
            {fact("QEMU status", s.qmpstatus.clone().unwrap_or_else(|| "-".into()))}
            {fact("Uptime", format::uptime(s.uptime.unwrap_or(0)))}
            {fact("CPU", match (s.cpu, s.cpus) {
                (Some(cpu), Some(cpus)) if running => format!("{} of {cpus} vCPU", format::percent(cpu)),
                (_, Some(cpus)) => format!("{cpus} vCPU"),
                _ => "-".into(),
            })}
            {fact("Memory", format!("{} / {}", opt(s.mem, format::bytes), opt(s.maxmem, format::bytes)))}
            {fact("Boot disk size", opt(s.maxdisk, format::bytes))}
            {fact("Network in / out", format!("{} / {}", opt(s.netin, format::bytes), opt(s.netout, format::bytes)))}
            {fact("Disk read / write", format!("{} / {}", opt(s.diskread, format::bytes), opt(s.diskwrite, format::bytes)))}
            {fact("Lock", s.lock.clone().unwrap_or_else(|| "-".into()))}
            {fact("Tags", s.tags.clone().unwrap_or_else(|| "-".into()))}
            {fact("Running QEMU", s.running_qemu.clone().unwrap_or_else(|| "-".into()))}
            {fact("Machine", s.running_machine.clone().unwrap_or_else(|| "-".into()))}
            {fact("PID", s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()))}
        </tbody></table>
    }
}
