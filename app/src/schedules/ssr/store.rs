//! Power schedules, their runs and each run's guests in the database. The scheduler's
//! exactly-once rests on two things here: a run row per slot (`UNIQUE (schedule_id, slot)`,
//! inserted before anything is asked of PVE) and each schedule's cursor `checked_until`, moved
//! in the same transaction.

use pve::types::PowerAction;
use sqlx::SqlitePool;

use super::zone::When;
use crate::{
    error::{AppError, AppResult},
    schedules::{PREVIEW_RUNS, PowerSchedule, RunGuest, RunStatus, ScheduleRun, ScheduleTarget},
};

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// Database id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Cluster.
    pub cluster: String,
    /// Action.
    pub action: PowerAction,
    /// Guests.
    pub target: ScheduleTarget,
    /// PVE calendar event.
    pub calendar: String,
    /// IANA zone.
    pub timezone: String,
    /// Seconds a missed slot may still run late.
    pub grace_secs: i64,
    /// On or off.
    pub enabled: bool,
    /// Whose role and scope its runs act with (`None`: that user was deleted).
    pub owner_id: Option<i64>,
    /// The owner's name (empty when deleted).
    pub owner: String,
    /// Slots up to this instant are dealt with.
    pub checked_until: i64,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    bool,
    Option<i64>,
    String,
    i64,
);

/// The columns of a [`Row`], the owner's name joined in.
const SELECT: &str = "SELECT s.id, s.name, s.cluster, s.action, s.target_kind, s.target, \
                      s.calendar, s.timezone, s.grace_secs, s.enabled, s.owner_id, \
                      COALESCE(u.username, ''), s.checked_until \
                      FROM power_schedules s LEFT JOIN users u ON u.id = s.owner_id";

fn from_row(row: Row) -> AppResult<ScheduleRow> {
    let (id, name, cluster, action, kind, target, calendar, timezone, grace, enabled) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    let (owner_id, owner, ck) = (row.10, row.11, row.12);
    let bad = |what: &str| {
        tracing::error!(schedule = id, what, "stored power schedule unreadable");
        AppError::Internal
    };
    Ok(ScheduleRow {
        id,
        name,
        cluster,
        action: action.parse().map_err(|_| bad("action"))?,
        target: target_from_db(&kind, &target).ok_or_else(|| bad("target"))?,
        calendar,
        timezone,
        grace_secs: grace,
        enabled,
        owner_id,
        owner,
        checked_until: ck,
    })
}

fn target_from_db(kind: &str, value: &str) -> Option<ScheduleTarget> {
    Some(match kind {
        "vms" => ScheduleTarget::Vms(
            value
                .split(',')
                .map(|id| id.parse().ok())
                .collect::<Option<_>>()?,
        ),
        "tag" => ScheduleTarget::Tag(value.to_owned()),
        "pool" => ScheduleTarget::Pool(value.to_owned()),
        _ => return None,
    })
}

/// Every schedule, as stored.
pub async fn rows(db: &SqlitePool) -> AppResult<Vec<ScheduleRow>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY s.id"))
        .fetch_all(db)
        .await?;
    rows.into_iter().map(from_row).collect()
}

/// One schedule, as stored.
pub async fn row(db: &SqlitePool, id: i64) -> AppResult<ScheduleRow> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE s.id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    from_row(row.ok_or_else(|| super::not_found(id))?)
}

/// Every schedule with its next runs (after `now`) and latest run, for the list.
pub async fn list(db: &SqlitePool, now: i64) -> AppResult<Vec<PowerSchedule>> {
    let mut list = Vec::new();
    for row in rows(db).await? {
        list.push(shown(db, row, now).await?);
    }
    Ok(list)
}

/// One schedule as the list shows it.
pub async fn get(db: &SqlitePool, id: i64, now: i64) -> AppResult<PowerSchedule> {
    shown(db, row(db, id).await?, now).await
}

async fn shown(db: &SqlitePool, row: ScheduleRow, now: i64) -> AppResult<PowerSchedule> {
    let when = When::parse(&row.calendar, &row.timezone).ok();
    let next_runs = match (&when, row.enabled) {
        (Some(when), true) => when.upcoming(now.max(row.checked_until), PREVIEW_RUNS),
        _ => Vec::new(),
    };
    let last_run = runs(db, row.id, &row.timezone, 1).await?.into_iter().next();
    Ok(PowerSchedule {
        id: row.id,
        name: row.name,
        cluster: row.cluster,
        action: row.action,
        target: row.target,
        calendar: row.calendar,
        timezone: row.timezone,
        grace_minutes: u32::try_from(row.grace_secs / 60).unwrap_or(0),
        enabled: row.enabled,
        owner: row.owner,
        next_runs,
        last_run,
    })
}

