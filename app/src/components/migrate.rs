//! "Migrate…" on a VM page (operators): PVE's precondition check, a target among the nodes
//! it allows, what goes along (local disks, to the same storage or one of the target's) and
//! how (online or offline), one confirmation, then the task in the task panel; once it has
//! succeeded the page goes where the VM went. An HA-managed VM's migration is a request to
//! PVE's HA manager: the page then follows the HA manager's own migration task.

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    components::{error_box::ErrorBox, tasks::Tasks},
    error::AppError,
    format,
    migration::{MigrationCheck, MigrationStarted, check_migration, ha_migration_task, migrate_vm},
};

/// How long the page waits for the HA manager to start the migration it was asked for.
const HA_WAIT_SECS: u32 = 120;

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
    let usable = |t: &crate::migration::MigrationTarget| t.refusal.is_none() || t.needs_storage;
    let first_allowed = check
        .targets
        .iter()
        .find(|t| t.refusal.is_none())
        .or_else(|| check.targets.iter().find(|t| usable(t)))
        .map(|t| t.node.clone());
    let chosen = RwSignal::new(first_allowed.clone().unwrap_or_default());
    // The target storage of the local disks; empty: storages of the same names.
    let storage = RwSignal::new(String::new());
    let targets = StoredValue::new(check.targets.clone());
    let chosen_target =
        move || targets.with_value(|list| list.iter().find(|t| t.node == chosen.get()).cloned());
    let needs_storage = move || chosen_target().is_some_and(|t| t.refusal.is_some());
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
                Some(why) if t.needs_storage => format!("{} — needs a target storage ({why})", t.node),
                Some(why) => format!("{} — not possible: {why}", t.node),
            };
            let selected = first_allowed.as_deref() == Some(t.node.as_str());
            view! { <option value=t.node.clone() disabled=!usable(t) selected=selected>{label}</option> }
        })
        .collect_view();
    let source = check.node.clone();
    let blocked = check.blocked.clone();
    let can_go = blocked.is_none() && first_allowed.is_some();
    let (cancel, after) = (close.clone(), close);
    let go = move |_| {
        let target = chosen.get_untracked();
        let target_storage = storage.get_untracked();
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
            match migrate_vm(
                cluster.clone(),
                source.clone(),
                vmid.to_string(),
                target,
                target_storage,
            )
            .await
            {
                Ok(started) => {
                    after();
                    let url = format!("/vms/{cluster}/{}/{vmid}", started.target);
                    let follow_vm = move || {
                        if location.pathname.try_get_untracked().as_ref() == Some(&opened_on) {
                            navigate(
                                &url,
                                leptos_router::NavigateOptions {
                                    replace: true,
                                    ..Default::default()
                                },
                            )
                        }
                    };
                    if started.by_ha {
                        let request = started.clone();
                        tasks.follow_then(id, started.task, move || {
                            await_ha_migration(
                                tasks,
                                request.clone(),
                                source.clone(),
                                vmid,
                                follow_vm.clone(),
                            );
                        });
                    } else {
                        tasks.follow_then(id, started.task, follow_vm);
                    }
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
            {check.ha_state.clone().map(|state| view! {
                <p data-testid="migrate-ha">{format!(
                    "HA-managed (state {state}): Proxmox VE's HA manager is asked to migrate it and does so itself; this page follows its migration."
                )}</p>
            })}
            {has_disks.then(|| view! {
                <p>"Local disks copied to the target node (this takes a while):"</p>
                <ul data-testid="migrate-disks">{disks}</ul>
            })}
            // The HA manager takes no target storage.
            {(has_disks && check.ha_state.is_none()).then(|| view! {
                <label>
                    "Target storage "
                    <select data-testid="migrate-storage" on:change=move |ev| storage.set(event_target_value(&ev))>
                        {move || {
                            let same = !needs_storage();
                            let choices = chosen_target().map(|t| t.storages).unwrap_or_default();
                            // A storage of another node is not offered for this one; without
                            // "the same storages" the first of this node's is the choice.
                            let mut current = storage.get_untracked();
                            if !choices.contains(&current) {
                                current = if same {
                                    String::new()
                                } else {
                                    choices.first().cloned().unwrap_or_default()
                                };
                                storage.set(current.clone());
                            }
                            let options = choices
                                .into_iter()
                                .map(|s| {
                                    let picked = s == current;
                                    view! { <option value=s.clone() selected=picked>{s.clone()}</option> }
                                })
                                .collect_view();
                            view! {
                                <option value="" disabled=!same selected=current.is_empty()>
                                    {if same { "the same storages as now" } else { "choose one" }}
                                </option>
                                {options}
                            }
                        }}
                    </select>
                </label>
            })}
            <label>
                "Target node "
                <select data-testid="migrate-target" on:change=move |ev| chosen.set(event_target_value(&ev))>{options}</select>
            </label>
            " "
            <button class="btn danger" data-testid="migrate-go"
                disabled=move || !can_go || (needs_storage() && storage.get().is_empty())
                on:click=go>
                {move || format!("Migrate to {}", chosen.get())}
            </button>
            " "
            <button class="btn" on:click=move |_| cancel()>"Cancel"</button>
            {move || problem.get().map(|error| view! { <ErrorBox error /> })}
        </div>
    }
}

/// After the HA manager accepted the request: waits for its own migration task (asking every
/// 2 s, up to [`HA_WAIT_SECS`]), puts it in the task panel, and follows the VM once it has
/// succeeded.
fn await_ha_migration(
    tasks: Tasks,
    request: MigrationStarted,
    node: String,
    vmid: u32,
    follow_vm: impl Fn() + Clone + 'static,
) {
    let id = tasks.add(format!(
        "Migrate VM {vmid} to {} (HA manager)",
        request.target
    ));
    look_for_ha_task(tasks, id, request, node, vmid, follow_vm, 0);
}

fn look_for_ha_task(
    tasks: Tasks,
    id: u64,
    request: MigrationStarted,
    node: String,
    vmid: u32,
    follow_vm: impl Fn() + Clone + 'static,
    asked: u32,
) {
    let since = request.task.upid.starttime();
    let cluster = request.task.cluster.clone();
    leptos::task::spawn_local(async move {
        match ha_migration_task(cluster, node.clone(), vmid.to_string(), since).await {
            Ok(Some(task)) => tasks.follow_then(id, task, follow_vm),
            // Not started yet, or not answerable for a moment (Cecyber or PVE restarting, the
            // poll not yet showing the VM on its new node): asked again until the time is up.
            _ if asked * 2 < HA_WAIT_SECS => set_timeout(
                move || look_for_ha_task(tasks, id, request, node, vmid, follow_vm, asked + 1),
                std::time::Duration::from_secs(2),
            ),
            Ok(None) => tasks.fail(
                id,
                &AppError::TimedOut(format!(
                    "the HA manager did not start migrating VM {vmid} within {HA_WAIT_SECS} s; see its HA state in Proxmox VE"
                )),
            ),
            Err(error) => tasks.fail(id, &error),
        }
    });
}
