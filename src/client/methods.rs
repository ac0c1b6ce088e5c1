//! `PveApi` for [`HttpClient`]: each operation names its entry of the endpoint table, fills
//! the path from validated IDs, and decodes the answer.

use std::fmt::Display;

use super::api::PveApi;
use super::console::WebSocketRequest;
use super::endpoints::{self as ep, Endpoint};
use super::http::HttpClient;
use crate::error::{Error, Result};
use crate::ids::{BackupJobId, DiskName, NodeName, SnapshotName, StorageId, Upid, UserId, VmId};
use crate::types::{
    AclEntry, BackupJob, BackupJobSpec, ClusterLogEntry, ClusterResource, ClusterStatusEntry,
    DiskSize, InterfaceFilter, MetricsExport, MetricsExportOptions, MigratePrecondition,
    NetworkInterface, NodeIndexEntry, NodeRrdPoint, NodeStatus, NodeStorage, NodeSummary, Params,
    Permissions, PoolSummary, PowerAction, QemuClone, QemuConfig, QemuConfigUpdate, QemuListEntry,
    QemuMigrate, QemuPendingEntry, QemuRestore, QemuRrdPoint, QemuSnapshot, QemuSnapshotConfig,
    QemuSnapshotCreate, QemuStatus, ResourceType, Role, RrdCf, RrdTimeframe, StorageContentEntry,
    StorageContentFilter, StorageListFilter, TaskListEntry, TaskListFilter, TaskLogLine,
    TaskStatus, User, Version, VncProxy, VzdumpOptions,
};

/// No parameters.
fn none() -> Params {
    Params::new()
}

/// The endpoint of a power action.
fn power_endpoint(action: PowerAction) -> &'static Endpoint {
    match action {
        PowerAction::Start => &ep::QEMU_START,
        PowerAction::Stop => &ep::QEMU_STOP,
        PowerAction::Shutdown => &ep::QEMU_SHUTDOWN,
        PowerAction::Reboot => &ep::QEMU_REBOOT,
        PowerAction::Suspend => &ep::QEMU_SUSPEND,
        PowerAction::Resume => &ep::QEMU_RESUME,
    }
}

/// A container's power endpoint; `None` for suspend and resume (not offered for containers).
fn lxc_power_endpoint(action: PowerAction) -> Option<&'static Endpoint> {
    match action {
        PowerAction::Start => Some(&ep::LXC_START),
        PowerAction::Stop => Some(&ep::LXC_STOP),
        PowerAction::Shutdown => Some(&ep::LXC_SHUTDOWN),
        PowerAction::Reboot => Some(&ep::LXC_REBOOT),
        PowerAction::Suspend | PowerAction::Resume => None,
    }
}

/// A task ID that PVE must have sent.
fn required_upid(answer: Option<String>, what: impl Display) -> Result<Upid> {
    optional_upid(answer, &what)?.ok_or_else(|| Error::Decode {
        message: format!("{what}: PVE returned no task ID"),
    })
}

/// A task ID, or `None` when PVE answered `null` (the work is already done).
fn optional_upid(answer: Option<String>, what: impl Display) -> Result<Option<Upid>> {
    answer
        .filter(|s| !s.is_empty())
        .map(|s| {
            Upid::parse(&s).map_err(|e| Error::Decode {
                message: format!("{what}: {e}"),
            })
        })
        .transpose()
}

impl HttpClient {
    /// `request` for endpoints below `/nodes/{node}/qemu/{vmid}`.
    async fn qemu_request<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        node: &NodeName,
        vmid: VmId,
        params: &Params,
    ) -> Result<T> {
        let vmid = vmid.to_string();
        self.request(endpoint, &[node.as_str(), &vmid], params)
            .await
    }

    /// `request` for endpoints below `/nodes/{node}/qemu/{vmid}/snapshot/{snapname}`.
    async fn snapshot_request<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        (node, vmid, snapname): (&NodeName, VmId, &SnapshotName),
        params: &Params,
    ) -> Result<T> {
        let vmid = vmid.to_string();
        let segments = [node.as_str(), &vmid, snapname.as_str()];
        self.request(endpoint, &segments, params).await
    }

    /// `request` for endpoints below `/nodes/{upid node}/tasks/{upid}`.
    async fn task_request<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        upid: &Upid,
        params: &Params,
    ) -> Result<T> {
        self.request(endpoint, &[upid.node().as_str(), upid.as_str()], params)
            .await
    }
}

