//! The nodes of every cluster: the node list with each cluster's quorum and members, and one
//! node's overview with the VMs it hosts. Node figures are for unscoped users only (a scoped
//! user would learn of other tenants' load from them).

use leptos::prelude::*;
use pve::ids::NodeName;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::vms::VmRow;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};

/// One node in the node list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    /// Node name.
    pub node: String,
    /// `online`, `offline` or `unknown` (PVE's word).
    pub status: String,
    /// CPU use, fraction of `maxcpu` (0..1).
    pub cpu: Option<f64>,
    /// CPU threads.
    pub maxcpu: Option<u32>,
    /// Memory used and installed, bytes.
    pub mem: Option<u64>,
    pub maxmem: Option<u64>,
    /// Seconds since boot.
    pub uptime: Option<u64>,
    /// `pve-manager/9.1.1/…` from the node's status; `None` for a node that does not answer.
    pub pveversion: Option<String>,
    /// VMs on the node (all of them, running or not).
    pub vms: usize,
    /// Corosync's view of the node: in the quorum's membership (`None`: a single node
    /// without a cluster, or the cluster status could not be read).
    pub member_online: Option<bool>,
    /// The node's cluster address.
    pub ip: Option<String>,
}

/// One configured cluster in the node list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterNodes {
    /// Cecyber's name for the cluster.
    pub cluster: String,
    /// False when the cluster status could not be read (quorum and members unknown).
    pub status_read: bool,
    /// PVE's cluster name; `None` for a single node without a cluster.
    pub pve_name: Option<String>,
    /// True while a majority of the votes is online; `None` without a cluster.
    pub quorate: Option<bool>,
    /// The cluster's nodes, by name.
    pub nodes: Vec<NodeRow>,
    /// What failed while reading this cluster (it may be partly shown).
    pub problem: Option<String>,
}

/// A node's overview page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeOverview {
    /// Cluster name.
    pub cluster: String,
    /// Node name.
    pub node: NodeName,
    /// `GET /nodes/{node}/status`.
    pub status: pve::types::NodeStatus,
    /// `GET /nodes/{node}/storage`.
    pub storages: Vec<pve::types::NodeStorage>,
    /// The VMs on this node, by id (from `/cluster/resources`).
    pub vms: Vec<VmRow>,
    /// The cluster's other nodes, by name.
    pub other_nodes: Vec<String>,
}

/// Every node of every configured cluster, with quorum and membership (unscoped users).
#[server(prefix = "/api", endpoint = "nodes_list")]
pub async fn list_nodes() -> Result<Vec<ClusterNodes>, AppError> {
    access::require_nodes(Role::Viewer).await?;
    let state = app_state()?;
    let reads = state.clusters.all().iter().map(|c| async move {
        let (nodes, status, resources) =
            futures::join!(c.api.nodes(), c.api.cluster_status(), c.resources());
        cluster_nodes(c, nodes, status, resources).await
    });
    Ok(futures::future::join_all(reads).await)
}

/// One cluster's entry in the node list from its three answers; the version of each online
/// node comes from its status, read concurrently.
#[cfg(feature = "ssr")]
async fn cluster_nodes(
    cluster: &crate::state::clusters::Cluster,
    nodes: pve::Result<Vec<pve::types::NodeSummary>>,
    status: pve::Result<Vec<pve::types::ClusterStatusEntry>>,
    resources: pve::Result<std::sync::Arc<Vec<pve::types::ClusterResource>>>,
) -> ClusterNodes {
    let mut problems = Vec::new();
    let mut note = |what: &str, err: pve::Error| {
        problems.push(format!("{what}: {}", AppError::from(err)));
    };
    let nodes = nodes.unwrap_or_else(|e| {
        note("node list", e);
        Vec::new()
    });
    let status_read = status.is_ok();
    let status = status.unwrap_or_else(|e| {
        note("cluster status", e);
        Vec::new()
    });
    let resources = resources.unwrap_or_else(|e| {
        note("VM count", e);
        Default::default()
    });
    let statuses = futures::future::join_all(nodes.iter().map(|n| async move {
        let name: NodeName = n.node.parse().ok()?;
        if n.status != pve::types::NodeState::Online {
            return None;
        }
        Some(cluster.api.node_status(&name).await)
    }))
    .await;
    let versions: Vec<Option<String>> = nodes
        .iter()
        .zip(statuses)
        .map(|(n, status)| match status? {
            Ok(status) => status.pveversion,
            Err(e) => {
                note(&format!("status of node {}", n.node), e);
                None
            }
        })
        .collect();
    let whole = status.iter().find(|e| e.is_cluster());
    let mut rows: Vec<NodeRow> = nodes
        .iter()
        .zip(versions)
        .map(|(n, pveversion)| {
            let member = status.iter().find(|e| !e.is_cluster() && e.name == n.node);
            NodeRow {
                node: n.node.clone(),
                status: n.status.as_str().to_owned(),
                cpu: n.cpu,
                maxcpu: n.maxcpu,
                mem: n.mem,
                maxmem: n.maxmem,
                uptime: n.uptime,
                pveversion,
                vms: resources
                    .iter()
                    .filter(|r| {
                        r.guest_kind().is_some() && r.node.as_deref() == Some(n.node.as_str())
                    })
                    .count(),
                member_online: whole.and(member.and_then(|m| m.online)),
                ip: member.and_then(|m| m.ip.clone()),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.node.cmp(&b.node));
    ClusterNodes {
        cluster: cluster.name.clone(),
        status_read,
        pve_name: whole.map(|c| c.name.clone()),
        quorate: whole.and_then(|c| c.quorate),
        nodes: rows,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// A node's status (versions, CPU, load, memory, root disk), its storages and its VMs
/// (unscoped users).
#[server(prefix = "/api", endpoint = "node_overview")]
pub async fn load_node_overview(cluster: String, node: String) -> Result<NodeOverview, AppError> {
    access::require_nodes(Role::Viewer).await?;
    let state = app_state()?;
    let cluster = state.clusters.get(&cluster)?;
    let node = access::parse_node(&node)?;
    let all_storages = pve::types::StorageListFilter::default();
    let (status, storages, resources) = futures::join!(
        cluster.api.node_status(&node),
        cluster.api.node_storage(&node, &all_storages),
        cluster.resources()
    );
    let resources = resources?;
    let mut other_nodes: Vec<String> = resources
        .iter()
        .filter(|r| r.kind == "node")
        .filter_map(|r| r.node.clone())
        .filter(|n| n != node.as_str())
        .collect();
    other_nodes.sort();
    let mut vms: Vec<VmRow> = resources
        .iter()
        .filter(|r| r.node.as_deref() == Some(node.as_str()))
        .filter_map(|r| crate::vms::vm_row(&cluster.name, r))
        .collect();
    vms.sort_by_key(|v| v.vmid.get());
    Ok(NodeOverview {
        cluster: cluster.name.clone(),
        node,
        status: status?,
        storages: storages?,
        vms,
        other_nodes,
    })
}
