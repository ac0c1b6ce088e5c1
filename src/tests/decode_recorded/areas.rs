// Recorded answers for node status, metric history (RRD), cluster status, access, the VNC
// proxy, and a sweep over every cassette interaction whose endpoint the client has, plus the
// constructed examples (marked as such: shapes written from PVE's source, not recordings).

use serde_json::Value;

use pve::types::{
    ClusterLogEntry, ClusterResource, ClusterStatusEntry, NodeRrdPoint, NodeStatus, Permissions,
    QemuListEntry, QemuRrdPoint, Role, StorageContentEntry, TaskListEntry, TaskStatus, TicketInfo,
    User, Version, VncProxy,
};

use super::{CASSETTES, decode, interactions, recorded};

fn points<T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug>(
    file: &str,
) -> Vec<T> {
    decode(&recorded(file)["data"])
}

#[test]
fn qemu_rrddata_pve9_year_with_missing_samples() {
    let list: Vec<QemuRrdPoint> = points("pve9.2.3_qemu_rrddata_year_AVERAGE.pulse.json");
    assert_eq!(list.len(), 12);
    let p = &list[0];
    assert_eq!(p.time, 1_768_327_200);
    assert_eq!(p.cpu, Some(0.0070435117676127));
    assert_eq!(p.maxcpu, Some(2.0));
    assert_eq!(p.mem, Some(2_609_766_106.425_24));
    assert_eq!(p.maxmem, Some(8_589_934_592.0));
    assert_eq!(p.memhost, Some(1_466_588_109.502_33));
    assert_eq!(p.diskwrite, Some(26_717.8315500686));
    assert_eq!(p.netout, Some(35_664.5184087792));
    assert_eq!(p.pressureiosome, Some(0.374239368998628));
    assert!(p.has_samples());
    // The file is trimmed to 12 rows; times still ascend on 6 h boundaries (PVE 9, year).
    assert!(list.windows(2).all(|w| w[0].time < w[1].time));
    assert!(list.iter().all(|p| p.time % (6 * 3600) == 0));
    // The last two points are gaps: only the configured sizes, the rest left out.
    let gap = &list[11];
    assert!(!gap.has_samples());
    assert_eq!(gap.cpu, None);
    assert_eq!(gap.memhost, None);
    assert_eq!(gap.maxmem, Some(2_147_483_648.0));
    assert_eq!(gap.maxdisk, Some(32_212_254_720.0));
    assert_eq!(list.iter().filter(|p| !p.has_samples()).count(), 2);
}

#[test]
fn node_rrddata_pve9_hour() {
    let list: Vec<NodeRrdPoint> = points("pve9.2.3_node_rrddata_hour_AVERAGE.pulse.json");
    assert_eq!(list.len(), 12);
    let p = &list[0];
    assert_eq!(p.time, 1_785_168_420);
    assert_eq!(p.cpu, Some(0.185322399620351));
    assert_eq!(p.maxcpu, Some(4.0));
    assert_eq!(p.loadavg, Some(0.776666666666667));
    assert_eq!(p.memtotal, Some(16_535_748_608.0));
    assert_eq!(p.memused, Some(6_724_851_029.333_33));
    assert_eq!(p.memavailable, Some(9_810_897_578.666_66));
    assert_eq!(p.arcsize, Some(1_610_934_106.666_67));
    assert_eq!(p.swapused, Some(1_229_058_048.0));
    assert_eq!(p.rootused, Some(9_164_816_384.0));
    assert_eq!(p.netin, Some(75_773.9833333333));
    assert_eq!(p.pressurecpusome, Some(1.99333333333333));
    assert_eq!(list[1].time - list[0].time, 60);
    assert!(list.iter().all(|p| p.cpu.is_some()));
}

#[test]
fn rrddata_pve8() {
    let node: Vec<NodeRrdPoint> = points("pve8_node_rrddata.from-rrd-file.pulse.json");
    assert_eq!(node.len(), 12);
    assert_eq!(node[0].iowait, Some(0.555264645792154));
    assert_eq!(node[0].memused, Some(5_607_787_997.866_67));
    // PVE 8 has neither memavailable nor pressure columns.
    assert!(
        node.iter()
            .all(|p| p.memavailable.is_none() && p.pressurecpusome.is_none())
    );

    let guest: Vec<QemuRrdPoint> = points("pve8_guest_rrddata.from-rrd-file.pulse.json");
    assert_eq!(guest.len(), 12);
    assert_eq!(guest[0].mem, Some(765_132_800.0));
    assert_eq!(guest[0].netin, Some(1497.31));
    assert_eq!(guest[0].memhost, None);
    // Points 5.. are missing samples: keys left out, sizes still there.
    assert_eq!(guest.iter().filter(|p| p.has_samples()).count(), 5);
    assert_eq!(guest[11].time, 1_755_964_980);
    assert_eq!(guest[11].maxmem, Some(4_294_967_296.0));
    assert_eq!(guest[11].netin, None);
}

