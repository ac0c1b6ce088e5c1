//! The simulated cluster: nodes, VMs and storages, with the lookups handlers need. Only static
//! facts and run state live here; usage values come from `metrics`.

pub(crate) mod devices;
mod generate;
pub(crate) mod options;
mod snapshot;
mod values;

use std::collections::BTreeMap;

pub(crate) use generate::{add_containers, generate, mac_address};
pub(crate) use snapshot::Snapshot;

use super::Error;

/// The whole cluster.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    /// Seed everything was generated from (metrics use it too).
    pub seed: u64,
    /// `democluster`.
    pub cluster_name: String,
    /// Nodes, sorted by name as Perl's `sort` does (byte order).
    pub nodes: Vec<Node>,
    /// VMs by VM ID.
    pub vms: BTreeMap<u32, Vm>,
    /// Storages defined cluster-wide, sorted by ID; each exists on every node.
    pub storages: Vec<Storage>,
    /// Resource pools: ID and comment.
    pub pools: BTreeMap<String, String>,
    /// LXC containers by ID, apart from the VMs so that no QEMU endpoint finds them. The same
    /// record as a VM's serves: name (the hostname), OS type, tags, cores, memory, power and
    /// runs mean the same; `scsi0` holds the `rootfs`, `net0` the container's `net0`, `extra`
    /// the other config keys.
    pub cts: BTreeMap<u32, Vm>,
    /// HA services of VMs (`vm:<id>`), by VM ID.
    pub ha: BTreeMap<u32, HaService>,
}

/// An HA-managed VM's service (`ha-manager add vm:<id>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HaService {
    /// The requested state: `started`, `stopped`, `disabled` or `ignored`.
    pub requested: String,
    /// True when the HA manager put the service in `error` (a failed start or relocation).
    pub error: bool,
}

impl HaService {
    /// What `/cluster/resources` says in `hastate`.
    pub(crate) fn hastate(&self) -> &str {
        if self.error { "error" } else { &self.requested }
    }
}

/// One cluster node.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub name: String,
    pub ip: String,
    pub maxcpu: u32,
    /// Bytes.
    pub maxmem: u64,
    /// Root file system size in bytes (also the `local` storage).
    pub maxdisk: u64,
    /// Size of the `local-lvm` thin pool in bytes.
    pub lvm_size: u64,
    /// Unix time the node booted.
    pub boot_time: i64,
    /// SHA-256 fingerprint of the node certificate, `AA:BB:…`.
    pub fingerprint: String,
    /// False while a fault marks it offline.
    pub online: bool,
}

/// Run state of a VM's QEMU process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Power {
    Stopped,
    Running,
    /// QEMU runs but is paused (`qmpause`): `status` running, `qmpstatus` paused.
    Paused,
}

/// One QEMU guest.
#[derive(Clone, Debug)]
pub(crate) struct Vm {
    pub vmid: u32,
    pub node: String,
    pub name: String,
    /// PVE `ostype` (`l26`, `win11`, …).
    pub ostype: &'static str,
    pub tags: Vec<String>,
    pub template: bool,
    /// The resource pool the VM is a member of.
    pub pool: Option<String>,
    pub sockets: u32,
    pub cores: u32,
    /// `memory` in MiB.
    pub memory_mib: u64,
    /// `balloon` minimum in MiB, when ballooning is configured with a minimum.
    pub balloon_mib: Option<u64>,
    /// Boot disk size in GiB.
    pub disk_gib: u64,
    /// QEMU guest agent enabled in the config.
    pub agent: bool,
    pub power: Power,
    /// Unix time QEMU was started (meaningful while running).
    pub started_at: i64,
    /// PID of the QEMU process (meaningful while running).
    pub pid: u32,
    /// Config lock (`backup`, `migrate`, `clone`, `suspended`, …).
    pub lock: Option<String>,
    /// Past runs of QEMU as (start, end) Unix times, oldest first (for `rrddata`).
    pub runs: Vec<(i64, i64)>,
    /// `description` (the notes).
    pub description: Option<String>,
    /// `onboot`.
    pub onboot: bool,
    /// `net0` as PVE stores it (`virtio=BC:24:11:…,bridge=vmbr0,firewall=1`).
    pub net0: String,
    /// `scsi0` as PVE stores it; its `size=` matches `disk_gib`.
    pub scsi0: String,
    /// Other config options, kept verbatim (`acpi`, `cpu`, `boot`, …).
    pub extra: BTreeMap<String, String>,
    /// A CPU load forced by the test control (`/_sim/vm/{vmid}/load`): `(fraction, since)`.
    pub cpu_override: Option<(f64, i64)>,
    /// Snapshots by name (the config's `[snapname]` sections).
    pub snapshots: BTreeMap<String, Snapshot>,
    /// `parent`: the snapshot the current state is based on.
    pub parent: Option<String>,
    /// The `[PENDING]` section: changes a running VM takes at its next start, by option.
    pub pending: BTreeMap<String, String>,
    /// The `[PENDING]` section's `delete`: options to remove at the next start, with their
    /// `force` flag.
    pub pending_delete: BTreeMap<String, bool>,
}