/// What a save writes (checked by the caller).
pub struct NewSchedule<'a> {
    /// Name.
    pub name: &'a str,
    /// Cluster.
    pub cluster: &'a str,
    /// Action.
    pub action: PowerAction,
    /// Guests.
    pub target: &'a ScheduleTarget,
    /// Calendar event, as typed (trimmed).
    pub calendar: &'a str,
    /// Zone name.
    pub timezone: &'a str,
    /// Grace in seconds.
    pub grace_secs: i64,
    /// On or off.
    pub enabled: bool,
    /// The id of the user saving it.
    pub owner_id: i64,
}

/// Binds the fields a save writes, in the order of the columns `name` … `owner_id`.
fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    s: &NewSchedule<'q>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    query
        .bind(s.name)
        .bind(s.cluster)
        .bind(s.action.path_segment())
        .bind(s.target.kind())
        .bind(s.target.value())
        .bind(s.calendar)
        .bind(s.timezone)
        .bind(s.grace_secs)
        .bind(s.enabled)
        .bind(s.owner_id)
}

/// Creates a schedule whose first slot is the first after `now`.
pub async fn insert(db: &SqlitePool, s: &NewSchedule<'_>, now: i64) -> AppResult<i64> {
    let query = sqlx::query(
        "INSERT INTO power_schedules (name, cluster, action, target_kind, target, calendar, \
         timezone, grace_secs, enabled, owner_id, created_at, updated_at, checked_until) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    let done = bind_fields(query, s)
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.last_insert_rowid())
}

/// Changes a schedule. Its cursor moves to `now` if it was behind, so that a new calendar does
/// not run slots of the past.
pub async fn update(db: &SqlitePool, id: i64, s: &NewSchedule<'_>, now: i64) -> AppResult<()> {
    let query = sqlx::query(
        "UPDATE power_schedules SET name = ?, cluster = ?, action = ?, target_kind = ?, \
         target = ?, calendar = ?, timezone = ?, grace_secs = ?, enabled = ?, owner_id = ?, \
         updated_at = ?, checked_until = MAX(checked_until, ?) WHERE id = ?",
    );
    let done = bind_fields(query, s)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(super::not_found(id));
    }
    Ok(())
}

