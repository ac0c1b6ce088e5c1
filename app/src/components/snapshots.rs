//! The snapshot panel of a VM page: the tree, and (operators) take, roll back to, delete —
//! the last two confirmed inline, naming what is lost. Each action's task goes to the task
//! panel, which follows it with its whole log; the list reloads when a task ends.

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    components::{error_box::ErrorBox, tasks::Tasks},
    error::AppError,
    format,
    snapshots::{SnapshotList, SnapshotRow, create_snapshot, delete_snapshot, rollback_snapshot},
    vms::TaskRef,
};

/// The VM the panel acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotTarget {
    /// Cluster name.
    pub cluster: String,
    /// Node (as the page knows it; the server looks the VM up).
    pub node: String,
    /// VM id.
    pub vmid: u32,
}

/// What the user typed or opened in the panel, kept by the page: the panel is built anew
/// whenever the list reloads (any task ending), and must not lose it.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotDraft {
    name: RwSignal<String>,
    description: RwSignal<String>,
    with_ram: RwSignal<bool>,
    pending: RwSignal<Option<Pending>>,
    problem: RwSignal<Option<AppError>>,
}

impl SnapshotDraft {
    /// Nothing typed yet.
    pub fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            description: RwSignal::new(String::new()),
            with_ram: RwSignal::new(false),
            pending: RwSignal::new(None),
            problem: RwSignal::new(None),
        }
    }
}

impl Default for SnapshotDraft {
    fn default() -> Self {
        Self::new()
    }
}

/// What the user is about to confirm.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Rollback(SnapshotRow),
    Delete(SnapshotRow),
}

/// Puts a request's task in the task panel; the error of a refused request also shows in
/// `problem`, next to the form that sent it.
fn send(
    tasks: Tasks,
    label: String,
    problem: RwSignal<Option<AppError>>,
    request: impl Future<Output = Result<TaskRef, AppError>> + 'static,
    on_sent: impl FnOnce() + 'static,
) {
    let id = tasks.add(label);
    problem.set(None);
    leptos::task::spawn_local(async move {
        match request.await {
            Ok(task) => {
                on_sent();
                tasks.follow(id, task);
            }
            Err(error) => {
                tasks.fail(id, &error);
                problem.set(Some(error));
            }
        }
    });
}

/// The panel, for a loaded list.
#[component]
pub fn SnapshotPanel(
    target: SnapshotTarget,
    list: SnapshotList,
    draft: SnapshotDraft,
) -> impl IntoView {
    let may_act = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    let SnapshotDraft {
        problem, pending, ..
    } = draft;
    let target = StoredValue::new(target);
    let count = list.snapshots.len();
    let rows = list
        .tree()
        .into_iter()
        .map(|(depth, row)| {
            let indent = format!("padding-left: {}rem", 0.5 + depth as f64 * 1.25);
            match row {
                None => view! {
                    <tr class="snapshot-current" data-testid="snapshot-now">
                        <td style=indent>"● Now (the VM's present state)"</td>
                        <td></td><td></td><td></td><td></td>
                    </tr>
                }
                .into_any(),
                Some(row) => {
                    let row = row.clone();
                    view! { <SnapshotLine row indent may_act pending /> }.into_any()
                }
            }
        })
        .collect_view();
    view! {
        <section class="snapshots" data-testid="snapshots">
            <h2>{format!("Snapshots ({count})")}</h2>
            <table class="list" data-testid="snapshot-table">
                <thead><tr><th>"Name"</th><th>"Taken"</th><th>"RAM"</th><th>"Description"</th><th></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            {move || pending.get().map(|p| view! { <Confirm pending=p target=target.get_value() clear=pending problem /> })}
            {move || problem.get().map(|error| view! { <ErrorBox error /> })}
            {may_act.then(|| view! { <CreateForm target=target.get_value() running=list.running draft /> })}
        </section>
    }
    .into_any()
}

#[component]
fn SnapshotLine(
    row: SnapshotRow,
    indent: String,
    may_act: bool,
    pending: RwSignal<Option<Pending>>,
) -> impl IntoView {
    let taken = row.snaptime.map(format::date_time).unwrap_or_default();
    let state = if row.busy { " (task running…)" } else { "" };
    let actions = (may_act && !row.busy).then(|| {
        let (rollback, delete) = (row.clone(), row.clone());
        view! {
            <button class="btn" data-testid="snapshot-rollback" on:click=move |_| pending.set(Some(Pending::Rollback(rollback.clone())))>"Roll back"</button>
            <button class="btn danger" data-testid="snapshot-delete" on:click=move |_| pending.set(Some(Pending::Delete(delete.clone())))>"Delete"</button>
        }
    });
    view! {
        <tr data-snapshot=row.name.clone()>
            <td style=indent>{row.name.clone()}{state}</td>
            <td>{taken}</td>
            <td>{if row.vmstate { "yes" } else { "no" }}</td>
            <td>{row.description.clone()}</td>
            <td>{actions}</td>
        </tr>
    }
}

