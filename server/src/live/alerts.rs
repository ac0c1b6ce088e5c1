//! Alert evaluation, once per poll of a cluster: a rule fires when its condition has held for
//! the rule's duration, and clears only below its (lower) clear level, so it does not flap.
//! VM rules are suppressed while a backup or migration holds the VM's lock. "VM stopped
//! unexpectedly" compares each poll with the previous one and asks PVE's task list (see
//! [`stopped`]).

mod stopped;

use std::{collections::HashMap, sync::Arc};

use app::{alerts::AlertRule, alerts::ssr as alerts};
use pve::types::ClusterResource;
use sqlx::SqlitePool;
use tokio::sync::Mutex;

use stopped::StopDetector;
pub use stopped::TaskSource;

/// What one rule measures on one target at one poll.
struct Reading {
    target: String,
    label: String,
    percent: f64,
    suppressed: bool,
    /// What the alert says, for rules that are not about a percentage.
    text: Option<String>,
}

/// Locks under which a VM's usage is expected to look odd.
const SUPPRESSING_LOCKS: &[&str] = &[
    "backup", "migrate", "clone", "create", "rollback", "snapshot",
];

/// What `rule` reads in one poll; `stops` is the stop detector's verdict on this poll.
fn readings(
    rule: &AlertRule,
    resources: &[ClusterResource],
    stops: &HashMap<String, Option<String>>,
) -> Vec<Reading> {
    let pct = |used: Option<u64>, total: Option<u64>| match (used, total) {
        (Some(u), Some(t)) if t > 0 => u as f64 * 100.0 / t as f64,
        _ => 0.0,
    };
    let vm_label = |r: &ClusterResource| {
        format!(
            "VM {} ({})",
            r.vmid.unwrap_or(0),
            r.name.as_deref().unwrap_or("")
        )
    };
    let suppressed = |r: &ClusterResource| {
        r.lock
            .as_deref()
            .is_some_and(|l| SUPPRESSING_LOCKS.contains(&l))
    };
    let running_vms = resources.iter().filter(|r| r.is_vm() && r.is_running());
    match rule.kind.as_str() {
        "vm_cpu" => running_vms
            .map(|r| Reading {
                target: r.id.clone(),
                label: format!("{} CPU", vm_label(r)),
                percent: r.cpu.unwrap_or(0.0) * 100.0,
                suppressed: suppressed(r),
                text: None,
            })
            .collect(),
        "vm_memory" => running_vms
            .map(|r| Reading {
                target: r.id.clone(),
                label: format!("{} memory", vm_label(r)),
                percent: pct(r.mem, r.maxmem),
                suppressed: suppressed(r),
                text: None,
            })
            .collect(),
        "storage_usage" => resources
            .iter()
            .filter(|r| r.kind == "storage" && r.status.as_deref() == Some("available"))
            .map(|r| Reading {
                target: r.id.clone(),
                label: format!("Storage {}", r.id.trim_start_matches("storage/")),
                percent: pct(r.disk, r.maxdisk),
                suppressed: false,
                text: None,
            })
            .collect(),
        "node_offline" => resources
            .iter()
            .filter(|r| r.kind == "node")
            .map(|r| {
                let node = r.node.as_deref().unwrap_or("");
                let online = r.status.as_deref() == Some("online");
                Reading {
                    target: r.id.clone(),
                    label: format!("Node {node}"),
                    percent: if online { 0.0 } else { 100.0 },
                    suppressed: false,
                    // Not "at 100 % (above 50 %)": the rule's level is a yes/no.
                    text: (!online).then(|| {
                        let status = r.status.as_deref().unwrap_or("unknown");
                        format!("Node {node} is offline (Proxmox VE reports it {status})")
                    }),
                }
            })
            .collect(),
        // 100 while stopped unexpectedly, 0 once it runs again (so the alert clears).
        "vm_stopped" => resources
            .iter()
            .filter(|r| r.is_vm())
            .filter_map(|r| {
                let why = stops.get(&r.id)?;
                Some(Reading {
                    target: r.id.clone(),
                    label: vm_label(r),
                    percent: if why.is_some() { 100.0 } else { 0.0 },
                    suppressed: false,
                    text: why
                        .as_ref()
                        .map(|why| format!("{} stopped unexpectedly: {why}", vm_label(r))),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where one rule stands for one target.
#[derive(Debug, Clone, Copy)]
struct Pending {
    since: i64,
    firing: Option<i64>,
}

/// The evaluator; its pending state lives in memory (open alerts are ended at start-up).
pub struct AlertEngine {
    db: SqlitePool,
    pending: Mutex<HashMap<(i64, String, String), Pending>>,
    stops: StopDetector,
}

impl AlertEngine {
    /// An engine writing alerts into `db` and reading the clusters' task lists from `tasks`
    /// (only when a VM stopped since the previous poll); ends alerts a previous run left open.
    pub async fn new(db: SqlitePool, tasks: Arc<dyn TaskSource>) -> Self {
        if let Err(e) = alerts::end_dangling(&db).await {
            tracing::warn!(error = %e, "could not end alerts of the previous run");
        }
        Self {
            db,
            pending: Mutex::new(HashMap::new()),
            stops: StopDetector::new(tasks, SUPPRESSING_LOCKS),
        }
    }

    /// Evaluates every enabled rule against one poll of `cluster` taken at `t`.
    pub async fn evaluate(&self, cluster: &str, t: i64, resources: &[ClusterResource]) {
        let rules = match alerts::rules(&self.db, true).await {
            Ok(rules) => rules,
            Err(e) => return tracing::warn!(error = %e, "alert rules unavailable"),
        };
        let stops = if rules.iter().any(|r| r.kind == "vm_stopped") {
            self.stops.observe(cluster, t, resources).await
        } else {
            self.stops.forget(cluster).await;
            HashMap::new()
        };
        let mut pending = self.pending.lock().await;
        let mut seen = Vec::new();
        for rule in &rules {
            for reading in readings(rule, resources, &stops) {
                let key = (rule.id, cluster.to_owned(), reading.target.clone());
                seen.push(key.clone());
                self.step(&mut pending, key, rule, &reading, cluster, t)
                    .await;
            }
        }
        // Targets that vanished (VM deleted, rule disabled): end what fired, forget the rest.
        let gone: Vec<_> = pending
            .keys()
            .filter(|k| k.1 == cluster && !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(Pending {
                firing: Some(id), ..
            }) = pending.remove(&key)
            {
                let _ = alerts::end(&self.db, id, t).await;
            }
        }
    }

    async fn step(
        &self,
        pending: &mut HashMap<(i64, String, String), Pending>,
        key: (i64, String, String),
        rule: &AlertRule,
        reading: &Reading,
        cluster: &str,
        t: i64,
    ) {
        let breaching = reading.percent > rule.threshold && !reading.suppressed;
        match pending.get(&key).copied() {
            None if breaching => {
                pending.insert(
                    key.clone(),
                    Pending {
                        since: t,
                        firing: None,
                    },
                );
            }
            Some(Pending { firing: None, .. }) if !breaching => {
                pending.remove(&key);
                return;
            }
            Some(Pending {
                firing: Some(id), ..
            }) if reading.percent < rule.clear => {
                if let Err(e) = alerts::end(&self.db, id, t).await {
                    tracing::warn!(error = %e, "could not end alert");
                }
                tracing::info!(%cluster, target = %reading.target, rule = %rule.name, "alert cleared");
                pending.remove(&key);
                return;
            }
            _ => {}
        }
        if let Some(p) = pending.get_mut(&key)
            && p.firing.is_none()
            && t - p.since >= rule.for_secs
        {
            let message = reading.text.clone().unwrap_or_else(|| {
                format!(
                    "{} at {:.0}% (above {:.0}%)",
                    reading.label, reading.percent, rule.threshold
                )
            });
            match alerts::fire(&self.db, rule, cluster, &reading.target, &message, t).await {
                Ok(id) => {
                    tracing::warn!(%cluster, %message, level = %rule.level, "alert");
                    p.firing = Some(id);
                }
                Err(e) => tracing::warn!(error = %e, "could not record alert"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pve::types::TaskListEntry;

    use super::*;

    fn vm(cpu: f64, lock: Option<&str>) -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": "qemu/100", "type": "qemu", "vmid": 100, "name": "dns1", "node": "pve1",
            "status": "running", "cpu": cpu, "mem": 10, "maxmem": 100, "lock": lock
        }))
        .unwrap()
    }

    /// A fresh database of its own for each test.
    async fn database() -> SqlitePool {
        app::state::db::temp().await
    }

    async fn rule(db: &SqlitePool, kind: &str) -> AlertRule {
        alerts::rules(db, false)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.kind == kind)
            .unwrap()
    }

    /// A task list that counts its calls and answers what the test set.
    struct FakeTasks {
        calls: AtomicUsize,
        answer: std::sync::Mutex<pve::Result<Vec<TaskListEntry>>>,
    }

    impl FakeTasks {
        fn new(answer: pve::Result<Vec<TaskListEntry>>) -> Arc<Self> {
            Arc::new(Self {
                calls: AtomicUsize::new(0),
                answer: std::sync::Mutex::new(answer),
            })
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        fn answer(&self, answer: pve::Result<Vec<TaskListEntry>>) {
            *self.answer.lock().unwrap() = answer;
        }
    }

    #[async_trait::async_trait]
    impl TaskSource for FakeTasks {
        async fn cluster_tasks(&self, cluster: &str) -> pve::Result<Vec<TaskListEntry>> {
            assert_eq!(cluster, "c");
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answer.lock().unwrap().clone()
        }
    }

    async fn engine_with_cpu_rule(for_secs: i64) -> (AlertEngine, SqlitePool) {
        let db = database().await;
        let mut rule = rule(&db, "vm_cpu").await;
        rule.for_secs = for_secs;
        alerts::update_rule(&db, &rule).await.unwrap();
        let tasks = FakeTasks::new(Ok(Vec::new()));
        (AlertEngine::new(db.clone(), tasks).await, db)
    }

    #[tokio::test]
    async fn fires_after_the_duration_and_clears_below_the_clear_level() {
        let (engine, db) = engine_with_cpu_rule(300).await;
        let active = || async { alerts::list(&db, true, 10).await.unwrap() };
        engine.evaluate("c", 0, &[vm(0.95, None)]).await;
        engine.evaluate("c", 200, &[vm(0.99, None)]).await;
        assert!(active().await.is_empty(), "not yet 5 minutes");
        engine.evaluate("c", 300, &[vm(0.97, None)]).await;
        let firing = active().await;
        assert_eq!(firing.len(), 1);
        assert!(
            firing[0].message.contains("VM 100 (dns1) CPU at 97%"),
            "{}",
            firing[0].message
        );
        engine.evaluate("c", 310, &[vm(0.85, None)]).await;
        assert_eq!(
            active().await.len(),
            1,
            "between clear (80) and trigger (90): still firing, no flapping"
        );
        engine.evaluate("c", 320, &[vm(0.5, None)]).await;
        assert!(active().await.is_empty());
        assert_eq!(
            alerts::list(&db, false, 10).await.unwrap()[0].ended_at,
            Some(320)
        );
    }

    #[tokio::test]
    async fn a_dip_restarts_the_clock_and_backups_suppress() {
        let (engine, db) = engine_with_cpu_rule(60).await;
        engine.evaluate("c", 0, &[vm(0.95, None)]).await;
        engine.evaluate("c", 30, &[vm(0.50, None)]).await;
        engine.evaluate("c", 70, &[vm(0.95, None)]).await;
        assert!(
            alerts::list(&db, true, 10).await.unwrap().is_empty(),
            "the dip reset the timer"
        );
        engine.evaluate("c", 200, &[vm(1.0, Some("backup"))]).await;
        engine.evaluate("c", 400, &[vm(1.0, Some("backup"))]).await;
        assert!(
            alerts::list(&db, true, 10).await.unwrap().is_empty(),
            "suppressed during a backup"
        );
    }

    fn guest(vmid: u32, status: &str, lock: Option<&str>) -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": format!("qemu/{vmid}"), "type": "qemu", "vmid": vmid, "name": format!("vm{vmid}"),
            "node": "pve1", "status": status, "lock": lock
        }))
        .unwrap()
    }

    fn task(kind: &str, vmid: u32, start: i64, end: i64) -> TaskListEntry {
        serde_json::from_value(serde_json::json!({
            "upid": format!("UPID:pve1:00001234:00005678:{start:08X}:{kind}:{vmid}:alice@pve:"),
            "node": "pve1", "type": kind, "id": vmid.to_string(), "user": "alice@pve",
            "starttime": start, "endtime": end, "status": "OK"
        }))
        .unwrap()
    }

    async fn stop_engine(
        answer: pve::Result<Vec<TaskListEntry>>,
    ) -> (AlertEngine, SqlitePool, Arc<FakeTasks>) {
        let db = database().await;
        let tasks = FakeTasks::new(answer);
        let engine = AlertEngine::new(db.clone(), Arc::clone(&tasks) as Arc<dyn TaskSource>).await;
        (engine, db, tasks)
    }

    #[tokio::test]
    async fn a_vm_stopping_without_a_task_fires_and_clears_when_it_runs_again() {
        let (engine, db, tasks) = stop_engine(Ok(Vec::new())).await;
        let active = || async { alerts::list(&db, true, 10).await.unwrap() };
        let other = guest(101, "stopped", None);
        engine
            .evaluate("c", 0, &[guest(100, "running", None), other.clone()])
            .await;
        engine
            .evaluate("c", 10, &[guest(100, "stopped", None), other.clone()])
            .await;
        assert_eq!(tasks.calls(), 1, "one look at the task list");
        let firing = active().await;
        assert_eq!(firing.len(), 1);
        assert_eq!(
            (firing[0].target.as_str(), firing[0].level.as_str()),
            ("qemu/100", "critical")
        );
        assert_eq!(
            firing[0].message,
            "VM 100 (vm100) stopped unexpectedly: no PVE task stopped it"
        );
        engine
            .evaluate("c", 20, &[guest(100, "stopped", None), other.clone()])
            .await;
        assert_eq!(tasks.calls(), 1, "no new transition, no new look");
        assert_eq!(active().await.len(), 1, "still firing, not twice");
        engine
            .evaluate("c", 30, &[guest(100, "running", None), other])
            .await;
        assert!(active().await.is_empty(), "cleared: it runs again");
        assert_eq!(
            alerts::list(&db, false, 10).await.unwrap()[0].ended_at,
            Some(30)
        );
        assert_eq!(tasks.calls(), 1);
    }

    #[tokio::test]
    async fn a_stop_explained_by_a_task_does_not_fire() {
        // VM 100 was stopped by a qmstop; VM 101 only has an old start task: it crashed.
        let (engine, db, tasks) = stop_engine(Ok(vec![
            task("qmstop", 100, 1005, 1006),
            task("qmstart", 101, 1003, 1004),
        ]))
        .await;
        let running = [guest(100, "running", None), guest(101, "running", None)];
        let stopped = [guest(100, "stopped", None), guest(101, "stopped", None)];
        engine.evaluate("c", 1000, &running).await;
        engine.evaluate("c", 1010, &stopped).await;
        assert_eq!(tasks.calls(), 1, "one call for both VMs");
        let firing = alerts::list(&db, true, 10).await.unwrap();
        assert_eq!(firing.len(), 1);
        assert_eq!(firing[0].target, "qemu/101");

        // A stop task long before the previous poll explains nothing.
        engine.evaluate("c", 5000, &running).await;
        engine.evaluate("c", 5010, &stopped).await;
        assert_eq!(tasks.calls(), 2);
        let mut targets: Vec<String> = alerts::list(&db, true, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.target)
            .collect();
        targets.sort();
        assert_eq!(targets, ["qemu/100", "qemu/101"]);
    }

    #[tokio::test]
    async fn no_task_query_without_a_transition() {
        let (engine, db, tasks) = stop_engine(Ok(Vec::new())).await;
        // The first poll has nothing to compare with, then nothing changes.
        for t in [0, 10, 20, 30] {
            engine
                .evaluate(
                    "c",
                    t,
                    &[guest(100, "stopped", None), guest(101, "running", None)],
                )
                .await;
        }
        // Stopping under a backup lock is expected; a deleted VM did not stop.
        engine
            .evaluate(
                "c",
                40,
                &[
                    guest(100, "stopped", None),
                    guest(101, "running", Some("backup")),
                ],
            )
            .await;
        engine
            .evaluate(
                "c",
                50,
                &[
                    guest(100, "stopped", None),
                    guest(101, "stopped", Some("backup")),
                ],
            )
            .await;
        engine
            .evaluate("c", 60, &[guest(100, "running", None)])
            .await;
        engine.evaluate("c", 70, &[]).await;
        assert_eq!(tasks.calls(), 0);
        assert!(alerts::list(&db, false, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unreadable_task_list_is_retried_then_reported() {
        let down = || {
            Err(pve::Error::Connect {
                message: "refused".into(),
            })
        };
        let (engine, db, tasks) = stop_engine(down()).await;
        let active = || async { alerts::list(&db, true, 10).await.unwrap() };
        engine
            .evaluate(
                "c",
                0,
                &[guest(100, "running", None), guest(101, "running", None)],
            )
            .await;
        engine
            .evaluate(
                "c",
                10,
                &[guest(100, "stopped", None), guest(101, "running", None)],
            )
            .await;
        engine
            .evaluate(
                "c",
                20,
                &[guest(100, "stopped", None), guest(101, "running", None)],
            )
            .await;
        assert_eq!(tasks.calls(), 2, "tried again at the next poll");
        assert!(active().await.is_empty(), "no verdict yet");
        engine
            .evaluate(
                "c",
                30,
                &[guest(100, "stopped", None), guest(101, "running", None)],
            )
            .await;
        assert_eq!(tasks.calls(), 3);
        let firing = active().await;
        assert_eq!(firing.len(), 1);
        assert!(
            firing[0].message.contains("task list could not be read"),
            "{}",
            firing[0].message
        );

        // A retry that reads the list settles it: VM 101 was shut down at 35.
        engine
            .evaluate(
                "c",
                40,
                &[guest(100, "stopped", None), guest(101, "stopped", None)],
            )
            .await;
        tasks.answer(Ok(vec![task("qmshutdown", 101, 35, 42)]));
        engine
            .evaluate(
                "c",
                50,
                &[guest(100, "stopped", None), guest(101, "stopped", None)],
            )
            .await;
        assert_eq!(tasks.calls(), 5);
        engine
            .evaluate(
                "c",
                60,
                &[guest(100, "stopped", None), guest(101, "stopped", None)],
            )
            .await;
        assert_eq!(tasks.calls(), 5, "settled");
        assert_eq!(active().await.len(), 1, "only VM 100");
    }

    #[tokio::test]
    async fn the_rule_off_looks_at_no_tasks() {
        let (engine, db, tasks) = stop_engine(Ok(Vec::new())).await;
        let mut rule = rule(&db, "vm_stopped").await;
        assert!(rule.enabled, "on by default");
        rule.enabled = false;
        alerts::update_rule(&db, &rule).await.unwrap();
        engine
            .evaluate("c", 0, &[guest(100, "running", None)])
            .await;
        engine
            .evaluate("c", 10, &[guest(100, "stopped", None)])
            .await;
        assert_eq!(tasks.calls(), 0);
        assert!(alerts::list(&db, true, 10).await.unwrap().is_empty());
    }
}
