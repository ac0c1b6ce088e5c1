//! JSON views of nodes, VMs and storages, field by field as PVE builds them (pve-manager
//! `API2Tools::extract_*_stats`, qemu-server `vmstatus`), filled from the model and `metrics`.

use std::io::Write as _;

use serde_json::{Value, json};

use crate::sim::world::ha;
use crate::sim::world::metrics::{NodeUsage, VmSample, vm_sample};
use crate::sim::world::model::{Model, Node, Storage, Vm};

/// QEMU version and machine type the simulated VMs run.
const QEMU_VERSION: &str = "10.1.2";
const MACHINE: &str = "pc-i440fx-10.1+pve0";

/// A node entry of `/nodes` (`ssl_fingerprint`) or `/cluster/resources` (`cgroup-mode`);
/// without `audit` (Sys.Audit on the node) only id, name, type, status and level. `usage` is
/// the node's from a [`Snapshot`](crate::sim::world::metrics::Snapshot).
pub(crate) fn node_entry(node: &Node, usage: &NodeUsage, audit: bool, resources: bool) -> Value {
    let mut v = json!({
        "id": format!("node/{}", node.name),
        "node": node.name,
        "type": "node",
        "status": if node.online { "online" } else { "offline" },
        "level": "",
    });
    if node.online && audit {
        let s = &usage.sample;
        v["uptime"] = json!(s.uptime);
        v["cpu"] = frac(s.cpu);
        v["mem"] = json!(s.mem);
        v["disk"] = json!(s.disk);
        v["maxcpu"] = json!(node.maxcpu);
        v["maxmem"] = json!(node.maxmem);
        v["maxdisk"] = json!(node.maxdisk);
    }
    if resources {
        v["cgroup-mode"] = json!(2);
    } else {
        v["ssl_fingerprint"] = json!(node.fingerprint);
    }
    v
}

/// Writes a `qemu` entry of `/cluster/resources` (pvestatd's view: `status` is the QMP
/// status) as JSON to `out`. Written directly rather than built as a `Value`: at 10,000 VMs
/// the per-entry maps and their allocations would dominate the answer's time.
pub(crate) fn write_vm_resource(
    out: &mut Vec<u8>,
    vm: &Vm,
    kind: GuestKind,
    node: Option<&Node>,
    sample: &VmSample,
    hastate: Option<&str>,
) {
    let mut o = ObjWriter::open(out);
    o.raw("id", format_args!("\"{}/{}\"", kind.as_str(), vm.vmid));
    o.uint("vmid", vm.vmid.into());
    o.str("node", &vm.node);
    o.str("type", kind.as_str());
    o.str("name", &vm.name);
    o.uint("template", u8::from(vm.template).into());
    o.uint("maxcpu", vm.cpus(node.map_or(1, |n| n.maxcpu)).into());
    o.uint("maxmem", vm.maxmem());
    o.uint("maxdisk", vm.maxdisk());
    // A container's root file system is seen from the host; a VM's disk use is not.
    o.uint(
        "disk",
        match kind {
            GuestKind::Lxc => vm.ct_disk_used(),
            GuestKind::Qemu => 0,
        },
    );
    if node.is_some_and(|n| n.online) {
        let s = if vm.has_process() {
            sample
        } else {
            &VmSample::default()
        };
        o.str("status", vm.qmpstatus());
        o.uint("uptime", s.uptime);
        o.frac("cpu", s.cpu);
        o.uint("mem", s.mem);
        o.uint("memhost", s.memhost);
        o.uint("netin", s.netin);
        o.uint("netout", s.netout);
        o.uint("diskread", s.diskread);
        o.uint("diskwrite", s.diskwrite);
    } else {
        // No fresh data from an unreachable node.
        o.str("status", "unknown");
    }
    if let Some(tags) = vm.tags_string() {
        o.str("tags", &tags);
    }
    if let Some(lock) = &vm.lock {
        o.str("lock", lock);
    }
    if let Some(pool) = &vm.pool {
        o.str("pool", pool);
    }
    if let Some(state) = hastate {
        o.str("hastate", state);
    }
    o.close();
}

/// What kind of guest a `/cluster/resources` entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuestKind {
    Qemu,
    Lxc,
}

impl GuestKind {
    /// The entry's `type` (and its `id` prefix).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

/// Writes one JSON object, field by field, into a byte buffer.
struct ObjWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// `"key":` (keys are plain ASCII names, never escaped).
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A value that is already JSON.
    fn raw(&mut self, key: &str, value: std::fmt::Arguments<'_>) {
        self.key(key);
        let _ = self.out.write_fmt(value);
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        let _ = serde_json::to_writer(&mut *self.out, value);
    }

