//! The collector: per cluster, one `/cluster/resources` call per tick, only while someone
//! watches; backs off while the cluster fails and recovers by itself.

use std::{sync::Arc, time::Duration};

use app::state::clusters::Cluster;
use pve::{client::PveApi, ids::NodeName, types::ClusterResource};
use tokio::task::JoinHandle;

use super::{alerts::AlertEngine, backfill, hub::LiveHub, window::History};

/// Where a collector gets its polls from (the cluster's client, or a counting test double).
#[async_trait::async_trait]
pub trait ResourceSource: Send + Sync + 'static {
    /// One `/cluster/resources` call (nodes, VMs and storages in one answer).
    async fn resources(&self) -> pve::Result<Vec<ClusterResource>>;

    /// Recent history of the VMs in `resources`, to fill a fresh window (none by default).
    async fn history(&self, _resources: &[ClusterResource]) -> History {
        History::default()
    }

    /// A node's one-minute load average from `/nodes/{node}/status` (none by default).
    async fn node_load(&self, _node: &NodeName) -> Option<f64> {
        None
    }
}

/// A cluster's client as a source.
pub struct ApiSource(pub Arc<dyn PveApi>);

/// A configured cluster as a source: each poll is also kept as the cluster's latest, which the
/// VM list and VM look-ups read instead of calling PVE themselves.
pub struct ClusterSource(pub Cluster);

#[async_trait::async_trait]
impl ResourceSource for ApiSource {
    async fn resources(&self) -> pve::Result<Vec<ClusterResource>> {
        self.0.cluster_resources(None).await
    }

    async fn history(&self, resources: &[ClusterResource]) -> History {
        backfill::history(self.0.as_ref(), resources).await
    }

    async fn node_load(&self, node: &NodeName) -> Option<f64> {
        match self.0.node_status(node).await {
            Ok(status) => status.loadavg.first().copied(),
            Err(e) => {
                tracing::debug!(%node, error = %e, "node status failed");
                None
            }
        }
    }
}

#[async_trait::async_trait]
impl ResourceSource for ClusterSource {
    async fn resources(&self) -> pve::Result<Vec<ClusterResource>> {
        let asked = std::time::Instant::now();
        let resources = self.0.api.cluster_resources(None).await?;
        self.0.latest.set(asked, Arc::new(resources.clone()));
        Ok(resources)
    }

    async fn history(&self, resources: &[ClusterResource]) -> History {
        backfill::history(self.0.api.as_ref(), resources).await
    }

    async fn node_load(&self, node: &NodeName) -> Option<f64> {
        ApiSource(Arc::clone(&self.0.api)).node_load(node).await
    }
}

/// Longest pause between polls of a failing cluster.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often node status (load) is read: PVE's own statistics refresh every 10 s, and load
/// averages move slowly, so once a minute is plenty.
const NODE_STATUS_EVERY: Duration = Duration::from_secs(60);

/// Starts the collector of one cluster; each good poll is also checked against the alert
/// rules when an engine is given.
pub fn spawn(
    hub: Arc<LiveHub>,
    cluster: String,
    source: Arc<dyn ResourceSource>,
    tick: Duration,
    alerts: Option<Arc<AlertEngine>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = tick;
        let mut filled = false;
        let mut next_node_status = tokio::time::Instant::now();
        loop {
            hub.wait_for_watchers().await;
            let started = tokio::time::Instant::now();
            match source.resources().await {
                Ok(resources) => {
                    if !filled {
                        // The first good poll: fill the window from PVE's own history.
                        hub.backfill(&cluster, source.history(&resources).await);
                        filled = true;
                    }
                    let t = unix_now();
                    hub.publish_poll(&cluster, t, &resources);
                    if let Some(engine) = &alerts {
                        engine.evaluate(&cluster, t, &resources).await;
                    }
                    // After publishing, so the tick is not delayed; shown from the next one.
                    if started >= next_node_status {
                        next_node_status = started + NODE_STATUS_EVERY;
                        read_node_loads(&hub, &cluster, source.as_ref(), &resources).await;
                    }
                    pause = tick;
                }
                Err(err) => {
                    tracing::warn!(%cluster, error = %err, "live poll failed");
                    hub.publish_failure(&cluster, err.to_string());
                    pause = (pause * 2).min(MAX_BACKOFF).max(tick);
                }
            }
            tokio::time::sleep_until(started + pause).await;
        }
    })
}

/// Reads the load of every online node (one `/nodes/{node}/status` each, one at a time so the
/// cluster sees no burst).
async fn read_node_loads(
    hub: &LiveHub,
    cluster: &str,
    source: &dyn ResourceSource,
    resources: &[ClusterResource],
) {
    let online = resources
        .iter()
        .filter(|r| r.kind == "node" && r.status.as_deref() == Some("online"));
    for r in online {
        let Some(node) = r.node_name() else { continue };
        if let Some(load) = source.node_load(&node).await {
            hub.set_node_load(cluster, node.as_str(), load);
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
