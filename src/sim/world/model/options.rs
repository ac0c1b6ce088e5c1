//! A VM's config options as `qm config` shows them: setting and deleting one option with
//! qemu-server's checks, the config as a JSON map, and the `[PENDING]` section — which changes
//! a running VM takes at once (hot-plug, qemu-server `vmconfig_hotplug_pending`) and which wait
//! for its next start or stop (`vmconfig_apply_pending`).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Vm;
use super::devices::{
    canonical_net, check_drive, drive_parts, is_cdrom, is_disk_key, is_net_key, is_unused_key,
};
pub(crate) use super::values::{OptionError, parse_gib};

/// Options a running VM takes at once whatever `hotplug` says (qemu-server's
/// `$fast_plug_option`, as far as the simulator has them).
const FAST_PLUG: &[&str] = &[
    "name",
    "description",
    "onboot",
    "tags",
    "protection",
    "startup",
];

/// `hotplug` when the config has none (`1` is the same).
const DEFAULT_HOTPLUG: &str = "network,disk,usb";

/// The config as `GET …/config?current=1` answers it, without `digest`.
pub(crate) fn config_map(vm: &Vm) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(vm.name));
    m.insert("memory".into(), json!(vm.memory_mib.to_string()));
    m.insert("cores".into(), json!(vm.cores));
    m.insert("sockets".into(), json!(vm.sockets));
    m.insert("ostype".into(), json!(vm.ostype));
    if !vm.net0.is_empty() {
        m.insert("net0".into(), json!(vm.net0));
    }
    m.insert("scsi0".into(), json!(vm.scsi0));
    m.insert("onboot".into(), json!(u8::from(vm.onboot)));
    m.insert(
        "vmgenid".into(),
        json!(format!("5c1e0f5a-7d1b-4c39-9a6e-{:012x}", vm.vmid)),
    );
    m.insert(
        "smbios1".into(),
        json!(format!("uuid=8f3c2a10-4b6e-4d2f-8a51-{:012x}", vm.vmid)),
    );
    m.insert(
        "meta".into(),
        json!("creation-qemu=10.1.2,ctime=1767225600"),
    );
    if let Some(b) = vm.balloon_mib {
        m.insert("balloon".into(), json!(b));
    }
    if vm.agent {
        m.insert("agent".into(), json!("1"));
    }
    if let Some(t) = vm.tags_string() {
        m.insert("tags".into(), json!(t));
    }
    if let Some(d) = &vm.description {
        m.insert("description".into(), json!(d));
    }
    if vm.template {
        m.insert("template".into(), json!(1));
    }
    if let Some(l) = &vm.lock {
        m.insert("lock".into(), json!(l));
    }
    if let Some(p) = &vm.parent {
        m.insert("parent".into(), json!(p));
    }
    for (k, v) in &vm.extra {
        let n = v
            .parse::<i64>()
            .ok()
            .filter(|_| k == "numa" || k == "balloon");
        m.insert(k.clone(), n.map_or_else(|| json!(v), |n| json!(n)));
    }
    m
}

