//! A VM's configuration: `GET /nodes/{node}/qemu/{vmid}/config`, and the changes sent with
//! `PUT` (synchronous) or `POST` (asynchronous) to the same path.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::cluster::split_tags;
use super::de;
use super::params::Params;

/// Memory size in MiB from `2048`, `"2048"` or the PVE 8+ property string `"current=2048"`.
fn de_memory<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.split(',').find_map(|part| {
            let value = part.strip_prefix("current=").unwrap_or(part);
            value.trim().parse().ok()
        }),
        _ => None,
    })
}

/// Disk and device keys of a QEMU config, by bus.
const DISK_PREFIXES: &[&str] = &["ide", "sata", "scsi", "virtio", "efidisk", "tpmstate"];

/// The answer of `GET /nodes/{node}/qemu/{vmid}/config`: the common options typed, every other
/// key (disks, network devices, …) in [`QemuConfig::extra`] as PVE sent it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QemuConfig {
    /// VM name.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Notes (Markdown, may span lines).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// Memory, MiB.
    #[serde(
        default,
        deserialize_with = "de_memory",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<u64>,
    /// Balloon target, MiB (0 disables the balloon device).
    #[serde(
        default,
        deserialize_with = "de::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub balloon: Option<u64>,
    /// Cores per socket.
    #[serde(
        default,
        deserialize_with = "de::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub cores: Option<u32>,
    /// CPU sockets.
    #[serde(
        default,
        deserialize_with = "de::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub sockets: Option<u32>,
    /// Hot-plugged vCPUs.
    #[serde(
        default,
        deserialize_with = "de::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub vcpus: Option<u32>,
    /// CPU type and flags, e.g. `x86-64-v2-AES` or `host`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu: Option<String>,
    /// CPU limit in CPUs (0 = none).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpulimit: Option<f64>,
    /// CPU weight.
    #[serde(
        default,
        deserialize_with = "de::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpuunits: Option<u32>,
    /// NUMA emulation.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub numa: Option<bool>,
    /// Start at boot.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub onboot: Option<bool>,
    /// Protection against removal.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub protection: Option<bool>,
    /// True for templates.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub template: Option<bool>,
    /// Guest OS type (`l26`, `win11`, `other`, …).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub ostype: Option<String>,
    /// Boot order, e.g. `order=scsi0;ide2;net0`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub boot: Option<String>,
    /// Guest agent settings, e.g. `1` or `enabled=1,fstrim_cloned_disks=1`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent: Option<String>,
    /// Tags as PVE stores them (`;`-separated); see [`QemuConfig::tag_list`].
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tags: Option<String>,
    /// Machine type, e.g. `q35`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub machine: Option<String>,
    /// Firmware: `seabios` or `ovmf`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub bios: Option<String>,
    /// SCSI controller model.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub scsihw: Option<String>,
    /// Display settings.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub vga: Option<String>,
    /// Start and shutdown order, e.g. `order=1,up=30`.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub startup: Option<String>,
    /// Config lock (`backup`, `migrate`, …), if any.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub lock: Option<String>,
    /// Name of the snapshot the current state is based on.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent: Option<String>,
    /// SHA-1 of the config file; send it back with a change to refuse concurrent edits.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub digest: Option<String>,
    /// Every other key as PVE sent it: disks (`scsi0`, …), network devices (`net0`, …),
    /// `smbios1`, `vmgenid`, `meta`, pending values are not included.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl QemuConfig {
    /// The tags, split (`;`, `,` or whitespace).
    pub fn tag_list(&self) -> Vec<String> {
        split_tags(self.tags.as_deref().unwrap_or(""))
    }

    /// The string value of an extra key, e.g. `net0`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(serde_json::Value::as_str)
    }

    /// Extra keys of the form `<prefix><n>` (e.g. `net0`, `net1`), in index order.
    pub fn indexed(&self, prefix: &str) -> Vec<(&str, &str)> {
        let mut out: Vec<(u32, &str, &str)> = self
            .extra
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.parse().ok()?;
                Some((n, k.as_str(), v.as_str()?))
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    /// Disk slots and their volumes (`scsi0` → `local-lvm:vm-100-disk-0,size=32G`), CD-ROM
    /// drives included.
    pub fn disks(&self) -> Vec<(&str, &str)> {
        DISK_PREFIXES.iter().flat_map(|p| self.indexed(p)).collect()
    }

    /// Network devices (`net0` → `virtio=BC:24:11:…,bridge=vmbr0`).
    pub fn nets(&self) -> Vec<(&str, &str)> {
        self.indexed("net")
    }
}

