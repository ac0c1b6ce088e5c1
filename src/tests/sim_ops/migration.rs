//! Migration to other storages (`targetstorage`) and of HA-managed VMs over real HTTPS, as
//! qemu-server and pve-ha-manager do them (part of the `sim_ops` target; the refusals of
//! local devices, disks and snapshots are in `sim_ops/snapshots.rs`).
//!
//! Run: `cargo test -p pve --features sim --test sim_ops migration`

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim_support::{Answer, Client, encode, find_vm, start_with};
use pve::sim::{SimConfig, SimHandle};

/// A simulator with `vms` VMs and very fast tasks (disks copy at 100 GiB/s).
async fn sim(vms: usize) -> SimHandle {
    start_with(SimConfig {
        root_password: "secret".into(),
        vms,
        task_speed: 100.0,
        auth_failure_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
}

/// `POST /_sim/storage` with `body`.
async fn add_storage(sim: &SimHandle, body: Value) {
    let res = crate::sim_support::http_client()
        .post(format!("{}/_sim/storage", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}

/// Waits for the task `a` started: (final status, log lines).
async fn task(c: &Client, a: &Answer) -> (Value, Vec<String>) {
    let upid = a.data().as_str().unwrap_or_else(|| panic!("{a:?}"));
    let done = c.wait_task(upid).await;
    (done, log(c, upid).await)
}

/// A task's log lines.
async fn log(c: &Client, upid: &str) -> Vec<String> {
    let node = upid.split(':').nth(1).unwrap();
    let log = c
        .get(&format!("/nodes/{node}/tasks/{}/log?limit=0", encode(upid)))
        .await;
    let lines = log.data().as_array().unwrap().iter();
    lines.map(|l| l["t"].as_str().unwrap().to_owned()).collect()
}

async fn config(c: &Client, node: &str, vmid: u64) -> Value {
    c.get(&format!("/nodes/{node}/qemu/{vmid}/config"))
        .await
        .data()
        .clone()
}

/// The other nodes of a 3-node cluster, sorted.
fn others(node: &str) -> Vec<String> {
    ["pve1", "pve2", "pve3"]
        .into_iter()
        .filter(|n| *n != node)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_mapped_migration_moves_the_disks_to_the_target_storage() {
    let sim = sim(12).await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    add_storage(
        &sim,
        json!({"storage": "fast", "type": "lvmthin", "content": "images,rootdir"}),
    )
    .await;
    add_storage(
        &sim,
        json!({"storage": "files", "type": "dir", "content": "images,iso"}),
    )
    .await;

    // A stopped VM with a second disk: both are copied offline, their names kept.
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    c.call(
        Method::PUT,
        &format!("{vm}/config"),
        &[("scsi1", "local-lvm:4")],
    )
    .await
    .data();
    let target = others(&node)[0].clone();
    let a = c
        .post(
            &format!("{vm}/migrate"),
            &[("target", &target), ("targetstorage", "local-lvm:fast")],
        )
        .await;
    let (done, lines) = task(&c, &a).await;
    assert_eq!(done["exitstatus"], "OK", "{lines:?}");
    let cfg = config(&c, &target, vmid).await;
    let scsi0 = cfg["scsi0"].as_str().unwrap();
    assert!(
        scsi0.starts_with(&format!("fast:vm-{vmid}-disk-0,")),
        "{cfg}"
    );
    assert_eq!(
        cfg["scsi1"],
        format!("fast:vm-{vmid}-disk-1,size=4G"),
        "{cfg}"
    );
    for line in [
        "copying local disk images".to_owned(),
        format!("volume 'local-lvm:vm-{vmid}-disk-0' is 'fast:vm-{vmid}-disk-0' on the target"),
        format!("volume 'local-lvm:vm-{vmid}-disk-1' is 'fast:vm-{vmid}-disk-1' on the target"),
        "migration finished successfully (duration 00:00:0".to_owned(),
    ] {
        assert!(lines.iter().any(|l| l.contains(&line)), "{line}: {lines:?}");
    }
    // The target's `fast` lists them, its `local-lvm` no longer.
    let content = |storage: &str| {
        let c = c.clone();
        let path = format!("/nodes/{target}/storage/{storage}/content?vmid={vmid}");
        async move { c.get(&path).await.data().to_string() }
    };
    assert!(
        content("fast")
            .await
            .contains(&format!("fast:vm-{vmid}-disk-1")),
        "{}",
        content("fast").await
    );
    assert!(!content("local-lvm").await.contains(&format!("vm-{vmid}-")));

    // A running VM, live, to a directory storage (a single ID maps every storage): the target
    // allocates new volumes, files in the source's format.
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let target = others(&node)[1].clone();
    let a = c
        .post(
            &format!("{vm}/migrate"),
            &[
                ("target", &target),
                ("online", "1"),
                ("with-local-disks", "1"),
                ("targetstorage", "files"),
            ],
        )
        .await;
    let (done, lines) = task(&c, &a).await;
    assert_eq!(done["exitstatus"], "OK", "{lines:?}");
    let cfg = config(&c, &target, vmid).await;
    let scsi0 = cfg["scsi0"].as_str().unwrap();
    assert!(
        scsi0.starts_with(&format!("files:{vmid}/vm-{vmid}-disk-0.raw,format=raw,")),
        "{cfg}"
    );
    let starting = lines
        .iter()
        .position(|l| l.ends_with(&format!("starting VM {vmid} on remote node '{target}'")))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(
        lines[starting + 1].ends_with(&format!(
            "volume 'local-lvm:vm-{vmid}-disk-0' is 'files:{vmid}/vm-{vmid}-disk-0.raw' on the target"
        )),
        "{lines:?}"
    );
    let now = c
        .get(&format!("/nodes/{target}/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(now.data()["status"], "running");
}

#[tokio::test]
async fn target_storages_are_checked_with_pves_messages() {
    let sim = sim(12).await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let target = others(&node)[0].clone();
    // `fast` only on the VM's node
    add_storage(
        &sim,
        json!({"storage": "fast", "type": "lvmthin", "content": "images", "nodes": [node]}),
    )
    .await;
    let migrate = |map: &str| {
        let (c, vm, target, map) = (c.clone(), vm.clone(), target.clone(), map.to_owned());
        async move {
            c.post(
                &format!("{vm}/migrate"),
                &[("target", target.as_str()), ("targetstorage", map.as_str())],
            )
            .await
        }
    };

    // qemu-server's `$check_storage_access_migrate`
    for (map, message) in [
        (
            "local-lvm:fast",
            format!("storage 'fast' is not available on node '{target}'\n"),
        ),
        (
            "backup",
            "storage 'backup' does not support vm images\n".to_owned(),
        ),
        ("nosuch", "storage 'nosuch' does not exist\n".to_owned()),
    ] {
        let a = migrate(map).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{map}: {a:?}");
        assert_eq!(a.message(), message, "{map}");
    }

    // Maps that do not parse: whole-map errors from `migrate_vm`, entry errors from the
    // schema's `storage-pair-list` format.
    for (map, error) in [
        (
            "local-lvm:fast,local-lvm:backup",
            "failed to parse storage map: duplicate mapping for source 'local-lvm'\n",
        ),
        (
            "fast,backup",
            "failed to parse storage map: default target ID can only be provided once\n",
        ),
        (
            "1,fast",
            "failed to parse storage map: identity mapping cannot be combined with other mappings\n",
        ),
        (
            "local-lvm:fast:x",
            "invalid format - entry 'local-lvm:fast:x' contains invalid ID - storage ID 'local-lvm:fast:x' contains illegal characters\n\n\n",
        ),
    ] {
        let a = migrate(map).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{map}: {a:?}");
        assert_eq!(a.message(), "Parameter verification failed.\n");
        assert_eq!(a.body["errors"]["targetstorage"], error, "{map}");
    }

    // Without a map (or with `1`) the VM's own storages must be on the target.
    c.call(Method::PUT, &format!("{vm}/config"), &[("scsi1", "fast:2")])
        .await
        .data();
    for map in ["", "1"] {
        let a = migrate(map).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{a:?}");
        assert_eq!(
            a.message(),
            format!("storage 'fast' is not available on node '{target}'\n")
        );
    }
    // A map for other storages passes the API, and the worker's `prepare` refuses the
    // storage the target lacks.
    let a = migrate("local-lvm:local-lvm").await;
    let (done, lines) = task(&c, &a).await;
    assert_eq!(done["exitstatus"], "migration aborted");
    assert!(
        lines.iter().any(|l| l.ends_with(&format!(
            "ERROR: migration aborted (duration 00:00:00): storage 'fast' is not available on node '{target}'"
        ))),
        "{lines:?}"
    );
    // Nothing moved, nothing locked.
    let cfg = config(&c, &node, vmid).await;
    assert!(cfg.get("lock").is_none(), "{cfg}");
    assert!(cfg["scsi0"].as_str().unwrap().starts_with("local-lvm:"));
}

/// The `qmigrate` tasks of VM `vmid` in `/cluster/tasks`.
async fn qmigrate_tasks(c: &Client, vmid: u64) -> Vec<Value> {
    let tasks = c.get("/cluster/tasks").await.data().clone();
    let id = vmid.to_string();
    tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "qmigrate" && t["id"] == id.as_str())
        .cloned()
        .collect()
}

#[tokio::test]
async fn ha_managed_vms_migrate_through_the_ha_manager() {
    // 130 VMs: HA services vm:125, vm:150, vm:175, vm:200 (in error) and vm:225.
    let sim = sim(130).await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let guests = crate::sim_support::vms(&c).await;
    let guest = |vmid: u64| guests.iter().find(|g| g["vmid"] == vmid).unwrap().clone();
    let running = [125u64, 150, 175, 225]
        .into_iter()
        .map(guest)
        .find(|g| g["status"] == "running")
        .expect("a running HA VM");
    let (node, vmid) = (
        running["node"].as_str().unwrap().to_owned(),
        running["vmid"].as_u64().unwrap(),
    );
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let pre = c.get(&format!("{vm}/migrate")).await.data().clone();
    assert_eq!(pre["dependent-ha-resources"], json!([]), "{pre}");
    let target = others(&node)[0].clone();

    // The checks before the HA branch still apply.
    let a = c
        .post(&format!("{vm}/migrate"), &[("target", &target)])
        .await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.message(), "can't migrate running VM without --online\n");

    // The request: a `hamigrate` task, done at once; the HA manager's `qmigrate` follows.
    let a = c
        .post(
            &format!("{vm}/migrate"),
            &[("target", &target), ("online", "1")],
        )
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(
        upid.contains(&format!(":hamigrate:{vmid}:root@pam:")),
        "{upid}"
    );
    let (done, lines) = task(&c, &a).await;
    assert_eq!(done["exitstatus"], "OK");
    assert_eq!(
        lines,
        [
            format!("Requesting HA migration for VM {vmid} to node {target}"),
            "TASK OK".to_owned()
        ]
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let lrm = loop {
        if let Some(t) = qmigrate_tasks(&c, vmid).await.into_iter().next() {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the HA manager did not migrate it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(lrm["user"], "root@pam");
    assert_eq!(lrm["node"], node.as_str());
    let lrm_upid = lrm["upid"].as_str().unwrap();
    assert_eq!(c.wait_task(lrm_upid).await["exitstatus"], "OK");
    // online, with the local disk (`with-local-disks`), to the same storage
    let lrm_log = log(&c, lrm_upid).await;
    assert!(
        lrm_log
            .iter()
            .any(|l| l.contains("starting storage migration")),
        "{lrm_log:?}"
    );
    let now = c
        .get(&format!("/nodes/{target}/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(now.data()["status"], "running");
    assert_eq!(now.data()["ha"]["managed"], 1);
    assert!(
        config(&c, &target, vmid).await["scsi0"]
            .as_str()
            .unwrap()
            .starts_with(&format!("local-lvm:vm-{vmid}-disk-0,"))
    );

    // A service in error: `ha-manager migrate` refuses, the HA manager does nothing.
    let failed = guest(200);
    let node = failed["node"].as_str().unwrap().to_owned();
    let target = others(&node)[0].clone();
    let a = c
        .post(
            &format!("/nodes/{node}/qemu/200/migrate"),
            &[("target", &target), ("online", "1")],
        )
        .await;
    let (done, lines) = task(&c, &a).await;
    assert_eq!(
        done["exitstatus"],
        format!("command 'ha-manager migrate vm:200 {target}' failed: exit code 255")
    );
    assert_eq!(
        lines[..2],
        [
            format!("Requesting HA migration for VM 200 to node {target}"),
            "service 'vm:200' in error state, must be disabled and fixed first".to_owned(),
        ]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(qmigrate_tasks(&c, 200).await.is_empty());
    let still = crate::sim_support::vms(&c).await;
    let still = still.iter().find(|g| g["vmid"] == 200).unwrap();
    assert_eq!(still["node"], node.as_str());
    assert_eq!(still["hastate"], "error");
}