/// The config file's digest (40 hex digits, as PVE's SHA-1): it changes with every option,
/// pending change, lock and snapshot.
pub(crate) fn digest(vm: &Vm) -> String {
    let snapshots: Map<String, Value> = vm
        .snapshots
        .iter()
        .map(|(name, s)| (name.clone(), Value::Object(vm.snapshot_json(s))))
        .collect();
    let whole = json!({
        "config": config_map(vm),
        "pending": vm.pending,
        "delete": vm.pending_delete,
        "snapshots": snapshots,
    });
    let text = serde_json::to_string(&whole).unwrap_or_default();
    Sha256::digest(text.as_bytes())[..20]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A config value as the config file holds it (numbers as text).
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets option `opt` to `value` with qemu-server's format checks.
pub(crate) fn set_option(vm: &mut Vm, opt: &str, value: &str) -> Result<(), OptionError> {
    let int = |name: &str| -> Result<u64, OptionError> {
        value.parse::<u64>().map_err(|_| {
            OptionError::new(
                name,
                format!("type check ('integer') failed - got '{value}'"),
            )
        })
    };
    match opt {
        "name" => {
            let ok = !value.is_empty()
                && value.split('.').all(|l| {
                    !l.is_empty()
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(OptionError::new(
                    "name",
                    "invalid format - value does not look like a valid DNS name\n",
                ));
            }
            vm.name = value.to_owned();
        }
        "memory" => {
            let mib = value
                .strip_prefix("current=")
                .unwrap_or(value)
                .parse::<u64>()
                .ok();
            match mib {
                Some(m) if m >= 16 => vm.memory_mib = m,
                _ => {
                    return Err(OptionError::new(
                        "memory",
                        format!(
                            "invalid format - value '{value}' does not look like a valid memory size\n"
                        ),
                    ));
                }
            }
        }
        "cores" => vm.cores = u32::try_from(int("cores")?).unwrap_or(1),
        "sockets" => vm.sockets = u32::try_from(int("sockets")?).unwrap_or(1),
        "balloon" => vm.balloon_mib = Some(int("balloon")?).filter(|b| *b > 0),
        "description" => vm.description = Some(value.to_owned()),
        "onboot" => vm.onboot = value == "1",
        "tags" => {
            vm.tags = value
                .split([';', ',', ' '])
                .filter(|t| !t.is_empty())
                .map(str::to_lowercase)
                .collect();
            vm.tags.sort();
            vm.tags.dedup();
        }
        "net0" => vm.net0 = canonical_net(opt, value, vm)?,
        net if is_net_key(net) => {
            let value = canonical_net(opt, value, vm)?;
            vm.extra.insert(opt.to_owned(), value);
        }
        "scsi0" => {
            let size = value
                .split(',')
                .find_map(|p| p.strip_prefix("size="))
                .and_then(parse_gib);
            if let Some(g) = size {
                vm.disk_gib = g;
            }
            vm.scsi0 = value.to_owned();
        }
        drive if is_disk_key(drive) || is_unused_key(drive) => {
            check_drive(opt, value)?;
            // A volume replaced by another stays, as an unused disk.
            let replaced = vm
                .extra
                .get(opt)
                .filter(|old| is_disk_key(opt) && !is_cdrom(old))
                .map(|old| drive_parts(old).0.to_owned())
                .filter(|old| old != "none" && old != drive_parts(value).0);
            if let Some(old) = replaced {
                let unused = vm.free_unused_key();
                vm.extra.insert(unused, old);
            }
            vm.extra.insert(opt.to_owned(), value.to_owned());
        }
        "ostype" | "boot" | "cpu" | "numa" | "scsihw" | "agent" | "hotplug" => {
            vm.extra.insert(opt.to_owned(), value.to_owned());
        }
        _ => {}
    }
    Ok(())
}

/// Removes option `opt` (resets it to its default).
pub(crate) fn delete_option(vm: &mut Vm, opt: &str) -> Result<(), OptionError> {
    match opt {
        "description" => vm.description = None,
        "tags" => vm.tags.clear(),
        "onboot" => vm.onboot = false,
        "balloon" => vm.balloon_mib = None,
        "net0" => vm.net0.clear(),
        // qemu-server's `vmconfig_delete_or_detach_drive`: a detached disk's volume stays,
        // as an unused disk (deleting `unused<n>` destroys it).
        drive if is_disk_key(drive) && drive != "scsi0" => {
            if let Some(value) = vm.extra.remove(drive)
                && !is_cdrom(&value)
                && drive_parts(&value).0 != "none"
            {
                let unused = vm.free_unused_key();
                vm.extra.insert(unused, drive_parts(&value).0.to_owned());
            }
        }
        "scsi0" | "name" | "memory" | "cores" | "sockets" => {
            return Err(OptionError::new(
                opt,
                "deleting this option is not simulated",
            ));
        }
        other => {
            vm.extra.remove(other);
        }
    }
    Ok(())
}

/// The VM's hot-plug features (`hotplug`: a list of network, disk, cpu, memory, usb,
/// cloudinit; `0` none, `1` the default).
fn hotplug_features(vm: &Vm) -> Vec<&str> {
    let text = vm
        .extra
        .get("hotplug")
        .map_or(DEFAULT_HOTPLUG, String::as_str);
    match text {
        "0" => Vec::new(),
        "1" => DEFAULT_HOTPLUG.split(',').collect(),
        list => list.split(',').map(str::trim).collect(),
    }
}

/// True if a running VM takes this change at once: setting `opt` to `value`, or deleting it
/// (`None`). Everything else waits in `[PENDING]` (cores, sockets, CPU type, NUMA, OS type,
/// boot order, SCSI controller, the agent device, memory without memory hot-plug, turning
/// the balloon device off).
pub(crate) fn hotpluggable(vm: &Vm, opt: &str, value: Option<&str>) -> bool {
    if FAST_PLUG.contains(&opt) {
        return true;
    }
    let features = hotplug_features(vm);
    match (opt, value) {
        // Enabling or disabling the balloon device is not hot-pluggable, its target is.
        ("balloon", Some(v)) => v != "0",
        ("balloon", None) => true,
        ("memory", _) => features.contains(&"memory"),
        ("hotplug", new) => {
            let old = vm.extra.get("hotplug").map_or("", String::as_str);
            let new = new.unwrap_or("");
            ![old, new]
                .iter()
                .any(|h| h.contains("memory") || h.contains("cpu"))
        }
        (net, _) if is_net_key(net) => features.contains(&"network"),
        // IDE and SATA drives cannot be hot-plugged; an unused volume is not attached.
        (disk, _)
            if is_disk_key(disk) && (disk.starts_with("scsi") || disk.starts_with("virtio")) =>
        {
            features.contains(&"disk")
        }
        (unused, None) if is_unused_key(unused) => true,
        _ => false,
    }
}

/// The VM as it will be after its pending changes (what `GET …/config` shows by default).
pub(crate) fn with_pending(vm: &Vm) -> Vm {
    let mut next = vm.clone();
    apply_pending(&mut next);
    next
}

/// Applies and clears the `[PENDING]` section (qemu-server does this when QEMU starts or
/// stops). Values were checked when they were set; one that fails now is dropped.
pub(crate) fn apply_pending(vm: &mut Vm) {
    let deletes = std::mem::take(&mut vm.pending_delete);
    for opt in deletes.keys() {
        let _ = delete_option(vm, opt);
    }
    let pending = std::mem::take(&mut vm.pending);
    for (opt, value) in &pending {
        let _ = set_option(vm, opt, value);
    }
}

/// qemu-server's `cleanup_pending`: drops pending values equal to the current ones and
/// pending deletions of options that are not set.
pub(crate) fn cleanup_pending(vm: &mut Vm) {
    let current = config_map(vm);
    vm.pending
        .retain(|opt, value| current.get(opt).is_none_or(|v| value_text(v) != *value));
    vm.pending_delete.retain(|opt, _| current.contains_key(opt));
}

/// `GET …/pending`: every option with its current value, its pending value, and whether it
/// is to be deleted (1, 2 when forced), as pve-guest-common's `config_with_pending_array`.
pub(crate) fn pending_list(vm: &Vm) -> Vec<Value> {
    let current = config_map(vm);
    let mut out = Vec::new();
    for (key, value) in &current {
        let mut item = json!({ "key": key, "value": value_text(value) });
        if let Some(p) = vm.pending.get(key) {
            item["pending"] = json!(p);
        }
        if let Some(force) = vm.pending_delete.get(key) {
            item["delete"] = json!(if *force { 2 } else { 1 });
        }
        out.push(item);
    }
    for (key, p) in vm.pending.iter().filter(|(k, _)| !current.contains_key(*k)) {
        out.push(json!({ "key": key, "pending": p }));
    }
    for (key, force) in vm
        .pending_delete
        .iter()
        .filter(|(k, _)| !current.contains_key(*k))
    {
        out.push(json!({ "key": key, "delete": if *force { 2 } else { 1 } }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::model::generate;

    fn vm() -> Vm {
        let model = generate(1, 2, 42, 1_800_000_000);
        model.vms.values().next().unwrap().clone()
    }

    #[test]
    fn what_a_running_vm_takes_at_once() {
        let vm = vm();
        for (opt, value) in [
            ("name", Some("x")),
            ("description", None),
            ("tags", Some("a")),
            ("balloon", Some("1024")),
            ("net0", Some("virtio,bridge=vmbr1")),
            ("scsi0", Some("local-lvm:vm-100-disk-0,size=40G")),
        ] {
            assert!(hotpluggable(&vm, opt, value), "{opt}");
        }
        for (opt, value) in [
            ("cores", Some("4")),
            ("sockets", Some("2")),
            ("cpu", Some("host")),
            ("memory", Some("8192")),
            ("balloon", Some("0")),
            ("ostype", Some("win11")),
            ("cpu", None),
            ("hotplug", Some("network,disk,cpu")),
        ] {
            assert!(!hotpluggable(&vm, opt, value), "{opt}");
        }
        let mut with_memory = vm.clone();
        with_memory
            .extra
            .insert("hotplug".into(), "network,disk,memory".into());
        assert!(hotpluggable(&with_memory, "memory", Some("8192")));
    }

    #[test]
    fn pending_values_apply_and_clean_up() {
        let mut vm = vm();
        let cores = vm.cores;
        vm.pending.insert("cores".into(), (cores + 2).to_string());
        vm.pending.insert("sockets".into(), vm.sockets.to_string());
        vm.pending_delete.insert("numa".into(), false);
        vm.pending_delete.insert("nosuchoption".into(), true);
        cleanup_pending(&mut vm);
        assert_eq!(vm.pending.len(), 1, "a value equal to the current one goes");
        assert_eq!(vm.pending_delete.len(), 1, "deleting an unset option goes");
        let list = pending_list(&vm);
        let item = |k: &str| list.iter().find(|i| i["key"] == k).unwrap().clone();
        assert_eq!(item("cores")["value"], cores.to_string());
        assert_eq!(item("cores")["pending"], (cores + 2).to_string());
        assert_eq!(item("numa")["delete"], 1);
        assert_eq!(with_pending(&vm).cores, cores + 2);
        apply_pending(&mut vm);
        assert_eq!(vm.cores, cores + 2);
        assert!(!vm.extra.contains_key("numa"));
        assert!(vm.pending.is_empty() && vm.pending_delete.is_empty());
    }
}
