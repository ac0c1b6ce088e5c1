//! The VM list, VM details, power actions and their tasks.

use leptos::prelude::*;

use pve::ids::{NodeName, Upid, VmId};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};

/// One VM in the list, from `/cluster/resources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmRow {
    /// Name of the configured cluster the VM belongs to.
    pub cluster: String,
    /// Node the VM runs on.
    pub node: NodeName,
    /// VM id.
    pub vmid: VmId,
    /// VM name (PVE may omit it).
    pub name: String,
    /// Running, paused, stopped (or unknown). (`VmStatus` stays qualified: `vm_status`'s
    /// server function struct has that name here.)
    pub status: pve::types::VmStatus,
    /// CPU use as a fraction of `maxcpu` (0..1).
    pub cpu: f64,
    /// Number of virtual CPUs.
    pub maxcpu: f64,
    /// Memory used, bytes.
    pub mem: u64,
    /// Memory configured, bytes.
    pub maxmem: u64,
    /// Uptime in seconds.
    pub uptime: u64,
    /// Tags, split.
    pub tags: Vec<String>,
    /// True for templates (which cannot be started).
    pub template: bool,
    /// Lock held on the VM (backup, migrate, ...), if any.
    pub lock: Option<String>,
    /// HA state (`started`, `stopped`, `error`, …) of an HA-managed VM.
    pub hastate: Option<String>,
    /// Resource pool the VM belongs to.
    pub pool: Option<String>,
    /// A QEMU VM or an LXC container.
    pub kind: pve::types::GuestKind,
}

impl VmRow {
    /// True when PVE reports the VM running.
    pub fn is_running(&self) -> bool {
        self.status == pve::types::VmStatus::Running
    }

    /// True while its QEMU process exists (running or paused): it uses CPU and memory, and
    /// has a screen.
    pub fn has_process(&self) -> bool {
        matches!(
            self.status,
            pve::types::VmStatus::Running | pve::types::VmStatus::Paused
        )
    }
}

/// `VM 100 (web01)`, `CT 200 (nginx)`, or without the name when it has none.
pub fn guest_label(kind: pve::types::GuestKind, vmid: u32, name: &str) -> String {
    let word = match kind {
        pve::types::GuestKind::Qemu => "VM",
        pve::types::GuestKind::Lxc => "CT",
    };
    if name.is_empty() {
        format!("{word} {vmid}")
    } else {
        format!("{word} {vmid} ({name})")
    }
}

/// A problem reaching one cluster, shown above the list while the others keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProblem {
    /// Cluster name.
    pub cluster: String,
    /// What went wrong, for the operator.
    pub message: String,
}

/// A node that is not online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDown {
    /// Cluster name.
    pub cluster: String,
    /// Node name.
    pub node: String,
    /// PVE's status for it: `offline` or `unknown`.
    pub status: String,
}

/// A VM's current status, from `status/current`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmDetail {
    /// Cluster name.
    pub cluster: String,
    /// Node.
    pub node: NodeName,
    /// PVE's answer.
    pub status: pve::types::QemuStatus,
}

/// A task started by a power action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    /// Cluster the task runs in.
    pub cluster: String,
    /// PVE's task id.
    pub upid: Upid,
}

/// Progress of a task, for the task panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// True while the task runs.
    pub running: bool,
    /// PVE's exit status once stopped (`OK`, `WARNINGS: n`, or the error).
    pub exitstatus: Option<String>,
    /// The log lines after the first `from` the caller asked with (at most
    /// [`TASK_LOG_PAGE`]; the rest comes with the next call).
    pub log: Vec<String>,
    /// Lines of the log read so far: the `from` of the next call.
    pub next: u64,
}

/// Most task log lines one `task_progress` call returns.
pub const TASK_LOG_PAGE: u64 = 500;

impl TaskProgress {
    /// True when the task ended without error.
    pub fn succeeded(&self) -> bool {
        !self.running
            && self
                .exitstatus
                .as_deref()
                .is_some_and(|s| s == "OK" || s.starts_with("WARNINGS"))
    }
}

/// `status/current` of one VM.
#[server(prefix = "/api", endpoint = "vm_detail")]
pub async fn vm_status(cluster: String, node: String, vmid: String) -> Result<VmDetail, AppError> {
    let vm = access::require_vm(Role::Viewer, &cluster, &node, &vmid).await?;
    let status = vm.cluster.api.qemu_status(&vm.node, vm.vmid).await?;
    Ok(VmDetail {
        cluster: vm.cluster.name,
        node: vm.node,
        status,
    })
}

