//! Alerts: what fires now, the history, and the rules (admins edit them). A scoped user sees
//! only the alerts of VMs in their scope; node and storage alerts are for unscoped users.

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub mod ssr;

use serde::{Deserialize, Serialize};

/// An alert rule (admins edit thresholds, duration, level and whether it is on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// Id.
    pub id: i64,
    /// `vm_cpu`, `vm_memory`, `storage_usage`, `node_offline` or `vm_stopped` (a running VM
    /// stopped and no PVE task explains it; its reading is 100 while that holds, else 0).
    pub kind: String,
    /// Shown name.
    pub name: String,
    /// Fires above this percentage.
    pub threshold: f64,
    /// Clears below this percentage (at or below `threshold`), so it does not flap.
    pub clear: f64,
    /// How long the condition must hold before it fires, seconds.
    pub for_secs: i64,
    /// `warning` or `critical`.
    pub level: String,
    /// Whether the rule is evaluated.
    pub enabled: bool,
}

/// An alert that fired (and maybe ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Id.
    pub id: i64,
    /// Name of the rule.
    pub rule: String,
    /// `warning` or `critical`.
    pub level: String,
    /// Cluster name.
    pub cluster: String,
    /// `qemu/100`, `node/pve1`, `storage/pve1/local`.
    pub target: String,
    /// What happened, for the operator.
    pub message: String,
    /// When it fired, unix seconds.
    pub started_at: i64,
    /// When it cleared, if it did.
    pub ended_at: Option<i64>,
}

/// Firing alerts in the user's scope, newest first (the header badge counts these).
#[server(prefix = "/api", endpoint = "alerts_active")]
pub async fn active_alerts() -> Result<Vec<Alert>, AppError> {
    let user = access::require(Role::Viewer).await?;
    let list = ssr::list(&app_state()?.db, true, 500).await?;
    scoped::keep_in_scope(&user.scope, list, 500).await
}

/// The last 200 alerts in the user's scope, ended ones included.
#[server(prefix = "/api", endpoint = "alerts_history")]
pub async fn alert_history() -> Result<Vec<Alert>, AppError> {
    let user = access::require(Role::Viewer).await?;
    // A scoped user's 200 are looked for among more, as most alerts may be other tenants'.
    let fetch = if user.scope.is_everything() {
        200
    } else {
        2000
    };
    let list = ssr::list(&app_state()?.db, false, fetch).await?;
    scoped::keep_in_scope(&user.scope, list, 200).await
}

/// Every alert rule.
#[server(prefix = "/api", endpoint = "alert_rules")]
pub async fn alert_rules() -> Result<Vec<AlertRule>, AppError> {
    access::require(Role::Viewer).await?;
    ssr::rules(&app_state()?.db, false).await
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
    let admin = access::require(Role::Admin).await?;
    let db = app_state()?.db;
    let current = ssr::rules(&db, false)
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
    ssr::update_rule(&db, &rule).await?;
    tracing::info!(by = %admin.username, rule = %rule.name, "alert rule changed");
    Ok(())
}

/// Which alerts a scoped user sees: those of VMs in scope, never node or storage alerts.
#[cfg(feature = "ssr")]
mod scoped {
    use std::collections::{BTreeSet, HashMap};

    use super::Alert;
    use crate::{access::Scope, error::AppResult, state::app_state};

    /// Tags of each VM (by id) of each cluster (by name).
    type VmTags = HashMap<String, HashMap<u32, Vec<String>>>;

    /// The alerts of `list` that `scope` allows, at most `limit`. Unscoped users cost nothing;
    /// for a scoped user the VMs' tags come from one `/cluster/resources` per cluster that has a
    /// VM alert in the list. A cluster that does not answer hides its VM alerts (from scoped
    /// users only): nothing is shown that cannot be checked.
    pub async fn keep_in_scope(
        scope: &Scope,
        list: Vec<Alert>,
        limit: usize,
    ) -> AppResult<Vec<Alert>> {
        if scope.is_everything() {
            return Ok(list.into_iter().take(limit).collect());
        }
        let names: BTreeSet<&str> = list
            .iter()
            .filter(|a| alert_vmid(&a.target).is_some())
            .map(|a| a.cluster.as_str())
            .collect();
        let tags = vm_tags(names).await?;
        Ok(list
            .into_iter()
            .filter(|a| visible(scope, a, &tags))
            .take(limit)
            .collect())
    }

