//! QEMU snapshots as qemu-server and pve-guest-common take, delete and roll them back: each is
//! a task (`qmsnapshot`, `qmdelsnapshot`, `qmrollback`) whose checks run in the worker, so a
//! used or missing name, a locked VM or a template end the task with PVE's error rather than
//! the API call. The worker takes the config lock (`lock_config`) only to check and to commit;
//! in between the config's `lock` (`snapshot`, `snapshot-delete`, `rollback`) keeps other
//! changes out, as on PVE. The disks are LVM-thin volumes (`local-lvm`), which can roll back to
//! any snapshot.

use std::time::Duration;

use super::model::options::apply_pending;
use super::model::{Model, Power, Snapshot, Vm, config_missing};
use super::tasks::{self, Outcome, TaskCtx};
use super::{Error, SimState};
use crate::sim::util::{mix, now_secs};

/// Names the API refuses before forking (qemu-server's reserved names).
pub(crate) fn check_new_name(name: &str) -> Result<(), Error> {
    if name == "current" {
        return Err(Error::failed(
            "unable to use snapshot name 'current' (reserved name)",
        ));
    }
    if name.eq_ignore_ascii_case("pending") {
        return Err(Error::failed(
            "unable to use snapshot name 'pending' (reserved name)",
        ));
    }
    Ok(())
}

/// What to snapshot.
#[derive(Clone, Debug)]
pub(crate) struct Create {
    /// The snapshot's name (a `pve-configid`, checked by the API).
    pub name: String,
    /// The description.
    pub description: Option<String>,
    /// Save the RAM too (only a running VM has any; ignored otherwise, as by PVE).
    pub vmstate: bool,
}

/// `POST …/snapshot` → a `qmsnapshot` task.
pub(crate) fn create(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    req: Create,
) -> Result<String, Error> {
    let node = node.to_owned();
    tasks::spawn(
        st,
        &node.clone(),
        "qmsnapshot",
        &vmid.to_string(),
        authid,
        move |ctx| run_create(ctx, node, vmid, req),
    )
}

/// `DELETE …/snapshot/{name}` → a `qmdelsnapshot` task.
pub(crate) fn delete(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    name: String,
) -> Result<String, Error> {
    let node = node.to_owned();
    tasks::spawn(
        st,
        &node.clone(),
        "qmdelsnapshot",
        &vmid.to_string(),
        authid,
        move |ctx| run_delete(ctx, node, vmid, name),
    )
}

/// `POST …/snapshot/{name}/rollback` → a `qmrollback` task; `start` starts the VM afterwards
/// (a snapshot with RAM starts it anyway).
pub(crate) fn rollback(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    name: String,
    start: bool,
) -> Result<String, Error> {
    let node = node.to_owned();
    tasks::spawn(
        st,
        &node.clone(),
        "qmrollback",
        &vmid.to_string(),
        authid,
        move |ctx| run_rollback(ctx, node, vmid, name, start),
    )
}

/// The VM under the world lock, or the error a worker ends with.
fn vm_mut<'a>(model: &'a mut Model, node: &str, vmid: u32) -> Result<&'a mut Vm, String> {
    model
        .vm_on_mut(node, vmid)
        .ok_or_else(|| config_missing(node, vmid))
}

/// `check_lock`: "VM is locked (…)".
fn check_lock(vm: &Vm) -> Result<(), String> {
    match &vm.lock {
        Some(l) => Err(format!("VM is locked ({l})")),
        None => Ok(()),
    }
}

/// The LVM-thin name of `volid`'s snapshot `name`.
fn lv_snapshot(volid: &str, name: &str) -> String {
    let volume = volid.split_once(':').map_or(volid, |(_, v)| v);
    format!("snap_{volume}_{name}")
}

/// Runs `f` on the VM under its config lock (`lock_config`).
async fn locked<T>(
    ctx: &TaskCtx,
    node: &str,
    vmid: u32,
    f: impl FnOnce(&mut Vm) -> Result<T, String>,
) -> Result<T, String> {
    let _guard = ctx.st.lock_vm(vmid).await.map_err(|e| e.to_string())?;
    let mut world = ctx.world().ok_or("simulator was reset")?;
    f(vm_mut(&mut world.model, node, vmid)?)
}

