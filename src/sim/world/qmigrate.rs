//! The `qmigrate` task: qemu-server's `PVE::QemuMigrate` as its log shows it. `prepare`
//! refuses a running VM without `online`, local devices (unless `force` for a stopped VM)
//! and target storages the target node lacks or that hold no VM images; phase 1 scans the
//! local volumes (refusing a running VM's attached disks without `with-local-disks`, and
//! disks with snapshots) and copies the offline ones (`storage_migrate`); phase 2 starts the
//! VM on the target, whose new volumes the drive mirror fills; phase 3 moves the config, its
//! volume IDs replaced. Where a local volume goes is the storage map's (`targetstorage`):
//! its storage's target, or the same storage.

use std::time::Duration;

use super::SimState;
use super::error::Error;
use super::migrate::{self, LocalVolume, StorageMap, storage_of, storage_on_node};
use super::model::devices::{drive_parts, is_unused_key, with_prop, with_volume};
use super::model::{Model, Storage, Vm, config_missing};
use super::tasks::{self, Outcome, TaskCtx};
use crate::sim::util::{log_time, now_secs};

/// What a migration was asked to do (`POST …/migrate`'s options, or the HA manager's).
#[derive(Clone, Debug, Default)]
pub(crate) struct Request {
    pub target: String,
    /// Migrate a running VM live (a stopped one migrates offline anyway).
    pub online: bool,
    /// Migrate a stopped VM with local devices.
    pub force: bool,
    /// Copy a running VM's attached local disks along (drive mirror).
    pub with_local_disks: bool,
    /// `targetstorage`; `None` keeps every volume on a storage of its own name.
    pub storagemap: Option<StorageMap>,
}

/// Forks the `qmigrate` task of VM `vmid` on `node` for `authid`; answers its UPID.
pub(crate) fn launch(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    request: Request,
) -> Result<String, Error> {
    let source = node.to_owned();
    tasks::spawn_locked(st, node, "qmigrate", vmid, authid, move |ctx| {
        run(ctx, source, vmid, request)
    })
}

