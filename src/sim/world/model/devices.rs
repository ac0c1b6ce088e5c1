//! Disks and network devices beyond the boot disk (`scsi0`) and the first NIC (`net0`), kept
//! in [`Vm::extra`] as PVE's config file keeps them: their keys (`scsi1`, `virtio0`, `net1`,
//! `unused0`), qemu-server's format checks, PVE's canonical property strings, and new volumes
//! from the `STORAGE:SIZE_IN_GiB` syntax.

use std::sync::LazyLock;

use super::values::{OptionError, parse_gib};
use super::{Model, Vm, mac_address};

/// Disk buses and how many drives each takes (the schema's `ide[n]` … `virtio[n]`).
const DISK_BUSES: &[(&str, u32)] = &[("ide", 4), ("sata", 6), ("scsi", 31), ("virtio", 16)];
/// `net0` … `net31`.
const NETS: u32 = 32;
/// `unused0` … `unused255`.
const UNUSED: u32 = 256;

/// NIC models (the schema's `net[n].model` enum; apart from the client's list on purpose: the
/// simulator answers from the schema, never from our client).
pub(crate) const NIC_MODELS: &[&str] = &[
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

/// The bridges every simulated node has: `vmbr0` on its uplink, `vmbr1` internal only.
pub(crate) const BRIDGES: &[&str] = &["vmbr0", "vmbr1"];

/// `scsi12` → `("scsi", 12)`; `None` for a key without an index (or with a leading zero).
fn split_index(key: &str) -> Option<(&str, u32)> {
    let digits = key.len() - key.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (kind, index) = key.split_at(key.len() - digits);
    if digits == 0 || (digits > 1 && index.starts_with('0')) {
        return None;
    }
    Some((kind, index.parse().ok()?))
}

/// True for a drive key (`ide0`…`ide3`, `sata0`…`sata5`, `scsi0`…`scsi30`, `virtio0`…`virtio15`).
pub(crate) fn is_disk_key(key: &str) -> bool {
    split_index(key).is_some_and(|(kind, i)| {
        DISK_BUSES
            .iter()
            .any(|(bus, count)| *bus == kind && i < *count)
    })
}

/// True for `net0` … `net31`.
pub(crate) fn is_net_key(key: &str) -> bool {
    split_index(key).is_some_and(|(kind, i)| kind == "net" && i < NETS)
}

/// True for `unused0` … `unused255`.
pub(crate) fn is_unused_key(key: &str) -> bool {
    split_index(key).is_some_and(|(kind, i)| kind == "unused" && i < UNUSED)
}

/// Every drive, NIC and unused-volume key, for the config endpoints' parameter lists.
pub(crate) fn device_keys() -> &'static [&'static str] {
    static KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let buses = DISK_BUSES
            .iter()
            .flat_map(|(bus, n)| (0..*n).map(move |i| format!("{bus}{i}")));
        let nets = (0..NETS).map(|i| format!("net{i}"));
        let unused = (0..UNUSED).map(|i| format!("unused{i}"));
        buses
            .chain(nets)
            .chain(unused)
            .map(|k| &*Box::leak(k.into_boxed_str()))
            .collect()
    });
    &KEYS
}

/// The drive keys alone.
pub(crate) fn disk_keys() -> impl Iterator<Item = &'static str> {
    device_keys().iter().copied().filter(|k| is_disk_key(k))
}

/// A drive's volume (`local-lvm:vm-100-disk-1`) and its other properties.
pub(crate) fn drive_parts(value: &str) -> (&str, impl Iterator<Item = (&str, &str)>) {
    let mut parts = value.split(',');
    let first = parts.next().unwrap_or_default();
    let volume = first.strip_prefix("file=").unwrap_or(first);
    let props = parts.filter_map(|p| p.split_once('='));
    (volume, props)
}