/// The inline confirmation of a rollback or a delete, saying what it costs.
#[component]
fn Confirm(
    pending: Pending,
    target: SnapshotTarget,
    clear: RwSignal<Option<Pending>>,
    problem: RwSignal<Option<AppError>>,
) -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let start_after = RwSignal::new(false);
    let SnapshotTarget {
        cluster,
        node,
        vmid,
    } = target;
    let (question, consequence, button) = match &pending {
        Pending::Rollback(s) => (
            format!("Roll VM {vmid} back to snapshot {}?", s.name),
            if s.vmstate {
                "Everything that changed since the snapshot is lost: the disks' changes, the configuration and the running state. The VM is stopped, then resumed as it was when the snapshot was taken."
            } else {
                "Everything that changed since the snapshot is lost: the disks' changes and the configuration. A running VM is stopped (its unsaved data is lost)."
            },
            "Roll back",
        ),
        Pending::Delete(s) => (
            format!("Delete snapshot {} of VM {vmid}?", s.name),
            "The snapshot and its disk snapshots are removed; it cannot be rolled back to afterwards. The VM's present state is kept.",
            "Delete snapshot",
        ),
    };
    let offers_start = matches!(&pending, Pending::Rollback(s) if !s.vmstate);
    let go = move |_| {
        // Read before `clear` removes this confirmation (and its checkbox).
        let start = start_after.get_untracked();
        clear.set(None);
        let (cluster, node, vmid) = (cluster.clone(), node.clone(), vmid.to_string());
        match &pending {
            Pending::Rollback(s) => send(
                tasks,
                format!("Roll back VM {vmid} to {}", s.name),
                problem,
                rollback_snapshot(cluster, node, vmid.clone(), s.name.clone(), start),
                || (),
            ),
            Pending::Delete(s) => send(
                tasks,
                format!("Delete snapshot {} of VM {vmid}", s.name),
                problem,
                delete_snapshot(cluster, node, vmid.clone(), s.name.clone()),
                || (),
            ),
        }
    };
    view! {
        <div class="confirm-inline" role="alertdialog" data-testid="snapshot-confirm">
            <strong>{question}</strong>
            <p>{consequence}</p>
            {offers_start.then(|| view! {
                <label>
                    <input type="checkbox" data-testid="rollback-start" prop:checked=move || start_after.get() on:change=move |ev| start_after.set(event_target_checked(&ev)) />
                    " Start the VM after the rollback"
                </label>
            })}
            <button class="btn danger" data-testid="snapshot-confirm-yes" on:click=go>{button}</button>
            " "
            <button class="btn" on:click=move |_| clear.set(None)>"Cancel"</button>
        </div>
    }
}

/// Taking a snapshot: the inputs stay as typed until PVE has taken the request.
#[component]
fn CreateForm(target: SnapshotTarget, running: bool, draft: SnapshotDraft) -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    let SnapshotDraft {
        name,
        description,
        with_ram,
        problem,
        ..
    } = draft;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let SnapshotTarget {
            cluster,
            node,
            vmid,
        } = target.clone();
        let snapshot = name.get_untracked().trim().to_owned();
        send(
            tasks,
            format!("Snapshot {snapshot} of VM {vmid}"),
            problem,
            create_snapshot(
                cluster,
                node,
                vmid.to_string(),
                snapshot,
                description.get_untracked(),
                running && with_ram.get_untracked(),
            ),
            move || {
                name.set(String::new());
                description.set(String::new());
            },
        );
    };
    view! {
        <form class="toolbar snapshot-form" data-testid="snapshot-form" on:submit=submit>
            <input
                required
                placeholder="Snapshot name"
                aria-label="Snapshot name"
                data-testid="snapshot-name"
                maxlength="40"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <input
                placeholder="Description (optional)"
                aria-label="Snapshot description"
                data-testid="snapshot-description"
                prop:value=move || description.get()
                on:input=move |ev| description.set(event_target_value(&ev))
            />
            {running.then(|| view! {
                <label>
                    <input type="checkbox" data-testid="snapshot-ram" prop:checked=move || with_ram.get() on:change=move |ev| with_ram.set(event_target_checked(&ev)) />
                    " Include RAM"
                </label>
            })}
            <button class="btn" type="submit" data-testid="snapshot-take">"Take snapshot"</button>
        </form>
    }
}
