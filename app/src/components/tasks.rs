//! The task panel: every power action's task, followed until PVE says it has ended, with its
//! whole log (read page by page as it grows).

use std::time::Duration;

use leptos::prelude::*;

use crate::{
    error::AppError,
    vms::{TASK_LOG_PAGE, TaskProgress, TaskRef, follow_task},
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

    /// Marks a request PVE carried out at once, without a task.
    pub fn finish_at_once(&self, id: u64) {
        if let Some(t) = self.get(id) {
            t.state.set(TaskState::Done("OK".into()));
        }
        self.finished.update(|n| *n += 1);
    }

    /// Follows PVE's task until it stops.
    pub fn follow(self, id: u64, task: TaskRef) {
        self.follow_then(id, task, || ());
    }

    /// Follows PVE's task until it stops, then runs `on_success` if it succeeded (a page that
    /// must go where a migrated VM went).
    pub fn follow_then(self, id: u64, task: TaskRef, on_success: impl Fn() + 'static) {
        if let Some(t) = self.get(id) {
            t.state.set(TaskState::Running);
            t.upid.set(Some(task.upid.to_string()));
        }
        self.poll(id, task, on_success);
    }

    fn poll(self, id: u64, task: TaskRef, on_success: impl Fn() + 'static) {
        follow_pages(task, 0, move |progress| {
            // Gone from the panel (more than 20 newer tasks): no longer followed.
            let Some(tracked) = self.get(id) else {
                return false;
            };
            match progress {
                Ok(p) => {
                    if !p.log.is_empty() {
                        tracked.log.update(|log| log.extend(p.log.iter().cloned()));
                    }
                    if is_complete(p) {
                        let status = p.exitstatus.clone().unwrap_or_else(|| "unknown".into());
                        tracked.state.set(if p.succeeded() {
                            TaskState::Done(status)
                        } else {
                            TaskState::Failed(status)
                        });
                        self.finished.update(|n| *n += 1);
                        if p.succeeded() {
                            on_success();
                        }
                    }
                }
                Err(err) => {
                    tracked.state.set(TaskState::Failed(err.to_string()));
                    self.finished.update(|n| *n += 1);
                }
            }
            true
        });
    }
}

/// True once the task has ended and this answer held the last of its log (a full page may have
/// more behind it).
pub(crate) fn is_complete(progress: &TaskProgress) -> bool {
    !progress.running && (progress.log.len() as u64) < TASK_LOG_PAGE
}

/// How many unanswered reads in a row `follow_pages` retries before it reports the error: one
/// lost answer (a restart of Cecyber, a PVE node busy for a moment) should not end the log.
const RETRIES: u32 = 3;

/// Follows `task` from log line `from`: `on_page` gets every answer, the next one a second
/// later while the task runs (at once while pages come full), until the task has ended and its
/// whole log is read, an error came `RETRIES` times in a row, or `on_page` returns false (its
/// view is gone).
pub fn follow_pages(
    task: TaskRef,
    from: u64,
    on_page: impl Fn(&Result<TaskProgress, AppError>) -> bool + 'static,
) {
    follow_pages_after(task, from, 0, on_page);
}

fn follow_pages_after(
    task: TaskRef,
    from: u64,
    failures: u32,
    on_page: impl Fn(&Result<TaskProgress, AppError>) -> bool + 'static,
) {
    leptos::task::spawn_local(async move {
        let progress = follow_task(task.cluster.clone(), task.upid.to_string(), from).await;
        let (next, failures, wait) = match &progress {
            // Only what may pass: PVE or Cecyber out of reach for a moment (`ServerFn`: the
            // request itself failed).
            Err(
                AppError::Unavailable(_)
                | AppError::TimedOut(_)
                | AppError::Busy(_)
                | AppError::ServerFn(_),
            ) if failures < RETRIES => (from, failures + 1, 2000),
            Err(_) => {
                on_page(&progress);
                return;
            }
            Ok(p) => {
                if !on_page(&progress) || is_complete(p) {
                    return;
                }
                let full = p.log.len() as u64 >= TASK_LOG_PAGE;
                (p.next, 0, if full { 0 } else { 1000 })
            }
        };
        set_timeout(
            move || follow_pages_after(task, next, failures, on_page),
            Duration::from_millis(wait),
        );
    });
}

/// A task's whole log, read as it grows while the task runs.
#[component]
pub fn TaskLog(task: TaskRef) -> impl IntoView {
    let log = RwSignal::new(Vec::<String>::new());
    let problem = RwSignal::new(None::<String>);
    let ended = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    follow_pages(task, 0, move |progress| match progress {
        Ok(p) => {
            let alive = log
                .try_update(|l| l.extend(p.log.iter().cloned()))
                .is_some();
            if alive && is_complete(p) {
                ended.set(true);
            }
            alive
        }
        Err(e) => problem.try_set(Some(e.to_string())).is_none(),
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = task;
    view! {
        <pre class="task-log-full" data-testid="task-log-full" data-ended=move || ended.get().to_string()>
            {move || log.with(|l| l.join("\n"))}
        </pre>
        {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
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
                <summary>{move || match lines() {
                    1 => "Log (1 line)".to_string(),
                    n => format!("Log ({n} lines)"),
                }}</summary>
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
