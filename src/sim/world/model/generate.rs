//! Builds the cluster from a seed: the same seed always gives the same nodes, VMs, placement,
//! sizes and run states.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{Model, Node, Power, Storage, Vm};
use crate::sim::util::mix;

const GIB: u64 = 1024 * 1024 * 1024;

/// A kind of guest: name, ostype, tags, memory (GiB), cores, disk (GiB), guest agent.
type Archetype = (
    &'static str,
    &'static str,
    &'static [&'static str],
    u64,
    u32,
    u64,
    bool,
);

const CATALOGUE: &[Archetype] = &[
    ("web01", "l26", &["prod", "web"], 4, 2, 32, true),
    ("web02", "l26", &["prod", "web"], 4, 2, 32, true),
    ("db-primary", "l26", &["db", "prod"], 16, 4, 128, true),
    ("db-replica", "l26", &["db", "prod"], 16, 4, 128, true),
    ("mail", "l26", &["prod"], 4, 2, 64, true),
    ("gitlab", "l26", &["dev"], 8, 4, 100, true),
    ("k8s-cp-1", "l26", &["k8s"], 4, 2, 40, true),
    ("k8s-worker-1", "l26", &["k8s"], 8, 4, 80, true),
    ("k8s-worker-2", "l26", &["k8s"], 8, 4, 80, true),
    ("win2022-dc", "win11", &["prod", "windows"], 8, 4, 80, true),
    (
        "win11-desktop",
        "win11",
        &["dev", "windows"],
        8,
        4,
        64,
        false,
    ),
    ("monitoring", "l26", &["monitoring"], 4, 2, 50, true),
    ("backup-proxy", "l26", &["backup"], 2, 2, 32, true),
    ("nextcloud", "l26", &["prod", "web"], 4, 2, 200, true),
    ("vpn-gw", "l26", &["net"], 1, 1, 8, false),
    ("dns1", "l26", &["net"], 1, 1, 8, true),
    ("ci-runner", "l26", &["dev"], 8, 8, 100, true),
    (
        "win2019-erp",
        "win10",
        &["prod", "windows"],
        16,
        4,
        120,
        true,
    ),
    ("opnsense-fw", "other", &["net"], 2, 2, 16, false),
    ("solaris-lab", "solaris", &["lab"], 4, 2, 40, false),
    ("redis", "l26", &["db"], 2, 2, 16, true),
    ("elastic", "l26", &["monitoring"], 16, 4, 200, true),
    ("legacy-app", "l26", &[], 2, 1, 32, false),
];

/// Resource pools (ID, comment) and the tag that puts a VM in each, first match wins.
const POOLS: &[(&str, &str, &str)] = &[
    ("production", "Customer-facing services", "prod"),
    ("development", "Developers and CI", "dev"),
    ("kubernetes", "", "k8s"),
    ("infrastructure", "Network and operations", "net"),
];

/// The pool of a VM with `tags`: not drawn from the seed's generator, so that adding pools
/// left every other generated value as it was.
fn pool_of(tags: &[&str]) -> Option<String> {
    POOLS
        .iter()
        .find(|(_, _, tag)| tags.contains(tag))
        .map(|(id, _, _)| (*id).to_owned())
}

const TEMPLATE: Archetype = ("tpl-debian-13", "l26", &["template"], 2, 2, 16, true);

/// Generates nodes `pve1..pveN` and `vms` VMs (IDs from 100), as of Unix time `now`.
pub(crate) fn generate(nodes: usize, vms: usize, seed: u64, now: i64) -> Model {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut node_list: Vec<Node> = (1..=nodes.max(1))
        .map(|i| make_node(i, &mut rng, now))
        .collect();
    node_list.sort_by(|a, b| a.name.cmp(&b.name));

    let regular = if vms >= 2 { vms - 1 } else { vms };
    let mut kinds: Vec<&Archetype> = CATALOGUE.iter().collect();
    kinds.shuffle(&mut rng);
    let mut running: Vec<bool> = (0..regular).map(|i| i < regular.div_ceil(2)).collect();
    running.shuffle(&mut rng);
    let offset = rng.gen_range(0..node_list.len());

    let mut vm_map = BTreeMap::new();
    for i in 0..vms {
        let vmid = 100 + u32::try_from(i).unwrap_or(u32::MAX - 100);
        let is_template = vms >= 2 && i == vms - 1;
        let (kind, round) = if is_template {
            (&TEMPLATE, 0)
        } else {
            (kinds[i % kinds.len()], i / kinds.len())
        };
        let node = &node_list[(i + offset) % node_list.len()];
        let on = !is_template && running[i];
        vm_map.insert(
            vmid,
            make_vm(vmid, kind, round, is_template, on, node, &mut rng, now),
        );
    }

    add_local_device(&mut vm_map);

    Model {
        seed,
        cluster_name: "democluster".to_owned(),
        nodes: node_list,
        vms: vm_map,
        cts: BTreeMap::new(),
        ha: BTreeMap::new(),
        pools: POOLS
            .iter()
            .map(|(id, comment, _)| ((*id).to_owned(), (*comment).to_owned()))
            .collect(),
        storages: vec![
            Storage {
                id: "local".into(),
                plugintype: "dir".into(),
                content: "iso,import,vztmpl,backup".into(),
                shared: false,
                nodes: None,
            },
            Storage {
                id: "local-lvm".into(),
                plugintype: "lvmthin".into(),
                content: "images,rootdir".into(),
                shared: false,
                nodes: None,
            },
            Storage {
                id: "backup".into(),
                plugintype: "dir".into(),
                content: "backup".into(),
                shared: true,
                nodes: None,
            },
        ],
    }
}

