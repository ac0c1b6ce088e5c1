//! Serde types for PVE API answers, one file per area; they compile to wasm32.
//!
//! PVE is loose on the wire (booleans as `0`/`1`, numbers as strings, fields missing); the
//! helpers in [`de`] read all of that. Unknown fields are ignored. Every type serialises back to
//! plain JSON that it reads again (the browser receives these re-serialised).

pub mod cluster;
pub mod de;
pub mod node;
pub mod qemu;
pub mod task;
pub mod version;

pub use cluster::{ClusterResource, ResourceType};
pub use node::NodeSummary;
pub use qemu::{NicCounters, PowerAction, QemuListEntry, QemuStatus};
pub use task::{TaskLogLine, TaskState, TaskStatus};
pub use version::Version;
