//! VM life cycle beyond power: `clone` (`qmclone`), `migrate` (GET preconditions, POST →
//! `qmigrate`, or `hamigrate` for an HA-managed VM) and restore from a backup (`POST
//! /nodes/{node}/qemu` with `archive` → `qmrestore`), qemu-server `API2::Qemu`. The VMs' disks
//! live on the node-local `local-lvm`, so clones stay on their node, online migration needs
//! `with-local-disks`, a VM with snapshots cannot migrate and `targetstorage` can move the
//! disks to another storage (see the world's `migrate` and `qmigrate`).

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::sim::api::extract::Call;
use crate::sim::api::params::{Format, NODE, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::backup::run_restore;
use crate::sim::world::ha;
use crate::sim::world::migrate::{self, StorageMap};
use crate::sim::world::model::devices::{
    drive_parts, is_net_key, is_unused_key, with_new_mac, with_volume,
};
use crate::sim::world::model::{Power, mac_address};
use crate::sim::world::qmigrate::{self, Request};
use crate::sim::world::tasks::{self, Outcome};

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/qemu", post(create_or_restore))
        .route("/nodes/{node}/qemu/{vmid}/clone", post(clone))
        .route(
            "/nodes/{node}/qemu/{vmid}/migrate",
            get(migrate_check).post(migrate),
        )
}

fn vmid_num(s: &str) -> u32 {
    s.parse().unwrap_or_default()
}

