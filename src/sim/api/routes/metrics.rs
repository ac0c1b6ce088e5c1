//! Node status and metrics: `/nodes/{node}/status`, `/nodes/{node}/rrddata`,
//! `/nodes/{node}/qemu/{vmid}/rrddata` (pve-manager `API2::Nodes`, qemu-server) and
//! `/cluster/metrics/export` (pve-manager `API2::Cluster::MetricServer`, PVE ≥ 8.2).

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Params, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::metrics::{node_sample, vm_sample_at};
use crate::sim::world::model::config_missing;
use crate::sim::world::rrd::{Timeframe, node_series, vm_series};

const CF: Spec = Spec::string("cf").one_of(&["AVERAGE", "MAX"]).optional();
const NODE_RRD: &[Spec] = &[
    NODE,
    CF,
    Spec::string("timeframe").one_of(&["hour", "day", "week", "month", "year", "decade"]),
];
const VM_RRD: &[Spec] = &[
    NODE,
    VMID,
    CF,
    Spec::string("timeframe").one_of(&["hour", "day", "week", "month", "year"]),
];
const EXPORT: &[Spec] = &[
    Spec::boolean("history").optional(),
    Spec::boolean("local-only").optional(),
    Spec::string("node-list").optional(),
    Spec::integer("start-time").optional(),
];

/// How far back `/cluster/metrics/export?history=1` reaches, and its spacing (pvestatd).
const EXPORT_WINDOW: i64 = 30 * 60;
const EXPORT_STEP: i64 = 10;

pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/status", get(node_status))
        .route("/nodes/{node}/rrddata", get(node_rrd))
        .route("/nodes/{node}/qemu/{vmid}/rrddata", get(vm_rrd))
        .route("/cluster/metrics/export", get(export))
}

/// `GET /nodes/{node}/status` (Sys.Audit on the node).
async fn node_status(call: Call) -> ApiResult {
    call.on_node(&["Sys.Audit"], &[NODE])?;
    let node = call.node();
    let now = now_secs();
    let world = call.st.world();
    let n = world
        .model
        .node(node)
        .ok_or_else(|| ApiError::fail(format!("no such node '{node}'")))?;
    let s = node_sample(&world.model, n, now);
    let load = |f: f64| format!("{:.2}", s.cpu * f64::from(n.maxcpu) * f);
    let swap_total: u64 = 8 * 1024 * 1024 * 1024;
    let swap_used = swap_total / 50;
    let available = n.maxmem.saturating_sub(s.mem) - n.maxmem / 40;
    ok(json!({
        "uptime": s.uptime,
        "cpu": s.cpu,
        "wait": 0.0012,
        "idle": 0,
        "loadavg": [load(1.0), load(0.95), load(0.9)],
        "cpuinfo": {
            "model": "AMD EPYC 7313P 16-Core Processor", "sockets": 1,
            "cores": n.maxcpu / 2, "cpus": n.maxcpu, "mhz": "2999.998", "hvm": "1",
            "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge svm",
        },
        "memory": {
            "total": n.maxmem, "used": s.mem, "free": n.maxmem - s.mem, "available": available,
        },
        "swap": { "total": swap_total, "used": swap_used, "free": swap_total - swap_used },
        "rootfs": {
            "total": n.maxdisk, "used": s.disk, "free": n.maxdisk - s.disk,
            "avail": n.maxdisk - s.disk - n.maxdisk / 20,
        },
        "ksm": { "shared": 0 },
        "kversion": "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-10-21T11:55Z)",
        "current-kernel": {
            "sysname": "Linux", "release": "6.17.2-1-pve", "machine": "x86_64",
            "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-10-21T11:55Z)",
        },
        "boot-info": { "mode": "efi", "secureboot": 0 },
        "pveversion": "pve-manager/9.1.1/42db4a6cf33dac83",
    }))
}

/// `GET /nodes/{node}/rrddata?timeframe=&cf=` (Sys.Audit on the node).
async fn node_rrd(call: Call) -> ApiResult {
    let params = call.on_node(&["Sys.Audit"], NODE_RRD)?;
    let node = call.node();
    let (tf, max) = timeframe(&params);
    let world = call.st.world();
    let n = world
        .model
        .node(node)
        .ok_or_else(|| ApiError::fail(format!("no such node '{node}'")))?;
    ok(node_series(&world.model, n, now_secs(), tf, max))
}

