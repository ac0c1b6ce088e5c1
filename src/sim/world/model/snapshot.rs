//! A VM's snapshots as its config file keeps them: each `[snapname]` section is a copy of the
//! config options at snapshot time (pve-guest-common `__snapshot_copy_config`: everything but
//! the description, lock and unused disks) plus the snapshot's own `parent`, `snaptime`,
//! `description`, `vmstate` and, while a task works on it, `snapstate`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Vm;
use super::options::config_map;

/// The config options a snapshot saves and a rollback restores.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SavedConfig {
    pub name: String,
    pub ostype: &'static str,
    pub tags: Vec<String>,
    pub sockets: u32,
    pub cores: u32,
    pub memory_mib: u64,
    pub balloon_mib: Option<u64>,
    pub disk_gib: u64,
    pub agent: bool,
    pub onboot: bool,
    pub net0: String,
    pub scsi0: String,
    pub extra: BTreeMap<String, String>,
}

/// One snapshot.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Snapshot {
    /// The options as they were.
    pub config: SavedConfig,
    /// The snapshot this one was taken on top of.
    pub parent: Option<String>,
    /// Unix time it was taken.
    pub snaptime: i64,
    /// The user's description.
    pub description: Option<String>,
    /// Volume holding the saved RAM (`local-lvm:vm-100-state-name`), for a snapshot of a
    /// running VM taken with `vmstate`.
    pub vmstate: Option<String>,
    /// `prepare` while being taken, `delete` while being deleted.
    pub snapstate: Option<String>,
}

impl Vm {
    /// The options a snapshot saves.
    pub(crate) fn saved_config(&self) -> SavedConfig {
        SavedConfig {
            name: self.name.clone(),
            ostype: self.ostype,
            tags: self.tags.clone(),
            sockets: self.sockets,
            cores: self.cores,
            memory_mib: self.memory_mib,
            balloon_mib: self.balloon_mib,
            disk_gib: self.disk_gib,
            agent: self.agent,
            onboot: self.onboot,
            net0: self.net0.clone(),
            scsi0: self.scsi0.clone(),
            extra: self.extra.clone(),
        }
    }

    /// Puts the saved options back (a rollback keeps the description).
    pub(crate) fn restore(&mut self, saved: &SavedConfig) {
        let s = saved.clone();
        self.name = s.name;
        self.ostype = s.ostype;
        self.tags = s.tags;
        self.sockets = s.sockets;
        self.cores = s.cores;
        self.memory_mib = s.memory_mib;
        self.balloon_mib = s.balloon_mib;
        self.disk_gib = s.disk_gib;
        self.agent = s.agent;
        self.onboot = s.onboot;
        self.net0 = s.net0;
        self.scsi0 = s.scsi0;
        self.extra = s.extra;
    }

    /// The volume ID of the boot disk (`local-lvm:vm-100-disk-0`).
    pub(crate) fn disk_volid(&self) -> &str {
        self.scsi0.split(',').next().unwrap_or_default()
    }

    /// The `[snapname]` section as `GET …/snapshot/{snapname}/config` answers it.
    pub(crate) fn snapshot_json(&self, snap: &Snapshot) -> Map<String, Value> {
        let mut at = self.clone();
        at.restore(&snap.config);
        at.description = snap.description.clone();
        at.parent = snap.parent.clone();
        at.lock = None;
        let mut m = config_map(&at);
        m.insert("snaptime".into(), json!(snap.snaptime));
        if let Some(v) = &snap.vmstate {
            m.insert("vmstate".into(), json!(v));
            m.insert("runningmachine".into(), json!("pc-i440fx-10.1+pve0"));
            let cpu = at.extra.get("cpu").map_or("kvm64", String::as_str);
            m.insert(
                "runningcpu".into(),
                json!(format!("{cpu},enforce,+kvm_pv_eoi,+kvm_pv_unhalt")),
            );
        }
        if let Some(s) = &snap.snapstate {
            m.insert("snapstate".into(), json!(s));
        }
        m
    }
}
