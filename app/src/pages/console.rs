//! `/vms/:cluster/:node/:vmid/console` — a VM's screen, full page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{components::console::Console, console::TicketSource};

/// The console page.
#[component]
pub fn ConsolePage() -> impl IntoView {
    let params = use_params_map();
    // Built anew when the URL names another VM (back and forward between two consoles).
    let target = Memo::new(move |_| {
        params.with(|p| {
            let get = |key: &str| p.get(key).unwrap_or_default();
            (get("cluster"), get("node"), get("vmid"))
        })
    });
    move || {
        let (cluster, node, vmid) = target.get();
        view! { <VmConsole cluster node vmid /> }
    }
}

#[component]
fn VmConsole(cluster: String, node: String, vmid: String) -> impl IntoView {
    let back = format!("/vms/{cluster}/{node}/{vmid}");
    view! {
        <p><a href=back>"← VM "{vmid.clone()}</a></p>
        <Console source=TicketSource::Vm { cluster, node, vmid } />
    }
}
