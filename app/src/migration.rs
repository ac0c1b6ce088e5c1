//! Moving a VM to another node: PVE's precondition check first (where it may go, what it
//! takes along), then the migration as a `qmigrate` task (operators).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::access::{self, Role};
use crate::error::AppError;
use crate::vms::TaskRef;

/// A node the VM could be sent to, and why not if it cannot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationTarget {
    /// Node name.
    pub node: String,
    /// Why PVE would refuse it (empty: allowed).
    pub refusal: Option<String>,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationCheck {
    /// The node the VM is on now.
    pub node: String,
    /// True when the VM runs: the migration is then online (live).
    pub running: bool,
    /// The other nodes of the cluster.
    pub targets: Vec<MigrationTarget>,
    /// Local disks copied along (`volid`, size in bytes).
    pub local_disks: Vec<(String, Option<u64>)>,
    /// Local devices (USB, PCI) that keep the VM where it is.
    pub local_resources: Vec<String>,
    /// Why the migration cannot start at all, if it cannot (a lock, local devices of a
    /// running VM).
    pub blocked: Option<String>,
}

/// PVE's precondition check for migrating the VM (operators, in scope).
#[server(prefix = "/api", endpoint = "migration_check")]
pub async fn check_migration(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<MigrationCheck, AppError> {
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let (pre, status) = futures::join!(
        vm.cluster
            .api
            .qemu_migrate_precondition(&vm.node, vm.vmid, None),
        vm.cluster.api.qemu_status(&vm.node, vm.vmid)
    );
    let (pre, status) = (pre?, status?);
    let mut targets: Vec<MigrationTarget> = pre
        .allowed_nodes
        .iter()
        .map(|n| MigrationTarget {
            node: n.clone(),
            refusal: None,
        })
        .chain(
            pre.not_allowed_nodes
                .iter()
                .map(|(n, why)| MigrationTarget {
                    node: n.clone(),
                    refusal: Some(refusal(why)),
                }),
        )
        .filter(|t| t.node != vm.node.as_str())
        .collect();
    targets.sort_by(|a, b| a.node.cmp(&b.node));
    let blocked = if let Some(lock) = &status.lock {
        Some(format!(
            "VM {} is locked ({lock}): a task is working on it.",
            vm.vmid
        ))
    } else if !pre.local_resources.is_empty() {
        Some(format!(
            "VM {} uses local devices ({}): Proxmox VE cannot move it while they are attached.",
            vm.vmid,
            pre.local_resources.join(", ")
        ))
    } else {
        None
    };
    Ok(MigrationCheck {
        node: vm.node.to_string(),
        running: pre.running,
        targets,
        local_disks: pre
            .local_disks
            .iter()
            .filter(|d| d.cdrom != Some(true))
            .map(|d| (d.volid.clone(), d.size))
            .collect(),
        local_resources: pre.local_resources,
        blocked,
    })
}

/// PVE's reasons against a node, in words.
#[cfg(feature = "ssr")]
fn refusal(why: &pve::types::NotAllowedNode) -> String {
    let mut reasons = Vec::new();
    if !why.unavailable_storages.is_empty() {
        reasons.push(format!(
            "storage {} is not available there",
            why.unavailable_storages.join(", ")
        ));
    }
    reasons.extend(why.extra.keys().map(|k| k.replace(['-', '_'], " ")));
    if reasons.is_empty() {
        "Proxmox VE does not allow it".to_owned()
    } else {
        reasons.join("; ")
    }
}

/// A migration that was started: its task and where the VM goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationStarted {
    /// The `qmigrate` task.
    pub task: TaskRef,
    /// The target node.
    pub target: String,
}

/// Migrates the VM to `target` (operators, in scope): online when it runs, its local disks
/// copied along. PVE checks again and says in the task's log why it refuses, if it does.
#[server(prefix = "/api", endpoint = "migration_start")]
pub async fn migrate_vm(
    cluster: String,
    node: String,
    vmid: String,
    target: String,
) -> Result<MigrationStarted, AppError> {
    let target_node = access::parse_node(&target)?;
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    if target_node == vm.node {
        return Err(AppError::InvalidInput(format!(
            "VM {} is on {target_node} already; choose another node.",
            vm.vmid
        )));
    }
    let pre = vm
        .cluster
        .api
        .qemu_migrate_precondition(&vm.node, vm.vmid, Some(&target_node))
        .await?;
    let mut migrate = pve::types::QemuMigrate::to(target_node.clone());
    migrate.online = pre.running.then_some(true);
    migrate.with_local_disks = (!pre.local_disks.is_empty()).then_some(true);
    let upid = vm
        .cluster
        .api
        .qemu_migrate(&vm.node, vm.vmid, &migrate)
        .await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, target = %target_node, online = pre.running, %upid, "migration");
    Ok(MigrationStarted {
        task: TaskRef {
            cluster: vm.cluster.name.clone(),
            upid,
        },
        target: target_node.to_string(),
    })
}
