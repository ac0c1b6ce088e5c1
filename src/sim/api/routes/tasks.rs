//! `/nodes/{node}/tasks`: the node's task list, a task's status and log, and stopping a task
//! (pve-manager `API2::Tasks`). Owners see their tasks; others need Sys.Audit on
//! `/nodes/{node}` (Sys.Modify to stop).

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok, ok_with_total};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::tasks::{Task, decode_upid, worker_log_end};

const STATUS_PARAMS: &[Spec] = &[NODE, Spec::string("upid")];
const LOG_PARAMS: &[Spec] = &[
    NODE,
    Spec::string("upid"),
    Spec::boolean("download").optional(),
    Spec::integer("limit").min(0).optional(),
    Spec::integer("start").min(0).optional(),
];

const LIST_PARAMS: &[Spec] = &[
    NODE,
    Spec::boolean("errors").optional(),
    Spec::integer("limit").min(0).optional(),
    Spec::integer("since").optional(),
    Spec::string("source")
        .one_of(&["archive", "active", "all"])
        .optional(),
    Spec::integer("start").min(0).optional(),
    Spec::string("statusfilter").optional(),
    Spec::string("typefilter").optional(),
    Spec::integer("until").optional(),
    Spec::string("userfilter").optional(),
    VMID.optional(),
];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/tasks", get(list))
        .route("/nodes/{node}/tasks/{upid}", get(index).delete(stop))
        .route("/nodes/{node}/tasks/{upid}/status", get(status))
        .route("/nodes/{node}/tasks/{upid}/log", get(log))
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
async fn status(call: Call) -> ApiResult {
    call.on_node(&[], STATUS_PARAMS)?;
    let (node, upid) = (call.node(), call.segment("upid"));
    let parts = decode_upid(upid).ok_or_else(unparsable)?;
    let world = call.st.world();
    // The log file exists only on the node that ran the task.
    let task = world
        .tasks
        .get(upid)
        .filter(|t| t.node == node && parts.node == node)
        .ok_or_else(|| ApiError::param("upid", "no such task"))?;
    may_read(&call, task)?;
    ok(task.status_json())
}

/// `GET /nodes/{node}/tasks/{upid}/log[?start=&limit=]`: `[{n, t}]` plus `total`.
async fn log(call: Call) -> ApiResult {
    let params = call.on_node(&[], LOG_PARAMS)?;
    let (node, upid, who) = (call.node(), call.segment("upid"), &call.who);
    let parts = decode_upid(upid).ok_or_else(unparsable)?;
    if params.get("download").is_some() {
        return Err(ApiError::fail("download of task logs is not simulated"));
    }
    let start = params.int("start").unwrap_or(0);
    let limit = params.int("limit").unwrap_or(50);
    let world = call.st.world();
    match world
        .tasks
        .get(upid)
        .filter(|t| t.node == node && parts.node == node)
    {
        Some(task) => {
            may_read(&call, task)?;
            let (lines, total) = task.log_page(to_usize(start), to_usize(limit));
            ok_with_total(Value::Array(lines), total)
        }
        None => {
            // PVE does not check that the log exists: it reads a missing file.
            if !(parts.user == who.authid
                || parts.user.split('!').next() == Some(who.authid.as_str()))
            {
                call.require_node(&["Sys.Audit"])?;
            }
            let line = json!({"n": 1, "t": "unable to open file - No such file or directory"});
            ok_with_total(json!([line]), 1)
        }
    }
}

/// `GET /nodes/{node}/tasks`: newest first, filtered; `total` counts all matches.
async fn list(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.on_node(&[], LIST_PARAMS)?;
    let node = call.node();
    let audit = st.can(&who.authid, &format!("/nodes/{node}"), "Sys.Audit");
    let source = params.get("source").unwrap_or("archive");
    let vmid = params.get("vmid");
    let types = params.get("typefilter");
    let user = params.get("userfilter");
    let classes: Vec<&str> = params
        .get("statusfilter")
        .map(|s| s.split([',', ';', ' ']).filter(|c| !c.is_empty()).collect())
        .unwrap_or_default();
    let (since, until) = (params.int("since"), params.int("until"));
    let errors_only = params.flag("errors");
    let world = st.world();
    let matches: Vec<Value> = world
        .tasks
        .on_node(node)
        .into_iter()
        .filter(|t| match source {
            "active" => t.end.is_none(),
            "archive" => t.end.is_some(),
            _ => true,
        })
        .filter(|t| audit || t.owned_by(&who.authid))
        .filter(|t| vmid.is_none_or(|v| t.id == v))
        .filter(|t| types.is_none_or(|f| t.kind.contains(f)))
        .filter(|t| user.is_none_or(|u| t.user.contains(u)))
        .filter(|t| classes.is_empty() || classes.contains(&t.status_class()))
        .filter(|t| !errors_only || t.status_class() == "error")
        .filter(|t| since.is_none_or(|s| t.starttime >= s))
        .filter(|t| until.is_none_or(|u| t.starttime <= u))
        .map(Task::node_entry)
        .collect();
    let total = matches.len();
    let start = to_usize(params.int("start").unwrap_or(0));
    let limit = to_usize(params.int("limit").unwrap_or(50));
    let page: Vec<Value> = matches.into_iter().skip(start).take(limit).collect();
    ok_with_total(Value::Array(page), total)
}

/// `GET /nodes/{node}/tasks/{upid}`: the task's index.
async fn index(Path((node, upid)): Path<(String, String)>, params: Params) -> ApiResult {
    let params = params.with_uri(&[("node", &node), ("upid", &upid)])?;
    params.validate(STATUS_PARAMS)?;
    ok(json!([{"name": "log"}, {"name": "status"}]))
}

/// `DELETE /nodes/{node}/tasks/{upid}`: stops a running task (its owner, or Sys.Modify).
async fn stop(call: Call) -> ApiResult {
    call.on_node(&[], STATUS_PARAMS)?;
    let (node, upid, who) = (call.node(), call.segment("upid"), &call.who);
    let parts = decode_upid(upid).ok_or_else(unparsable)?;
    if parts.node != node {
        return Err(ApiError::param("upid", "no such task"));
    }
    let owner = parts.user == who.authid || parts.user.split('!').next() == Some(&who.authid);
    if !owner {
        call.require_node(&["Sys.Modify"])?;
    }
    let mut world = call.st.world();
    let now = now_secs();
    if world.tasks.stop(upid, now) {
        worker_log_end(&mut world, upid, now);
    }
    ok(Value::Null)
}

/// The task's owner may read it; others need Sys.Audit on the node.
fn may_read(call: &Call, task: &Task) -> Result<(), ApiError> {
    if task.owned_by(&call.who.authid) {
        Ok(())
    } else {
        call.require_node(&["Sys.Audit"])
    }
}

fn unparsable() -> ApiError {
    ApiError::param("upid", "unable to parse worker upid")
}

fn to_usize(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}
