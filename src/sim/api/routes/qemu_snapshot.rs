//! `/nodes/{node}/qemu/{vmid}/snapshot`: the list (with the `current` entry), taking,
//! deleting and rolling back snapshots (tasks, see the world's `snapshots`), a snapshot's
//! index and its config (qemu-server `API2::Qemu`).

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, SNAPNAME, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::options::digest;
use crate::sim::world::snapshots::{self, Create};

pub(super) fn routes() -> Router<SimState> {
    let base = "/nodes/{node}/qemu/{vmid}/snapshot";
    Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/{{snapname}}"), get(index).delete(delete))
        .route(
            &format!("{base}/{{snapname}}/config"),
            get(get_config).put(put_config),
        )
        .route(&format!("{base}/{{snapname}}/rollback"), post(rollback))
}

/// 403 unless the caller has one of `privs` on the VM (`any => 1`).
fn require_any(call: &Call, privs: &[&str]) -> Result<(), ApiError> {
    let path = format!("/vms/{}", call.segment("vmid"));
    if privs
        .iter()
        .any(|p| call.st.can(&call.who.authid, &path, p))
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(&path, &privs.join("|")))
    }
}

/// `GET …/snapshot` (VM.Audit): every snapshot, then `current` (the VM now: `running`,
/// `parent`, `digest`), as qemu-server lists them.
async fn list(call: Call) -> ApiResult {
    call.on_vm(&["VM.Audit"], &[NODE, VMID])?;
    let world = call.st.world();
    let vm = world.model.existing_vm(call.node(), call.vmid())?;
    let mut snaps: Vec<_> = vm.snapshots.iter().collect();
    snaps.sort_by_key(|(name, s)| (s.snaptime, (*name).clone()));
    let mut out: Vec<Value> = snaps
        .into_iter()
        .map(|(name, s)| {
            let mut item = json!({
                "name": name,
                "snaptime": s.snaptime,
                "vmstate": u8::from(s.vmstate.is_some()),
                "description": s.description.clone().unwrap_or_default(),
            });
            if let Some(p) = &s.parent {
                item["parent"] = json!(p);
            }
            if let Some(state) = &s.snapstate {
                item["snapstate"] = json!(state);
            }
            item
        })
        .collect();
    let mut current = json!({
        "name": "current",
        "digest": digest(vm),
        "running": u8::from(vm.has_process()),
        "description": "You are here!",
    });
    if let Some(p) = &vm.parent {
        current["parent"] = json!(p);
    }
    out.push(current);
    ok(Value::Array(out))
}

/// `POST …/snapshot` (VM.Snapshot) → `qmsnapshot`.
async fn create(call: Call) -> ApiResult {
    let params = call.on_vm(
        &["VM.Snapshot"],
        &[
            NODE,
            VMID,
            SNAPNAME,
            Spec::string("description").optional(),
            Spec::boolean("vmstate").optional(),
        ],
    )?;
    let name = params.get("snapname").unwrap_or_default().to_owned();
    snapshots::check_new_name(&name)?;
    let (node, vmid) = (call.node(), call.vmid());
    call.st.world().model.existing_vm(node, vmid)?;
    let req = Create {
        name,
        description: params.get("description").map(str::to_owned),
        vmstate: params.flag("vmstate"),
    };
    let upid = snapshots::create(&call.st, &call.who.authid, node, vmid, req)?;
    ok(json!(upid))
}

/// `GET …/snapshot/{snapname}` (any user): the sub-directories.
async fn index(call: Call) -> ApiResult {
    call.on_vm_here(&[], &[NODE, VMID, SNAPNAME])?;
    ok(json!([{ "cmd": "rollback" }, { "cmd": "config" }]))
}

/// `DELETE …/snapshot/{snapname}` (VM.Snapshot) → `qmdelsnapshot`; `force` is accepted (the
/// simulated disk snapshots never fail to go).
async fn delete(call: Call) -> ApiResult {
    let params = call.on_vm(
        &["VM.Snapshot"],
        &[NODE, VMID, SNAPNAME, Spec::boolean("force").optional()],
    )?;
    let name = params.get("snapname").unwrap_or_default().to_owned();
    let upid = snapshots::delete(&call.st, &call.who.authid, call.node(), call.vmid(), name)?;
    ok(json!(upid))
}

/// `POST …/snapshot/{snapname}/rollback` (VM.Snapshot or VM.Snapshot.Rollback; `start`
/// needs VM.PowerMgmt too) → `qmrollback`.
async fn rollback(call: Call) -> ApiResult {
    let params = call.params()?;
    require_any(&call, &["VM.Snapshot", "VM.Snapshot.Rollback"])?;
    call.proxy()?;
    params.validate(&[NODE, VMID, SNAPNAME, Spec::boolean("start").optional()])?;
    let start = params.flag("start");
    if start {
        call.require_vm(&["VM.PowerMgmt"])?;
    }
    let name = params.get("snapname").unwrap_or_default().to_owned();
    let (node, vmid) = (call.node(), call.vmid());
    let upid = snapshots::rollback(&call.st, &call.who.authid, node, vmid, name, start)?;
    ok(json!(upid))
}

/// `GET …/snapshot/{snapname}/config` (VM.Snapshot, VM.Snapshot.Rollback or VM.Audit): the
/// snapshot's section.
async fn get_config(call: Call) -> ApiResult {
    let params = call.params()?;
    require_any(&call, &["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"])?;
    call.proxy()?;
    params.validate(&[NODE, VMID, SNAPNAME])?;
    let name = params.get("snapname").unwrap_or_default();
    let world = call.st.world();
    let vm = world.model.existing_vm(call.node(), call.vmid())?;
    let snap = vm
        .snapshots
        .get(name)
        .ok_or_else(|| ApiError::fail(format!("snapshot '{name}' does not exist")))?;
    ok(Value::Object(vm.snapshot_json(snap)))
}

/// `PUT …/snapshot/{snapname}/config` (VM.Snapshot): changes the description; answers null.
async fn put_config(call: Call) -> ApiResult {
    let params = call.on_vm(
        &["VM.Snapshot"],
        &[NODE, VMID, SNAPNAME, Spec::string("description").optional()],
    )?;
    let Some(description) = params.get("description") else {
        return ok(Value::Null);
    };
    let (node, vmid) = (call.node(), call.vmid());
    let _guard = call
        .st
        .lock_vm(vmid)
        .await
        .map_err(|e| ApiError::fail(e.to_string()))?;
    let name = params.get("snapname").unwrap_or_default();
    let mut world = call.st.world();
    let vm = world
        .model
        .vm_on_mut(node, vmid)
        .ok_or_else(|| ApiError::fail(crate::sim::world::model::config_missing(node, vmid)))?;
    if let Some(l) = &vm.lock {
        return Err(ApiError::fail(format!("VM is locked ({l})")));
    }
    let snap = vm
        .snapshots
        .get_mut(name)
        .ok_or_else(|| ApiError::fail(format!("snapshot '{name}' does not exist")))?;
    snap.description = Some(description.to_owned()).filter(|d| !d.is_empty());
    ok(Value::Null)
}
