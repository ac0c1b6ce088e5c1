//! What keeps a VM from migrating, as qemu-server sees it: local disks (with the snapshots
//! that reference them), local devices (USB or PCI passthrough, serial and parallel ports),
//! mapped devices, and storages a target node lacks; and where its disks go (`targetstorage`,
//! a [`StorageMap`]). Used by the precondition (`GET …/migrate`), the API's checks before
//! forking and the `qmigrate` worker ([`super::qmigrate`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::Error;
use super::model::devices::{drive_gib, drive_parts, is_unused_key};
use super::model::{Model, Storage, Vm};

/// A volume of the VM on a storage that is not shared (qemu-server's `foreach_volid`
/// attributes).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LocalVolume {
    pub volid: String,
    /// Bytes; unknown for a RAM state volume (its config entry has no `size`).
    pub size: Option<u64>,
    /// The config key of an attached drive (`scsi0`).
    pub drivename: Option<String>,
    /// Attached to the current config.
    pub attached: bool,
    /// An `unused<n>` entry of the current config.
    pub unused: bool,
    /// Holds a snapshot's RAM.
    pub vmstate: bool,
    /// Snapshots whose config references it.
    pub in_snapshots: Vec<String>,
}

impl LocalVolume {
    /// The entry of the precondition's `local_disks`.
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "volid": self.volid,
            "cdrom": 0,
            "is_unused": u8::from(self.unused),
            "is_attached": u8::from(self.attached),
            "is_vmstate": u8::from(self.vmstate),
            "is_tpmstate": 0,
            "is_cloudinit": 0,
            "replicate": 1,
            "shared": 0,
        });
        if let Some(size) = self.size {
            v["size"] = json!(size);
        }
        if let Some(d) = &self.drivename {
            v["drivename"] = json!(d);
        }
        if !self.in_snapshots.is_empty() {
            let refs: Map<String, Value> = self
                .in_snapshots
                .iter()
                .map(|s| (s.clone(), json!(1)))
                .collect();
            v["referenced_in_snapshot"] = Value::Object(refs);
        }
        v
    }
}

/// The storage part of a volume ID.
pub(crate) fn storage_of(volid: &str) -> &str {
    volid.split(':').next().unwrap_or_default()
}