/// True for a CD-ROM drive.
pub(crate) fn is_cdrom(value: &str) -> bool {
    drive_parts(value)
        .1
        .any(|(k, v)| k == "media" && v == "cdrom")
}

/// A drive's `size=` in GiB.
pub(crate) fn drive_gib(value: &str) -> Option<u64> {
    drive_parts(value)
        .1
        .find(|(k, _)| *k == "size")
        .and_then(|(_, v)| parse_gib(v))
}

/// The drive with its `size=` set to `gib`.
pub(crate) fn with_size(value: &str, gib: u64) -> String {
    let (volume, props) = drive_parts(value);
    let props: Vec<(String, String)> = props
        .filter(|(k, _)| *k != "size")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([("size".to_owned(), format!("{gib}G"))])
        .collect();
    print_drive(volume, props)
}

/// The drive with property `key` set to `value` (PVE's order: the volume, then the
/// properties sorted by name).
pub(crate) fn with_prop(drive: &str, key: &str, value: &str) -> String {
    let (volume, props) = drive_parts(drive);
    let props: Vec<(String, String)> = props
        .filter(|(k, _)| *k != key)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([(key.to_owned(), value.to_owned())])
        .collect();
    print_drive(volume, props)
}

/// The drive on another volume, its properties kept.
pub(crate) fn with_volume(value: &str, volume: &str) -> String {
    let props = drive_parts(value)
        .1
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    print_drive(volume, props)
}

/// The NIC with a new MAC address (a clone's NICs get their own, as PVE's clone gives them).
pub(crate) fn with_new_mac(key: &str, value: &str, vm: &Vm) -> String {
    let without_mac: Vec<&str> = value
        .split(',')
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                p.split('=').next().unwrap_or(p)
            } else {
                p
            }
        })
        .filter(|p| !p.starts_with("macaddr="))
        .collect();
    canonical_net(key, &without_mac.join(","), vm).unwrap_or_else(|_| value.to_owned())
}

/// PVE's `print_drive`: the volume, then the properties sorted by name.
fn print_drive(volume: &str, mut props: Vec<(String, String)>) -> String {
    props.sort();
    std::iter::once(volume.to_owned())
        .chain(props.into_iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A drive value asking for a new volume: `local-lvm:32,iothread=1` → storage, size and
/// the other properties.
pub(crate) struct NewVolume<'a> {
    pub storage: &'a str,
    /// The size as given, in GiB (may have a fraction).
    pub gib: f64,
    pub props: Vec<(String, String)>,
}

/// The `STORAGE_ID:SIZE_IN_GiB` syntax, if `value` uses it.
pub(crate) fn new_volume(value: &str) -> Option<NewVolume<'_>> {
    let (volume, props) = drive_parts(value);
    let (storage, size) = volume.split_once(':')?;
    let valid_size = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && size.bytes().filter(|b| *b == b'.').count() <= 1;
    if !valid_size || storage.is_empty() {
        return None;
    }
    Some(NewVolume {
        storage,
        gib: size.parse().ok()?,
        props: props
            .filter(|(k, _)| *k != "size")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    })
}

/// The volumes of the VM (config, pending changes, snapshots), by volume ID.
fn volumes_of(vm: &Vm) -> impl Iterator<Item = &str> {
    let extra = vm
        .extra
        .iter()
        .chain(&vm.pending)
        .filter(|(k, _)| is_disk_key(k) || is_unused_key(k));
    std::iter::once(vm.scsi0.as_str())
        .chain(extra.map(|(_, v)| v.as_str()))
        .map(|v| drive_parts(v).0)
}

