//! The scheduler: each tick it finds the slots that have come, claims each in the database
//! before acting (so a restart, a second instance or a clock set back never runs a slot
//! twice), records the ones too old to run as missed, and takes over the runs of a runner that
//! died.
//!
//! A slot is due once the clock has passed it. Of the due slots of one schedule only the latest
//! may still run, and only within the schedule's grace; the older ones — Cecyber was not
//! running, or its clock jumped forward — are recorded as missed. Slots are found from the
//! schedule's cursor (`checked_until`), never from the clock alone, so none is skipped
//! silently.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::SqlitePool;
use tokio::task::JoinHandle;

use super::{
    clock::Clock,
    runner::{self, RunContext, RunJob},
    store,
    zone::When,
};
use crate::{
    error::{AppError, AppResult},
    schedules::PowerSchedule,
    state::clusters::Clusters,
};

/// Between two ticks.
const TICK: Duration = Duration::from_secs(1);
/// A running run whose runner has not said it is alive for this long is taken over.
pub const STALE_SECS: i64 = 6 * runner::HEARTBEAT.as_secs() as i64;
/// At most this many due slots of one schedule are looked at per tick (a minutely schedule
/// after a long outage records its misses over a few ticks rather than all at once).
const SLOTS_PER_TICK: usize = 1000;
/// A slot this late still counts as on time, whatever the schedule's grace: ticks come about
/// a second apart and may be delayed by a busy database.
const ON_TIME_SECS: i64 = 60;

/// Runs the power schedules.
pub struct Scheduler {
    ctx: RunContext,
    /// Runs this process is working on: never taken over by itself, however late its
    /// heartbeat (a clock that jumped forward).
    active: Arc<Mutex<HashSet<i64>>>,
    /// Schedules whose calendar or zone cannot be read (warned about once).
    unreadable: Mutex<HashSet<i64>>,
    /// True once the loop runs: "run now" needs a process that runs schedules.
    looping: AtomicBool,
}

/// The grace of a schedule, at least [`ON_TIME_SECS`].
fn grace(schedule: &store::ScheduleRow) -> i64 {
    schedule.grace_secs.max(ON_TIME_SECS)
}