/// Snapshots whose config references `volid` (as a drive or an unused disk).
fn snapshots_with(vm: &Vm, volid: &str) -> Vec<String> {
    vm.snapshots
        .iter()
        .filter(|(_, s)| {
            drive_parts(&s.config.scsi0).0 == volid
                || s.config.extra.values().any(|v| drive_parts(v).0 == volid)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The VM's volumes on storages that are not shared, sorted by volume ID.
pub(crate) fn local_volumes(model: &Model, vm: &Vm) -> Vec<LocalVolume> {
    let local = |volid: &str| model.storage(storage_of(volid)).is_none_or(|s| !s.shared);
    let mut out = Vec::new();
    let disk = vm.disk_volid().to_owned();
    if local(&disk) {
        out.push(LocalVolume {
            in_snapshots: snapshots_with(vm, &disk),
            volid: disk,
            size: Some(vm.maxdisk()),
            drivename: Some("scsi0".to_owned()),
            attached: true,
            unused: false,
            vmstate: false,
        });
    }
    for (key, value) in vm.extra_disks() {
        let volid = drive_parts(value).0;
        if local(volid) {
            out.push(LocalVolume {
                volid: volid.to_owned(),
                size: drive_gib(value).map(|g| g << 30),
                drivename: Some(key.to_owned()),
                attached: true,
                unused: false,
                vmstate: false,
                in_snapshots: snapshots_with(vm, volid),
            });
        }
    }
    // Unused disks: no size in the config, no drive name (`unused0` is not one).
    for (_, value) in vm.extra.iter().filter(|(k, _)| is_unused_key(k)) {
        let volid = drive_parts(value).0;
        if local(volid) && !out.iter().any(|v| v.volid == volid) {
            out.push(LocalVolume {
                volid: volid.to_owned(),
                size: None,
                drivename: None,
                attached: false,
                unused: true,
                vmstate: false,
                in_snapshots: snapshots_with(vm, volid),
            });
        }
    }
    for (name, snap) in &vm.snapshots {
        if let Some(state) = snap.vmstate.as_ref().filter(|v| local(v)) {
            out.push(LocalVolume {
                volid: state.clone(),
                size: None,
                drivename: None,
                attached: false,
                unused: false,
                vmstate: true,
                in_snapshots: vec![name.clone()],
            });
        }
    }
    out.sort_by(|a, b| a.volid.cmp(&b.volid));
    out
}

/// `usb0: host=…`, `hostpci0: …` and the like without a resource mapping: devices of this
/// node (qemu-server's `check_local_resources`; serial sockets and SPICE USB are fine).
pub(crate) fn local_resources(vm: &Vm) -> Vec<String> {
    let mut out: Vec<String> = vm
        .extra
        .iter()
        .filter(|(k, v)| {
            let kind = k.trim_end_matches(|c: char| c.is_ascii_digit());
            let indexed = kind.len() < k.len();
            let device =
                indexed && matches!(kind, "usb" | "hostpci" | "serial" | "parallel" | "virtiofs");
            let harmless = (kind == "serial" && *v == "socket")
                || (kind == "usb" && v.to_ascii_lowercase().contains("host=spice"));
            device && !harmless && !v.contains("mapping=")
        })
        .map(|(k, _)| k.clone())
        .collect();
    out.sort();
    out
}

/// Devices used through a cluster-wide resource mapping (`mapping=…`), by config key.
pub(crate) fn mapped_resources(vm: &Vm) -> Map<String, Value> {
    vm.extra
        .iter()
        .filter(|(k, _)| k.starts_with("usb") || k.starts_with("hostpci"))
        .filter_map(|(k, v)| {
            let name = v.split(',').find_map(|p| p.strip_prefix("mapping="))?;
            Some((k.clone(), json!({ "name": name })))
        })
        .collect()
}

/// Storages of the VM's volumes that `node` does not have, sorted.
pub(crate) fn unavailable_storages(model: &Model, vm: &Vm, node: &str) -> Vec<String> {
    let mut ids: Vec<&str> = std::iter::once(vm.disk_volid())
        .chain(vm.extra_disks().map(|(_, v)| drive_parts(v).0))
        .chain(vm.snapshots.values().filter_map(|s| s.vmstate.as_deref()))
        .map(storage_of)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter(|id| model.storage(id).is_some_and(|s| !s.on_node(node)))
        .map(str::to_owned)
        .collect()
}

/// qemu-server's `check_storage_availability`: every storage of the VM's drives must be on
/// `target` ("storage 'X' is not available on node 'T'").
pub(crate) fn check_storage_availability(
    model: &Model,
    vm: &Vm,
    target: &str,
) -> Result<(), Error> {
    match unavailable_storages(model, vm, target).first() {
        Some(storage) => Err(Error::failed(format!(
            "storage '{storage}' is not available on node '{target}'"
        ))),
        None => Ok(()),
    }
}

/// pve-storage's `storage_check_enabled` for `id` on `node`: the storage exists and `node` has
/// it.
pub(crate) fn storage_on_node<'a>(
    model: &'a Model,
    id: &str,
    node: &str,
) -> Result<&'a Storage, Error> {
    let storage = model
        .storage(id)
        .ok_or_else(|| Error::failed(format!("storage '{id}' does not exist")))?;
    if !storage.on_node(node) {
        return Err(Error::failed(format!(
            "storage '{id}' is not available on node '{node}'"
        )));
    }
    Ok(storage)
}

/// The rest of qemu-server's `check_storage_access_migrate` after the caller's
/// Datastore.AllocateSpace: the target storage must hold VM images.
pub(crate) fn check_images(storage: &Storage) -> Result<(), Error> {
    if storage.holds("images") {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "storage '{}' does not support vm images",
            storage.id
        )))
    }
}

/// `targetstorage` (format `storage-pair-list`), parsed as pve-common's
/// `PVE::JSONSchema::parse_idmap`: `SOURCE:TARGET` entries, at most one lone `TARGET` for every
/// other storage, or `1` alone for each storage to itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StorageMap {
    /// `1`: each storage to itself.
    pub identity: bool,
    /// `SOURCE:TARGET` entries, by source.
    pub entries: BTreeMap<String, String>,
    /// The lone target for the storages without an entry.
    pub default: Option<String>,
}

