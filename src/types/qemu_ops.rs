//! QEMU actions beyond power: clone, migrate (precondition and start), resize, restore from a
//! backup, and the VNC console proxy.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::de;
use super::params::Params;
use crate::ids::{NodeName, StorageId, Upid, VmId, Volid};

/// Options of `POST /nodes/{node}/qemu/{vmid}/clone`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuClone {
    /// ID of the new VM.
    pub newid: VmId,
    /// Name of the new VM.
    pub name: Option<String>,
    /// Notes of the new VM.
    pub description: Option<String>,
    /// Full copy of all disks (PVE's default for VMs; templates default to linked clones).
    pub full: Option<bool>,
    /// Node to create the clone on (needs shared storage).
    pub target: Option<NodeName>,
    /// Storage for a full clone's disks.
    pub storage: Option<StorageId>,
    /// Add the new VM to this pool.
    pub pool: Option<String>,
    /// Clone from this snapshot.
    pub snapname: Option<String>,
    /// Disk format for a full clone: `raw`, `qcow2` or `vmdk`.
    pub format: Option<String>,
    /// IO bandwidth limit, KiB/s.
    pub bwlimit: Option<u64>,
}

impl QemuClone {
    /// A clone to `newid` with PVE's defaults for everything else.
    pub fn new(newid: VmId) -> Self {
        Self {
            newid,
            name: None,
            description: None,
            full: None,
            target: None,
            storage: None,
            pool: None,
            snapname: None,
            format: None,
            bwlimit: None,
        }
    }

