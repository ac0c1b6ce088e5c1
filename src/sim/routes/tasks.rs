//! `/nodes/{node}/tasks/{upid}`: a task's status and log (pve-manager `API2::Tasks`). Owners
//! see their tasks; others need Sys.Audit on `/nodes/{node}`.

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::auth::Principal;
use crate::sim::params::{NODE, Params, Spec};
use crate::sim::reply::{ApiError, ApiResult, ok, ok_with_total};
use crate::sim::state::SimState;
use crate::sim::tasks::{Task, decode_upid};

const STATUS_PARAMS: &[Spec] = &[NODE, Spec::string("upid")];
const LOG_PARAMS: &[Spec] = &[
    NODE,
    Spec::string("upid"),
    Spec::boolean("download").optional(),
    Spec::integer("limit").min(0).optional(),
    Spec::integer("start").min(0).optional(),
];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/tasks/{upid}/status", get(status))
        .route("/nodes/{node}/tasks/{upid}/log", get(log))
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
async fn status(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    Path((node, upid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let params = params.with_uri(&[("node", &node), ("upid", &upid)])?;
    st.proxy_to(&node)?;
    params.validate(STATUS_PARAMS)?;
    let parts = decode_upid(&upid).ok_or_else(unparsable)?;
    let world = st.world();
    // The log file exists only on the node that ran the task.
    let task = world
        .tasks
        .get(&upid)
        .filter(|t| t.node == node && parts.node == node)
        .ok_or_else(|| ApiError::param("upid", "no such task"))?;
    may_read(&st, &who, &node, task)?;
    ok(task.status_json())
}

/// `GET /nodes/{node}/tasks/{upid}/log[?start=&limit=]`: `[{n, t}]` plus `total`.
async fn log(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    Path((node, upid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let params = params.with_uri(&[("node", &node), ("upid", &upid)])?;
    st.proxy_to(&node)?;
    params.validate(LOG_PARAMS)?;
    let parts = decode_upid(&upid).ok_or_else(unparsable)?;
    if params.get("download").is_some() {
        return Err(ApiError::fail("download of task logs is not simulated"));
    }
    let start = params.int("start").unwrap_or(0);
    let limit = params.int("limit").unwrap_or(50);
    let world = st.world();
    match world
        .tasks
        .get(&upid)
        .filter(|t| t.node == node && parts.node == node)
    {
        Some(task) => {
            may_read(&st, &who, &node, task)?;
            let (lines, total) = task.log_page(to_usize(start), to_usize(limit));
            ok_with_total(Value::Array(lines), total)
        }
        None => {
            // PVE does not check that the log exists: it reads a missing file.
            if !(parts.user == who.authid
                || parts.user.split('!').next() == Some(who.authid.as_str()))
            {
                st.check(&who, &format!("/nodes/{node}"), &["Sys.Audit"])?;
            }
            let line = json!({"n": 1, "t": "unable to open file - No such file or directory"});
            ok_with_total(json!([line]), 1)
        }
    }
}

fn may_read(st: &SimState, who: &Principal, node: &str, task: &Task) -> Result<(), ApiError> {
    if task.owned_by(&who.authid) {
        Ok(())
    } else {
        st.check(who, &format!("/nodes/{node}"), &["Sys.Audit"])
    }
}

fn unparsable() -> ApiError {
    ApiError::param("upid", "unable to parse worker upid")
}

fn to_usize(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}
