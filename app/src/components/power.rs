//! Power buttons for a VM and the confirmation asked before destructive actions.

use leptos::prelude::*;
use pve::types::{GuestKind, PowerAction, VmStatus};

use crate::{
    access::{Role, Session},
    components::tasks::Tasks,
    vms::{guest_label, power_action},
};

/// A power action the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerRequest {
    /// Cluster name.
    pub cluster: String,
    /// Node name.
    pub node: String,
    /// VM id.
    pub vmid: u32,
    /// `VM 100 (web01)` or `CT 200 (nginx)`, for messages.
    pub vm_label: String,
    /// What to do.
    pub action: PowerAction,
}

/// The request waiting for confirmation, shared through context.
#[derive(Clone, Copy)]
struct PendingConfirm(RwSignal<Option<PowerRequest>>);

/// Makes the confirmation state available to the buttons and the dialog below the caller.
pub fn provide_confirmation() {
    provide_context(PendingConfirm(RwSignal::new(None)));
}

fn pending() -> PendingConfirm {
    expect_context::<PendingConfirm>()
}

/// Sends the request and puts its task in the task panel.
fn run(tasks: Tasks, request: PowerRequest) {
    let id = tasks.add(format!("{} {}", request.action.label(), request.vm_label));
    leptos::task::spawn_local(async move {
        let result = power_action(
            request.cluster,
            request.node,
            request.vmid.to_string(),
            request.action.path_segment().to_string(),
        )
        .await;
        match result {
            Ok(task) => tasks.follow(id, task),
            Err(err) => tasks.fail(id, &err),
        }
    });
}

pub(crate) fn consequence(action: PowerAction) -> &'static str {
    match action {
        PowerAction::Stop => {
            "The VM is killed at once, like pulling the plug. Unsaved data in the guest is lost."
        }
        PowerAction::Shutdown => "The guest OS is asked to shut down (ACPI or guest agent).",
        PowerAction::Reboot => "The guest OS is asked to reboot.",
        PowerAction::Suspend => {
            "The VM is paused: the guest stops running, with its memory kept, until it is resumed."
        }
        _ => "",
    }
}

/// Buttons for the actions PVE accepts in the guest's `state` (a paused VM: Resume and Stop;
/// a container: no pause); nothing for users without the operator role (the server checks
/// the role again — hiding is only a convenience).
#[component]
pub fn PowerButtons(
    cluster: String,
    node: String,
    vmid: u32,
    name: String,
    state: VmStatus,
    template: bool,
    /// VM (the default) or container.
    #[prop(optional)]
    kind: GuestKind,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let tasks = expect_context::<Tasks>();
    let pending = pending();
    let may_act = session
        .user
        .as_ref()
        .is_some_and(|u| u.role.allows(Role::Operator));
    if !may_act || template {
        return ().into_any();
    }
    let actions = match kind {
        GuestKind::Qemu => PowerAction::applicable(state),
        GuestKind::Lxc => PowerAction::applicable_to_container(state),
    };
    let vm_label = guest_label(kind, vmid, &name);
    let buttons = actions
        .iter()
        .map(|&action| {
            let request = PowerRequest {
                cluster: cluster.clone(),
                node: node.clone(),
                vmid,
                vm_label: vm_label.clone(),
                action,
            };
            view! {
                <button
                    class=button_class(action)
                    data-action=action.path_segment()
                    on:click=move |_| {
                        if request.action.is_destructive() {
                            pending.0.set(Some(request.clone()));
                        } else {
                            run(tasks, request.clone());
                        }
                    }
                >
                    {action.label()}
                </button>
            }
        })
        .collect_view();
    // The console is a VM's screen (noVNC); a container's terminal is not offered yet.
    let has_screen =
        kind == GuestKind::Qemu && matches!(state, VmStatus::Running | VmStatus::Paused);
    let console = has_screen.then(|| {
        let href = format!("/vms/{cluster}/{node}/{vmid}/console");
        view! { <a class="btn" data-action="console" href=href>"Console"</a> }
    });
    view! { <span class="power">{buttons}{console}</span> }.into_any()
}

/// A power button's classes: destructive actions look dangerous.
pub(crate) fn button_class(action: PowerAction) -> &'static str {
    if action.is_destructive() {
        "btn danger"
    } else {
        "btn"
    }
}

/// The confirmation dialog for destructive actions.
#[component]
pub fn ConfirmDialog() -> impl IntoView {
    let pending = pending();
    let tasks = expect_context::<Tasks>();
    move || {
        pending.0.get().map(|request| {
            let confirm = request.clone();
            view! {
                <div class="modal-backdrop">
                    <div class="modal" role="dialog" aria-modal="true" data-testid="confirm-dialog">
                        <h2>{format!("{} {}?", request.action.label(), request.vm_label)}</h2>
                        <p>{consequence(request.action)}</p>
                        <div class="actions">
                            <button class="btn" on:click=move |_| pending.0.set(None)>"Cancel"</button>
                            <button
                                class="btn danger"
                                data-testid="confirm"
                                on:click=move |_| {
                                    pending.0.set(None);
                                    run(tasks, confirm.clone());
                                }
                            >
                                {request.action.label()}
                            </button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}
