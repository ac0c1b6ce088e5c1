//! The task panel: every power action's task, followed until PVE says it has ended.

use std::time::Duration;

use leptos::prelude::*;

use crate::{error::AppError, vms::TaskRef, vms::follow_task};

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
}

/// One task in the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedTask {
    id: u64,
    label: String,
    state: TaskState,
    upid: Option<String>,
    last_log: Option<String>,
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
        self.list.update(|l| {
            l.insert(
                0,
                TrackedTask {
                    id,
                    label,
                    state: TaskState::Requested,
                    upid: None,
                    last_log: None,
                },
            );
            l.truncate(20);
        });
        id
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut TrackedTask)) {
        self.list.update(|l| {
            if let Some(t) = l.iter_mut().find(|t| t.id == id) {
                f(t);
            }
        });
    }

    /// Marks a task refused before PVE started it.
    pub fn fail(&self, id: u64, error: &AppError) {
        let message = error.to_string();
        self.update(id, |t| t.state = TaskState::Failed(message));
    }

    /// Follows PVE's task until it stops.
    pub fn follow(self, id: u64, task: TaskRef) {
        let upid = task.upid.to_string();
        self.update(id, |t| {
            t.state = TaskState::Running;
            t.upid = Some(upid);
        });
        self.poll(id, task);
    }

    fn poll(self, id: u64, task: TaskRef) {
        leptos::task::spawn_local(async move {
            let progress = follow_task(task.cluster.clone(), task.upid.to_string()).await;
            let finished = match progress {
                Ok(p) => {
                    let done = !p.running;
                    let succeeded = p.succeeded();
                    self.update(id, |t| {
                        t.last_log = p.log.last().cloned();
                        if done {
                            let status = p.exitstatus.clone().unwrap_or_else(|| "unknown".into());
                            t.state = if succeeded {
                                TaskState::Done(status)
                            } else {
                                TaskState::Failed(status)
                            };
                        }
                    });
                    done
                }
                Err(err) => {
                    self.fail(id, &err);
                    true
                }
            };
            if finished {
                self.finished.update(|n| *n += 1);
            } else {
                set_timeout(move || self.poll(id, task), Duration::from_millis(1000));
            }
        });
    }
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
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
                    {move || tasks.list.get().into_iter().map(|t| {
                        let status = match &t.state {
                            TaskState::Requested => "requested…".to_string(),
                            TaskState::Running => "running…".to_string(),
                            TaskState::Done(s) | TaskState::Failed(s) => s.clone(),
                        };
                        view! {
                            <li class=format!("task {}", t.state.css()) data-state=t.state.css() title=t.upid.clone().unwrap_or_default()>
                                <span class="label">{t.label}</span>
                                <span class="status">{status}</span>
                                <span class="log muted">{t.last_log}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </Show>
        </section>
    }
}
