//! "Migrate…" on a VM page (operators): PVE's precondition check, a target among the nodes
//! it allows, what goes along (local disks) and how (online or offline), one confirmation,
//! then the task in the task panel; once it has succeeded the page goes where the VM went.

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    components::{error_box::ErrorBox, tasks::Tasks},
    error::AppError,
    format,
    migration::{MigrationCheck, check_migration, migrate_vm},
};

/// Where the dialog stands.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Closed,
    Checking,
    Checked(MigrationCheck),
    Failed(AppError),
}

/// The button and, once opened, the check and the confirmation.
#[component]
pub fn MigrateButton(cluster: String, node: String, vmid: u32, template: bool) -> impl IntoView {
    let may_act = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    if !may_act || template {
        return ().into_any();
    }
    let step = RwSignal::new(Step::Closed);
    let target = StoredValue::new((cluster, node, vmid));
    let open = move |_| {
        step.set(Step::Checking);
        let (cluster, node, vmid) = target.get_value();
        leptos::task::spawn_local(async move {
            let result = check_migration(cluster, node, vmid.to_string()).await;
            step.try_set(match result {
                Ok(check) => Step::Checked(check),
                Err(error) => Step::Failed(error),
            });
        });
    };
    view! {
        <button class="btn" data-testid="migrate-open" on:click=open>"Migrate…"</button>
        {move || match step.get() {
            Step::Closed => ().into_any(),
            Step::Checking => view! { <p class="muted" data-testid="migrate-checking">"Asking Proxmox VE where the VM can go…"</p> }.into_any(),
            Step::Failed(error) => view! { <ErrorBox error /> }.into_any(),
            Step::Checked(check) => {
                let (cluster, _, vmid) = target.get_value();
                view! { <MigrateDialog cluster vmid check close=move || step.set(Step::Closed) /> }.into_any()
            }
        }}
    }
    .into_any()
}

#[component]
fn MigrateDialog(
    cluster: String,
    vmid: u32,
    check: MigrationCheck,
    close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let navigate = leptos_router::hooks::use_navigate();
    // Where the dialog was opened: the page follows the VM only if the user is still there.
    let location = leptos_router::hooks::use_location();
    let opened_on = location.pathname.get_untracked();
    let first_allowed = check
        .targets
        .iter()
        .find(|t| t.refusal.is_none())
        .map(|t| t.node.clone());
    let chosen = RwSignal::new(first_allowed.clone().unwrap_or_default());
    let problem = RwSignal::new(None::<AppError>);
    let how = if check.running {
        "Online (live) migration: the VM keeps running while its memory is copied."
    } else {
        "Offline migration: the VM is stopped and stays stopped."
    };
    let disks = check
        .local_disks
        .iter()
        .map(|(volid, size)| {
            let size = size.map(format::bytes).unwrap_or_default();
            view! { <li>{volid.clone()}" "{size}</li> }
        })
        .collect_view();
    let has_disks = !check.local_disks.is_empty();
    let options = check
        .targets
        .iter()
        .map(|t| {
            let label = match &t.refusal {
                None => t.node.clone(),
                Some(why) => format!("{} — not possible: {why}", t.node),
            };
            let selected = first_allowed.as_deref() == Some(t.node.as_str());
            view! { <option value=t.node.clone() disabled=t.refusal.is_some() selected=selected>{label}</option> }
        })
        .collect_view();
    let source = check.node.clone();
    let blocked = check.blocked.clone();
    let can_go = blocked.is_none() && first_allowed.is_some();
    let (cancel, after) = (close.clone(), close);
    let go = move |_| {
        let target = chosen.get_untracked();
        let id = tasks.add(format!("Migrate VM {vmid} to {target}"));
        let (cluster, source, navigate, after, opened_on) = (
            cluster.clone(),
            source.clone(),
            navigate.clone(),
            after.clone(),
            opened_on.clone(),
        );
        problem.set(None);
        leptos::task::spawn_local(async move {
            match migrate_vm(cluster.clone(), source, vmid.to_string(), target).await {
                Ok(started) => {
                    after();
                    let url = format!("/vms/{cluster}/{}/{vmid}", started.target);
                    tasks.follow_then(id, started.task, move || {
                        if location.pathname.try_get_untracked().as_ref() == Some(&opened_on) {
                            navigate(
                                &url,
                                leptos_router::NavigateOptions {
                                    replace: true,
                                    ..Default::default()
                                },
                            )
                        }
                    });
                }
                Err(error) => {
                    tasks.fail(id, &error);
                    problem.try_set(Some(error));
                }
            }
        });
    };
    view! {
        <div class="confirm-inline" role="dialog" aria-label="Migrate VM" data-testid="migrate-dialog">
            <strong>{format!("Migrate VM {vmid} from {}", check.node)}</strong>
            {blocked.map(|why| view! { <p class="error" role="alert" data-testid="migrate-blocked">{why}</p> })}
            {(!can_go && check.blocked.is_none()).then(|| view! {
                <p class="error" role="alert">"No node can take this VM now."</p>
            })}
            <p>{how}</p>
            {has_disks.then(|| view! {
                <p>"Local disks copied to the target node (this takes a while):"</p>
                <ul data-testid="migrate-disks">{disks}</ul>
            })}
            <label>
                "Target node "
                <select data-testid="migrate-target" on:change=move |ev| chosen.set(event_target_value(&ev))>{options}</select>
            </label>
            " "
            <button class="btn danger" data-testid="migrate-go" disabled=!can_go on:click=go>
                {move || format!("Migrate to {}", chosen.get())}
            </button>
            " "
            <button class="btn" on:click=move |_| cancel()>"Cancel"</button>
            {move || problem.get().map(|error| view! { <ErrorBox error /> })}
        </div>
    }
}
