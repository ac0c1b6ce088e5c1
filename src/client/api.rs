//! The `PveApi` trait: the PVE operations Cecyber uses, implemented by the HTTP client (and by
//! anything that plays PVE, e.g. the simulator), plus [`wait_task`].

use std::time::Duration;

use super::console::WebSocketRequest;
use crate::error::{Error, Result};
use crate::ids::{BackupJobId, DiskName, NodeName, SnapshotName, StorageId, Upid, UserId, VmId};
use crate::types::{
    AclEntry, BackupJob, BackupJobSpec, ClusterLogEntry, ClusterResource, ClusterStatusEntry,
    DiskSize, InterfaceFilter, MetricsExport, MetricsExportOptions, MigratePrecondition,
    NetworkInterface, NodeIndexEntry, NodeRrdPoint, NodeStatus, NodeStorage, NodeSummary,
    Permissions, PoolSummary, PowerAction, QemuClone, QemuConfig, QemuConfigUpdate, QemuListEntry,
    QemuMigrate, QemuPendingEntry, QemuRestore, QemuRrdPoint, QemuSnapshot, QemuSnapshotConfig,
    QemuSnapshotCreate, QemuStatus, ResourceType, Role, RrdCf, RrdTimeframe, StorageContentEntry,
    StorageContentFilter, StorageListFilter, TaskListEntry, TaskListFilter, TaskLogLine,
    TaskStatus, User, Version, VncProxy, VzdumpOptions,
};