/// A storage definition (`storage.cfg` entry).
#[derive(Clone, Debug)]
pub(crate) struct Storage {
    pub id: String,
    pub plugintype: String,
    /// Content types, comma-separated (`images,rootdir`).
    pub content: String,
    pub shared: bool,
    /// `nodes`: the nodes the storage is available on; `None` for all.
    pub nodes: Option<Vec<String>>,
}

impl Storage {
    /// True if the storage is available on `node` (storage.cfg's `nodes`).
    pub(crate) fn on_node(&self, node: &str) -> bool {
        self.nodes
            .as_ref()
            .is_none_or(|nodes| nodes.iter().any(|n| n == node))
    }

    /// True if the storage holds content type `content` (`images`, `backup`, …).
    pub(crate) fn holds(&self, content: &str) -> bool {
        self.content.split(',').any(|c| c == content)
    }

    /// True for the storage types that keep volumes as files under a path (`dir`, `nfs`, …):
    /// their volume names are `<vmid>/<name>.<format>`.
    pub(crate) fn file_based(&self) -> bool {
        FILE_STORAGE_TYPES.contains(&self.plugintype.as_str())
    }

    /// True if the storage can hold a VM image in `format` (`raw`, `qcow2`, `vmdk`): files
    /// take all three, block storages only `raw`.
    pub(crate) fn takes_format(&self, format: &str) -> bool {
        format == "raw" || (self.file_based() && matches!(format, "qcow2" | "vmdk"))
    }
}

/// Storage types whose volumes are files (pve-storage plugins with a `path`).
pub(crate) const FILE_STORAGE_TYPES: &[&str] =
    &["dir", "btrfs", "nfs", "cifs", "cephfs", "glusterfs"];

/// Every storage type a simulated storage may have (pve-storage's plugins).
pub(crate) const STORAGE_TYPES: &[&str] = &[
    "btrfs",
    "cephfs",
    "cifs",
    "dir",
    "esxi",
    "glusterfs",
    "iscsi",
    "iscsidirect",
    "lvm",
    "lvmthin",
    "nfs",
    "pbs",
    "rbd",
    "zfs",
    "zfspool",
];

impl Model {
    /// pve-ha-manager's `vm_is_ha_managed`: VM `vmid` has an HA service that is not `ignored`
    /// (an ignored service behaves as if it were not managed). Here, not in `ha`, so that the
    /// migration checks need not depend on the HA manager that depends on them.
    pub(crate) fn ha_managed(&self, vmid: u32) -> bool {
        self.ha.get(&vmid).is_some_and(|s| s.requested != "ignored")
    }

    /// The node called `name`.
    pub(crate) fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// VM `vmid` if its config lives on `node` (PVE looks only at the local node's directory).
    pub(crate) fn vm_on(&self, node: &str, vmid: u32) -> Option<&Vm> {
        self.vms.get(&vmid).filter(|vm| vm.node == node)
    }

    /// VM `vmid` if it is on `node`, else qemu-server's "Configuration file … does not exist".
    pub(crate) fn existing_vm(&self, node: &str, vmid: u32) -> Result<&Vm, Error> {
        self.vm_on(node, vmid)
            .ok_or_else(|| Error::Failed(config_missing(node, vmid)))
    }

    /// Mutable [`Model::vm_on`].
    pub(crate) fn vm_on_mut(&mut self, node: &str, vmid: u32) -> Option<&mut Vm> {
        self.vms.get_mut(&vmid).filter(|vm| vm.node == node)
    }

    /// The storage called `id`.
    pub(crate) fn storage(&self, id: &str) -> Option<&Storage> {
        self.storages.iter().find(|s| s.id == id)
    }

