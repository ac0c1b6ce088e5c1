//! Scheduled power actions: Cecyber's own schedules (kept in its database) that start, shut
//! down, stop, reboot, pause or resume guests chosen by id, tag or pool, on a PVE calendar
//! event read in a time zone of the schedule's choosing. Each slot runs exactly once, or is
//! recorded as missed; every run is recorded with what became of each guest.
//!
//! The wire types and server functions are here; the database, the runner and the scheduler
//! loop are in [`ssr`].

use leptos::prelude::*;
use pve::types::PowerAction;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};

#[cfg(feature = "ssr")]
pub mod ssr;

/// How many upcoming runs a schedule shows.
pub const PREVIEW_RUNS: usize = 5;

/// The actions a schedule may take.
pub const ACTIONS: [PowerAction; 6] = PowerAction::ALL;

/// Which guests a schedule acts on; resolved from the cluster's resources at each run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum ScheduleTarget {
    /// These guest ids.
    Vms(Vec<u32>),
    /// Every guest carrying this PVE tag.
    Tag(String),
    /// Every guest in this resource pool.
    Pool(String),
}

impl ScheduleTarget {
    /// `vms`, `tag` or `pool`: the form's and the database's name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ScheduleTarget::Vms(_) => "vms",
            ScheduleTarget::Tag(_) => "tag",
            ScheduleTarget::Pool(_) => "pool",
        }
    }

    /// The value as typed in the form: ids separated by commas, the tag, or the pool.
    pub fn value(&self) -> String {
        match self {
            ScheduleTarget::Vms(ids) => {
                ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            }
            ScheduleTarget::Tag(tag) => tag.clone(),
            ScheduleTarget::Pool(pool) => pool.clone(),
        }
    }

    /// `VMs 100, 101`, `tag web`, `pool prod`.
    pub fn describe(&self) -> String {
        match self {
            ScheduleTarget::Vms(ids) if ids.len() == 1 => format!("guest {}", ids[0]),
            ScheduleTarget::Vms(_) => format!("guests {}", self.value().replace(',', ", ")),
            ScheduleTarget::Tag(tag) => format!("tag {tag}"),
            ScheduleTarget::Pool(pool) => format!("pool {pool}"),
        }
    }
}

/// An instant of a run, with how it reads in the schedule's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTime {
    /// Unix seconds.
    pub at: i64,
    /// `Mon 2026-12-07 07:30 -03` in the schedule's zone.
    pub local: String,
}

/// A power schedule as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSchedule {
    /// Database id.
    pub id: i64,
    /// A name for people.
    pub name: String,
    /// The cluster of its guests.
    pub cluster: String,
    /// What it does to each guest.
    pub action: PowerAction,
    /// Which guests.
    pub target: ScheduleTarget,
    /// The PVE calendar event (`mon..fri 07:30`).
    pub calendar: String,
    /// The IANA time zone the calendar is read in.
    pub timezone: String,
    /// How late a missed slot may still run, in minutes.
    pub grace_minutes: u32,
    /// Off: no slot runs (and none is recorded as missed).
    pub enabled: bool,
    /// Who last saved it; its runs act with this user's role and scope.
    pub owner: String,
    /// The next runs (empty when disabled or when the calendar has no future slot).
    pub next_runs: Vec<RunTime>,
    /// The latest run, if any.
    pub last_run: Option<ScheduleRun>,
}

/// How a run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// A runner works on it.
    Running,
    /// Every guest's action succeeded or did not apply.
    Ok,
    /// Some guests' actions failed.
    Partial,
    /// Nothing succeeded, or the run could not start.
    Failed,
    /// The slot came while Cecyber was not running (or PVE not answering) and its grace ran out.
    Missed,
}

impl RunStatus {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Missed => "missed",
        }
    }

    /// The status stored as `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            RunStatus::Running,
            RunStatus::Ok,
            RunStatus::Partial,
            RunStatus::Failed,
            RunStatus::Missed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// One guest of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunGuest {
    /// Guest id.
    pub vmid: u32,
    /// Node it was on.
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// pending, sending, running, ok, failed, skipped or unknown.
    pub state: String,
    /// The PVE task, once started.
    pub upid: Option<String>,
    /// The task's exit status, PVE's error, or why it was skipped.
    pub result: String,
}

/// A run of a schedule: one slot, or one "run now".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRun {
    /// Database id.
    pub id: i64,
    /// The slot it ran for; `None` for "run now".
    pub slot: Option<RunTime>,
    /// `schedule`, or the user who asked to run it now.
    pub requested_by: String,
    /// How it went.
    pub status: RunStatus,
    /// When it started (or was recorded as missed).
    pub started_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// Why it failed or was missed.
    pub message: String,
    /// Each guest.
    pub guests: Vec<RunGuest>,
}

/// The schedules page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulesOverview {
    /// The schedules the user may see.
    pub schedules: Vec<PowerSchedule>,
    /// The server's time zone: the default for new schedules.
    pub server_timezone: String,
    /// The clusters a schedule can be for.
    pub clusters: Vec<String>,
}

