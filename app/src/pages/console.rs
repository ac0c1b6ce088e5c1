//! `/vms/:cluster/:node/:vmid/console` — a VM's screen, full page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{components::console::Console, console::TicketSource};

/// The console page.
#[component]
pub fn ConsolePage() -> impl IntoView {
    let params = use_params_map();
    let get = move |key: &str| params.with_untracked(|p| p.get(key).unwrap_or_default());
    let (cluster, node, vmid) = (get("cluster"), get("node"), get("vmid"));
    let back = format!("/vms/{cluster}/{node}/{vmid}");
    view! {
        <p><a href=back>"← VM "{vmid.clone()}</a></p>
        <Console source=TicketSource::Vm { cluster, node, vmid } />
    }
}
