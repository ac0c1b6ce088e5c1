//! Snapshots, pending changes, `nextid` and migration preconditions over real HTTPS, as PVE
//! answers them (part of the `sim_ops` target).
//!
//! Run: `cargo test -p pve --features sim --test sim_ops snapshots`

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::sim_support::{Client, encode, find_vm, start, start_with};

async fn put(c: &Client, path: &str, form: &[(&str, &str)]) -> crate::sim_support::Answer {
    c.call(Method::PUT, path, form).await
}

/// Starts a task and waits for it: (final status, log lines).
async fn task(c: &Client, a: crate::sim_support::Answer) -> (Value, Vec<String>) {
    let upid = a
        .data()
        .as_str()
        .unwrap_or_else(|| panic!("{a:?}"))
        .to_owned();
    let done = c.wait_task(&upid).await;
    let node = upid.split(':').nth(1).unwrap();
    let log = c
        .get(&format!(
            "/nodes/{node}/tasks/{}/log?limit=0",
            encode(&upid)
        ))
        .await;
    let lines = log.data().as_array().unwrap().iter();
    (
        done,
        lines.map(|l| l["t"].as_str().unwrap().to_owned()).collect(),
    )
}

fn snapshot<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[tokio::test]
async fn snapshot_tree_rollback_and_delete() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let cfg0 = c.get(&format!("{vm}/config")).await.data().clone();
    let cores0 = cfg0["cores"].as_u64().unwrap();

    // s1 of the running VM, without RAM
    let a = c
        .post(&format!("{vm}/snapshot"), &[("snapname", "s1")])
        .await;
    assert!(a.data().as_str().unwrap().contains(":qmsnapshot:"), "{a:?}");
    let (done, log) = task(&c, a).await;
    assert_eq!(done["exitstatus"], "OK");
    assert!(
        log.iter()
            .any(|l| l.starts_with("snapshotting 'drive-scsi0'")),
        "{log:?}"
    );
    let list = c.get(&format!("{vm}/snapshot")).await.data().clone();
    assert_eq!(list.as_array().unwrap().last().unwrap()["name"], "current");
    assert_eq!(snapshot(&list, "current")["parent"], "s1");
    assert_eq!(snapshot(&list, "current")["running"], 1);
    assert_eq!(snapshot(&list, "s1")["vmstate"], 0);
    assert!(snapshot(&list, "s1").get("parent").is_none());
    assert_eq!(c.get(&format!("{vm}/config")).await.data()["parent"], "s1");

    // the name is taken: the task fails, as on PVE
    let a = c
        .post(&format!("{vm}/snapshot"), &[("snapname", "s1")])
        .await;
    let (done, _) = task(&c, a).await;
    assert_eq!(done["exitstatus"], "snapshot name 's1' already used");

    // a change the running VM cannot take at once, then s2 with RAM
    let more = (cores0 + 1).to_string();
    assert!(
        put(&c, &format!("{vm}/config"), &[("cores", &more)])
            .await
            .data()
            .is_null()
    );
    let a = c
        .post(
            &format!("{vm}/snapshot"),
            &[("snapname", "s2"), ("vmstate", "1"), ("description", "RAM")],
        )
        .await;
    let (done, log) = task(&c, a).await;
    assert_eq!(done["exitstatus"], "OK");
    assert!(
        log.iter().any(|l| l.starts_with("saving VM state")),
        "{log:?}"
    );
    let list = c.get(&format!("{vm}/snapshot")).await.data().clone();
    assert_eq!(snapshot(&list, "s2")["parent"], "s1");
    assert_eq!(snapshot(&list, "s2")["vmstate"], 1);
    assert_eq!(snapshot(&list, "s2")["description"], "RAM");
    let s2 = c.get(&format!("{vm}/snapshot/s2/config")).await;
    assert_eq!(
        s2.data()["cores"].as_u64(),
        Some(cores0),
        "pending is not saved"
    );
    assert_eq!(
        s2.data()["vmstate"],
        format!("local-lvm:vm-{vmid}-state-s2").as_str()
    );
    let via_config = c.get(&format!("{vm}/config?snapshot=s2")).await;
    assert_eq!(via_config.data()["snaptime"], s2.data()["snaptime"]);
    assert!(via_config.data()["digest"].is_string());
    let both = c.get(&format!("{vm}/config?snapshot=s2&current=1")).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    put(
        &c,
        &format!("{vm}/snapshot/s2/config"),
        &[("description", "with RAM")],
    )
    .await
    .data();
    let list = c.get(&format!("{vm}/snapshot")).await.data().clone();
    assert_eq!(snapshot(&list, "s2")["description"], "with RAM");

    // rollback to s1 (no RAM) stops the VM and restores s1's options; pending is gone
    put(&c, &format!("{vm}/config"), &[("name", "renamed")]).await;
    let a = c.post(&format!("{vm}/snapshot/s1/rollback"), &[]).await;
    assert!(a.data().as_str().unwrap().contains(":qmrollback:"));
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");
    let cfg = c.get(&format!("{vm}/config")).await.data().clone();
    assert_eq!(cfg["name"], cfg0["name"]);
    assert_eq!(cfg["cores"].as_u64(), Some(cores0));
    assert_eq!(cfg["parent"], "s1");
    let cur = c.get(&format!("{vm}/status/current")).await;
    assert_eq!(cur.data()["status"], "stopped");
    let pending = c.get(&format!("{vm}/pending")).await.data().clone();
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("pending").is_none()),
        "{pending}"
    );

    // rollback to s2 (with RAM) resumes the VM
    let a = c.post(&format!("{vm}/snapshot/s2/rollback"), &[]).await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");
    assert_eq!(
        c.get(&format!("{vm}/status/current")).await.data()["status"],
        "running"
    );
    assert_eq!(c.get(&format!("{vm}/config")).await.data()["parent"], "s2");

    // a VM with snapshots on LVM-thin cannot migrate
    let pre = c.get(&format!("{vm}/migrate")).await.data().clone();
    let target = pre["allowed_nodes"][0].as_str().unwrap().to_owned();
    let disks = pre["local_disks"].as_array().unwrap();
    assert!(disks.iter().any(|d| d["is_vmstate"] == 1), "{pre}");
    let a = c
        .post(
            &format!("{vm}/migrate"),
            &[
                ("target", &target),
                ("online", "1"),
                ("with-local-disks", "1"),
            ],
        )
        .await;
    let (done, log) = task(&c, a).await;
    assert_eq!(done["exitstatus"], "migration aborted");
    assert!(
        log.iter().any(|l| l
            .contains("online storage migration not possible if non-replicated snapshot exists")),
        "{log:?}"
    );

    // deleting s1 makes s2 a root
    let a = c
        .call(Method::DELETE, &format!("{vm}/snapshot/s1"), &[])
        .await;
    assert!(a.data().as_str().unwrap().contains(":qmdelsnapshot:"));
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");
    let list = c.get(&format!("{vm}/snapshot")).await.data().clone();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(snapshot(&list, "s2").get("parent").is_none());
    let a = c
        .call(Method::DELETE, &format!("{vm}/snapshot/nope"), &[])
        .await;
    assert_eq!(
        task(&c, a).await.0["exitstatus"],
        "snapshot 'nope' does not exist"
    );
    let a = c.post(&format!("{vm}/snapshot/nope/rollback"), &[]).await;
    assert_eq!(
        task(&c, a).await.0["exitstatus"],
        "snapshot 'nope' does not exist"
    );
    let a = c.get(&format!("{vm}/snapshot/nope/config")).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.message(), "snapshot 'nope' does not exist\n");
    let idx = c.get(&format!("{vm}/snapshot/s2")).await;
    assert_eq!(idx.data()[0]["cmd"], "rollback");
}

