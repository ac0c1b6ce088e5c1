//! A VM's hardware: the configuration with what waits for the next start (PVE's `pending`),
//! changes guarded by the config digest, and growing a disk. Viewers read; operators change.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::vms::TaskRef;
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    error::AppResult,
};

/// An option whose change waits for the VM's next start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingChange {
    /// The option (`cores`, `memory`, …).
    pub key: String,
    /// Its value now (`None`: not set).
    pub current: Option<String>,
    /// Its value after the next start (`None`: it is removed).
    pub pending: Option<String>,
}

/// A disk of the VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskLine {
    /// Config key: `scsi0`, `virtio1`, …
    pub key: String,
    /// PVE's property string: `local-lvm:vm-100-disk-0,size=32G`.
    pub value: String,
    /// True for a CD-ROM drive (it cannot be grown).
    pub cdrom: bool,
}

/// A network device of the VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NicLine {
    /// Config key: `net0`, `net1`, …
    pub key: String,
    /// Card model (`virtio`, `e1000`, …).
    pub model: String,
    /// MAC address.
    pub mac: String,
    /// Bridge (`None`: PVE's NATed user-mode network).
    pub bridge: Option<String>,
    /// VLAN tag.
    pub tag: Option<u16>,
    /// Protected by the PVE firewall.
    pub firewall: bool,
    /// Disconnected.
    pub link_down: bool,
    /// The value as PVE holds it, for what the panel does not show (`queues`, `rate`, …).
    pub value: String,
}

impl NicLine {
    /// The line for `net<n>`'s `value`.
    #[cfg(feature = "ssr")]
    fn of(key: &str, value: &str) -> Self {
        let nic = pve::types::NetDevice::parse(value).unwrap_or_default();
        Self {
            key: key.to_owned(),
            model: nic.model,
            mac: nic.macaddr.unwrap_or_default(),
            bridge: nic.bridge,
            tag: nic.tag,
            firewall: nic.firewall,
            link_down: nic.link_down,
            value: value.to_owned(),
        }
    }
}

/// The configuration as the form shows it: the values after the next start (pending changes
/// applied), and what is pending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmConfigView {
    /// Guards a change against a concurrent one.
    pub digest: String,
    /// Name.
    pub name: String,
    /// Cores per socket.
    pub cores: u32,
    /// Sockets.
    pub sockets: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Balloon minimum, MiB (`None`: PVE's default, the memory size; 0: no balloon).
    pub balloon_mib: Option<u64>,
    /// CPU type (`None`: PVE's default).
    pub cpu: Option<String>,
    /// Network devices, in index order.
    pub nics: Vec<NicLine>,
    /// Disks.
    pub disks: Vec<DiskLine>,
    /// What waits for the next start.
    pub pending: Vec<PendingChange>,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChanged {
    /// Options that changed at once.
    pub applied: Vec<String>,
    /// Options that wait for the next start (the VM runs and cannot take them live).
    pub pending: Vec<String>,
}

/// CPU types offered in the form (any other type PVE knows can stay as it is).
pub const CPU_TYPES: &[&str] = &[
    "x86-64-v2-AES",
    "x86-64-v3",
    "x86-64-v4",
    "host",
    "kvm64",
    "qemu64",
];

/// The VM's configuration and its pending changes (viewers, in scope).
#[server(prefix = "/api", endpoint = "vm_config")]
pub async fn load_vm_config(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<VmConfigView, AppError> {
    let vm = access::require_vm(Role::Viewer, &cluster, &node, &vmid).await?;
    let (config, pending) = futures::join!(
        vm.cluster.api.qemu_config(&vm.node, vm.vmid),
        vm.cluster.api.qemu_pending(&vm.node, vm.vmid)
    );
    let (config, pending) = (config?, pending?);
    let disks = config
        .disks()
        .into_iter()
        .map(|(key, value)| DiskLine {
            key: key.to_owned(),
            value: value.to_owned(),
            cdrom: value.contains("media=cdrom"),
        })
        .collect();
    Ok(VmConfigView {
        digest: config.digest.clone().unwrap_or_default(),
        name: config.name.clone().unwrap_or_default(),
        cores: config.cores.unwrap_or(1),
        sockets: config.sockets.unwrap_or(1),
        memory_mib: config.memory.unwrap_or(512),
        balloon_mib: config.balloon,
        cpu: config.cpu.clone(),
        nics: config
            .nets()
            .into_iter()
            .map(|(key, value)| NicLine::of(key, value))
            .collect(),
        disks,
        pending: pending
            .into_iter()
            .filter(|p| p.pending.is_some() || p.delete.is_some())
            .map(|p| PendingChange {
                key: p.key,
                current: p.value,
                pending: if p.delete.is_some() { None } else { p.pending },
            })
            .collect(),
    })
}

/// A name PVE takes (`dns-name`): labels of letters, digits and `-`, joined by dots.
#[cfg(feature = "ssr")]
pub(crate) fn check_name(name: &str) -> AppResult<()> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!(
            "VM name {:?}: letters, digits and - (not at the start or end of a part), parts joined by dots.",
            name.chars().take(64).collect::<String>()
        )))
    }
}

