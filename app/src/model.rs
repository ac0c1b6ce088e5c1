//! Data that crosses the wire between server functions and the browser.

use pve::ids::{NodeName, Upid, VmId};
use serde::{Deserialize, Serialize};

/// A Cecyber role. Each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Power actions and console.
    Operator,
    /// Everything, including users.
    Admin,
}

impl Role {
    /// All roles, least privileged first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// Whether this role includes the rights of `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }

    /// Name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (viewer, operator or admin)"
            )),
        }
    }
}

/// The logged-in user, as the browser may know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// Login name.
    pub username: String,
    /// Role that decides what the user may do.
    pub role: Role,
    /// Which VMs (and whether node figures) the user may see.
    pub scope: crate::scope::Scope,
}

/// Facts about the running instance the layout shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The logged-in user, if any.
    pub user: Option<CurrentUser>,
    /// True when Cecyber runs against its built-in simulated cluster.
    pub demo: bool,
}

/// One VM in the list, from `/cluster/resources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmRow {
    /// Name of the configured cluster the VM belongs to.
    pub cluster: String,
    /// Node the VM runs on.
    pub node: NodeName,
    /// VM id.
    pub vmid: VmId,
    /// VM name (PVE may omit it).
    pub name: String,
    /// `running`, `stopped`, ...
    pub status: String,
    /// CPU use as a fraction of `maxcpu` (0..1).
    pub cpu: f64,
    /// Number of virtual CPUs.
    pub maxcpu: f64,
    /// Memory used, bytes.
    pub mem: u64,
    /// Memory configured, bytes.
    pub maxmem: u64,
    /// Uptime in seconds.
    pub uptime: u64,
    /// Tags, split.
    pub tags: Vec<String>,
    /// True for templates (which cannot be started).
    pub template: bool,
    /// Lock held on the VM (backup, migrate, ...), if any.
    pub lock: Option<String>,
}

impl VmRow {
    /// True when PVE reports the VM running.
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

/// A problem reaching one cluster, shown above the list while the others keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProblem {
    /// Cluster name.
    pub cluster: String,
    /// What went wrong, for the operator.
    pub message: String,
}

/// The VM list across every configured cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmList {
    /// VMs of every reachable cluster.
    pub vms: Vec<VmRow>,
    /// Clusters that could not be listed.
    pub problems: Vec<ClusterProblem>,
    /// Nodes PVE does not report online (for scoped users, only those hosting one of their VMs).
    pub nodes_down: Vec<NodeDown>,
}

/// A node that is not online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDown {
    /// Cluster name.
    pub cluster: String,
    /// Node name.
    pub node: String,
    /// PVE's status for it: `offline` or `unknown`.
    pub status: String,
}

/// A VM's current status, from `status/current`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmDetail {
    /// Cluster name.
    pub cluster: String,
    /// Node.
    pub node: NodeName,
    /// PVE's answer.
    pub status: pve::types::QemuStatus,
}

/// A task started by a power action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    /// Cluster the task runs in.
    pub cluster: String,
    /// PVE's task id.
    pub upid: Upid,
}

/// Progress of a task, for the task panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// True while the task runs.
    pub running: bool,
    /// PVE's exit status once stopped (`OK`, `WARNINGS: n`, or the error).
    pub exitstatus: Option<String>,
    /// The last lines of the task log.
    pub log: Vec<String>,
}

impl TaskProgress {
    /// True when the task ended without error.
    pub fn succeeded(&self) -> bool {
        !self.running
            && self
                .exitstatus
                .as_deref()
                .is_some_and(|s| s == "OK" || s.starts_with("WARNINGS"))
    }
}

/// A local user, as admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Which VMs the user may see.
    pub scope: crate::scope::Scope,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// A console the browser may open now: where its WebSocket goes. Carries no secret: the
/// session id in `ws_path` is random, single-use and bound to the user and VM on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleTicket {
    /// Path of the console WebSocket on this origin, e.g. `/api/console/ws?session=<id>`
    /// (or `?embed=<token>` for embed links).
    pub ws_path: String,
    /// The VM's name, for the title.
    pub vm_name: String,
    /// True when the relay drops keyboard, pointer and clipboard input.
    pub view_only: bool,
}

/// A freshly minted console embed link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedLink {
    /// Id of the link (for revoking).
    pub id: i64,
    /// Path of the embeddable page on this origin: `/embed/console?token=<token>`.
    pub url: String,
    /// When the link stops working, unix seconds.
    pub expires_at: i64,
}

/// A console embed link as admins see it in the list (without its token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedLinkInfo {
    /// Id of the link.
    pub id: i64,
    /// Cluster of the VM.
    pub cluster: String,
    /// Node of the VM when the link was made.
    pub node: String,
    /// VM id.
    pub vmid: u32,
    /// The partner origin allowed to frame the console (`https://portal.example`).
    pub origin: String,
    /// Admin who made the link.
    pub created_by: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Opens the console once only.
    pub single_use: bool,
    /// Input from the viewer is dropped.
    pub view_only: bool,
    /// When a single-use link was used, unix seconds.
    pub used_at: Option<i64>,
    /// When the link was revoked, unix seconds.
    pub revoked_at: Option<i64>,
    /// Number of recorded uses (allowed and refused).
    pub uses: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_lower_roles() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn task_success_needs_ok_or_warnings() {
        let done = |s: &str| TaskProgress {
            running: false,
            exitstatus: Some(s.into()),
            log: vec![],
        };
        assert!(done("OK").succeeded());
        assert!(done("WARNINGS: 2").succeeded());
        assert!(!done("VM 100 already running").succeeded());
        let running = TaskProgress {
            running: true,
            exitstatus: None,
            log: vec![],
        };
        assert!(!running.succeeded());
    }
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
}

/// A wall display link, as admins see it (the token itself is shown only when minted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallLinkInfo {
    /// Id, for revoking.
    pub id: i64,
    /// Name, e.g. the room the TV is in.
    pub label: String,
    /// Admin who minted it.
    pub created_by: String,
    /// Unix time minted.
    pub created_at: i64,
    /// Unix time revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A freshly minted wall link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallLink {
    /// Id, for revoking.
    pub id: i64,
    /// `/wall?token=…` — shown once; open it on the TV.
    pub url: String,
}

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
