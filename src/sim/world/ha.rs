//! The HA manager, as far as a panel sees it: HA-managed VMs (`vm:<id>` services with a
//! requested state), the `hastate` PVE reports for them, and their power requests. PVE turns
//! start, stop and shutdown of an HA-managed VM into a request to the HA manager (a `hastart`
//! or `hastop` task that only sets the requested state); the local resource manager then
//! starts or stops the VM in a task of its own, as root@pam, a few seconds later — unless the
//! service is in the `error` state, where the HA manager does nothing until an admin clears it.

use std::time::Duration;

use super::SimState;
use super::error::Error;
use super::model::{HaService, Model};
use super::power::{self, Action, Options};
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

/// True when PVE hands `action` on VM `vmid` to the HA manager.
pub(crate) fn takes(model: &Model, vmid: u32, action: Action) -> bool {
    model.ha.contains_key(&vmid)
        && matches!(action, Action::Start | Action::Stop | Action::Shutdown)
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
