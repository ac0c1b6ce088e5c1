//! `/nodes/{node}/qemu/{vmid}/config` (GET with pending changes, `current` or a `snapshot`;
//! PUT synchronous; POST asynchronous → `qmconfig` task) and `…/pending`, qemu-server
//! `API2::Qemu`. Implemented options: name, memory, cores, sockets, description, tags,
//! onboot, NICs (`net<n>`), drives (new volumes from `STORAGE:SIZE`, detached ones kept as
//! `unused<n>`) and a few kept verbatim; every change needs the option's own
//! VM.Config.* privilege and may carry the config `digest` it was based on. A running VM
//! takes what it can hot-plug at once, the rest waits in `[PENDING]` for its next start or
//! stop (see the model's `options`).

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::sim::api::auth::Principal;
use crate::sim::api::extract::Call;
use crate::sim::api::params::{Format, NODE, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::devices::{
    BRIDGES, allocate, canonical_net, device_keys, is_disk_key, is_net_key, is_unused_key,
    net_bridge, new_volume,
};
use crate::sim::world::model::options::{
    OptionError, apply_pending, cleanup_pending, config_map, delete_option, digest, hotpluggable,
    pending_list, set_option, with_pending,
};
use crate::sim::world::model::{Vm, config_missing};
use crate::sim::world::tasks::{self, Outcome};

/// Options and the privilege each needs (drives and NICs: [`privilege`]).
const OPTIONS: &[(&str, &str)] = &[
    ("name", "VM.Config.Options"),
    ("description", "VM.Config.Options"),
    ("tags", "VM.Config.Options"),
    ("onboot", "VM.Config.Options"),
    ("boot", "VM.Config.Options"),
    ("ostype", "VM.Config.Options"),
    ("memory", "VM.Config.Memory"),
    ("balloon", "VM.Config.Memory"),
    ("cores", "VM.Config.CPU"),
    ("sockets", "VM.Config.CPU"),
    ("cpu", "VM.Config.CPU"),
    ("numa", "VM.Config.CPU"),
    ("scsihw", "VM.Config.HWType"),
    ("agent", "VM.Config.Options"),
    ("hotplug", "VM.Config.HWType"),
];

/// The privilege changing option `opt` needs; `None` for what is not an option.
fn privilege(opt: &str) -> Option<&'static str> {
    if is_net_key(opt) {
        Some("VM.Config.Network")
    } else if is_disk_key(opt) || is_unused_key(opt) {
        Some("VM.Config.Disk")
    } else {
        OPTIONS.iter().find(|(o, _)| *o == opt).map(|(_, p)| *p)
    }
}

fn specs(post: bool) -> Vec<Spec> {
    let mut v = vec![
        NODE,
        VMID,
        Spec::string("name").max_len(128).optional(),
        Spec::string("description").max_len(8192).optional(),
        Spec::string("tags").optional(),
        Spec::boolean("onboot").optional(),
        Spec::string("boot").optional(),
        Spec::string("ostype").optional(),
        Spec::string("memory").optional(),
        Spec::integer("balloon").min(0).optional(),
        Spec::integer("cores").min(1).optional(),
        Spec::integer("sockets").min(1).optional(),
        Spec::string("cpu").optional(),
        Spec::boolean("numa").optional(),
        Spec::string("scsihw").optional(),
        Spec::string("agent").optional(),
        Spec::string("hotplug").optional(),
        Spec::string("delete").optional(),
        Spec::string("revert").optional(),
        Spec::string("digest").max_len(40).optional(),
        Spec::boolean("skiplock").optional(),
        Spec::boolean("force").optional(),
    ];
    if post {
        v.push(Spec::integer("background_delay").min(1).optional());
    }
    v.extend(device_keys().iter().map(|k| Spec::string(k).optional()));
    v
}

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route(
            "/nodes/{node}/qemu/{vmid}/config",
            get(get_config).put(put_config).post(post_config),
        )
        .route("/nodes/{node}/qemu/{vmid}/pending", get(get_pending))
}

/// The config as `GET …/config` answers it (with `digest`): with the pending changes applied,
/// or as it is now (`current`).
pub(crate) fn config_json(vm: &Vm, current: bool) -> Value {
    let mut m = if current {
        config_map(vm)
    } else {
        config_map(&with_pending(vm))
    };
    m.insert("digest".into(), json!(digest(vm)));
    Value::Object(m)
}

