//! A VM's network devices and new disks (operators): add, change or remove a NIC, add a
//! disk. Each change carries the digest the hardware panel was loaded with, so it never
//! overwrites a change made meanwhile, and answers what applied at once and what waits for
//! the next start (a running VM takes NICs and SCSI/VirtIO disks at once when hot-plug allows).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    error::AppResult,
    vm_config::{apply_update, check_digest},
};
use crate::{error::AppError, vm_config::ConfigChanged};

/// What the NIC and disk forms offer on the VM's node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceOptions {
    /// Bridges of the node, sorted.
    pub bridges: Vec<String>,
    /// Storages of the node that hold VM disks.
    pub storages: Vec<String>,
    /// NIC models PVE knows.
    pub models: Vec<String>,
    /// Disk buses.
    pub buses: Vec<String>,
}

/// What the NIC form sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NicForm {
    /// Card model.
    pub model: String,
    /// Bridge on the VM's node.
    pub bridge: String,
    /// VLAN tag (`None`: untagged).
    pub tag: Option<u16>,
    /// Protected by the PVE firewall.
    pub firewall: bool,
    /// Disconnected.
    pub link_down: bool,
}

/// What the disk form sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskForm {
    /// Bus: `scsi`, `virtio`, `sata` or `ide`.
    pub bus: String,
    /// Storage for the new volume.
    pub storage: String,
    /// Size, GiB.
    pub size_gib: u64,
}

/// A device change that was made: the device's config key and what applied when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceChanged {
    /// `net1`, `scsi2`, …
    pub key: String,
    /// What applied at once and what waits for the next start.
    pub changed: ConfigChanged,
}

/// The bridges and disk storages of the VM's node (operators, in scope).
#[server(prefix = "/api", endpoint = "vm_device_choices")]
pub async fn device_choices(
    cluster: String,
    node: String,
    vmid: String,
) -> Result<DeviceOptions, AppError> {
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let (bridges, storages) = futures::join!(bridges(&vm), vm.cluster.disk_storages(&vm.node));
    Ok(DeviceOptions {
        bridges: bridges?,
        storages: storages?,
        models: pve::types::NIC_MODELS
            .iter()
            .map(|m| (*m).to_owned())
            .collect(),
        buses: pve::types::DISK_BUSES
            .iter()
            .map(|(b, _)| (*b).to_owned())
            .collect(),
    })
}

/// The node's bridges, sorted.
#[cfg(feature = "ssr")]
async fn bridges(vm: &access::VmAccess) -> AppResult<Vec<String>> {
    let list = vm
        .cluster
        .api
        .node_network(&vm.node, Some(pve::types::InterfaceFilter::AnyBridge))
        .await?;
    let mut names: Vec<String> = list
        .into_iter()
        .filter(|i| i.is_bridge())
        .map(|i| i.iface)
        .collect();
    names.sort();
    Ok(names)
}

/// `net<n>`, checked: `key` must name a network device slot.
#[cfg(feature = "ssr")]
fn nic_key(key: &str) -> AppResult<u32> {
    key.strip_prefix("net")
        .filter(|n| !n.starts_with('0') || *n == "0")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n < 32)
        .ok_or_else(|| {
            AppError::InvalidInput(format!("{key:?} is not a network device (net0 to net31)."))
        })
}

/// The form's values checked against what PVE and the node allow.
#[cfg(feature = "ssr")]
async fn check_nic(vm: &access::VmAccess, form: &NicForm) -> AppResult<()> {
    if !pve::types::NIC_MODELS.contains(&form.model.as_str()) {
        return Err(AppError::InvalidInput(format!(
            "Model {:?}: choose one of {}.",
            form.model.chars().take(32).collect::<String>(),
            pve::types::NIC_MODELS.join(", ")
        )));
    }
    if let Some(tag) = form.tag
        && !(1..=4094).contains(&tag)
    {
        return Err(AppError::InvalidInput(
            "VLAN tag: 1 to 4094, or empty for none.".into(),
        ));
    }
    let bridges = bridges(vm).await?;
    if !bridges.contains(&form.bridge) {
        return Err(AppError::InvalidInput(format!(
            "Bridge {:?} does not exist on node {}; it has {}.",
            form.bridge.chars().take(32).collect::<String>(),
            vm.node,
            bridges.join(", ")
        )));
    }
    Ok(())
}

