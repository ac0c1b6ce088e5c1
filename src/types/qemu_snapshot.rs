//! QEMU snapshots (`/nodes/{node}/qemu/{vmid}/snapshot`) and pending config changes
//! (`/nodes/{node}/qemu/{vmid}/pending`).

use serde::{Deserialize, Serialize};

use super::de;
use super::params::Params;
use super::qemu_config::QemuConfig;
use crate::ids::SnapshotName;

/// The name PVE gives the entry for the VM's present state in the snapshot list.
pub const CURRENT: &str = "current";

/// An entry of `GET /nodes/{node}/qemu/{vmid}/snapshot`: a snapshot, or the `current` entry
/// (always last) for the VM as it is now. The entries form a tree through `parent`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuSnapshot {
    /// The snapshot's name, or `current`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub name: String,
    /// The description (`You are here!` for `current`).
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub description: String,
    /// The snapshot this one (or the present state) is based on; `None` at the root.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent: Option<String>,
    /// When it was taken, Unix time (not for `current`).
    #[serde(
        default,
        deserialize_with = "de::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub snaptime: Option<i64>,
    /// True when the snapshot includes the RAM (a rollback then resumes the VM).
    #[serde(default, deserialize_with = "de::bool_lenient")]
    pub vmstate: bool,
    /// `prepare` or `delete` while a task works on the snapshot.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub snapstate: Option<String>,
    /// Only `current`: whether the VM runs.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub running: Option<bool>,
    /// Only `current`: the config digest.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub digest: Option<String>,
}

impl QemuSnapshot {
    /// True for the `current` entry (the VM's present state, not a snapshot).
    pub fn is_current(&self) -> bool {
        self.name == CURRENT
    }

    /// The snapshot's name as an ID for the snapshot endpoints; `None` for `current` (and for
    /// a name PVE's schema would not accept).
    pub fn snapname(&self) -> Option<SnapshotName> {
        if self.is_current() {
            return None;
        }
        SnapshotName::parse(&self.name).ok()
    }

    /// True while a task is taking or deleting the snapshot (it cannot be rolled back to).
    pub fn is_incomplete(&self) -> bool {
        self.snapstate.is_some()
    }
}

/// Options of `POST /nodes/{node}/qemu/{vmid}/snapshot`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuSnapshotCreate {
    /// The new snapshot's name (`current` and `pending` are reserved: PVE refuses them).
    pub snapname: SnapshotName,
    /// A description.
    pub description: Option<String>,
    /// Save the RAM too; PVE ignores it for a stopped VM.
    pub vmstate: Option<bool>,
}

impl QemuSnapshotCreate {
    /// A snapshot called `snapname`, without RAM or description.
    pub fn new(snapname: SnapshotName) -> Self {
        Self {
            snapname,
            description: None,
            vmstate: None,
        }
    }

    /// The form.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.str("snapname", &self.snapname)
            .opt_str("description", self.description.as_deref())
            .opt_bool("vmstate", self.vmstate);
        p
    }
}

/// The answer of `GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config`: the config the
/// snapshot saved (its `parent` and `description` are the snapshot's own), plus when it was
/// taken and where its RAM is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QemuSnapshotConfig {
    /// When it was taken, Unix time.
    #[serde(
        default,
        deserialize_with = "de::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub snaptime: Option<i64>,
    /// The volume holding the saved RAM, if any (`local-lvm:vm-100-state-s1`).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub vmstate: Option<String>,
    /// `prepare` or `delete` while a task works on the snapshot.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub snapstate: Option<String>,
    /// The saved options.
    #[serde(flatten)]
    pub config: QemuConfig,
}

/// Whether a pending change removes the option (`delete` of `GET …/pending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PendingDelete {
    /// Removed at the next start.
    Delete,
    /// Removed at the next start, even if removing the volume fails (`force`).
    Force,
}

