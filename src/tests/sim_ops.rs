//! VM life cycles and the newer API areas over real HTTPS: config and digest, resize, clone,
//! migrate, vzdump and restore, backup jobs, the task list and stopping tasks, the cluster
//! log (rrddata: `sim_metrics.rs`); snapshots, pending changes, `nextid` and migration
//! refusals in `sim_ops/snapshots.rs`, migration to other storages and of HA-managed VMs in
//! `sim_ops/migration.rs`, the typed client over all of these in `sim_ops/client.rs` (with the
//! `client` feature).
//!
//! Run: `cargo test -p pve --features sim --test sim_ops`

#![cfg(feature = "sim")]

mod sim_support;

#[path = "sim_ops/snapshots.rs"]
mod snapshots;

#[path = "sim_ops/devices.rs"]
mod devices;

#[path = "sim_ops/migration.rs"]
mod migration;

#[cfg(feature = "client")]
#[path = "sim_ops/client.rs"]
mod client;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sim_support::{Client, encode, find_vm, start};

async fn put(c: &Client, path: &str, form: &[(&str, &str)]) -> sim_support::Answer {
    c.call(Method::PUT, path, form).await
}

#[tokio::test]
async fn config_get_put_post_and_digest() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let path = format!("/nodes/{node}/qemu/{vmid}/config");
    let cfg = c.get(&path).await.data().clone();
    let digest = cfg["digest"].as_str().unwrap().to_owned();
    assert_eq!(digest.len(), 40);
    assert!(cfg["scsi0"].as_str().unwrap().contains("size="));
    let a = put(
        &c,
        &path,
        &[("cores", "3"), ("name", "renamed"), ("digest", &digest)],
    )
    .await;
    assert!(a.data().is_null(), "{a:?}");
    let cfg2 = c.get(&path).await.data().clone();
    assert_eq!(
        (cfg2["cores"].as_u64(), cfg2["name"].as_str()),
        (Some(3), Some("renamed"))
    );
    // the old digest no longer matches
    let a = put(&c, &path, &[("cores", "2"), ("digest", &digest)]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.message().starts_with("checksum mismatch"), "{a:?}");
    // invalid name
    let a = put(&c, &path, &[("name", "bad name")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // POST is a qmconfig task
    let upid = c.post(&path, &[("memory", "4096"), ("tags", "b;a")]).await;
    let upid = upid.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":qmconfig:"));
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let cfg3 = c.get(&path).await.data().clone();
    assert_eq!(
        (cfg3["memory"].as_str(), cfg3["tags"].as_str()),
        (Some("4096"), Some("a;b"))
    );
    // resize +1G
    let before = cfg3["scsi0"].as_str().unwrap().to_owned();
    let r = put(
        &c,
        &format!("/nodes/{node}/qemu/{vmid}/resize"),
        &[("disk", "scsi0"), ("size", "+1G")],
    )
    .await;
    assert_eq!(
        c.wait_task(r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let after = c.get(&path).await.data()["scsi0"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(before, after);
    // the auditor may read but not change
    let (user, pw) = sim.auditor();
    let aud = Client::login(&sim, &user, &pw).await;
    assert_eq!(aud.get(&path).await.status, StatusCode::OK);
    assert_eq!(
        put(&aud, &path, &[("cores", "1")]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn clone_full_and_linked() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let a = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/clone"),
            &[("newid", "900"), ("name", "copy")],
        )
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":qmclone:"), "{upid}");
    // the new VM exists at once, locked
    let cfg = c.get(&format!("/nodes/{node}/qemu/900/config")).await;
    assert_eq!(cfg.data()["lock"], "clone");
    let done = c.wait_task(&upid).await;
    assert_eq!(done["exitstatus"], "OK");
    let cfg = c.get(&format!("/nodes/{node}/qemu/900/config")).await;
    assert!(cfg.data().get("lock").is_none());
    assert_eq!(cfg.data()["name"], "copy");
    let log = c
        .get(&format!("/nodes/{node}/tasks/{}/log", encode(&upid)))
        .await;
    assert!(
        log.data()
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["t"].as_str().unwrap().contains("transferred"))
    );
    // a linked clone only from a template
    let a = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/clone"),
            &[("newid", "901"), ("full", "0")],
        )
        .await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (tnode, tpl) = find_vm(&c, |v| v["template"] == 1).await;
    let a = c
        .post(
            &format!("/nodes/{tnode}/qemu/{tpl}/clone"),
            &[("newid", "902")],
        )
        .await;
    assert_eq!(
        c.wait_task(a.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    // an existing ID is refused
    let a = c
        .post(
            &format!("/nodes/{tnode}/qemu/{tpl}/clone"),
            &[("newid", "902")],
        )
        .await;
    assert!(a.message().contains("already exists"));
}

#[tokio::test]
async fn pools_list_their_vms_in_resources_and_take_clones() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let pools = c.get("/pools").await.data().as_array().unwrap().clone();
    let ids: Vec<&str> = pools
        .iter()
        .map(|p| p["poolid"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"production") && ids.contains(&"development"),
        "{ids:?}"
    );
    let resources = c.get("/cluster/resources?type=vm").await.data().clone();
    let in_pool = |id: &str| {
        resources
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["pool"] == id)
            .count()
    };
    assert!(in_pool("production") > 0);
    // Every pool a VM names exists.
    for r in resources.as_array().unwrap() {
        if let Some(pool) = r["pool"].as_str() {
            assert!(ids.contains(&pool), "{pool}");
        }
    }

    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let clone = format!("/nodes/{node}/qemu/{vmid}/clone");
    let refused = c
        .post(&clone, &[("newid", "910"), ("pool", "nowhere")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.message().contains("pool 'nowhere' does not exist"),
        "{}",
        refused.message()
    );
    let malformed = c
        .post(&clone, &[("newid", "910"), ("pool", "no pool")])
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.body["errors"]["pool"]
            .as_str()
            .unwrap()
            .contains("illegal characters"),
        "{:?}",
        malformed.body
    );
    let a = c
        .post(&clone, &[("newid", "910"), ("pool", "development")])
        .await;
    assert_eq!(
        c.wait_task(a.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let resources = c.get("/cluster/resources?type=vm").await.data().clone();
    let copy = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["vmid"] == 910)
        .unwrap();
    assert_eq!(copy["pool"], "development");
}

