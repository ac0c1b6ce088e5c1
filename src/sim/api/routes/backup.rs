//! Storages and backups: `/nodes/{node}/storage[/{storage}/content]` and `POST
//! /nodes/{node}/vzdump` (pve-storage, pve-manager `API2::VZDump`); the jobs are in
//! `backup_jobs`.

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{Format, NODE, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::backup::{DumpPlan, run_vzdump};
use crate::sim::world::metrics::{lvm_usage, node_sample};
use crate::sim::world::model::devices::{
    drive_gib, drive_parts, is_cdrom, is_disk_key, is_unused_key,
};
use crate::sim::world::model::{Model, Node, Storage, Vm};
use crate::sim::world::tasks;

/// Size of the shared `backup` storage.
const BACKUP_STORE: u64 = 4_000_000_000_000;

const COMPRESS: Spec = Spec::string("compress")
    .one_of(&["0", "1", "gzip", "lzo", "zstd"])
    .optional();
const MODE: Spec = Spec::string("mode")
    .one_of(&["snapshot", "suspend", "stop"])
    .optional();
/// Options shared by `vzdump` and backup jobs.
pub(super) const DUMP_OPTIONS: &[Spec] = &[
    Spec::boolean("all").optional(),
    Spec::integer("bwlimit").min(0).optional(),
    COMPRESS,
    Spec::string("exclude").optional(),
    Spec::string("fleecing").optional(),
    Spec::integer("ionice").min(0).optional(),
    Spec::integer("lockwait").min(0).optional(),
    Spec::string("mailnotification").optional(),
    Spec::string("mailto").optional(),
    MODE,
    Spec::string("notes-template").max_len(1024).optional(),
    Spec::string("notification-mode").optional(),
    Spec::string("performance").optional(),
    Spec::string("pool").optional(),
    Spec::boolean("protected").optional(),
    Spec::string("prune-backups").optional(),
    Spec::boolean("remove").optional(),
    Spec::string("storage").optional(),
    Spec::string("vmid").optional(),
    Spec::integer("zstd").min(0).optional(),
];
pub(super) const JOB_ONLY: &[Spec] = &[
    Spec::string("comment").max_len(512).optional(),
    Spec::boolean("enabled").optional(),
    Spec::string("id").optional(),
    Spec::string("node").format(Format::Node).optional(),
    Spec::boolean("repeat-missed").optional(),
    Spec::string("schedule").max_len(128).optional(),
    Spec::string("starttime").optional(),
    Spec::string("dow").optional(),
];

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/storage", get(storages))
        .route("/nodes/{node}/storage/{storage}/content", get(content))
        .route("/nodes/{node}/vzdump", post(vzdump))
}

fn storage_usage(model: &Model, world_backups: u64, node: &Node, s: &Storage) -> (u64, u64) {
    match s.id.as_str() {
        "local-lvm" => (lvm_usage(model, node), node.lvm_size),
        "backup" => (200_000_000_000 + world_backups, BACKUP_STORE),
        _ => (node_sample(model, node, now_secs()).disk, node.maxdisk),
    }
}

/// `GET /nodes/{node}/storage[?content=&storage=]`: storages the caller may audit.
async fn storages(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.on_node(
        &[],
        &[
            NODE,
            Spec::string("content").optional(),
            Spec::boolean("enabled").optional(),
            Spec::string("format").optional(),
            Spec::string("storage").optional(),
            Spec::string("target").format(Format::Node).optional(),
        ],
    )?;
    let world = st.world();
    let model = &world.model;
    let n = model
        .node(call.node())
        .ok_or_else(|| ApiError::fail("no such node"))?;
    let used_backups: u64 = world.backups.iter().map(|a| a.size).sum();
    let list: Vec<Value> = model
        .storages
        .iter()
        .filter(|s| {
            let path = format!("/storage/{}", s.id);
            st.can(&who.authid, &path, "Datastore.Audit")
                || st.can(&who.authid, &path, "Datastore.AllocateSpace")
        })
        .filter(|s| s.on_node(&n.name))
        .filter(|s| params.get("storage").is_none_or(|id| id == s.id))
        .filter(|s| {
            params
                .get("content")
                .is_none_or(|c| c.split(',').any(|c| s.content.split(',').any(|x| x == c)))
        })
        .map(|s| {
            let (used, total) = storage_usage(model, used_backups, n, s);
            json!({
                "storage": s.id, "type": s.plugintype, "content": s.content,
                "shared": u8::from(s.shared), "active": 1, "enabled": 1,
                "total": total, "used": used, "avail": total - used,
                "used_fraction": used as f64 / total as f64,
            })
        })
        .collect();
    ok(Value::Array(list))
}