/// Allocates the volume `request` asks for, as `PVE::Storage::vdisk_alloc` names it
/// (`vm-<vmid>-disk-<n>`, the lowest free n), and answers the drive's value with it. Refused
/// as qemu-server refuses: a storage that does not exist, is not on the node, or holds no VM
/// images, and a size of zero.
pub(crate) fn allocate(
    model: &Model,
    vm: &Vm,
    key: &str,
    request: NewVolume<'_>,
) -> Result<String, OptionError> {
    let storage = model.storage(request.storage).ok_or_else(|| {
        OptionError::new(key, format!("storage '{}' does not exist", request.storage))
    })?;
    if !storage.on_node(&vm.node) {
        return Err(OptionError::new(
            key,
            format!(
                "storage '{}' is not available on node '{}'",
                storage.id, vm.node
            ),
        ));
    }
    if !storage.holds("images") {
        return Err(OptionError::new(
            key,
            format!("storage '{}' does not support vm images", storage.id),
        ));
    }
    if request.gib <= 0.0 || !request.gib.is_finite() {
        return Err(OptionError::new(
            key,
            "a new volume needs a size above 0 (or 'import-from')",
        ));
    }
    let taken: Vec<&str> = volumes_of(vm).collect();
    let n = (0..)
        .find(|n| {
            let name = format!("vm-{}-disk-{n}", vm.vmid);
            !taken
                .iter()
                .any(|v| v.ends_with(&name) || v.contains(&format!("{name}.")))
        })
        .unwrap_or_default();
    let volume = if storage.plugintype == "dir" {
        format!("{}:{}/vm-{}-disk-{n}.qcow2", storage.id, vm.vmid, vm.vmid)
    } else {
        format!("{}:vm-{}-disk-{n}", storage.id, vm.vmid)
    };
    // PVE keeps the size in KiB and prints it in the largest whole unit.
    let mib = (request.gib * 1024.0).round() as u64;
    let size = if mib.is_multiple_of(1024) {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    };
    let mut props = request.props;
    props.push(("size".to_owned(), size));
    Ok(print_drive(&volume, props))
}

/// Checks a drive value that names an existing volume (`storage:volume,…`).
pub(crate) fn check_drive(key: &str, value: &str) -> Result<(), OptionError> {
    let (volume, mut props) = drive_parts(value);
    let named = volume == "none"
        || volume == "cdrom"
        || volume
            .split_once(':')
            .is_some_and(|(s, v)| !s.is_empty() && !v.is_empty());
    if !named {
        return Err(OptionError::new(
            key,
            format!(
                "invalid format - format error\n{key}.file: value '{volume}' does not look like a valid volume\n"
            ),
        ));
    }
    if let Some((_, size)) = props.find(|(k, _)| *k == "size")
        && parse_gib(size).is_none()
    {
        return Err(OptionError::new(
            key,
            format!(
                "invalid format - format error\n{key}.size: value '{size}' does not look like a valid disk size\n"
            ),
        ));
    }
    Ok(())
}

