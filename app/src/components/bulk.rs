//! Bulk actions in the VM list: the bar over the picked VMs, the one confirmation that lists
//! them (and the ones the action skips, with the reason), and the run: each VM's task, a few
//! at a time, in one progress view that stays when the user leaves the list.

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use pve::types::PowerAction;

use crate::{
    bulk::{
        BulkAction, BulkQueue, PARALLEL_TASKS, Selection, VmPick, matching_vms, migration_nodes,
    },
    components::{
        power::{button_class, consequence},
        tasks::{Tasks, follow_pages, is_complete},
    },
    error::AppError,
    migration::migrate_vm,
    vm_query::VmQuery,
    vms::{TaskRef, power_action},
};

/// Where one VM of a run stands.
#[derive(Debug, Clone, PartialEq)]
enum ItemState {
    /// Waits for a free slot.
    Waiting,
    /// Asked for or running in PVE.
    Running,
    /// Ended with `OK` (or warnings).
    Done(String),
    /// Refused, or ended with an error: PVE's message.
    Failed(String),
    /// Not started: the user cancelled the rest.
    Cancelled,
}

impl ItemState {
    fn css(&self) -> &'static str {
        match self {
            ItemState::Waiting => "waiting",
            ItemState::Running => "running",
            ItemState::Done(_) => "ok",
            ItemState::Failed(_) => "failed",
            ItemState::Cancelled => "cancelled",
        }
    }

    fn describe(&self) -> String {
        match self {
            ItemState::Waiting => "waiting".into(),
            ItemState::Running => "running…".into(),
            ItemState::Done(s) | ItemState::Failed(s) => s.clone(),
            ItemState::Cancelled => "cancelled".into(),
        }
    }

    fn is_final(&self) -> bool {
        !matches!(self, ItemState::Waiting | ItemState::Running)
    }
}

/// One VM of a run.
struct RunItem {
    vm: VmPick,
    state: ArcRwSignal<ItemState>,
    last_line: ArcRwSignal<Option<String>>,
}

/// A bulk action under way, or ended and not dismissed yet.
#[derive(Clone)]
struct BulkRun {
    title: String,
    action: BulkAction,
    items: Arc<Vec<RunItem>>,
    skipped: Arc<Vec<(VmPick, String)>>,
    queue: Arc<Mutex<BulkQueue>>,
}

/// The current run, shared through context from the layout: it goes on, and its progress
/// stays in view, when the user leaves the list.
#[derive(Clone, Copy)]
pub struct BulkRuns {
    current: RwSignal<Option<BulkRun>>,
    tasks: Tasks,
}

impl BulkRuns {
    /// Provides an empty one (the layout, after the task list).
    pub fn provide() {
        let tasks = expect_context::<Tasks>();
        provide_context(Self {
            current: RwSignal::new(None),
            tasks,
        });
    }

    /// True while a run has VMs waiting or running (tracked).
    fn busy(&self) -> bool {
        self.current.with(|run| {
            run.as_ref()
                .is_some_and(|r| r.items.iter().any(|i| !i.state.with(ItemState::is_final)))
        })
    }

    fn start(self, action: BulkAction, acting: Vec<VmPick>, skipped: Vec<(VmPick, String)>) {
        let title = format!("{} {}", action.label(), vm_count(acting.len()));
        let run = BulkRun {
            title,
            action,
            queue: Arc::new(Mutex::new(BulkQueue::new(acting.len(), PARALLEL_TASKS))),
            items: Arc::new(
                acting
                    .into_iter()
                    .map(|vm| RunItem {
                        vm,
                        state: ArcRwSignal::new(ItemState::Waiting),
                        last_line: ArcRwSignal::new(None),
                    })
                    .collect(),
            ),
            skipped: Arc::new(skipped),
        };
        self.current.set(Some(run.clone()));
        self.pump(&run);
    }

    /// Starts items while slots are free; once the whole run has ended, lists reload.
    fn pump(self, run: &BulkRun) {
        loop {
            let next = run.queue.lock().expect("queue lock").start_next();
            let Some(index) = next else { break };
            self.launch(run.clone(), index);
        }
        if run.queue.lock().expect("queue lock").is_done() {
            self.tasks.finished.update(|n| *n += 1);
        }
    }

