//! Usage values: lively but reproducible, a pure function of (seed, VM or node, Unix time), so
//! `/cluster/resources`, `/nodes/{node}/qemu` and `status/current` agree at the same second.
//!
//! CPU follows a per-VM wave plus smooth noise; memory drifts around a per-VM level (ramping up
//! after boot); network and disk counters grow monotonically since QEMU started.

use std::collections::HashMap;
use std::f64::consts::TAU;

use crate::sim::util::unit;
use crate::sim::world::model::{Model, Node, Power, Vm};

/// What a running VM uses at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct VmSample {
    /// Fraction of the VM's CPUs (0–1).
    pub cpu: f64,
    /// Guest memory in use, bytes.
    pub mem: u64,
    /// Memory the QEMU process uses on the host, bytes.
    pub memhost: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub uptime: u64,
    /// PSI avg10: cpu some/full, io some/full, memory some/full.
    pub pressure: [f64; 6],
}

/// What a node uses at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeSample {
    pub cpu: f64,
    pub mem: u64,
    /// Root file system usage, bytes (also the `local` storage's usage).
    pub disk: u64,
    pub uptime: u64,
}

/// Per-VM curve parameters, derived from the seed.
struct Profile {
    cpu_base: f64,
    cpu_amp: f64,
    cpu_period: f64,
    phase: f64,
    mem_frac: f64,
    mem_period: f64,
    rates: [f64; 4],
}

fn profile(seed: u64, vm: &Vm) -> Profile {
    let k = u64::from(vm.vmid);
    let u = |salt| unit(seed, k, salt);
    let windows = vm.ostype.starts_with('w');
    Profile {
        cpu_base: 0.01 + 0.25 * u(1) + if windows { 0.05 } else { 0.0 },
        cpu_amp: 0.02 + 0.18 * u(2),
        cpu_period: 120.0 + 1080.0 * u(3),
        phase: TAU * u(4),
        mem_frac: if windows {
            0.55 + 0.3 * u(5)
        } else {
            0.25 + 0.5 * u(5)
        },
        mem_period: 1800.0 + 5400.0 * u(6),
        // Bytes per second: netin, netout, diskread, diskwrite (1 KB/s to ~3 MB/s).
        rates: [7, 8, 9, 10].map(|s| 10f64.powf(3.0 + 3.5 * u(s))),
    }
}

/// Smooth noise in [0, 1): interpolated hash values at integer steps of `x`.
fn noise(seed: u64, key: u64, salt: u64, x: f64) -> f64 {
    let i = x.floor();
    let f = x - i;
    let at = |n: f64| unit(seed, key ^ (n as i64 as u64).wrapping_mul(0x9E37), salt);
    let s = f * f * (3.0 - 2.0 * f);
    at(i) + (at(i + 1.0) - at(i)) * s
}

/// A counter that grows at `rate` on average with a wave, and never decreases.
fn counter(rate: f64, period: f64, uptime: f64) -> u64 {
    let wave = uptime - period / TAU * (TAU * uptime / period).sin();
    (rate * 0.5 * uptime + rate * 0.5 * wave).max(0.0) as u64
}

/// The VM's usage at Unix time `now`; all zero when it is stopped.
pub(crate) fn vm_sample(seed: u64, vm: &Vm, now: i64) -> VmSample {
    if !vm.has_process() {
        return VmSample::default();
    }
    vm_sample_at(seed, vm, now)
}

