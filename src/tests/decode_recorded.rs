// Decodes real PVE answers recorded by other projects (see /work/shared/pve/README.md) into the
// `pve` types and checks the values a user sees.
//
// More areas (metrics, node status, cluster, access, console, and every cassette interaction
// of an endpoint the client uses) are in decode_recorded/areas.rs.
//
// Run: cargo test -p pve --test decode_recorded
// The recordings are read from the steering repository's shared/pve/recorded (see
// support/reference.rs for how it is found).

#[path = "support/reference.rs"]
mod reference;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use pve::ids::Upid;

#[path = "decode_recorded/areas.rs"]
mod areas;
use pve::types::{
    ClusterResource, NodeSummary, QemuListEntry, QemuStatus, TaskState, TaskStatus, Version,
    VmStatus,
};

fn recorded(name: &str) -> Value {
    let path = reference::pve_reference_dir().join("recorded").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The interactions of a go-vcr cassette converted to JSON.
fn interactions(cassette: &str) -> Vec<Value> {
    let v = recorded(&format!("proxmox-go-sdk-cassettes/{cassette}.json"));
    v["interactions"].as_array().unwrap().clone()
}

/// Every recorded (path, response data) of successful GETs whose path passes `want`.
fn gets(cassette: &str, want: impl Fn(&str) -> bool) -> Vec<(String, Value)> {
    interactions(cassette)
        .into_iter()
        .filter(|i| i["method"] == "GET" && i["status"] == 200)
        .filter(|i| want(i["path"].as_str().unwrap()))
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_owned(),
                i["response"]["data"].clone(),
            )
        })
        .collect()
}

const CASSETTES: &[&str] = &[
    "TestACMEDNSCloudflare",
    "TestAccessReads",
    "TestClusterAndHAReads",
    "TestComputeReads",
    "TestConsoleMint",
    "TestHAArmDisarmCycle",
    "TestHAStatusReads",
    "TestISOUpload",
    "TestLXCLifecycle",
    "TestQEMULifecycle",
    "TestResourceAffinityPlacement",
    "TestStorageReads",
    "TestVersionRoundTrip",
];

/// Decodes `data`, and checks that our re-serialised form decodes to the same value.
fn decode<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &Value) -> T {
    let value: T = serde_json::from_value(data.clone())
        .unwrap_or_else(|e| panic!("{e}: {}", serde_json::to_string(data).unwrap()));
    let again: T = serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
    assert_eq!(again, value, "round trip");
    value
}