    /// How long a cluster's VM tags are reused: the alert badge asks every few seconds per
    /// open tab, and tags change rarely (PVE itself refreshes its resources every 10 s).
    const TAGS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(10);

    /// The tags read last, per cluster, with when they were read.
    type TagCache = HashMap<String, (std::time::Instant, HashMap<u32, Vec<String>>)>;
    static TAG_CACHE: std::sync::LazyLock<std::sync::Mutex<TagCache>> =
        std::sync::LazyLock::new(Default::default);

    async fn vm_tags(names: BTreeSet<&str>) -> AppResult<VmTags> {
        use pve::types::ResourceType;

        let state = app_state()?;
        let mut tags = VmTags::new();
        {
            let cache = TAG_CACHE.lock().unwrap_or_else(|e| e.into_inner());
            for name in &names {
                if let Some((read, vms)) = cache.get(*name)
                    && read.elapsed() < TAGS_FRESH_FOR
                {
                    tags.insert((*name).to_owned(), vms.clone());
                }
            }
        }
        let calls = names
            .into_iter()
            .filter(|name| !tags.contains_key(*name))
            .filter_map(|name| state.clusters.get(name).ok())
            .map(|cluster| async move {
                let found = cluster.api.cluster_resources(Some(ResourceType::Vm)).await;
                (cluster.name.clone(), found)
            });
        for (cluster, found) in futures::future::join_all(calls).await {
            match found {
                Ok(resources) => {
                    let vms: HashMap<u32, Vec<String>> = resources
                        .iter()
                        .filter(|r| r.is_vm())
                        .filter_map(|r| Some((r.vmid?, r.tag_list())))
                        .collect();
                    TAG_CACHE
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(cluster.clone(), (std::time::Instant::now(), vms.clone()));
                    tags.insert(cluster, vms);
                }
                Err(e) => {
                    tracing::warn!(%cluster, error = %e, "VM tags unavailable; its VM alerts are hidden from scoped users");
                }
            }
        }
        Ok(tags)
    }

    /// The VM id of a VM alert's target (`qemu/100`).
    pub(super) fn alert_vmid(target: &str) -> Option<u32> {
        target.strip_prefix("qemu/")?.parse().ok()
    }

    /// Whether `scope` allows `alert`, given the VMs' tags.
    pub(super) fn visible(scope: &Scope, alert: &Alert, tags: &VmTags) -> bool {
        match alert_vmid(&alert.target) {
            Some(vmid) => tags
                .get(&alert.cluster)
                .and_then(|vms| vms.get(&vmid))
                .is_some_and(|t| scope.allows_vm(t)),
            None => scope.sees_nodes(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn alert(cluster: &str, target: &str) -> Alert {
            Alert {
                id: 1,
                rule: "r".into(),
                level: "warning".into(),
                cluster: cluster.into(),
                target: target.into(),
                message: String::new(),
                started_at: 0,
                ended_at: None,
            }
        }

        #[test]
        fn scoped_users_see_alerts_of_their_vms_only() {
            let tags: VmTags = HashMap::from([(
                "demo".to_owned(),
                HashMap::from([
                    (100, vec!["prod".to_owned()]),
                    (101, vec!["dev".to_owned()]),
                ]),
            )]);
            let prod = Scope::parse("prod").unwrap();
            assert!(visible(&prod, &alert("demo", "qemu/100"), &tags));
            assert!(!visible(&prod, &alert("demo", "qemu/101"), &tags));
            assert!(
                !visible(&prod, &alert("demo", "qemu/999"), &tags),
                "VM gone"
            );
            assert!(
                !visible(&prod, &alert("other", "qemu/100"), &tags),
                "other cluster"
            );
            assert!(!visible(&prod, &alert("demo", "node/pve1"), &tags));
            assert!(!visible(&prod, &alert("demo", "storage/pve1/local"), &tags));
            let all = Scope::everything();
            assert!(visible(&all, &alert("demo", "node/pve1"), &tags));
            assert!(visible(&all, &alert("demo", "qemu/101"), &tags));
            assert_eq!(alert_vmid("qemu/100"), Some(100));
            assert_eq!(alert_vmid("qemu/x"), None);
            assert_eq!(alert_vmid("node/100"), None);
        }
    }
}
