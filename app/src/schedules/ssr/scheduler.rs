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

use std::{sync::Arc, time::Duration};

use sqlx::SqlitePool;
use tokio::task::JoinHandle;

use super::{
    clock::Clock,
    runner::{self, RunContext, RunJob},
    store,
    zone::When,
};
use crate::{error::AppResult, schedules::PowerSchedule, state::clusters::Clusters};

/// Between two ticks.
const TICK: Duration = Duration::from_secs(1);
/// A running run whose runner has not said it is alive for this long is taken over.
pub const STALE_SECS: i64 = 6 * runner::HEARTBEAT.as_secs() as i64;
/// At most this many due slots of one schedule are looked at per tick (a minutely schedule
/// after a long outage records its misses over a few ticks rather than all at once).
const SLOTS_PER_TICK: usize = 1000;

/// Runs the power schedules.
pub struct Scheduler {
    ctx: RunContext,
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
        })
    }

    /// Ticks every second until the task is dropped or aborted.
    pub fn spawn(self: &Arc<Self>) -> JoinHandle<()> {
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
                tracing::warn!(schedule = schedule.id, calendar = %schedule.calendar, timezone = %schedule.timezone, "power schedule cannot be read; not run");
                continue;
            };
            if let Some(handle) = self.due(&schedule, &when, now).await? {
                started.push(handle);
            }
        }
        for run in store::stale_runs(&self.ctx.db, now - STALE_SECS).await? {
            if !store::take_over(&self.ctx.db, &run, now).await? {
                continue;
            }
            let schedule = store::row(&self.ctx.db, run.schedule_id).await?;
            tracing::warn!(
                run = run.id,
                schedule = schedule.id,
                "power schedule run taken over from a runner that stopped"
            );
            let grace_from = run.slot.unwrap_or(run.started_at);
            let deadline = grace_from + schedule.grace_secs;
            started.push(self.start(run.id, schedule, deadline));
        }
        Ok(started)
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
        while due.len() < SLOTS_PER_TICK {
            match when.next_after(cursor) {
                Some(slot) if slot <= now => {
                    due.push(slot);
                    cursor = slot;
                }
                _ => break,
            }
        }
        let Some(&latest) = due.last() else {
            return Ok(None);
        };
        let runs_late = now - latest <= schedule.grace_secs;
        let missed = if runs_late {
            &due[..due.len() - 1]
        } else {
            &due[..]
        };
        let why = format!(
            "not run: Cecyber could only run it after its grace of {} min (was it stopped, or did the clock jump?)",
            schedule.grace_secs / 60
        );
        let claimed = store::record_slots(
            &self.ctx.db,
            schedule.id,
            missed,
            &why,
            runs_late.then_some(latest),
            latest,
            now,
        )
        .await?;
        if !missed.is_empty() {
            tracing::warn!(schedule = schedule.id, name = %schedule.name, missed = missed.len(), "power schedule slots missed");
        }
        Ok(claimed.map(|run| self.start(run, schedule.clone(), latest + schedule.grace_secs)))
    }

    /// Runs `schedule` now for `user`, outside its calendar; returns the run's id.
    pub async fn run_now(&self, schedule: &PowerSchedule, user: &str) -> AppResult<i64> {
        let now = self.ctx.clock.now();
        let row = store::row(&self.ctx.db, schedule.id).await?;
        let run = store::insert_manual_run(&self.ctx.db, row.id, user, now).await?;
        let deadline = now + row.grace_secs;
        self.start(run, row, deadline);
        Ok(run)
    }

    fn start(&self, run: i64, schedule: store::ScheduleRow, deadline: i64) -> JoinHandle<()> {
        tracing::info!(run, schedule = schedule.id, name = %schedule.name, action = schedule.action.path_segment(), "power schedule run starts");
        tokio::spawn(runner::execute(
            self.ctx.clone(),
            RunJob {
                run,
                schedule,
                deadline,
            },
        ))
    }
}
