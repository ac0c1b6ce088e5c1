//! The `PveApi` trait: the PVE operations Cecyber uses, implemented by the HTTP client (and by
//! anything that plays PVE, e.g. the simulator), plus [`wait_task`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::{NodeName, Upid, VmId};
use crate::types::{
    ClusterResource, NodeSummary, PowerAction, QemuListEntry, QemuStatus, ResourceType,
    TaskLogLine, TaskStatus, Version,
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

    /// `GET /nodes/{upid node}/tasks/{upid}/status`.
    async fn task_status(&self, upid: &Upid) -> Result<TaskStatus>;

    /// `GET /nodes/{upid node}/tasks/{upid}/log?start=&limit=`: up to `limit` log lines (0 =
    /// all) from line `start` (0-based; the returned `n` counts from 1). Past the end PVE
    /// answers with one line `no content`.
    async fn task_log(&self, upid: &Upid, start: u64, limit: u64) -> Result<Vec<TaskLogLine>>;
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