#[async_trait::async_trait]
impl PveApi for HttpClient {
    async fn version(&self) -> Result<Version> {
        self.request(&ep::VERSION, &[], &none()).await
    }

    async fn nodes(&self) -> Result<Vec<NodeSummary>> {
        self.request(&ep::NODES, &[], &none()).await
    }

    async fn cluster_resources(&self, kind: Option<ResourceType>) -> Result<Vec<ClusterResource>> {
        let mut p = Params::new();
        p.opt_str("type", kind.map(ResourceType::as_str));
        self.request(&ep::CLUSTER_RESOURCES, &[], &p).await
    }

    async fn qemu_list(&self, node: &NodeName) -> Result<Vec<QemuListEntry>> {
        self.request(&ep::QEMU_LIST, &[node.as_str()], &none())
            .await
    }

    async fn qemu_status(&self, node: &NodeName, vmid: VmId) -> Result<QemuStatus> {
        let mut data: serde_json::Value = self
            .qemu_request(&ep::QEMU_STATUS, node, vmid, &none())
            .await?;
        // The VM ID is in every known PVE answer; fill it in should a version leave it out.
        if let Some(obj) = data.as_object_mut() {
            obj.entry("vmid").or_insert_with(|| vmid.get().into());
        }
        serde_json::from_value(data).map_err(|e| Error::Decode {
            message: format!("VM {vmid} status: {e}"),
        })
    }

    async fn qemu_power(&self, node: &NodeName, vmid: VmId, action: PowerAction) -> Result<Upid> {
        let answer = self
            .qemu_request(power_endpoint(action), node, vmid, &none())
            .await?;
        required_upid(answer, format_args!("VM {vmid} {action}"))
    }

    async fn lxc_power(&self, node: &NodeName, vmid: VmId, action: PowerAction) -> Result<Upid> {
        let endpoint = lxc_power_endpoint(action).ok_or_else(|| Error::InvalidParameters {
            message: format!("not sent: {action} is not offered for containers"),
            errors: Default::default(),
        })?;
        let vmid_text = vmid.to_string();
        let answer = self
            .request(endpoint, &[node.as_str(), &vmid_text], &none())
            .await?;
        required_upid(answer, format_args!("CT {vmid} {action}"))
    }

    async fn task_status(&self, upid: &Upid) -> Result<TaskStatus> {
        self.task_request(&ep::TASK_STATUS, upid, &none()).await
    }

    async fn task_log(&self, upid: &Upid, start: u64, limit: u64) -> Result<Vec<TaskLogLine>> {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut p = Params::new();
        p.int("start", clamp(start)).int("limit", clamp(limit));
        self.task_request(&ep::TASK_LOG, upid, &p).await
    }

    async fn task_stop(&self, upid: &Upid) -> Result<()> {
        let _: Option<serde_json::Value> = self.task_request(&ep::TASK_STOP, upid, &none()).await?;
        Ok(())
    }

    async fn node_index(&self, node: &NodeName) -> Result<Vec<NodeIndexEntry>> {
        self.request(&ep::NODE_INDEX, &[node.as_str()], &none())
            .await
    }

    async fn node_status(&self, node: &NodeName) -> Result<NodeStatus> {
        self.request(&ep::NODE_STATUS, &[node.as_str()], &none())
            .await
    }

    async fn node_rrddata(
        &self,
        node: &NodeName,
        timeframe: RrdTimeframe,
        cf: RrdCf,
    ) -> Result<Vec<NodeRrdPoint>> {
        let mut p = Params::new();
        p.str("timeframe", timeframe).str("cf", cf);
        self.request(&ep::NODE_RRDDATA, &[node.as_str()], &p).await
    }

    async fn node_tasks(
        &self,
        node: &NodeName,
        filter: &TaskListFilter,
    ) -> Result<Vec<TaskListEntry>> {
        self.request(&ep::NODE_TASKS, &[node.as_str()], &filter.params())
            .await
    }

    async fn node_network(
        &self,
        node: &NodeName,
        filter: Option<InterfaceFilter>,
    ) -> Result<Vec<NetworkInterface>> {
        let mut p = Params::new();
        p.opt_str("type", filter.map(InterfaceFilter::as_str));
        self.request(&ep::NODE_NETWORK, &[node.as_str()], &p).await
    }

