//! One run of a schedule: which guests it acts on (resolved from the cluster's resources at
//! run time, with the owner's role and scope), the power action on each — a few at a time —
//! and each PVE task followed to its end. Every step is written down before the next, so a
//! runner that takes over a run after a crash knows what was done: a guest still `pending` was
//! never asked for, one `running` has a task to follow, one `sending` may or may not have
//! reached PVE and is not asked twice (`unknown`). Every step is a compare-and-set on the
//! guest's state within a run the runner still holds (its token): a runner whose run was taken
//! over — it was slow, or the clock jumped — can neither act on a guest nor write anything.

use std::{sync::Arc, time::Duration};

use pve::{
    ids::{NodeName, Upid, VmId},
    types::{ClusterResource, GuestKind, PowerAction, VmStatus},
};
use sqlx::SqlitePool;

use super::{clock::Clock, store};
use crate::{
    access::{Role, Scope},
    bulk::{BulkAction, VmPick},
    error::{AppError, AppResult},
    schedules::{RunGuest, RunStatus, ScheduleTarget},
    state::clusters::{Cluster, Clusters},
};

/// Guests acted on at once, as in the bulk actions.
const PARALLEL: usize = crate::bulk::PARALLEL_TASKS;
/// How often a runner says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Between two reads of a task's status.
const TASK_POLL: Duration = Duration::from_secs(1);
/// Longest a task is followed (a shutdown waits for the guest, up to PVE's own timeout).
const TASK_LIMIT: Duration = Duration::from_secs(30 * 60);
/// Between two tries while PVE does not answer (within the slot's grace).
const RETRY: Duration = Duration::from_secs(10);

/// What a runner needs.
#[derive(Clone)]
pub struct RunContext {
    /// The database.
    pub db: SqlitePool,
    /// The clusters.
    pub clusters: Arc<Clusters>,
    /// The scheduler's clock.
    pub clock: Arc<dyn Clock>,
}

/// The run to work on.
#[derive(Debug, Clone)]
pub struct RunJob {
    /// Run id.
    pub run: i64,
    /// This runner's token: the run is its own while the run row carries it.
    pub runner: String,
    /// Its schedule.
    pub schedule: store::ScheduleRow,
    /// After this instant, a run that could not reach PVE gives up, and a run taken over acts
    /// on no guest it had not asked for yet.
    pub deadline: i64,
    /// True when this runner took the run over from one that stopped.
    pub taken_over: bool,
}

/// A new runner token.
pub fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Works a run to its end and records how it went. Never fails: what goes wrong is the
/// run's result. Stops at once, writing nothing more, if the run is taken from it.
pub async fn execute(ctx: RunContext, job: RunJob) {
    let run = job.run;
    let heartbeat = {
        let ctx = ctx.clone();
        let runner = job.runner.clone();
        async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                match store::heartbeat(&ctx.db, run, &runner, ctx.clock.now()).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(run, error = %e, "power schedule heartbeat not written")
                    }
                }
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work(&ctx, &job) => outcome,
        () = heartbeat => {
            tracing::warn!(run, schedule = job.schedule.id, "power schedule run taken over by another runner; this one stops");
            return;
        }
    };
    let (status, message) = match outcome {
        Ok(()) => match store::guests(&ctx.db, run).await {
            Ok(guests) => summary(&guests),
            Err(e) => (RunStatus::Failed, e.to_string()),
        },
        Err(e) => (RunStatus::Failed, e.to_string()),
    };
    let now = ctx.clock.now();
    if let Err(e) = store::finish(&ctx.db, run, &job.runner, status, &message, now).await {
        tracing::error!(run, error = %e, "power schedule run could not be recorded as ended");
    }
    if status == RunStatus::Ok {
        tracing::info!(run, schedule = job.schedule.id, name = %job.schedule.name, "power schedule run ended");
    } else {
        tracing::warn!(run, schedule = job.schedule.id, name = %job.schedule.name, status = status.as_str(), %message, "power schedule run did not succeed");
    }
}

/// The run's status from its guests.
fn summary(guests: &[RunGuest]) -> (RunStatus, String) {
    let count = |state: &str| guests.iter().filter(|g| g.state == state).count();
    let (ok, skipped) = (count("ok"), count("skipped"));
    // A guest still pending, sending or running when the lanes ended: its state could not be
    // written (the database failed); it counts as failed, never as done.
    let unfinished = count("pending") + count("sending") + count("running");
    let failed = count("failed") + count("unknown") + unfinished;
    if guests.is_empty() {
        return (RunStatus::Failed, "the schedule selects no guest".into());
    }
    let message = format!("{ok} done, {skipped} skipped, {failed} failed");
    let status = match (ok, failed) {
        (_, 0) => RunStatus::Ok,
        (0, _) => RunStatus::Failed,
        _ => RunStatus::Partial,
    };
    (status, message)
}

