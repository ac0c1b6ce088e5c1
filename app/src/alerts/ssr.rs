//! Alert rules and alert history in the database.

use sqlx::SqlitePool;

use crate::state::now;
use crate::{
    alerts::{Alert, AlertRule},
    error::{AppError, AppResult},
};

type RuleRow = (i64, String, String, f64, f64, i64, String, bool);
type AlertRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

/// Every rule, or only the enabled ones.
pub async fn rules(db: &SqlitePool, enabled_only: bool) -> AppResult<Vec<AlertRule>> {
    let rows: Vec<RuleRow> = sqlx::query_as(
        "SELECT id, kind, name, threshold, clear, for_secs, level, enabled FROM alert_rules \
         WHERE enabled = 1 OR ? = 0 ORDER BY id",
    )
    .bind(enabled_only)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, name, threshold, clear, for_secs, level, enabled)| AlertRule {
                id,
                kind,
                name,
                threshold,
                clear,
                for_secs,
                level,
                enabled,
            },
        )
        .collect())
}

/// Changes a rule after checking the values make sense.
pub async fn update_rule(db: &SqlitePool, rule: &AlertRule) -> AppResult<()> {
    let percent = |v: f64| (0.0..=100.0).contains(&v);
    if !percent(rule.threshold) || !percent(rule.clear) || rule.clear > rule.threshold {
        return Err(AppError::InvalidInput(
            "Thresholds are percentages, and the clear level must not be above the trigger level."
                .into(),
        ));
    }
    if !(0..=86_400).contains(&rule.for_secs) {
        return Err(AppError::InvalidInput(
            "The duration is 0 to 86400 seconds.".into(),
        ));
    }
    if rule.level != "warning" && rule.level != "critical" {
        return Err(AppError::InvalidInput(
            "The level is warning or critical.".into(),
        ));
    }
    let done = sqlx::query("UPDATE alert_rules SET threshold = ?, clear = ?, for_secs = ?, level = ?, enabled = ? WHERE id = ?")
        .bind(rule.threshold)
        .bind(rule.clear)
        .bind(rule.for_secs)
        .bind(&rule.level)
        .bind(rule.enabled)
        .bind(rule.id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("alert rule {}", rule.id)));
    }
    Ok(())
}

/// Records a firing alert; returns its id.
pub async fn fire(
    db: &SqlitePool,
    rule: &AlertRule,
    cluster: &str,
    target: &str,
    message: &str,
    at: i64,
) -> AppResult<i64> {
    let done = sqlx::query(
        "INSERT INTO alerts (rule_id, cluster, target, level, message, started_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(rule.id)
    .bind(cluster)
    .bind(target)
    .bind(&rule.level)
    .bind(message)
    .bind(at)
    .execute(db)
    .await?;
    Ok(done.last_insert_rowid())
}

/// Ends an alert.
pub async fn end(db: &SqlitePool, id: i64, at: i64) -> AppResult<()> {
    sqlx::query("UPDATE alerts SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends alerts left open by a previous run (their state was in memory only).
pub async fn end_dangling(db: &SqlitePool) -> AppResult<()> {
    sqlx::query("UPDATE alerts SET ended_at = ? WHERE ended_at IS NULL")
        .bind(now())
        .execute(db)
        .await?;
    Ok(())
}

/// Firing alerts (`active`) or the most recent ones, newest first.
pub async fn list(db: &SqlitePool, active: bool, limit: i64) -> AppResult<Vec<Alert>> {
    let rows: Vec<AlertRow> = sqlx::query_as(
        "SELECT a.id, r.name, a.level, a.cluster, a.target, a.message, a.started_at, a.ended_at \
         FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
         WHERE a.ended_at IS NULL OR ? = 0 ORDER BY a.id DESC LIMIT ?",
    )
    .bind(active)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, rule, level, cluster, target, message, started_at, ended_at)| Alert {
                id,
                rule,
                level,
                cluster,
                target,
                message,
                started_at,
                ended_at,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use std::{path::Path, str::FromStr};

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    /// The migration that added `vm_stopped` rebuilt both tables.
    const VM_STOPPED_MIGRATION: &str = "20261203000001";

    #[tokio::test]
    async fn adding_vm_stopped_keeps_rules_alerts_and_the_foreign_key() {
        // A database migrated up to the migration before, with an edited rule and two alerts.
        let dir = std::env::temp_dir().join(format!("cecyber-migrate-{}", std::process::id()));
        let before = dir.join("before");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&before).unwrap();
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for file in std::fs::read_dir(&all).unwrap() {
            let file = file.unwrap();
            if file.file_name().to_string_lossy().as_ref() < VM_STOPPED_MIGRATION {
                std::fs::copy(file.path(), before.join(file.file_name())).unwrap();
            }
        }
        let options =
            SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.join("db").display()))
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&db)
            .await
            .unwrap();
        sqlx::query("UPDATE alert_rules SET threshold = 70, enabled = 0 WHERE kind = 'vm_cpu'")
            .execute(&db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO alerts (rule_id, cluster, target, level, message, started_at, ended_at) \
             SELECT id, 'c', 'qemu/100', level, 'VM 100 CPU at 99%', 10, NULL FROM alert_rules \
             WHERE kind = 'vm_cpu' UNION ALL \
             SELECT id, 'c', 'storage/pve1/local', level, 'full', 20, 30 FROM alert_rules \
             WHERE kind = 'storage_usage'",
        )
        .execute(&db)
        .await
        .unwrap();
        let alerts_before = list(&db, false, 10).await.unwrap();
        assert_eq!(alerts_before.len(), 2);

        sqlx::migrate!("./migrations").run(&db).await.unwrap();

        let rules = rules(&db, false).await.unwrap();
        let kinds: Vec<&str> = rules.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "vm_cpu",
                "vm_memory",
                "storage_usage",
                "node_offline",
                "vm_stopped"
            ]
        );
        assert_eq!((rules[0].threshold, rules[0].enabled), (70.0, false));
        assert!(rules[4].enabled, "on by default");
        assert_eq!(list(&db, false, 10).await.unwrap(), alerts_before);
        // Alerts still belong to their rule, and unknown kinds are still refused.
        sqlx::query("DELETE FROM alert_rules WHERE kind = 'vm_cpu'")
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(list(&db, false, 10).await.unwrap().len(), 1);
        let bogus = sqlx::query(
            "INSERT INTO alert_rules (kind, name, threshold, clear, for_secs, level) \
             VALUES ('bogus', 'x', 1, 1, 1, 'warning')",
        )
        .execute(&db)
        .await;
        assert!(bogus.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