    fn item_ended(self, run: &BulkRun) {
        run.queue.lock().expect("queue lock").ended();
        self.pump(run);
    }

    fn launch(self, run: BulkRun, index: usize) {
        let item = &run.items[index];
        item.state.set(ItemState::Running);
        let vm = item.vm.clone();
        let action = run.action.clone();
        leptos::task::spawn_local(async move {
            let started: Result<TaskRef, AppError> = match &action {
                BulkAction::Power(power) => {
                    power_action(
                        vm.cluster.clone(),
                        vm.node.clone(),
                        vm.vmid.to_string(),
                        power.path_segment().to_owned(),
                    )
                    .await
                }
                BulkAction::Migrate { node, .. } => migrate_vm(
                    vm.cluster.clone(),
                    vm.node.clone(),
                    vm.vmid.to_string(),
                    node.clone(),
                    String::new(),
                )
                .await
                .map(|m| m.task),
            };
            match started {
                Ok(task) => self.follow(run, index, task),
                Err(error) => {
                    run.items[index]
                        .state
                        .set(ItemState::Failed(error.to_string()));
                    self.item_ended(&run);
                }
            }
        });
    }

    fn follow(self, run: BulkRun, index: usize, task: TaskRef) {
        follow_pages(task, 0, move |progress| {
            let item = &run.items[index];
            match progress {
                Ok(p) => {
                    if let Some(line) = p.log.last() {
                        item.last_line.set(Some(line.clone()));
                    }
                    if is_complete(p) {
                        let status = p.exitstatus.clone().unwrap_or_else(|| "unknown".into());
                        item.state.set(if p.succeeded() {
                            ItemState::Done(status)
                        } else {
                            ItemState::Failed(status)
                        });
                        self.item_ended(&run);
                    }
                }
                Err(error) => {
                    item.state.set(ItemState::Failed(error.to_string()));
                    self.item_ended(&run);
                }
            }
            true
        });
    }

    /// Drops the VMs not started yet; the running ones end on their own.
    fn cancel_rest(self) {
        let Some(run) = self.current.get_untracked() else {
            return;
        };
        let dropped = run.queue.lock().expect("queue lock").cancel_waiting();
        for index in dropped {
            run.items[index].state.set(ItemState::Cancelled);
        }
    }
}

fn vm_count(n: usize) -> String {
    match n {
        1 => "1 VM".to_owned(),
        n => format!("{n} VMs"),
    }
}

/// What the user asked the bar for, before the confirmation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ask {
    Power(PowerAction),
    Migrate,
}

/// The actions the bar offers for many VMs.
const BULK_POWER: [PowerAction; 4] = [
    PowerAction::Start,
    PowerAction::Shutdown,
    PowerAction::Reboot,
    PowerAction::Stop,
];

