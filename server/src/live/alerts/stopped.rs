//! The `vm_stopped` rule's detector: a VM that ran at the previous poll and is `stopped` now,
//! with no PVE task that explains it, counts as stopped unexpectedly until it runs again.
//!
//! A task explains a stop when it is of a type that stops or may stop the VM (stop, shutdown,
//! reboot, hibernate, pause, destroy, migrate, rollback, backup, the HA requests; for tasks
//! without a VM ID: the node's bulk stop/suspend/migrate and multi-VM backups), whatever its
//! outcome and whoever started it, and it ran at some point between the previous poll and this
//! one, with [`MARGIN_SECS`] of slack. The locks that silence the other VM rules (backup,
//! migrate, …; at either poll) and hibernation's (`suspending`, `suspended`) explain it too.
//!
//! Reported as unexpected: a crash, an OOM kill, QEMU killed on the node — and a shutdown from
//! inside the guest. PVE makes no task for any of these (qmeventd cleans up after QEMU exits
//! without one), so they cannot be told apart; and a VM that went away without anyone stopping
//! it from the panel or from PVE is what an operator wants to hear about. The message says "no
//! PVE task stopped it" rather than guessing "crashed".
//!
//! Cost: PVE's task list is read only when a transition is seen, with one `GET /cluster/tasks`
//! per such poll however many VMs stopped; never on a quiet poll. When the list cannot be read
//! (or takes over [`TASK_LIST_TIMEOUT`]), the decision waits for the next poll: the VM stays
//! owed a check while it stays stopped. After [`TASK_LIST_ATTEMPTS`] failed polls it fires
//! anyway, saying why the tasks were not checked. VMs that stopped while Cecyber was not
//! polling (down, or the rule off) are not reported: there is no previous poll to compare with.

use std::{collections::HashMap, sync::Arc, time::Duration};

use app::state::clusters::Clusters;
use pve::types::{ClusterResource, TaskListEntry};
use tokio::sync::Mutex;

/// Where the detector reads a cluster's recent tasks (the clusters' clients, or a test double).
#[async_trait::async_trait]
pub trait TaskSource: Send + Sync + 'static {
    /// `GET /cluster/tasks` of `cluster`: every node's running and recent tasks.
    async fn cluster_tasks(&self, cluster: &str) -> pve::Result<Vec<TaskListEntry>>;
}

#[async_trait::async_trait]
impl TaskSource for Clusters {
    async fn cluster_tasks(&self, cluster: &str) -> pve::Result<Vec<TaskListEntry>> {
        let cluster = self.get(cluster).map_err(|e| pve::Error::Config {
            message: e.to_string(),
        })?;
        cluster.api.cluster_tasks().await
    }
}

/// Task types that stop, or may stop, the VM named by the task's ID (pve-manager's task
/// descriptions: stop, shutdown, reboot, hibernate, pause, destroy, migrate, rollback, backup —
/// in stop or suspend mode it stops the VM —, and the HA manager's requests).
const VM_TASKS: &[&str] = &[
    "qmstop",
    "qmshutdown",
    "qmreboot",
    "qmsuspend",
    "qmpause",
    "qmdestroy",
    "qmigrate",
    "qmrollback",
    "vzdump",
    "hastop",
    "hashutdown",
    "hamigrate",
    "harelocate",
];

/// Task types without a VM ID that stop VMs of the node they run on: bulk actions, and backups
/// of several VMs (PVE gives those an empty ID).
const NODE_TASKS: &[&str] = &["stopall", "suspendall", "migrateall", "vzdump"];

/// Locks that explain a stop besides `suppressing` ones: hibernation in progress or done.
const HIBERNATION_LOCKS: &[&str] = &["suspending", "suspended"];

/// Slack around the time between two polls. pvestatd refreshes `/cluster/resources` every
/// 10 s, so a VM can still show as running a while after the task that stopped it ended; and
/// PVE's clock and ours may differ a little.
pub const MARGIN_SECS: i64 = 30;

/// Polls in a row whose task list could not be read before the alert fires anyway.
pub const TASK_LIST_ATTEMPTS: u32 = 3;

/// Longest wait for the task list: the collector waits for the evaluation before its next poll,
/// so a slow answer counts as a failed attempt rather than holding up the live stream.
const TASK_LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// What the alert says when no task explains the stop.
pub const NO_TASK: &str = "no PVE task stopped it";

/// A VM that ran at the previous poll.
struct WasRunning {
    node: Option<String>,
    /// It held a lock that explains a stop.
    locked: bool,
}