#[test]
fn qemu_rrddata_pve8_stopped_vm() {
    let list: Vec<QemuRrdPoint> = points("pve8.0_qemu_rrddata_stopped-vm.go-proxmox.json");
    assert_eq!(list.len(), 70);
    assert!(list.iter().all(|p| !p.has_samples() && p.mem.is_none()));
    assert_eq!(list[0].time, 1_693_110_660);
    assert_eq!(list[0].maxcpu, Some(4.0));
    assert_eq!(list[0].maxmem, Some(16_777_216_000.0));
    assert_eq!(list[0].maxdisk, Some(68_719_476_736.0));
    assert_eq!(list[0].disk, Some(0.0));
    assert_eq!(list[69].time - list[0].time, 69 * 60);
}

#[test]
fn node_status_pve7() {
    let s: NodeStatus = decode(&recorded("pve7.4_node_status.go-proxmox.json")["data"]);
    assert_eq!(s.cpu, Some(0.00260552371026576));
    assert_eq!(s.uptime, Some(2_501_631));
    assert_eq!(s.loadavg, [0.0, 0.0, 0.0]);
    assert_eq!(s.memory.total, Some(65_919_459_328));
    assert_eq!(s.memory.used, Some(8_095_399_936));
    assert_eq!(s.memory.free, Some(57_824_059_392));
    assert_eq!(s.memory.available, None);
    assert_eq!(s.swap.total, Some(0));
    assert_eq!(s.rootfs.total, Some(948_338_819_072));
    assert_eq!(s.rootfs.avail, Some(937_851_224_064));
    assert_eq!(
        s.cpuinfo.model.as_deref(),
        Some("Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz")
    );
    assert_eq!(s.cpuinfo.cpus, Some(8));
    assert_eq!(s.cpuinfo.cores, Some(4));
    assert_eq!(s.cpuinfo.sockets, Some(1));
    assert_eq!(s.cpuinfo.mhz, Some(3400.0));
    assert_eq!(s.cpuinfo.hvm, Some(true));
    assert_eq!(s.pveversion.as_deref(), Some("pve-manager/7.4-16/0f39f621"));
    assert_eq!(s.manager_version(), Some("7.4-16"));
    assert!(
        s.kversion
            .as_deref()
            .unwrap()
            .starts_with("Linux 5.15.108-1-pve")
    );
    assert_eq!(s.ksm_shared, Some(0));
    assert_eq!(s.current_kernel, None);
}

#[test]
fn cluster_status_pve8() {
    let list: Vec<ClusterStatusEntry> =
        decode(&recorded("pve7.4-8.0_cluster_status.go-proxmox.json")["data"]);
    assert_eq!(list.len(), 5);
    let cluster = list.iter().find(|e| e.is_cluster()).unwrap();
    assert_eq!(cluster.name, "clustername");
    assert_eq!(cluster.quorate, Some(true));
    assert_eq!(cluster.nodes, Some(4));
    assert_eq!(cluster.version, Some(4));
    let local = list.iter().find(|e| e.local == Some(true)).unwrap();
    assert_eq!(local.name, "node1");
    assert_eq!(local.id, "node/node1");
    assert_eq!(local.nodeid, Some(1));
    assert_eq!(local.ip.as_deref(), Some("192.168.1.1"));
    assert!(local.is_online_node());
    assert_eq!(list.iter().filter(|e| e.kind == "node").count(), 4);
}

#[test]
fn access_roles_and_permissions_pve8() {
    let roles: Vec<Role> = decode(&recorded("pve7.4-8.0_access_roles.go-proxmox.json")["data"]);
    assert_eq!(roles.len(), 16);
    let admin = roles.iter().find(|r| r.roleid == "PVEVMAdmin").unwrap();
    assert!(admin.special);
    assert!(admin.privilege_list().contains(&"VM.PowerMgmt"));
    assert!(
        admin.privilege_list().contains(&"VM.Monitor"),
        "pre-9 privilege set"
    );
    let custom = roles.iter().find(|r| r.roleid == "test").unwrap();
    assert!(!custom.special);

    let perms: Permissions =
        decode(&recorded("pve7.4-8.0_access_permissions_root.go-proxmox.json")["data"]);
    assert_eq!(perms.0.len(), 8);
    assert!(perms.has("/vms", "VM.PowerMgmt"));
    assert!(perms.has("/", "Sys.Audit"));
    assert!(!perms.has("/vms", "VM.Nonexistent"));
    assert_eq!(perms.on("/pools").len(), 38);
    assert!(perms.0["/vms"]["VM.Console"]);
}

