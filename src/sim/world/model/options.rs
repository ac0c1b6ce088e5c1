//! A VM's config options as `qm config` shows them: setting and deleting one option with
//! qemu-server's checks, the config as a JSON map, and the `[PENDING]` section — which changes
//! a running VM takes at once (hot-plug, qemu-server `vmconfig_hotplug_pending`) and which wait
//! for its next start or stop (`vmconfig_apply_pending`).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Vm;

/// A value PVE's schema check refuses: the parameter and its message (answered as 400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OptionError {
    /// The parameter.
    pub param: String,
    /// PVE's message for it.
    pub message: String,
}

impl OptionError {
    fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

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
    m.insert("net0".into(), json!(vm.net0));
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
        "net0" => {
            if !value.contains("bridge=") {
                return Err(OptionError::new(
                    "net0",
                    "invalid format - format error\nnet0.bridge: property is missing and it is not optional\n",
                ));
            }
            vm.net0 = value.to_owned();
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
        "scsi0" | "net0" | "name" | "memory" | "cores" | "sockets" => {
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

/// `32G`, `512M`, `1T`, or bytes without a unit → GiB (rounded up, at least 1).
pub(crate) fn parse_gib(s: &str) -> Option<u64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num.parse().ok()?;
    let gib = match unit {
        "T" => n * 1024.0,
        "G" => n,
        "M" => n / 1024.0,
        "K" => n / 1024.0 / 1024.0,
        // PVE's `parse_size`: a number without a unit counts bytes.
        "" => n / 1024.0 / 1024.0 / 1024.0,
        _ => return None,
    };
    Some(gib.ceil().max(1.0) as u64)
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
        (net, Some(_)) if net.starts_with("net") => features.contains(&"network"),
        (disk, Some(_)) if disk.starts_with("scsi") || disk.starts_with("virtio") => {
            features.contains(&"disk")
        }
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