    async fn node_storage(
        &self,
        node: &NodeName,
        filter: &StorageListFilter,
    ) -> Result<Vec<NodeStorage>> {
        self.request(&ep::NODE_STORAGE, &[node.as_str()], &filter.params())
            .await
    }

    async fn storage_content(
        &self,
        node: &NodeName,
        storage: &StorageId,
        filter: &StorageContentFilter,
    ) -> Result<Vec<StorageContentEntry>> {
        let segments = [node.as_str(), storage.as_str()];
        self.request(&ep::STORAGE_CONTENT, &segments, &filter.params())
            .await
    }

    async fn node_vzdump(&self, node: &NodeName, options: &VzdumpOptions) -> Result<Upid> {
        let answer = self
            .request(&ep::NODE_VZDUMP, &[node.as_str()], &options.params())
            .await?;
        required_upid(answer, format_args!("backup on {node}"))
    }

    async fn qemu_rrddata(
        &self,
        node: &NodeName,
        vmid: VmId,
        timeframe: RrdTimeframe,
        cf: RrdCf,
    ) -> Result<Vec<QemuRrdPoint>> {
        let mut p = Params::new();
        p.str("timeframe", timeframe).str("cf", cf);
        self.qemu_request(&ep::QEMU_RRDDATA, node, vmid, &p).await
    }

    async fn qemu_restore(&self, node: &NodeName, restore: &QemuRestore) -> Result<Upid> {
        let answer = self
            .request(&ep::QEMU_CREATE, &[node.as_str()], &restore.params())
            .await?;
        required_upid(answer, format_args!("restore of VM {}", restore.vmid))
    }

    async fn qemu_config(&self, node: &NodeName, vmid: VmId) -> Result<QemuConfig> {
        self.qemu_request(&ep::QEMU_CONFIG, node, vmid, &none())
            .await
    }

    async fn qemu_config_current(&self, node: &NodeName, vmid: VmId) -> Result<QemuConfig> {
        let mut p = Params::new();
        p.bool("current", true);
        self.qemu_request(&ep::QEMU_CONFIG, node, vmid, &p).await
    }

    async fn qemu_pending(&self, node: &NodeName, vmid: VmId) -> Result<Vec<QemuPendingEntry>> {
        self.qemu_request(&ep::QEMU_PENDING, node, vmid, &none())
            .await
    }

    async fn qemu_snapshots(&self, node: &NodeName, vmid: VmId) -> Result<Vec<QemuSnapshot>> {
        self.qemu_request(&ep::QEMU_SNAPSHOT_LIST, node, vmid, &none())
            .await
    }

    async fn qemu_snapshot_create(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapshot: &QemuSnapshotCreate,
    ) -> Result<Upid> {
        if snapshot.snapname.is_reserved() {
            return Err(Error::InvalidParameters {
                message: "not sent: PVE reserves the snapshot names 'current' and 'pending'".into(),
                errors: [("snapname".to_owned(), snapshot.snapname.to_string())].into(),
            });
        }
        let answer = self
            .qemu_request(&ep::QEMU_SNAPSHOT_CREATE, node, vmid, &snapshot.params())
            .await?;
        required_upid(answer, format_args!("snapshot of VM {vmid}"))
    }

    async fn qemu_snapshot_config(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
    ) -> Result<QemuSnapshotConfig> {
        let at = (node, vmid, snapname);
        self.snapshot_request(&ep::QEMU_SNAPSHOT_CONFIG, at, &none())
            .await
    }

    async fn qemu_snapshot_set_description(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
        description: &str,
    ) -> Result<()> {
        let mut p = Params::new();
        p.str("description", description);
        let at = (node, vmid, snapname);
        let _: Option<serde_json::Value> = self
            .snapshot_request(&ep::QEMU_SNAPSHOT_CONFIG_PUT, at, &p)
            .await?;
        Ok(())
    }

    async fn qemu_snapshot_delete(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
        force: bool,
    ) -> Result<Upid> {
        let mut p = Params::new();
        if force {
            p.bool("force", true);
        }
        let at = (node, vmid, snapname);
        let answer = self
            .snapshot_request(&ep::QEMU_SNAPSHOT_DELETE, at, &p)
            .await?;
        required_upid(
            answer,
            format_args!("deleting snapshot {snapname} of VM {vmid}"),
        )
    }