/// `GET /nodes/{node}/qemu/{vmid}/config[?current=1|snapshot=]` (VM.Audit).
async fn get_config(call: Call) -> ApiResult {
    let params = call.on_vm(
        &["VM.Audit"],
        &[
            NODE,
            VMID,
            Spec::boolean("current").optional(),
            Spec::string("snapshot")
                .format(Format::ConfigId)
                .max_len(40)
                .optional(),
        ],
    )?;
    let snapshot = params.get("snapshot").filter(|s| !s.is_empty());
    let current = params.flag("current");
    if snapshot.is_some() && current {
        let both = "cannot use 'snapshot' parameter with 'current'";
        let errors = [("snapshot", both), ("current", both)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        return Err(ApiError::params(errors));
    }
    let (node, vmid) = (call.node(), call.vmid());
    let world = call.st.world();
    let vm = world.model.existing_vm(node, vmid)?;
    match snapshot {
        Some(name) => {
            let snap = vm
                .snapshots
                .get(name)
                .ok_or_else(|| ApiError::fail(format!("snapshot '{name}' does not exist")))?;
            let mut m = vm.snapshot_json(snap);
            m.insert("digest".into(), json!(digest(vm)));
            ok(Value::Object(m))
        }
        None => ok(config_json(vm, current)),
    }
}

/// `GET /nodes/{node}/qemu/{vmid}/pending` (VM.Audit): current and pending values.
async fn get_pending(call: Call) -> ApiResult {
    call.on_vm(&["VM.Audit"], &[NODE, VMID])?;
    let world = call.st.world();
    let vm = world.model.existing_vm(call.node(), call.vmid())?;
    ok(Value::Array(pending_list(vm)))
}

/// A list parameter (`delete`, `revert`: `pve-configid-list`).
fn list_param<'a>(params: &'a Params, name: &str) -> Vec<&'a str> {
    params
        .get(name)
        .map(|d| d.split([',', ';', ' ']).filter(|x| !x.is_empty()).collect())
        .unwrap_or_default()
}

/// Checks permissions and values, then applies `params` to the VM (under the caller's lock):
/// to a stopped VM at once (with any pending changes), to a running one what it can
/// hot-plug, the rest into `[PENDING]`. New volumes (`STORAGE:SIZE`) are allocated first, as
/// qemu-server's `create_disks` does; answers the drives it created, for the task log.
fn apply(
    st: &SimState,
    who: &Principal,
    node: &str,
    vmid: u32,
    params: &Params,
) -> Result<Vec<String>, ApiError> {
    let deletes = list_param(params, "delete");
    let reverts = list_param(params, "revert");
    let path = format!("/vms/{vmid}");
    let mut changed = false;
    for opt in params.iter().map(|(k, _)| k).chain(deletes.iter().copied()) {
        if let Some(privilege) = privilege(opt) {
            st.check(&who.authid, &path, &[privilege])?;
            changed = true;
        }
    }
    if !changed && reverts.is_empty() {
        return Err(ApiError::fail("no options specified"));
    }
    for opt in &reverts {
        if params.get(opt).is_some() {
            return Err(ApiError::param(
                "delete",
                format!("you can't use '-{opt}' and -revert {opt}' at the same time"),
            ));
        }
    }
    for opt in &deletes {
        if params.get(opt).is_some() {
            return Err(ApiError::param(
                "delete",
                format!("you can't use '-{opt}' and -delete {opt}' at the same time"),
            ));
        }
        if reverts.contains(opt) {
            return Err(ApiError::param(
                "revert",
                format!("you can't use '-delete {opt}' and -revert {opt}' at the same time"),
            ));
        }
    }
    let requested: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| privilege(k).is_some())
        .collect();
    // A new volume needs space on its storage (qemu-server's `check_storage_access`).
    for (opt, value) in &requested {
        if is_disk_key(opt)
            && let Some(new) = new_volume(value)
        {
            let storage_path = format!("/storage/{}", new.storage);
            st.check(&who.authid, &storage_path, &["Datastore.AllocateSpace"])?;
        }
    }
    let mut world = st.world();
    let vm = world
        .model
        .vm_on(node, vmid)
        .ok_or_else(|| ApiError::fail(config_missing(node, vmid)))?;
    if let Some(d) = params.get("digest")
        && digest(vm) != d
    {
        return Err(ApiError::fail(
            "checksum mismatch (file change by other user?)",
        ));
    }
    if let Some(l) = &vm.lock
        && !params.flag("skiplock")
    {
        return Err(ApiError::fail(format!("VM is locked ({l})")));
    }
    // Values as the config file will hold them: new volumes allocated, NICs with a MAC.
    let mut settings: Vec<(&str, String)> = Vec::new();
    let mut created = Vec::new();
    for (opt, value) in &requested {
        let value = match new_volume(value).filter(|_| is_disk_key(opt)) {
            Some(new) => {
                let drive = allocate(&world.model, vm, opt, new).map_err(param_error)?;
                created.push(format!("{opt}: successfully created disk '{drive}'"));
                drive
            }
            None if is_net_key(opt) => canonical_net(opt, value, vm).map_err(param_error)?,
            None => (*value).to_owned(),
        };
        settings.push((opt, value));
    }
    // Every value is checked against the config it will end up in.
    let mut probe = with_pending(vm);
    for (opt, value) in &settings {
        set_option(&mut probe, opt, value).map_err(param_error)?;
    }
    for opt in &deletes {
        delete_option(&mut probe, opt).map_err(param_error)?;
    }
    let mut next = vm.clone();
    for opt in &reverts {
        next.pending.remove(*opt);
        next.pending_delete.remove(*opt);
    }
    let running = next.has_process();
    let force = params.flag("force");
    for opt in &deletes {
        next.pending.remove(*opt);
        if running && !hotpluggable(&next, opt, None) {
            next.pending_delete.insert((*opt).to_owned(), force);
        } else {
            next.pending_delete.remove(*opt);
            delete_option(&mut next, opt).map_err(param_error)?;
        }
    }
    for (opt, value) in &settings {
        next.pending_delete.remove(*opt);
        if running && !hotpluggable(&next, opt, Some(value)) {
            next.pending.insert((*opt).to_owned(), value.clone());
        } else {
            // Plugging a NIC into a running VM needs its bridge (qemu-server's `tap_plug`).
            if running
                && is_net_key(opt)
                && let Some(bridge) = net_bridge(value).filter(|b| !BRIDGES.contains(b))
            {
                return Err(ApiError::fail(format!("bridge '{bridge}' does not exist")));
            }
            next.pending.remove(*opt);
            set_option(&mut next, opt, value).map_err(param_error)?;
        }
    }
    if !running {
        apply_pending(&mut next);
    }
    cleanup_pending(&mut next);
    if let Some(vm) = world.model.vm_on_mut(node, vmid) {
        *vm = next;
    }
    Ok(created)
}