    /// The form.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.int("newid", self.newid.get())
            .opt_str("name", self.name.as_deref())
            .opt_str("description", self.description.as_deref())
            .opt_bool("full", self.full)
            .opt_str("target", self.target.as_ref())
            .opt_str("storage", self.storage.as_ref())
            .opt_str("pool", self.pool.as_deref())
            .opt_str("snapname", self.snapname.as_deref())
            .opt_str("format", self.format.as_deref())
            .opt_int("bwlimit", self.bwlimit.map(clamp));
        p
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Options of `POST /nodes/{node}/qemu/{vmid}/migrate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuMigrate {
    /// Target node.
    pub target: NodeName,
    /// Live migration of a running VM (PVE refuses to migrate a running VM without it).
    pub online: Option<bool>,
    /// Also copy local disks.
    pub with_local_disks: Option<bool>,
    /// Target storage mapping: one storage ID, `source:target` pairs, or `1` (same names).
    pub targetstorage: Option<String>,
    /// Allow migrating VMs with local devices (root only).
    pub force: Option<bool>,
    /// Bandwidth limit, KiB/s.
    pub bwlimit: Option<u64>,
}

impl QemuMigrate {
    /// A migration to `target` with PVE's defaults (offline, shared disks only).
    pub fn to(target: NodeName) -> Self {
        Self {
            target,
            online: None,
            with_local_disks: None,
            targetstorage: None,
            force: None,
            bwlimit: None,
        }
    }

    /// The form.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.str("target", &self.target)
            .opt_bool("online", self.online)
            .opt_bool("with-local-disks", self.with_local_disks)
            .opt_str("targetstorage", self.targetstorage.as_deref())
            .opt_bool("force", self.force)
            .opt_int("bwlimit", self.bwlimit.map(clamp));
        p
    }
}

/// A local disk that a migration would have to copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalDisk {
    /// Volume ID.
    #[serde(deserialize_with = "de::string_lenient")]
    pub volid: String,
    /// Size, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    /// True for a CD-ROM image.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub cdrom: Option<bool>,
    /// True for a disk not attached to the VM.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub is_unused: Option<bool>,
    /// Config key that references the disk, when reported.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub drivename: Option<String>,
}

/// Why a node cannot take the VM (`not_allowed_nodes` entry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotAllowedNode {
    /// Storages the VM uses that the node lacks.
    #[serde(default)]
    pub unavailable_storages: Vec<String>,
    /// Other reasons as PVE sent them (e.g. `blocking-ha-resources`).
    #[serde(flatten)]
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The answer of `GET /nodes/{node}/qemu/{vmid}/migrate`: whether and where the VM can move.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MigratePrecondition {
    /// True when the VM runs (then only an online migration works).
    #[serde(default, deserialize_with = "de::bool_lenient")]
    pub running: bool,
    /// Nodes the VM can move to (only when no target was given).
    #[serde(default)]
    pub allowed_nodes: Vec<String>,
    /// Nodes it cannot move to, with the reasons.
    #[serde(default)]
    pub not_allowed_nodes: std::collections::BTreeMap<String, NotAllowedNode>,
    /// Local disks (copy with `with-local-disks`).
    #[serde(default)]
    pub local_disks: Vec<LocalDisk>,
    /// Local resources (PCI, USB devices) that block migration.
    #[serde(default)]
    pub local_resources: Vec<String>,
    /// Mapped resources (deprecated by PVE in favour of `mapped-resource-info`).
    #[serde(rename = "mapped-resources", default)]
    pub mapped_resources: Vec<String>,
}

impl MigratePrecondition {
    /// True when `node` is listed as an allowed target.
    pub fn allows(&self, node: &str) -> bool {
        self.allowed_nodes.iter().any(|n| n == node)
    }
}

/// The new size for `PUT /nodes/{node}/qemu/{vmid}/resize`. PVE only grows disks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskSize {
    /// Grow by this many bytes (sent as `+<bytes>`).
    Grow(u64),
    /// Grow to this total size, bytes.
    Total(u64),
}

impl fmt::Display for DiskSize {
    /// PVE's size text: `+1073741824` or `34359738368` (plain numbers are bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskSize::Grow(b) => write!(f, "+{b}"),
            DiskSize::Total(b) => write!(f, "{b}"),
        }
    }
}

/// Options of a restore: `POST /nodes/{node}/qemu` with `archive`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuRestore {
    /// VM ID to restore to.
    pub vmid: VmId,
    /// The backup, e.g. `local:backup/vzdump-qemu-100-….vma.zst`.
    pub archive: Volid,
    /// Storage for the restored disks (default: where they were).
    pub storage: Option<StorageId>,
    /// Overwrite an existing (stopped) VM with this ID.
    pub force: Option<bool>,
    /// Give the restored VM new MAC addresses and a new vmgenid.
    pub unique: Option<bool>,
    /// Start the VM at once and restore in the background (PBS backups only).
    pub live_restore: Option<bool>,
    /// Start the VM after the restore.
    pub start: Option<bool>,
    /// Add the VM to this pool.
    pub pool: Option<String>,
    /// IO bandwidth limit, KiB/s.
    pub bwlimit: Option<u64>,
}

impl QemuRestore {
    /// Restores `archive` to `vmid` with PVE's defaults.
    pub fn new(vmid: VmId, archive: Volid) -> Self {
        Self {
            vmid,
            archive,
            storage: None,
            force: None,
            unique: None,
            live_restore: None,
            start: None,
            pool: None,
            bwlimit: None,
        }
    }

    /// The form.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.int("vmid", self.vmid.get())
            .str("archive", &self.archive)
            .opt_str("storage", self.storage.as_ref())
            .opt_bool("force", self.force)
            .opt_bool("unique", self.unique)
            .opt_bool("live-restore", self.live_restore)
            .opt_bool("start", self.start)
            .opt_str("pool", self.pool.as_deref())
            .opt_int("bwlimit", self.bwlimit.map(clamp));
        p
    }
}

/// The VNC port as a number; PVE sends it as a string (`"5900"`) although its schema says
/// integer.
fn de_port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = de::u64_lenient(d)?;
    u16::try_from(n).map_err(|_| serde::de::Error::custom(format!("port {n} out of range")))
}

/// The answer of `POST /nodes/{node}/qemu/{vmid}/vncproxy` with `websocket=1`.
///
/// `Debug` hides the ticket and password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct VncProxy {
    /// User the ticket is bound to (`user@realm`, or `user@realm!token`).
    #[serde(deserialize_with = "de::string_lenient")]
    pub user: String,
    /// The VNC ticket for `vncwebsocket` (valid about 40 s on current PVE).
    #[serde(deserialize_with = "de::string_lenient")]
    pub ticket: String,
    /// VNC password for the RFB handshake. PVE 9.1.7+ / 8.4.7+ always send it; older versions
    /// only with `generate-password=1` (else the ticket is the password).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub password: Option<String>,
    /// Port of the proxy on the node (5900–5999).
    #[serde(deserialize_with = "de_port")]
    pub port: u16,
    /// Task of the proxy process.
    pub upid: Upid,
    /// The cluster CA certificate (PEM).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cert: Option<String>,
}

impl VncProxy {
    /// The password to answer the VNC authentication with: `password`, or for PVE versions
    /// that do not send one, the ticket (QEMU compares only its first 8 bytes).
    pub fn vnc_password(&self) -> &str {
        self.password.as_deref().unwrap_or(&self.ticket)
    }
}

impl fmt::Debug for VncProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VncProxy")
            .field("user", &self.user)
            .field("ticket", &"<redacted>")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("port", &self.port)
            .field("upid", &self.upid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_and_migrate_params() {
        let mut c = QemuClone::new(VmId::new(201).unwrap());
        c.full = Some(true);
        c.name = Some("web-copy".into());
        let enc: Vec<String> = c.params().iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(enc, ["newid=201", "name=web-copy", "full=1"]);

        let mut m = QemuMigrate::to(NodeName::parse("pve2").unwrap());
        m.online = Some(true);
        m.with_local_disks = Some(false);
        let enc: Vec<String> = m.params().iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(enc, ["target=pve2", "online=1", "with-local-disks=0"]);
    }

    #[test]
    fn sizes() {
        assert_eq!(DiskSize::Grow(1 << 30).to_string(), "+1073741824");
        assert_eq!(DiskSize::Total(5).to_string(), "5");
    }

    #[test]
    fn vncproxy_port_string_and_redaction() {
        let v: VncProxy = serde_json::from_value(serde_json::json!({
            "user": "root@pam!sdk", "ticket": "PVEVNC:SECRET", "port": "5900",
            "upid": "UPID:pve:00058703:0078E322:6A4BB5CD:vncproxy:9102:root@pam!sdk:",
            "cert": "-----BEGIN CERTIFICATE-----\n"
        }))
        .unwrap();
        assert_eq!(v.port, 5900);
        assert_eq!(v.password, None);
        assert_eq!(v.vnc_password(), "PVEVNC:SECRET");
        assert!(!format!("{v:?}").contains("SECRET"));
        let bad = serde_json::json!({"user":"u@pam","ticket":"t","port":"70000",
            "upid":"UPID:pve:00058703:0078E322:6A4BB5CD:vncproxy:9102:root@pam:"});
        assert!(serde_json::from_value::<VncProxy>(bad).is_err());
    }
}
