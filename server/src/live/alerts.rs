//! Alert evaluation, once per poll of a cluster: a rule fires when its condition has held for
//! the rule's duration, and clears only below its (lower) clear level, so it does not flap.
//! VM rules are suppressed while a backup or migration holds the VM's lock.

use std::collections::HashMap;

use app::{model::AlertRule, ssr::alerts};
use pve::types::ClusterResource;
use sqlx::SqlitePool;
use tokio::sync::Mutex;

/// What one rule measures on one target at one poll.
struct Reading {
    target: String,
    label: String,
    percent: f64,
    suppressed: bool,
}

/// Locks under which a VM's usage is expected to look odd.
const SUPPRESSING_LOCKS: &[&str] = &[
    "backup", "migrate", "clone", "create", "rollback", "snapshot",
];

fn readings(rule: &AlertRule, resources: &[ClusterResource]) -> Vec<Reading> {
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
            })
            .collect(),
        "vm_memory" => running_vms
            .map(|r| Reading {
                target: r.id.clone(),
                label: format!("{} memory", vm_label(r)),
                percent: pct(r.mem, r.maxmem),
                suppressed: suppressed(r),
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
            })
            .collect(),
        "node_offline" => resources
            .iter()
            .filter(|r| r.kind == "node")
            .map(|r| Reading {
                target: r.id.clone(),
                label: format!("Node {}", r.node.as_deref().unwrap_or("")),
                percent: if r.status.as_deref() == Some("online") {
                    0.0
                } else {
                    100.0
                },
                suppressed: false,
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
}

impl AlertEngine {
    /// An engine writing alerts into `db`; ends alerts a previous run left open.
    pub async fn new(db: SqlitePool) -> Self {
        if let Err(e) = alerts::end_dangling(&db).await {
            tracing::warn!(error = %e, "could not end alerts of the previous run");
        }
        Self {
            db,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Evaluates every enabled rule against one poll of `cluster` taken at `t`.
    pub async fn evaluate(&self, cluster: &str, t: i64, resources: &[ClusterResource]) {
        let rules = match alerts::rules(&self.db, true).await {
            Ok(rules) => rules,
            Err(e) => return tracing::warn!(error = %e, "alert rules unavailable"),
        };
        let mut pending = self.pending.lock().await;
        let mut seen = Vec::new();
        for rule in &rules {
            for reading in readings(rule, resources) {
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
            let message = format!(
                "{} at {:.0}% (above {:.0}%)",
                reading.label, reading.percent, rule.threshold
            );
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
    use super::*;

    fn vm(cpu: f64, lock: Option<&str>) -> ClusterResource {
        serde_json::from_value(serde_json::json!({
            "id": "qemu/100", "type": "qemu", "vmid": 100, "name": "dns1", "node": "pve1",
            "status": "running", "cpu": cpu, "mem": 10, "maxmem": 100, "lock": lock
        }))
        .unwrap()
    }

    async fn engine_with_cpu_rule(for_secs: i64) -> (AlertEngine, SqlitePool) {
        let dir =
            std::env::temp_dir().join(format!("cecyber-alerts-{}-{for_secs}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join("a.db"));
        let db = app::ssr::db::connect(&format!("sqlite://{}/a.db", dir.display()))
            .await
            .unwrap();
        let mut rule = alerts::rules(&db, false)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.kind == "vm_cpu")
            .unwrap();
        rule.for_secs = for_secs;
        alerts::update_rule(&db, &rule).await.unwrap();
        (AlertEngine::new(db.clone()).await, db)
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
}
