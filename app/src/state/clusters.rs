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
        match self.latest.fresh() {
            Some(resources) => Ok(resources),
            None => self.resources_now().await,
        }
    }

    /// Every resource of the cluster as PVE tells it now (an explicit refresh), kept for the
    /// next caller.
    pub async fn resources_now(&self) -> pve::Result<Arc<Vec<ClusterResource>>> {
        let asked = Instant::now();
        let resources = Arc::new(self.api.cluster_resources(None).await?);
        self.latest.set(asked, Arc::clone(&resources));
        Ok(resources)
    }

    /// The storages of `node` that hold VM disks (enabled, content `images`), sorted.
    pub async fn disk_storages(&self, node: &NodeName) -> pve::Result<Vec<String>> {
        let images = pve::types::StorageListFilter {
            content: vec![pve::types::ContentType::Images],
            enabled: Some(true),
            ..Default::default()
        };
        let list = self.api.node_storage(node, &images).await?;
        let mut names: Vec<String> = list.into_iter().map(|s| s.storage).collect();
        names.sort();
        Ok(names)
    }

    /// Where guest `vmid` (a VM or a container) is, its kind and tags, from the shared poll
    /// (read again if it is not fresh); `None` when the guest is not in it (just created, or
    /// gone) or PVE cannot be asked.
    pub async fn locate(&self, vmid: VmId) -> Option<Located> {
        let resources = self.resources().await.ok()?;
        let guest = resources
            .iter()
            .find(|r| r.guest_kind().is_some() && r.vmid == Some(vmid.get()))?;
        Some(Located {
            node: guest.node_name()?,
            kind: guest.guest_kind()?,
            tags: guest.tag_list(),
            hastate: guest.hastate.clone(),
        })
    }
}

/// Where the poll saw a guest.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// Its node.
    pub node: NodeName,
    /// VM or container.
    pub kind: pve::types::GuestKind,
    /// Its tags (what scopes go by).
    pub tags: Vec<String>,
    /// Its HA state when PVE's HA manager manages it.
    pub hastate: Option<String>,
}

/// The last `/cluster/resources` of one cluster, stamped with when it was asked for: an answer
/// asked for before a newer one (or before the last [`LatestResources::invalidate`]) is older
/// news and is not kept.
pub struct LatestResources {
    fresh_for: Duration,
    poll: RwLock<Poll>,
}

#[derive(Default)]
struct Poll {
    /// When the kept answer was asked for, and the answer.
    kept: Option<(Instant, Arc<Vec<ClusterResource>>)>,
    /// Answers asked for before this are not kept.
    not_before: Option<Instant>,
}

impl LatestResources {
    /// Empty; polls stay fresh for `fresh_for`.
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            poll: RwLock::new(Poll::default()),
        }
    }

    /// Keeps an answer asked for at `asked`, unless a newer one is kept or something moved
    /// since it was asked for.
    pub fn set(&self, asked: Instant, resources: Arc<Vec<ClusterResource>>) {
        let mut poll = self.poll.write().unwrap_or_else(|e| e.into_inner());
        let newer_kept = poll.kept.as_ref().is_some_and(|(at, _)| *at > asked);
        let moved_since = poll.not_before.is_some_and(|t| t > asked);
        if !newer_kept && !moved_since {
            poll.kept = Some((asked, resources));
        }
    }

    /// The last poll, if it is fresh.
    pub fn fresh(&self) -> Option<Arc<Vec<ClusterResource>>> {
        let poll = self.poll.read().unwrap_or_else(|e| e.into_inner());
        poll.kept
            .as_ref()
            .filter(|(at, _)| at.elapsed() <= self.fresh_for)
            .map(|(_, resources)| Arc::clone(resources))
    }

    /// Forgets the last poll, and any answer asked for before now that is still on its way:
    /// something moved (a migration ended), and they would tell the old place.
    pub fn invalidate(&self) {
        let mut poll = self.poll.write().unwrap_or_else(|e| e.into_inner());
        poll.kept = None;
        poll.not_before = Some(Instant::now());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(vmid: u32) -> Arc<Vec<ClusterResource>> {
        let r: ClusterResource = serde_json::from_value(serde_json::json!({
            "id": format!("qemu/{vmid}"), "type": "qemu", "vmid": vmid, "node": "pve1"
        }))
        .unwrap();
        Arc::new(vec![r])
    }

    fn kept_vmid(latest: &LatestResources) -> Option<u32> {
        latest.fresh().and_then(|r| r[0].vmid)
    }

    #[test]
    fn an_answer_asked_for_earlier_does_not_replace_a_newer_one() {
        let latest = LatestResources::new(Duration::from_secs(60));
        let (early, late) = (Instant::now(), Instant::now() + Duration::from_millis(5));
        latest.set(late, answer(2));
        latest.set(early, answer(1));
        assert_eq!(kept_vmid(&latest), Some(2));
    }

    #[test]
    fn an_answer_on_its_way_during_an_invalidation_is_not_kept() {
        let latest = LatestResources::new(Duration::from_secs(60));
        let asked = Instant::now();
        latest.set(asked, answer(1));
        std::thread::sleep(Duration::from_millis(2));
        latest.invalidate();
        assert_eq!(kept_vmid(&latest), None);
        // A poll that started before the migration ended lands afterwards: old news.
        latest.set(asked, answer(1));
        assert_eq!(kept_vmid(&latest), None);
        latest.set(Instant::now(), answer(3));
        assert_eq!(kept_vmid(&latest), Some(3));
    }

    #[test]
    fn a_poll_goes_stale() {
        let latest = LatestResources::new(Duration::from_millis(1));
        latest.set(Instant::now(), answer(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(kept_vmid(&latest), None);
    }
}