/// `POST /nodes/{node}/qemu/{vmid}/clone` (VM.Clone on the source, VM.Allocate on the new ID).
async fn clone(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.params()?;
    call.require_vm(&["VM.Clone"])?;
    let newid_raw = params.get("newid").unwrap_or_default().to_owned();
    let pool = params.get("pool").map(str::to_owned);
    // VM.Allocate on the new ID, or on the pool the clone joins.
    let on_pool = pool
        .as_ref()
        .is_some_and(|p| st.can(&who.authid, &format!("/pool/{p}"), "VM.Allocate"));
    if !on_pool {
        call.require(&format!("/vms/{newid_raw}"), &["VM.Allocate"])?;
    }
    call.proxy()?;
    params.validate(&[
        NODE,
        VMID,
        Spec::integer("newid").format(Format::Vmid).min(100),
        Spec::string("name").optional(),
        Spec::string("description").optional(),
        Spec::boolean("full").optional(),
        Spec::string("target").format(Format::Node).optional(),
        Spec::string("storage").optional(),
        Spec::string("format")
            .one_of(&["raw", "qcow2", "vmdk"])
            .optional(),
        Spec::string("pool").format(Format::PoolId).optional(),
        Spec::string("snapname").optional(),
        Spec::integer("bwlimit").min(0).optional(),
    ])?;
    let (node, vmid, newid) = (call.node(), call.vmid(), vmid_num(&newid_raw));
    let source = {
        let world = st.world();
        let vm = world.model.existing_vm(node, vmid)?.clone();
        if let Some(pool) = pool
            .as_ref()
            .filter(|p| !world.model.pools.contains_key(*p))
        {
            // `check_pool_exist` raises a permission exception.
            return Err(ApiError::forbidden_because(&format!(
                "pool '{pool}' does not exist"
            )));
        }
        if world.model.id_taken(newid) {
            return Err(ApiError::fail(format!(
                "unable to create VM {newid}: config file already exists"
            )));
        }
        vm
    };
    let full = params.get("full").map_or(!source.template, |f| f == "1");
    if !full && !source.template {
        return Err(ApiError::fail(
            "Linked clone feature is not supported for drive 'scsi0'",
        ));
    }
    let target = params.get("target").unwrap_or(node).to_owned();
    if target != node {
        st.reach(&target)?;
        return Err(ApiError::fail(format!(
            "Can't clone to other node if VM uses local storage: 'local-lvm:vm-{vmid}-disk-0'"
        )));
    }
    let name = params
        .get("name")
        .map_or_else(|| format!("Copy-of-VM-{}", source.name), str::to_owned);
    let description = params.get("description").map(str::to_owned);
    let upid = tasks::spawn_locked(
        st,
        node,
        "qmclone",
        vmid,
        &who.authid,
        move |ctx| async move {
            // The new VM exists (locked) from the start, as PVE writes its config first.
            let mut vm = source.clone();
            vm.vmid = newid;
            vm.name = name;
            vm.template = false;
            // A clone is in the pool it was asked into, not the source's.
            vm.pool = pool;
            vm.power = Power::Stopped;
            vm.runs.clear();
            vm.lock = Some("clone".to_owned());
            // A clone starts without snapshots or pending changes.
            vm.snapshots.clear();
            vm.parent = None;
            vm.pending.clear();
            vm.pending_delete.clear();
            vm.description = description.or(vm.description);
            vm.net0 = format!(
                "virtio={},bridge=vmbr0,firewall=1",
                mac_address(now_secs() as u64 ^ u64::from(newid))
            );
            vm.scsi0 = format!(
                "local-lvm:vm-{newid}-disk-0,iothread=1,size={}G",
                vm.disk_gib
            );
            // The other disks get volumes of their own (unused ones are not copied), the
            // other NICs MAC addresses of their own.
            vm.extra.retain(|k, _| !is_unused_key(k));
            let disks: Vec<(String, String)> = vm
                .extra_disks()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let mut copies = Vec::new();
            for (n, (key, value)) in disks.into_iter().enumerate() {
                let from = drive_parts(&value).0.to_owned();
                let storage = from.split(':').next().unwrap_or("local-lvm").to_owned();
                let volume = format!("{storage}:vm-{newid}-disk-{}", n + 1);
                vm.extra.insert(key.clone(), with_volume(&value, &volume));
                copies.push((key, from, volume));
            }
            let nets: Vec<(String, String)> = vm
                .extra
                .iter()
                .filter(|(k, _)| is_net_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (key, value) in nets {
                let renewed = with_new_mac(&key, &value, &vm);
                vm.extra.insert(key, renewed);
            }
            if let Some(mut world) = ctx.world() {
                world.model.vms.insert(newid, vm);
            }
            let _lock = ctx.hold_lock(newid, "clone");
            let from = source
                .scsi0
                .split(',')
                .next()
                .unwrap_or_default()
                .to_owned();
            if full {
                ctx.log(format!("create full clone of drive scsi0 ({from})"));
                ctx.log(format!("  Logical volume \"vm-{newid}-disk-0\" created."));
                ctx.log(format!(
                    "transferred 0.0 B of {}.0 GiB (0.00%)",
                    source.disk_gib
                ));
                let steps = 5;
                let step = ctx.st.scaled(Duration::from_millis(
                    (300 + source.disk_gib * 40).min(3000),
                ));
                for i in 1..=steps {
                    tokio::time::sleep(step).await;
                    let gib = source.disk_gib as f64 * f64::from(i) / f64::from(steps);
                    ctx.log(format!(
                        "transferred {gib:.1} GiB of {}.0 GiB ({:.2}%)",
                        source.disk_gib,
                        f64::from(i) * 100.0 / f64::from(steps)
                    ));
                }
            } else {
                ctx.log(format!("create linked clone of drive scsi0 ({from})"));
                tokio::time::sleep(ctx.st.scaled(Duration::from_millis(800))).await;
                ctx.log(format!("  Logical volume \"vm-{newid}-disk-0\" created."));
            }
            let kind = if full { "full" } else { "linked" };
            for (key, from, volume) in copies {
                ctx.log(format!("create {kind} clone of drive {key} ({from})"));
                let name = volume.split(':').nth(1).unwrap_or_default();
                ctx.log(format!("  Logical volume \"{name}\" created."));
            }
            Outcome::Ok
        },
    )?;
    ok(json!(upid))
}

/// `GET /nodes/{node}/qemu/{vmid}/migrate` (VM.Migrate): preconditions (a locked VM is
/// refused, as qemu-server checks the lock first).
async fn migrate_check(call: Call) -> ApiResult {
    call.on_vm(
        &["VM.Migrate"],
        &[
            NODE,
            VMID,
            Spec::string("target").format(Format::Node).optional(),
        ],
    )?;
    let (node, vmid) = (call.node(), call.vmid());
    let world = call.st.world();
    let vm = world.model.existing_vm(node, vmid)?;
    if let Some(l) = &vm.lock {
        return Err(ApiError::fail(format!("VM is locked ({l})")));
    }
    ok(migrate::precondition(&world.model, vm, node))
}

const MIGRATE_PARAMS: &[Spec] = &[
    NODE,
    VMID,
    Spec::string("target").format(Format::Node),
    Spec::boolean("online").optional(),
    Spec::boolean("force").optional(),
    Spec::boolean("with-local-disks").optional(),
    Spec::string("targetstorage")
        .format(Format::StoragePairList)
        .optional(),
    Spec::string("migration_type")
        .one_of(&["secure", "insecure"])
        .optional(),
    Spec::string("migration_network").optional(),
    Spec::integer("bwlimit").min(0).optional(),
    Spec::boolean("with-conntrack-state").optional(),
];

/// What the API checks before forking, in qemu-server's order (`migrate_vm`); answers the
/// storage map of `targetstorage`, if any.
fn migrate_prechecks(
    call: &Call,
    params: &Params,
    target: &str,
) -> Result<Option<StorageMap>, ApiError> {
    let (node, vmid) = (call.node(), call.vmid());
    if target == node {
        return Err(ApiError::param("target", "target is local node."));
    }
    let world = call.st.world();
    match world.model.node(target) {
        None => return Err(ApiError::fail(format!("no such cluster node '{target}'"))),
        Some(n) if !n.online => {
            return Err(ApiError::fail(format!("target node '{target}' not online")));
        }
        Some(_) => {}
    }
    for root_only in ["force", "migration_type", "migration_network"] {
        if params.get(root_only).is_some_and(|v| v != "0") && call.who.authid != "root@pam" {
            return Err(ApiError::param(root_only, "Only root may use this option."));
        }
    }
    let vm = world.model.existing_vm(node, vmid)?;
    if let Some(l) = &vm.lock {
        return Err(ApiError::fail(format!("VM is locked ({l})")));
    }
    if vm.has_process() && !params.flag("online") {
        return Err(ApiError::fail("can't migrate running VM without --online"));
    }
    let Some(text) = params.get("targetstorage").filter(|t| !t.is_empty()) else {
        migrate::check_storage_availability(&world.model, vm, target)?;
        return Ok(None);
    };
    let map = StorageMap::parse(text).map_err(|e| {
        ApiError::param("targetstorage", format!("failed to parse storage map: {e}"))
    })?;
    if !map.identity {
        call.require_vm(&["VM.Config.Disk"])?;
    }
    // `$check_storage_access_migrate` for each target storage: there on the target node, the
    // caller may allocate space on it, it holds VM images.
    for storage in map.targets() {
        let found = migrate::storage_on_node(&world.model, storage, target)?;
        call.require(&format!("/storage/{storage}"), &["Datastore.AllocateSpace"])?;
        migrate::check_images(found)?;
    }
    if map.identity {
        migrate::check_storage_availability(&world.model, vm, target)?;
    }
    Ok(Some(map))
}

/// `POST /nodes/{node}/qemu/{vmid}/migrate` (VM.Migrate) → a `qmigrate` task ([`qmigrate`]):
/// the VM's config moves to `target`, its local disks to the storages `targetstorage` maps
/// them to. An HA-managed VM's migration is the HA manager's: a `hamigrate` request task,
/// after the same checks ([`ha::request_migration`]).
async fn migrate(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.on_vm(&["VM.Migrate"], MIGRATE_PARAMS)?;
    let (node, vmid) = (call.node(), call.vmid());
    let target = params.get("target").unwrap_or_default().to_owned();
    let storagemap = migrate_prechecks(&call, &params, &target)?;
    if ha::manages(&st.world().model, vmid) {
        let upid = ha::request_migration(st, &who.authid, node, vmid, &target)?;
        return ok(json!(upid));
    }
    let request = Request {
        target,
        online: params.flag("online"),
        force: params.flag("force"),
        with_local_disks: params.flag("with-local-disks"),
        storagemap,
    };
    let upid = qmigrate::launch(st, &who.authid, node, vmid, request)?;
    ok(json!(upid))
}

const RESTORE_PARAMS: &[Spec] = &[
    NODE,
    VMID,
    Spec::string("archive").optional(),
    Spec::string("storage").optional(),
    Spec::boolean("force").optional(),
    Spec::boolean("unique").optional(),
    Spec::boolean("live-restore").optional(),
    Spec::boolean("start").optional(),
    Spec::string("pool").optional(),
    Spec::integer("bwlimit").min(0).optional(),
];

/// `POST /nodes/{node}/qemu`: restore with `archive` (`force` to overwrite a stopped VM) →
/// `qmrestore`. Creating VMs from scratch is not simulated.
async fn create_or_restore(call: Call) -> ApiResult {
    let Call { st, who, .. } = &call;
    let params = call.on_node(&[], RESTORE_PARAMS)?;
    let node = call.node().to_owned();
    let vmid = vmid_num(params.get("vmid").unwrap_or_default());
    let Some(volid) = params.get("archive").map(str::to_owned) else {
        return Err(ApiError::fail(
            "creating a VM without 'archive' is not simulated",
        ));
    };
    let existing = st.world().model.vms.get(&vmid).map(|vm| vm.node.clone());
    match &existing {
        Some(_) => call.require(&format!("/vms/{vmid}"), &["VM.Backup"])?,
        None => call.require(&format!("/vms/{vmid}"), &["VM.Allocate"])?,
    }
    let emsg = format!("unable to restore VM {vmid} -");
    if let Some(other) = existing.as_ref().filter(|n| **n != node) {
        return Err(ApiError::fail(format!(
            "{emsg} VM {vmid} already exists on node '{other}'"
        )));
    }
    if existing.is_some() && !params.flag("force") {
        return Err(ApiError::fail(format!("{emsg} config file already exists")));
    }
    let archive = {
        let world = st.world();
        world
            .backups
            .iter()
            .find(|a| a.volid() == volid)
            .cloned()
            .ok_or_else(|| ApiError::fail(format!("{emsg} volume '{volid}' does not exist")))?
    };
    let storage = volid.split(':').next().unwrap_or_default();
    call.require(&format!("/storage/{storage}"), &["Datastore.Audit"])?;
    let unique = params.flag("unique");
    let target = node.clone();
    let upid = tasks::spawn(
        st,
        &target,
        "qmrestore",
        &vmid.to_string(),
        &who.authid,
        move |ctx| run_restore(ctx, node, vmid, archive, unique),
    )?;
    ok(Value::String(upid))
}