/// Turns a schedule on or off; turned on, it starts from `now`.
pub async fn set_enabled(db: &SqlitePool, id: i64, enabled: bool, now: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE power_schedules SET enabled = ?, updated_at = ?, \
         checked_until = CASE WHEN ? THEN MAX(checked_until, ?) ELSE checked_until END \
         WHERE id = ?",
    )
    .bind(enabled)
    .bind(now)
    .bind(enabled)
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes a schedule with its runs.
pub async fn delete(db: &SqlitePool, id: i64) -> AppResult<()> {
    sqlx::query("DELETE FROM power_schedules WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The due slots of one schedule, as the scheduler found them.
pub struct DueSlots<'a> {
    /// The schedule.
    pub schedule: i64,
    /// Slots recorded as missed.
    pub missed: &'a [i64],
    /// Why they were missed.
    pub why: &'a str,
    /// The slot to claim and run, if any.
    pub run: Option<i64>,
    /// The schedule's cursor moves here.
    pub until: i64,
}

/// Records slot `slot` of schedule `id` as missed, saying why, unless it has a row already.
async fn insert_missed(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: i64,
    slot: i64,
    why: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO power_schedule_runs (schedule_id, slot, status, requested_by, started_at, \
         finished_at, heartbeat_at, runner, message) \
         VALUES (?, ?, 'missed', 'schedule', ?, ?, ?, '', ?) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(slot)
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(why)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records the due slots of a schedule at once: the missed ones as missed (with why), the one
/// to run (if any) as a run claimed now by `runner`, and the cursor moved on. A slot that
/// already has a row (another process, or before a restart) is left alone. Returns the claimed
/// run's id, if this call claimed it.
pub async fn record_slots(
    db: &SqlitePool,
    due: &DueSlots<'_>,
    now: i64,
    runner: &str,
) -> AppResult<Option<i64>> {
    let DueSlots {
        schedule: id,
        missed,
        why,
        run,
        until,
    } = *due;
    let mut tx = db.begin().await?;
    for &slot in missed {
        insert_missed(&mut tx, id, slot, why, now).await?;
    }
    let mut claimed = None;
    if let Some(slot) = run {
        // Not while a run of the schedule still goes (the slot before, or a "run now"): its
        // guests could be asked twice. The slot is then recorded as missed, saying why.
        let done = sqlx::query(
            "INSERT INTO power_schedule_runs (schedule_id, slot, status, requested_by, \
             started_at, heartbeat_at, runner) SELECT ?, ?, 'running', 'schedule', ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM power_schedule_runs \
                               WHERE schedule_id = ? AND status = 'running') \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(slot)
        .bind(now)
        .bind(now)
        .bind(runner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            claimed = Some(done.last_insert_rowid());
        } else {
            insert_missed(&mut tx, id, slot, BUSY, now).await?;
        }
    }
    sqlx::query("UPDATE power_schedules SET checked_until = MAX(checked_until, ?) WHERE id = ?")
        .bind(until)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Why a slot did not run while the schedule's previous run still went.
pub const BUSY: &str = "not run: the schedule's previous run was still going";

/// Starts a run outside the calendar ("run now") for `user`, unless a run of the schedule is
/// still going (its guests would be acted on twice); `None` then.
pub async fn insert_manual_run(
    db: &SqlitePool,
    id: i64,
    user: &str,
    now: i64,
    runner: &str,
) -> AppResult<Option<i64>> {
    let done = sqlx::query(
        "INSERT INTO power_schedule_runs (schedule_id, slot, status, requested_by, started_at, \
         heartbeat_at, runner) SELECT ?, NULL, 'running', ?, ?, ?, ? \
         WHERE NOT EXISTS (SELECT 1 FROM power_schedule_runs \
                           WHERE schedule_id = ? AND status = 'running')",
    )
    .bind(id)
    .bind(user)
    .bind(now)
    .bind(now)
    .bind(runner)
    .bind(id)
    .execute(db)
    .await?;
    Ok((done.rows_affected() == 1).then(|| done.last_insert_rowid()))
}

/// A run a runner works on (or should take over).
#[derive(Debug, Clone)]
pub struct ActiveRun {
    /// Run id.
    pub id: i64,
    /// Its schedule.
    pub schedule_id: i64,
    /// Its slot (`None`: run now).
    pub slot: Option<i64>,
    /// When it started.
    pub started_at: i64,
    /// The runner's last sign of life.
    pub heartbeat_at: i64,
}

/// Runs still marked running whose runner has given no sign of life since `before`: their
/// process died (or hangs); another runner may take them over.
pub async fn stale_runs(db: &SqlitePool, before: i64) -> AppResult<Vec<ActiveRun>> {
    let rows: Vec<(i64, i64, Option<i64>, i64, i64)> = sqlx::query_as(
        "SELECT id, schedule_id, slot, started_at, heartbeat_at FROM power_schedule_runs \
         WHERE status = 'running' AND heartbeat_at < ? ORDER BY id",
    )
    .bind(before)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, schedule_id, slot, started_at, heartbeat_at)| ActiveRun {
                id,
                schedule_id,
                slot,
                started_at,
                heartbeat_at,
            },
        )
        .collect())
}

/// Takes over a stale run for `runner`: succeeds for one caller only (the heartbeat it saw
/// must still be there); the runner that had it can write nothing more to it.
pub async fn take_over(
    db: &SqlitePool,
    run: &ActiveRun,
    now: i64,
    runner: &str,
) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE power_schedule_runs SET heartbeat_at = ?, runner = ? \
         WHERE id = ? AND status = 'running' AND heartbeat_at = ?",
    )
    .bind(now)
    .bind(runner)
    .bind(run.id)
    .bind(run.heartbeat_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The runner is alive; false when the run is no longer its own (taken over, or ended).
pub async fn heartbeat(db: &SqlitePool, run: i64, runner: &str, now: i64) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE power_schedule_runs SET heartbeat_at = ? \
         WHERE id = ? AND runner = ? AND status = 'running'",
    )
    .bind(now)
    .bind(run)
    .bind(runner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a run, if it is still `runner`'s.
pub async fn finish(
    db: &SqlitePool,
    run: i64,
    runner: &str,
    status: RunStatus,
    message: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE power_schedule_runs SET status = ?, message = ?, finished_at = ?, \
         heartbeat_at = ? WHERE id = ? AND runner = ? AND status = 'running'",
    )
    .bind(status.as_str())
    .bind(message)
    .bind(now)
    .bind(now)
    .bind(run)
    .bind(runner)
    .execute(db)
    .await?;
    Ok(())
}

