//! The configured Proxmox VE clusters, each behind one `PveApi`, with the last
//! `/cluster/resources` the live collector read of each.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pve::client::PveApi;
use pve::ids::{NodeName, VmId};
use pve::types::ClusterResource;

use crate::error::{AppError, AppResult};

/// One managed cluster.
#[derive(Clone)]
pub struct Cluster {
    /// Name from the configuration, shown to users and used in URLs.
    pub name: String,
    /// The client (real HTTP, or pointed at the simulator in demo mode).
    pub api: Arc<dyn PveApi>,
    /// The collector's last poll of the cluster, shared by every viewer.
    pub latest: Arc<LatestResources>,
}

impl Cluster {
    /// A cluster whose polls count as fresh for `fresh_for` (a couple of live ticks).
    pub fn new(name: String, api: Arc<dyn PveApi>, fresh_for: Duration) -> Self {
        Self {
            name,
            api,
            latest: Arc::new(LatestResources::new(fresh_for)),
        }
    }

    /// Every resource of the cluster (VMs, nodes, storages): the collector's last poll while it
    /// is fresh, so that the upstream calls do not grow with viewers; else asked of PVE (and
    /// kept for the next caller).
    pub async fn resources(&self) -> pve::Result<Arc<Vec<ClusterResource>>> {
        if let Some(resources) = self.latest.fresh() {
            return Ok(resources);
        }
        let resources = Arc::new(self.api.cluster_resources(None).await?);
        self.latest.set(Arc::clone(&resources));
        Ok(resources)
    }
}

/// The last `/cluster/resources` of one cluster and when it was read.
pub struct LatestResources {
    fresh_for: Duration,
    poll: RwLock<Option<(Instant, Arc<Vec<ClusterResource>>)>>,
}

impl LatestResources {
    /// Empty; polls stay fresh for `fresh_for`.
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            poll: RwLock::new(None),
        }
    }

    /// Keeps a poll just read.
    pub fn set(&self, resources: Arc<Vec<ClusterResource>>) {
        *self.poll.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), resources));
    }

    /// The last poll, if it is fresh.
    pub fn fresh(&self) -> Option<Arc<Vec<ClusterResource>>> {
        let poll = self.poll.read().unwrap_or_else(|e| e.into_inner());
        poll.as_ref()
            .filter(|(at, _)| at.elapsed() <= self.fresh_for)
            .map(|(_, resources)| Arc::clone(resources))
    }

    /// The node VM `vmid` was on at the last fresh poll; `None` when there is no fresh poll or
    /// the VM was not in it (just created, or gone).
    pub fn node_of(&self, vmid: VmId) -> Option<NodeName> {
        self.fresh()?
            .iter()
            .find(|r| r.is_vm() && r.vmid == Some(vmid.get()))
            .and_then(ClusterResource::node_name)
    }
}

/// Every managed cluster, in configuration order.
#[derive(Clone, Default)]
pub struct Clusters {
    clusters: Vec<Cluster>,
}

impl Clusters {
    /// Wraps the clusters built at start-up.
    pub fn new(clusters: Vec<Cluster>) -> Self {
        Self { clusters }
    }

    /// All clusters.
    pub fn all(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster named `name`; an unknown name is a clear error, never a guess.
    pub fn get(&self, name: &str) -> AppResult<&Cluster> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| AppError::NotFound(format!("cluster {:?}", truncate(name))))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
