//! `/nodes/{node}/lxc`: LXC containers (pve-container `API2::LXC`): the list, a container's
//! current status and config, and the power actions start, stop, shutdown and reboot (what
//! they do is the world's, [`lxc`]).

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::lxc::{self, CtAction};
use crate::sim::world::metrics::vm_sample;
use crate::sim::world::model::{Model, Vm, options};

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/lxc", get(list))
        .route("/nodes/{node}/lxc/{vmid}", get(index))
        .route(
            "/nodes/{node}/lxc/{vmid}/status/current",
            get(status_current),
        )
        .route("/nodes/{node}/lxc/{vmid}/config", get(config))
        .route(
            "/nodes/{node}/lxc/{vmid}/status/{action}",
            post(power_action),
        )
}

/// Swap every simulated container has, MiB (`swap` in its config).
const SWAP_MIB: u64 = 512;

/// A container as the list and `status/current` show it.
fn ct_status(model: &Model, ct: &Vm, now: i64) -> Value {
    let s = vm_sample(model.seed, ct, now);
    let mut v = json!({
        "vmid": ct.vmid,
        "name": ct.name,
        "type": "lxc",
        "status": ct.status(),
        "cpus": ct.cores,
        "maxmem": ct.maxmem(),
        "maxswap": SWAP_MIB * 1024 * 1024,
        "maxdisk": ct.maxdisk(),
        "disk": ct.ct_disk_used(),
        "mem": s.mem,
        "swap": 0,
        "uptime": s.uptime,
        "cpu": if s.cpu == 0.0 { json!(0) } else { json!(s.cpu) },
        "netin": s.netin,
        "netout": s.netout,
        "diskread": s.diskread,
        "diskwrite": s.diskwrite,
    });
    if let Some(tags) = ct.tags_string() {
        v["tags"] = json!(tags);
    }
    if let Some(lock) = &ct.lock {
        v["lock"] = json!(lock);
    }
    if ct.has_process() {
        v["pid"] = json!(ct.pid);
    }
    v
}

/// `GET /nodes/{node}/lxc`: the node's containers the caller may audit.
async fn list(call: Call) -> ApiResult {
    call.on_node(&[], &[NODE])?;
    let now = now_secs();
    let world = call.st.world();
    let list: Vec<Value> = world
        .model
        .cts_on(call.node())
        .filter(|ct| {
            call.st
                .can(&call.who.authid, &format!("/vms/{}", ct.vmid), "VM.Audit")
        })
        .map(|ct| ct_status(&world.model, ct, now))
        .collect();
    ok(Value::Array(list))
}

/// `GET /nodes/{node}/lxc/{vmid}`: the container's directory index.
async fn index(call: Call) -> ApiResult {
    call.on_vm(&[], &[NODE, VMID])?;
    let world = call.st.world();
    world.model.existing_ct(call.node(), call.vmid())?;
    ok(json!([
        {"subdir": "config"}, {"subdir": "status"}, {"subdir": "vncproxy"},
        {"subdir": "termproxy"}, {"subdir": "vncwebsocket"}, {"subdir": "spiceproxy"},
        {"subdir": "migrate"}, {"subdir": "clone"}, {"subdir": "rrd"}, {"subdir": "rrddata"},
        {"subdir": "firewall"}, {"subdir": "snapshot"}, {"subdir": "resize"},
        {"subdir": "interfaces"}, {"subdir": "pending"},
    ]))
}

/// `GET /nodes/{node}/lxc/{vmid}/status/current` (needs VM.Audit).
async fn status_current(call: Call) -> ApiResult {
    call.on_vm(&["VM.Audit"], &[NODE, VMID])?;
    let world = call.st.world();
    let ct = world.model.existing_ct(call.node(), call.vmid())?;
    let mut v = ct_status(&world.model, ct, now_secs());
    v["ha"] = json!({ "managed": 0 });
    ok(v)
}

/// `GET /nodes/{node}/lxc/{vmid}/config` (needs VM.Audit), with its `digest`.
async fn config(call: Call) -> ApiResult {
    call.on_vm(
        &["VM.Audit"],
        &[
            NODE,
            VMID,
            Spec::boolean("current").optional(),
            Spec::string("snapshot").optional(),
        ],
    )?;
    let world = call.st.world();
    let ct = world.model.existing_ct(call.node(), call.vmid())?;
    let mut m = Map::new();
    m.insert("hostname".into(), json!(ct.name));
    m.insert("ostype".into(), json!(ct.ostype));
    m.insert("cores".into(), json!(ct.cores));
    m.insert("memory".into(), json!(ct.memory_mib));
    m.insert("net0".into(), json!(ct.net0));
    m.insert("rootfs".into(), json!(ct.scsi0));
    m.insert("onboot".into(), json!(u8::from(ct.onboot)));
    if let Some(tags) = ct.tags_string() {
        m.insert("tags".into(), json!(tags));
    }
    if let Some(lock) = &ct.lock {
        m.insert("lock".into(), json!(lock));
    }
    for (key, value) in &ct.extra {
        // Numbers as numbers, as PVE's config parser gives them.
        let v = value
            .parse::<u64>()
            .map_or_else(|_| json!(value), |n| json!(n));
        m.insert(key.clone(), v);
    }
    m.insert("digest".into(), json!(options::digest(ct)));
    ok(Value::Object(m))
}

/// `POST …/lxc/{vmid}/status/{action}` (needs VM.PowerMgmt): answers the task's UPID.
async fn power_action(
    Path((node, vmid, action)): Path<(String, String, String)>,
    call: Call,
) -> ApiResult {
    let Some(action) = CtAction::from_segment(&action) else {
        let path = format!("/nodes/{node}/lxc/{vmid}/status/{action}");
        return Err(ApiError::not_implemented(Method::POST.as_str(), &path));
    };
    let schema: &[Spec] = match action {
        CtAction::Start => &[
            NODE,
            VMID,
            Spec::boolean("debug").optional(),
            Spec::boolean("skiplock").optional(),
        ],
        CtAction::Stop => &[
            NODE,
            VMID,
            Spec::boolean("overrule-shutdown").optional(),
            Spec::boolean("skiplock").optional(),
        ],
        CtAction::Shutdown => &[
            NODE,
            VMID,
            Spec::boolean("forceStop").optional(),
            Spec::integer("timeout").min(0).optional(),
        ],
        CtAction::Reboot => &[NODE, VMID, Spec::integer("timeout").min(0).optional()],
    };
    let params = call.on_vm(&["VM.PowerMgmt"], schema)?;
    let skiplock = params.flag("skiplock");
    if skiplock && call.who.authid != "root@pam" {
        return Err(ApiError::param(
            "skiplock",
            "Only root may use this option.",
        ));
    }
    let (st, vmid) = (&call.st, call.vmid());
    lxc::precheck(&st.world().model, &node, vmid, action, skiplock)?;
    let upid = lxc::launch(st, &call.who.authid, &node, vmid, action)?;
    ok(json!(upid))
}