async fn work(ctx: &RunContext, job: &RunJob) -> AppResult<()> {
    let mut guests = store::guests(&ctx.db, job.run).await?;
    if guests.is_empty() {
        if job.taken_over && ctx.clock.now() > job.deadline {
            return Err(AppError::Conflict(
                "not run: Cecyber stopped before it had listed the guests, and came back after the grace".into(),
            ));
        }
        guests = plan(ctx, job).await?;
        if !store::insert_guests(&ctx.db, job.run, &job.runner, &guests).await? {
            // Taken over meanwhile: the heartbeat ends this runner.
            std::future::pending::<()>().await;
        }
    }
    let cluster = ctx.clusters.get(&job.schedule.cluster)?.clone();
    let todo: Vec<RunGuest> = guests
        .into_iter()
        .filter(|g| matches!(g.state.as_str(), "pending" | "sending" | "running"))
        .collect();
    futures::future::join_all(chunked(todo).into_iter().map(|lane| {
        let cluster = cluster.clone();
        async move {
            for guest in lane {
                if let Err(e) = act(ctx, job, &cluster, guest).await {
                    tracing::error!(run = job.run, error = %e, "power schedule guest state not written");
                }
            }
        }
    }))
    .await;
    Ok(())
}

/// Splits the guests into [`PARALLEL`] lanes that run side by side.
fn chunked(guests: Vec<RunGuest>) -> Vec<Vec<RunGuest>> {
    let mut lanes: Vec<Vec<RunGuest>> = vec![Vec::new(); PARALLEL];
    for (i, guest) in guests.into_iter().enumerate() {
        lanes[i % PARALLEL].push(guest);
    }
    lanes.retain(|l| !l.is_empty());
    lanes
}

/// Which guests the run acts on, and why not on the others: the owner must still be an
/// operator, and sees only the guests of their scope.
async fn plan(ctx: &RunContext, job: &RunJob) -> AppResult<Vec<RunGuest>> {
    let schedule = &job.schedule;
    let scope = owner_scope(&ctx.db, schedule.owner_id).await?;
    let cluster = ctx.clusters.get(&schedule.cluster).map_err(|_| {
        AppError::NotFound(format!(
            "cluster {} is no longer configured",
            schedule.cluster
        ))
    })?;
    let resources = resources_within(ctx, cluster, job.deadline).await?;
    Ok(select(
        &resources,
        &schedule.target,
        schedule.action,
        &scope,
    ))
}

/// The owner's scope, when they may still run power actions.
async fn owner_scope(db: &SqlitePool, owner: Option<i64>) -> AppResult<Scope> {
    let again = "save the schedule again as an operator";
    let Some(owner) = owner else {
        return Err(AppError::Forbidden(format!(
            "the user who saved it has been deleted: {again}"
        )));
    };
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT username, role, scope_tags FROM users WHERE id = ?")
            .bind(owner)
            .fetch_optional(db)
            .await?;
    let Some((name, role, scope)) = row else {
        return Err(AppError::Forbidden(format!(
            "the user who saved it has been deleted: {again}"
        )));
    };
    let role: Role = role.parse().map_err(|_| AppError::Internal)?;
    if !role.allows(Role::Operator) {
        return Err(AppError::Forbidden(format!(
            "its owner {name} is no longer an operator: {again}"
        )));
    }
    Ok(Scope::from_db(scope.as_deref()))
}