/// What the schedule form sends (a new schedule when `id` is absent).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScheduleForm {
    /// The schedule to change; 0 for a new one.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Cluster.
    pub cluster: String,
    /// `start`, `shutdown`, …
    pub action: String,
    /// `vms`, `tag` or `pool`.
    pub target_kind: String,
    /// Ids separated by commas, the tag, or the pool.
    pub target: String,
    /// PVE calendar event.
    pub calendar: String,
    /// IANA time zone.
    pub timezone: String,
    /// Minutes a missed slot may still run late.
    pub grace_minutes: u32,
    /// On or off.
    pub enabled: bool,
}

/// The schedules the user may see (scoped users: their own), with their next and last runs.
#[server(prefix = "/api", endpoint = "schedules_list")]
pub async fn list_schedules() -> Result<SchedulesOverview, AppError> {
    let user = access::require(Role::Viewer).await?;
    let state = app_state()?;
    let schedules = ssr::store::list(&state.db, ssr::clock::now_system())
        .await?
        .into_iter()
        .filter(|s| ssr::may_see(&user, s))
        .collect();
    Ok(SchedulesOverview {
        schedules,
        server_timezone: ssr::zone::server_zone_name(),
        clusters: state
            .clusters
            .all()
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    })
}

/// The next runs of `calendar` read in `timezone`, or why it is not a valid schedule.
#[server(prefix = "/api", endpoint = "schedule_preview")]
pub async fn preview_schedule(
    calendar: String,
    timezone: String,
) -> Result<Vec<RunTime>, AppError> {
    access::require(Role::Viewer).await?;
    let when = ssr::When::parse(&calendar, &timezone)?;
    Ok(when.upcoming(ssr::clock::now_system(), PREVIEW_RUNS))
}

/// Creates or changes a schedule (operators and admins; a scoped operator only for guests in
/// their scope). Returns its id.
#[server(prefix = "/api", endpoint = "schedule_save")]
pub async fn save_schedule(form: ScheduleForm) -> Result<i64, AppError> {
    let user = access::require(Role::Operator).await?;
    ssr::save(&user, form).await
}

/// Turns a schedule on or off. Turned on, it starts from now: slots of the time it was off are
/// not run late.
#[server(prefix = "/api", endpoint = "schedule_enable")]
pub async fn enable_schedule(id: i64, enabled: bool) -> Result<(), AppError> {
    let user = access::require(Role::Operator).await?;
    let state = app_state()?;
    let schedule = ssr::managed(&state.db, &user, id).await?;
    ssr::store::set_enabled(&state.db, schedule.id, enabled, ssr::clock::now_system()).await?;
    tracing::info!(user = %user.username, schedule = id, enabled, "power schedule switched");
    Ok(())
}

/// Deletes a schedule and its run history.
#[server(prefix = "/api", endpoint = "schedule_delete")]
pub async fn delete_schedule(id: i64) -> Result<(), AppError> {
    let user = access::require(Role::Operator).await?;
    let state = app_state()?;
    let schedule = ssr::managed(&state.db, &user, id).await?;
    ssr::store::delete(&state.db, schedule.id).await?;
    tracing::info!(user = %user.username, schedule = id, name = %schedule.name, "power schedule deleted");
    Ok(())
}

/// Runs a schedule now, outside its calendar; returns the run's id.
#[server(prefix = "/api", endpoint = "schedule_run_now")]
pub async fn run_schedule_now(id: i64) -> Result<i64, AppError> {
    let user = access::require(Role::Operator).await?;
    let state = app_state()?;
    let schedule = ssr::managed(&state.db, &user, id).await?;
    let scheduler = crate::state::context::<std::sync::Arc<ssr::Scheduler>>()?;
    let run = scheduler.run_now(&schedule, &user.username).await?;
    tracing::info!(user = %user.username, schedule = id, run, "power schedule run now");
    Ok(run)
}

/// The latest runs of a schedule, newest first.
#[server(prefix = "/api", endpoint = "schedule_runs")]
pub async fn schedule_runs(id: i64) -> Result<Vec<ScheduleRun>, AppError> {
    let user = access::require(Role::Viewer).await?;
    let state = app_state()?;
    let schedule = ssr::store::get(&state.db, id, ssr::clock::now_system()).await?;
    if !ssr::may_see(&user, &schedule) {
        return Err(ssr::not_found(id));
    }
    ssr::store::runs(&state.db, id, &schedule.timezone, 20).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_back_as_typed() {
        let vms = ScheduleTarget::Vms(vec![100, 101]);
        assert_eq!((vms.kind(), vms.value().as_str()), ("vms", "100,101"));
        assert_eq!(vms.describe(), "guests 100, 101");
        assert_eq!(ScheduleTarget::Vms(vec![7]).describe(), "guest 7");
        assert_eq!(ScheduleTarget::Tag("web".into()).describe(), "tag web");
        assert_eq!(ScheduleTarget::Pool("prod".into()).kind(), "pool");
    }

    #[test]
    fn run_status_names_round_trip() {
        for s in ["running", "ok", "partial", "failed", "missed"] {
            assert_eq!(RunStatus::from_name(s).unwrap().as_str(), s);
        }
        assert_eq!(RunStatus::from_name("done"), None);
    }
}