    async fn qemu_snapshot_rollback(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
        start: bool,
    ) -> Result<Upid> {
        let mut p = Params::new();
        if start {
            p.bool("start", true);
        }
        let at = (node, vmid, snapname);
        let answer = self
            .snapshot_request(&ep::QEMU_SNAPSHOT_ROLLBACK, at, &p)
            .await?;
        required_upid(answer, format_args!("rollback of VM {vmid} to {snapname}"))
    }

    async fn qemu_config_update(
        &self,
        node: &NodeName,
        vmid: VmId,
        update: &QemuConfigUpdate,
    ) -> Result<()> {
        let _: Option<serde_json::Value> = self
            .qemu_request(&ep::QEMU_CONFIG_PUT, node, vmid, &update.params())
            .await?;
        Ok(())
    }

    async fn qemu_config_update_async(
        &self,
        node: &NodeName,
        vmid: VmId,
        update: &QemuConfigUpdate,
    ) -> Result<Option<Upid>> {
        let answer = self
            .qemu_request(&ep::QEMU_CONFIG_POST, node, vmid, &update.params())
            .await?;
        optional_upid(answer, format_args!("VM {vmid} config"))
    }

    async fn qemu_resize(
        &self,
        node: &NodeName,
        vmid: VmId,
        disk: &DiskName,
        size: DiskSize,
    ) -> Result<Option<Upid>> {
        let mut p = Params::new();
        p.str("disk", disk).str("size", size);
        let answer = self.qemu_request(&ep::QEMU_RESIZE, node, vmid, &p).await?;
        optional_upid(answer, format_args!("VM {vmid} resize"))
    }

    async fn qemu_clone(&self, node: &NodeName, vmid: VmId, clone: &QemuClone) -> Result<Upid> {
        let answer = self
            .qemu_request(&ep::QEMU_CLONE, node, vmid, &clone.params())
            .await?;
        required_upid(answer, format_args!("clone of VM {vmid}"))
    }

    async fn qemu_migrate_precondition(
        &self,
        node: &NodeName,
        vmid: VmId,
        target: Option<&NodeName>,
    ) -> Result<MigratePrecondition> {
        let mut p = Params::new();
        p.opt_str("target", target);
        self.qemu_request(&ep::QEMU_MIGRATE_CHECK, node, vmid, &p)
            .await
    }

    async fn qemu_migrate(
        &self,
        node: &NodeName,
        vmid: VmId,
        migrate: &QemuMigrate,
    ) -> Result<Upid> {
        let answer = self
            .qemu_request(&ep::QEMU_MIGRATE, node, vmid, &migrate.params())
            .await?;
        required_upid(answer, format_args!("migration of VM {vmid}"))
    }

    async fn qemu_vncproxy(
        &self,
        node: &NodeName,
        vmid: VmId,
        generate_password: bool,
    ) -> Result<VncProxy> {
        let mut p = Params::new();
        p.bool("websocket", true);
        if generate_password {
            p.bool("generate-password", true);
        }
        self.qemu_request(&ep::QEMU_VNCPROXY, node, vmid, &p).await
    }

    async fn vnc_websocket_request(
        &self,
        node: &NodeName,
        vmid: VmId,
        port: u16,
        ticket: &str,
    ) -> Result<WebSocketRequest> {
        self.vnc_websocket(node, vmid, port, ticket).await
    }

    async fn cluster_status(&self) -> Result<Vec<ClusterStatusEntry>> {
        self.request(&ep::CLUSTER_STATUS, &[], &none()).await
    }

    async fn cluster_nextid(&self, vmid: Option<VmId>) -> Result<VmId> {
        let mut p = Params::new();
        p.opt_int("vmid", vmid.map(VmId::get));
        // PVE sends the ID as a string; `VmId` reads both.
        self.request(&ep::CLUSTER_NEXTID, &[], &p).await
    }

    async fn pools(&self) -> Result<Vec<PoolSummary>> {
        self.request(&ep::POOLS, &[], &none()).await
    }

    async fn cluster_log(&self, max: Option<u32>) -> Result<Vec<ClusterLogEntry>> {
        let mut p = Params::new();
        p.opt_int("max", max);
        self.request(&ep::CLUSTER_LOG, &[], &p).await
    }

    async fn cluster_tasks(&self) -> Result<Vec<TaskListEntry>> {
        self.request(&ep::CLUSTER_TASKS, &[], &none()).await
    }