#[tokio::test]
async fn snapshot_refusals_locks_and_permissions() {
    let sim = start_with(pve::sim::SimConfig {
        root_password: "secret".into(),
        task_speed: 1.0,
        auth_failure_delay: Duration::from_millis(20),
        ..pve::sim::SimConfig::default()
    })
    .await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");

    let a = c
        .post(&format!("{vm}/snapshot"), &[("snapname", "current")])
        .await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        a.message(),
        "unable to use snapshot name 'current' (reserved name)\n"
    );
    let a = c
        .post(&format!("{vm}/snapshot"), &[("snapname", "1st")])
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.body["errors"]["snapname"],
        "invalid format - invalid configuration ID '1st'\n"
    );

    // While the snapshot is taken, the VM is locked: config changes and a second snapshot
    // are refused. `vmstate` of a stopped VM is ignored.
    let first = c
        .post(
            &format!("{vm}/snapshot"),
            &[("snapname", "a1"), ("vmstate", "1")],
        )
        .await;
    let upid = first.data().as_str().unwrap().to_owned();
    let mut locked = false;
    for _ in 0..100 {
        if c.get(&format!("{vm}/config")).await.data()["lock"] == "snapshot" {
            locked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(locked, "the snapshot lock is visible while the task runs");
    let a = put(&c, &format!("{vm}/config"), &[("cores", "3")]).await;
    assert_eq!(a.message(), "VM is locked (snapshot)\n");
    let a = c
        .post(&format!("{vm}/snapshot"), &[("snapname", "a2")])
        .await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "VM is locked (snapshot)");
    let a = c.post(&format!("{vm}/status/start"), &[]).await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "VM is locked (snapshot)");
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let list = c.get(&format!("{vm}/snapshot")).await.data().clone();
    assert_eq!(snapshot(&list, "a1")["vmstate"], 0);
    assert!(
        c.get(&format!("{vm}/config"))
            .await
            .data()
            .get("lock")
            .is_none()
    );

    // a template cannot be snapshotted
    let (tnode, tpl) = find_vm(&c, |v| v["template"] == 1).await;
    let a = c
        .post(
            &format!("/nodes/{tnode}/qemu/{tpl}/snapshot"),
            &[("snapname", "t1")],
        )
        .await;
    assert_eq!(
        task(&c, a).await.0["exitstatus"],
        "you can't take a snapshot if it's a template"
    );

    // the auditor may list and read, not take or roll back
    let (user, pw) = sim.auditor();
    let aud = Client::login(&sim, &user, &pw).await;
    assert_eq!(
        aud.get(&format!("{vm}/snapshot")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        aud.get(&format!("{vm}/snapshot/a1/config")).await.status,
        StatusCode::OK
    );
    let a = aud
        .post(&format!("{vm}/snapshot"), &[("snapname", "x1")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.message(),
        format!("Permission check failed (/vms/{vmid}, VM.Snapshot)\n")
    );
    let a = aud.post(&format!("{vm}/snapshot/a1/rollback"), &[]).await;
    assert_eq!(
        a.message(),
        format!("Permission check failed (/vms/{vmid}, VM.Snapshot|VM.Snapshot.Rollback)\n")
    );

    // rollback with `start` starts the stopped VM
    let a = c
        .post(&format!("{vm}/snapshot/a1/rollback"), &[("start", "1")])
        .await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");
    assert_eq!(
        c.get(&format!("{vm}/status/current")).await.data()["status"],
        "running"
    );
}

#[tokio::test]
async fn pending_changes_of_a_running_vm() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let before = c.get(&format!("{vm}/config")).await.data().clone();
    let cores = before["cores"].as_u64().unwrap();
    let more = (cores + 2).to_string();
    let a = put(
        &c,
        &format!("{vm}/config"),
        &[
            ("cores", &more),
            ("memory", "3000"),
            ("name", "hot"),
            ("digest", before["digest"].as_str().unwrap()),
        ],
    )
    .await;
    assert!(a.data().is_null(), "{a:?}");
    let pending = c.get(&format!("{vm}/pending")).await.data().clone();
    let entry = |k: &str| snapshot_key(&pending, k);
    assert_eq!(entry("cores")["pending"], more.as_str());
    assert_eq!(entry("cores")["value"], cores.to_string().as_str());
    assert_eq!(entry("memory")["pending"], "3000");
    assert!(
        entry("name").get("pending").is_none(),
        "name is hot-plugged"
    );
    assert_eq!(entry("name")["value"], "hot");
    // the config shows pending values, `current=1` what runs now; one digest for both
    let shown = c.get(&format!("{vm}/config")).await.data().clone();
    let now = c
        .get(&format!("{vm}/config?current=1"))
        .await
        .data()
        .clone();
    assert_eq!(shown["cores"].as_u64(), Some(cores + 2));
    assert_eq!(now["cores"].as_u64(), Some(cores));
    assert_eq!(shown["digest"], now["digest"]);
    // the old digest is stale
    let a = put(
        &c,
        &format!("{vm}/config"),
        &[
            ("onboot", "1"),
            ("digest", before["digest"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        a.message(),
        "checksum mismatch (file change by other user?)\n"
    );
    // revert one pending change
    put(&c, &format!("{vm}/config"), &[("revert", "memory")]).await;
    let pending = c.get(&format!("{vm}/pending")).await.data().clone();
    assert!(snapshot_key(&pending, "memory").get("pending").is_none());
    // a pending delete
    put(&c, &format!("{vm}/config"), &[("delete", "numa")]).await;
    let pending = c.get(&format!("{vm}/pending")).await.data().clone();
    assert_eq!(snapshot_key(&pending, "numa")["delete"], 1);
    // reboot applies it all
    let a = c.post(&format!("{vm}/status/reboot"), &[]).await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");
    let now = c
        .get(&format!("{vm}/config?current=1"))
        .await
        .data()
        .clone();
    assert_eq!(now["cores"].as_u64(), Some(cores + 2));
    assert!(now.get("numa").is_none());
    let pending = c.get(&format!("{vm}/pending")).await.data().clone();
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("pending").is_none() && p.get("delete").is_none())
    );
    // a stopped VM takes everything at once
    let (snode, stopped) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    put(
        &c,
        &format!("/nodes/{snode}/qemu/{stopped}/config"),
        &[("cores", "7")],
    )
    .await;
    let now = c
        .get(&format!("/nodes/{snode}/qemu/{stopped}/config?current=1"))
        .await;
    assert_eq!(now.data()["cores"], 7);
    // a running VM's pending change is applied by stop, too
    put(&c, &format!("{vm}/config"), &[("sockets", "2")]).await;
    let a = c.post(&format!("{vm}/status/stop"), &[]).await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");
    let now = c.get(&format!("{vm}/config?current=1")).await;
    assert_eq!(now.data()["sockets"], 2);
}

fn snapshot_key<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {list}"))
}

