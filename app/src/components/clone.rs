//! "Clone…" on a VM page (operators): the form filled with PVE's next free id and the source's
//! name, full or linked (templates), target node and storage; the task goes to the task panel
//! and, once it has succeeded, the page opens the new VM.

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    cloning::{CloneChoices, CloneForm, clone_options, clone_vm},
    components::{error_box::ErrorBox, tasks::Tasks},
    error::AppError,
};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Closed,
    Loading,
    Ready(CloneChoices),
    Failed(AppError),
}

/// The button and, once opened, the form.
#[component]
pub fn CloneButton(cluster: String, node: String, vmid: u32) -> impl IntoView {
    let may_act = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    if !may_act {
        return ().into_any();
    }
    let step = RwSignal::new(Step::Closed);
    let source = StoredValue::new((cluster, node, vmid));
    let open = move |_| {
        step.set(Step::Loading);
        let (cluster, node, vmid) = source.get_value();
        leptos::task::spawn_local(async move {
            let result = clone_options(cluster, node, vmid.to_string()).await;
            step.try_set(match result {
                Ok(options) => Step::Ready(options),
                Err(error) => Step::Failed(error),
            });
        });
    };
    view! {
        <button class="btn" data-testid="clone-open" on:click=open>"Clone…"</button>
        {move || match step.get() {
            Step::Closed => ().into_any(),
            Step::Loading => view! { <p class="muted">"Asking Proxmox VE for a free VM id…"</p> }.into_any(),
            Step::Failed(error) => view! { <ErrorBox error /> }.into_any(),
            Step::Ready(options) => {
                let (cluster, _, vmid) = source.get_value();
                view! { <CloneDialog cluster vmid options close=move || step.set(Step::Closed) /> }.into_any()
            }
        }}
    }
    .into_any()
}

#[component]
fn CloneDialog(
    cluster: String,
    vmid: u32,
    options: CloneChoices,
    close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let navigate = leptos_router::hooks::use_navigate();
    // Where the dialog was opened: the page follows the VM only if the user is still there.
    let location = leptos_router::hooks::use_location();
    let opened_on = location.pathname.get_untracked();
    let newid = RwSignal::new(options.next_id.to_string());
    let name = RwSignal::new(format!("{}-clone", options.name));
    // PVE clones a template linked by default and anything else in full.
    let full = RwSignal::new(!options.template);
    let target = RwSignal::new(options.node.clone());
    let storage = RwSignal::new(String::new());
    let pool = RwSignal::new(String::new());
    let pools = options.pools.clone();
    let problem = RwSignal::new(None::<AppError>);
    let source_node = options.node.clone();
    let node_options = options
        .nodes
        .iter()
        .map(|n| {
            let label = if *n == options.node {
                format!("{n} (same node)")
            } else {
                n.clone()
            };
            view! { <option value=n.clone() selected=*n == options.node>{label}</option> }
        })
        .collect_view();
    let storages = StoredValue::new(options.storages.clone());
    let template = options.template;
    let (cancel, after) = (close.clone(), close);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = CloneForm {
            newid: newid.get_untracked(),
            name: name.get_untracked(),
            full: full.get_untracked(),
            target: target.get_untracked(),
            storage: if full.get_untracked() {
                storage.get_untracked()
            } else {
                String::new()
            },
            pool: pool.get_untracked(),
        };
        let label = format!("Clone VM {vmid} to {}", form.newid.trim());
        let new_vm = form.newid.trim().to_owned();
        let target_node = if form.target.is_empty() {
            source_node.clone()
        } else {
            form.target.clone()
        };
        let (cluster, source_node, navigate, after, opened_on) = (
            cluster.clone(),
            source_node.clone(),
            navigate.clone(),
            after.clone(),
            opened_on.clone(),
        );
        problem.set(None);
        leptos::task::spawn_local(async move {
            // Refused input keeps the dialog open, with what was typed.
            match clone_vm(cluster.clone(), source_node, vmid.to_string(), form).await {
                Ok(task) => {
                    after();
                    let id = tasks.add(label);
                    let url = format!("/vms/{cluster}/{target_node}/{new_vm}");
                    tasks.follow_then(id, task, move || {
                        if location.pathname.try_get_untracked().as_ref() == Some(&opened_on) {
                            navigate(&url, Default::default())
                        }
                    });
                }
                Err(error) => {
                    problem.try_set(Some(error));
                }
            }
        });
    };
    view! {
        <form class="confirm-inline" aria-label="Clone VM" data-testid="clone-dialog" on:submit=submit>
            <strong>{format!("Clone VM {vmid}")}</strong>
            <label>" New VM id "<input data-testid="clone-newid" prop:value=move || newid.get() on:input=move |ev| newid.set(event_target_value(&ev)) /></label>
            <label>" Name "<input data-testid="clone-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) /></label>
            <label>
                <input type="checkbox" data-testid="clone-full" disabled=!template prop:checked=move || full.get() on:change=move |ev| full.set(event_target_checked(&ev)) />
                {if template { " Full copy (else linked to the template)" } else { " Full copy (PVE links clones of templates only)" }}
            </label>
            <label>" Target node "<select data-testid="clone-target" on:change=move |ev| target.set(event_target_value(&ev))>{node_options}</select></label>
            <Show when=move || full.get()>
                <label>" Storage "<select data-testid="clone-storage" prop:value=move || storage.get() on:change=move |ev| storage.set(event_target_value(&ev))>
                    <option value="">"Same as the source"</option>
                    {storages.get_value().into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                </select></label>
            </Show>
            {(!pools.is_empty()).then(|| view! {
                <label>" Pool "<select data-testid="clone-pool" on:change=move |ev| pool.set(event_target_value(&ev))>
                    <option value="" selected>"None"</option>
                    {pools.iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
                </select></label>
            })}
            " "
            <button class="btn" type="submit" data-testid="clone-go">"Clone"</button>
            " "
            <button class="btn" type="button" on:click=move |_| cancel()>"Cancel"</button>
            {move || problem.get().map(|error| view! { <ErrorBox error /> })}
        </form>
    }
}