/// The VM's usage at any Unix time `at`, past runs included (`run_start_at`); all zero when
/// it was off then. Counters restart with every run.
pub(crate) fn vm_sample_at(seed: u64, vm: &Vm, at: i64) -> VmSample {
    let Some(start) = vm.run_start_at(at) else {
        return VmSample::default();
    };
    let paused = vm.power == Power::Paused && start == vm.started_at;
    let p = profile(seed, vm);
    let k = u64::from(vm.vmid);
    let t = at as f64;
    let uptime = u64::try_from(at - start).unwrap_or(0);
    let up = uptime as f64;
    let cpu = if paused {
        0.0
    } else if let Some((load, _)) = vm.cpu_override.filter(|(_, since)| at >= *since) {
        load
    } else {
        let wave = p.cpu_amp * (TAU * t / p.cpu_period + p.phase).sin();
        let jitter = 0.08 * (noise(seed, k, 11, t / 15.0) - 0.5);
        (p.cpu_base + wave + jitter).clamp(0.001, 1.0)
    };
    let drift = 0.06 * (TAU * t / p.mem_period + p.phase).sin()
        + 0.03 * (noise(seed, k, 12, t / 60.0) - 0.5);
    let boot_ramp = (0.3 + 0.7 * up / 120.0).min(1.0);
    let maxmem = vm.maxmem() as f64;
    let mem = (maxmem * (p.mem_frac + drift).clamp(0.05, 0.97) * boot_ramp) as u64;
    let memhost = mem + (maxmem * 0.015) as u64 + 48 * 1024 * 1024;
    let [rin, rout, rread, rwrite] = p.rates;
    let cpu_some = (cpu * 6.0 * noise(seed, k, 13, t / 10.0)).min(100.0);
    let io_some = 2.0 * noise(seed, k, 14, t / 10.0) * rwrite / 3e6;
    VmSample {
        cpu,
        mem,
        memhost,
        netin: counter(rin, p.cpu_period, up),
        netout: counter(rout, p.cpu_period * 1.3, up),
        diskread: counter(rread, p.cpu_period * 0.7, up),
        diskwrite: counter(rwrite, p.cpu_period * 1.7, up),
        uptime,
        pressure: [
            round2(cpu_some),
            round2(cpu_some * 0.4),
            round2(io_some),
            round2(io_some * 0.6),
            0.0,
            0.0,
        ],
    }
}

/// The node's usage at Unix time `now`, including the VMs it runs.
pub(crate) fn node_sample(model: &Model, node: &Node, now: i64) -> NodeSample {
    let mut acc = NodeAcc::default();
    for vm in model.guests_on(&node.name) {
        acc.add(node, vm, &vm_sample_at(model.seed, vm, now), model.seed);
    }
    acc.finish(model, node, now).sample
}

/// Used bytes of the `local-lvm` thin pool on `node`: the VMs' disks, partly filled.
pub(crate) fn lvm_usage(model: &Model, node: &Node) -> u64 {
    let mut acc = NodeAcc::default();
    for vm in model.guests_on(&node.name) {
        acc.lvm += lvm_share(model.seed, vm);
    }
    (acc.lvm as u64).min(node.lvm_size)
}

/// A node's usage and its `local-lvm` pool's.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeUsage {
    pub sample: NodeSample,
    /// Used bytes of `local-lvm`.
    pub lvm: u64,
}

/// Every node's and every guest's usage at one moment, from a single pass over the guests (what
/// `/cluster/resources` and `/nodes` need: at 10,000 VMs a pass per node would dominate).
pub(crate) struct Snapshot<'a> {
    nodes: HashMap<&'a str, NodeUsage>,
    vms: HashMap<u32, VmSample>,
}

impl<'a> Snapshot<'a> {
    /// Samples everything in `model` at Unix time `now`.
    pub(crate) fn take(model: &'a Model, now: i64) -> Self {
        let index: HashMap<&str, usize> = model
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut accs = vec![NodeAcc::default(); model.nodes.len()];
        let mut vms = HashMap::with_capacity(model.vms.len() + model.cts.len());
        // VMs and containers share the ID space.
        for vm in model.vms.values().chain(model.cts.values()) {
            let s = vm_sample_at(model.seed, vm, now);
            if let Some(&i) = index.get(vm.node.as_str()) {
                accs[i].add(&model.nodes[i], vm, &s, model.seed);
            }
            if vm.has_process() {
                vms.insert(vm.vmid, s);
            }
        }
        let nodes = model
            .nodes
            .iter()
            .zip(accs)
            .map(|(node, acc)| (node.name.as_str(), acc.finish(model, node, now)))
            .collect();
        Self { nodes, vms }
    }

    /// The usage of node `name` (zero for an unknown node).
    pub(crate) fn node(&self, name: &str) -> NodeUsage {
        self.nodes.get(name).copied().unwrap_or_default()
    }

