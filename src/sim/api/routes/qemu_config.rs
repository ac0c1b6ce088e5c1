//! `/nodes/{node}/qemu/{vmid}/config` (GET; PUT synchronous; POST asynchronous → `qmconfig`
//! task), qemu-server `API2::Qemu`. Implemented options:
//! name, memory, cores, sockets, description, tags, onboot, net0, scsi0 and a few kept
//! verbatim; every change needs the option's own VM.Config.* privilege and may carry the
//! config `digest` it was based on.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::sim::api::auth::Principal;
use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::{Vm, config_missing};
use crate::sim::world::tasks::{self, Outcome};

/// Options and the privilege each needs.
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
    ("net0", "VM.Config.Network"),
    ("scsi0", "VM.Config.Disk"),
    ("scsihw", "VM.Config.HWType"),
    ("agent", "VM.Config.Options"),
];

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
        Spec::string("net0").optional(),
        Spec::string("scsi0").optional(),
        Spec::string("scsihw").optional(),
        Spec::string("agent").optional(),
        Spec::string("delete").optional(),
        Spec::string("revert").optional(),
        Spec::string("digest").max_len(40).optional(),
        Spec::boolean("skiplock").optional(),
        Spec::boolean("force").optional(),
    ];
    if post {
        v.push(Spec::integer("background_delay").min(1).optional());
    }
    v
}

pub(super) fn routes() -> Router<SimState> {
    Router::new().route(
        "/nodes/{node}/qemu/{vmid}/config",
        get(get_config).put(put_config).post(post_config),
    )
}

/// The config as `GET …/config` answers it (with `digest`).
pub(crate) fn config_json(vm: &Vm) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(vm.name));
    m.insert("memory".into(), json!(vm.memory_mib.to_string()));
    m.insert("cores".into(), json!(vm.cores));
    m.insert("sockets".into(), json!(vm.sockets));
    m.insert("ostype".into(), json!(vm.ostype));
    m.insert("net0".into(), json!(vm.net0));
    m.insert("scsi0".into(), json!(vm.scsi0));
    m.insert("onboot".into(), json!(u8::from(vm.onboot)));
    m.insert(
        "vmgenid".into(),
        json!(format!("5c1e0f5a-7d1b-4c39-9a6e-{:012x}", vm.vmid)),
    );
    m.insert(
        "smbios1".into(),
        json!(format!("uuid=8f3c2a10-4b6e-4d2f-8a51-{:012x}", vm.vmid)),
    );
    m.insert(
        "meta".into(),
        json!("creation-qemu=10.1.2,ctime=1767225600"),
    );
    if let Some(b) = vm.balloon_mib {
        m.insert("balloon".into(), json!(b));
    }
    if vm.agent {
        m.insert("agent".into(), json!("1"));
    }
    if let Some(t) = vm.tags_string() {
        m.insert("tags".into(), json!(t));
    }
    if let Some(d) = &vm.description {
        m.insert("description".into(), json!(d));
    }
    if vm.template {
        m.insert("template".into(), json!(1));
    }
    if let Some(l) = &vm.lock {
        m.insert("lock".into(), json!(l));
    }
    for (k, v) in &vm.extra {
        let n = v
            .parse::<i64>()
            .ok()
            .filter(|_| k == "numa" || k == "balloon");
        m.insert(k.clone(), n.map_or_else(|| json!(v), |n| json!(n)));
    }
    let text = serde_json::to_string(&m).unwrap_or_default();
    let digest: String = Sha256::digest(text.as_bytes())[..20]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    m.insert("digest".into(), json!(digest));
    Value::Object(m)
}

/// `GET /nodes/{node}/qemu/{vmid}/config` (VM.Audit).
async fn get_config(call: Call) -> ApiResult {
    call.on_vm(
        &["VM.Audit"],
        &[
            NODE,
            VMID,
            Spec::boolean("current").optional(),
            Spec::string("snapshot").max_len(40).optional(),
        ],
    )?;
    let (node, vmid) = (call.node(), call.vmid());
    let world = call.st.world();
    let vm = world.model.existing_vm(node, vmid)?;
    ok(config_json(vm))
}