/// A change to a VM's configuration (`PUT` or `POST /nodes/{node}/qemu/{vmid}/config`).
/// Unset fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QemuConfigUpdate {
    /// VM name (a DNS name).
    pub name: Option<String>,
    /// Notes.
    pub description: Option<String>,
    /// Tags (sent `;`-separated).
    pub tags: Option<Vec<String>>,
    /// Memory, MiB.
    pub memory: Option<u64>,
    /// Balloon target, MiB.
    pub balloon: Option<u64>,
    /// Cores per socket.
    pub cores: Option<u32>,
    /// CPU sockets.
    pub sockets: Option<u32>,
    /// Hot-plugged vCPUs.
    pub vcpus: Option<u32>,
    /// CPU type.
    pub cpu: Option<String>,
    /// CPU limit in CPUs (0 = none).
    pub cpulimit: Option<f64>,
    /// CPU weight.
    pub cpuunits: Option<u32>,
    /// NUMA emulation.
    pub numa: Option<bool>,
    /// Start at boot.
    pub onboot: Option<bool>,
    /// Protection against removal.
    pub protection: Option<bool>,
    /// Guest OS type.
    pub ostype: Option<String>,
    /// Boot order, e.g. `order=scsi0;net0`.
    pub boot: Option<String>,
    /// Guest agent settings, e.g. `1` or `enabled=1`.
    pub agent: Option<String>,
    /// Start and shutdown order.
    pub startup: Option<String>,
    /// Device and other string-valued options PVE takes as property strings, e.g. `net0` →
    /// `virtio,bridge=vmbr0`, `scsi1` → `local-lvm:8`. The client refuses keys its endpoint
    /// table does not list as strings.
    pub set: BTreeMap<String, String>,
    /// Options to remove (reset to default), e.g. `net1`, `description`.
    pub delete: Vec<String>,
    /// Pending changes to revert.
    pub revert: Vec<String>,
    /// Refuse the change if the config changed since it was read with this digest.
    pub digest: Option<String>,
}

impl QemuConfigUpdate {
    /// The form.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.opt_str("name", self.name.as_deref())
            .opt_str("description", self.description.as_deref())
            .opt_str("tags", self.tags.as_ref().map(|t| t.join(";")))
            .opt_str("memory", self.memory)
            .opt_int(
                "balloon",
                self.balloon.map(|b| b.min(i64::MAX as u64) as i64),
            )
            .opt_int("cores", self.cores)
            .opt_int("sockets", self.sockets)
            .opt_int("vcpus", self.vcpus)
            .opt_str("cpu", self.cpu.as_deref())
            .opt_int("cpuunits", self.cpuunits)
            .opt_bool("numa", self.numa)
            .opt_bool("onboot", self.onboot)
            .opt_bool("protection", self.protection)
            .opt_str("ostype", self.ostype.as_deref())
            .opt_str("boot", self.boot.as_deref())
            .opt_str("agent", self.agent.as_deref())
            .opt_str("startup", self.startup.as_deref());
        if let Some(limit) = self.cpulimit {
            p.set("cpulimit", super::params::ParamValue::Num(limit));
        }
        for (key, value) in &self.set {
            p.str(key, value);
        }
        p.list("delete", &self.delete)
            .list("revert", &self.revert)
            .opt_str("digest", self.digest.as_deref());
        p
    }

    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.params().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_typed_and_extra() {
        let c: QemuConfig = serde_json::from_value(serde_json::json!({
            "name": "web", "memory": "current=4096", "cores": 2, "sockets": "1", "onboot": 1,
            "scsi0": "local-lvm:vm-100-disk-0,size=32G", "ide2": "none,media=cdrom",
            "net1": "virtio=BC:24:11:00:00:02,bridge=vmbr1",
            "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0", "tags": "a;b",
            "digest": "3e1f", "smbios1": "uuid=x"
        }))
        .unwrap();
        assert_eq!(c.memory, Some(4096));
        assert_eq!(c.sockets, Some(1));
        assert_eq!(c.onboot, Some(true));
        assert_eq!(c.tag_list(), ["a", "b"]);
        assert_eq!(c.nets()[0].0, "net0");
        assert_eq!(
            c.disks().iter().map(|d| d.0).collect::<Vec<_>>(),
            ["ide2", "scsi0"]
        );
        assert_eq!(c.get("smbios1"), Some("uuid=x"));
        let back: QemuConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let plain: QemuConfig = serde_json::from_str(r#"{"memory":2048}"#).unwrap();
        assert_eq!(plain.memory, Some(2048));
    }

    #[test]
    fn update_params() {
        let mut u = QemuConfigUpdate {
            memory: Some(4096),
            onboot: Some(false),
            tags: Some(vec!["web".into(), "prod".into()]),
            delete: vec!["net1".into(), "description".into()],
            digest: Some("3e1f".into()),
            cpulimit: Some(1.5),
            ..Default::default()
        };
        u.set.insert("net0".into(), "virtio,bridge=vmbr0".into());
        let enc: Vec<String> = u.params().iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(
            enc,
            [
                "tags=web;prod",
                "memory=4096",
                "onboot=0",
                "cpulimit=1.5",
                "net0=virtio,bridge=vmbr0",
                "delete=net1,description",
                "digest=3e1f"
            ]
        );
        assert!(QemuConfigUpdate::default().is_empty());
    }
}