/// True while run `?` is `runner`'s (an SQL condition; binds: the run, the runner).
const OWNED_RUN: &str = "EXISTS (SELECT 1 FROM power_schedule_runs r \
                         WHERE r.id = ? AND r.runner = ? AND r.status = 'running')";

/// True while the guest row's run is `runner`'s (an SQL condition; binds: the runner).
const OWNED: &str = "EXISTS (SELECT 1 FROM power_schedule_runs r \
                     WHERE r.id = run_id AND r.runner = ? AND r.status = 'running')";

/// Lists a run's guests (once, before the first is acted on); false when the run is not
/// `runner`'s any more (nothing written then). Every statement writes: a transaction that
/// read first and wrote later could fail at once with "database is locked" when another
/// writer came in between (SQLite cannot upgrade it).
pub async fn insert_guests(
    db: &SqlitePool,
    run: i64,
    runner: &str,
    guests: &[RunGuest],
) -> AppResult<bool> {
    let mut tx = db.begin().await?;
    for g in guests {
        let done = sqlx::query(&format!(
            "INSERT INTO power_schedule_run_guests (run_id, vmid, node, kind, name, state, upid, \
             result) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE {OWNED_RUN}"
        ))
        .bind(run)
        .bind(g.vmid)
        .bind(&g.node)
        .bind(&g.kind)
        .bind(&g.name)
        .bind(&g.state)
        .bind(&g.upid)
        .bind(&g.result)
        .bind(run)
        .bind(runner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// A guest's move from one state to the next, in a run of one runner.
pub struct GuestMove<'a> {
    /// The run.
    pub run: i64,
    /// The runner that must still have it.
    pub runner: &'a str,
    /// The guest.
    pub vmid: u32,
    /// The state it must be in.
    pub from: &'a str,
    /// Its new state.
    pub to: &'a str,
}

/// Moves a guest to its next state (with its task, if one started, and the result); false when
/// it was not in the expected state or the run is no longer the runner's — then nothing
/// changed, and the caller must not act on the guest.
pub async fn move_guest(
    db: &SqlitePool,
    step: GuestMove<'_>,
    upid: Option<&str>,
    result: &str,
) -> AppResult<bool> {
    let done = sqlx::query(&format!(
        "UPDATE power_schedule_run_guests SET state = ?, upid = COALESCE(?, upid), result = ? \
         WHERE run_id = ? AND vmid = ? AND state = ? AND {OWNED}"
    ))
    .bind(step.to)
    .bind(upid)
    .bind(result)
    .bind(step.run)
    .bind(step.vmid)
    .bind(step.from)
    .bind(step.runner)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A run's guests.
pub async fn guests(db: &SqlitePool, run: i64) -> AppResult<Vec<RunGuest>> {
    type GuestRow = (i64, String, String, String, String, Option<String>, String);
    let rows: Vec<GuestRow> = sqlx::query_as(
        "SELECT vmid, node, kind, name, state, upid, result FROM power_schedule_run_guests \
             WHERE run_id = ? ORDER BY vmid",
    )
    .bind(run)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(vmid, node, kind, name, state, upid, result)| RunGuest {
            vmid: u32::try_from(vmid).unwrap_or_default(),
            node,
            kind,
            name,
            state,
            upid,
            result,
        })
        .collect())
}

/// The latest `limit` runs of schedule `id`, newest first, their slots read in `timezone`.
pub async fn runs(
    db: &SqlitePool,
    id: i64,
    timezone: &str,
    limit: i64,
) -> AppResult<Vec<ScheduleRun>> {
    type RunRow = (i64, Option<i64>, String, String, i64, Option<i64>, String);
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT id, slot, requested_by, status, started_at, finished_at, message \
         FROM power_schedule_runs WHERE schedule_id = ? \
         ORDER BY COALESCE(slot, started_at) DESC, id DESC LIMIT ?",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let zone = super::zone::zone(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut runs = Vec::with_capacity(rows.len());
    for (run_id, slot, requested_by, status, started_at, finished_at, message) in rows {
        runs.push(ScheduleRun {
            id: run_id,
            slot: slot.map(|at| crate::schedules::RunTime {
                at,
                local: super::zone::local_time(at, &zone),
            }),
            requested_by,
            status: RunStatus::from_name(&status).unwrap_or(RunStatus::Failed),
            started_at,
            finished_at,
            message,
            guests: guests(db, run_id).await?,
        });
    }
    Ok(runs)
}