impl Scheduler {
    /// A scheduler over `db` and `clusters` reading `clock`.
    pub fn new(db: SqlitePool, clusters: Arc<Clusters>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            ctx: RunContext {
                db,
                clusters,
                clock,
            },
            active: Arc::default(),
            unreadable: Mutex::default(),
            looping: AtomicBool::new(false),
        })
    }

    /// Ticks every second until the task is dropped or aborted.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
        self.looping.store(true, Ordering::SeqCst);
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(TICK);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = this.tick().await {
                    tracing::warn!(error = %e, "power scheduler tick failed");
                }
            }
        })
    }

    /// One look at the clock: claims and starts the due slots, records missed ones, takes over
    /// stale runs. Returns the runners it started (tests wait for them).
    pub async fn tick(&self) -> AppResult<Vec<JoinHandle<()>>> {
        let now = self.ctx.clock.now();
        let mut started = Vec::new();
        for schedule in store::rows(&self.ctx.db).await? {
            if !schedule.enabled {
                continue;
            }
            let Ok(when) = When::parse(&schedule.calendar, &schedule.timezone) else {
                if self.lock_unreadable().insert(schedule.id) {
                    tracing::error!(schedule = schedule.id, calendar = %schedule.calendar, timezone = %schedule.timezone, "power schedule cannot be read (its time zone left the database?); not run until it is saved again");
                }
                continue;
            };
            // One schedule's failure (a busy database) does not hold up the others.
            match self.due(&schedule, &when, now).await {
                Ok(Some(handle)) => started.push(handle),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(schedule = schedule.id, error = %e, "power schedule slots not dealt with; next tick")
                }
            }
        }
        for run in store::stale_runs(&self.ctx.db, now - STALE_SECS).await? {
            if self.lock_active().contains(&run.id) {
                continue;
            }
            match self.take_over(run, now).await {
                Ok(Some(handle)) => started.push(handle),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "stale power schedule run not taken over; next tick")
                }
            }
        }
        Ok(started)
    }

    async fn take_over(
        &self,
        run: store::ActiveRun,
        now: i64,
    ) -> AppResult<Option<JoinHandle<()>>> {
        let runner = runner::token();
        if !store::take_over(&self.ctx.db, &run, now, &runner).await? {
            return Ok(None);
        }
        let schedule = store::row(&self.ctx.db, run.schedule_id).await?;
        tracing::warn!(
            run = run.id,
            schedule = schedule.id,
            "power schedule run taken over from a runner that stopped"
        );
        let deadline = run.slot.unwrap_or(run.started_at) + grace(&schedule);
        Ok(Some(self.start(run.id, runner, schedule, deadline, true)))
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_unreadable(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.unreadable.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deals with the slots of `schedule` that have come by `now`.
    async fn due(
        &self,
        schedule: &store::ScheduleRow,
        when: &When,
        now: i64,
    ) -> AppResult<Option<JoinHandle<()>>> {
        let mut due = Vec::new();
        let mut cursor = schedule.checked_until;
        // Whether the slots up to now are all found (not cut at SLOTS_PER_TICK): only then is
        // the last one found the latest, the one that may still run.
        let mut all_found = false;
        while due.len() < SLOTS_PER_TICK {
            match when.next_after(cursor) {
                Some(slot) if slot <= now => {
                    due.push(slot);
                    cursor = slot;
                }
                _ => {
                    all_found = true;
                    break;
                }
            }
        }
        let Some(&latest) = due.last() else {
            return Ok(None);
        };
        let runs_late = all_found && now - latest <= grace(schedule);
        let missed = if runs_late {
            &due[..due.len() - 1]
        } else {
            &due[..]
        };
        let why = format!(
            "not run: Cecyber could only run it after its grace of {} min (was it stopped, or did the clock jump?)",
            schedule.grace_secs / 60
        );
        let runner = runner::token();
        let due = store::DueSlots {
            schedule: schedule.id,
            missed,
            why: &why,
            run: runs_late.then_some(latest),
            until: latest,
        };
        let claimed = store::record_slots(&self.ctx.db, &due, now, &runner).await?;
        if !missed.is_empty() {
            tracing::warn!(schedule = schedule.id, name = %schedule.name, missed = missed.len(), "power schedule slots missed");
        }
        Ok(claimed.map(|run| {
            self.start(
                run,
                runner,
                schedule.clone(),
                latest + grace(schedule),
                false,
            )
        }))
    }

    /// Runs `schedule` now for `user`, outside its calendar; returns the run's id. Refused
    /// while a run of it is going, and by a process that does not run schedules (nothing
    /// would take the run over if it stopped).
    pub async fn run_now(&self, schedule: &PowerSchedule, user: &str) -> AppResult<i64> {
        if !self.looping.load(Ordering::SeqCst) {
            return Err(AppError::Conflict(
                "this Cecyber does not run schedules (run_schedules = false)".into(),
            ));
        }
        let now = self.ctx.clock.now();
        let row = store::row(&self.ctx.db, schedule.id).await?;
        let runner = runner::token();
        let Some(run) = store::insert_manual_run(&self.ctx.db, row.id, user, now, &runner).await?
        else {
            return Err(AppError::Conflict(format!(
                "a run of schedule {} is still going; wait for it to end.",
                row.name
            )));
        };
        let deadline = now + grace(&row);
        self.start(run, runner, row, deadline, false);
        Ok(run)
    }

    fn start(
        &self,
        run: i64,
        runner: String,
        schedule: store::ScheduleRow,
        deadline: i64,
        taken_over: bool,
    ) -> JoinHandle<()> {
        tracing::info!(run, schedule = schedule.id, name = %schedule.name, action = schedule.action.path_segment(), "power schedule run starts");
        self.lock_active().insert(run);
        let working = Working {
            run,
            active: Arc::clone(&self.active),
        };
        let job = RunJob {
            run,
            runner,
            schedule,
            deadline,
            taken_over,
        };
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let _working = working;
            runner::execute(ctx, job).await;
        })
    }
}

/// A run this process works on, until its runner ends however it ends (a panic too): then
/// another tick may take the run over.
struct Working {
    run: i64,
    active: Arc<Mutex<HashSet<i64>>>,
}

impl Drop for Working {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.run);
    }
}