/// The form's values, checked as PVE checks them; returns the update of what differs from
/// `now`.
#[cfg(feature = "ssr")]
fn changes(
    now: &pve::types::QemuConfig,
    wanted: &ConfigForm,
) -> AppResult<pve::types::QemuConfigUpdate> {
    // Only what changed is checked and sent: a VM may hold values the form would refuse (no
    // name, a CPU with flags), and they must not block a change elsewhere.
    let invalid = |m: &str| AppError::InvalidInput(m.to_owned());
    let mut update = pve::types::QemuConfigUpdate::default();
    let name = wanted.name.trim();
    if now.name.as_deref().unwrap_or_default() != name {
        if name.is_empty() {
            update.delete.push("name".into());
        } else {
            check_name(name)?;
            update.name = Some(name.to_owned());
        }
    }
    if now.cores.unwrap_or(1) != wanted.cores {
        if wanted.cores == 0 || wanted.cores > 1024 {
            return Err(invalid("Cores per socket: 1 to 1024."));
        }
        update.cores = Some(wanted.cores);
    }
    if now.sockets.unwrap_or(1) != wanted.sockets {
        if wanted.sockets == 0 || wanted.sockets > 16 {
            return Err(invalid("Sockets: 1 to 16."));
        }
        update.sockets = Some(wanted.sockets);
    }
    if now.memory.unwrap_or(512) != wanted.memory_mib {
        if wanted.memory_mib < 16 {
            return Err(invalid("Memory: at least 16 MiB."));
        }
        update.memory = Some(wanted.memory_mib);
    }
    if now.balloon != wanted.balloon_mib {
        match wanted.balloon_mib {
            Some(b) if b > wanted.memory_mib => {
                return Err(invalid(
                    "The balloon minimum cannot be above the memory size.",
                ));
            }
            Some(b) => update.balloon = Some(b),
            None => update.delete.push("balloon".into()),
        }
    }
    let cpu = wanted.cpu.trim();
    let cpu_now = now.cpu.as_deref().unwrap_or_default();
    if cpu_now != cpu {
        if cpu.is_empty() {
            update.delete.push("cpu".into());
        } else {
            if cpu.len() > 64
                || !cpu
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(invalid("CPU type: letters, digits, -, _ and . only."));
            }
            update.cpu = Some(with_cputype(cpu_now, cpu));
        }
    }
    Ok(update)
}

/// The CPU property string `now` (`host,flags=+aes`) with its type replaced by `cputype`,
/// its other properties (flags, hidden, phys-bits) kept.
#[cfg(feature = "ssr")]
fn with_cputype(now: &str, cputype: &str) -> String {
    let rest = now
        .split(',')
        .filter(|p| !p.is_empty() && p.contains('=') && !p.starts_with("cputype="));
    std::iter::once(cputype)
        .chain(rest)
        .collect::<Vec<_>>()
        .join(",")
}

/// What the hardware form sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigForm {
    /// The digest the form was filled from.
    pub digest: String,
    /// Name.
    pub name: String,
    /// Cores per socket.
    pub cores: u32,
    /// Sockets.
    pub sockets: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Balloon minimum, MiB (`None`: PVE's default).
    pub balloon_mib: Option<u64>,
    /// CPU type (empty: PVE's default).
    pub cpu: String,
}

/// Changes the VM's hardware (operators, in scope). Refused with a conflict when the
/// configuration changed since the form was filled (the digest), so nobody's change is
/// overwritten unseen; answers what applied at once and what waits for the next start.
#[server(prefix = "/api", endpoint = "vm_config_update")]
pub async fn update_vm_config(
    cluster: String,
    node: String,
    vmid: String,
    form: ConfigForm,
) -> Result<ConfigChanged, AppError> {
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let now = vm.cluster.api.qemu_config(&vm.node, vm.vmid).await?;
    check_digest(&vm, &now, &form.digest)?;
    let update = changes(&now, &form)?;
    apply_update(&vm, &form.digest, update, "config change").await
}

/// The conflict answered when the configuration changed since a form was loaded.
#[cfg(feature = "ssr")]
fn conflict(vmid: pve::ids::VmId) -> AppError {
    AppError::Conflict(format!(
        "VM {vmid}'s configuration was changed by someone else since this form was loaded. \
         Nothing was changed: reload to see the current values, then make your change again."
    ))
}