#[test]
fn login_answers_as_ticket_info() {
    let t: TicketInfo = decode(&recorded("pve7.4-8.0_access_ticket_POST.go-proxmox.json")["data"]);
    assert_eq!(t.username, "root@pam");
    assert_eq!(t.clustername.as_deref(), Some("pve-cluster"));
    assert!(t.can("vms", "VM.PowerMgmt"));
    assert!(!t.need_tfa);
    // The ticket is not kept.
    assert!(!serde_json::to_string(&t).unwrap().contains("PVE:root@pam"));

    let login = interactions("TestAccessReads").remove(0);
    assert_eq!(login["path"], "/api2/json/access/ticket");
    let t: TicketInfo = decode(&login["response"]["data"]);
    assert_eq!(t.clustername.as_deref(), Some("dogfood"));
    assert!(t.can("vms", "VM.GuestAgent.Audit"), "PVE 9 privilege set");
    assert!(t.can("mapping", "Mapping.Use"));
}

#[test]
fn access_users_pve9() {
    let users = interactions("TestAccessReads")
        .into_iter()
        .find(|i| i["path"] == "/api2/json/access/users")
        .unwrap();
    let list: Vec<User> = decode(&users["response"]["data"]);
    assert_eq!(list.len(), 1);
    let root = &list[0];
    assert_eq!(root.userid, "root@pam");
    assert_eq!(root.realm(), "pam");
    assert_eq!(root.realm_type.as_deref(), Some("pam"));
    assert!(root.is_enabled());
    assert_eq!(root.expire, Some(0));
    assert_eq!(root.email.as_deref(), Some("root@outer.example"));
}

#[test]
fn vncproxy_under_a_token_pve9() {
    let i = interactions("TestConsoleMint")
        .into_iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("/vncproxy"))
        .unwrap();
    assert_eq!(i["request_body"], "websocket=1");
    let v: VncProxy = decode(&i["response"]["data"]);
    assert_eq!(v.user, "root@pam!sdk");
    assert_eq!(v.port, 5900, "port arrives as the string \"5900\"");
    assert_eq!(v.upid.task_type(), "vncproxy");
    assert_eq!(v.upid.id(), "9102");
    assert_eq!(v.password.as_deref(), Some("REDACTED"));
    assert!(
        v.cert
            .as_deref()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
}

