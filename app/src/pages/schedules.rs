//! `/schedules` — Cecyber's scheduled power actions: the list with each schedule's next runs and
//! last run, a form (new or edit) whose calendar is previewed as it is typed, and each
//! schedule's run history with what became of every guest. Operators and admins change them;
//! running one now and deleting one are confirmed.

use leptos::prelude::*;
use pve::types::PowerAction;

use crate::{
    access::{Role, Session},
    components::error_box::ErrorBox,
    error::AppError,
    format,
    schedules::{
        ACTIONS, DeleteSchedule, EnableSchedule, PowerSchedule, RunScheduleNow, RunTime,
        SaveSchedule, ScheduleForm, ScheduleRun, SchedulesOverview, list_schedules,
        preview_schedule, schedule_runs,
    },
};

/// How often the list is asked for again while the page is open (runs end, next runs move).
#[cfg(feature = "hydrate")]
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The form's fields, kept as typed until saved.
#[derive(Clone, Copy)]
struct Draft {
    id: RwSignal<i64>,
    name: RwSignal<String>,
    cluster: RwSignal<String>,
    action: RwSignal<String>,
    target_kind: RwSignal<String>,
    target: RwSignal<String>,
    calendar: RwSignal<String>,
    timezone: RwSignal<String>,
    grace_minutes: RwSignal<u32>,
    enabled: RwSignal<bool>,
}

impl Draft {
    fn new() -> Self {
        Self {
            id: RwSignal::new(0),
            name: RwSignal::new(String::new()),
            cluster: RwSignal::new(String::new()),
            action: RwSignal::new("shutdown".into()),
            target_kind: RwSignal::new("vms".into()),
            target: RwSignal::new(String::new()),
            calendar: RwSignal::new("mon..fri 22:00".into()),
            timezone: RwSignal::new(String::new()),
            grace_minutes: RwSignal::new(15),
            enabled: RwSignal::new(true),
        }
    }

    /// Fills the form with `s` to edit it.
    fn edit(&self, s: &PowerSchedule) {
        self.id.set(s.id);
        self.name.set(s.name.clone());
        self.cluster.set(s.cluster.clone());
        self.action.set(s.action.path_segment().into());
        self.target_kind.set(s.target.kind().into());
        self.target.set(s.target.value());
        self.calendar.set(s.calendar.clone());
        self.timezone.set(s.timezone.clone());
        self.grace_minutes.set(s.grace_minutes);
        self.enabled.set(s.enabled);
    }

    /// Back to a new schedule (the zone and cluster stay).
    fn reset(&self) {
        let fresh = Self::new();
        self.id.set(0);
        self.name.set(String::new());
        self.target.set(String::new());
        self.action.set(fresh.action.get_untracked());
        self.target_kind.set(fresh.target_kind.get_untracked());
        self.calendar.set(fresh.calendar.get_untracked());
        self.grace_minutes.set(15);
        self.enabled.set(true);
    }

    fn request(&self) -> SaveSchedule {
        SaveSchedule {
            form: ScheduleForm {
                id: self.id.get_untracked(),
                name: self.name.get_untracked(),
                cluster: self.cluster.get_untracked(),
                action: self.action.get_untracked(),
                target_kind: self.target_kind.get_untracked(),
                target: self.target.get_untracked(),
                calendar: self.calendar.get_untracked(),
                timezone: self.timezone.get_untracked(),
                grace_minutes: self.grace_minutes.get_untracked(),
                enabled: self.enabled.get_untracked(),
            },
        }
    }
}

/// An action waiting for the user's confirmation.
#[derive(Clone, PartialEq)]
enum Pending {
    RunNow(PowerSchedule),
    Delete(PowerSchedule),
}

