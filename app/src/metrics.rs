//! Metric history (`rrddata`) of VMs and nodes. VMs are checked against
//! the user's scope; node figures are for unscoped users only.

use leptos::prelude::*;
use pve::types::{NodeRrdPoint, QemuRrdPoint};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
};

/// Parses the history period and consolidation the browser asked for.
#[cfg(feature = "ssr")]
fn period(
    timeframe: &str,
    cf: &str,
) -> crate::error::AppResult<(pve::types::RrdTimeframe, pve::types::RrdCf)> {
    let invalid = |e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string());
    Ok((
        timeframe.parse().map_err(invalid)?,
        cf.parse().map_err(invalid)?,
    ))
}

/// A VM's history for `timeframe` (hour, day, week, month, year) and `cf` (AVERAGE, MAX), when
/// the VM is in the user's scope.
#[server(prefix = "/api", endpoint = "vm_history")]
pub async fn vm_history(
    cluster: String,
    node: String,
    vmid: String,
    timeframe: String,
    cf: String,
) -> Result<Vec<QemuRrdPoint>, AppError> {
    let user = access::require(Role::Viewer).await?;
    let (timeframe, cf) = period(&timeframe, &cf)?;
    let vm = access::vm(user, &cluster, &node, &vmid).await?;
    Ok(vm
        .cluster
        .api
        .qemu_rrddata(&vm.node, vm.vmid, timeframe, cf)
        .await?)
}

/// A node's history for `timeframe` and `cf` (users who see node figures: unscoped ones).
#[server(prefix = "/api", endpoint = "node_history")]
pub async fn node_history(
    cluster: String,
    node: String,
    timeframe: String,
    cf: String,
) -> Result<Vec<NodeRrdPoint>, AppError> {
    access::require_nodes(Role::Viewer).await?;
    let state = app_state()?;
    let cluster = state.clusters.get(&cluster)?;
    let node = access::parse_node(&node)?;
    let (timeframe, cf) = period(&timeframe, &cf)?;
    Ok(cluster.api.node_rrddata(&node, timeframe, cf).await?)
}
