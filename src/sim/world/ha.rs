//! The HA manager, as far as a panel sees it: HA-managed VMs (`vm:<id>` services with a
//! requested state), the `hastate` PVE reports for them, and their power and migration
//! requests. PVE turns start, stop and shutdown of an HA-managed VM into a request to the HA
//! manager (a `hastart` or `hastop` task that only sets the requested state), and a migration
//! into `ha-manager migrate` (a `hamigrate` task); the local resource manager then starts,
//! stops or migrates the VM in a task of its own, as root@pam, a few seconds later — unless the
//! service is in the `error` state, where the HA manager does nothing until an admin clears it
//! (and `ha-manager migrate` refuses, so the `hamigrate` task fails).

use std::time::Duration;

use super::SimState;
use super::error::Error;
use super::migrate;
use super::model::{HaService, Model};
use super::power::{self, Action, Options};
use super::qmigrate::{self, Request};
use super::tasks::{self, Outcome};

/// The HA services of a generated cluster: every 25th VM from 125 (not templates), as run
/// now; those at a multiple of 100 are in `error`. Nothing is drawn from the seed, so small
/// clusters (the demo's 12 VMs) have none and look as before; a large one has a few hundred.
pub(crate) fn add_services(model: &mut Model) {
    for vm in model.vms.values() {
        if vm.template || vm.vmid < 125 || !vm.vmid.is_multiple_of(25) {
            continue;
        }
        let requested = if vm.has_process() {
            "started"
        } else {
            "stopped"
        };
        model.ha.insert(
            vm.vmid,
            HaService {
                requested: requested.to_owned(),
                error: vm.vmid.is_multiple_of(100),
            },
        );
    }
}

/// pve-ha-manager's `vm_is_ha_managed` (see [`Model::ha_managed`]).
pub(crate) fn manages(model: &Model, vmid: u32) -> bool {
    model.ha_managed(vmid)
}

/// True when PVE hands `action` on VM `vmid` to the HA manager.
pub(crate) fn takes(model: &Model, vmid: u32, action: Action) -> bool {
    manages(model, vmid) && matches!(action, Action::Start | Action::Stop | Action::Shutdown)
}

/// How long the local resource manager takes to act on a new request (before `task_speed`).
const LRM_DELAY: Duration = Duration::from_secs(3);

/// The `hastart`/`hastop` task for `action` on an HA-managed VM; the LRM's own task follows.
pub(crate) fn request(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    action: Action,
) -> Result<String, Error> {
    let (kind, requested) = match action {
        Action::Start => ("hastart", "started"),
        _ => ("hastop", "stopped"),
    };
    let node_name = node.to_owned();
    tasks::spawn(
        st,
        node,
        kind,
        &vmid.to_string(),
        authid,
        move |ctx| async move {
            let word = if requested == "started" {
                "start"
            } else {
                "stop"
            };
            ctx.log(format!("Requesting HA {word} for VM {vmid}"));
            let in_error =
                ctx.world()
                    .is_some_and(|mut world| match world.model.ha.get_mut(&vmid) {
                        Some(service) => {
                            service.requested = requested.to_owned();
                            service.error
                        }
                        None => true,
                    });
            if !in_error {
                let st = ctx.st.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(st.scaled(LRM_DELAY)).await;
                    let lrm_action = if requested == "started" {
                        Action::Start
                    } else {
                        Action::Shutdown
                    };
                    let wanted = st.world().model.vms.get(&vmid).is_some_and(|vm| {
                        vm.node == node_name && vm.has_process() != (requested == "started")
                    });
                    if wanted {
                        let _ = power::launch(
                            &st,
                            "root@pam",
                            &node_name,
                            vmid,
                            lrm_action,
                            Options::default(),
                        );
                    }
                });
            }
            Outcome::Ok
        },
    )
}

/// The `hamigrate` task of qemu-server's `migrate_vm` for an HA-managed VM: it runs
/// `ha-manager migrate vm:<vmid> <target>`, which queues the request for the cluster resource
/// manager (and refuses a service in `error`). A few seconds later the local resource manager
/// migrates the VM as root@pam, online if it runs, with its local disks to storages of the same
/// names (the HA manager passes no storage map).
pub(crate) fn request_migration(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    target: &str,
) -> Result<String, Error> {
    let (node_name, target) = (node.to_owned(), target.to_owned());
    tasks::spawn(
        st,
        node,
        "hamigrate",
        &vmid.to_string(),
        authid,
        move |ctx| async move {
            ctx.log(format!(
                "Requesting HA migration for VM {vmid} to node {target}"
            ));
            let sid = format!("vm:{vmid}");
            // `ha-manager migrate` checks the service before queueing the command.
            let refusal = ctx.world().and_then(|world| {
                if !manages(&world.model, vmid) {
                    Some(format!("resource '{sid}' is not HA managed"))
                } else if world.model.ha.get(&vmid).is_some_and(|s| s.error) {
                    Some(format!(
                        "service '{sid}' in error state, must be disabled and fixed first"
                    ))
                } else {
                    None
                }
            });
            if let Some(why) = refusal {
                ctx.log(why);
                return Outcome::Error(format!(
                    "command 'ha-manager migrate {sid} {target}' failed: exit code 255"
                ));
            }
            let st = ctx.st.clone();
            tokio::spawn(async move {
                tokio::time::sleep(st.scaled(LRM_DELAY)).await;
                lrm_migrate(&st, &node_name, vmid, &target);
            });
            Outcome::Ok
        },
    )
}

/// What the HA manager does with a queued migration: nothing if the service went into
/// `error`, the VM is no longer on `node` or the target is offline (the CRM logs and ignores
/// the command); else the LRM calls `migrate_vm` as root@pam with `online`, `force` and
/// `with-local-disks`, whose checks before forking may still refuse (then no task).
fn lrm_migrate(st: &SimState, node: &str, vmid: u32, target: &str) {
    let checked = {
        let world = st.world();
        let model = &world.model;
        let service_ok = model.ha.get(&vmid).is_some_and(|s| !s.error);
        let target_ok = model.node(target).is_some_and(|n| n.online) && target != node;
        match model.vm_on(node, vmid) {
            Some(vm) if service_ok && target_ok => {
                vm.lock.is_none() && migrate::check_storage_availability(model, vm, target).is_ok()
            }
            _ => false,
        }
    };
    if checked {
        let request = Request {
            target: target.to_owned(),
            online: true,
            force: true,
            with_local_disks: true,
            storagemap: None,
        };
        let _ = qmigrate::launch(st, "root@pam", node, vmid, request);
    }
}
