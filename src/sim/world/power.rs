//! What `status/{start,stop,shutdown,reboot,suspend,resume}` do to a VM, as qemu-server does
//! it: the state checks made before the worker is forked (refused at once), the worker's
//! checks under the VM's config lock (errors end the task), a realistic duration, and the
//! state change when the task ends.

use std::time::Duration;

use super::model::options::apply_pending;
use super::model::{Model, Power, Vm, config_missing, config_not_on_node};
use super::tasks::{self, Outcome, TaskCtx};
use super::{Error, SimState};
use crate::sim::util::{mix, now_secs};

/// A power action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Suspend,
    Resume,
}

impl Action {
    /// The action named by the last path segment.
    pub(crate) fn from_segment(s: &str) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "shutdown" => Self::Shutdown,
            "reboot" => Self::Reboot,
            "suspend" => Self::Suspend,
            "resume" => Self::Resume,
            _ => return None,
        })
    }

    /// Task type: `qmstart`, `qmstop`, …; suspend is `qmpause`, or `qmsuspend` to disk.
    fn task_type(self, todisk: bool) -> &'static str {
        match self {
            Self::Start => "qmstart",
            Self::Stop => "qmstop",
            Self::Shutdown => "qmshutdown",
            Self::Reboot => "qmreboot",
            Self::Suspend if todisk => "qmsuspend",
            Self::Suspend => "qmpause",
            Self::Resume => "qmresume",
        }
    }

    /// How long the work takes on a real node (before `task_speed`).
    fn duration(self, todisk: bool) -> Duration {
        Duration::from_millis(match self {
            Self::Start => 2000,
            Self::Stop => 1000,
            Self::Shutdown => 3000,
            Self::Reboot => 4000,
            Self::Suspend if todisk => 5000,
            Self::Suspend => 1000,
            Self::Resume => 500,
        })
    }
}