    async fn cluster_backup_list(&self) -> Result<Vec<BackupJob>> {
        self.request(&ep::CLUSTER_BACKUP_LIST, &[], &none()).await
    }

    async fn cluster_backup_get(&self, id: &BackupJobId) -> Result<BackupJob> {
        self.request(&ep::CLUSTER_BACKUP_GET, &[id.as_str()], &none())
            .await
    }

    async fn cluster_backup_create(
        &self,
        id: Option<&BackupJobId>,
        spec: &BackupJobSpec,
    ) -> Result<()> {
        let mut p = spec.params();
        if let Some(id) = id {
            if !id.is_config_id() {
                return Err(Error::InvalidParameters {
                    message: "not sent: a new backup job ID must start with a letter and hold \
                              only letters, digits, '-' and '_'"
                        .into(),
                    errors: [("id".to_owned(), id.to_string())].into(),
                });
            }
            p.str("id", id);
        }
        let _: Option<serde_json::Value> =
            self.request(&ep::CLUSTER_BACKUP_CREATE, &[], &p).await?;
        Ok(())
    }

    async fn cluster_backup_update(
        &self,
        id: &BackupJobId,
        spec: &BackupJobSpec,
        delete: &[&str],
    ) -> Result<()> {
        let endpoint = &ep::CLUSTER_BACKUP_UPDATE;
        // Only options the job has can be reset.
        if let Some(bad) = delete
            .iter()
            .find(|d| **d == "delete" || endpoint.param(d).is_none())
        {
            return Err(Error::InvalidParameters {
                message: "not sent: cannot reset an option backup jobs do not have".into(),
                errors: [("delete".to_owned(), (*bad).to_owned())].into(),
            });
        }
        let mut p = spec.params();
        p.list("delete", delete);
        let _: Option<serde_json::Value> = self.request(endpoint, &[id.as_str()], &p).await?;
        Ok(())
    }

    async fn cluster_backup_delete(&self, id: &BackupJobId) -> Result<()> {
        let _: Option<serde_json::Value> = self
            .request(&ep::CLUSTER_BACKUP_DELETE, &[id.as_str()], &none())
            .await?;
        Ok(())
    }

    async fn cluster_metrics_export(
        &self,
        options: &MetricsExportOptions,
    ) -> Result<Option<MetricsExport>> {
        match self
            .request(&ep::CLUSTER_METRICS_EXPORT, &[], &options.params())
            .await
        {
            Ok(export) => Ok(Some(export)),
            // PVE before 8.2 does not know the path.
            Err(Error::Upstream { status: 501, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn access_users(&self, full: bool) -> Result<Vec<User>> {
        let mut p = Params::new();
        if full {
            p.bool("full", true);
        }
        self.request(&ep::ACCESS_USERS, &[], &p).await
    }

    async fn access_roles(&self) -> Result<Vec<Role>> {
        self.request(&ep::ACCESS_ROLES, &[], &none()).await
    }

    async fn access_acl(&self) -> Result<Vec<AclEntry>> {
        self.request(&ep::ACCESS_ACL, &[], &none()).await
    }

    async fn access_permissions(
        &self,
        path: Option<&str>,
        userid: Option<&UserId>,
    ) -> Result<Permissions> {
        let mut p = Params::new();
        p.opt_str("path", path).opt_str("userid", userid);
        self.request(&ep::ACCESS_PERMISSIONS, &[], &p).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_power_action_has_its_endpoint() {
        for action in PowerAction::ALL {
            let endpoint = power_endpoint(action);
            assert_eq!(endpoint.method, "POST");
            assert!(
                endpoint
                    .path
                    .ends_with(&format!("/status/{}", action.path_segment()))
            );
        }
    }

    #[test]
    fn upid_answers() {
        let upid = "UPID:pve:000586D2:0078E219:6A4BB5CA:qmconfig:100:root@pam:";
        assert_eq!(optional_upid(None, "x").unwrap(), None);
        assert_eq!(optional_upid(Some(String::new()), "x").unwrap(), None);
        assert!(optional_upid(Some(upid.into()), "x").unwrap().is_some());
        assert!(matches!(
            required_upid(None, "x"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            optional_upid(Some("nope".into()), "x"),
            Err(Error::Decode { .. })
        ));
    }
}