/// The PVE API as Cecyber uses it. Hold it as `Arc<dyn PveApi>`.
#[async_trait::async_trait]
pub trait PveApi: Send + Sync + 'static {
    /// `GET /version`: the PVE release of the answering node.
    async fn version(&self) -> Result<Version>;

    /// `GET /nodes`: all cluster nodes with their load.
    async fn nodes(&self) -> Result<Vec<NodeSummary>>;

    /// `GET /cluster/resources[?type=…]`: nodes, guests, storages of the whole cluster.
    async fn cluster_resources(&self, kind: Option<ResourceType>) -> Result<Vec<ClusterResource>>;

    /// `GET /nodes/{node}/qemu`: the VMs on one node.
    async fn qemu_list(&self, node: &NodeName) -> Result<Vec<QemuListEntry>>;

    /// `GET /nodes/{node}/qemu/{vmid}/status/current`: one VM's live status.
    async fn qemu_status(&self, node: &NodeName, vmid: VmId) -> Result<QemuStatus>;

    /// `POST /nodes/{node}/qemu/{vmid}/status/{action}`: starts the action as a PVE task.
    /// Never repeated automatically.
    async fn qemu_power(&self, node: &NodeName, vmid: VmId, action: PowerAction) -> Result<Upid>;

    /// `POST /nodes/{node}/lxc/{vmid}/status/{action}`: starts, stops, shuts down or reboots
    /// an LXC container as a PVE task (`vzstart`, …). Suspend and resume are refused without a
    /// request (see [`PowerAction::applicable_to_container`]). Never repeated automatically.
    async fn lxc_power(&self, node: &NodeName, vmid: VmId, action: PowerAction) -> Result<Upid>;

    /// `GET /nodes/{upid node}/tasks/{upid}/status`.
    async fn task_status(&self, upid: &Upid) -> Result<TaskStatus>;

    /// `GET /nodes/{upid node}/tasks/{upid}/log?start=&limit=`: up to `limit` log lines (0 =
    /// all) from line `start` (0-based; the returned `n` counts from 1). Past the end PVE
    /// answers with one line `no content`.
    async fn task_log(&self, upid: &Upid, start: u64, limit: u64) -> Result<Vec<TaskLogLine>>;

    /// `DELETE /nodes/{upid node}/tasks/{upid}`: stops a running task. Never repeated.
    async fn task_stop(&self, upid: &Upid) -> Result<()>;

    // ---- nodes -------------------------------------------------------------------------

    /// `GET /nodes/{node}`: the node's API sub-directories.
    async fn node_index(&self, node: &NodeName) -> Result<Vec<NodeIndexEntry>>;

    /// `GET /nodes/{node}/status`: load, memory, disk, CPU model, versions.
    async fn node_status(&self, node: &NodeName) -> Result<NodeStatus>;

    /// `GET /nodes/{node}/rrddata?timeframe=&cf=`: the node's metric history. `Decade` needs
    /// PVE 9.
    async fn node_rrddata(
        &self,
        node: &NodeName,
        timeframe: RrdTimeframe,
        cf: RrdCf,
    ) -> Result<Vec<NodeRrdPoint>>;

    /// `GET /nodes/{node}/tasks`: the node's task list, filtered.
    async fn node_tasks(
        &self,
        node: &NodeName,
        filter: &TaskListFilter,
    ) -> Result<Vec<TaskListEntry>>;

    /// `GET /nodes/{node}/network[?type=]`: the node's network interfaces.
    async fn node_network(
        &self,
        node: &NodeName,
        filter: Option<InterfaceFilter>,
    ) -> Result<Vec<NetworkInterface>>;

    /// `GET /nodes/{node}/storage`: the storages the node sees, with usage.
    async fn node_storage(
        &self,
        node: &NodeName,
        filter: &StorageListFilter,
    ) -> Result<Vec<NodeStorage>>;

    /// `GET /nodes/{node}/storage/{storage}/content`: volumes, e.g. backups of one guest.
    async fn storage_content(
        &self,
        node: &NodeName,
        storage: &StorageId,
        filter: &StorageContentFilter,
    ) -> Result<Vec<StorageContentEntry>>;

    /// `POST /nodes/{node}/vzdump`: starts a backup task. Never repeated.
    async fn node_vzdump(&self, node: &NodeName, options: &VzdumpOptions) -> Result<Upid>;

    // ---- QEMU --------------------------------------------------------------------------

    /// `GET /nodes/{node}/qemu/{vmid}/rrddata?timeframe=&cf=`: the VM's metric history.
    /// `Decade` is refused before sending (PVE offers it for nodes only).
    async fn qemu_rrddata(
        &self,
        node: &NodeName,
        vmid: VmId,
        timeframe: RrdTimeframe,
        cf: RrdCf,
    ) -> Result<Vec<QemuRrdPoint>>;

    /// `POST /nodes/{node}/qemu` with `archive`: restores a backup as a task. Never repeated.
    async fn qemu_restore(&self, node: &NodeName, restore: &QemuRestore) -> Result<Upid>;

    /// `GET /nodes/{node}/qemu/{vmid}/config`: the VM's configuration with its digest.
    async fn qemu_config(&self, node: &NodeName, vmid: VmId) -> Result<QemuConfig>;

    /// `GET /nodes/{node}/qemu/{vmid}/config?current=1`: the configuration as the VM runs
    /// it now, without pending changes (`qemu_config` shows them applied).
    async fn qemu_config_current(&self, node: &NodeName, vmid: VmId) -> Result<QemuConfig>;

    /// `GET /nodes/{node}/qemu/{vmid}/pending`: every option with its current value and the
    /// change waiting for the next start (a running VM cannot take every change at once).
    async fn qemu_pending(&self, node: &NodeName, vmid: VmId) -> Result<Vec<QemuPendingEntry>>;

    /// `GET /nodes/{node}/qemu/{vmid}/snapshot`: the snapshots, then the `current` entry (the
    /// present state; whether the VM runs, which snapshot it is based on).
    async fn qemu_snapshots(&self, node: &NodeName, vmid: VmId) -> Result<Vec<QemuSnapshot>>;

    /// `POST /nodes/{node}/qemu/{vmid}/snapshot`: takes a snapshot as a `qmsnapshot` task
    /// (a used name or a locked VM fail the task). `current` and `pending` are refused before
    /// sending. Never repeated.
    async fn qemu_snapshot_create(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapshot: &QemuSnapshotCreate,
    ) -> Result<Upid>;

    /// `GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config`: what the snapshot saved.
    async fn qemu_snapshot_config(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
    ) -> Result<QemuSnapshotConfig>;

    /// `PUT /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config`: sets the snapshot's
    /// description.
    async fn qemu_snapshot_set_description(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
        description: &str,
    ) -> Result<()>;

    /// `DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}[?force=1]`: deletes the snapshot
    /// as a `qmdelsnapshot` task; `force` removes it from the config even if its disk
    /// snapshots cannot be removed. Never repeated.
    async fn qemu_snapshot_delete(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
        force: bool,
    ) -> Result<Upid>;

    /// `POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback`: rolls the VM back as a
    /// `qmrollback` task. The VM is stopped first; a snapshot with RAM resumes it, otherwise
    /// `start` starts it afterwards (needs VM.PowerMgmt too). Never repeated.
    async fn qemu_snapshot_rollback(
        &self,
        node: &NodeName,
        vmid: VmId,
        snapname: &SnapshotName,
        start: bool,
    ) -> Result<Upid>;

    /// `PUT /nodes/{node}/qemu/{vmid}/config`: changes the configuration and waits for it.
    async fn qemu_config_update(
        &self,
        node: &NodeName,
        vmid: VmId,
        update: &QemuConfigUpdate,
    ) -> Result<()>;

    /// `POST /nodes/{node}/qemu/{vmid}/config`: changes the configuration as a task. `None`
    /// when PVE finished within its background delay (it then answers `null`).
    async fn qemu_config_update_async(
        &self,
        node: &NodeName,
        vmid: VmId,
        update: &QemuConfigUpdate,
    ) -> Result<Option<Upid>>;

    /// `PUT /nodes/{node}/qemu/{vmid}/resize`: grows a disk. PVE 8+ answers with a task;
    /// older versions with `null` (`None`) after finishing.
    async fn qemu_resize(
        &self,
        node: &NodeName,
        vmid: VmId,
        disk: &DiskName,
        size: DiskSize,
    ) -> Result<Option<Upid>>;

    /// `POST /nodes/{node}/qemu/{vmid}/clone`: clones the VM as a task. Never repeated.
    async fn qemu_clone(&self, node: &NodeName, vmid: VmId, clone: &QemuClone) -> Result<Upid>;

    /// `GET /nodes/{node}/qemu/{vmid}/migrate[?target=]`: whether and where the VM can move.
    async fn qemu_migrate_precondition(
        &self,
        node: &NodeName,
        vmid: VmId,
        target: Option<&NodeName>,
    ) -> Result<MigratePrecondition>;

    /// `POST /nodes/{node}/qemu/{vmid}/migrate`: migrates the VM as a task. Never repeated.
    async fn qemu_migrate(
        &self,
        node: &NodeName,
        vmid: VmId,
        migrate: &QemuMigrate,
    ) -> Result<Upid>;

    /// `POST /nodes/{node}/qemu/{vmid}/vncproxy` with `websocket=1`: starts a VNC proxy for
    /// [`PveApi::vnc_websocket_request`]. `generate_password` asks older PVE versions for a
    /// separate VNC password too (PVE 9.1.7+ / 8.4.7+ always send one). Never repeated.
    async fn qemu_vncproxy(
        &self,
        node: &NodeName,
        vmid: VmId,
        generate_password: bool,
    ) -> Result<VncProxy>;

    /// The WebSocket upgrade request for `GET /nodes/{node}/qemu/{vmid}/vncwebsocket` with the
    /// `port` and `ticket` of [`PveApi::qemu_vncproxy`], for the console relay to open. Call it
    /// right after `qemu_vncproxy`: both must reach the same PVE host.
    async fn vnc_websocket_request(
        &self,
        node: &NodeName,
        vmid: VmId,
        port: u16,
        ticket: &str,
    ) -> Result<WebSocketRequest>;

    // ---- cluster -----------------------------------------------------------------------

    /// `GET /cluster/status`: quorum and the nodes' membership.
    async fn cluster_status(&self) -> Result<Vec<ClusterStatusEntry>>;

    /// `GET /cluster/nextid[?vmid=]`: the lowest free VM ID, or `vmid` if it is free (PVE
    /// answers 400 "VM … already exists" otherwise). Only a hint: another request may take
    /// the ID before it is used.
    async fn cluster_nextid(&self, vmid: Option<VmId>) -> Result<VmId>;

    /// `GET /pools`: the resource pools the caller has `Pool.Audit` on.
    async fn pools(&self) -> Result<Vec<PoolSummary>>;

    /// `GET /cluster/log[?max=]`: the newest cluster log entries.
    async fn cluster_log(&self, max: Option<u32>) -> Result<Vec<ClusterLogEntry>>;

    /// `GET /cluster/tasks`: running and recent tasks of all nodes.
    async fn cluster_tasks(&self) -> Result<Vec<TaskListEntry>>;

    /// `GET /cluster/backup`: the scheduled backup jobs.
    async fn cluster_backup_list(&self) -> Result<Vec<BackupJob>>;

    /// `GET /cluster/backup/{id}`: one backup job.
    async fn cluster_backup_get(&self, id: &BackupJobId) -> Result<BackupJob>;

    /// `POST /cluster/backup`: creates a backup job; `id` must be a `pve-configid` (PVE
    /// generates one when `None`).
    async fn cluster_backup_create(
        &self,
        id: Option<&BackupJobId>,
        spec: &BackupJobSpec,
    ) -> Result<()>;

    /// `PUT /cluster/backup/{id}`: changes a backup job; `delete` lists options to reset
    /// (each must be an option the job takes).
    async fn cluster_backup_update(
        &self,
        id: &BackupJobId,
        spec: &BackupJobSpec,
        delete: &[&str],
    ) -> Result<()>;

    /// `DELETE /cluster/backup/{id}`: deletes a backup job.
    async fn cluster_backup_delete(&self, id: &BackupJobId) -> Result<()>;

    /// `GET /cluster/metrics/export`: raw metric samples. `None` when this PVE does not have
    /// the endpoint (before 8.2: HTTP 501).
    async fn cluster_metrics_export(
        &self,
        options: &MetricsExportOptions,
    ) -> Result<Option<MetricsExport>>;

    // ---- access ------------------------------------------------------------------------

    /// `GET /access/users[?full=1]`: the users (with their API tokens when `full`).
    async fn access_users(&self, full: bool) -> Result<Vec<User>>;

    /// `GET /access/roles`: roles and their privileges.
    async fn access_roles(&self) -> Result<Vec<Role>>;

    /// `GET /access/acl`: all ACL entries.
    async fn access_acl(&self) -> Result<Vec<AclEntry>>;

    /// `GET /access/permissions[?path=&userid=]`: effective privileges of the caller, or of
    /// `userid` (needs `Sys.Audit`).
    async fn access_permissions(
        &self,
        path: Option<&str>,
        userid: Option<&UserId>,
    ) -> Result<Permissions>;
}

