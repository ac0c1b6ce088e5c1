//! One VM's current status and its power actions.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    api::vms::vm_status,
    components::{
        error_box::ErrorBox,
        history::{History, HistoryOf},
        live_charts::LiveVmCharts,
        power::PowerButtons,
        tasks::Tasks,
    },
    format,
    model::VmDetail,
};

/// `/vms/:cluster/:node/:vmid`.
#[component]
pub fn VmDetailPage() -> impl IntoView {
    let params = use_params_map();
    let tasks = expect_context::<Tasks>();
    let detail = Resource::new(
        move || {
            let p = params.get();
            let get = |k: &str| p.get(k).unwrap_or_default();
            (
                get("cluster"),
                get("node"),
                get("vmid"),
                tasks.finished.get(),
            )
        },
        |(cluster, node, vmid, _)| vm_status(cluster, node, vmid),
    );
    view! {
        <p><a href="/">"← Virtual machines"</a></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <DetailView detail /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DetailView(detail: VmDetail) -> impl IntoView {
    let s = detail.status;
    let name = s.name.clone().unwrap_or_default();
    let vmid = s.vmid.get();
    let running = s.is_running();
    let fact =
        |label: &'static str, value: String| view! { <tr><th>{label}</th><td>{value}</td></tr> };
    let opt = |v: Option<u64>, f: fn(u64) -> String| v.map(f).unwrap_or_else(|| "-".into());
    view! {
        <h1>{format!("VM {vmid} — {name}")}</h1>
        <p>
            <span class=format!("status {}", s.status) data-testid="detail-status">{s.status.clone()}</span>
            " on "{detail.node.to_string()}" ("{detail.cluster.clone()}")"
        </p>
        <PowerButtons
            cluster=detail.cluster.clone()
            node=detail.node.to_string()
            vmid
            name=name.clone()
            running
            template=s.template
        />
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
        <LiveVmCharts cluster=detail.cluster.clone() vmid />
        <History of=HistoryOf::Vm { cluster: detail.cluster.clone(), node: detail.node.to_string(), vmid: vmid.to_string() } />
    }
}