/// The schedules page.
#[component]
pub fn SchedulesPage() -> impl IntoView {
    let save = ServerAction::<SaveSchedule>::new();
    let enable = ServerAction::<EnableSchedule>::new();
    let delete = ServerAction::<DeleteSchedule>::new();
    let run_now = ServerAction::<RunScheduleNow>::new();
    let tick = RwSignal::new(0u64);
    let overview = Resource::new(
        move || {
            (
                tick.get(),
                save.version().get(),
                enable.version().get(),
                delete.version().get(),
                run_now.version().get(),
            )
        },
        |_| list_schedules(),
    );
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) =
            set_interval_with_handle(move || tick.update(|n| *n += 1), REFRESH_EVERY)
        {
            on_cleanup(move || handle.clear());
        }
    }
    let manages = expect_context::<Session>()
        .user
        .is_some_and(|u| u.role.allows(Role::Operator));
    let draft = Draft::new();
    let shown_runs = RwSignal::new(None::<(i64, String)>);
    let pending = RwSignal::new(None::<Pending>);
    // A saved form starts over; an edit that failed keeps what was typed.
    Effect::new(move |_| {
        if let Some(Ok(id)) = save.value().get() {
            shown_runs.set(Some((id, draft.name.get_untracked())));
            draft.reset();
        }
    });
    let problem = move || {
        [
            enable.value().get(),
            run_now.value().get().map(|r| r.map(|_| ())),
            delete.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
    };
    view! {
        <h1>"Schedules"</h1>
        <p class="muted">
            "Power actions that Cecyber runs on a calendar (PVE's calendar-event syntax, read in the schedule's time zone). "
            "Each slot runs once; a slot that comes while Cecyber is stopped runs late within the grace, or is recorded as missed."
        </p>
        {move || problem().map(|error| view! { <ErrorBox error /> })}
        {move || pending.get().map(|p| view! { <Confirm pending=p clear=pending run_now delete /> })}
        <Transition fallback=|| view! { <p class="muted">"Loading schedules…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => {
                        if draft.cluster.with_untracked(String::is_empty)
                            && let Some(first) = overview.clusters.first()
                        {
                            draft.cluster.set(first.clone());
                        }
                        if draft.timezone.with_untracked(String::is_empty) {
                            draft.timezone.set(overview.server_timezone.clone());
                        }
                        view! { <ScheduleTable list=overview.schedules manages draft enable pending shown_runs /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
        {move || shown_runs.get().map(|(id, name)| view! { <RunHistory id name refresh=tick /> })}
        {manages.then(|| view! { <Editor draft overview save /> })}
    }
    .into_any()
}

#[component]
fn ScheduleTable(
    list: Vec<PowerSchedule>,
    manages: bool,
    draft: Draft,
    enable: ServerAction<EnableSchedule>,
    pending: RwSignal<Option<Pending>>,
    shown_runs: RwSignal<Option<(i64, String)>>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-schedules">"No schedules yet."</p> }
            .into_any();
    }
    let rows = list
        .into_iter()
        .map(|s| {
            let next = s
                .next_runs
                .first()
                .map(|r| r.local.clone())
                .unwrap_or_else(|| if s.enabled { "none".into() } else { "off".into() });
            let last = s.last_run.as_ref().map(run_summary).unwrap_or_else(|| "never".into());
            let (id, enabled, name) = (s.id, s.enabled, s.name.clone());
            let actions = manages.then(|| {
                let (edit, run, del) = (s.clone(), s.clone(), s.clone());
                view! {
                    <button class="btn" on:click=move |_| draft.edit(&edit)>"Edit"</button>
                    <button class="btn" data-testid="schedule-toggle"
                        on:click=move |_| { enable.dispatch(EnableSchedule { id, enabled: !enabled }); }>
                        {if enabled { "Turn off" } else { "Turn on" }}
                    </button>
                    <button class="btn" data-testid="schedule-run-now" on:click=move |_| pending.set(Some(Pending::RunNow(run.clone())))>"Run now"</button>
                    <button class="btn danger" on:click=move |_| pending.set(Some(Pending::Delete(del.clone())))>"Delete"</button>
                }
            });
            view! {
                <tr data-schedule=s.name.clone() class:off=!s.enabled>
                    <td>{s.name.clone()}</td>
                    <td>{s.action.label()}</td>
                    <td>{format!("{} ({})", s.target.describe(), s.cluster)}</td>
                    <td><code>{s.calendar.clone()}</code>" "<span class="muted">{s.timezone.clone()}</span></td>
                    <td data-testid="schedule-next">{next}</td>
                    <td data-testid="schedule-last">{last}</td>
                    <td>{if s.owner.is_empty() { "(deleted user)".to_owned() } else { s.owner.clone() }}</td>
                    <td class="actions">
                        <button class="btn" on:click=move |_| shown_runs.set(Some((id, name.clone())))>"Runs"</button>
                        {actions}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="schedules" data-testid="schedules">
            <thead><tr>
                <th>"Name"</th><th>"Action"</th><th>"Guests"</th><th>"When"</th>
                <th>"Next run"</th><th>"Last run"</th><th>"Owner"</th><th></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// `ok at Mon 2026-12-07 22:00 -03` for the list.
fn run_summary(run: &ScheduleRun) -> String {
    let when = run
        .slot
        .as_ref()
        .map(|s| s.local.clone())
        .unwrap_or_else(|| {
            format!(
                "{} (run now by {})",
                format::date_time(run.started_at),
                run.requested_by
            )
        });
    format!("{} — {when}", run.status.as_str())
}

#[component]
fn Confirm(
    pending: Pending,
    clear: RwSignal<Option<Pending>>,
    run_now: ServerAction<RunScheduleNow>,
    delete: ServerAction<DeleteSchedule>,
) -> impl IntoView {
    let (question, consequence, button) = match &pending {
        Pending::RunNow(s) => (
            format!("Run schedule {} now?", s.name),
            format!(
                "{} {} of cluster {} now, outside the calendar. The next scheduled runs stay as they are.",
                s.action.label(),
                s.target.describe(),
                s.cluster
            ),
            "Run now",
        ),
        Pending::Delete(s) => (
            format!("Delete schedule {}?", s.name),
            "The schedule and its run history are removed; no guest is touched.".to_owned(),
            "Delete schedule",
        ),
    };
    let go = move |_| {
        clear.set(None);
        match &pending {
            Pending::RunNow(s) => {
                run_now.dispatch(RunScheduleNow { id: s.id });
            }
            Pending::Delete(s) => {
                delete.dispatch(DeleteSchedule { id: s.id });
            }
        }
    };
    view! {
        <div class="confirm-inline" role="alertdialog" data-testid="schedule-confirm">
            <strong>{question}</strong>
            <p>{consequence}</p>
            <button class="btn danger" data-testid="schedule-confirm-yes" on:click=go>{button}</button>
            " "
            <button class="btn" on:click=move |_| clear.set(None)>"Cancel"</button>
        </div>
    }
}

/// The latest runs of one schedule, refreshed with the page.
#[component]
fn RunHistory(id: i64, name: String, refresh: RwSignal<u64>) -> impl IntoView {
    let runs = LocalResource::new(move || {
        refresh.track();
        schedule_runs(id)
    });
    let title = if name.is_empty() {
        "Runs".to_owned()
    } else {
        format!("Runs of {name}")
    };
    view! {
        <h2>{title}</h2>
        {move || match runs.get() {
            None => view! { <p class="muted">"Loading runs…"</p> }.into_any(),
            Some(Err(error)) => view! { <ErrorBox error /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="muted" data-testid="no-runs">"No run yet."</p> }.into_any(),
            Some(Ok(list)) => view! { <RunTable list /> }.into_any(),
        }}
    }
}

#[component]
fn RunTable(list: Vec<ScheduleRun>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|run| {
            let guests = run
                .guests
                .iter()
                .map(|g| {
                    let result = if g.result.is_empty() { String::new() } else { format!(": {}", g.result) };
                    view! { <li data-vmid=g.vmid>{format!("{} {} {}{result}", g.vmid, g.name, g.state)}</li> }
                })
                .collect_view();
            view! {
                <tr data-testid="schedule-run" data-status=run.status.as_str()>
                    <td>{run_summary(&run)}</td>
                    <td>{run.message.clone()}</td>
                    <td><ul class="plain">{guests}</ul></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="schedule-runs" data-testid="schedule-runs">
            <thead><tr><th>"Run"</th><th>"Outcome"</th><th>"Guests"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The form for a new schedule or the one being edited, with its next runs as typed.
#[component]
fn Editor(
    draft: Draft,
    overview: Resource<Result<SchedulesOverview, AppError>>,
    save: ServerAction<SaveSchedule>,
) -> impl IntoView {
    let preview = LocalResource::new(move || {
        let (calendar, timezone) = (draft.calendar.get(), draft.timezone.get());
        async move { preview_schedule(calendar, timezone).await }
    });
    let text = |signal: RwSignal<String>| move |ev| signal.set(event_target_value(&ev));
    let target_hint = move || match draft.target_kind.get().as_str() {
        "tag" => "a PVE tag, e.g. office",
        "pool" => "a resource pool, e.g. prod",
        _ => "guest ids, e.g. 100,101",
    };
    let action_options = ACTIONS
        .into_iter()
        .map(|a: PowerAction| view! { <option value=a.path_segment()>{a.label()}</option> })
        .collect_view();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(draft.request());
    };
    view! {
        <h2>{move || if draft.id.get() == 0 { "New schedule".to_owned() } else { format!("Edit schedule {}", draft.name.get()) }}</h2>
        {move || save.value().get().and_then(Result::err).map(|error: AppError| view! { <ErrorBox error /> })}
        <form class="schedule-form" data-testid="schedule-form" on:submit=submit>
            <label>"Name" <input name="name" required prop:value=move || draft.name.get() on:input=text(draft.name) /></label>
            <label>"Cluster"
                <select name="cluster" on:change=text(draft.cluster)>
                    // The clusters come with the list: read from the same resource, in a
                    // boundary of their own, so the server's HTML and hydration agree.
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            let clusters = overview.await.map(|o| o.clusters).unwrap_or_default();
                            clusters
                                .into_iter()
                                .map(|c| {
                                    let (value, chosen) = (c.clone(), c.clone());
                                    view! { <option value=value prop:selected=move || draft.cluster.get() == chosen>{c}</option> }
                                })
                                .collect_view()
                        })}
                    </Transition>
                </select>
            </label>
            <label>"Action"
                <select name="action" prop:value=move || draft.action.get() on:change=text(draft.action)>{action_options}</select>
            </label>
            <label>"Guests by"
                <select name="target_kind" prop:value=move || draft.target_kind.get() on:change=text(draft.target_kind)>
                    <option value="vms">"id"</option>
                    <option value="tag">"tag"</option>
                    <option value="pool">"pool"</option>
                </select>
            </label>
            <label>"Guests" <input name="target" placeholder=target_hint prop:value=move || draft.target.get() on:input=text(draft.target) /></label>
            <label>"When" <input name="calendar" placeholder="mon..fri 07:30" prop:value=move || draft.calendar.get() on:input=text(draft.calendar) /></label>
            <label>"Time zone" <input name="timezone" list="time-zones" prop:value=move || draft.timezone.get() on:input=text(draft.timezone) /></label>
            <datalist id="time-zones">
                <option value="America/Sao_Paulo" />
                <option value="America/Manaus" />
                <option value="America/Recife" />
                <option value="UTC" />
                <option value="Europe/Berlin" />
            </datalist>
            <label>"Grace (min)"
                <input name="grace_minutes" type="number" min="0" max="1440"
                    prop:value=move || draft.grace_minutes.get().to_string()
                    on:input=move |ev| draft.grace_minutes.set(event_target_value(&ev).parse().unwrap_or(0)) />
            </label>
            <label><input type="checkbox" name="enabled" prop:checked=move || draft.enabled.get() on:change=move |ev| draft.enabled.set(event_target_checked(&ev)) />" On"</label>
            <button type="submit" class="btn primary" disabled=move || save.pending().get()>"Save schedule"</button>
            {move || (draft.id.get() != 0).then(|| view! { <button type="button" class="btn" on:click=move |_| draft.reset()>"New instead"</button> })}
        </form>
        <div class="preview" data-testid="schedule-preview">
            {move || match preview.get() {
                None => view! { <p class="muted">"…"</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error /> }.into_any(),
                Some(Ok(runs)) => view! { <NextRuns runs /> }.into_any(),
            }}
        </div>
        <p class="muted">
            "Examples: " <code>"mon..fri 07:30"</code> ", " <code>"sat,sun 22:00"</code> ", " <code>"*-1 03:00"</code>
            " (the first of each month), " <code>"2026-12-24 18:00"</code> " (once)."
        </p>
    }
}

#[component]
fn NextRuns(runs: Vec<RunTime>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted">"This calendar has no run after now."</p> }.into_any();
    }
    let items = runs
        .into_iter()
        .map(|r| view! { <li>{r.local}</li> })
        .collect_view();
    view! { <p>"Next runs:"</p><ul class="plain">{items}</ul> }.into_any()
}