/// Checks permissions and values, then applies `params` to the VM (under the caller's lock).
fn apply(
    st: &SimState,
    who: &Principal,
    node: &str,
    vmid: u32,
    params: &Params,
) -> Result<(), ApiError> {
    let deletes: Vec<&str> = params
        .get("delete")
        .map(|d| d.split([',', ';', ' ']).filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let path = format!("/vms/{vmid}");
    let mut changed = false;
    for (opt, privilege) in OPTIONS {
        if params.get(opt).is_some() || deletes.contains(opt) {
            st.check(&who.authid, &path, &[privilege])?;
            changed = true;
        }
    }
    if !changed && params.get("revert").is_none() {
        return Err(ApiError::fail("no options specified"));
    }
    let mut world = st.world();
    let vm = world
        .model
        .vm_on_mut(node, vmid)
        .ok_or_else(|| ApiError::fail(config_missing(node, vmid)))?;
    if let Some(d) = params.get("digest")
        && config_json(vm)["digest"] != d
    {
        return Err(ApiError::fail(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    if let Some(l) = &vm.lock
        && !params.flag("skiplock")
    {
        return Err(ApiError::fail(format!("VM is locked ({l})")));
    }
    let mut next = vm.clone();
    for (opt, value) in params.iter() {
        set_option(&mut next, opt, value)?;
    }
    for opt in deletes {
        match opt {
            "description" => next.description = None,
            "tags" => next.tags.clear(),
            "onboot" => next.onboot = false,
            "balloon" => next.balloon_mib = None,
            "scsi0" | "net0" | "name" | "memory" | "cores" | "sockets" => {
                return Err(ApiError::param(
                    opt,
                    "deleting this option is not simulated",
                ));
            }
            other => {
                next.extra.remove(other);
            }
        }
    }
    *vm = next;
    Ok(())
}

fn set_option(vm: &mut Vm, opt: &str, value: &str) -> Result<(), ApiError> {
    let int = |name: &str| -> Result<u64, ApiError> {
        value.parse::<u64>().map_err(|_| {
            ApiError::param(
                name,
                format!("type check ('integer') failed - got '{value}'"),
            )
        })
    };
    match opt {
        "name" => {
            let ok = !value.is_empty()
                && value.split('.').all(|l| {
                    !l.is_empty()
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(ApiError::param(
                    "name",
                    "invalid format - value does not look like a valid DNS name\n",
                ));
            }
            vm.name = value.to_owned();
        }
        "memory" => {
            let mib = value
                .strip_prefix("current=")
                .unwrap_or(value)
                .parse::<u64>()
                .ok();
            match mib {
                Some(m) if m >= 16 => vm.memory_mib = m,
                _ => {
                    return Err(ApiError::param(
                        "memory",
                        format!(
                            "invalid format - value '{value}' does not look like a valid memory size\n"
                        ),
                    ));
                }
            }
        }
        "cores" => vm.cores = u32::try_from(int("cores")?).unwrap_or(1),
        "sockets" => vm.sockets = u32::try_from(int("sockets")?).unwrap_or(1),
        "balloon" => vm.balloon_mib = Some(int("balloon")?).filter(|b| *b > 0),
        "description" => vm.description = Some(value.to_owned()),
        "onboot" => vm.onboot = value == "1",
        "tags" => {
            vm.tags = value
                .split([';', ',', ' '])
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect();
            vm.tags.sort();
            vm.tags.dedup();
        }
        "net0" => {
            if !value.contains("bridge=") {
                return Err(ApiError::param(
                    "net0",
                    "invalid format - format error\nnet0.bridge: property is missing and it is not optional\n",
                ));
            }
            vm.net0 = value.to_owned();
        }
        "scsi0" => {
            let size = value
                .split(',')
                .find_map(|p| p.strip_prefix("size="))
                .and_then(parse_gib);
            if let Some(g) = size {
                vm.disk_gib = g;
            }
            vm.scsi0 = value.to_owned();
        }
        "ostype" | "boot" | "cpu" | "numa" | "scsihw" | "agent" => {
            vm.extra.insert(opt.to_owned(), value.to_owned());
        }
        _ => {}
    }
    Ok(())
}

/// `32G`, `512M`, `1T` → GiB (at least 1).
pub(super) fn parse_gib(s: &str) -> Option<u64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num.parse().ok()?;
    let gib = match unit {
        "T" => n * 1024.0,
        "G" | "" => n,
        "M" => n / 1024.0,
        "K" => n / 1024.0 / 1024.0,
        _ => return None,
    };
    Some(gib.ceil().max(1.0) as u64)
}

/// The preamble of PUT and POST: any option's privilege lets the call on (each option's own
/// is checked when the change is applied).
fn checked(call: &Call, post: bool) -> Result<Params, ApiError> {
    let params = call.params()?;
    let path = format!("/vms/{}", call.segment("vmid"));
    let any = OPTIONS
        .iter()
        .any(|(_, p)| call.st.can(&call.who.authid, &path, p));
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
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::Error(e.message),
            }
        },
    )?;
    ok(json!(upid))
}
