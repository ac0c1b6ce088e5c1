//! `/nodes/{node}/qemu`: the VM list and a VM's current status (qemu-server `API2::Qemu`);
//! the power actions are in [`power`](super::power).

use axum::Router;
use axum::routing::get;
use serde_json::Value;

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec, VMID};
use crate::sim::api::reply::{ApiResult, ok};
use crate::sim::api::view::{vm_status, vm_status_current};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;

const LIST_PARAMS: &[Spec] = &[NODE, Spec::boolean("full").optional()];

pub(super) fn routes() -> Router<SimState> {
    Router::new().route("/nodes/{node}/qemu", get(list)).route(
        "/nodes/{node}/qemu/{vmid}/status/current",
        get(status_current),
    )
}

/// `GET /nodes/{node}/qemu[?full=1]`: the node's VMs the caller may audit.
async fn list(call: Call) -> ApiResult {
    let params = call.on_node(&[], LIST_PARAMS)?;
    let full = params.flag("full");
    let now = now_secs();
    let world = call.st.world();
    let list: Vec<Value> = world
        .model
        .vms_on(call.node())
        .filter(|vm| {
            call.st
                .can(&call.who.authid, &format!("/vms/{}", vm.vmid), "VM.Audit")
        })
        .map(|vm| vm_status(&world.model, vm, now, full))
        .collect();
    ok(Value::Array(list))
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current` (needs VM.Audit).
async fn status_current(call: Call) -> ApiResult {
    call.on_vm(&["VM.Audit"], &[NODE, VMID])?;
    let (node, vmid) = (call.node(), call.vmid());
    let world = call.st.world();
    let vm = world.model.existing_vm(node, vmid)?;
    ok(vm_status_current(&world.model, vm, now_secs()))
}
