//! Alerts: what fires now, the history, and the rules (admins edit them).

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{Alert, AlertRule},
};
#[cfg(feature = "ssr")]
use crate::{
    model::Role,
    ssr::{alerts, guard},
};

/// Firing alerts, newest first.
#[server(prefix = "/api", endpoint = "alerts_active")]
pub async fn active_alerts() -> Result<Vec<Alert>, AppError> {
    guard::require(Role::Viewer).await?;
    alerts::list(&guard::state()?.db, true, 500).await
}

/// The last 200 alerts, ended ones included.
#[server(prefix = "/api", endpoint = "alerts_history")]
pub async fn alert_history() -> Result<Vec<Alert>, AppError> {
    guard::require(Role::Viewer).await?;
    alerts::list(&guard::state()?.db, false, 200).await
}

/// Every alert rule.
#[server(prefix = "/api", endpoint = "alert_rules")]
pub async fn alert_rules() -> Result<Vec<AlertRule>, AppError> {
    guard::require(Role::Viewer).await?;
    alerts::rules(&guard::state()?.db, false).await
}

/// Changes a rule (admins).
#[server(prefix = "/api", endpoint = "alert_rule_update")]
pub async fn update_alert_rule(
    id: i64,
    threshold: f64,
    clear: f64,
    for_secs: i64,
    level: String,
    enabled: bool,
) -> Result<(), AppError> {
    let admin = guard::require(Role::Admin).await?;
    let db = guard::state()?.db;
    let current = alerts::rules(&db, false)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| AppError::NotFound(format!("alert rule {id}")))?;
    let rule = AlertRule {
        threshold,
        clear,
        for_secs,
        level,
        enabled,
        ..current
    };
    alerts::update_rule(&db, &rule).await?;
    tracing::info!(by = %admin.username, rule = %rule.name, "alert rule changed");
    Ok(())
}
