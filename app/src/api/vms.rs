//! The VM list, VM details, power actions and their tasks.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{TaskProgress, TaskRef, VmDetail, VmList},
};
#[cfg(feature = "ssr")]
use crate::{
    model::{ClusterProblem, NodeDown, Role, VmRow},
    ssr::guard,
};

/// Every VM of every configured cluster that the user's scope allows; a cluster that fails is
/// reported, not fatal.
#[server(prefix = "/api", endpoint = "vms_list")]
pub async fn list_vms() -> Result<VmList, AppError> {
    let user = guard::require(Role::Viewer).await?;
    let state = guard::state()?;
    // Every resource, not only VMs: the same one call also tells which nodes are down.
    let calls = state
        .clusters
        .all()
        .iter()
        .map(|c| async move { (c.name.clone(), c.api.cluster_resources(None).await) });
    let mut list = VmList {
        vms: Vec::new(),
        problems: Vec::new(),
        nodes_down: Vec::new(),
    };
    for (cluster, result) in futures::future::join_all(calls).await {
        match result {
            Ok(resources) => {
                let first = list.vms.len();
                list.vms.extend(
                    resources
                        .iter()
                        .filter_map(|r| vm_row(&cluster, r))
                        .filter(|row| user.scope.allows_vm(&row.tags)),
                );
                let shown = &list.vms[first..];
                list.nodes_down.extend(
                    resources
                        .iter()
                        .filter(|r| r.kind == "node" && r.status.as_deref() != Some("online"))
                        .filter_map(|r| r.node.clone().map(|node| (node, r.status.clone())))
                        .filter(|(node, _)| {
                            user.scope.sees_nodes() || shown.iter().any(|v| v.node.as_str() == node)
                        })
                        .map(|(node, status)| NodeDown {
                            cluster: cluster.clone(),
                            node,
                            status: status.unwrap_or_else(|| "unknown".into()),
                        }),
                );
            }
            Err(err) => list.problems.push(ClusterProblem {
                cluster,
                message: AppError::from(err).to_string(),
            }),
        }
    }
    list.vms
        .sort_by(|a, b| (&a.cluster, a.vmid.get()).cmp(&(&b.cluster, b.vmid.get())));
    Ok(list)
}

/// `status/current` of one VM.
#[server(prefix = "/api", endpoint = "vm_detail")]
pub async fn vm_status(cluster: String, node: String, vmid: String) -> Result<VmDetail, AppError> {
    let vm = guard::require_vm(Role::Viewer, &cluster, &node, &vmid).await?;
    let status = vm.cluster.api.qemu_status(&vm.node, vm.vmid).await?;
    Ok(VmDetail {
        cluster: vm.cluster.name,
        node: vm.node,
        status,
    })
}

/// Starts, stops, shuts down or reboots a VM; returns the task to follow.
#[server(prefix = "/api", endpoint = "vm_power")]
pub async fn power_action(
    cluster: String,
    node: String,
    vmid: String,
    action: String,
) -> Result<TaskRef, AppError> {
    use pve::types::PowerAction;

    let user = guard::require(Role::Operator).await?;
    let action: PowerAction = action.parse().map_err(|_| {
        AppError::InvalidInput(format!(
            "unknown power action {:?}",
            action.chars().take(32).collect::<String>()
        ))
    })?;
    let guard::VmAccess {
        user,
        cluster,
        node,
        vmid,
    } = guard::vm(user, &cluster, &node, &vmid).await?;
    let upid = cluster.api.qemu_power(&node, vmid, action).await?;
    tracing::info!(user = %user.username, cluster = %cluster.name, %node, %vmid, action = action.path_segment(), %upid, "power action");
    Ok(TaskRef {
        cluster: cluster.name.clone(),
        upid,
    })
}

/// Progress and the last log lines of a task.
#[server(prefix = "/api", endpoint = "task_progress")]
pub async fn follow_task(cluster: String, upid: String) -> Result<TaskProgress, AppError> {
    use pve::ids::Upid;

    let user = guard::require(Role::Viewer).await?;
    let state = guard::state()?;
    let cluster = state.clusters.get(&cluster)?;
    let upid: Upid = upid
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    guard::task_in_scope(&user, cluster, &upid).await?;
    let status = cluster.api.task_status(&upid).await?;
    let log = cluster.api.task_log(&upid, 0, 50).await.unwrap_or_default();
    Ok(TaskProgress {
        running: status.is_running(),
        exitstatus: status.exitstatus.clone(),
        // PVE answers an empty log with the single line "no content".
        log: log
            .into_iter()
            .map(|l| l.t)
            .filter(|t| t != "no content")
            .collect(),
    })
}

#[cfg(feature = "ssr")]
fn vm_row(cluster: &str, r: &pve::types::ClusterResource) -> Option<VmRow> {
    if !r.is_vm() {
        return None;
    }
    Some(VmRow {
        cluster: cluster.to_owned(),
        node: r.node.as_deref()?.parse().ok()?,
        vmid: pve::ids::VmId::new(r.vmid?).ok()?,
        name: r.name.clone().unwrap_or_default(),
        status: r.status.clone().unwrap_or_else(|| "unknown".into()),
        cpu: r.cpu.unwrap_or(0.0),
        maxcpu: r.maxcpu.unwrap_or(0.0),
        mem: r.mem.unwrap_or(0),
        maxmem: r.maxmem.unwrap_or(0),
        uptime: r.uptime.unwrap_or(0),
        tags: r.tag_list(),
        template: r.template,
        lock: r.lock.clone(),
    })
}