/// A fresh QEMU process for `vm` (after a rollback to a snapshot with RAM, or `start`).
fn start_process(vm: &mut Vm, seed: u64) {
    let now = now_secs();
    vm.end_run(now);
    vm.power = Power::Running;
    vm.started_at = now;
    vm.pid = 1000 + (mix(seed ^ u64::from(vm.vmid) ^ now as u64 ^ 0x5a) % 4_000_000) as u32;
}

async fn run_create(ctx: TaskCtx, node: String, vmid: u32, req: Create) -> Outcome {
    let name = req.name.clone();
    // __snapshot_prepare: checks, the `snapshot` lock, the section with `snapstate: prepare`.
    let prepared = locked(&ctx, &node, vmid, |vm| {
        if vm.template {
            return Err("you can't take a snapshot if it's a template".to_owned());
        }
        check_lock(vm)?;
        if vm.snapshots.contains_key(&name) {
            return Err(format!("snapshot name '{name}' already used"));
        }
        let vmstate =
            (req.vmstate && vm.has_process()).then(|| format!("local-lvm:vm-{vmid}-state-{name}"));
        vm.lock = Some("snapshot".to_owned());
        let snap = Snapshot {
            config: vm.saved_config(),
            parent: vm.parent.clone(),
            snaptime: now_secs(),
            description: req.description.clone().filter(|d| !d.is_empty()),
            vmstate: vmstate.clone(),
            snapstate: Some("prepare".to_owned()),
        };
        vm.snapshots.insert(name.clone(), snap);
        Ok((vmstate, vm.disk_volid().to_owned(), vm.memory_mib))
    })
    .await;
    let (vmstate, volid, memory_mib) = match prepared {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    let _lock = ctx.hold_lock(vmid, "snapshot");
    if vmstate.is_some() {
        save_vmstate(&ctx, memory_mib).await;
    }
    ctx.log(format!("snapshotting 'drive-scsi0' ({volid})"));
    tokio::time::sleep(ctx.st.scaled(Duration::from_millis(1000))).await;
    ctx.log(format!(
        "  Logical volume \"{}\" created.",
        lv_snapshot(&volid, &name)
    ));
    // __snapshot_commit: the section is complete, the VM's state is now based on it.
    let committed = locked(&ctx, &node, vmid, |vm| {
        if vm.lock.as_deref() != Some("snapshot") {
            return Err("missing snapshot lock".to_owned());
        }
        let snap = vm
            .snapshots
            .get_mut(&name)
            .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
        snap.snapstate = None;
        vm.parent = Some(name.clone());
        vm.lock = None;
        Ok(())
    })
    .await;
    match committed {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Error(e),
    }
}

/// The RAM being saved: QEMU's `savevm-start` and `query-savevm` progress lines.
async fn save_vmstate(ctx: &TaskCtx, memory_mib: u64) {
    ctx.log("saving VM state and RAM using storage 'local-lvm'");
    // About a quarter of the configured RAM is in use and gets written.
    let used = memory_mib as f64 / 4.0;
    let steps = 4u32;
    let step = ctx
        .st
        .scaled(Duration::from_millis((250 + memory_mib / 16).min(1500)));
    for i in 1..=steps {
        tokio::time::sleep(step).await;
        let mib = used * f64::from(i) / f64::from(steps);
        ctx.log(format!("{mib:.2} MiB in {i}s"));
    }
    ctx.log(format!(
        "completed saving the VM state in {steps}s, saved {:.2} MiB",
        used
    ));
}

async fn run_delete(ctx: TaskCtx, node: String, vmid: u32, name: String) -> Outcome {
    // snapshot_delete: the section must exist, then `set_lock` (which checks the lock).
    let prepared = locked(&ctx, &node, vmid, |vm| {
        if !vm.snapshots.contains_key(&name) {
            return Err(format!("snapshot '{name}' does not exist"));
        }
        check_lock(vm)?;
        vm.lock = Some("snapshot-delete".to_owned());
        let snap = vm.snapshots.get_mut(&name).ok_or("gone")?;
        snap.snapstate = Some("delete".to_owned());
        Ok((snap.vmstate.clone(), vm.disk_volid().to_owned()))
    })
    .await;
    let (vmstate, volid) = match prepared {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    let _lock = ctx.hold_lock(vmid, "snapshot-delete");
    if let Some(state) = vmstate {
        tokio::time::sleep(ctx.st.scaled(Duration::from_millis(300))).await;
        let volume = state.split_once(':').map_or(state.as_str(), |(_, v)| v);
        ctx.log(format!(
            "  Logical volume \"{volume}\" successfully removed."
        ));
    }
    tokio::time::sleep(ctx.st.scaled(Duration::from_millis(800))).await;
    ctx.log(format!(
        "  Logical volume \"{}\" successfully removed.",
        lv_snapshot(&volid, &name)
    ));
    let done = locked(&ctx, &node, vmid, |vm| {
        let snap = vm
            .snapshots
            .remove(&name)
            .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
        // Whatever was based on the deleted snapshot is now based on its parent.
        let relink = |parent: &mut Option<String>| {
            if parent.as_deref() == Some(name.as_str()) {
                *parent = snap.parent.clone();
            }
        };
        relink(&mut vm.parent);
        for other in vm.snapshots.values_mut() {
            relink(&mut other.parent);
        }
        vm.lock = None;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Error(e),
    }
}

async fn run_rollback(ctx: TaskCtx, node: String, vmid: u32, name: String, start: bool) -> Outcome {
    // snapshot_rollback, prepare: checks, stop the VM, the `rollback` lock.
    let prepared = locked(&ctx, &node, vmid, |vm| {
        if vm.template {
            return Err("you can't rollback if vm is a template".to_owned());
        }
        let snap = vm
            .snapshots
            .get(&name)
            .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
        if let Some(state) = &snap.snapstate {
            return Err(format!(
                "unable to rollback to incomplete snapshot (snapstate = {state})"
            ));
        }
        let with_ram = snap.vmstate.is_some();
        check_lock(vm)?;
        if vm.has_process() {
            // vm_stop (which applies pending changes, soon replaced by the snapshot's).
            vm.end_run(now_secs());
            vm.power = Power::Stopped;
            apply_pending(vm);
        }
        vm.lock = Some("rollback".to_owned());
        Ok((with_ram, vm.disk_volid().to_owned()))
    })
    .await;
    let (with_ram, volid) = match prepared {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    let lock = ctx.hold_lock(vmid, "rollback");
    tokio::time::sleep(ctx.st.scaled(Duration::from_millis(1200))).await;
    let volume = volid.split_once(':').map_or(volid.as_str(), |(_, v)| v);
    ctx.log(format!(
        "  Logical volume \"{volume}\" successfully removed."
    ));
    ctx.log(format!("  Logical volume \"{volume}\" created."));
    let seed = ctx.world().map_or(0, |w| w.model.seed);
    // prepare = 0: the snapshot's options become the config; its RAM restarts the VM.
    let applied = locked(&ctx, &node, vmid, |vm| {
        if vm.lock.as_deref() != Some("rollback") {
            return Err("got wrong lock".to_owned());
        }
        let snap = vm
            .snapshots
            .get(&name)
            .cloned()
            .ok_or_else(|| format!("snapshot '{name}' does not exist"))?;
        vm.restore(&snap.config);
        vm.pending.clear();
        vm.pending_delete.clear();
        vm.parent = Some(name.clone());
        vm.lock = None;
        if with_ram {
            start_process(vm, seed);
        }
        Ok(())
    })
    .await;
    drop(lock);
    if let Err(e) = applied {
        return Outcome::Error(e);
    }
    if with_ram {
        tokio::time::sleep(ctx.st.scaled(Duration::from_millis(1500))).await;
    } else if start {
        // `start`: vm_start after the rollback, in the same task.
        tokio::time::sleep(ctx.st.scaled(Duration::from_millis(2000))).await;
        let started = locked(&ctx, &node, vmid, |vm| {
            check_lock(vm)?;
            if !vm.has_process() {
                apply_pending(vm);
                start_process(vm, seed);
            }
            Ok(())
        })
        .await;
        if let Err(e) = started {
            return Outcome::Error(e);
        }
    }
    Outcome::Ok
}