    fn uint(&mut self, key: &str, value: u64) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    /// A fraction as [`frac`] writes it.
    fn frac(&mut self, key: &str, value: f64) {
        self.key(key);
        let _ = serde_json::to_writer(&mut *self.out, &frac(value));
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A storage entry of `/cluster/resources` for `storage` on `node` with `usage` (the node's).
pub(crate) fn storage_entry(node: &Node, storage: &Storage, usage: &NodeUsage) -> Value {
    let mut v = json!({
        "id": format!("storage/{}/{}", node.name, storage.id),
        "storage": storage.id,
        "node": node.name,
        "type": "storage",
        "plugintype": storage.plugintype,
        "status": "unknown",
        "shared": u8::from(storage.shared),
        "content": storage.content,
    });
    if node.online {
        let (disk, maxdisk) = match storage.plugintype.as_str() {
            "lvmthin" => (usage.lvm, node.lvm_size),
            _ => (usage.sample.disk, node.maxdisk),
        };
        v["status"] = json!("available");
        v["disk"] = json!(disk);
        v["maxdisk"] = json!(maxdisk);
    }
    v
}

/// The `localnetwork` SDN zone entry PVE 9 lists for every node.
pub(crate) fn network_entry(node: &Node) -> Value {
    json!({
        "id": format!("network/{}/zone/localnetwork", node.name),
        "type": "network",
        "network-type": "zone",
        "network": "localnetwork",
        "node": node.name,
        "status": "ok",
    })
}

/// An entry of `GET /nodes/{node}/qemu`; `full` adds what QMP reports (as `vmstatus(…, 1)`).
pub(crate) fn vm_status(model: &Model, vm: &Vm, now: i64, full: bool) -> Value {
    let s = vm_sample(model.seed, vm, now);
    let mut v = json!({
        "vmid": vm.vmid,
        "status": vm.status(),
        "name": vm.name,
        "cpus": vm.cpus(node_maxcpu(model, vm)),
        "maxmem": vm.maxmem(),
        "maxdisk": vm.maxdisk(),
        "disk": 0,
        "uptime": s.uptime,
        "cpu": frac(s.cpu),
        "mem": s.mem,
        "memhost": s.memhost,
        "netin": s.netin,
        "netout": s.netout,
    });
    if let Some(min) = vm.balloon_mib {
        v["balloon_min"] = json!(min * 1024 * 1024);
        v["shares"] = json!(1000);
    }
    if vm.template {
        v["template"] = json!(1);
    }
    add_config_props(&mut v, vm);
    if vm.has_process() {
        v["pid"] = json!(vm.pid);
        let names = [
            "cpusome",
            "cpufull",
            "iosome",
            "iofull",
            "memorysome",
            "memoryfull",
        ];
        for (name, value) in names.iter().zip(s.pressure) {
            v[format!("pressure{name}")] = frac(value);
        }
    }
    if full {
        v["qmpstatus"] = json!(vm.qmpstatus());
        if vm.has_process() {
            add_qmp_details(
                &mut v,
                vm,
                s.mem,
                s.diskread,
                s.diskwrite,
                s.netin,
                s.netout,
            );
        }
    }
    v
}

/// `GET /nodes/{node}/qemu/{vmid}/status/current`: the full status plus HA and agent flags.
pub(crate) fn vm_status_current(model: &Model, vm: &Vm, now: i64) -> Value {
    let mut v = vm_status(model, vm, now, true);
    // pve-ha-manager's `get_service_status`: the manager's state of a managed service.
    v["ha"] = match model
        .ha
        .get(&vm.vmid)
        .filter(|_| ha::manages(model, vm.vmid))
    {
        Some(service) => json!({ "managed": 1, "state": service.hastate() }),
        None => json!({ "managed": 0 }),
    };
    if vm.agent {
        v["agent"] = json!(1);
    }
    v
}

fn add_config_props(v: &mut Value, vm: &Vm) {
    if let Some(tags) = vm.tags_string() {
        v["tags"] = json!(tags);
    }
    if let Some(lock) = &vm.lock {
        v["lock"] = json!(lock);
    }
}

/// What the QMP queries of a full `vmstatus` add for a running VM.
fn add_qmp_details(v: &mut Value, vm: &Vm, mem: u64, rd: u64, wr: u64, netin: u64, netout: u64) {
    let maxmem = vm.maxmem();
    let free = maxmem.saturating_sub(mem);
    v["balloon"] = json!(maxmem);
    v["freemem"] = json!(free);
    v["ballooninfo"] = json!({
        "actual": maxmem, "max_mem": maxmem, "total_mem": maxmem - maxmem / 50,
        "free_mem": free, "mem_swapped_in": 0, "mem_swapped_out": 0,
        "major_page_faults": 1200 + vm.vmid, "minor_page_faults": 3_000_000 + u64::from(vm.vmid) * 7,
        "last_update": vm.started_at.max(0) + 10,
    });
    v["diskread"] = json!(rd);
    v["diskwrite"] = json!(wr);
    v["blockstat"] = json!({
        "scsi0": {
            "rd_bytes": rd, "wr_bytes": wr, "rd_operations": rd / 16_384,
            "wr_operations": wr / 8192, "flush_operations": wr / 1_048_576,
            "failed_rd_operations": 0, "failed_wr_operations": 0,
        }
    });
    v["nics"] = json!({ format!("tap{}i0", vm.vmid): { "netin": netin, "netout": netout } });
    v["running-machine"] = json!(MACHINE);
    v["running-qemu"] = json!(QEMU_VERSION);
    v["proxmox-support"] = json!({
        "backup-fleecing": true, "backup-max-workers": true, "pbs-dirty-bitmap": true,
        "pbs-dirty-bitmap-migration": true, "pbs-dirty-bitmap-savevm": true,
        "pbs-library-version": "2.0.1 (UNKNOWN)", "pbs-masterkey": true, "query-bitmap-info": true,
    });
}

/// A fraction as Perl serialises it: an exact 0 is the integer `0`.
fn frac(x: f64) -> Value {
    if x == 0.0 { json!(0) } else { json!(x) }
}

fn node_maxcpu(model: &Model, vm: &Vm) -> u32 {
    model.node(&vm.node).map_or(1, |n| n.maxcpu)
}
