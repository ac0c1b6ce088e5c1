//! A VM's snapshots: the list (as PVE's tree), and taking, rolling back to and deleting one,
//! each a PVE task followed in the task panel. Viewers see the list; operators act.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::vms::TaskRef;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    error::AppResult,
};

/// One snapshot of a VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRow {
    /// Its name.
    pub name: String,
    /// Its description (may be empty).
    pub description: String,
    /// The snapshot it was taken on top of; `None` at the root.
    pub parent: Option<String>,
    /// When it was taken, Unix time.
    pub snaptime: Option<i64>,
    /// True when it holds the RAM too (a rollback then resumes the VM where it was).
    pub vmstate: bool,
    /// True while a task takes or deletes it (it cannot be rolled back to then).
    pub busy: bool,
}

/// A VM's snapshots and where its present state stands among them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotList {
    /// The snapshots, in the order PVE listed them.
    pub snapshots: Vec<SnapshotRow>,
    /// The snapshot the present state is based on (`None`: none, or all were deleted).
    pub current_parent: Option<String>,
    /// True while the VM runs (a snapshot may then include its RAM).
    pub running: bool,
}

impl SnapshotList {
    /// The snapshots as a tree, depth first (children by time), each with its depth, and the
    /// place of the present state: `None` entries mark "you are here" (under its parent).
    pub fn tree(&self) -> Vec<(usize, Option<&SnapshotRow>)> {
        let known = |name: &Option<String>| {
            name.as_ref()
                .filter(|n| self.snapshots.iter().any(|s| &s.name == *n))
                .cloned()
        };
        let mut out = Vec::new();
        self.visit(None, 0, &known, &mut out);
        out
    }

    fn visit<'a>(
        &'a self,
        parent: Option<&str>,
        depth: usize,
        known: &dyn Fn(&Option<String>) -> Option<String>,
        out: &mut Vec<(usize, Option<&'a SnapshotRow>)>,
    ) {
        let mut children: Vec<&SnapshotRow> = self
            .snapshots
            .iter()
            // A parent that is not in the list (deleted) makes a root.
            .filter(|s| known(&s.parent).as_deref() == parent)
            .collect();
        children.sort_by_key(|s| (s.snaptime.unwrap_or(0), s.name.clone()));
        for child in children {
            out.push((depth, Some(child)));
            self.visit(Some(&child.name), depth + 1, known, out);
        }
        if known(&self.current_parent).as_deref() == parent {
            out.push((depth, None));
        }
    }
}

/// Checks a new snapshot's name as PVE does, with a message that says what is allowed.
#[cfg(feature = "ssr")]
fn new_snapshot_name(name: &str) -> AppResult<pve::ids::SnapshotName> {
    let name = name.trim();
    let parsed = pve::ids::SnapshotName::parse(name).map_err(|_| {
        AppError::InvalidInput(format!(
            "Snapshot name {:?}: 2 to 40 characters, letters, digits, - and _, starting with a letter.",
            name.chars().take(48).collect::<String>()
        ))
    })?;
    if parsed.is_reserved() {
        return Err(AppError::InvalidInput(format!(
            "{name:?} is reserved by Proxmox VE; choose another snapshot name."
        )));
    }
    Ok(parsed)
}

/// An existing snapshot's name from the browser.
#[cfg(feature = "ssr")]
fn existing_snapshot_name(name: &str) -> AppResult<pve::ids::SnapshotName> {
    pve::ids::SnapshotName::parse(name)
        .map_err(|e| AppError::InvalidInput(format!("Snapshot name: {e}")))
}