impl StorageMap {
    /// Parses a whole list; the error is `parse_idmap`'s text (the API prefixes it with
    /// "failed to parse storage map: ").
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut map = Self::default();
        for entry in split_list(text) {
            match parse_entry(entry)? {
                Entry::Identity => map.identity = true,
                Entry::Pair(source, target) => {
                    if map.entries.contains_key(source) {
                        return Err(format!("duplicate mapping for source '{source}'\n"));
                    }
                    map.entries.insert(source.to_owned(), target.to_owned());
                }
                Entry::Default(target) => {
                    if map.default.is_some() {
                        return Err("default target ID can only be provided once\n".to_owned());
                    }
                    map.default = Some(target.to_owned());
                }
            }
        }
        if map.identity && (map.default.is_some() || !map.entries.is_empty()) {
            return Err("identity mapping cannot be combined with other mappings\n".to_owned());
        }
        Ok(map)
    }

    /// The schema's check of one list entry (`verify_storagepair`, run per entry by the
    /// `-list` format): the text after "invalid format - ".
    pub(crate) fn check_entry(entry: &str) -> Result<(), String> {
        // `verify_idpair` dies again with `"$@\n"`.
        parse_entry(entry).map(drop).map_err(|e| format!("{e}\n"))
    }

    /// pve-common's `map_id`: the entry for `source`, else the default, else `source`.
    pub(crate) fn map<'a>(&'a self, source: &'a str) -> &'a str {
        self.entries
            .get(source)
            .or(self.default.as_ref())
            .map_or(source, String::as_str)
    }

    /// The storages the map sends volumes to: the entries' targets (by source), then the
    /// default.
    pub(crate) fn targets(&self) -> impl Iterator<Item = &str> {
        self.entries
            .values()
            .chain(&self.default)
            .map(String::as_str)
    }
}

/// One entry of an ID map.
enum Entry<'a> {
    Identity,
    Pair(&'a str, &'a str),
    Default(&'a str),
}

/// One entry as `parse_idmap` reads it, with its messages.
fn parse_entry(entry: &str) -> Result<Entry<'_>, String> {
    if entry == "1" {
        return Ok(Entry::Identity);
    }
    let invalid = |e: String| format!("entry '{entry}' contains invalid ID - {e}\n");
    match entry.split_once(':') {
        Some((source, target))
            if !source.is_empty() && !target.is_empty() && !target.contains(':') =>
        {
            check_storage_id(source)
                .and_then(|()| check_storage_id(target))
                .map_err(invalid)?;
            Ok(Entry::Pair(source, target))
        }
        _ => {
            check_storage_id(entry).map_err(invalid)?;
            Ok(Entry::Default(entry))
        }
    }
}

/// pve-common's `parse_storage_id`: at least 2 characters, a letter first, then letters,
/// digits, `-`, `_` or `.`, not ending in `-`, `_` or `.`.
pub(crate) fn check_storage_id(id: &str) -> Result<(), String> {
    if id.chars().count() < 2 {
        return Err(format!(
            "storage ID '{id}' cannot be shorter than 2 characters\n"
        ));
    }
    let b = id.as_bytes();
    let ok = b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!("storage ID '{id}' contains illegal characters\n"))
    }
}

/// pve-common's `split_list`: entries separated by `,`, `;` or white space.
pub(crate) fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|e| !e.is_empty())
}

/// `GET /nodes/{node}/qemu/{vmid}/migrate` for `vm` on `local`: every other node is allowed
/// unless it lacks a storage of the VM (offline nodes too: PVE does not check).
pub(crate) fn precondition(model: &Model, vm: &Vm, local: &str) -> Value {
    let mut allowed = Vec::new();
    let mut not_allowed = Map::new();
    for node in model.nodes.iter().filter(|n| n.name != local) {
        let missing = unavailable_storages(model, vm, &node.name);
        if missing.is_empty() {
            allowed.push(node.name.clone());
        } else {
            not_allowed.insert(
                node.name.clone(),
                json!({ "unavailable_storages": missing }),
            );
        }
    }
    let mapped = mapped_resources(vm);
    let mapped_names: Vec<&String> = mapped.keys().collect();
    let mut pre = json!({
        "running": u8::from(vm.has_process()),
        "allowed_nodes": allowed,
        "not_allowed_nodes": not_allowed,
        "local_disks": local_volumes(model, vm).iter().map(LocalVolume::json).collect::<Vec<_>>(),
        "local_resources": local_resources(vm),
        "mapped-resources": mapped_names,
        "mapped-resource-info": mapped,
        "has-dbus-vmstate": 1,
    });
    // An HA-managed VM's resources that would follow it (positive affinity rules): the
    // simulator has no HA rules.
    if model.ha_managed(vm.vmid) {
        pre["dependent-ha-resources"] = json!([]);
    }
    pre
}

