//! Cloning a VM (operators): a new id from PVE's `/cluster/nextid`, a name, full or linked
//! (linked only from a template, as PVE allows), the target node and storage.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::access::{self, Role};
use crate::error::AppError;
use crate::vms::TaskRef;

/// What the clone form offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloneChoices {
    /// The lowest free VM id (a hint: another request may take it first).
    pub next_id: u32,
    /// The source's name.
    pub name: String,
    /// True for a template: a linked clone is possible (and PVE's default).
    pub template: bool,
    /// The node the source is on (the default target).
    pub node: String,
    /// Online nodes of the cluster.
    pub nodes: Vec<String>,
    /// Storages on the source's node that hold VM disks.
    pub storages: Vec<String>,
    /// Resource pools the clone may join (those PVE lets Cecyber see; none without
    /// `Pool.Audit`).
    pub pools: Vec<String>,
}

/// The clone form's defaults (operators, in scope).
#[server(prefix = "/api", endpoint = "clone_options")]
pub async fn clone_options(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<CloneChoices, AppError> {
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let (next_id, status, nodes, storages, pools) = futures::join!(
        vm.cluster.api.cluster_nextid(None),
        vm.cluster.api.qemu_status(&vm.node, vm.vmid),
        vm.cluster.api.nodes(),
        vm.cluster.disk_storages(&vm.node),
        vm.cluster.api.pools()
    );
    // Pools are optional: without Pool.Audit the clone simply joins none.
    let mut pools: Vec<String> = match pools {
        Ok(list) => list.into_iter().map(|p| p.poolid).collect(),
        Err(e) => {
            tracing::debug!(cluster = %vm.cluster.name, error = %e, "pools not readable");
            Vec::new()
        }
    };
    pools.sort();
    let status = status?;
    let mut nodes: Vec<String> = nodes?
        .into_iter()
        .filter(|n| n.status == pve::types::NodeState::Online)
        .map(|n| n.node)
        .collect();
    nodes.sort();
    Ok(CloneChoices {
        next_id: next_id?.get(),
        name: status.name.clone().unwrap_or_default(),
        template: status.template,
        node: vm.node.to_string(),
        nodes,
        storages: storages?,
        pools,
    })
}

/// What the clone form sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloneForm {
    /// The new VM's id.
    pub newid: String,
    /// Its name.
    pub name: String,
    /// Full copy (else linked: templates only).
    pub full: bool,
    /// Target node (empty: the source's).
    pub target: String,
    /// Storage for a full clone's disks (empty: the source's).
    pub storage: String,
    /// Resource pool the clone joins (empty: none).
    #[serde(default)]
    pub pool: String,
}

/// Clones the VM (operators, in scope); the new id is refused at once when it is taken.
#[server(prefix = "/api", endpoint = "clone_start")]
pub async fn clone_vm(
    cluster: String,
    node: String,
    vmid: String,
    form: CloneForm,
) -> Result<TaskRef, AppError> {
    use pve::ids::VmId;

    let newid: VmId = form.newid.trim().parse().map_err(|_| {
        AppError::InvalidInput(format!(
            "New VM id {:?}: a number from 100 to 999999999.",
            form.newid.chars().take(16).collect::<String>()
        ))
    })?;
    let name = form.name.trim();
    crate::vm_config::check_name(name)?;
    let target = match form.target.trim() {
        "" => None,
        t => Some(access::parse_node(t)?),
    };
    let storage = match form.storage.trim() {
        "" => None,
        s => Some(
            s.parse::<pve::ids::StorageId>()
                .map_err(|e| AppError::InvalidInput(format!("Storage: {e}")))?,
        ),
    };
    let pool = match form.pool.trim() {
        "" => None,
        p => Some(
            pve::ids::PoolId::parse(p).map_err(|e| AppError::InvalidInput(format!("Pool: {e}")))?,
        ),
    };
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    if let Err(e) = vm.cluster.api.cluster_nextid(Some(newid)).await {
        return Err(match AppError::from(e) {
            AppError::Pve(_) => AppError::Conflict(format!(
                "VM id {newid} is taken; choose another (the next free one is offered)."
            )),
            other => other,
        });
    }
    if !form.full && form.storage.trim() != "" {
        return Err(AppError::InvalidInput(
            "A linked clone stays on the template's storage; choose a full clone to pick one."
                .into(),
        ));
    }
    let mut clone = pve::types::QemuClone::new(newid);
    clone.name = Some(name.to_owned());
    clone.full = Some(form.full);
    clone.target = target.filter(|t| *t != vm.node);
    clone.storage = storage.filter(|_| form.full);
    clone.pool = pool.map(|p| p.as_str().to_owned());
    let upid = vm.cluster.api.qemu_clone(&vm.node, vm.vmid, &clone).await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, %newid, full = form.full, %upid, "clone");
    Ok(TaskRef {
        cluster: vm.cluster.name.clone(),
        upid,
    })
}