/// How many log lines [`wait_task`] asks for at once.
const LOG_PAGE: u64 = 500;

/// Polls a task every `poll` until it ends, calling `on_progress` with each status and the log
/// lines that are new since the previous call.
///
/// Ends in `Ok` with the final status when the task succeeded (`OK` or `WARNINGS: n`), in
/// [`Error::TaskFailed`] with PVE's exit status otherwise. Errors reading the status end the
/// wait; errors reading the log only skip lines for that round.
pub async fn wait_task(
    api: &dyn PveApi,
    upid: &Upid,
    poll: Duration,
    mut on_progress: impl FnMut(&TaskStatus, &[TaskLogLine]),
) -> Result<TaskStatus> {
    let mut next_line = 0u64;
    loop {
        let status = api.task_status(upid).await?;
        let finished = !status.is_running();
        // After the end, read the log to its end so the caller sees the final lines.
        let mut lines = Vec::new();
        loop {
            let page = match api.task_log(upid, next_line, LOG_PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::debug!(upid = %upid, error = %e, "reading the task log failed");
                    break;
                }
            };
            let page = real_lines(page);
            let got = page.len() as u64;
            if let Some(last) = page.last() {
                next_line = next_line.max(last.n);
            }
            lines.extend(page);
            if !finished || got < LOG_PAGE {
                break;
            }
        }
        on_progress(&status, &lines);
        if finished {
            return match status.failure() {
                None => Ok(status),
                Some(exit) => Err(Error::TaskFailed {
                    upid: upid.to_string(),
                    exitstatus: exit.to_owned(),
                }),
            };
        }
        tokio::time::sleep(poll).await;
    }
}

/// PVE answers a read past the end of the log with the single line `no content`, and a read
/// of a log file that does not exist yet with `unable to open file - …`; neither is real.
fn real_lines(page: Vec<TaskLogLine>) -> Vec<TaskLogLine> {
    let placeholder = |t: &str| t == "no content" || t.starts_with("unable to open file - ");
    if page.len() == 1 && placeholder(&page[0].t) {
        Vec::new()
    } else {
        page
    }
}