/// The table path (`/nodes/{node}/qemu`) an actual path matches.
fn template_of(method: &str, path: &str) -> Option<&'static str> {
    let path = path.strip_prefix("/api2/json").unwrap_or(path);
    let actual: Vec<&str> = path.split('/').collect();
    #[cfg(feature = "client")]
    let table: Vec<(&str, &'static str)> = pve::client::endpoints::ENDPOINTS
        .iter()
        .map(|e| (e.method, e.path))
        .collect();
    #[cfg(not(feature = "client"))]
    let table: Vec<(&str, &'static str)> = KNOWN.to_vec();
    table.into_iter().find_map(|(m, template)| {
        let t: Vec<&str> = template.split('/').collect();
        let same = m == method
            && t.len() == actual.len()
            && t.iter()
                .zip(&actual)
                .all(|(t, a)| t.starts_with('{') || t == a);
        same.then_some(template)
    })
}

/// Without the `client` feature the table is not compiled; these are the endpoints the
/// recordings touch that the client has.
#[cfg(not(feature = "client"))]
const KNOWN: &[(&str, &str)] = &[
    ("POST", "/access/ticket"),
    ("GET", "/version"),
    ("GET", "/cluster/resources"),
    ("GET", "/nodes/{node}/qemu"),
    ("POST", "/nodes/{node}/qemu"),
    ("GET", "/nodes/{node}/tasks/{upid}/status"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/start"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
    ("POST", "/nodes/{node}/qemu/{vmid}/vncproxy"),
    ("GET", "/access/users"),
];

/// Recorded calls of endpoints Cecyber does not use (HA, LXC, ACME, storage config, uploads,
/// snapshots, VM deletion, API token lists).
const OUTSIDE_THE_CLIENT: &[&str] = &[
    "/cluster/ha/",
    "/cluster/acme/",
    "/nodes/pve/lxc",
    "/nodes/pve/config",
    "/nodes/pve/certificates/",
    "/nodes/pve/storage/local/upload",
    "/storage",
    "/access/users/root@pam/token",
    "/snapshot",
];

#[test]
fn every_recorded_answer_of_a_client_endpoint_decodes() {
    let mut decoded = 0;
    for cassette in CASSETTES {
        for i in interactions(cassette) {
            if i["status"] != 200 {
                continue;
            }
            let method = i["method"].as_str().unwrap();
            let path = i["path"].as_str().unwrap();
            let data = &i["response"]["data"];
            let Some(template) = template_of(method, path) else {
                let outside = OUTSIDE_THE_CLIENT.iter().any(|p| path.contains(p))
                    || (method == "DELETE" && path.contains("/qemu/"));
                assert!(
                    outside,
                    "{cassette}: {method} {path} is neither decoded nor excluded"
                );
                continue;
            };
            let what = format!("{cassette}: {method} {path}");
            match (method, template) {
                ("POST", "/access/ticket") => drop(decode::<TicketInfo>(data)),
                ("GET", "/version") => drop(decode::<Version>(data)),
                ("GET", "/cluster/resources") => drop(decode::<Vec<ClusterResource>>(data)),
                ("GET", "/nodes/{node}/qemu") => drop(decode::<Vec<QemuListEntry>>(data)),
                ("GET", "/nodes/{node}/tasks/{upid}/status") => drop(decode::<TaskStatus>(data)),
                ("POST", "/nodes/{node}/qemu/{vmid}/vncproxy") => drop(decode::<VncProxy>(data)),
                ("GET", "/access/users") => drop(decode::<Vec<User>>(data)),
                // Actions answer with a task ID.
                ("POST", _) => {
                    let upid: pve::ids::Upid = decode(data);
                    assert!(path.contains(upid.node().as_str()), "{what}");
                }
                _ => panic!("{what}: no decoder for {template}"),
            }
            decoded += 1;
        }
    }
    assert!(decoded > 60, "only {decoded} answers decoded");
}

// ---- constructed examples (written from PVE's source, not recorded) -----------------------

fn constructed(key: &str) -> Value {
    let path = crate::reference::pve_reference_dir().join("constructed/examples-from-source.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with(key))
        .unwrap_or_else(|| panic!("no constructed example {key}"))
        .1["response"]["data"]
        .clone()
}

#[test]
fn constructed_task_list_cluster_log_backup_content_vncproxy() {
    let tasks: Vec<TaskListEntry> = decode(&constructed("GET /api2/json/nodes/{node}/tasks ("));
    assert_eq!(tasks[0].upid.task_type(), "qmstart");
    assert_eq!(tasks[0].endtime, Some(1_783_346_636));
    assert!(tasks[0].succeeded() && !tasks[0].is_running());

    let log: Vec<ClusterLogEntry> = decode(&constructed("GET /api2/json/cluster/log"));
    assert_eq!(log[0].tag.as_deref(), Some("pvedaemon"));
    assert_eq!(log[0].pri, Some(6));
    assert!(!log[0].is_warning());
    assert_eq!(log[0].id.as_deref(), Some("1234:pve"));

    let content: Vec<StorageContentEntry> = decode(&constructed(
        "GET /api2/json/nodes/{node}/storage/{storage}/content",
    ));
    let b = &content[0];
    assert!(b.is_backup());
    assert_eq!(b.volid.storage().as_str(), "local");
    assert_eq!(b.vm_id().unwrap().get(), 100);
    assert_eq!(b.format, "vma.zst");
    assert_eq!(b.subtype.as_deref(), Some("qemu"));
    assert_eq!(b.size, Some(1_234_567_890));
    assert_eq!(b.protected, Some(true));
    assert_eq!(b.notes.as_deref(), Some("web01"));

    let mut v = constructed("POST /api2/json/nodes/{node}/qemu/{vmid}/vncproxy");
    let proxy: VncProxy = decode(&v);
    assert_eq!(proxy.port, 5900);
    assert!(proxy.password.is_some());
    // Before 9.1.7 / 8.4.7 without generate-password: no password, the ticket is it.
    v.as_object_mut().unwrap().remove("password");
    let old: VncProxy = decode(&v);
    assert_eq!(old.vnc_password(), old.ticket);
}
