//! `/nodes/{node}/qemu`: the VM list, a VM's current status and its power actions
//! (qemu-server `API2::Qemu`).

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::Method;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::sim::auth::Principal;
use crate::sim::model::config_missing;
use crate::sim::params::{NODE, Params, Spec, VMID};
use crate::sim::power::{self, Action};
use crate::sim::reply::{ApiError, ApiResult, ok};
use crate::sim::state::SimState;
use crate::sim::util::now_secs;
use crate::sim::view::{vm_status, vm_status_current};

const LIST_PARAMS: &[Spec] = &[NODE, Spec::boolean("full").optional()];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/qemu", get(list))
        .route(
            "/nodes/{node}/qemu/{vmid}/status/current",
            get(status_current),
        )
        .route(
            "/nodes/{node}/qemu/{vmid}/status/{action}",
            post(power_action),
        )
}

/// `GET /nodes/{node}/qemu[?full=1]`: the node's VMs the caller may audit.
async fn list(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    Path(node): Path<String>,
    params: Params,
) -> ApiResult {
    let params = params.with_uri(&[("node", &node)])?;
    st.proxy_to(&node)?;
    params.validate(LIST_PARAMS)?;
    let full = params.flag("full");
    let now = now_secs();
    let world = st.world();
    let list: Vec<Value> = world
        .model
        .vms_on(&node)
        .filter(|vm| st.can(&who, &format!("/vms/{}", vm.vmid), "VM.Audit"))
        .map(|vm| vm_status(&world.model, vm, now, full))
        .collect();
    ok(Value::Array(list))
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current` (needs VM.Audit).
async fn status_current(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    Path((node, vmid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let params = params.with_uri(&[("node", &node), ("vmid", &vmid)])?;
    st.check(&who, &format!("/vms/{vmid}"), &["VM.Audit"])?;
    st.proxy_to(&node)?;
    params.validate(&[NODE, VMID])?;
    let vmid = vmid_of(&params);
    let world = st.world();
    let vm = world
        .model
        .vm_on(&node, vmid)
        .ok_or_else(|| ApiError::fail(config_missing(&node, vmid)))?;
    ok(vm_status_current(&world.model, vm, now_secs()))
}

/// `POST /nodes/{node}/qemu/{vmid}/status/{start|stop|shutdown|reboot|suspend|resume}`
/// (needs VM.PowerMgmt): answers the task's UPID.
async fn power_action(
    State(st): State<SimState>,
    Extension(who): Extension<Principal>,
    Path((node, vmid, action)): Path<(String, String, String)>,
    params: Params,
) -> ApiResult {
    let Some(action) = Action::from_segment(&action) else {
        let path = format!("/nodes/{node}/qemu/{vmid}/status/{action}");
        return Err(ApiError::not_implemented(Method::POST.as_str(), &path));
    };
    let params = params.with_uri(&[("node", &node), ("vmid", &vmid)])?;
    st.check(&who, &format!("/vms/{vmid}"), &["VM.PowerMgmt"])?;
    st.proxy_to(&node)?;
    params.validate(action.params())?;
    let vmid = vmid_of(&params);
    power::precheck(&st.world().model, &who.authid, &node, vmid, action, &params)?;
    let upid = power::launch(&st, &who.authid, &node, vmid, action, &params)?;
    ok(json!(upid))
}

/// The verified `vmid` parameter.
fn vmid_of(params: &Params) -> u32 {
    params
        .int("vmid")
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or_default()
}
