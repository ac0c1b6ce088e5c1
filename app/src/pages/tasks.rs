//! `/tasks` — the task center: every task of the clusters (all users', scheduled ones too),
//! filtered by node, type, user, VM and outcome; a task's whole log, live while it runs; and
//! stopping a running task (operators, confirmed).

use std::collections::BTreeSet;

use leptos::prelude::*;

use crate::{
    access::{Role, Session},
    components::{error_box::ErrorBox, tasks::TaskLog},
    format,
    tasks::{StopTask, TaskList, TaskSummary, list_tasks},
    vms::TaskRef,
};

/// How often the list is asked for again while the page is open.
#[cfg(feature = "hydrate")]
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What the user filters by; empty: everything.
#[derive(Clone, Copy)]
struct Filters {
    node: RwSignal<String>,
    kind: RwSignal<String>,
    user: RwSignal<String>,
    outcome: RwSignal<String>,
    vmid: RwSignal<String>,
}

impl Filters {
    fn new() -> Self {
        Self {
            node: RwSignal::new(String::new()),
            kind: RwSignal::new(String::new()),
            user: RwSignal::new(String::new()),
            outcome: RwSignal::new(String::new()),
            vmid: RwSignal::new(String::new()),
        }
    }

    fn keep(&self, task: &TaskSummary) -> bool {
        let is =
            |wanted: RwSignal<String>, value: &str| wanted.with(|w| w.is_empty() || w == value);
        is(self.node, &task.node)
            && is(self.kind, &task.kind)
            && is(self.user, &task.user)
            && is(self.outcome, task.outcome())
            && self
                .vmid
                .with(|v| v.trim().is_empty() || task.id == v.trim())
    }
}

/// The values the list's filters offer, taken from the last answer.
#[derive(Clone, Default, PartialEq)]
struct FilterChoices {
    nodes: BTreeSet<String>,
    kinds: BTreeSet<String>,
    users: BTreeSet<String>,
}

impl FilterChoices {
    fn of(tasks: &[TaskSummary]) -> Self {
        let values = |of: fn(&TaskSummary) -> &String| -> BTreeSet<String> {
            tasks
                .iter()
                .map(of)
                .filter(|v| !v.is_empty())
                .cloned()
                .collect()
        };
        Self {
            nodes: values(|t| &t.node),
            kinds: values(|t| &t.kind),
            users: values(|t| &t.user),
        }
    }
}