/// The VM's snapshots (viewers and up, in scope).
#[server(prefix = "/api", endpoint = "snapshots_list")]
pub async fn list_snapshots(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<SnapshotList, AppError> {
    let vm = access::require_vm(Role::Viewer, &cluster, &node, &vmid).await?;
    let all = vm.cluster.api.qemu_snapshots(&vm.node, vm.vmid).await?;
    let current = all.iter().find(|s| s.is_current());
    Ok(SnapshotList {
        current_parent: current.and_then(|c| c.parent.clone()),
        running: current.and_then(|c| c.running).unwrap_or(false),
        snapshots: all
            .iter()
            .filter(|s| !s.is_current())
            .map(|s| SnapshotRow {
                name: s.name.clone(),
                description: s.description.clone(),
                parent: s.parent.clone(),
                snaptime: s.snaptime,
                vmstate: s.vmstate,
                busy: s.is_incomplete(),
            })
            .collect(),
    })
}

/// Takes a snapshot (operators): `name` checked as PVE checks it, and refused at once when
/// the VM has a snapshot of that name.
#[server(prefix = "/api", endpoint = "snapshots_create")]
pub async fn create_snapshot(
    cluster: String,
    node: String,
    vmid: String,
    name: String,
    description: String,
    #[server(default)] with_ram: bool,
) -> Result<TaskRef, AppError> {
    let snapname = new_snapshot_name(&name)?;
    if description.len() > 8192 {
        return Err(AppError::InvalidInput(
            "A snapshot description is at most 8192 characters.".into(),
        ));
    }
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let existing = vm.cluster.api.qemu_snapshots(&vm.node, vm.vmid).await?;
    if existing.iter().any(|s| s.name == snapname.as_str()) {
        return Err(AppError::Conflict(format!(
            "VM {} already has a snapshot named {snapname}.",
            vm.vmid
        )));
    }
    let mut create = pve::types::QemuSnapshotCreate::new(snapname.clone());
    create.description = Some(description.trim().to_owned()).filter(|d| !d.is_empty());
    create.vmstate = with_ram.then_some(true);
    let upid = vm
        .cluster
        .api
        .qemu_snapshot_create(&vm.node, vm.vmid, &create)
        .await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, snapshot = %snapname, with_ram, %upid, "snapshot");
    Ok(TaskRef {
        cluster: vm.cluster.name.clone(),
        upid,
    })
}

/// Rolls the VM back to snapshot `name` (operators); `start` starts it afterwards when the
/// snapshot has no RAM (one with RAM resumes it anyway).
#[server(prefix = "/api", endpoint = "snapshots_rollback")]
pub async fn rollback_snapshot(
    cluster: String,
    node: String,
    vmid: String,
    name: String,
    #[server(default)] start: bool,
) -> Result<TaskRef, AppError> {
    let snapname = existing_snapshot_name(&name)?;
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let upid = vm
        .cluster
        .api
        .qemu_snapshot_rollback(&vm.node, vm.vmid, &snapname, start)
        .await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, snapshot = %snapname, start, %upid, "snapshot rollback");
    Ok(TaskRef {
        cluster: vm.cluster.name.clone(),
        upid,
    })
}

/// Deletes snapshot `name` (operators); the VM's present state is kept.
#[server(prefix = "/api", endpoint = "snapshots_delete")]
pub async fn delete_snapshot(
    cluster: String,
    node: String,
    vmid: String,
    name: String,
) -> Result<TaskRef, AppError> {
    let snapname = existing_snapshot_name(&name)?;
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let upid = vm
        .cluster
        .api
        .qemu_snapshot_delete(&vm.node, vm.vmid, &snapname, false)
        .await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, snapshot = %snapname, %upid, "snapshot delete");
    Ok(TaskRef {
        cluster: vm.cluster.name.clone(),
        upid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, parent: Option<&str>, t: i64) -> SnapshotRow {
        SnapshotRow {
            name: name.into(),
            description: String::new(),
            parent: parent.map(Into::into),
            snaptime: Some(t),
            vmstate: false,
            busy: false,
        }
    }

    fn names(list: &SnapshotList) -> Vec<String> {
        list.tree()
            .into_iter()
            .map(|(depth, s)| format!("{depth}:{}", s.map_or("NOW", |s| s.name.as_str())))
            .collect()
    }

    #[test]
    fn the_tree_is_depth_first_with_the_present_state_under_its_parent() {
        let list = SnapshotList {
            snapshots: vec![
                snap("b2", Some("a"), 30),
                snap("a", None, 10),
                snap("b1", Some("a"), 20),
                snap("c", Some("b1"), 25),
            ],
            current_parent: Some("b2".into()),
            running: false,
        };
        assert_eq!(names(&list), ["0:a", "1:b1", "2:c", "1:b2", "2:NOW"]);
    }

    #[test]
    fn a_deleted_parent_makes_a_root_and_no_snapshots_leave_the_present_alone() {
        let list = SnapshotList {
            snapshots: vec![snap("x", Some("gone"), 5)],
            current_parent: Some("gone".into()),
            running: true,
        };
        assert_eq!(names(&list), ["0:x", "0:NOW"]);
        let empty = SnapshotList {
            snapshots: vec![],
            current_parent: None,
            running: false,
        };
        assert_eq!(names(&empty), ["0:NOW"]);
    }
}