fn param_error(e: OptionError) -> ApiError {
    ApiError::param(&e.param, e.message)
}

/// The preamble of PUT and POST: any option's privilege lets the call on (each option's own
/// is checked when the change is applied).
fn checked(call: &Call, post: bool) -> Result<Params, ApiError> {
    let params = call.params()?;
    let path = format!("/vms/{}", call.segment("vmid"));
    let any = OPTIONS
        .iter()
        .map(|(_, p)| *p)
        .chain(["VM.Config.Network", "VM.Config.Disk"])
        .any(|p| call.st.can(&call.who.authid, &path, p));
    if !any {
        call.require_vm(&["VM.Config.Options"])?;
    }
    call.proxy()?;
    params.validate(&specs(post))?;
    Ok(params)
}

/// `PUT …/config`: applies the change at once; answers null.
async fn put_config(call: Call) -> ApiResult {
    let params = checked(&call, false)?;
    let vmid = call.vmid();
    let _guard = call
        .st
        .lock_vm(vmid)
        .await
        .map_err(|e| ApiError::fail(e.to_string()))?;
    apply(&call.st, &call.who, call.node(), vmid, &params)?;
    ok(Value::Null)
}

/// `POST …/config`: checks, then a `qmconfig` task applies the change → UPID.
async fn post_config(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = checked(&call, true)?;
    let (node, vmid) = (call.node(), call.vmid());
    if st.world().model.vm_on(node, vmid).is_none() {
        return Err(ApiError::fail(config_missing(node, vmid)));
    }
    let node2 = node.to_owned();
    let caller = who.clone();
    let upid = tasks::spawn_locked(
        st,
        node,
        "qmconfig",
        vmid,
        &who.authid,
        move |ctx| async move {
            tokio::time::sleep(ctx.st.scaled(Duration::from_millis(300))).await;
            for (k, v) in params
                .iter()
                .filter(|(k, _)| !["node", "vmid", "digest"].contains(k))
            {
                ctx.log(format!("update VM {vmid}: -{k} {v}"));
            }
            match apply(&ctx.st, &caller, &node2, vmid, &params) {
                Ok(created) => {
                    for line in created {
                        ctx.log(line);
                    }
                    Outcome::Ok
                }
                Err(e) => Outcome::Error(e.message),
            }
        },
    )?;
    ok(json!(upid))
}