/// The checks before the worker is forked: for reboot, suspend, resume and paused shutdown
/// (unless `force_stop`) the state checks qemu-server makes synchronously.
pub(crate) fn precheck(
    model: &Model,
    node: &str,
    vmid: u32,
    action: Action,
    force_stop: bool,
) -> Result<(), Error> {
    let vm = model.vm_on(node, vmid);
    let paused = vm.is_some_and(|vm| vm.power == Power::Paused);
    let suspended_to_disk = vm.is_some_and(|vm| vm.lock.as_deref() == Some("suspended"));
    match action {
        Action::Shutdown if paused && !force_stop => {
            Err(Error::failed("VM is paused - cannot shutdown"))
        }
        Action::Reboot if paused => Err(Error::failed("VM is paused - cannot shutdown")),
        Action::Resume if suspended_to_disk => Ok(()),
        Action::Reboot | Action::Suspend | Action::Resume => match vm {
            None => Err(Error::Failed(config_not_on_node(node, vmid))),
            Some(vm) if !vm.has_process() => Err(Error::Failed(format!("VM {vmid} not running"))),
            Some(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

/// How a power action was asked for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    /// Suspend to disk (`todisk`).
    pub todisk: bool,
    /// Ignore the config lock (`skiplock`, root only).
    pub skiplock: bool,
}

/// Forks the task for `action` and returns its UPID.
pub(crate) fn launch(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    action: Action,
    Options { todisk, skiplock }: Options,
) -> Result<String, Error> {
    let node_name = node.to_owned();
    tasks::spawn(
        st,
        node,
        action.task_type(todisk),
        &vmid.to_string(),
        authid,
        move |ctx| run(ctx, node_name, vmid, action, todisk, skiplock),
    )
}

/// What the worker found under the config lock.
enum Plan {
    /// Nothing to do (e.g. stopping a stopped VM): the task ends OK at once.
    Nothing,
    /// Do the work, then change the state; `resuming` when starting from a suspended state.
    Work { resuming: bool },
}

fn set_lock(ctx: &TaskCtx, node: &str, vmid: u32, lock: Option<&str>) {
    if let Some(mut world) = ctx.world()
        && let Some(vm) = world.model.vm_on_mut(node, vmid)
    {
        vm.lock = lock.map(str::to_owned);
    }
}

async fn run(
    ctx: TaskCtx,
    node: String,
    vmid: u32,
    action: Action,
    todisk: bool,
    skiplock: bool,
) -> Outcome {
    let _lock = match ctx.st.lock_vm(vmid).await {
        Ok(guard) => guard,
        Err(e) => return e.into(),
    };
    let plan = match ctx.world() {
        Some(world) => plan(&world.model, &node, vmid, action, skiplock),
        None => return Outcome::Ok,
    };
    let resuming = match plan {
        Err(e) => return Outcome::Error(e),
        Ok(Plan::Nothing) => return Outcome::Ok,
        Ok(Plan::Work { resuming }) => resuming,
    };
    if resuming {
        ctx.log("Resuming suspended VM");
    }
    if action == Action::Suspend && todisk {
        set_lock(&ctx, &node, vmid, Some("suspending"));
    }
    tokio::time::sleep(ctx.st.scaled(action.duration(todisk))).await;
    if action == Action::Suspend && todisk {
        ctx.log("State saved, quitting");
    }
    if let Some(mut world) = ctx.world() {
        let seed = world.model.seed;
        if let Some(vm) = world.model.vm_on_mut(&node, vmid) {
            let now = now_secs();
            let fresh_process = |vm: &mut Vm| {
                vm.end_run(now);
                vm.power = Power::Running;
                vm.started_at = now;
                vm.pid = 1000 + (mix(seed ^ u64::from(vmid) ^ now as u64) % 4_000_000) as u32;
            };
            // QEMU applies pending changes when it starts or stops, not when it resumes
            // from a saved state.
            let from_state = vm.lock.as_deref() == Some("suspended");
            if matches!(
                action,
                Action::Start | Action::Reboot | Action::Stop | Action::Shutdown
            ) && !from_state
            {
                apply_pending(vm);
            }
            match action {
                Action::Start | Action::Reboot => fresh_process(vm),
                Action::Resume if vm.lock.as_deref() == Some("suspended") => {
                    vm.lock = None;
                    fresh_process(vm);
                }
                Action::Resume => vm.power = Power::Running,
                Action::Stop | Action::Shutdown => {
                    vm.end_run(now);
                    vm.power = Power::Stopped;
                }
                Action::Suspend if todisk => {
                    vm.end_run(now);
                    vm.power = Power::Stopped;
                    vm.lock = Some("suspended".to_owned());
                }
                Action::Suspend => vm.power = Power::Paused,
            }
            if action == Action::Start && vm.lock.as_deref() == Some("suspended") {
                vm.lock = None;
            }
        }
    }
    Outcome::Ok
}

/// The worker's checks, in qemu-server's order.
fn plan(
    model: &Model,
    node: &str,
    vmid: u32,
    action: Action,
    skiplock: bool,
) -> Result<Plan, String> {
    let vm = model.vm_on(node, vmid);
    let locked = |vm: &Vm| match &vm.lock {
        Some(l) if !skiplock && l != "suspended" => Err(format!("VM is locked ({l})")),
        _ => Ok(()),
    };
    match action {
        Action::Start => {
            let vm = vm.ok_or_else(|| config_missing(node, vmid))?;
            if vm.template {
                return Err("you can't start a vm if it's a template".to_owned());
            }
            locked(vm)?;
            if vm.has_process() {
                return Err(format!("VM {vmid} already running"));
            }
            Ok(Plan::Work {
                resuming: vm.lock.as_deref() == Some("suspended"),
            })
        }
        Action::Stop | Action::Shutdown | Action::Reboot | Action::Suspend | Action::Resume => {
            let vm = vm.ok_or_else(|| config_not_on_node(node, vmid))?;
            if action == Action::Resume && vm.lock.as_deref() == Some("suspended") {
                return Ok(Plan::Work { resuming: true });
            }
            if !vm.has_process() {
                return match action {
                    Action::Suspend | Action::Resume => Err(format!("VM {vmid} not running")),
                    _ => Ok(Plan::Nothing),
                };
            }
            locked(vm)?;
            let already = match action {
                Action::Suspend => vm.power == Power::Paused,
                Action::Resume => vm.power == Power::Running,
                _ => false,
            };
            Ok(if already {
                Plan::Nothing
            } else {
                Plan::Work { resuming: false }
            })
        }
    }
}
