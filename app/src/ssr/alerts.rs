//! Alert rules and alert history in the database.

use sqlx::SqlitePool;

use super::now;
use crate::{
    error::{AppError, AppResult},
    model::{Alert, AlertRule},
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