/// `GET /nodes/{node}/qemu/{vmid}/rrddata?timeframe=&cf=` (VM.Audit).
async fn vm_rrd(call: Call) -> ApiResult {
    let params = call.on_vm(&["VM.Audit"], VM_RRD)?;
    let (node, vmid) = (call.node(), call.vmid());
    let (tf, max) = timeframe(&params);
    let world = call.st.world();
    let vm = world.model.vm_on(node, vmid).ok_or_else(|| {
        // PVE reads the RRD file by VM ID; an unknown VM has none.
        ApiError::fail(config_missing(node, vmid))
    })?;
    ok(vm_series(&world.model, vm, now_secs(), tf, max))
}

fn timeframe(params: &Params) -> (Timeframe, bool) {
    let tf = params
        .get("timeframe")
        .and_then(Timeframe::parse)
        .unwrap_or(Timeframe::Hour);
    (tf, params.get("cf") == Some("MAX"))
}

/// `GET /cluster/metrics/export` (Sys.Audit on `/`): the newest values of every node and
/// guest, or with `history=1` everything since `start-time` within the last 30 min at 10 s.
async fn export(call: Call) -> ApiResult {
    let st = &call.st;
    let params = call.on("/", &["Sys.Audit"], EXPORT)?;
    let now = now_secs();
    let last = now.div_euclid(EXPORT_STEP) * EXPORT_STEP;
    let first = if params.flag("history") {
        let start = params.int("start-time").unwrap_or(0);
        (last - EXPORT_WINDOW + EXPORT_STEP).max(start.div_euclid(EXPORT_STEP) * EXPORT_STEP)
    } else {
        last
    };
    let wanted: Option<Vec<&str>> = params.get("node-list").map(|l| l.split(',').collect());
    let world = st.world();
    let model = &world.model;
    let mut data = Vec::new();
    let mut t = first;
    while t <= last {
        for node in model.nodes.iter().filter(|n| n.online) {
            if wanted
                .as_ref()
                .is_some_and(|w| !w.contains(&node.name.as_str()))
            {
                continue;
            }
            let s = node_sample(model, node, t);
            let id = format!("node/{}", node.name);
            for (metric, kind, value) in [
                ("uptime", "gauge", s.uptime as f64),
                ("cpu_current", "gauge", s.cpu),
                ("cpu_max", "gauge", f64::from(node.maxcpu)),
                ("mem_total", "gauge", node.maxmem as f64),
                ("mem_used", "gauge", s.mem as f64),
                ("disk_total", "gauge", node.maxdisk as f64),
                ("disk_used", "gauge", s.disk as f64),
            ] {
                data.push(json!({"id": id, "metric": metric, "type": kind, "timestamp": t, "value": value}));
            }
            for vm in model.vms_on(&node.name) {
                let v = vm_sample_at(model.seed, vm, t);
                let id = format!("qemu/{}", vm.vmid);
                let maxcpu = vm.cpus(node.maxcpu);
                for (metric, kind, value) in [
                    ("uptime", "gauge", v.uptime as f64),
                    ("cpu_current", "gauge", v.cpu),
                    ("cpu_max", "gauge", f64::from(maxcpu)),
                    ("mem_total", "gauge", vm.maxmem() as f64),
                    ("mem_used", "gauge", v.mem as f64),
                    ("disk_total", "gauge", vm.maxdisk() as f64),
                    ("disk_used", "gauge", 0.0),
                    ("disk_read", "derive", v.diskread as f64),
                    ("disk_write", "derive", v.diskwrite as f64),
                    ("net_in", "derive", v.netin as f64),
                    ("net_out", "derive", v.netout as f64),
                ] {
                    data.push(json!({"id": id, "metric": metric, "type": kind, "timestamp": t, "value": value}));
                }
            }
        }
        t += EXPORT_STEP;
    }
    ok(json!({ "data": data }))
}