/// The cluster's resources as PVE tells them now; while PVE does not answer, tried again until
/// `deadline`.
async fn resources_within(
    ctx: &RunContext,
    cluster: &Cluster,
    deadline: i64,
) -> AppResult<Arc<Vec<ClusterResource>>> {
    loop {
        match cluster.resources_now().await {
            Ok(resources) => return Ok(resources),
            Err(e) => {
                let e = AppError::from(e);
                let transient = matches!(e, AppError::Unavailable(_) | AppError::TimedOut(_));
                if !transient || ctx.clock.now() + RETRY.as_secs() as i64 > deadline {
                    return Err(e);
                }
                tracing::warn!(cluster = %cluster.name, error = %e, "power schedule: PVE not answering, trying again");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Why a guest the schedule selects is not acted on: it is not the owner's to touch.
pub const OUTSIDE_SCOPE: &str = "outside the owner's scope";

/// The guests `target` selects in `resources`, each pending or with why it is skipped.
pub fn select(
    resources: &[ClusterResource],
    target: &ScheduleTarget,
    action: PowerAction,
    scope: &Scope,
) -> Vec<RunGuest> {
    let guests = resources.iter().filter(|r| r.guest_kind().is_some());
    let mut picked: Vec<RunGuest> = guests
        .filter(|r| selects(target, r))
        .map(|r| planned(r, action, scope))
        .collect();
    if let ScheduleTarget::Vms(ids) = target {
        for id in ids {
            if !picked.iter().any(|g| g.vmid == *id) {
                picked.push(RunGuest {
                    vmid: *id,
                    node: String::new(),
                    kind: GuestKind::Qemu.as_str().into(),
                    name: String::new(),
                    state: "failed".into(),
                    upid: None,
                    result: "no such guest in the cluster".into(),
                });
            }
        }
    }
    picked.sort_by_key(|g| g.vmid);
    picked
}

fn selects(target: &ScheduleTarget, r: &ClusterResource) -> bool {
    match target {
        ScheduleTarget::Vms(ids) => r.vmid.is_some_and(|id| ids.contains(&id)),
        ScheduleTarget::Tag(tag) => r.tag_list().iter().any(|t| t.eq_ignore_ascii_case(tag)),
        ScheduleTarget::Pool(pool) => r.pool.as_deref() == Some(pool.as_str()),
    }
}

fn planned(r: &ClusterResource, action: PowerAction, scope: &Scope) -> RunGuest {
    let kind = r.guest_kind().unwrap_or_default();
    let status = VmStatus::from_name(r.status.as_deref().unwrap_or_default());
    if !scope.allows_vm(&r.tag_list()) {
        // Its name and node are not the owner's to see (the run history shows them).
        return RunGuest {
            vmid: r.vmid.unwrap_or_default(),
            node: String::new(),
            kind: kind.as_str().into(),
            name: String::new(),
            state: "skipped".into(),
            upid: None,
            result: OUTSIDE_SCOPE.into(),
        };
    }
    // The same rules as a bulk action of the VM list: templates, locks, the actions PVE
    // accepts in each state.
    let pick = VmPick {
        cluster: String::new(),
        node: r.node.clone().unwrap_or_default(),
        vmid: r.vmid.unwrap_or_default(),
        name: r.name.clone().unwrap_or_default(),
        status,
        template: r.template,
        kind,
        lock: r.lock.clone(),
    };
    let skip = BulkAction::Power(action).refusal(&pick);
    RunGuest {
        vmid: pick.vmid,
        node: pick.node,
        kind: kind.as_str().into(),
        name: pick.name,
        state: if skip.is_some() { "skipped" } else { "pending" }.into(),
        upid: None,
        result: skip.unwrap_or_default(),
    }
}

/// Acts on one guest and follows its task; records each step, each a compare-and-set (see
/// the module's contract).
async fn act(ctx: &RunContext, job: &RunJob, cluster: &Cluster, guest: RunGuest) -> AppResult<()> {
    let step = |from: &'static str, to: &'static str| store::GuestMove {
        run: job.run,
        runner: &job.runner,
        vmid: guest.vmid,
        from,
        to,
    };
    let db = &ctx.db;
    let upid = match guest.state.as_str() {
        "pending" if job.taken_over && ctx.clock.now() > job.deadline => {
            let why = "not run: the run was taken over after its grace";
            store::move_guest(db, step("pending", "failed"), None, why).await?;
            return Ok(());
        }
        "pending" => {
            if !store::move_guest(db, step("pending", "sending"), None, "").await? {
                return Ok(()); // someone else's now
            }
            match start(ctx, cluster, &guest, job.schedule.action, job.deadline).await {
                Ok(upid) => {
                    let task = upid.to_string();
                    store::move_guest(db, step("sending", "running"), Some(&task), "").await?;
                    upid
                }
                Err((state, e)) => {
                    store::move_guest(db, step("sending", state), None, &e).await?;
                    return Ok(());
                }
            }
        }
        // Taken over while PVE was being asked: asking again could act twice.
        "sending" => {
            let why = "Cecyber stopped while asking PVE; see the task list";
            store::move_guest(db, step("sending", "unknown"), None, why).await?;
            return Ok(());
        }
        _ => match guest.upid.as_deref().map(str::parse::<Upid>) {
            Some(Ok(upid)) => upid,
            _ => {
                let why = "its task is not known";
                store::move_guest(db, step("running", "unknown"), None, why).await?;
                return Ok(());
            }
        },
    };
    let (state, result) = follow(cluster, &upid).await;
    store::move_guest(db, step("running", state), None, &result).await?;
    Ok(())
}

/// Asks PVE for the action; while PVE cannot be reached (nothing was sent) tries again every
/// [`RETRY`] until `deadline`. An error says what the guest's state becomes: `failed`, or
/// `unknown` when the request may have been carried out (a time-out).
async fn start(
    ctx: &RunContext,
    cluster: &Cluster,
    guest: &RunGuest,
    action: PowerAction,
    deadline: i64,
) -> Result<Upid, (&'static str, String)> {
    let invalid = |e: pve::ids::InvalidId| ("failed", e.to_string());
    let node: NodeName = guest.node.parse().map_err(invalid)?;
    let vmid = VmId::new(guest.vmid).map_err(invalid)?;
    loop {
        let asked = if guest.kind == GuestKind::Lxc.as_str() {
            cluster.api.lxc_power(&node, vmid, action).await
        } else {
            cluster.api.qemu_power(&node, vmid, action).await
        };
        match asked {
            Ok(upid) => return Ok(upid),
            Err(e) if e.retry_safe() && ctx.clock.now() + RETRY.as_secs() as i64 <= deadline => {
                tracing::warn!(cluster = %cluster.name, vmid = guest.vmid, error = %e, "power schedule: PVE not answering, trying again");
                tokio::time::sleep(RETRY).await;
            }
            Err(e @ (pve::Error::Timeout | pve::Error::Interrupted { .. })) => {
                return Err((
                    "unknown",
                    format!(
                        "{}; PVE may have started it: see the task list",
                        AppError::from(e)
                    ),
                ));
            }
            Err(e) => return Err(("failed", AppError::from(e).to_string())),
        }
    }
}

/// Follows a task until it ends: `ok` or `failed` with PVE's exit status.
async fn follow(cluster: &Cluster, upid: &Upid) -> (&'static str, String) {
    let started = tokio::time::Instant::now();
    loop {
        match cluster.api.task_status(upid).await {
            Ok(status) if !status.is_running() => {
                let exit = status.exitstatus.unwrap_or_default();
                let ok = exit == "OK" || exit.starts_with("WARNINGS");
                return (if ok { "ok" } else { "failed" }, exit);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(%upid, error = %e, "task status not readable now"),
        }
        if started.elapsed() > TASK_LIMIT {
            return (
                "unknown",
                "the task was still running when Cecyber stopped following it".into(),
            );
        }
        tokio::time::sleep(TASK_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(vmid: u32, status: &str, tags: &str) -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": format!("qemu/{vmid}"), "type": "qemu", "vmid": vmid, "node": "pve1",
            "name": format!("vm{vmid}"), "status": status, "tags": tags, "pool": "prod",
        }))
        .unwrap()
    }

    #[test]
    fn selection_skips_what_the_action_does_not_apply_to_and_names_missing_ids() {
        let resources = vec![guest(100, "running", "web"), guest(101, "stopped", "web")];
        let picked = select(
            &resources,
            &ScheduleTarget::Vms(vec![101, 100, 999]),
            PowerAction::Shutdown,
            &Scope::everything(),
        );
        let states: Vec<_> = picked
            .iter()
            .map(|g| (g.vmid, g.state.as_str(), g.result.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                (100, "pending", ""),
                (101, "skipped", "it is stopped"),
                (999, "failed", "no such guest in the cluster")
            ]
        );
    }

    #[test]
    fn selection_by_tag_and_pool_keeps_to_the_scope() {
        let resources = vec![
            guest(100, "stopped", "web;blue"),
            guest(101, "stopped", "db"),
        ];
        let scope = Scope::tags(["blue"]).unwrap();
        let by_pool = select(
            &resources,
            &ScheduleTarget::Pool("prod".into()),
            PowerAction::Start,
            &scope,
        );
        assert_eq!(by_pool[0].state, "pending");
        assert_eq!(
            (by_pool[1].state.as_str(), by_pool[1].result.as_str()),
            ("skipped", "outside the owner's scope")
        );
        let by_tag = select(
            &resources,
            &ScheduleTarget::Tag("WEB".into()),
            PowerAction::Start,
            &Scope::everything(),
        );
        assert_eq!(by_tag.len(), 1);
        assert_eq!(by_tag[0].vmid, 100);
    }

    #[test]
    fn a_run_is_ok_when_nothing_failed() {
        let g = |state: &str| RunGuest {
            vmid: 1,
            node: "n".into(),
            kind: "qemu".into(),
            name: String::new(),
            state: state.into(),
            upid: None,
            result: String::new(),
        };
        assert_eq!(summary(&[g("ok"), g("skipped")]).0, RunStatus::Ok);
        assert_eq!(summary(&[g("skipped")]).0, RunStatus::Ok);
        assert_eq!(summary(&[g("ok"), g("unknown")]).0, RunStatus::Partial);
        assert_eq!(summary(&[g("failed")]).0, RunStatus::Failed);
        assert_eq!(summary(&[g("ok"), g("sending")]).0, RunStatus::Partial);
        assert_eq!(summary(&[g("pending")]).0, RunStatus::Failed);
        assert_eq!(summary(&[]).0, RunStatus::Failed);
    }
}