#[tokio::test]
async fn migrate_needs_online_for_running_vms() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let pre = c.get(&format!("/nodes/{node}/qemu/{vmid}/migrate")).await;
    assert_eq!(pre.data()["running"], 1);
    let target = pre.data()["allowed_nodes"][0].as_str().unwrap().to_owned();
    let path = format!("/nodes/{node}/qemu/{vmid}/migrate");
    let a = c.post(&path, &[("target", &target)]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.message().contains("--online"), "{a:?}");
    let a = c
        .post(
            &path,
            &[
                ("target", &target),
                ("online", "1"),
                ("with-local-disks", "1"),
            ],
        )
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":qmigrate:"));
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let moved = find_vm(&c, |v| v["vmid"] == vmid).await;
    assert_eq!(moved.0, target);
    let cur = c
        .get(&format!("/nodes/{target}/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(cur.data()["status"], "running");
}

#[tokio::test]
async fn vzdump_then_restore() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let content = format!("/nodes/{node}/storage/backup/content?content=backup&vmid={vmid}");
    let before = c.get(&content).await.data().as_array().unwrap().len();
    let a = c
        .post(
            &format!("/nodes/{node}/vzdump"),
            &[
                ("vmid", &vmid.to_string()),
                ("storage", "backup"),
                ("compress", "zstd"),
                ("mode", "snapshot"),
            ],
        )
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":vzdump:"));
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let list = c.get(&content).await.data().as_array().unwrap().clone();
    assert_eq!(list.len(), before + 1);
    let volid = list.last().unwrap()["volid"].as_str().unwrap().to_owned();
    let prefix = format!("backup:backup/vzdump-qemu-{vmid}-");
    assert!(
        volid.starts_with(&prefix) && volid.ends_with(".vma.zst"),
        "{volid}"
    );

    // change the VM, then restore: refused without force, done with it
    let cfg = format!("/nodes/{node}/qemu/{vmid}/config");
    let old_name = c.get(&cfg).await.data()["name"].clone();
    put(&c, &cfg, &[("name", "changed")]).await;
    let restore = format!("/nodes/{node}/qemu");
    let vmid_s = vmid.to_string();
    let a = c
        .post(&restore, &[("vmid", &vmid_s), ("archive", &volid)])
        .await;
    assert!(a.message().contains("already exists"), "{a:?}");
    let a = c
        .post(
            &restore,
            &[("vmid", &vmid_s), ("archive", &volid), ("force", "1")],
        )
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":qmrestore:"));
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    assert_eq!(c.get(&cfg).await.data()["name"], old_name);
    // restore to a new ID
    let a = c
        .post(
            &restore,
            &[("vmid", "950"), ("archive", &volid), ("unique", "1")],
        )
        .await;
    assert_eq!(
        c.wait_task(a.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(
        c.get(&format!("/nodes/{node}/qemu/950/config"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn backup_jobs_crud() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let jobs = c
        .get("/cluster/backup")
        .await
        .data()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0]["next-run"].as_i64().unwrap() > 0);
    let a = c
        .post(
            "/cluster/backup",
            &[
                ("id", "nightly"),
                ("schedule", "mon..fri 22:00"),
                ("vmid", "100,101"),
                ("storage", "backup"),
            ],
        )
        .await;
    assert!(a.data().is_null(), "{a:?}");
    let j = c.get("/cluster/backup/nightly").await.data().clone();
    assert_eq!(j["schedule"], "mon..fri 22:00");
    assert_eq!(j["next-run"].as_i64().unwrap() % 60, 0);
    put(&c, "/cluster/backup/nightly", &[("enabled", "0")]).await;
    assert!(
        c.get("/cluster/backup/nightly")
            .await
            .data()
            .get("next-run")
            .is_none()
    );
    let bad = c
        .post(
            "/cluster/backup",
            &[("schedule", "someday"), ("vmid", "100")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        c.call(Method::DELETE, "/cluster/backup/nightly", &[])
            .await
            .data()
            .is_null()
    );
    assert_eq!(
        c.get("/cluster/backup/nightly").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let not = c.get("/cluster/backup-info/not-backed-up").await;
    assert!(not.data().as_array().unwrap().len() >= 8);
}

#[tokio::test]
async fn task_list_stop_and_cluster_log() {
    let sim = sim_support::start_with(pve::sim::SimConfig {
        root_password: "secret".into(),
        task_speed: 0.5,
        auth_failure_delay: std::time::Duration::from_millis(20),
        ..pve::sim::SimConfig::default()
    })
    .await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    let active = c.get(&format!("/nodes/{node}/tasks?source=active")).await;
    let entry = active
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["upid"] == upid.as_str())
        .cloned()
        .unwrap();
    assert_eq!(entry["status"], "RUNNING");
    let by_vm = c
        .get(&format!(
            "/nodes/{node}/tasks?source=all&vmid={vmid}&typefilter=qmstart"
        ))
        .await;
    assert!(by_vm.body["total"].as_u64().unwrap() >= 1);
    let d = c
        .call(
            Method::DELETE,
            &format!("/nodes/{node}/tasks/{}", encode(&upid)),
            &[],
        )
        .await;
    assert!(d.data().is_null());
    let st = c
        .get(&format!("/nodes/{node}/tasks/{}/status", encode(&upid)))
        .await;
    assert_eq!(st.data()["exitstatus"], "interrupted by signal");
    let cur = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(cur.data()["status"], "stopped");
    let errors = c
        .get(&format!("/nodes/{node}/tasks?statusfilter=error"))
        .await;
    assert!(
        errors
            .data()
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["upid"] == upid.as_str())
    );
    let log = c.get("/cluster/log?max=10").await;
    let msgs: Vec<&str> = log
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["msg"].as_str().unwrap())
        .collect();
    assert!(
        msgs.contains(&format!("starting task {upid}").as_str()),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with(&format!("end task {upid}")))
    );
}

