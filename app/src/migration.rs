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
    /// Its storages for VM disks, where the local disks may go instead of a storage of the same
    /// name (PVE's `targetstorage`); empty when the VM has no local disk.
    pub storages: Vec<String>,
    /// True when PVE refuses it only because it lacks a storage of the VM's local disks: it
    /// can take the VM with a target storage chosen.
    pub needs_storage: bool,
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
    /// The VM's HA state when Proxmox VE's HA manager manages it (`started`, `stopped`, …):
    /// the migration is then a request to the HA manager, which migrates it itself.
    pub ha_state: Option<String>,
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
            storages: Vec::new(),
            needs_storage: false,
        })
        .chain(
            pre.not_allowed_nodes
                .iter()
                .map(|(n, why)| MigrationTarget {
                    node: n.clone(),
                    refusal: Some(refusal(why)),
                    storages: Vec::new(),
                    // Refined below: only if a target storage can fix it.
                    needs_storage: !why.unavailable_storages.is_empty() && why.extra.is_empty(),
                }),
        )
        .filter(|t| t.node != vm.node.as_str())
        .collect();
    targets.sort_by(|a, b| a.node.cmp(&b.node));
    let local_disks: Vec<(String, Option<u64>)> = pre
        .local_disks
        .iter()
        .filter(|d| d.cdrom != Some(true))
        .map(|d| (d.volid.clone(), d.size))
        .collect();
    let ha_state = ha_state(&vm).await;
    // PVE's HA manager migrates with no storage map: an HA-managed VM's disks go to storages
    // of the same names, or nowhere.
    if !local_disks.is_empty() && ha_state.is_none() {
        let storages = futures::future::join_all(
            targets
                .iter()
                .map(|t| target_storages(&vm.cluster, &t.node)),
        )
        .await;
        for (target, storages) in targets.iter_mut().zip(storages) {
            target.storages = storages;
        }
    }
    // A target storage moves only the local disks: it helps a node that lacks only their
    // storages (not a shared storage it does not see), and only if it has one to offer.
    let disk_storage = |volid: &str| volid.split(':').next().unwrap_or_default().to_owned();
    let local_storages: std::collections::HashSet<String> = local_disks
        .iter()
        .map(|(volid, _)| disk_storage(volid))
        .collect();
    for target in &mut targets {
        let lacking = pre
            .not_allowed_nodes
            .get(&target.node)
            .map(|why| why.unavailable_storages.as_slice())
            .unwrap_or_default();
        target.needs_storage = target.needs_storage
            && !target.storages.is_empty()
            && lacking.iter().all(|s| local_storages.contains(s));
    }
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
        local_disks,
        local_resources: pre.local_resources,
        blocked,
        ha_state,
    })
}

/// The HA state of the VM when PVE's HA manager manages it, from the shared poll.
#[cfg(feature = "ssr")]
async fn ha_state(vm: &access::VmAccess) -> Option<String> {
    vm.cluster.locate(vm.vmid).await?.hastate
}

/// The storages of a migration target that hold VM disks; none when PVE does not say (the
/// dialog then offers only the disks' own storages).
#[cfg(feature = "ssr")]
async fn target_storages(cluster: &crate::state::clusters::Cluster, node: &str) -> Vec<String> {
    let Ok(node) = node.parse::<pve::ids::NodeName>() else {
        return Vec::new();
    };
    cluster.disk_storages(&node).await.unwrap_or_else(|e| {
        tracing::debug!(cluster = %cluster.name, %node, error = %e, "storages of a migration target not readable");
        Vec::new()
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
    /// The `qmigrate` task, or for an HA-managed VM the `hamigrate` request to the HA manager.
    pub task: TaskRef,
    /// The target node.
    pub target: String,
    /// True when the task is the HA manager's request: the migration itself is the HA
    /// manager's own `qmigrate` task, started a few seconds later ([`ha_migration_task`]).
    pub by_ha: bool,
}

/// Migrates the VM to `target` (operators, in scope): online when it runs, its local disks
/// copied along — to `target_storage` of the target node if one is named, else to storages of
/// the same names. PVE checks again and says in the task's log why it refuses, if it does.
#[server(prefix = "/api", endpoint = "migration_start")]
pub async fn migrate_vm(
    cluster: String,
    node: String,
    vmid: String,
    target: String,
    #[server(default)] target_storage: String,
) -> Result<MigrationStarted, AppError> {
    let target_node = access::parse_node(&target)?;
    let target_storage = match target_storage.trim() {
        "" => None,
        id => Some(
            id.parse::<pve::ids::StorageId>()
                .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?,
        ),
    };
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
    if let Some(storage) = &target_storage {
        if let Some(state) = ha_state(&vm).await {
            return Err(AppError::InvalidInput(format!(
                "VM {} is HA-managed ({state}): PVE's HA manager migrates it and takes no target storage; its disks go to storages of the same names.",
                vm.vmid
            )));
        }
        if pre.local_disks.is_empty() {
            return Err(AppError::InvalidInput(format!(
                "VM {} has no local disk: its disks stay on their shared storage, so no target storage applies.",
                vm.vmid
            )));
        }
        if !target_storages(&vm.cluster, target_node.as_str())
            .await
            .iter()
            .any(|s| s == storage.as_str())
        {
            return Err(AppError::InvalidInput(format!(
                "storage {storage} does not hold VM disks on node {target_node}."
            )));
        }
        migrate.targetstorage = Some(storage.to_string());
    }
    let upid = vm
        .cluster
        .api
        .qemu_migrate(&vm.node, vm.vmid, &migrate)
        .await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, target = %target_node, online = pre.running, target_storage = ?target_storage, %upid, "migration");
    Ok(MigrationStarted {
        // PVE decides: a request to the HA manager is a `hamigrate` task.
        by_ha: upid.task_type() == "hamigrate",
        task: TaskRef {
            cluster: vm.cluster.name.clone(),
            upid,
        },
        target: target_node.to_string(),
    })
}

/// The HA manager's own migration of VM `vmid` (`qmigrate`) started at `since` or later, once
/// it has started; what a page follows after an HA migration request.
#[server(prefix = "/api", endpoint = "migration_ha_task")]
pub async fn ha_migration_task(
    cluster: String,
    node: String,
    vmid: String,
    since: i64,
) -> Result<Option<TaskRef>, AppError> {
    let vm = access::require_vm(Role::Viewer, &cluster, &node, &vmid).await?;
    let id = vm.vmid.to_string();
    let tasks = vm.cluster.api.cluster_tasks().await?;
    let found = tasks
        .into_iter()
        .filter(|t| t.kind.as_deref() == Some("qmigrate") && t.id.as_deref() == Some(id.as_str()))
        .filter(|t| t.starttime.unwrap_or(0) >= since)
        .min_by_key(|t| t.starttime);
    Ok(found.map(|t| TaskRef {
        cluster: vm.cluster.name.clone(),
        upid: t.upid,
    }))
}