/// The task center.
#[component]
pub fn TasksPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    let tasks = Resource::new(move || tick.get(), |_| list_tasks());
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) =
            set_interval_with_handle(move || tick.update(|n| *n += 1), REFRESH_EVERY)
        {
            on_cleanup(move || handle.clear());
        }
    }
    let filters = Filters::new();
    // Outside the refreshed part, so that a refresh keeps the focus and an open dropdown.
    let choices = RwSignal::new(FilterChoices::default());
    let selected = RwSignal::new(None::<TaskSummary>);
    view! {
        <h1>"Tasks"</h1>
        <p class="muted">"Every task of the clusters, by anyone, newest first; refreshed every 5 seconds."</p>
        <div class="toolbar">
            {choice("Node", "task-node", Signal::derive(move || choices.with(|c| c.nodes.clone())), filters.node)}
            {choice("Type", "task-type", Signal::derive(move || choices.with(|c| c.kinds.clone())), filters.kind)}
            {choice("User", "task-user", Signal::derive(move || choices.with(|c| c.users.clone())), filters.user)}
            {choice("Status", "task-outcome", Signal::stored(BTreeSet::from(["running", "ok", "failed"].map(String::from))), filters.outcome)}
            <input
                placeholder="VM id"
                aria-label="VM id"
                data-testid="task-vmid"
                prop:value=move || filters.vmid.get()
                on:input=move |ev| filters.vmid.set(event_target_value(&ev))
            />
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading tasks…"</p> }>
            {move || Suspend::new(async move {
                match tasks.await {
                    Ok(list) => {
                        let offered = FilterChoices::of(&list.tasks);
                        if choices.with_untracked(|c| *c != offered) {
                            choices.set(offered);
                        }
                        view! { <TaskTable list filters selected /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        // Each chosen task gets its own Stop action, so an old task's error does not show here.
        {move || selected.get().map(|task| view! { <TaskDetail task refresh=tick /> })}
    }
    .into_any()
}

/// A `<select>` of the values `values` takes in the list, bound to `wanted`.
fn choice(
    label: &'static str,
    testid: &'static str,
    values: Signal<BTreeSet<String>>,
    wanted: RwSignal<String>,
) -> impl IntoView {
    view! {
        <select aria-label=label data-testid=testid on:change=move |ev| wanted.set(event_target_value(&ev))>
            <option value="" selected=move || wanted.with(String::is_empty)>{format!("{label}: all")}</option>
            {move || values.get().into_iter().map(|v| {
                let (chosen, text) = (v.clone(), v.clone());
                view! { <option value=v selected=move || wanted.with(|w| *w == chosen)>{text}</option> }
            }).collect_view()}
        </select>
    }
}

#[component]
fn TaskTable(
    list: TaskList,
    filters: Filters,
    selected: RwSignal<Option<TaskSummary>>,
) -> impl IntoView {
    let problems = list
        .problems
        .iter()
        .map(|p| view! { <p class="error" role="alert">{format!("Cluster {}: {}", p.cluster, p.message)}</p> })
        .collect_view();
    let total = list.tasks.len();
    let tasks = StoredValue::new(list.tasks);
    let shown = move || {
        tasks.with_value(|all| {
            all.iter()
                .filter(|t| filters.keep(t))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        {problems}
        <table class="list" data-testid="task-table">
            <thead><tr><th>"Started"</th><th>"Node"</th><th>"Type"</th><th>"VM"</th><th>"User"</th><th>"Status"</th><th></th></tr></thead>
            <tbody>
                {move || shown().into_iter().map(|t| {
                    let status = if t.running { "running…".to_string() } else { t.status.clone().unwrap_or_default() };
                    let chosen = t.clone();
                    view! {
                        <tr data-upid=t.upid.clone() data-outcome=t.outcome()>
                            <td>{format::date_time(t.starttime)}</td>
                            <td>{t.node.clone()}</td>
                            <td>{t.kind.clone()}</td>
                            <td>{t.id.clone()}</td>
                            <td>{t.user.clone()}</td>
                            <td class=format!("outcome {}", t.outcome())>{status}</td>
                            <td><button class="btn" data-testid="task-open" aria-label=format!("Log of {} {} on {}", t.kind, t.id, t.node) on:click=move |_| selected.set(Some(chosen.clone()))>"Log"</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <p class="muted">{move || format!("{} of {total} tasks shown", shown().len())}</p>
    }
    .into_any()
}

/// The chosen task: what it is, its whole log, and (running, operators) a confirmed Stop.
#[component]
fn TaskDetail(task: TaskSummary, refresh: RwSignal<u64>) -> impl IntoView {
    let stop = ServerAction::<StopTask>::new();
    let may_stop = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    let confirming = RwSignal::new(false);
    // Once PVE has taken the stop, the list shows the task's end.
    Effect::new(move |_| {
        if matches!(stop.value().get(), Some(Ok(()))) {
            refresh.update(|n| *n += 1);
        }
    });
    let task_ref = task.upid.parse().ok().map(|upid| TaskRef {
        cluster: task.cluster.clone(),
        upid,
    });
    let (cluster, upid) = (task.cluster.clone(), task.upid.clone());
    let controls = move || {
        if stop.pending().get() {
            return view! { <span class="muted">"Stopping…"</span> }.into_any();
        }
        if matches!(stop.value().get(), Some(Ok(()))) {
            return view! { <span class="muted" data-testid="task-stop-sent">"Stop sent to PVE."</span> }.into_any();
        }
        if !confirming.get() {
            // Also after a refused stop: the error shows below and the user may try again.
            return view! {
                <button class="btn danger" data-testid="task-stop" on:click=move |_| confirming.set(true)>"Stop task"</button>
            }
            .into_any();
        }
        let (cluster, upid) = (cluster.clone(), upid.clone());
        view! {
            <span class="confirm-inline" data-testid="task-stop-confirm">
                "Stop this task? PVE interrupts it; what it has done so far stays done. "
                <button class="btn danger" data-testid="task-stop-yes" on:click=move |_| {
                    confirming.set(false);
                    stop.dispatch(StopTask { cluster: cluster.clone(), upid: upid.clone() });
                }>"Stop it"</button>
                <button class="btn" on:click=move |_| confirming.set(false)>"Cancel"</button>
            </span>
        }
        .into_any()
    };
    let stop_controls = (task.running && may_stop).then_some(controls);
    view! {
        <section class="task-detail" data-testid="task-detail">
            <h2>{format!("{} {} on {}", task.kind, task.id, task.node)}</h2>
            <p class="muted">{format!("Started by {} at {}; {}", task.user, format::date_time(task.starttime), task.upid)}</p>
            {stop_controls}
            {move || stop.value().get().and_then(Result::err).map(|error| view! { <ErrorBox error /> })}
            {task_ref.map(|task| view! { <TaskLog task /> })}
        </section>
    }
    .into_any()
}
