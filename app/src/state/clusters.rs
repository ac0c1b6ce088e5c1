//! The configured Proxmox VE clusters, each behind one `PveApi`.

use std::sync::Arc;

use pve::client::PveApi;

use crate::error::{AppError, AppResult};

/// One managed cluster.
#[derive(Clone)]
pub struct Cluster {
    /// Name from the configuration, shown to users and used in URLs.
    pub name: String,
    /// The client (real HTTP, or pointed at the simulator in demo mode).
    pub api: Arc<dyn PveApi>,
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