#[tokio::test]
async fn containers_are_guests_of_their_own_with_pve_containers_answers() {
    let sim = sim_support::start_with(pve::sim::SimConfig {
        root_password: "secret".into(),
        containers: 4,
        task_speed: 20.0,
        auth_failure_delay: std::time::Duration::from_millis(20),
        ..pve::sim::SimConfig::default()
    })
    .await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    // `type=vm` lists VMs and containers alike, sorted by ID.
    let guests = sim_support::vms(&c).await;
    let cts: Vec<&Value> = guests.iter().filter(|g| g["type"] == "lxc").collect();
    assert_eq!(cts.len(), 4);
    assert_eq!(cts[0]["id"], "lxc/200");
    assert!(
        cts.iter()
            .all(|ct| ct["maxdisk"].as_u64() > ct["disk"].as_u64())
    );
    let running = cts.iter().find(|ct| ct["status"] == "running").unwrap();
    let stopped = cts.iter().find(|ct| ct["status"] == "stopped").unwrap();
    let at = |ct: &Value| format!("/nodes/{}/lxc/{}", ct["node"].as_str().unwrap(), ct["vmid"]);

    // The node's list, status and config.
    let node = stopped["node"].as_str().unwrap();
    let list = c.get(&format!("/nodes/{node}/lxc")).await;
    assert!(
        list.data()
            .as_array()
            .unwrap()
            .iter()
            .any(|ct| ct["vmid"] == stopped["vmid"])
    );
    let status = c.get(&format!("{}/status/current", at(stopped))).await;
    assert_eq!(status.data()["type"], "lxc");
    assert_eq!(status.data()["ha"]["managed"], 0);
    let config = c.get(&format!("{}/config", at(stopped))).await;
    assert!(config.data()["rootfs"].as_str().unwrap().contains("size="));
    assert_eq!(config.data()["unprivileged"], 1);
    assert_eq!(config.data()["digest"].as_str().unwrap().len(), 40);
    // QEMU's endpoints do not know containers, and the IDs are shared.
    let qemu = c
        .get(&format!(
            "/nodes/{node}/qemu/{}/status/current",
            stopped["vmid"]
        ))
        .await;
    assert!(qemu.message().contains("qemu-server"), "{}", qemu.message());
    let next = c.get("/cluster/nextid?vmid=200").await;
    assert_eq!(next.body["errors"]["vmid"], "VM 200 already exists");
    assert_eq!(
        c.get("/cluster/nextid").await.data(),
        "112",
        "the VMs are 100–111"
    );

    // Power: refusals at once with pve-container's words, then the tasks.
    let again = c.post(&format!("{}/status/start", at(running)), &[]).await;
    assert!(
        again.message().contains("already running"),
        "{}",
        again.message()
    );
    let not = c
        .post(&format!("{}/status/shutdown", at(stopped)), &[])
        .await;
    assert!(not.message().contains("not running"), "{}", not.message());
    let suspend = c
        .post(&format!("{}/status/suspend", at(running)), &[])
        .await;
    assert_eq!(suspend.status, StatusCode::NOT_IMPLEMENTED);
    let start = c.post(&format!("{}/status/start", at(stopped)), &[]).await;
    let upid = start.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":vzstart:"), "{upid}");
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let status = c.get(&format!("{}/status/current", at(stopped))).await;
    assert_eq!(status.data()["status"], "running");
    let stop = c.post(&format!("{}/status/stop", at(stopped)), &[]).await;
    let upid = stop.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":vzstop:"), "{upid}");
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");

    // The auditor sees them; only PowerMgmt acts.
    let (user, pw) = sim.auditor();
    let auditor = Client::login(&sim, &user, &pw).await;
    assert_eq!(
        sim_support::vms(&auditor)
            .await
            .iter()
            .filter(|g| g["type"] == "lxc")
            .count(),
        4
    );
    let refused = auditor
        .post(&format!("{}/status/start", at(stopped)), &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ha_managed_vms_are_started_and_stopped_by_the_ha_manager() {
    let sim = sim_support::start_with(pve::sim::SimConfig {
        root_password: "secret".into(),
        vms: 130,
        task_speed: 20.0,
        auth_failure_delay: std::time::Duration::from_millis(20),
        ..pve::sim::SimConfig::default()
    })
    .await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let services = c.get("/cluster/ha/resources").await.data().clone();
    let sids: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["vm:125", "vm:150", "vm:175", "vm:200", "vm:225"]);
    let guests = sim_support::vms(&c).await;
    let hastate = |vmid: u64| guests.iter().find(|g| g["vmid"] == vmid).unwrap()["hastate"].clone();
    assert_eq!(hastate(200), "error");
    assert!(hastate(101).is_null(), "unmanaged VMs have no HA state");
    let auditor = {
        let (user, pw) = sim.auditor();
        Client::login(&sim, &user, &pw).await
    };
    assert_eq!(
        auditor.get("/cluster/ha/resources").await.status,
        StatusCode::OK
    );

    // A stop request: a `hastop` task only; the HA manager shuts the VM down after it.
    let managed = |vmid: u64| guests.iter().find(|g| g["vmid"] == vmid).unwrap().clone();
    let running = [125u64, 150, 175, 225]
        .into_iter()
        .map(managed)
        .find(|g| g["status"] == "running")
        .expect("a running HA VM");
    let path = format!(
        "/nodes/{}/qemu/{}/status",
        running["node"].as_str().unwrap(),
        running["vmid"]
    );
    let a = c.post(&format!("{path}/stop"), &[]).await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(upid.contains(":hastop:"), "{upid}");
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let log = c
        .get(&format!(
            "/nodes/{}/tasks/{}/log",
            running["node"].as_str().unwrap(),
            encode(&upid)
        ))
        .await;
    assert!(
        log.data()[0]["t"]
            .as_str()
            .unwrap()
            .contains("Requesting HA stop")
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = c.get(&format!("{path}/current")).await;
        if now.data()["status"] == "stopped" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the HA manager did not stop it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let guests = sim_support::vms(&c).await;
    let state = guests
        .iter()
        .find(|g| g["vmid"] == running["vmid"])
        .unwrap();
    assert_eq!(state["hastate"], "stopped");
    // The HA manager's own task did it, as root@pam.
    let vmid_text = running["vmid"].to_string();
    let tasks = c.get("/cluster/tasks").await.data().clone();
    assert!(tasks.as_array().unwrap().iter().any(|t| {
        t["type"] == "qmshutdown" && t["id"] == vmid_text.as_str() && t["user"] == "root@pam"
    }));
}