#[test]
fn version_from_every_cassette() {
    let (_, data) = gets("TestVersionRoundTrip", |p| p.ends_with("/version")).remove(0);
    let v: Version = decode(&data);
    assert_eq!(v.version, "9.1.1");
    assert_eq!(v.release, "9.1");
    assert_eq!(v.repoid, "42db4a6cf33dac83");
    assert_eq!(v.major_minor(), Some((9, 1)));

    let mut seen = 0;
    for cassette in CASSETTES {
        for (_, data) in gets(cassette, |p| p.ends_with("/version")) {
            let v: Version = decode(&data);
            assert!(v.version.starts_with("9."), "{v:?}");
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} version answers");
}

#[test]
fn cluster_resources_pve9_nodes_storage_network() {
    let (_, data) = gets("TestClusterAndHAReads", |p| {
        p.ends_with("/cluster/resources")
    })
    .remove(0);
    let list: Vec<ClusterResource> = decode(&data);
    assert_eq!(list.len(), 12);

    let node = list.iter().find(|r| r.id == "node/pve2-dogfood").unwrap();
    assert_eq!(node.kind, "node");
    assert_eq!(node.status.as_deref(), Some("online"));
    assert!(node.is_online() && !node.is_vm() && !node.is_running());
    assert_eq!(node.cpu, Some(0.177993527508091));
    assert_eq!(node.maxcpu, Some(4.0));
    assert_eq!(node.mem, Some(1_878_560_768));
    assert_eq!(node.maxmem, Some(8_327_639_040));
    assert_eq!(node.uptime, Some(3378));
    assert_eq!(node.cgroup_mode, Some(2));
    assert_eq!(node.hastate.as_deref(), Some("online"));
    assert_eq!(node.node_name().unwrap().as_str(), "pve2-dogfood");

    let storage = list
        .iter()
        .find(|r| r.id == "storage/pve/local-lvm")
        .unwrap();
    assert_eq!(storage.storage.as_deref(), Some("local-lvm"));
    assert_eq!(storage.plugintype.as_deref(), Some("lvmthin"));
    assert_eq!(storage.content.as_deref(), Some("images,rootdir"));
    assert_eq!(storage.shared, Some(false));
    assert_eq!(storage.maxdisk, Some(12_675_186_688));
    assert_eq!(storage.status.as_deref(), Some("available"));

    // PVE 9 adds `network` entries; they decode too.
    assert_eq!(list.iter().filter(|r| r.kind == "network").count(), 3);
}

#[test]
fn cluster_resources_pve9_vms_during_ha_migration() {
    let answers = gets("TestResourceAffinityPlacement", |p| {
        p.ends_with("/cluster/resources")
    });
    assert!(answers.len() >= 5);
    let mut saw_lock = false;
    for (_, data) in &answers {
        let list: Vec<ClusterResource> = decode(data);
        for vm in &list {
            assert!(vm.is_vm(), "{vm:?}");
            assert!(vm.vm_id().is_some());
            assert!(!vm.template);
            assert_eq!(vm.maxmem, Some(268_435_456));
            saw_lock |= vm.lock.as_deref() == Some("migrate");
        }
    }
    assert!(saw_lock, "one answer shows a VM locked for migration");

    let first: Vec<ClusterResource> = decode(&answers[0].1);
    let vm = first.iter().find(|r| r.vmid == Some(9301)).unwrap();
    assert_eq!(vm.name.as_deref(), Some("sdk-itest-placement-1"));
    assert_eq!(vm.status.as_deref(), Some("running"));
    assert!(vm.is_running());
    assert_eq!(vm.hastate.as_deref(), Some("started"));
    assert_eq!(vm.mem, Some(31_542_272));
    assert_eq!(vm.uptime, Some(4));
    let other = first.iter().find(|r| r.vmid == Some(9302)).unwrap();
    assert_eq!(other.memhost, Some(31_650_816));
}

#[test]
fn cluster_resources_pve8_guests() {
    let data = &recorded("pve7.4-8.0_cluster_resources.go-proxmox.json")["data"];
    let list: Vec<ClusterResource> = decode(data);
    let vm = list.iter().find(|r| r.id == "qemu/100").unwrap();
    assert_eq!(vm.name.as_deref(), Some("server1"));
    assert_eq!(vm.node.as_deref(), Some("node2"));
    assert!(vm.is_running());
    assert_eq!(vm.cpu, Some(0.0249060195469461));
    assert_eq!(vm.maxcpu, Some(1.0));
    assert_eq!(vm.mem, Some(842_551_296));
    assert_eq!(vm.maxmem, Some(1_073_741_824));
    assert_eq!(vm.uptime, Some(874_350));
    assert_eq!(vm.netin, Some(2_456_116_121));
    assert_eq!(vm.diskwrite, Some(6_059_209_728));

    let template = list.iter().find(|r| r.id == "qemu/101").unwrap();
    assert!(template.template);
    assert_eq!(template.status.as_deref(), Some("stopped"));

    // `+` belongs to PVE's tag alphabet: this is one tag.
    let tagged = list.iter().find(|r| r.id == "qemu/102").unwrap();
    assert_eq!(tagged.tag_list(), ["go-proxmox+cloud-init"]);

    let storage = list
        .iter()
        .find(|r| r.id == "storage/node1/local-zfs")
        .unwrap();
    assert_eq!(storage.plugintype.as_deref(), Some("zfspool"));
    assert_eq!(storage.shared, Some(false));
}

#[test]
fn nodes_pve8() {
    let data = &recorded("pve7.4-8.0_nodes.go-proxmox.json")["data"];
    let nodes: Vec<NodeSummary> = decode(data);
    assert_eq!(nodes.len(), 4);
    let n = &nodes[0];
    assert_eq!(n.node, "node1");
    assert!(n.is_online());
    assert_eq!(n.cpu, Some(0.00348605577689243));
    assert_eq!(n.maxcpu, Some(12));
    assert_eq!(n.mem, Some(11_508_809_728));
    assert_eq!(n.maxmem, Some(33_568_288_768));
    assert_eq!(n.disk, Some(2_310_930_432));
    assert_eq!(n.maxdisk, Some(940_743_983_104));
    assert_eq!(n.uptime, Some(2_236_708));
    assert_eq!(n.level.as_deref(), Some(""));
    assert_eq!(n.id.as_deref(), Some("node/node1"));
    assert_eq!(
        n.ssl_fingerprint.as_deref(),
        Some(
            "80:D4:F2:DF:64:95:CD:8D:A0:82:82:AC:48:BA:C0:7A:1B:6B:87:8B:FE:B9:83:1C:95:4E:79:58:77:99:69:F5"
        )
    );
    assert!(nodes.iter().all(|n| n.name().is_ok()));
}

#[test]
fn qemu_status_current_pve8_running() {
    let data = &recorded("pve8.0_qemu_status_current_running.go-proxmox.json")["data"];
    let s: QemuStatus = decode(data);
    assert_eq!(s.vmid.get(), 101);
    assert_eq!(s.name.as_deref(), Some("matt"));
    assert_eq!(s.status, VmStatus::Running);
    assert!(s.is_running() && !s.is_paused());
    assert_eq!(s.qmpstatus.as_deref(), Some("running"));
    assert_eq!(s.cpu, Some(0.0112815646165076));
    assert_eq!(s.cpus, Some(8.0));
    assert_eq!(s.mem, Some(1_127_792_640));
    assert_eq!(s.maxmem, Some(2_097_152_000));
    assert_eq!(s.freemem, Some(887_222_272));
    assert_eq!(s.balloon, Some(2_097_152_000));
    assert_eq!(s.maxdisk, Some(18_467_520_512));
    assert_eq!(s.uptime, Some(170_815));
    assert_eq!(s.pid, Some(1_563_102));
    assert_eq!(s.agent, Some(true));
    assert_eq!(s.spice, Some(true));
    assert_eq!(s.running_machine.as_deref(), Some("pc-i440fx-8.0+pve0"));
    assert_eq!(s.running_qemu.as_deref(), Some("8.0.2"));
    assert_eq!(s.diskread, Some(649_793_308));
    assert_eq!(s.netin, Some(547_369_168));
    assert_eq!(
        s.nics.as_ref().unwrap()["tap1001i0"].netout,
        Some(14_139_344)
    );
    assert!(!s.template);
    assert!(!s.ha_managed());
}

#[test]
fn qemu_list_entries() {
    // The recorded PVE 9 node has no VMs.
    let (_, data) = gets("TestComputeReads", |p| p.ends_with("/qemu")).remove(0);
    let list: Vec<QemuListEntry> = decode(&data);
    assert!(list.is_empty());

    // No non-empty list was recorded. PVE builds list entries and the current status with the
    // same function (vmstatus), so the recorded status doubles as a list entry.
    let data = &recorded("pve8.0_qemu_status_current_running.go-proxmox.json")["data"];
    let list: Vec<QemuListEntry> = decode(&Value::Array(vec![data.clone()]));
    let e = &list[0];
    assert_eq!(e.vmid.get(), 101);
    assert_eq!(e.name.as_deref(), Some("matt"));
    assert!(e.is_running());
    assert_eq!(e.cpus, Some(8.0));
    assert_eq!(e.maxmem, Some(2_097_152_000));
    assert_eq!(e.uptime, Some(170_815));
}

#[test]
fn task_status_pve9_all_polls() {
    let mut running = 0;
    let mut ok = 0;
    let mut warnings = 0;
    for cassette in CASSETTES {
        for (path, data) in gets(cassette, |p| {
            p.contains("/tasks/") && p.ends_with("/status")
        }) {
            let s: TaskStatus = decode(&data);
            // The UPID in the path is the one in the answer.
            assert!(path.contains(s.upid.as_str()), "{path}");
            assert_eq!(s.upid.node().as_str(), s.node);
            assert_eq!(s.upid.task_type(), s.kind);
            assert_eq!(s.upid.starttime(), s.starttime);
            assert_eq!(s.upid.pid(), s.pid.unwrap());
            if let Some(token) = &s.tokenid {
                assert_eq!(s.upid.user(), format!("{}!{token}", s.user));
                assert_eq!(s.started_by(), s.upid.user());
            }
            match s.status {
                TaskState::Running => {
                    running += 1;
                    assert!(s.failure().is_none() && !s.succeeded());
                }
                TaskState::Stopped => {
                    // Every recorded task succeeded; one container creation with a warning.
                    assert!(s.succeeded(), "{path}");
                    assert!(s.failure().is_none());
                    if s.exitstatus.as_deref() == Some("OK") {
                        ok += 1;
                    } else {
                        assert_eq!(s.exitstatus.as_deref(), Some("WARNINGS: 1"));
                        assert_eq!(s.warnings(), Some(1));
                        warnings += 1;
                    }
                }
            }
        }
    }
    assert!(running > 10 && ok > 10, "running {running}, ok {ok}");
    assert!(warnings >= 1);
}

#[test]
fn task_status_token_user() {
    let (_, data) = gets("TestConsoleMint", |p| {
        p.contains("qmstart") && p.ends_with("/status")
    })
    .into_iter()
    .find(|(_, d)| d["status"] == "stopped")
    .unwrap();
    let s: TaskStatus = decode(&data);
    assert_eq!(s.user, "root@pam");
    assert_eq!(s.tokenid.as_deref(), Some("sdk"));
    assert_eq!(s.upid.user(), "root@pam!sdk");
    assert_eq!(s.id.as_deref(), Some("9102"));
    assert_eq!(s.kind, "qmstart");
    assert_eq!(s.starttime, 1_783_346_634);
    assert_eq!(s.pstart, Some(7_922_201));
}

#[test]
fn power_action_answers_are_upids() {
    let mut seen = 0;
    for cassette in [
        "TestConsoleMint",
        "TestQEMULifecycle",
        "TestResourceAffinityPlacement",
    ] {
        for i in interactions(cassette) {
            let path = i["path"].as_str().unwrap();
            if i["method"] != "POST" || !path.contains("/qemu/") || !path.contains("/status/") {
                continue;
            }
            let text = i["response"]["data"].as_str().unwrap();
            let upid: Upid = text.parse().unwrap();
            let action = path.rsplit('/').next().unwrap();
            assert_eq!(upid.task_type(), format!("qm{action}"));
            assert_eq!(upid.as_str(), text);
            seen += 1;
        }
    }
    assert!(seen >= 4, "only {seen} power actions");
}

#[test]
fn task_status_pve7_proxmoxer() {
    let v = recorded("pve7.x_task_status_vzdump.proxmoxer.json");
    let mut outcomes = Vec::new();
    for (key, answer) in v.as_object().unwrap() {
        if key.starts_with('_') {
            continue;
        }
        let mut data = answer["data"].clone();
        // proxmoxer appended a routing suffix after the final ':' (see the file's note); a
        // real UPID ends with the user and one ':'.
        let upid = data["upid"].as_str().unwrap();
        let real = format!("{}:", &upid[..upid.rfind(':').unwrap()]);
        data["upid"] = real.into();
        let s: TaskStatus = decode(&data);
        assert_eq!(s.kind, "vzdump");
        assert_eq!(s.id.as_deref(), Some("110"));
        assert_eq!(s.starttime, 1_661_825_068);
        assert_eq!(s.upid.node().as_str(), "node1");
        outcomes.push((
            s.is_running(),
            s.succeeded(),
            s.failure().map(str::to_owned),
        ));
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (false, false, Some("interrupted by signal".to_owned())),
            (false, true, None),
            (true, false, None),
        ]
    );
}
