//! The PVE API's endpoints under `/api2/json`, one module per API area.

mod access;
mod access_admin;
mod backup;
mod backup_jobs;
mod cluster;
mod extras;
mod lxc;
mod metrics;
mod network;
mod nodes;
mod power;
mod qemu;
mod qemu_config;
mod qemu_ops;
mod qemu_resize;
mod qemu_snapshot;
mod tasks;

use axum::Router;

use crate::sim::world::SimState;

/// Every endpoint of the areas above.
pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .merge(access::routes())
        .merge(access_admin::routes())
        .merge(backup::routes())
        .merge(backup_jobs::routes())
        .merge(extras::routes())
        .merge(lxc::routes())
        .merge(metrics::routes())
        .merge(cluster::routes())
        .merge(network::routes())
        .merge(nodes::routes())
        .merge(power::routes())
        .merge(qemu::routes())
        .merge(qemu_config::routes())
        .merge(qemu_ops::routes())
        .merge(qemu_resize::routes())
        .merge(qemu_snapshot::routes())
        .merge(tasks::routes())
}