/// Adds a network device (`key` empty: the lowest free `net<n>`) or changes `key`'s, keeping
/// its MAC address and the properties the form does not show (operators, in scope).
#[server(prefix = "/api", endpoint = "vm_nic_save")]
pub async fn save_nic(
    cluster: String,
    node: String,
    vmid: String,
    digest: String,
    key: String,
    nic: NicForm,
) -> Result<DeviceChanged, AppError> {
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let editing = (!key.is_empty()).then(|| nic_key(&key)).transpose()?;
    let now = vm.cluster.api.qemu_config(&vm.node, vm.vmid).await?;
    check_digest(&vm, &now, &digest)?;
    check_nic(&vm, &nic).await?;
    let (key, mut device) = match editing {
        Some(n) => {
            let key = format!("net{n}");
            let value = now.get(&key).ok_or_else(|| {
                AppError::InvalidInput(format!("VM {} has no network device {key}.", vm.vmid))
            })?;
            (key, pve::types::NetDevice::parse(value).unwrap_or_default())
        }
        None => {
            let free = (0..32)
                .map(|n| format!("net{n}"))
                .find(|k| now.get(k).is_none());
            let key = free.ok_or_else(|| {
                AppError::InvalidInput(format!(
                    "VM {} has 32 network devices, the most Proxmox VE allows.",
                    vm.vmid
                ))
            })?;
            (key, pve::types::NetDevice::default())
        }
    };
    device.model = nic.model;
    device.bridge = Some(nic.bridge);
    device.tag = nic.tag;
    device.firewall = nic.firewall;
    device.link_down = nic.link_down;
    let mut update = pve::types::QemuConfigUpdate::default();
    update.set.insert(key.clone(), device.to_string());
    let changed = apply_update(&vm, &digest, update, "network device saved").await?;
    Ok(DeviceChanged { key, changed })
}

/// Removes network device `key` (operators, in scope).
#[server(prefix = "/api", endpoint = "vm_nic_remove")]
pub async fn remove_nic(
    cluster: String,
    node: String,
    vmid: String,
    digest: String,
    key: String,
) -> Result<DeviceChanged, AppError> {
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let key = format!("net{}", nic_key(&key)?);
    let now = vm.cluster.api.qemu_config(&vm.node, vm.vmid).await?;
    check_digest(&vm, &now, &digest)?;
    if now.get(&key).is_none() {
        return Err(AppError::InvalidInput(format!(
            "VM {} has no network device {key}.",
            vm.vmid
        )));
    }
    let update = pve::types::QemuConfigUpdate {
        delete: vec![key.clone()],
        ..Default::default()
    };
    let changed = apply_update(&vm, &digest, update, "network device removed").await?;
    Ok(DeviceChanged { key, changed })
}

/// Adds a new, empty disk on the lowest free slot of the bus (operators, in scope).
#[server(prefix = "/api", endpoint = "vm_disk_add")]
pub async fn add_disk(
    cluster: String,
    node: String,
    vmid: String,
    digest: String,
    disk: DiskForm,
) -> Result<DeviceChanged, AppError> {
    let Some(&(bus, slots)) = pve::types::DISK_BUSES.iter().find(|(b, _)| *b == disk.bus) else {
        return Err(AppError::InvalidInput(
            "Bus: SCSI, VirtIO, SATA or IDE.".into(),
        ));
    };
    if disk.size_gib == 0 || disk.size_gib > 65_536 {
        return Err(AppError::InvalidInput("Size: 1 to 65536 GiB.".into()));
    }
    let vm = access::require_vm(Role::Operator, &cluster, &node, &vmid).await?;
    let now = vm.cluster.api.qemu_config(&vm.node, vm.vmid).await?;
    check_digest(&vm, &now, &digest)?;
    let storages = vm.cluster.disk_storages(&vm.node).await?;
    if !storages.contains(&disk.storage) {
        return Err(AppError::InvalidInput(format!(
            "Storage {:?} does not hold VM disks on node {}; choose one of {}.",
            disk.storage.chars().take(32).collect::<String>(),
            vm.node,
            storages.join(", ")
        )));
    }
    let key = (0..slots)
        .map(|n| format!("{bus}{n}"))
        .find(|k| now.get(k).is_none())
        .ok_or_else(|| {
            AppError::InvalidInput(format!(
                "Every {bus} slot of VM {} is taken ({slots}); choose another bus.",
                vm.vmid
            ))
        })?;
    let new = pve::types::NewDisk {
        storage: disk.storage,
        size_gib: disk.size_gib,
        options: Vec::new(),
    };
    let mut update = pve::types::QemuConfigUpdate::default();
    update.set.insert(key.clone(), new.to_string());
    let changed = apply_update(&vm, &digest, update, "disk added").await?;
    Ok(DeviceChanged { key, changed })
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn only_net_slots_are_nic_keys() {
        assert_eq!(nic_key("net0").unwrap(), 0);
        assert_eq!(nic_key("net31").unwrap(), 31);
        for bad in ["net32", "net01", "net", "scsi0", "net-1", "net1/../x"] {
            assert!(nic_key(bad).is_err(), "{bad}");
        }
    }
}