/// Refuses a change made on a form loaded from another configuration than `now`.
#[cfg(feature = "ssr")]
pub(crate) fn check_digest(
    vm: &access::VmAccess,
    now: &pve::types::QemuConfig,
    digest: &str,
) -> AppResult<()> {
    if now.digest.as_deref() == Some(digest) {
        Ok(())
    } else {
        Err(conflict(vm.vmid))
    }
}

/// Sends `update` guarded by `digest` (PVE checks it again under its lock) and answers which
/// of its options applied at once and which wait for the next start; `what` names the change
/// in the log. Every change of a VM's configuration goes through here.
#[cfg(feature = "ssr")]
pub(crate) async fn apply_update(
    vm: &access::VmAccess,
    digest: &str,
    mut update: pve::types::QemuConfigUpdate,
    what: &'static str,
) -> AppResult<ConfigChanged> {
    let keys: Vec<String> = update
        .params()
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| k != "delete")
        .chain(update.delete.iter().cloned())
        .collect();
    if keys.is_empty() {
        return Ok(ConfigChanged {
            applied: Vec::new(),
            pending: Vec::new(),
        });
    }
    update.digest = Some(digest.to_owned());
    match vm
        .cluster
        .api
        .qemu_config_update(&vm.node, vm.vmid, &update)
        .await
    {
        Ok(()) => {}
        // PVE checked the digest again, under its lock: someone was quicker.
        Err(e) if e.to_string().contains("file change by other user") => {
            return Err(conflict(vm.vmid));
        }
        Err(e) => return Err(e.into()),
    }
    let pending = vm.cluster.api.qemu_pending(&vm.node, vm.vmid).await?;
    let waits = |key: &str| {
        pending
            .iter()
            .any(|p| p.key == key && (p.pending.is_some() || p.delete.is_some()))
    };
    let (pending, applied): (Vec<String>, Vec<String>) = keys.into_iter().partition(|k| waits(k));
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, ?applied, ?pending, "{what}");
    Ok(ConfigChanged { applied, pending })
}

/// Grows disk `disk` by `grow_gib` GiB (operators, in scope). PVE only grows disks.
#[server(prefix = "/api", endpoint = "vm_disk_grow")]
pub async fn grow_disk(
    cluster: String,
    node: String,
    vmid: String,
    disk: String,
    grow_gib: u64,
) -> Result<Option<TaskRef>, AppError> {
    if grow_gib == 0 || grow_gib > 65_536 {
        return Err(AppError::InvalidInput(
            "Grow the disk by 1 to 65536 GiB.".into(),
        ));
    }
    let disk: pve::ids::DiskName = disk
        .parse()
        .map_err(|e: pve::ids::InvalidId| AppError::InvalidInput(e.to_string()))?;
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let upid = vm
        .cluster
        .api
        .qemu_resize(
            &vm.node,
            vm.vmid,
            &disk,
            pve::types::DiskSize::Grow(grow_gib << 30),
        )
        .await?;
    tracing::info!(user = %vm.user.username, cluster = %vm.cluster.name, node = %vm.node, vmid = %vm.vmid, %disk, grow_gib, "disk grown");
    Ok(upid.map(|upid| TaskRef {
        cluster: vm.cluster.name.clone(),
        upid,
    }))
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> pve::types::QemuConfig {
        serde_json::from_value(json).unwrap()
    }

    fn form(name: &str, cores: u32, cpu: &str) -> ConfigForm {
        ConfigForm {
            digest: "d".into(),
            name: name.into(),
            cores,
            sockets: 1,
            memory_mib: 2048,
            balloon_mib: None,
            cpu: cpu.into(),
        }
    }

    #[test]
    fn a_new_cpu_type_keeps_the_cpus_other_properties() {
        assert_eq!(
            with_cputype("host,flags=+aes", "x86-64-v3"),
            "x86-64-v3,flags=+aes"
        );
        assert_eq!(
            with_cputype("cputype=kvm64,hidden=1", "host"),
            "host,hidden=1"
        );
        assert_eq!(with_cputype("", "host"), "host");
    }

    #[test]
    fn values_the_form_would_refuse_do_not_block_a_change_elsewhere() {
        // No name, a CPU with flags: both stay as they are while the cores change.
        let now = config(serde_json::json!({
            "cores": 2, "sockets": 1, "memory": "2048", "cpu": "host,flags=+aes", "digest": "d"
        }));
        let update = changes(&now, &form("", 4, "host,flags=+aes")).unwrap();
        assert_eq!(update.cores, Some(4));
        assert_eq!(update.name, None);
        assert_eq!(update.cpu, None);
        assert!(update.delete.is_empty(), "{:?}", update.delete);
        // A changed value is checked.
        let refused = changes(&now, &form("bad name!", 2, "host,flags=+aes"));
        assert!(matches!(refused, Err(AppError::InvalidInput(_))));
    }
}
