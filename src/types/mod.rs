//! Serde types for PVE API answers and request options, one file per area; they compile to
//! wasm32.
//!
//! PVE is loose on the wire (booleans as `0`/`1`, numbers as strings, fields missing); the
//! helpers in [`de`] read all of that. Unknown fields are ignored. Every type serialises back to
//! plain JSON that it reads again (the browser receives these re-serialised). Request options
//! turn themselves into [`Params`], which the client checks against its endpoint table.

pub mod de;
pub mod params;

pub mod access;
pub mod backup;
pub mod cluster;
pub mod cluster_info;
pub mod metrics;
pub mod network;
pub mod node;
pub mod qemu;
pub mod qemu_config;
pub mod qemu_devices;
pub mod qemu_ops;
pub mod qemu_snapshot;
pub mod rrd;
pub mod storage;
pub mod task;
pub mod version;

pub use access::{AclEntry, Permissions, Role, TicketInfo, User, UserToken};
pub use backup::{
    BackupJob, BackupJobSpec, MailNotification, PruneBackups, VzdumpCompress, VzdumpMode,
    VzdumpOptions,
};
pub use cluster::{ClusterResource, GuestKind, ResourceType};
pub use cluster_info::{ClusterLogEntry, ClusterStatusEntry, PoolSummary};
pub use metrics::{MetricPoint, MetricType, MetricsExport, MetricsExportOptions};
pub use network::{InterfaceFilter, NetworkInterface};
pub use node::{NodeIndexEntry, NodeState, NodeStatus, NodeSummary};
pub use params::{ParamValue, Params, WireEnum};
pub use qemu::{NicCounters, PowerAction, QemuListEntry, QemuStatus, VmStatus};
pub use qemu_config::{QemuConfig, QemuConfigUpdate};
pub use qemu_devices::{DISK_BUSES, NIC_MODELS, NetDevice, NewDisk};
pub use qemu_ops::{
    DiskSize, LocalDisk, MigratePrecondition, NotAllowedNode, QemuClone, QemuMigrate, QemuRestore,
    VncProxy,
};
pub use qemu_snapshot::{
    PendingDelete, QemuPendingEntry, QemuSnapshot, QemuSnapshotConfig, QemuSnapshotCreate,
};
pub use rrd::{NodeRrdPoint, QemuRrdPoint, RrdCf, RrdTimeframe};
pub use storage::{
    BackupVerification, ContentType, NodeStorage, StorageContentEntry, StorageContentFilter,
    StorageListFilter,
};
pub use task::{
    TaskListEntry, TaskListFilter, TaskLogLine, TaskSource, TaskState, TaskStatus, TaskStatusFilter,
};
pub use version::Version;
