//! The property strings of a VM's network devices (`net<n>`) and new disks
//! (`<bus><n>: STORAGE:SIZE_IN_GiB,…`), as qemu-server parses and prints them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// NIC models PVE knows (the schema's `net[n].model` enum).
pub const NIC_MODELS: &[&str] = &[
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "virtio",
    "vmxnet3",
];

/// A network device (`virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,tag=20`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDevice {
    /// Card model (`virtio`, `e1000`, …).
    pub model: String,
    /// MAC address; PVE makes one up when it is missing.
    pub macaddr: Option<String>,
    /// Bridge (`vmbr0`); without one PVE gives the VM a NATed user-mode network.
    pub bridge: Option<String>,
    /// VLAN tag, 1 to 4094.
    pub tag: Option<u16>,
    /// Protected by the PVE firewall.
    pub firewall: bool,
    /// Disconnected, like a pulled cable.
    pub link_down: bool,
    /// Every other property (`mtu`, `queues`, `rate`, `trunks`), kept as it was.
    pub other: Vec<(String, String)>,
}

impl NetDevice {
    /// Parses `net<n>`'s value; `None` when it names no model.
    pub fn parse(value: &str) -> Option<Self> {
        let mut nic = NetDevice::default();
        for (i, part) in value.split(',').filter(|p| !p.is_empty()).enumerate() {
            let (key, v) = part.split_once('=').unwrap_or((part, ""));
            match key {
                k if NIC_MODELS.contains(&k) => {
                    nic.model = k.to_owned();
                    nic.macaddr = (!v.is_empty()).then(|| v.to_owned());
                }
                "model" => nic.model = v.to_owned(),
                "macaddr" => nic.macaddr = Some(v.to_owned()),
                "bridge" => nic.bridge = Some(v.to_owned()),
                "tag" => nic.tag = v.parse().ok(),
                "firewall" => nic.firewall = v == "1",
                "link_down" => nic.link_down = v == "1",
                k if i == 0 && v.is_empty() => nic.model = k.to_owned(),
                k => nic.other.push((k.to_owned(), v.to_owned())),
            }
        }
        (!nic.model.is_empty()).then_some(nic)
    }
}

/// PVE's `print_net` order: `model=MAC`, `bridge`, then the rest.
impl fmt::Display for NetDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.model)?;
        if let Some(mac) = &self.macaddr {
            write!(f, "={mac}")?;
        }
        if let Some(bridge) = &self.bridge {
            write!(f, ",bridge={bridge}")?;
        }
        if self.firewall {
            f.write_str(",firewall=1")?;
        }
        if self.link_down {
            f.write_str(",link_down=1")?;
        }
        if let Some(tag) = self.tag {
            write!(f, ",tag={tag}")?;
        }
        for (k, v) in &self.other {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

/// Disk buses and how many drives each takes.
pub const DISK_BUSES: &[(&str, u32)] = &[("scsi", 31), ("virtio", 16), ("sata", 6), ("ide", 4)];

/// A disk to create: `local-lvm:32,iothread=1` under `scsi1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDisk {
    /// Storage for the new volume.
    pub storage: String,
    /// Size in GiB.
    pub size_gib: u64,
    /// Other drive properties (`iothread=1`, `discard=on`).
    pub options: Vec<(String, String)>,
}

impl fmt::Display for NewDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.storage, self.size_gib)?;
        for (k, v) in &self.options {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nic_round_trips_in_pves_order() {
        let text = "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,tag=20,queues=4";
        let nic = NetDevice::parse(text).unwrap();
        assert_eq!(nic.model, "virtio");
        assert_eq!(nic.macaddr.as_deref(), Some("BC:24:11:00:00:01"));
        assert_eq!(
            (nic.tag, nic.firewall, nic.link_down),
            (Some(20), true, false)
        );
        assert_eq!(nic.to_string(), text);
        let bare = NetDevice::parse("e1000,bridge=vmbr1,link_down=1").unwrap();
        assert_eq!(bare.macaddr, None);
        assert_eq!(bare.to_string(), "e1000,bridge=vmbr1,link_down=1");
        let by_key = NetDevice::parse("model=rtl8139,macaddr=BC:24:11:00:00:02").unwrap();
        assert_eq!(by_key.to_string(), "rtl8139=BC:24:11:00:00:02");
        assert!(NetDevice::parse("").is_none());
    }

    #[test]
    fn a_new_disk_uses_the_allocation_syntax() {
        let disk = NewDisk {
            storage: "local-lvm".into(),
            size_gib: 32,
            options: vec![("iothread".into(), "1".into())],
        };
        assert_eq!(disk.to_string(), "local-lvm:32,iothread=1");
    }
}