/// Starts, stops, shuts down, reboots, pauses or resumes a VM, or starts, stops, shuts down or
/// reboots an LXC container (which of the two the poll says); returns the task to follow.
#[server(prefix = "/api", endpoint = "vm_power")]
pub async fn power_action(
    cluster: String,
    node: String,
    vmid: String,
    action: String,
) -> Result<TaskRef, AppError> {
    use pve::types::PowerAction;

    let user = access::require(Role::Operator).await?;
    let action: PowerAction = action.parse().map_err(|_| {
        AppError::InvalidInput(format!(
            "unknown power action {:?}",
            action.chars().take(32).collect::<String>()
        ))
    })?;
    let access::GuestAccess {
        access:
            access::VmAccess {
                user,
                cluster,
                node,
                vmid,
            },
        kind,
    } = access::guest(user, &cluster, &node, &vmid).await?;
    let upid = match kind {
        pve::types::GuestKind::Qemu => cluster.api.qemu_power(&node, vmid, action).await?,
        pve::types::GuestKind::Lxc => {
            if matches!(action, PowerAction::Suspend | PowerAction::Resume) {
                return Err(AppError::InvalidInput(format!(
                    "CT {vmid} is a container: Cecyber starts, shuts down, reboots and stops containers; {} is not offered.",
                    action.label().to_lowercase()
                )));
            }
            cluster.api.lxc_power(&node, vmid, action).await?
        }
    };
    tracing::info!(user = %user.username, cluster = %cluster.name, %node, %vmid, kind = kind.as_str(), action = action.path_segment(), %upid, "power action");
    Ok(TaskRef {
        cluster: cluster.name.clone(),
        upid,
    })
}

/// Progress of a task and its log from line `from` on (0: from the start), so that a caller
/// that asks again with `next` gets every line once, however long the log grows.
#[server(prefix = "/api", endpoint = "task_progress")]
pub async fn follow_task(
    cluster: String,
    upid: String,
    #[server(default)] from: u64,
) -> Result<TaskProgress, AppError> {
    use pve::ids::Upid;

    let user = access::require(Role::Viewer).await?;
    let state = app_state()?;
    let cluster = state.clusters.get(&cluster)?;
    let upid: Upid = upid
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    access::task_in_scope(&user, cluster, &upid).await?;
    // The status first: a task seen stopped has its whole log written by then.
    let status = cluster.api.task_status(&upid).await?;
    if !status.is_running() && upid.task_type() == "qmigrate" {
        // The VM is elsewhere now; look-ups must not go by the poll from before.
        cluster.latest.invalidate();
    }
    // A log that cannot be read now: while the task runs, the next call reads on from the
    // same line; once it has ended, an error (not an empty page: a reader that took that for
    // the end would lose the last lines).
    let lines = match cluster.api.task_log(&upid, from, TASK_LOG_PAGE).await {
        Ok(lines) => lines,
        Err(e) if status.is_running() => {
            tracing::debug!(%upid, error = %e, "task log not readable now");
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    // PVE answers a log without lines with the single line 1 "no content": not a line.
    let lines: Vec<_> = lines
        .into_iter()
        .filter(|l| !(l.n == 1 && l.t == "no content"))
        .collect();
    let next = lines.last().map_or(from, |l| l.n.max(from));
    Ok(TaskProgress {
        running: status.is_running(),
        exitstatus: status.exitstatus.clone(),
        log: lines.into_iter().map(|l| l.t).collect(),
        next,
    })
}

/// A list row from a `/cluster/resources` entry of a VM or container; `None` for other kinds
/// of resources.
#[cfg(feature = "ssr")]
pub(crate) fn vm_row(cluster: &str, r: &pve::types::ClusterResource) -> Option<VmRow> {
    let kind = r.guest_kind()?;
    Some(VmRow {
        kind,
        cluster: cluster.to_owned(),
        node: r.node.as_deref()?.parse().ok()?,
        vmid: VmId::new(r.vmid?).ok()?,
        name: r.name.clone().unwrap_or_default(),
        status: pve::types::VmStatus::from_name(r.status.as_deref().unwrap_or_default()),
        cpu: r.cpu.unwrap_or(0.0),
        maxcpu: r.maxcpu.unwrap_or(0.0),
        mem: r.mem.unwrap_or(0),
        maxmem: r.maxmem.unwrap_or(0),
        uptime: r.uptime.unwrap_or(0),
        tags: r.tag_list(),
        template: r.template,
        lock: r.lock.clone(),
        hastate: r.hastate.clone(),
        pool: r.pool.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_success_needs_ok_or_warnings() {
        let done = |s: &str| TaskProgress {
            running: false,
            exitstatus: Some(s.into()),
            log: vec![],
            next: 0,
        };
        assert!(done("OK").succeeded());
        assert!(done("WARNINGS: 2").succeeded());
        assert!(!done("VM 100 already running").succeeded());
        let running = TaskProgress {
            running: true,
            exitstatus: None,
            log: vec![],
            next: 0,
        };
        assert!(!running.succeeded());
    }
}
