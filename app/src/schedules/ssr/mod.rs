//! Server side of the power schedules: who may see and change which schedule, the checks of a
//! saved schedule, and (in the submodules) the database, the runner and the scheduler loop.

pub mod clock;
pub mod runner;
pub mod scheduler;
pub mod store;
pub mod zone;

use pve::{ids::PoolId, types::PowerAction};
use sqlx::SqlitePool;

pub use scheduler::Scheduler;
pub use zone::When;

use crate::{
    access::CurrentUser,
    error::{AppError, AppResult},
    schedules::{PowerSchedule, ScheduleForm, ScheduleTarget},
    state::app_state,
};

/// Longest grace a schedule may have: a day.
const MAX_GRACE_MINUTES: u32 = 24 * 60;
/// Most guests one schedule may name by id.
const MAX_IDS: usize = 1000;

/// The answer for a schedule that does not exist or is not the user's to see.
pub fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("no power schedule {id} in your scope."))
}

/// Unscoped users see every schedule; a scoped user only their own.
pub fn may_see(user: &CurrentUser, schedule: &PowerSchedule) -> bool {
    user.scope.is_everything() || schedule.owner == user.username
}

/// Schedule `id` when `user` (an operator, checked by the caller) may change it.
pub async fn managed(db: &SqlitePool, user: &CurrentUser, id: i64) -> AppResult<PowerSchedule> {
    let schedule = store::get(db, id, clock::now_system()).await?;
    if !may_see(user, &schedule) {
        tracing::warn!(user = %user.username, schedule = id, "power schedule refused: not the scoped user's");
        return Err(not_found(id));
    }
    Ok(schedule)
}

/// Checks and stores a schedule for `user` (an operator); returns its id.
pub async fn save(user: &CurrentUser, form: ScheduleForm) -> AppResult<i64> {
    let state = app_state()?;
    let now = clock::now_system();
    let existing = (form.id != 0).then_some(form.id);
    if let Some(id) = existing {
        managed(&state.db, user, id).await?;
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::InvalidInput(
            "Give the schedule a name of 1 to 100 characters.".into(),
        ));
    }
    let cluster = state.clusters.get(&form.cluster)?;
    let action: PowerAction = form.action.parse().map_err(|_| {
        AppError::InvalidInput(format!(
            "unknown power action {:?}",
            form.action.chars().take(32).collect::<String>()
        ))
    })?;
    let target = parse_target(&form.target_kind, &form.target)?;
    let when = When::parse(&form.calendar, &form.timezone)?;
    if when.next_after(now).is_none() {
        return Err(AppError::InvalidInput(format!(
            "the calendar event {:?} has no run after now.",
            form.calendar.trim()
        )));
    }
    if form.grace_minutes > MAX_GRACE_MINUTES {
        return Err(AppError::InvalidInput(format!(
            "The grace is 0 to {MAX_GRACE_MINUTES} minutes."
        )));
    }
    check_selection(user, cluster, &target, action).await?;
    let (owner_id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE username = ?")
        .bind(&user.username)
        .fetch_one(&state.db)
        .await?;
    let new = store::NewSchedule {
        name,
        cluster: &cluster.name,
        action,
        target: &target,
        calendar: form.calendar.trim(),
        timezone: form.timezone.trim(),
        grace_secs: i64::from(form.grace_minutes) * 60,
        enabled: form.enabled,
        owner_id,
    };
    let id = match existing {
        Some(id) => {
            store::update(&state.db, id, &new, now).await?;
            id
        }
        None => store::insert(&state.db, &new, now).await?,
    };
    tracing::info!(user = %user.username, schedule = id, name, action = action.path_segment(), target = %target.describe(), calendar = %new.calendar, timezone = %new.timezone, "power schedule saved");
    Ok(id)
}

/// The target the form names, checked as PVE checks ids, tags and pool names.
pub fn parse_target(kind: &str, value: &str) -> AppResult<ScheduleTarget> {
    let value = value.trim();
    match kind {
        "vms" => {
            let mut ids = Vec::new();
            for part in value.split([',', ' ', ';']).filter(|p| !p.is_empty()) {
                let id: pve::ids::VmId = part
                    .parse()
                    .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
                ids.push(id.get());
            }
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(AppError::InvalidInput(format!(
                    "Name 1 to {MAX_IDS} guest ids, separated by commas."
                )));
            }
            Ok(ScheduleTarget::Vms(ids))
        }
        "tag" => {
            let tag = value.to_ascii_lowercase();
            crate::access::Scope::tags([tag.as_str()])
                .map_err(|e| AppError::InvalidInput(e.to_string()))?;
            Ok(ScheduleTarget::Tag(tag))
        }
        "pool" => {
            let pool = PoolId::parse(value).map_err(|e| AppError::InvalidInput(e.to_string()))?;
            Ok(ScheduleTarget::Pool(pool.as_str().to_owned()))
        }
        other => Err(AppError::InvalidInput(format!(
            "guests are chosen by vms, tag or pool, not {:?}",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Refuses a selection that names guests that do not exist, selects nothing today, or (for a
/// scoped user) reaches outside their scope — before anything is stored.
async fn check_selection(
    user: &CurrentUser,
    cluster: &crate::state::clusters::Cluster,
    target: &ScheduleTarget,
    action: PowerAction,
) -> AppResult<()> {
    let scope = &user.scope;
    match target {
        ScheduleTarget::Pool(_) if !scope.is_everything() => {
            return Err(AppError::Forbidden(
                "a scoped user chooses guests by id or by one of their tags, not by pool.".into(),
            ));
        }
        ScheduleTarget::Tag(tag)
            if !scope.is_everything() && !scope.tag_list().iter().any(|t| t == tag) =>
        {
            return Err(AppError::Forbidden(format!(
                "tag {tag} is outside your scope ({scope})."
            )));
        }
        _ => {}
    }
    let resources = cluster.resources().await?;
    let picked = runner::select(&resources, target, action, scope);
    // A guest that does not exist and one outside the scope get the same answer, so that a
    // scoped user cannot probe for other tenants' guests.
    let in_scope = if scope.is_everything() {
        ""
    } else {
        " in your scope"
    };
    if let ScheduleTarget::Vms(_) = target
        && let Some(absent) = picked
            .iter()
            .find(|g| g.node.is_empty() || g.result == runner::OUTSIDE_SCOPE)
    {
        return Err(AppError::InvalidInput(format!(
            "there is no guest {} in cluster {}{in_scope}.",
            absent.vmid, cluster.name
        )));
    }
    if picked.is_empty() {
        return Err(AppError::InvalidInput(format!(
            "{} selects no guest in cluster {} today.",
            target.describe(),
            cluster.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_like_pve_ids() {
        assert_eq!(
            parse_target("vms", "101, 100,100").unwrap(),
            ScheduleTarget::Vms(vec![100, 101])
        );
        assert!(parse_target("vms", "").is_err());
        assert!(parse_target("vms", "99").is_err());
        assert!(parse_target("vms", "100,abc").is_err());
        assert_eq!(
            parse_target("tag", " Web ").unwrap(),
            ScheduleTarget::Tag("web".into())
        );
        assert!(parse_target("tag", "a b").is_err());
        assert!(parse_target("pool", "prod//web").is_err());
        assert!(parse_target("pool", "a b").is_err());
        assert!(parse_target("node", "pve1").is_err());
    }
}