/// A NIC value in PVE's canonical form (`print_net`: `model=MAC`, `bridge`, then the other
/// properties in the schema's order), a MAC made up when none is given (as `parse_net`
/// does); refused with qemu-server's messages for an unknown model, a bad MAC, bridge, VLAN
/// tag, MTU or rate.
pub(crate) fn canonical_net(key: &str, value: &str, vm: &Vm) -> Result<String, OptionError> {
    let bad = |prop: &str, msg: String| {
        OptionError::new(
            key,
            format!("invalid format - format error\n{key}.{prop}: {msg}\n"),
        )
    };
    let (mut model, mut mac, mut bridge) = (None::<String>, None::<String>, None::<String>);
    let mut rest: Vec<(&str, String)> = Vec::new();
    for (i, part) in value.split(',').filter(|p| !p.is_empty()).enumerate() {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if NIC_MODELS.contains(&k) {
            model = Some(k.to_owned());
            mac = (!v.is_empty()).then(|| v.to_owned());
            continue;
        }
        match k {
            "model" => model = Some(v.to_owned()),
            "macaddr" => mac = Some(v.to_owned()),
            "bridge" => bridge = Some(v.to_owned()),
            "firewall" | "link_down" => {
                if !matches!(v, "0" | "1") {
                    return Err(bad(k, format!("type check ('boolean') failed - got '{v}'")));
                }
                rest.push((k, v.to_owned()));
            }
            "tag" | "mtu" | "queues" => {
                let (min, max) = match k {
                    "tag" => (1, 4094),
                    "mtu" => (1, 65520),
                    _ => (0, 64),
                };
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(k, format!("type check ('integer') failed - got '{v}'")))?;
                if n < min {
                    return Err(bad(k, format!("value must have a minimum value of {min}")));
                }
                if n > max {
                    return Err(bad(k, format!("value must have a maximum value of {max}")));
                }
                rest.push((k, n.to_string()));
            }
            "rate" => {
                let ok = v.parse::<f64>().is_ok_and(|r| r >= 0.0);
                if !ok {
                    return Err(bad(k, format!("type check ('number') failed - got '{v}'")));
                }
                rest.push((k, v.to_owned()));
            }
            "trunks" => rest.push((k, v.to_owned())),
            // The first part without `=` is the model (the default key).
            _ if i == 0 && v.is_empty() => model = Some(k.to_owned()),
            _ => {
                return Err(OptionError::new(
                    key,
                    format!(
                        "invalid format - format error\n{key}.{k}: property is not defined in schema and the schema does not allow additional properties\n"
                    ),
                ));
            }
        }
    }
    let model =
        model.ok_or_else(|| bad("model", "property is missing and it is not optional".into()))?;
    if !NIC_MODELS.contains(&model.as_str()) {
        return Err(bad(
            "model",
            format!(
                "value '{model}' does not have a value in the enumeration '{}'",
                NIC_MODELS.join(", ")
            ),
        ));
    }
    let mac = match mac {
        Some(m) if valid_mac(&m) => m.to_ascii_uppercase(),
        Some(m) => {
            return Err(bad(
                "macaddr",
                format!("value '{m}' does not look like a valid MAC address"),
            ));
        }
        None => {
            let index = split_index(key).map_or(0, |(_, i)| i);
            mac_address((u64::from(vm.vmid) << 8 | u64::from(index)) ^ 0x6e65_7400)
        }
    };
    if let Some(b) = &bridge {
        let ok = (1..=15).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if !ok {
            return Err(bad(
                "bridge",
                format!("value '{b}' does not look like a valid bridge name"),
            ));
        }
    }
    const ORDER: &[&str] = &[
        "firewall",
        "link_down",
        "mtu",
        "queues",
        "rate",
        "tag",
        "trunks",
    ];
    rest.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k));
    let mut out = format!("{model}={mac}");
    if let Some(b) = bridge {
        out.push_str(&format!(",bridge={b}"));
    }
    for (k, v) in rest {
        out.push_str(&format!(",{k}={v}"));
    }
    Ok(out)
}

/// A unicast MAC address `XX:XX:XX:XX:XX:XX` (the I/G bit of the first octet not set).
fn valid_mac(mac: &str) -> bool {
    let octets: Vec<&str> = mac.split(':').collect();
    octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.bytes().all(|b| b.is_ascii_hexdigit()))
        && u8::from_str_radix(octets[0], 16).is_ok_and(|b| b & 1 == 0)
}

/// The bridge a NIC value names.
pub(crate) fn net_bridge(value: &str) -> Option<&str> {
    value.split(',').find_map(|p| p.strip_prefix("bridge="))
}