/// `GET /nodes/{node}/storage/{storage}/content[?content=&vmid=]`.
async fn content(call: Call) -> ApiResult {
    let params = call.params()?;
    let (node, storage) = (call.node(), call.segment("storage"));
    let path = format!("/storage/{storage}");
    if !call.st.can(&call.who.authid, &path, "Datastore.Audit") {
        call.require(&path, &["Datastore.AllocateSpace"])?;
    }
    call.proxy()?;
    params.validate(&[
        NODE,
        Spec::string("storage"),
        Spec::string("content").optional(),
        VMID.optional(),
    ])?;
    let world = call.st.world();
    let model = &world.model;
    let s = model
        .storages
        .iter()
        .find(|s| s.id == storage)
        .ok_or_else(|| ApiError::fail(format!("storage '{storage}' does not exist")))?;
    let want = params.get("content");
    let vmid = params.int("vmid").and_then(|v| u32::try_from(v).ok());
    let mut list = Vec::new();
    if s.holds("backup") && want.is_none_or(|c| c == "backup") {
        let mut archives: Vec<_> = world
            .backups
            .iter()
            .filter(|a| a.storage == storage && vmid.is_none_or(|v| a.vmid == v))
            .collect();
        archives.sort_by_key(|a| a.volid());
        list.extend(archives.into_iter().map(|a| a.content_entry()));
    }
    if s.holds("images") && want.is_none_or(|c| c == "images") {
        // The VMs' volumes on this storage: of this node's VMs, or of all on a shared one.
        let mut images: Vec<Value> = model
            .vms
            .values()
            .filter(|v| s.shared || v.node == node)
            .filter(|v| vmid.is_none_or(|id| v.vmid == id))
            .flat_map(|vm| {
                image_volumes(vm)
                    .filter(|(volid, _)| volid.split(':').next() == Some(storage))
                    .map(|(volid, size)| {
                        json!({
                            "format": volume_format(&volid), "volid": volid, "content": "images",
                            "vmid": vm.vmid, "size": size, "used": 0,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        images.sort_by(|a, b| a["volid"].as_str().cmp(&b["volid"].as_str()));
        list.extend(images);
    }
    ok(Value::Array(list))
}

/// A VM's volumes (boot disk, other disks, unused disks) with their sizes in bytes (0 where
/// the config has none).
fn image_volumes(vm: &Vm) -> impl Iterator<Item = (String, u64)> + '_ {
    let others = vm
        .extra
        .iter()
        .filter(|(k, v)| (is_disk_key(k) && !is_cdrom(v)) || is_unused_key(k))
        .map(|(_, v)| {
            (
                drive_parts(v).0.to_owned(),
                drive_gib(v).map_or(0, |g| g << 30),
            )
        });
    std::iter::once((vm.disk_volid().to_owned(), vm.maxdisk()))
        .chain(others)
        .filter(|(volid, _)| volid.contains(':'))
}

/// A volume's format: a file's extension, else `raw`.
fn volume_format(volid: &str) -> &str {
    match volid.rsplit_once('.') {
        Some((_, ext @ ("qcow2" | "vmdk" | "raw"))) => ext,
        _ => "raw",
    }
}

/// `POST /nodes/{node}/vzdump`: backs up the listed (or all) VMs of this node → UPID.
async fn vzdump(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let mut specs = DUMP_OPTIONS.to_vec();
    specs.extend([
        NODE,
        Spec::boolean("stdout").optional(),
        Spec::string("job-id").optional(),
    ]);
    let params = call.on_node(&[], &specs)?;
    let node = call.node();
    let storage = params.get("storage").unwrap_or("local").to_owned();
    let plan = {
        let world = st.world();
        let model = &world.model;
        let s = model
            .storages
            .iter()
            .find(|s| s.id == storage)
            .ok_or_else(|| ApiError::fail(format!("storage '{storage}' does not exist")))?;
        if !s.content.split(',').any(|c| c == "backup") {
            return Err(ApiError::fail(format!(
                "storage '{storage}' does not support backups"
            )));
        }
        let listed: Vec<u32> = match params.get("vmid") {
            Some(list) => list
                .split([',', ';', ' '])
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse().map_err(|_| {
                        ApiError::param(
                            "vmid",
                            "invalid format - value does not look like a valid VM ID\n",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            None if params.flag("all") => model.vms_on(node).map(|v| v.vmid).collect(),
            None => return Err(ApiError::fail("No guests selected for backup.")),
        };
        for vmid in &listed {
            st.check(&who.authid, &format!("/vms/{vmid}"), &["VM.Backup"])?;
        }
        st.check(
            &who.authid,
            &format!("/storage/{storage}"),
            &["Datastore.AllocateSpace"],
        )?;
        let local: Vec<u32> = listed
            .iter()
            .copied()
            .filter(|id| model.vm_on(node, *id).is_some())
            .collect();
        let mut cmd: Vec<String> = vec![
            listed
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ];
        for opt in ["storage", "mode", "compress", "notes-template"] {
            if let Some(v) = params.get(opt) {
                cmd.push(format!("--{opt} {v}"));
            }
        }
        cmd.push(format!("--node {node}"));
        DumpPlan {
            node: node.to_owned(),
            vmids: local,
            storage: storage.clone(),
            mode: params.get("mode").unwrap_or("snapshot").to_owned(),
            compress: params.get("compress").unwrap_or("0").to_owned(),
            notes_template: params.get("notes-template").map(str::to_owned),
            protected: params.flag("protected"),
            cmdline: cmd.join(" "),
        }
    };
    let id = match plan.vmids.as_slice() {
        [one] => one.to_string(),
        _ => String::new(),
    };
    let upid = tasks::spawn(st, node, "vzdump", &id, &who.authid, move |ctx| {
        run_vzdump(ctx, plan)
    })?;
    ok(json!(upid))
}