/// A VM seen stopping whose task check has not been made yet (the task list was unavailable).
struct Owed {
    /// The poll before the transition: tasks from then on may explain it.
    since: i64,
    /// Its node at that poll.
    node: Option<String>,
    /// Polls whose task list could not be read.
    attempts: u32,
}

/// One cluster's state between polls.
#[derive(Default)]
struct ClusterState {
    /// The previous poll's time, and the VMs that ran then by resource ID.
    previous: Option<(i64, HashMap<String, WasRunning>)>,
    /// Transitions still owed a task check, by resource ID.
    owed: HashMap<String, Owed>,
    /// VMs stopped unexpectedly that have not run since: resource ID → why.
    unexpected: HashMap<String, String>,
}

/// The detector: remembers the previous poll of each cluster and asks PVE's task list about
/// the VMs that stopped since.
pub struct StopDetector {
    tasks: Arc<dyn TaskSource>,
    /// Locks that silence VM rules (backup, migration, …); they explain a stop too.
    suppressing: &'static [&'static str],
    clusters: Mutex<HashMap<String, Arc<Mutex<ClusterState>>>>,
}

impl StopDetector {
    /// A detector reading tasks from `tasks`; VMs under one of the `suppressing` locks are
    /// never reported.
    pub fn new(tasks: Arc<dyn TaskSource>, suppressing: &'static [&'static str]) -> Self {
        Self {
            tasks,
            suppressing,
            clusters: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one poll of `cluster` at `t`. Returns, by resource ID, the VMs stopped unexpectedly
    /// (`Some(why)`) and those that were and run again now (`None`, so their alert clears).
    pub async fn observe(
        &self,
        cluster: &str,
        t: i64,
        resources: &[ClusterResource],
    ) -> HashMap<String, Option<String>> {
        let state = Arc::clone(
            self.clusters
                .lock()
                .await
                .entry(cluster.to_owned())
                .or_default(),
        );
        // Held across the task call: only this cluster's collector gets here, one poll at a time.
        let mut st = state.lock().await;
        let vms: HashMap<&str, &ClusterResource> = resources
            .iter()
            .filter(|r| r.is_vm())
            .map(|r| (r.id.as_str(), r))
            .collect();
        let is_stopped = |id: &str| {
            vms.get(id)
                .is_some_and(|r| r.status.as_deref() == Some("stopped"))
        };

        // Owed checks lapse once the VM is no longer stopped; new transitions join them.
        st.owed.retain(|id, _| is_stopped(id));
        if let Some((since, running)) = st.previous.take() {
            for (id, was) in running {
                let Some(vm) = vms.get(id.as_str()) else {
                    continue;
                };
                if is_stopped(&id)
                    && !was.locked
                    && !self.locked(vm)
                    && !st.unexpected.contains_key(&id)
                {
                    st.owed.entry(id).or_insert(Owed {
                        since,
                        node: was.node,
                        attempts: 0,
                    });
                }
            }
        }
        if !st.owed.is_empty() {
            self.check(cluster, t, &vms, &mut st).await;
        }

        let mut verdicts = HashMap::new();
        st.unexpected.retain(|id, why| match vms.get(id.as_str()) {
            // Deleted: the engine ends its alert as the target vanished.
            None => false,
            Some(vm) if vm.is_running() => {
                verdicts.insert(id.clone(), None);
                false
            }
            Some(_) => {
                verdicts.insert(id.clone(), Some(why.clone()));
                true
            }
        });
        st.previous = Some((
            t,
            vms.values()
                .filter(|r| r.is_running())
                .map(|r| {
                    (
                        r.id.clone(),
                        WasRunning {
                            node: r.node.clone(),
                            locked: self.locked(r),
                        },
                    )
                })
                .collect(),
        ));
        verdicts
    }

    /// Forgets `cluster` (the rule is off): no transitions are looked for until it is back on.
    pub async fn forget(&self, cluster: &str) {
        self.clusters.lock().await.remove(cluster);
    }

    fn locked(&self, vm: &ClusterResource) -> bool {
        vm.lock
            .as_deref()
            .is_some_and(|l| self.suppressing.contains(&l) || HIBERNATION_LOCKS.contains(&l))
    }

    /// One task-list call settles every owed transition, or counts a failed attempt.
    async fn check(
        &self,
        cluster: &str,
        t: i64,
        vms: &HashMap<&str, &ClusterResource>,
        st: &mut ClusterState,
    ) {
        let answer = tokio::time::timeout(TASK_LIST_TIMEOUT, self.tasks.cluster_tasks(cluster))
            .await
            .unwrap_or(Err(pve::Error::Timeout));
        match answer {
            Ok(tasks) => {
                for (id, owed) in st.owed.drain() {
                    let Some(vm) = vms.get(id.as_str()) else {
                        continue;
                    };
                    let nodes = [owed.node.as_deref(), vm.node.as_deref()];
                    match tasks
                        .iter()
                        .find(|task| explains(task, vm, &nodes, owed.since, t))
                    {
                        Some(task) => tracing::debug!(
                            %cluster, vm = %id, task = %task.upid.as_str(),
                            "VM stopped by a task"
                        ),
                        None => {
                            tracing::info!(%cluster, vm = %id, "VM stopped without a PVE task");
                            st.unexpected.insert(id, NO_TASK.to_owned());
                        }
                    }
                }
            }
            Err(err) => {
                let owed: Vec<String> = st.owed.keys().cloned().collect();
                for id in owed {
                    let Some(o) = st.owed.get_mut(&id) else {
                        continue;
                    };
                    o.attempts += 1;
                    if o.attempts >= TASK_LIST_ATTEMPTS {
                        tracing::warn!(
                            %cluster, vm = %id, error = %err,
                            "VM stopped; PVE's task list stayed unreadable, reporting it unchecked"
                        );
                        st.owed.remove(&id);
                        st.unexpected.insert(
                            id,
                            format!(
                                "PVE's task list could not be read to see who stopped it: {err}"
                            ),
                        );
                    } else {
                        tracing::warn!(
                            %cluster, vm = %id, error = %err,
                            "VM stopped; PVE's task list unreadable, checking again at the next poll"
                        );
                    }
                }
            }
        }
    }
}

/// Whether `task` explains `vm` stopping between the polls at `since` and `until`; `nodes`
/// are the VM's node at both polls.
fn explains(
    task: &TaskListEntry,
    vm: &ClusterResource,
    nodes: &[Option<&str>],
    since: i64,
    until: i64,
) -> bool {
    let kind = task
        .kind
        .as_deref()
        .unwrap_or_else(|| task.upid.task_type());
    let id = task.id.as_deref().unwrap_or_else(|| task.upid.id());
    let node = task
        .node
        .as_deref()
        .unwrap_or_else(|| task.upid.node().as_str());
    let vmid = vm.vmid.map(|v| v.to_string()).unwrap_or_default();
    let concerns = if id.is_empty() {
        NODE_TASKS.contains(&kind) && nodes.contains(&Some(node))
    } else {
        VM_TASKS.contains(&kind) && id == vmid
    };
    let started = task.starttime.unwrap_or_else(|| task.upid.starttime());
    let ran_in_window = started <= until + MARGIN_SECS
        && (task.is_running() || task.endtime.is_none_or(|end| end >= since - MARGIN_SECS));
    concerns && ran_in_window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(status: &str) -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve1", "status": status
        }))
        .unwrap()
    }

    fn task(kind: &str, id: &str, start: i64, end: Option<i64>) -> TaskListEntry {
        let mut v = serde_json::json!({
            "upid": format!("UPID:pve1:00001234:00005678:{start:08X}:{kind}:{id}:alice@pve:"),
            "node": "pve1", "type": kind, "id": id, "user": "alice@pve", "starttime": start,
        });
        if let Some(end) = end {
            v["endtime"] = end.into();
            v["status"] = "OK".into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn which_tasks_explain_a_stop() {
        let vm = vm("stopped");
        let nodes = [Some("pve1"), Some("pve1")];
        let ok = |t: &TaskListEntry| explains(t, &vm, &nodes, 1000, 1010);
        assert!(ok(&task("qmstop", "100", 1005, Some(1006))));
        assert!(
            ok(&task("qmshutdown", "100", 800, None)),
            "a long shutdown still running"
        );
        assert!(
            ok(&task("qmshutdown", "100", 800, Some(975))),
            "within the margin"
        );
        assert!(
            ok(&task("vzdump", "", 990, None)),
            "a backup job of the node"
        );
        assert!(!ok(&task("qmstop", "101", 1005, Some(1006))), "another VM");
        assert!(!ok(&task("qmstart", "100", 1005, Some(1006))), "not a stop");
        assert!(!ok(&task("qmstop", "100", 500, Some(510))), "long before");
        assert!(!ok(&task("qmstop", "100", 1100, None)), "after this poll");
        let elsewhere = [Some("pve2"), Some("pve2")];
        assert!(!explains(
            &task("stopall", "", 1005, None),
            &vm,
            &elsewhere,
            1000,
            1010
        ));
    }
}