/// What the worker's volume scan (`scan_local_volumes`) finds wrong, per volume: a running VM
/// without `with-local-disks`, or a disk with snapshots (LVM-thin snapshots cannot move).
pub(crate) fn volume_errors(
    model: &Model,
    vm: &Vm,
    with_local_disks: bool,
) -> Vec<(String, &'static str)> {
    let running = vm.has_process();
    local_volumes(model, vm)
        .into_iter()
        .filter(|v| !v.vmstate)
        .filter_map(|v| {
            let msg = if running && !with_local_disks && v.attached {
                "can't live migrate attached local disks without with-local-disks option"
            } else if !v.in_snapshots.is_empty() && running {
                "online storage migration not possible if non-replicated snapshot exists"
            } else if !v.in_snapshots.is_empty() {
                "non-migratable snapshot exists"
            } else {
                return None;
            };
            Some((v.volid, msg))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::model::generate;

    #[test]
    fn a_storage_missing_on_a_node_disallows_it() {
        let mut model = generate(3, 4, 42, 1_800_000_000);
        let lvm = model
            .storages
            .iter_mut()
            .find(|s| s.id == "local-lvm")
            .unwrap();
        let vm = model.vms.values().find(|v| !v.template).unwrap().clone();
        let others: Vec<String> = model
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| *n != vm.node)
            .collect();
        lvm.nodes = Some(vec![vm.node.clone(), others[0].clone()]);
        let pre = precondition(&model, &vm, &vm.node);
        assert_eq!(pre["allowed_nodes"], json!([others[0]]));
        assert_eq!(
            pre["not_allowed_nodes"][&others[1]]["unavailable_storages"],
            json!(["local-lvm"])
        );
        assert_eq!(pre["local_disks"][0]["volid"], vm.disk_volid());
        assert_eq!(pre["local_disks"][0]["size"], vm.maxdisk());
    }

    #[test]
    fn storage_maps_parse_as_parse_idmap() {
        let map = StorageMap::parse("local-lvm:fast; other:slow nfs1").unwrap();
        assert_eq!(map.map("local-lvm"), "fast");
        assert_eq!(map.map("other"), "slow");
        assert_eq!(map.map("zfs"), "nfs1");
        assert_eq!(map.targets().collect::<Vec<_>>(), ["fast", "slow", "nfs1"]);
        let only = StorageMap::parse("a1:b1").unwrap();
        assert_eq!((only.map("a1"), only.map("c1")), ("b1", "c1"));
        let identity = StorageMap::parse("1").unwrap();
        assert!(identity.identity && identity.map("local-lvm") == "local-lvm");
        for (text, err) in [
            ("a1:b1,a1:c1", "duplicate mapping for source 'a1'\n"),
            ("b1,c1", "default target ID can only be provided once\n"),
            (
                "1,b1",
                "identity mapping cannot be combined with other mappings\n",
            ),
            (
                "a1:b1:c1",
                "entry 'a1:b1:c1' contains invalid ID - storage ID 'a1:b1:c1' contains illegal characters\n\n",
            ),
        ] {
            assert_eq!(StorageMap::parse(text).unwrap_err(), err, "{text}");
        }
        assert!(StorageMap::check_entry("9lives").is_err());
        assert!(StorageMap::check_entry("fast-").is_err());
        assert!(StorageMap::check_entry("x.y_z-1").is_ok());
    }

    #[test]
    fn devices_and_snapshots() {
        let model = generate(2, 3, 1, 1_800_000_000);
        let mut vm = model.vms.values().find(|v| !v.template).unwrap().clone();
        vm.extra.insert("usb0".into(), "host=0781:5583".into());
        vm.extra.insert("usb1".into(), "host=spice".into());
        vm.extra.insert("serial0".into(), "socket".into());
        vm.extra.insert("hostpci0".into(), "mapping=gpu".into());
        assert_eq!(local_resources(&vm), ["usb0"]);
        assert_eq!(mapped_resources(&vm)["hostpci0"]["name"], "gpu");
        assert!(volume_errors(&model, &vm, false).is_empty() || vm.has_process());
        let snap = crate::sim::world::model::Snapshot {
            config: vm.saved_config(),
            parent: None,
            snaptime: 1,
            description: None,
            vmstate: Some(format!("local-lvm:vm-{}-state-s1", vm.vmid)),
            snapstate: None,
        };
        vm.snapshots.insert("s1".into(), snap);
        let disks = local_volumes(&model, &vm);
        assert_eq!(disks.len(), 2);
        assert!(disks.iter().any(|d| d.vmstate && d.size.is_none()));
        vm.power = crate::sim::world::model::Power::Stopped;
        assert_eq!(
            volume_errors(&model, &vm, true),
            [(vm.disk_volid().to_owned(), "non-migratable snapshot exists")]
        );
    }
}
