//! Backup jobs `/cluster/backup[/{id}]` (list, create, read, update, delete; `next-run` from the
//! schedule) and `/cluster/backup-info/not-backed-up` (pve-manager `API2::Backup`,
//! `API2::BackupInfo`).

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use super::backup::{DUMP_OPTIONS, JOB_ONLY};
use crate::sim::api::extract::Call;
use crate::sim::api::params::{Params, Spec};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::backup::{Calendar, Job};

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/cluster/backup", get(jobs).post(create_job))
        .route(
            "/cluster/backup/{id}",
            get(job).put(update_job).delete(delete_job),
        )
        .route("/cluster/backup-info/not-backed-up", get(not_backed_up))
}

/// `GET /cluster/backup` (Sys.Audit on `/`).
async fn jobs(call: Call) -> ApiResult {
    let st = &call.st;
    call.on("/", &["Sys.Audit"], &[])?;
    let now = now_secs();
    let world = st.world();
    ok(world.jobs.values().map(|j| j.to_json(now)).collect())
}

/// `GET /cluster/backup/{id}`.
async fn job(call: Call) -> ApiResult {
    let st = &call.st;
    let id = call.segment("id");
    call.on("/", &["Sys.Audit"], &[Spec::string("id").max_len(50)])?;
    let world = st.world();
    let job = world.jobs.get(id).ok_or_else(|| no_job(id))?;
    ok(job.to_json(now_secs()))
}

fn no_job(id: &str) -> ApiError {
    ApiError::fail(format!("job '{id}' does not exist"))
}

/// Checks a job's options (vzdump options plus schedule and job fields).
fn check_job(params: &Params, extra: &[Spec]) -> Result<(), ApiError> {
    let mut specs = DUMP_OPTIONS.to_vec();
    specs.extend_from_slice(JOB_ONLY);
    specs.extend_from_slice(extra);
    params.validate(&specs)?;
    if let Some(s) = params.get("schedule") {
        Calendar::parse(s)
            .map_err(|e| ApiError::param("schedule", format!("invalid format - {e}\n")))?;
    }
    if params.get("vmid").is_none() && !params.flag("all") && params.get("pool").is_none() {
        return Err(ApiError::param(
            "vmid",
            "property is missing and it is not optional",
        ));
    }
    Ok(())
}

/// `POST /cluster/backup` (Sys.Modify on `/`): a new job; `id` defaults to `backup-<hex>`.
async fn create_job(call: Call) -> ApiResult {
    let st = &call.st;
    let params = call.sent();
    call.require("/", &["Sys.Modify"])?;
    check_job(params, &[])?;
    let mut world = st.world();
    let id = params.get("id").map(str::to_owned).unwrap_or_else(|| {
        let h = crate::sim::util::mix(now_secs() as u64 ^ world.jobs.len() as u64);
        format!("backup-{:08x}-{:04x}", h >> 32, h & 0xffff)
    });
    if world.jobs.contains_key(&id) {
        return Err(ApiError::fail(format!("Job '{id}' already exists")));
    }
    let mut job = Job {
        id: id.clone(),
        options: Default::default(),
    };
    for (k, v) in params.iter().filter(|(k, _)| *k != "id") {
        job.options.insert(k.to_owned(), v.to_owned());
    }
    job.options
        .entry("enabled".into())
        .or_insert_with(|| "1".into());
    job.options
        .entry("schedule".into())
        .or_insert_with(|| "00:00".into());
    world.jobs.insert(id, job);
    ok(Value::Null)
}

/// `PUT /cluster/backup/{id}`: changes options; `delete` removes some.
async fn update_job(call: Call) -> ApiResult {
    let st = &call.st;
    let id = call.segment("id");
    call.require("/", &["Sys.Modify"])?;
    let params = call.params()?;
    let mut world = st.world();
    let job = world.jobs.get_mut(id).ok_or_else(|| no_job(id))?;
    let mut merged = job.options.clone();
    for (k, v) in params.iter() {
        merged.insert(k.to_owned(), v.to_owned());
    }
    let delete: Vec<String> = params
        .get("delete")
        .map(|d| {
            d.split([',', ';', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for d in &delete {
        merged.remove(d);
    }
    merged.remove("delete");
    let check = Params::from_pairs(merged.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    check_job(&check, &[])?;
    merged.remove("id");
    job.options = merged;
    ok(Value::Null)
}

/// `DELETE /cluster/backup/{id}`.
async fn delete_job(call: Call) -> ApiResult {
    let st = &call.st;
    let id = call.segment("id");
    call.on("/", &["Sys.Modify"], &[Spec::string("id").max_len(50)])?;
    let mut world = st.world();
    world.jobs.remove(id).ok_or_else(|| no_job(id))?;
    ok(Value::Null)
}

/// `GET /cluster/backup-info/not-backed-up` (Sys.Audit on `/`): guests no enabled job covers.
async fn not_backed_up(call: Call) -> ApiResult {
    let st = &call.st;
    call.on("/", &["Sys.Audit"], &[])?;
    let world = st.world();
    let covered = |vmid: u32, node: &str| {
        world.jobs.values().any(|j| {
            let o = &j.options;
            let on_node = o.get("node").is_none_or(|n| n == node);
            let listed = o
                .get("vmid")
                .is_some_and(|l| l.split(',').any(|v| v == vmid.to_string()));
            let excluded = o
                .get("exclude")
                .is_some_and(|l| l.split(',').any(|v| v == vmid.to_string()));
            let all = o.get("all").is_some_and(|a| a == "1");
            on_node && (listed || (all && !excluded))
        })
    };
    let list: Vec<Value> = world
        .model
        .vms
        .values()
        .filter(|vm| !covered(vm.vmid, &vm.node))
        .map(|vm| json!({"type": "qemu", "vmid": vm.vmid, "name": vm.name}))
        .collect();
    ok(Value::Array(list))
}