fn de_pending_delete<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<PendingDelete>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s == "delete" => Some(PendingDelete::Delete),
        Some(serde_json::Value::String(s)) if s == "force" => Some(PendingDelete::Force),
        Some(other) => {
            let n = other
                .as_u64()
                .or_else(|| other.as_str().and_then(|s| s.trim().parse().ok()));
            match n {
                None | Some(0) => None,
                Some(2) => Some(PendingDelete::Force),
                Some(_) => Some(PendingDelete::Delete),
            }
        }
    })
}

/// An entry of `GET /nodes/{node}/qemu/{vmid}/pending`: one option with its current value and
/// the change waiting for the VM's next start (a running VM cannot take every change at once,
/// e.g. cores or, without memory hot-plug, memory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuPendingEntry {
    /// The option, e.g. `cores`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub key: String,
    /// The value now; `None` for an option only being added.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
    /// The value after the next start, if it changes.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub pending: Option<String>,
    /// Whether the option goes at the next start.
    #[serde(
        default,
        deserialize_with = "de_pending_delete",
        skip_serializing_if = "Option::is_none"
    )]
    pub delete: Option<PendingDelete>,
}

impl QemuPendingEntry {
    /// True when the option changes (or goes) at the next start.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some() || self.delete.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_list_entries() {
        let list: Vec<QemuSnapshot> = serde_json::from_value(serde_json::json!([
            {"name": "s1", "snaptime": 1783271154, "vmstate": 0, "description": ""},
            {"name": "s2", "parent": "s1", "snaptime": "1783271200", "vmstate": 1,
             "description": "with RAM", "snapstate": "prepare"},
            {"name": "current", "parent": "s2", "running": 1, "digest": "ab12",
             "description": "You are here!"}
        ]))
        .unwrap();
        assert_eq!(list[0].snapname().unwrap().as_str(), "s1");
        assert!(list[1].vmstate && list[1].is_incomplete());
        assert_eq!(list[1].snaptime, Some(1_783_271_200));
        assert!(list[2].is_current() && list[2].snapname().is_none());
        assert_eq!(list[2].running, Some(true));
        let back: Vec<QemuSnapshot> =
            serde_json::from_str(&serde_json::to_string(&list).unwrap()).unwrap();
        assert_eq!(back, list);
    }

    #[test]
    fn create_params() {
        let mut c = QemuSnapshotCreate::new(SnapshotName::parse("before-upgrade").unwrap());
        c.vmstate = Some(true);
        c.description = Some("kernel 6.17".into());
        let enc: Vec<String> = c.params().iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(
            enc,
            [
                "snapname=before-upgrade",
                "description=kernel 6.17",
                "vmstate=1"
            ]
        );
    }

    #[test]
    fn snapshot_config_and_pending() {
        let c: QemuSnapshotConfig = serde_json::from_value(serde_json::json!({
            "name": "web", "cores": 2, "snaptime": 1783271154, "parent": "s0",
            "vmstate": "local-lvm:vm-100-state-s1", "scsi0": "local-lvm:vm-100-disk-0,size=32G"
        }))
        .unwrap();
        assert_eq!(c.snaptime, Some(1_783_271_154));
        assert_eq!(c.config.cores, Some(2));
        assert_eq!(c.config.parent.as_deref(), Some("s0"));
        assert!(!c.config.extra.contains_key("snaptime"));
        assert_eq!(c.vmstate.as_deref(), Some("local-lvm:vm-100-state-s1"));

        let p: Vec<QemuPendingEntry> = serde_json::from_value(serde_json::json!([
            {"key": "cores", "value": "2", "pending": "4"},
            {"key": "memory", "value": 4096},
            {"key": "numa", "value": "0", "delete": 1},
            {"key": "scsi1", "delete": 2},
            {"key": "agent", "pending": "1"}
        ]))
        .unwrap();
        assert!(p[0].is_pending() && !p[1].is_pending());
        assert_eq!(p[1].value.as_deref(), Some("4096"));
        assert_eq!(p[2].delete, Some(PendingDelete::Delete));
        assert_eq!(p[3].delete, Some(PendingDelete::Force));
        assert_eq!(p[4].value, None);
        let back: Vec<QemuPendingEntry> =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