#[tokio::test]
async fn nextid_and_migration_refusals() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    // 12 VMs: 100–111
    assert_eq!(c.get("/cluster/nextid").await.data(), "112");
    assert_eq!(c.get("/cluster/nextid?vmid=500").await.data(), "500");
    let a = c.get("/cluster/nextid?vmid=100").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["errors"]["vmid"], "VM 100 already exists");

    // the VM with a USB device from its host
    let mut usb = None;
    for v in crate::sim_support::vms(&c).await {
        let (n, id) = (v["node"].as_str().unwrap(), v["vmid"].as_u64().unwrap());
        let cfg = c.get(&format!("/nodes/{n}/qemu/{id}/config")).await;
        if cfg.data().get("usb0").is_some() {
            usb = Some((n.to_owned(), id));
        }
    }
    let (node, vmid) = usb.expect("the demo world has a VM with a local device");
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let pre = c.get(&format!("{vm}/migrate")).await.data().clone();
    assert_eq!(pre["running"], 0);
    assert_eq!(pre["local_resources"], serde_json::json!(["usb0"]));
    assert_eq!(pre["allowed_nodes"].as_array().unwrap().len(), 2);
    assert_eq!(pre["local_disks"][0]["drivename"], "scsi0");
    let target = pre["allowed_nodes"][0].as_str().unwrap().to_owned();
    let a = c
        .post(&format!("{vm}/migrate"), &[("target", &target)])
        .await;
    let (done, log) = task(&c, a).await;
    assert_eq!(done["exitstatus"], "migration aborted");
    assert!(
        log.iter()
            .any(|l| l.ends_with("can't migrate VM which uses local devices: usb0")),
        "{log:?}"
    );
    let a = c.post(&format!("{vm}/migrate"), &[("target", &node)]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["errors"]["target"], "target is local node.");
    // root may force an offline migration with local devices
    let a = c
        .post(
            &format!("{vm}/migrate"),
            &[("target", &target), ("force", "1")],
        )
        .await;
    assert_eq!(task(&c, a).await.0["exitstatus"], "OK");

    // a running VM's local disk needs with-local-disks: the worker refuses it
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let target = c.get(&format!("{vm}/migrate")).await.data()["allowed_nodes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let a = c
        .post(
            &format!("{vm}/migrate"),
            &[("target", &target), ("online", "1")],
        )
        .await;
    let (done, log) = task(&c, a).await;
    assert_eq!(done["exitstatus"], "migration aborted");
    assert!(
        log.iter().any(|l| l
            .ends_with("can't live migrate attached local disks without with-local-disks option")),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.contains("ERROR: migration aborted")));
}