/// What `prepare` found.
struct Prepared {
    running: bool,
    /// The target node's address.
    ip: String,
    /// Lines `prepare` logs before phase 1.
    notes: Vec<String>,
    volumes: Vec<LocalVolume>,
    /// The scan's complaints, by volume.
    errors: Vec<(String, &'static str)>,
    /// A local volume on a storage type qemu-server cannot migrate.
    unsupported: Option<String>,
    /// Where each local volume goes: the offline copies first (by volume ID), then the
    /// running VM's mirrored drives (by drive name).
    moves: Vec<Move>,
}

/// One local volume's way to the target.
#[derive(Clone, Debug, PartialEq)]
struct Move {
    volid: String,
    /// The target volume, or why `storage_migrate` refuses it.
    to: Result<String, String>,
    /// The target storage.
    storage: String,
    /// The drive it is attached as (`scsi0`), if any.
    drive: Option<String>,
    /// Copied by the drive mirror of the running VM (its format goes into the config);
    /// else copied before, offline.
    mirrored: Option<String>,
    /// GiB, for the progress lines (`None` for a volume whose config has no size).
    gib: Option<u64>,
}

/// `prepare`'s checks in qemu-server's order, the errors as it dies with them.
fn prepare(model: &Model, source: &str, vmid: u32, req: &Request) -> Result<Prepared, String> {
    let vm = model
        .vm_on(source, vmid)
        .ok_or_else(|| config_missing(source, vmid))?;
    if let Some(l) = &vm.lock {
        return Err(format!("VM is locked ({l})"));
    }
    let running = vm.has_process();
    if running && !req.online {
        return Err("can't migrate running VM without --online".to_owned());
    }
    let mut notes = Vec::new();
    let devices = migrate::local_resources(vm);
    if !devices.is_empty() {
        if running || !req.force {
            return Err(format!(
                "can't migrate VM which uses local devices: {}",
                devices.join(", ")
            ));
        }
        notes.push("migrating VM which uses local devices".to_owned());
    }
    let ip = model
        .node(&req.target)
        .map(|n| n.ip.clone())
        .ok_or_else(|| format!("no such cluster node '{}'", req.target))?;
    // Every volume's target storage must be on the target node and take VM images (local
    // volumes go where the map says, shared ones stay).
    for volid in all_volumes(vm) {
        let sid = storage_of(&volid);
        let storage = model
            .storage(sid)
            .ok_or_else(|| format!("storage '{sid}' does not exist"))?;
        let target_sid = target_storage(storage, req);
        let target = storage_on_node(model, target_sid, &req.target).map_err(|e| e.to_string())?;
        if !target.holds("images") {
            return Err(format!(
                "{volid}: content type 'images' is not available on storage '{target_sid}'"
            ));
        }
    }
    let volumes = migrate::local_volumes(model, vm);
    let errors = migrate::volume_errors(model, vm, req.with_local_disks);
    let unsupported = volumes.iter().find_map(|v| {
        let kind = model.storage(storage_of(&v.volid))?.plugintype.as_str();
        let movable = matches!(kind, "dir" | "btrfs" | "zfspool" | "lvmthin" | "lvm");
        (!movable).then(|| {
            format!(
                "can't migrate '{}' - storage type '{kind}' not supported",
                v.volid
            )
        })
    });
    let moves = plan_moves(model, vm, &volumes, req, running);
    Ok(Prepared {
        running,
        ip,
        notes,
        volumes,
        errors,
        unsupported,
        moves,
    })
}

/// Where volumes of `storage` go: a local storage's mapped target, a shared one stays.
fn target_storage<'a>(storage: &'a Storage, req: &'a Request) -> &'a str {
    match &req.storagemap {
        Some(map) if !storage.shared => map.map(&storage.id),
        _ => &storage.id,
    }
}

/// All volume IDs of the VM (drives, unused disks, snapshots' RAM), sorted.
fn all_volumes(vm: &Vm) -> Vec<String> {
    let unused = vm.extra.iter().filter(|(k, _)| is_unused_key(k));
    let mut out: Vec<String> = std::iter::once(vm.disk_volid())
        .chain(vm.extra_disks().map(|(_, v)| drive_parts(v).0))
        .chain(unused.map(|(_, v)| drive_parts(v).0))
        .chain(vm.snapshots.values().filter_map(|s| s.vmstate.as_deref()))
        .filter(|v| v.contains(':'))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A volume's format: a file's extension, else `raw`.
fn format_of(volid: &str) -> &str {
    match volid.rsplit_once('.') {
        Some((_, ext @ ("qcow2" | "vmdk" | "raw"))) => ext,
        _ => "raw",
    }
}

/// `vm-100-disk-1` of `local:100/vm-100-disk-1.qcow2` or `local-lvm:vm-100-disk-1`.
fn stem(volid: &str) -> &str {
    let name = volid.split_once(':').map_or(volid, |(_, n)| n);
    let base = name.rsplit('/').next().unwrap_or(name);
    base.rsplit_once('.').map_or(base, |(s, _)| s)
}

/// pve-storage's `find_free_diskname` + volume name: the lowest free `vm-<vmid>-disk-<n>`
/// on `storage`, as a file `<vmid>/vm-<vmid>-disk-<n>.<format>` where volumes are files.
fn free_volume(vmid: u32, storage: &Storage, format: &str, taken: &[String]) -> String {
    let n = (0..)
        .find(|n| {
            let name = format!("vm-{vmid}-disk-{n}");
            !taken
                .iter()
                .any(|t| storage_of(t) == storage.id && stem(t) == name)
        })
        .unwrap_or_default();
    if storage.file_based() {
        format!("{}:{vmid}/vm-{vmid}-disk-{n}.{format}", storage.id)
    } else {
        format!("{}:vm-{vmid}-disk-{n}", storage.id)
    }
}

/// pve-storage's `storage_migrate` naming: the same volume name between storages of one
/// type, else the name made for the target's type (`volname_for_storage`); a name the target
/// has already is replaced by a free one (`allow_rename`).
fn offline_target(
    vmid: u32,
    volid: &str,
    from: &Storage,
    to: &Storage,
    taken: &[String],
) -> Result<String, String> {
    let volname = volid.split_once(':').map_or(volid, |(_, n)| n);
    let format = format_of(volid);
    let name = if from.plugintype == to.plugintype {
        volname.to_owned()
    } else {
        if !to.takes_format(format) {
            return Err(format!(
                "unsupported format '{format}' for storage type {}",
                to.plugintype
            ));
        }
        let stem = stem(volid);
        if to.file_based() {
            format!("{vmid}/{stem}.{format}")
        } else {
            stem.to_owned()
        }
    };
    let new = format!("{}:{name}", to.id);
    if taken.contains(&new) {
        Ok(free_volume(vmid, to, format, taken))
    } else {
        Ok(new)
    }
}

/// Where each local volume goes, in the order PVE handles them: offline copies (by volume
/// ID) in phase 1, then — for a running VM — its attached disks, allocated anew on the target
/// by `vm_migrate_alloc_nbd_disks` (by drive name) in the source's format where the target
/// takes it, else `raw`.
fn plan_moves(
    model: &Model,
    vm: &Vm,
    volumes: &[LocalVolume],
    req: &Request,
    running: bool,
) -> Vec<Move> {
    // The target node has the VM's volumes on shared storages already (they stay).
    let mut taken: Vec<String> = all_volumes(vm)
        .into_iter()
        .filter(|v| model.storage(storage_of(v)).is_some_and(|s| s.shared))
        .collect();
    let mut moves = Vec::new();
    let storages = |v: &LocalVolume| {
        let from = model.storage(storage_of(&v.volid))?;
        let to = model.storage(target_storage(from, req))?;
        Some((from, to))
    };
    for v in volumes.iter().filter(|v| !(running && v.attached)) {
        let Some((from, to)) = storages(v) else {
            continue;
        };
        let to_volid = offline_target(vm.vmid, &v.volid, from, to, &taken);
        if let Ok(new) = &to_volid {
            taken.push(new.clone());
        }
        moves.push(Move {
            volid: v.volid.clone(),
            to: to_volid,
            storage: to.id.clone(),
            drive: v.drivename.clone().filter(|_| v.attached),
            mirrored: None,
            gib: v.size.map(|b| b >> 30).filter(|_| v.attached),
        });
    }
    if running {
        let mut online: Vec<&LocalVolume> = volumes.iter().filter(|v| v.attached).collect();
        online.sort_by(|a, b| a.drivename.cmp(&b.drivename));
        for v in online {
            let Some((_, to)) = storages(v) else {
                continue;
            };
            let source_format = format_of(&v.volid);
            let format = if to.takes_format(source_format) {
                source_format
            } else {
                "raw"
            };
            let new = free_volume(vm.vmid, to, format, &taken);
            taken.push(new.clone());
            moves.push(Move {
                volid: v.volid.clone(),
                to: Ok(new),
                storage: to.id.clone(),
                drive: v.drivename.clone(),
                mirrored: Some(format.to_owned()),
                gib: v.size.map(|b| b >> 30),
            });
        }
    }
    moves
}

/// `hh:mm:ss` since `started`.
fn duration_since(started: i64) -> String {
    let secs = (now_secs() - started).max(0);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The drive mirror's (or the copy's) progress of `drive`, one line a second at 1 GiB/s (a
/// 10 GbE migration network), at least 3 s.
async fn copy(ctx: &TaskCtx, drive: &str, gib: u64) {
    let seconds = gib.max(3);
    for i in 1..=seconds {
        tokio::time::sleep(ctx.st.scaled(Duration::from_secs(1))).await;
        let done = (gib as f64 * i as f64 / seconds as f64).min(gib as f64);
        ctx.log(format!(
            "{} drive-{drive}: transferred {done:.1} GiB of {gib}.0 GiB ({:.2}%) in {i}s",
            log_time(now_secs()),
            done * 100.0 / gib.max(1) as f64,
        ));
    }
}

async fn run(ctx: TaskCtx, source: String, vmid: u32, req: Request) -> Outcome {
    let started = now_secs();
    let log = |msg: &str| ctx.log(format!("{} {msg}", log_time(now_secs())));
    let err = |msg: &str| ctx.log(format!("{} ERROR: {msg}", log_time(now_secs())));
    let abort = |msg: &str| {
        err(&format!(
            "migration aborted (duration {}): {msg}",
            duration_since(started)
        ));
        Outcome::Error("migration aborted".to_owned())
    };
    let Some(prepared) = ctx
        .world()
        .map(|world| prepare(&world.model, &source, vmid, &req))
    else {
        return Outcome::Error("migration aborted".to_owned());
    };
    let p = match prepared {
        Ok(p) => p,
        Err(e) => return abort(&e),
    };
    let target = &req.target;
    for note in &p.notes {
        log(note);
    }
    let _lock = ctx.hold_lock(vmid, "migrate");
    log(&format!(
        "starting migration of VM {vmid} to node '{target}' ({})",
        p.ip
    ));
    // phase 1: the volume scan
    for v in &p.volumes {
        let why = if v.attached {
            "attached"
        } else if v.unused {
            "unused"
        } else {
            "referenced by snapshot(s)"
        };
        log(&format!("found local disk '{}' ({why})", v.volid));
    }
    let scan_error = if !p.errors.is_empty() {
        for (volid, msg) in &p.errors {
            log(&format!("can't migrate local disk '{volid}': {msg}"));
        }
        Some("can't migrate VM - check log".to_owned())
    } else {
        p.unsupported.clone()
    };
    if let Some(e) = scan_error {
        let e = format!("Problem found while scanning volumes - {e}");
        err(&e);
        log("aborting phase 1 - cleanup resources");
        return abort(&e);
    }
    // phase 1: the offline copies
    let (offline, mirrored): (Vec<&Move>, Vec<&Move>) =
        p.moves.iter().partition(|m| m.mirrored.is_none());
    if !offline.is_empty() {
        log("copying local disk images");
    }
    for m in &offline {
        let new = match &m.to {
            Ok(new) => new,
            Err(e) => {
                let e = format!(
                    "storage migration for '{}' to storage '{}' failed - {e}",
                    m.volid, m.storage
                );
                err(&e);
                log("aborting phase 1 - cleanup resources");
                return abort(&e);
            }
        };
        if let (Some(drive), Some(gib)) = (&m.drive, m.gib) {
            copy(&ctx, drive, gib).await;
        }
        log(&format!("volume '{}' is '{new}' on the target", m.volid));
    }
    // phase 2: the VM on the target, its local disks mirrored, then the RAM
    if p.running {
        log(&format!("starting VM {vmid} on remote node '{target}'"));
        for m in &mirrored {
            if let Ok(new) = &m.to {
                log(&format!("volume '{}' is '{new}' on the target", m.volid));
            }
        }
        if !mirrored.is_empty() {
            log("starting storage migration");
        }
        for m in &mirrored {
            let drive = m.drive.as_deref().unwrap_or("scsi0");
            log(&format!(
                "{drive}: start migration to nbd:unix:/run/qemu-server/{vmid}_nbd.migrate:exportname=drive-{drive}"
            ));
        }
        for m in &mirrored {
            copy(
                &ctx,
                m.drive.as_deref().unwrap_or("scsi0"),
                m.gib.unwrap_or(0),
            )
            .await;
        }
        if mirrored.is_empty() {
            tokio::time::sleep(ctx.st.scaled(Duration::from_secs(2))).await;
        }
        log("migration status: completed");
    }
    // phase 3: the config moves, with the new volume IDs
    if let Some(mut world) = ctx.world()
        && let Some(vm) = world.model.vms.get_mut(&vmid)
    {
        for m in &p.moves {
            if let Ok(new) = &m.to {
                replace_volume(vm, &m.volid, new, m.mirrored.as_deref());
            }
        }
        vm.node = target.clone();
    }
    log(&format!(
        "migration finished successfully (duration {})",
        duration_since(started)
    ));
    Outcome::Ok
}

/// `update_volume_ids` for one volume: every config entry on `old` now names `new`; a
/// mirrored drive takes the target's drive string, which has the `format`.
fn replace_volume(vm: &mut Vm, old: &str, new: &str, format: Option<&str>) {
    let moved = |value: &str| {
        let v = with_volume(value, new);
        match format {
            Some(f) => with_prop(&v, "format", f),
            None => v,
        }
    };
    if vm.disk_volid() == old {
        vm.scsi0 = moved(&vm.scsi0);
    }
    for (key, value) in vm.extra.iter_mut() {
        if drive_parts(value).0 == old {
            *value = if is_unused_key(key) {
                with_volume(value, new)
            } else {
                moved(value)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::model::generate;

    fn storage(id: &str, kind: &str, shared: bool) -> Storage {
        Storage {
            id: id.into(),
            plugintype: kind.into(),
            content: "images".into(),
            shared,
            nodes: None,
        }
    }

    fn model_with(extra: &[Storage]) -> (Model, Vm) {
        let mut model = generate(2, 3, 42, 1_800_000_000);
        model.storages.extend(extra.iter().cloned());
        let vm = model
            .vms
            .values()
            .find(|v| !v.template && !v.has_process())
            .unwrap()
            .clone();
        (model, vm)
    }

    fn request(target: &str, map: &str) -> Request {
        Request {
            target: target.to_owned(),
            storagemap: (!map.is_empty()).then(|| StorageMap::parse(map).unwrap()),
            ..Request::default()
        }
    }

    #[test]
    fn volume_names_follow_the_target_storage_type() {
        let lvm = storage("local-lvm", "lvmthin", false);
        let thin = storage("fast", "lvmthin", false);
        let dir = storage("files", "dir", false);
        let taken = Vec::new();
        let lv = "local-lvm:vm-100-disk-1";
        assert_eq!(
            offline_target(100, lv, &lvm, &thin, &taken).unwrap(),
            "fast:vm-100-disk-1"
        );
        assert_eq!(
            offline_target(100, lv, &lvm, &dir, &taken).unwrap(),
            "files:100/vm-100-disk-1.raw"
        );
        let qcow = "files:100/vm-100-disk-2.qcow2";
        assert_eq!(
            offline_target(100, qcow, &dir, &lvm, &taken).unwrap_err(),
            "unsupported format 'qcow2' for storage type lvmthin"
        );
        // a name the target has already is renamed
        let taken = vec![
            "fast:vm-100-disk-1".to_owned(),
            "fast:vm-100-disk-0".to_owned(),
        ];
        assert_eq!(
            offline_target(100, lv, &lvm, &thin, &taken).unwrap(),
            "fast:vm-100-disk-2"
        );
        assert_eq!(stem(qcow), "vm-100-disk-2");
    }

    #[test]
    fn a_stopped_vm_keeps_its_names_a_running_one_gets_new_volumes() {
        let (mut model, mut vm) = model_with(&[storage("fast", "lvmthin", false)]);
        let id = vm.vmid;
        vm.extra.insert(
            "virtio0".into(),
            format!("local-lvm:vm-{id}-disk-3,size=4G"),
        );
        vm.extra
            .insert("unused0".into(), format!("local-lvm:vm-{id}-disk-2"));
        model.vms.insert(id, vm.clone());
        let other = model
            .nodes
            .iter()
            .find(|n| n.name != vm.node)
            .unwrap()
            .name
            .clone();
        let p = prepare(&model, &vm.node, id, &request(&other, "fast")).unwrap();
        let to: Vec<_> = p.moves.iter().map(|m| m.to.clone().unwrap()).collect();
        assert_eq!(
            to,
            [
                format!("fast:vm-{id}-disk-0"),
                format!("fast:vm-{id}-disk-2"),
                format!("fast:vm-{id}-disk-3"),
            ]
        );
        // Running: the unused disk is copied first, the drives get the free names after it
        // (by drive name: scsi0, then virtio0) and `format=raw`.
        let vm = model.vms.get_mut(&id).unwrap();
        vm.power = crate::sim::world::model::Power::Running;
        let req = Request {
            online: true,
            with_local_disks: true,
            ..request(&other, "local-lvm:fast")
        };
        let p = prepare(&model, &model.vms[&id].node, id, &req).unwrap();
        let to: Vec<_> = p
            .moves
            .iter()
            .map(|m| (m.to.clone().unwrap(), m.mirrored.clone()))
            .collect();
        assert_eq!(
            to,
            [
                (format!("fast:vm-{id}-disk-2"), None),
                (format!("fast:vm-{id}-disk-0"), Some("raw".into())),
                (format!("fast:vm-{id}-disk-1"), Some("raw".into())),
            ]
        );
        let mut vm = model.vms[&id].clone();
        for m in &p.moves {
            replace_volume(
                &mut vm,
                &m.volid,
                m.to.as_ref().unwrap(),
                m.mirrored.as_deref(),
            );
        }
        assert!(
            vm.scsi0
                .starts_with(&format!("fast:vm-{id}-disk-0,format=raw,")),
            "{}",
            vm.scsi0
        );
        assert_eq!(
            vm.extra["virtio0"],
            format!("fast:vm-{id}-disk-1,format=raw,size=4G")
        );
        assert_eq!(vm.extra["unused0"], format!("fast:vm-{id}-disk-2"));
    }

    #[test]
    fn prepare_refuses_what_qemu_server_refuses() {
        let (mut model, vm) = model_with(&[storage("files", "dir", false)]);
        let other = model
            .nodes
            .iter()
            .find(|n| n.name != vm.node)
            .unwrap()
            .name
            .clone();
        let refused = |model: &Model, map: &str| {
            prepare(model, &vm.node, vm.vmid, &request(&other, map))
                .err()
                .unwrap_or_default()
        };
        assert_eq!(refused(&model, "nosuch"), "storage 'nosuch' does not exist");
        assert_eq!(
            refused(&model, "local-lvm:backup"),
            format!(
                "{}: content type 'images' is not available on storage 'backup'",
                vm.disk_volid()
            )
        );
        model.storages.last_mut().unwrap().nodes = Some(vec![vm.node.clone()]);
        assert_eq!(
            refused(&model, "files"),
            format!("storage 'files' is not available on node '{other}'")
        );
        // a mapping for other storages leaves the disk on its own
        assert_eq!(refused(&model, "ceph:files"), "");
    }
}
