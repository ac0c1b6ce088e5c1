//! What `status/{start,stop,shutdown,reboot}` do to an LXC container, as pve-container's
//! `API2::LXC::Status` does it: the state checks made before the worker is forked (refused at
//! once, with pve-container's texts), a realistic duration, and the state change when the
//! task ends. Suspend and resume (experimental for containers in PVE) are not simulated.

use std::time::Duration;

use super::model::Model;
use super::tasks::{self, Outcome, TaskCtx};
use super::{Error, SimState};
use crate::sim::util::{mix, now_secs};

/// A container power action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CtAction {
    Start,
    Stop,
    Shutdown,
    Reboot,
}

impl CtAction {
    /// The action named by the last path segment.
    pub(crate) fn from_segment(s: &str) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "shutdown" => Self::Shutdown,
            "reboot" => Self::Reboot,
            _ => return None,
        })
    }

    /// Task type: `vzstart`, `vzstop`, `vzshutdown`, `vzreboot`.
    fn task_type(self) -> &'static str {
        match self {
            Self::Start => "vzstart",
            Self::Stop => "vzstop",
            Self::Shutdown => "vzshutdown",
            Self::Reboot => "vzreboot",
        }
    }

    /// How long the work takes on a real node (before `task_speed`): containers start and stop
    /// faster than VMs.
    fn duration(self) -> Duration {
        Duration::from_millis(match self {
            Self::Start => 1500,
            Self::Stop => 500,
            Self::Shutdown => 2000,
            Self::Reboot => 3000,
        })
    }
}

/// The checks pve-container makes before it forks the worker.
pub(crate) fn precheck(
    model: &Model,
    node: &str,
    vmid: u32,
    action: CtAction,
    skiplock: bool,
) -> Result<(), Error> {
    let ct = model.existing_ct(node, vmid)?;
    if let Some(lock) = ct.lock.as_ref().filter(|_| !skiplock) {
        return Err(Error::Failed(format!("CT is locked ({lock})\n")));
    }
    let running = ct.has_process();
    match action {
        CtAction::Start if ct.template => {
            Err(Error::failed("you can't start a CT if it's a template\n"))
        }
        CtAction::Start if running => Err(Error::Failed(format!("CT {vmid} already running\n"))),
        CtAction::Stop | CtAction::Shutdown | CtAction::Reboot if !running => {
            Err(Error::Failed(format!("CT {vmid} not running\n")))
        }
        _ => Ok(()),
    }
}

/// Forks the task for `action` and returns its UPID.
pub(crate) fn launch(
    st: &SimState,
    authid: &str,
    node: &str,
    vmid: u32,
    action: CtAction,
) -> Result<String, Error> {
    let node_name = node.to_owned();
    tasks::spawn(
        st,
        node,
        action.task_type(),
        &vmid.to_string(),
        authid,
        move |ctx| run(ctx, node_name, vmid, action),
    )
}

async fn run(ctx: TaskCtx, node: String, vmid: u32, action: CtAction) -> Outcome {
    let _lock = match ctx.st.lock_vm(vmid).await {
        Ok(guard) => guard,
        Err(e) => return e.into(),
    };
    tokio::time::sleep(ctx.st.scaled(action.duration())).await;
    if let Some(mut world) = ctx.world() {
        let seed = world.model.seed;
        let Some(ct) = world.model.ct_on_mut(&node, vmid) else {
            return Outcome::Error(format!("CT {vmid} does not exist any more"));
        };
        let now = now_secs();
        ct.end_run(now);
        match action {
            CtAction::Start | CtAction::Reboot => {
                ct.power = super::model::Power::Running;
                ct.started_at = now;
                ct.pid = 1000 + (mix(seed ^ u64::from(vmid) ^ now as u64) % 4_000_000) as u32;
            }
            CtAction::Stop | CtAction::Shutdown => ct.power = super::model::Power::Stopped,
        }
    }
    Outcome::Ok
}