    /// The VMs whose config lives on `node`.
    pub(crate) fn vms_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Vm> + 'a {
        self.vms.values().filter(move |vm| vm.node == node)
    }

    /// The containers on `node`, by ID.
    pub(crate) fn cts_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Vm> + 'a {
        self.cts.values().filter(move |ct| ct.node == node)
    }

    /// Every guest on `node`: VMs, then containers (what a node's usage adds up).
    pub(crate) fn guests_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Vm> + 'a {
        self.vms_on(node).chain(self.cts_on(node))
    }

    /// Container `vmid` if it is on `node`.
    pub(crate) fn ct_on(&self, node: &str, vmid: u32) -> Option<&Vm> {
        self.cts.get(&vmid).filter(|ct| ct.node == node)
    }

    /// Container `vmid` if it is on `node`, else pve-container's "Configuration file … does
    /// not exist".
    pub(crate) fn existing_ct(&self, node: &str, vmid: u32) -> Result<&Vm, Error> {
        self.ct_on(node, vmid)
            .ok_or_else(|| Error::Failed(ct_config_missing(node, vmid)))
    }

    /// Mutable [`Model::ct_on`].
    pub(crate) fn ct_on_mut(&mut self, node: &str, vmid: u32) -> Option<&mut Vm> {
        self.cts.get_mut(&vmid).filter(|ct| ct.node == node)
    }

    /// True when a VM or a container has ID `vmid` (they share the ID space).
    pub(crate) fn id_taken(&self, vmid: u32) -> bool {
        self.vms.contains_key(&vmid) || self.cts.contains_key(&vmid)
    }
}

impl Vm {
    /// `maxmem` in bytes.
    pub(crate) fn maxmem(&self) -> u64 {
        self.memory_mib * 1024 * 1024
    }

    /// `maxdisk` in bytes.
    pub(crate) fn maxdisk(&self) -> u64 {
        self.disk_gib * 1024 * 1024 * 1024
    }

    /// Bytes a container's root file system uses, as the host sees it (a VM's disk use is
    /// not seen: 0).
    pub(crate) fn ct_disk_used(&self) -> u64 {
        self.maxdisk() / 100 * (20 + u64::from(self.vmid % 50))
    }

    /// `cpus` as vmstatus computes it: sockets × cores, capped at the node's CPU count.
    pub(crate) fn cpus(&self, node_maxcpu: u32) -> u32 {
        (self.sockets * self.cores).min(node_maxcpu.max(1))
    }

    /// True while a QEMU process exists (running or paused).
    pub(crate) fn has_process(&self) -> bool {
        self.power != Power::Stopped
    }

    /// `status`: `running` or `stopped`.
    pub(crate) fn status(&self) -> &'static str {
        if self.has_process() {
            "running"
        } else {
            "stopped"
        }
    }

    /// QMP `query-status` (`running`, `paused`), or `stopped`.
    pub(crate) fn qmpstatus(&self) -> &'static str {
        match self.power {
            Power::Stopped => "stopped",
            Power::Running => "running",
            Power::Paused => "paused",
        }
    }

    /// Tags as PVE stores them: joined with `;`; `None` without tags.
    pub(crate) fn tags_string(&self) -> Option<String> {
        (!self.tags.is_empty()).then(|| self.tags.join(";"))
    }

    /// When the QEMU run that covers Unix time `t` started; `None` if the VM was off then.
    pub(crate) fn run_start_at(&self, t: i64) -> Option<i64> {
        if self.has_process() && t >= self.started_at {
            return Some(self.started_at);
        }
        self.runs
            .iter()
            .find(|(start, end)| *start <= t && t < *end)
            .map(|(start, _)| *start)
    }

    /// Records the end of the current run (before the power state becomes stopped).
    pub(crate) fn end_run(&mut self, now: i64) {
        if self.has_process() {
            self.runs.push((self.started_at, now));
        }
    }
}

/// PVE's message when a VM's config is not in `nodes/<node>/qemu-server/`.
pub(crate) fn config_missing(node: &str, vmid: u32) -> String {
    format!("Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist\n")
}

/// pve-container's message for a missing container config.
pub(crate) fn ct_config_missing(node: &str, vmid: u32) -> String {
    format!("Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist\n")
}

/// PVE's message from `check_running` when the config is not on this node.
pub(crate) fn config_not_on_node(node: &str, vmid: u32) -> String {
    format!("unable to find configuration file for VM {vmid} on node '{node}'\n")
}

/// `pve-node`: `^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$`.
pub(crate) fn is_node_name(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}
