//! The task panel: every power action's task, followed until PVE says it has ended, with its
//! whole log (read page by page as it grows).

use std::time::Duration;

use leptos::prelude::*;

use crate::{
    error::AppError,
    vms::{TASK_LOG_PAGE, TaskRef, follow_task},
};

/// Where a tracked task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    /// The request was sent; no task id yet.
    Requested,
    /// PVE runs the task.
    Running,
    /// Ended with `OK` (or warnings).
    Done(String),
    /// Refused or ended with an error; PVE's message.
    Failed(String),
}

impl TaskState {
    fn css(&self) -> &'static str {
        match self {
            TaskState::Requested | TaskState::Running => "running",
            TaskState::Done(_) => "ok",
            TaskState::Failed(_) => "failed",
        }
    }

    fn describe(&self) -> String {
        match self {
            TaskState::Requested => "requested…".into(),
            TaskState::Running => "running…".into(),
            TaskState::Done(s) | TaskState::Failed(s) => s.clone(),
        }
    }
}

/// One task in the panel. Its parts change on their own, so that a row (and its open log)
/// stays in place while the task runs.
#[derive(Clone)]
struct TrackedTask {
    id: u64,
    label: String,
    state: ArcRwSignal<TaskState>,
    upid: ArcRwSignal<Option<String>>,
    /// The log so far.
    log: ArcRwSignal<Vec<String>>,
    /// Lines read: where the next read starts.
    next: ArcStoredValue<u64>,
}

/// The task list of this page, shared through context.
#[derive(Clone, Copy)]
pub struct Tasks {
    list: RwSignal<Vec<TrackedTask>>,
    next_id: StoredValue<u64>,
    /// Bumped whenever a task ends, so lists and details reload.
    pub finished: RwSignal<u64>,
}

impl Tasks {
    /// An empty panel.
    pub fn new() -> Self {
        Self {
            list: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
            finished: RwSignal::new(0),
        }
    }

    /// Adds a task in the `Requested` state and returns its id.
    pub fn add(&self, label: String) -> u64 {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        let task = TrackedTask {
            id,
            label,
            state: ArcRwSignal::new(TaskState::Requested),
            upid: ArcRwSignal::new(None),
            log: ArcRwSignal::new(Vec::new()),
            next: ArcStoredValue::new(0),
        };
        self.list.update(|l| {
            l.insert(0, task);
            l.truncate(20);
        });
        id
    }

    fn get(&self, id: u64) -> Option<TrackedTask> {
        self.list
            .with_untracked(|l| l.iter().find(|t| t.id == id).cloned())
    }

    /// Marks a task refused before PVE started it.
    pub fn fail(&self, id: u64, error: &AppError) {
        if let Some(t) = self.get(id) {
            t.state.set(TaskState::Failed(error.to_string()));
        }
    }

    /// Follows PVE's task until it stops.
    pub fn follow(self, id: u64, task: TaskRef) {
        if let Some(t) = self.get(id) {
            t.state.set(TaskState::Running);
            t.upid.set(Some(task.upid.to_string()));
        }
        self.poll(id, task);
    }

    fn poll(self, id: u64, task: TaskRef) {
        leptos::task::spawn_local(async move {
            // Gone from the panel (more than 20 newer tasks): no longer followed.
            let Some(tracked) = self.get(id) else { return };
            let from = tracked.next.get_value();
            let progress = follow_task(task.cluster.clone(), task.upid.to_string(), from).await;
            // Ended, and every line read (a full page may have more behind it).
            let (finished, more_now) = match progress {
                Ok(p) => {
                    let page_full = p.log.len() as u64 >= TASK_LOG_PAGE;
                    let done = !p.running && !page_full;
                    let succeeded = p.succeeded();
                    tracked.next.set_value(p.next);
                    if !p.log.is_empty() {
                        tracked.log.update(|log| log.extend(p.log));
                    }
                    if done {
                        let status = p.exitstatus.unwrap_or_else(|| "unknown".into());
                        tracked.state.set(if succeeded {
                            TaskState::Done(status)
                        } else {
                            TaskState::Failed(status)
                        });
                    }
                    (done, page_full)
                }
                Err(err) => {
                    tracked.state.set(TaskState::Failed(err.to_string()));
                    (true, false)
                }
            };
            if finished {
                self.finished.update(|n| *n += 1);
            } else {
                let wait = if more_now { 0 } else { 1000 };
                set_timeout(move || self.poll(id, task), Duration::from_millis(wait));
            }
        });
    }
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

/// One row of the panel: label, state, the last log line, and the whole log on demand.
#[component]
fn TaskRow(task: TrackedTask) -> impl IntoView {
    let TrackedTask {
        label,
        state,
        upid,
        log,
        ..
    } = task;
    // Handles owned by this row: copied into each closure below.
    let (state, upid, log) = (
        RwSignal::from(state),
        RwSignal::from(upid),
        RwSignal::from(log),
    );
    let css = move || state.with(TaskState::css);
    let lines = move || log.with(Vec::len);
    view! {
        <li class=move || format!("task {}", css()) data-state=css title=move || upid.get().unwrap_or_default()>
            <span class="label">{label}</span>
            <span class="status">{move || state.with(TaskState::describe)}</span>
            <span class="log muted">{move || log.with(|l| l.last().cloned())}</span>
            <details class="task-log" class:empty=move || lines() == 0>
                <summary>{move || format!("Log ({} lines)", lines())}</summary>
                <pre data-testid="task-log">{move || log.with(|l| l.join("\n"))}</pre>
            </details>
        </li>
    }
    // Erased: the layout's view type is otherwise too deep for the compiler.
    .into_any()
}

/// The list of recent tasks at the bottom of the page.
#[component]
pub fn TaskPanel() -> impl IntoView {
    let tasks = expect_context::<Tasks>();
    view! {
        <section class="task-panel" aria-label="Tasks" data-testid="task-panel">
            <h2>"Tasks"</h2>
            <Show when=move || tasks.list.with(|l| !l.is_empty()) fallback=|| view! { <p class="muted">"No tasks yet."</p> }>
                <ul>
                    <For each=move || tasks.list.get() key=|t| t.id let:task>
                        <TaskRow task />
                    </For>
                </ul>
            </Show>
        </section>
    }
}