    /// VM `vmid`'s usage, as [`vm_sample`] gives it.
    pub(crate) fn vm(&self, vmid: u32) -> VmSample {
        self.vms.get(&vmid).copied().unwrap_or_default()
    }
}

/// What a node's VMs add up to.
#[derive(Clone, Copy, Default)]
struct NodeAcc {
    /// CPU load in units of the node's CPUs.
    cpu: f64,
    /// Bytes used by QEMU processes.
    memhost: f64,
    /// Bytes used in `local-lvm`.
    lvm: f64,
}

impl NodeAcc {
    fn add(&mut self, node: &Node, vm: &Vm, s: &VmSample, seed: u64) {
        self.cpu += s.cpu * f64::from(vm.cpus(node.maxcpu)) / f64::from(node.maxcpu.max(1));
        self.memhost += s.memhost as f64;
        self.lvm += lvm_share(seed, vm);
    }

    fn finish(self, model: &Model, node: &Node, now: i64) -> NodeUsage {
        let key = node_key(&node.name);
        let u = |salt| unit(model.seed, key, salt);
        let t = now as f64;
        let cpu = 0.01 + 0.03 * u(1) + 0.01 * noise(model.seed, key, 2, t / 20.0) + self.cpu;
        let mem = (1.5 + 2.0 * u(3)) * 1024.0 * 1024.0 * 1024.0
            + node.maxmem as f64 * 0.04
            + self.memhost;
        let disk_frac = 0.05 + 0.1 * u(4) + 0.002 * (TAU * t / 86_400.0).sin();
        NodeUsage {
            sample: NodeSample {
                cpu: cpu.clamp(0.0, 1.0),
                mem: (mem.min(node.maxmem as f64 * 0.97)) as u64,
                disk: (node.maxdisk as f64 * disk_frac) as u64,
                uptime: u64::try_from(now - node.boot_time).unwrap_or(0),
            },
            lvm: (self.lvm as u64).min(node.lvm_size),
        }
    }
}

/// Bytes of `local-lvm` VM `vm`'s disk fills.
fn lvm_share(seed: u64, vm: &Vm) -> f64 {
    vm.maxdisk() as f64 * (0.2 + 0.5 * unit(seed, u64::from(vm.vmid), 20))
}

fn node_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::model::generate;

    #[test]
    fn counters_only_grow_and_values_stay_in_range() {
        let now = 1_800_000_000;
        let m = generate(3, 12, 42, now);
        let vm = m.vms.values().find(|v| v.power == Power::Running).unwrap();
        let mut last = vm_sample(m.seed, vm, now);
        for dt in 1..600 {
            let s = vm_sample(m.seed, vm, now + dt);
            assert!(s.netin >= last.netin && s.diskwrite >= last.diskwrite);
            assert!((0.0..=1.0).contains(&s.cpu));
            assert!(s.mem <= vm.maxmem() && s.mem > 0);
            last = s;
        }
        let stopped = m.vms.values().find(|v| v.power == Power::Stopped).unwrap();
        let s = vm_sample(m.seed, stopped, now);
        assert_eq!((s.cpu, s.mem, s.uptime, s.netin), (0.0, 0, 0, 0));
    }

    #[test]
    fn reproducible() {
        let m = generate(3, 12, 42, 1_800_000_000);
        let vm = m.vms.values().find(|v| v.power == Power::Running).unwrap();
        let a = vm_sample(m.seed, vm, 1_800_000_100);
        let b = vm_sample(m.seed, vm, 1_800_000_100);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let n = node_sample(&m, &m.nodes[0], 1_800_000_100);
        assert!(n.cpu > 0.0 && n.mem > 0 && n.mem < m.nodes[0].maxmem);
        // The one-pass snapshot agrees with the per-node functions.
        let snap = Snapshot::take(&m, 1_800_000_100);
        for node in &m.nodes {
            let u = snap.node(&node.name);
            let s = node_sample(&m, node, 1_800_000_100);
            assert_eq!(format!("{:?}", u.sample), format!("{s:?}"));
            assert_eq!(u.lvm, lvm_usage(&m, node));
        }
        assert_eq!(format!("{:?}", snap.vm(vm.vmid)), format!("{a:?}"));
    }
}