impl Vm {
    /// The drives besides `scsi0` that hold a volume (no CD-ROMs), by key.
    pub(crate) fn extra_disks(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra
            .iter()
            .filter(|(k, v)| is_disk_key(k) && !is_cdrom(v) && drive_parts(v).0 != "none")
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The lowest free `unused<n>` key.
    pub(crate) fn free_unused_key(&self) -> String {
        (0..UNUSED)
            .map(|i| format!("unused{i}"))
            .find(|k| !self.extra.contains_key(k))
            .unwrap_or_else(|| format!("unused{}", UNUSED - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::model::generate;

    fn model_and_vm() -> (Model, Vm) {
        let model = generate(1, 2, 42, 1_800_000_000);
        let vm = model.vms.values().next().unwrap().clone();
        (model, vm)
    }

    #[test]
    fn keys_follow_the_schema() {
        for key in ["ide3", "sata5", "scsi30", "virtio15", "scsi1"] {
            assert!(is_disk_key(key), "{key}");
        }
        for key in [
            "ide4", "sata6", "scsi31", "virtio16", "scsi01", "scsi", "net1",
        ] {
            assert!(!is_disk_key(key), "{key}");
        }
        assert!(is_net_key("net31") && !is_net_key("net32") && !is_net_key("net"));
        assert!(is_unused_key("unused0") && !is_unused_key("unused256"));
        assert_eq!(device_keys().len(), 4 + 6 + 31 + 16 + 32 + 256);
    }

    #[test]
    fn a_new_volume_gets_the_lowest_free_name() {
        let (model, mut vm) = model_and_vm();
        let request = new_volume("local-lvm:32,iothread=1,discard=on").unwrap();
        let value = allocate(&model, &vm, "scsi1", request).unwrap();
        let id = vm.vmid;
        assert_eq!(
            value,
            format!("local-lvm:vm-{id}-disk-1,discard=on,iothread=1,size=32G")
        );
        vm.extra.insert("scsi1".into(), value);
        let half = allocate(&model, &vm, "virtio0", new_volume("local-lvm:0.5").unwrap()).unwrap();
        assert_eq!(half, format!("local-lvm:vm-{id}-disk-2,size=512M"));
    }

    #[test]
    fn a_new_volume_needs_a_storage_for_images() {
        let (model, vm) = model_and_vm();
        let refused = |v: &str| {
            allocate(&model, &vm, "scsi1", new_volume(v).unwrap())
                .unwrap_err()
                .message
        };
        assert_eq!(refused("nosuch:8"), "storage 'nosuch' does not exist");
        assert_eq!(
            refused("backup:8"),
            "storage 'backup' does not support vm images"
        );
        assert!(refused("local-lvm:0").contains("above 0"));
        assert!(new_volume("local-lvm:vm-100-disk-0,size=8G").is_none());
    }

    #[test]
    fn nics_are_printed_as_pve_prints_them() {
        let (_, vm) = model_and_vm();
        let net = canonical_net("net1", "tag=20,bridge=vmbr1,model=e1000,firewall=1", &vm).unwrap();
        assert!(net.starts_with("e1000=BC:24:11:"), "{net}");
        assert!(net.ends_with(",bridge=vmbr1,firewall=1,tag=20"), "{net}");
        let mac = "virtio=bc:24:11:00:00:01,bridge=vmbr0";
        assert_eq!(
            canonical_net("net1", mac, &vm).unwrap(),
            "virtio=BC:24:11:00:00:01,bridge=vmbr0"
        );
        let refused = |v: &str| canonical_net("net1", v, &vm).unwrap_err().message;
        assert!(
            refused("virtio,tag=5000")
                .contains("net1.tag: value must have a maximum value of 4094")
        );
        assert!(
            refused("fast,bridge=vmbr0").contains("net1.model: value 'fast' does not have a value")
        );
        assert!(refused("virtio=01:00:00:00:00:01").contains("valid MAC"));
        assert!(refused("virtio,colour=red").contains("net1.colour: property is not defined"));
    }

    #[test]
    fn a_size_is_replaced_in_place() {
        let value = "local-lvm:vm-100-disk-1,iothread=1,size=8G";
        assert_eq!(
            with_size(value, 12),
            "local-lvm:vm-100-disk-1,iothread=1,size=12G"
        );
        assert_eq!(drive_gib(value), Some(8));
        assert!(is_cdrom("none,media=cdrom") && !is_cdrom(value));
    }
}