fn make_node(i: usize, rng: &mut StdRng, now: i64) -> Node {
    let maxcpu = *[8u32, 12, 16, 24, 32].choose(rng).unwrap_or(&16);
    let nominal_gib = *[32u64, 64, 128, 256].choose(rng).unwrap_or(&64);
    // The kernel reserves some memory: MemTotal is a little below the nominal size.
    let maxmem = nominal_gib * GIB / 1000 * 978;
    let maxdisk = *[100u64, 240, 480, 960].choose(rng).unwrap_or(&240) * 1_000_000_000 / 1000 * 938;
    let lvm_size = *[400u64, 800, 1600, 3200].choose(rng).unwrap_or(&800) * 1_000_000_000;
    let boot_time = now - rng.gen_range(7 * 86_400..90 * 86_400);
    let fp: Vec<String> = (0..32u64)
        .map(|b| format!("{:02X}", mix(rng.r#gen::<u64>() ^ b) & 0xff))
        .collect();
    Node {
        name: format!("pve{i}"),
        ip: format!("10.10.0.{}", 10 + i),
        maxcpu,
        maxmem,
        maxdisk,
        lvm_size,
        boot_time,
        fingerprint: fp.join(":"),
        online: true,
    }
}

#[allow(clippy::too_many_arguments)]
fn make_vm(
    vmid: u32,
    kind: &Archetype,
    round: usize,
    template: bool,
    running: bool,
    node: &Node,
    rng: &mut StdRng,
    now: i64,
) -> Vm {
    let (name, ostype, tags, mem_gib, cores, disk_gib, agent) = *kind;
    let name = if round == 0 {
        name.to_owned()
    } else {
        format!("{name}-{}", round + 1)
    };
    // Some Linux guests balloon down to half their memory.
    let balloon_mib = (ostype == "l26" && rng.gen_bool(0.3)).then_some(mem_gib * 512);
    let node_uptime = now - node.boot_time;
    let started_at = now - rng.gen_range(600..node_uptime.max(601));
    Vm {
        vmid,
        node: node.name.clone(),
        name,
        ostype,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        template,
        pool: pool_of(tags),
        sockets: 1,
        cores,
        memory_mib: mem_gib * 1024,
        balloon_mib,
        disk_gib,
        agent,
        power: if running {
            Power::Running
        } else {
            Power::Stopped
        },
        started_at,
        pid: rng.gen_range(1_000..4_000_000),
        lock: None,
        runs: past_runs(node.boot_time, vmid, running, started_at, now),
        description: None,
        onboot: running,
        net0: format!(
            "virtio={},bridge=vmbr0,firewall=1",
            mac_address(node.boot_time as u64 ^ u64::from(vmid))
        ),
        scsi0: format!("local-lvm:vm-{vmid}-disk-0,iothread=1,size={disk_gib}G"),
        extra: [
            ("boot", "order=scsi0;net0".to_owned()),
            ("cpu", "x86-64-v2-AES".to_owned()),
            ("scsihw", "virtio-scsi-single".to_owned()),
            ("numa", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
        cpu_override: None,
        snapshots: BTreeMap::new(),
        parent: None,
        pending: BTreeMap::new(),
        pending_delete: BTreeMap::new(),
    }
}

/// Kinds of containers, as VM archetypes (the hostname as name; no guest agent).
const CT_CATALOGUE: &[Archetype] = &[
    ("ct-nginx", "debian", &["prod", "web"], 1, 1, 8, false),
    ("ct-pihole", "debian", &["net"], 1, 1, 4, false),
    ("ct-postgres", "ubuntu", &["db", "prod"], 4, 2, 32, false),
    ("ct-runner", "alpine", &["dev"], 2, 2, 16, false),
    ("ct-grafana", "debian", &["monitoring"], 1, 1, 8, false),
    ("ct-redis", "alpine", &["db"], 1, 1, 4, false),
];

/// Adds `count` LXC containers to the model, IDs from 200 (after the VMs if they reach it),
/// half of them running, from a generator of their own: the VMs stay as they were without
/// containers.
pub(crate) fn add_containers(model: &mut Model, count: usize, now: i64) {
    if count == 0 || model.nodes.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(model.seed ^ 0x4c58_4300);
    let first = model
        .vms
        .keys()
        .next_back()
        .map_or(200, |last| (last + 1).max(200));
    for i in 0..count {
        let vmid = first + u32::try_from(i).unwrap_or(u32::MAX - first);
        let kind = &CT_CATALOGUE[i % CT_CATALOGUE.len()];
        let round = i / CT_CATALOGUE.len();
        let node = &model.nodes[(i * 2 + 1) % model.nodes.len()];
        let running = i % 2 == 0;
        let mut ct = make_vm(vmid, kind, round, false, running, node, &mut rng, now);
        ct.balloon_mib = None;
        ct.net0 = format!(
            "name=eth0,bridge=vmbr0,firewall=1,hwaddr={},ip=dhcp,type=veth",
            mac_address(node.boot_time as u64 ^ u64::from(vmid) ^ 0x4c58)
        );
        ct.scsi0 = format!("local-lvm:vm-{vmid}-disk-0,size={}G", kind.5);
        ct.extra = [
            ("arch", "amd64".to_owned()),
            ("swap", "512".to_owned()),
            ("unprivileged", "1".to_owned()),
            ("features", "nesting=1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        model.cts.insert(vmid, ct);
    }
}

/// A USB stick passed through from the host (`usb0: host=…`): a local resource that keeps
/// the VM from migrating. It goes to the stopped VM with the highest ID, when there are at
/// least two stopped VMs besides the template, so the VM that tests and demos pick first
/// (the lowest) stays movable; nothing is drawn from the seed, so all else stays the same.
fn add_local_device(vms: &mut BTreeMap<u32, Vm>) {
    let mut stopped = vms
        .values_mut()
        .filter(|vm| !vm.template && vm.power == Power::Stopped);
    let Some(first) = stopped.next().map(|vm| vm.vmid) else {
        return;
    };
    if let Some(vm) = stopped.last().filter(|vm| vm.vmid != first) {
        vm.extra
            .insert("usb0".to_owned(), "host=0781:5583".to_owned());
    }
}

/// A MAC address in Proxmox's `BC:24:11` range, from `key`.
pub(crate) fn mac_address(key: u64) -> String {
    let h = mix(key);
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        h & 0xff,
        (h >> 8) & 0xff,
        (h >> 16) & 0xff
    )
}

/// Earlier runs so that `rrddata` shows on and off periods: a VM that is stopped now ran for
/// a while some days ago; a running VM ran before its last restart.
fn past_runs(boot: i64, vmid: u32, running: bool, started_at: i64, now: i64) -> Vec<(i64, i64)> {
    let h = mix(boot as u64 ^ u64::from(vmid).wrapping_mul(0x51));
    let day = 86_400;
    if running {
        let end = started_at - 60 - (h % 3600) as i64;
        let start = end - day * (1 + (h >> 8) % 20) as i64;
        (end > now - 365 * day)
            .then_some((start, end))
            .into_iter()
            .collect()
    } else if h.is_multiple_of(4) {
        Vec::new()
    } else {
        let end = now - 3600 * (2 + (h >> 4) % 200) as i64;
        vec![(end - 3600 * (6 + (h >> 12) % 300) as i64, end)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_shaped() {
        let a = generate(3, 12, 42, 1_800_000_000);
        let b = generate(3, 12, 42, 1_800_000_000);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(
            a.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["pve1", "pve2", "pve3"]
        );
        assert_eq!(a.vms.len(), 12);
        assert_eq!(*a.vms.keys().next().unwrap(), 100);
        let templates: Vec<_> = a.vms.values().filter(|v| v.template).collect();
        assert_eq!(templates.len(), 1);
        assert_eq!(templates[0].power, Power::Stopped);
        let running = a.vms.values().filter(|v| v.power == Power::Running).count();
        assert_eq!(running, 6);
        assert!(a.nodes.iter().all(|n| a.vms_on(&n.name).count() >= 3));
        let usb: Vec<_> = a
            .vms
            .values()
            .filter(|v| v.extra.contains_key("usb0"))
            .collect();
        assert_eq!(usb.len(), 1, "one VM has a local USB device");
        assert_eq!(usb[0].power, Power::Stopped);
        let c = generate(3, 12, 7, 1_800_000_000);
        assert_ne!(format!("{:?}", a.vms), format!("{:?}", c.vms));
    }

    #[test]
    fn many_vms_get_unique_names() {
        let m = generate(2, 60, 1, 1_800_000_000);
        let mut names: Vec<_> = m.vms.values().map(|v| v.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 60);
    }
}
