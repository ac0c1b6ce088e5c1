//! The task center: every task of every cluster the user may see (PVE's `/cluster/tasks`:
//! running and recent, of every node and user, scheduled ones too), and stopping one. A task's
//! log is read with [`crate::vms::follow_task`], page by page.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};
use crate::{error::AppError, vms::ClusterProblem};

/// One task, as the task center lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Name of the configured cluster.
    pub cluster: String,
    /// PVE's task id.
    pub upid: String,
    /// Node that runs (or ran) it.
    pub node: String,
    /// Task type (`qmstart`, `vzdump`, `qmigrate`, …).
    pub kind: String,
    /// What it works on, usually the VM id; may be empty.
    pub id: String,
    /// Who started it: `user@realm`, or `user@realm!token`.
    pub user: String,
    /// Start, Unix seconds.
    pub starttime: i64,
    /// End, Unix seconds, once it has ended.
    pub endtime: Option<i64>,
    /// PVE's exit status once ended (`OK`, `WARNINGS: n`, or the error).
    pub status: Option<String>,
    /// True while it runs.
    pub running: bool,
}

impl TaskSummary {
    /// `running`, `ok` (also with warnings) or `failed`: what the status filter and the row
    /// colour use.
    pub fn outcome(&self) -> &'static str {
        match self.status.as_deref() {
            _ if self.running => "running",
            Some(s) if s == "OK" || s.starts_with("WARNINGS") => "ok",
            _ => "failed",
        }
    }
}

/// Every visible task, newest first, and the clusters that could not be asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    /// Tasks of every reachable cluster.
    pub tasks: Vec<TaskSummary>,
    /// Clusters whose task list failed.
    pub problems: Vec<ClusterProblem>,
}

/// The tasks of every configured cluster; a user with a tag scope sees only the tasks of VMs
/// in scope.
#[server(prefix = "/api", endpoint = "tasks_list")]
pub async fn list_tasks() -> Result<TaskList, AppError> {
    let user = access::require(Role::Viewer).await?;
    let state = app_state()?;
    let scope = &user.scope;
    let calls = state.clusters.all().iter().map(|c| async move {
        let tasks = c.api.cluster_tasks().await?;
        // Scoped users: the VM ids their tags allow, from one resource listing.
        let allowed: Option<std::collections::HashSet<u32>> = if scope.is_everything() {
            None
        } else {
            let resources = c.api.cluster_resources(None).await?;
            Some(
                resources
                    .iter()
                    .filter(|r| r.guest_kind().is_some() && scope.allows_vm(&r.tag_list()))
                    .filter_map(|r| r.vmid)
                    .collect(),
            )
        };
        Ok::<_, pve::Error>((tasks, allowed))
    });
    let names = state.clusters.all().iter().map(|c| c.name.clone());
    let mut list = TaskList {
        tasks: Vec::new(),
        problems: Vec::new(),
    };
    for (cluster, result) in names.zip(futures::future::join_all(calls).await) {
        match result {
            Ok((tasks, allowed)) => list.tasks.extend(
                tasks
                    .into_iter()
                    .filter(|t| match &allowed {
                        None => true,
                        Some(vmids) => {
                            t.id.as_deref()
                                .and_then(|id| id.parse::<u32>().ok())
                                .is_some_and(|vmid| vmids.contains(&vmid))
                        }
                    })
                    .map(|t| summary(&cluster, t)),
            ),
            Err(err) => list.problems.push(ClusterProblem {
                cluster,
                message: AppError::from(err).to_string(),
            }),
        }
    }
    list.tasks
        .sort_by(|a, b| b.starttime.cmp(&a.starttime).then(a.upid.cmp(&b.upid)));
    Ok(list)
}

/// Stops a running task (operators; for scoped users, only a task of a VM in scope). PVE ends
/// it with "received interrupt"; the task's log says so.
#[server(prefix = "/api", endpoint = "task_stop")]
pub async fn stop_task(cluster: String, upid: String) -> Result<(), AppError> {
    use pve::ids::Upid;

    let user = access::require(Role::Operator).await?;
    let state = app_state()?;
    let cluster = state.clusters.get(&cluster)?;
    let upid: Upid = upid
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    access::task_in_scope(&user, cluster, &upid).await?;
    let status = cluster.api.task_status(&upid).await?;
    if !status.is_running() {
        return Err(AppError::Conflict("The task has already ended.".into()));
    }
    cluster.api.task_stop(&upid).await?;
    tracing::info!(user = %user.username, cluster = %cluster.name, %upid, "task stopped");
    Ok(())
}

#[cfg(feature = "ssr")]
fn summary(cluster: &str, t: pve::types::TaskListEntry) -> TaskSummary {
    let running = t.is_running();
    let user = match (&t.user, &t.tokenid) {
        (Some(user), Some(token)) => format!("{user}!{token}"),
        (Some(user), None) => user.clone(),
        _ => t.upid.user().to_owned(),
    };
    TaskSummary {
        cluster: cluster.to_owned(),
        node: t.node.clone().unwrap_or_else(|| t.upid.node().to_string()),
        kind: t.kind.clone().unwrap_or_default(),
        id: t.id.clone().unwrap_or_default(),
        user,
        starttime: t.starttime.unwrap_or(0),
        endtime: t.endtime,
        status: t.status.filter(|_| !running),
        running,
        upid: t.upid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_pve_exit_status() {
        let task = |running: bool, status: Option<&str>| TaskSummary {
            cluster: "c".into(),
            upid: "UPID:pve1:1:1:1:qmstart:100:root@pam:".into(),
            node: "pve1".into(),
            kind: "qmstart".into(),
            id: "100".into(),
            user: "root@pam".into(),
            starttime: 1,
            endtime: None,
            status: status.map(Into::into),
            running,
        };
        assert_eq!(task(true, None).outcome(), "running");
        assert_eq!(task(false, Some("OK")).outcome(), "ok");
        assert_eq!(task(false, Some("WARNINGS: 2")).outcome(), "ok");
        assert_eq!(task(false, Some("received interrupt")).outcome(), "failed");
        assert_eq!(task(false, None).outcome(), "failed");
    }
}