/// The bar over the list for operators: how many VMs are picked, "select all matching", the
/// actions, and the confirmation they open.
#[component]
pub fn BulkBar(
    selection: RwSignal<Selection>,
    query: Signal<VmQuery>,
    matched: Signal<usize>,
) -> impl IntoView {
    let runs = expect_context::<BulkRuns>();
    let asked = RwSignal::new(None::<Ask>);
    let problem = RwSignal::new(None::<String>);
    let picking_all = RwSignal::new(false);
    let select_all = move |_| {
        picking_all.set(true);
        let view = query.get_untracked();
        leptos::task::spawn_local(async move {
            let result = matching_vms(view).await;
            picking_all.try_set(false);
            match result {
                Ok(picks) => {
                    selection.try_update(|s| s.set_all(&picks, true));
                    problem.try_set(None);
                }
                Err(error) => {
                    problem.try_set(Some(error.to_string()));
                }
            }
        });
    };
    let none_picked = move || selection.with(Selection::is_empty);
    let buttons = move || {
        BULK_POWER
            .into_iter()
            .map(|action| {
                view! {
                    <button
                        class=button_class(action)
                        data-bulk=action.path_segment()
                        disabled=move || none_picked() || runs.busy()
                        on:click=move |_| asked.set(Some(Ask::Power(action)))
                    >
                        {action.label()}
                    </button>
                }
            })
            .collect_view()
    };
    view! {
        <div class="bulk-bar toolbar" data-testid="bulk-bar">
            <span data-testid="bulk-count">{move || format!("{} selected", selection.with(Selection::len))}</span>
            <button
                class="link"
                data-testid="bulk-select-all"
                disabled=move || picking_all.get()
                on:click=select_all
            >
                {move || format!("Select all {} matching", matched.get())}
            </button>
            <button class="link" disabled=none_picked on:click=move |_| selection.update(Selection::clear)>"Clear"</button>
            {buttons}
            <button
                class="btn"
                data-bulk="migrate"
                disabled=move || none_picked() || runs.busy()
                on:click=move |_| asked.set(Some(Ask::Migrate))
            >
                "Migrate…"
            </button>
            {move || runs.busy().then(|| view! { <span class="muted">"A bulk action is running."</span> })}
        </div>
        {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
        {move || asked.get().map(|ask| view! { <BulkConfirm ask asked selection /> })}
    }
}

/// The one confirmation: what will be done to which VMs, and which are skipped and why.
#[component]
fn BulkConfirm(
    ask: Ask,
    asked: RwSignal<Option<Ask>>,
    selection: RwSignal<Selection>,
) -> impl IntoView {
    let runs = expect_context::<BulkRuns>();
    let picks = StoredValue::new(selection.get_untracked().picks());
    let clusters = selection.with_untracked(Selection::clusters);
    // Migration: the target among the online nodes of the one cluster picked.
    let target = RwSignal::new(String::new());
    let nodes = RwSignal::new(None::<Result<Vec<String>, AppError>>);
    let migrate_cluster = (ask == Ask::Migrate && clusters.len() == 1).then(|| clusters[0].clone());
    if let Some(cluster) = migrate_cluster.clone() {
        leptos::task::spawn_local(async move {
            let result = migration_nodes(cluster).await;
            nodes.try_set(Some(result));
        });
    }
    let action = Memo::new(move |_| match ask {
        Ask::Power(power) => Some(BulkAction::Power(power)),
        Ask::Migrate => {
            let node = target.get();
            let cluster = migrate_cluster.clone()?;
            (!node.is_empty()).then_some(BulkAction::Migrate { cluster, node })
        }
    });
    let plan = Memo::new(move |_| {
        action
            .get()
            .map(|a| picks.with_value(|p| a.plan(p)))
            .unwrap_or_default()
    });
    let close = move || asked.set(None);
    let confirm = move |_| {
        let Some(action) = action.get_untracked() else {
            return;
        };
        let (acting, skipped) = plan.get_untracked();
        if acting.is_empty() {
            return;
        }
        runs.start(action, acting, skipped);
        selection.update(Selection::clear);
        close();
    };
    let title = move || match (ask, action.get()) {
        (Ask::Migrate, None) => format!("Migrate {}", vm_count(picks.with_value(Vec::len))),
        (_, Some(action)) => format!("{} {}?", action.label(), vm_count(plan.with(|p| p.0.len()))),
        (Ask::Power(_), None) => String::new(),
    };
    let consequence_text = match ask {
        Ask::Power(power) => consequence(power),
        Ask::Migrate => {
            "Running VMs move online (live), stopped ones offline; local disks are copied along. Proxmox VE checks each VM again and its task says why if it refuses."
        }
    };
    let target_choice = move || {
        (ask == Ask::Migrate).then(|| {
            if clusters.len() > 1 {
                return view! { <p class="error" role="alert">"The picked VMs are in several clusters: pick VMs of one cluster to migrate them together."</p> }.into_any();
            }
            match nodes.get() {
                None => view! { <p class="muted">"Loading the nodes…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <label>
                        "Target node "
                        <select data-testid="bulk-target" on:change=move |ev| target.set(event_target_value(&ev))>
                            <option value="" selected>"Choose a node"</option>
                            {list.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                }.into_any(),
            }
        })
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" data-testid="bulk-dialog">
                <h2>{title}</h2>
                <p>{consequence_text}</p>
                {target_choice}
                {move || plan.with(|(acting, skipped)| view! {
                    <ul class="bulk-list" data-testid="bulk-acting">
                        {shown(acting).into_iter().map(|vm| view! { <li data-vmid=vm.vmid>{vm.label()}</li> }).collect_view()}
                        {more(acting.len())}
                    </ul>
                    {(!skipped.is_empty()).then(|| view! {
                        <p>{format!("Skipped ({}):", skipped.len())}</p>
                        <ul class="bulk-list muted" data-testid="bulk-skipped">
                            {skipped.iter().take(SHOWN).map(|(vm, why)| view! { <li data-vmid=vm.vmid>{format!("{} — {why}", vm.label())}</li> }).collect_view()}
                            {more(skipped.len())}
                        </ul>
                    })}
                }.into_any())}
                <div class="actions">
                    <button class="btn" on:click=move |_| close()>"Cancel"</button>
                    <button
                        class="btn danger"
                        data-testid="bulk-confirm"
                        disabled=move || plan.with(|p| p.0.is_empty())
                        on:click=confirm
                    >
                        {move || action.get().map(|a| format!("{} {}", a.label(), vm_count(plan.with(|p| p.0.len())))).unwrap_or_else(|| "Choose a node".into())}
                    </button>
                </div>
            </div>
        </div>
    }
    .into_any()
}

/// How many VMs a confirmation names; the rest are counted.
const SHOWN: usize = 25;

fn shown(vms: &[VmPick]) -> Vec<VmPick> {
    vms.iter().take(SHOWN).cloned().collect()
}

fn more(n: usize) -> Option<impl IntoView + use<>> {
    (n > SHOWN).then(|| view! { <li class="muted">{format!("and {} more", n - SHOWN)}</li> })
}

/// The progress of the current run, below every page until dismissed.
#[component]
pub fn BulkProgress() -> impl IntoView {
    let runs = expect_context::<BulkRuns>();
    move || runs.current.get().map(|run| view! { <RunView run runs /> })
}

#[component]
fn RunView(run: BulkRun, runs: BulkRuns) -> impl IntoView {
    let items = run.items.clone();
    let count = move |wanted: &'static str| {
        items
            .iter()
            .filter(|i| i.state.with(|s| s.css() == wanted))
            .count()
    };
    let total = run.items.len();
    let summary = move || {
        let mut parts = vec![format!("{} of {total} done", count("ok"))];
        for (css, word) in [
            ("failed", "failed"),
            ("running", "running"),
            ("waiting", "waiting"),
            ("cancelled", "cancelled"),
        ] {
            let n = count(css);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        parts.join(", ")
    };
    let ended = {
        let items = run.items.clone();
        move || items.iter().all(|i| i.state.with(ItemState::is_final))
    };
    let waiting = {
        let items = run.items.clone();
        move || {
            items
                .iter()
                .any(|i| i.state.with(|s| *s == ItemState::Waiting))
        }
    };
    let rows = run
        .items
        .iter()
        .map(|item| {
            let state = item.state.clone();
            let css = {
                let state = state.clone();
                move || state.with(ItemState::css)
            };
            let class = {
                let css = css.clone();
                move || format!("task {}", css())
            };
            let line = item.last_line.clone();
            view! {
                <li class=class data-vmid=item.vm.vmid data-state=css>
                    <span class="label">{item.vm.label()}</span>
                    <span class="status">{move || state.with(ItemState::describe)}</span>
                    <span class="log muted">{move || line.get()}</span>
                </li>
            }
        })
        .collect_view();
    let skipped = (!run.skipped.is_empty()).then(|| {
        let list = run
            .skipped
            .iter()
            .map(|(vm, why)| view! { <li>{format!("{} — {why}", vm.label())}</li> })
            .collect_view();
        view! {
            <details>
                <summary>{format!("Skipped ({})", run.skipped.len())}</summary>
                <ul>{list}</ul>
            </details>
        }
    });
    let ended_attr = ended.clone();
    view! {
        <section class="task-panel bulk-progress" aria-label="Bulk action" aria-live="polite" data-testid="bulk-progress" data-ended=move || ended_attr().to_string()>
            <h2>{run.title.clone()}</h2>
            <p data-testid="bulk-summary">{summary}</p>
            <ul>{rows}</ul>
            {skipped}
            <div class="actions">
                {move || waiting().then(|| view! { <button class="btn" on:click=move |_| runs.cancel_rest()>"Cancel the rest"</button> })}
                {move || ended().then(|| view! { <button class="btn" data-testid="bulk-dismiss" on:click=move |_| runs.current.set(None)>"Dismiss"</button> })}
            </div>
        </section>
    }
    .into_any()
}
