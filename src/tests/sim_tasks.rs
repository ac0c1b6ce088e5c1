//! Tasks and state over real HTTP: power actions, task status and logs, metrics, faults.
//!
//! Run: `cargo test -p pve --features sim --test sim_tasks`

#![cfg(feature = "sim")]

mod sim_support;

use std::time::Duration;

use pve::sim::{Faults, SimConfig};
use reqwest::StatusCode;
use serde_json::Value;
use sim_support::{Client, encode, find_vm, start, start_with, vms};

#[tokio::test]
async fn start_stopped_vm_runs_task_and_changes_state() {
    // Slow enough (start takes 1 s) to see the task running.
    let sim = start_with(SimConfig {
        root_password: "secret".into(),
        task_speed: 2.0,
        ..SimConfig::default()
    })
    .await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(
        upid.starts_with(&format!("UPID:{node}:")) && upid.ends_with(":root@pam:"),
        "{upid}"
    );
    let running = c
        .get(&format!("/nodes/{node}/tasks/{}/status", encode(&upid)))
        .await;
    assert_eq!(running.data()["status"], "running");
    assert!(running.data().get("exitstatus").is_none());

    let done = c.wait_task(&upid).await;
    assert_eq!(
        (done["exitstatus"].as_str(), done["type"].as_str()),
        (Some("OK"), Some("qmstart"))
    );
    let cur = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
        .await;
    let cur = cur.data();
    assert_eq!(
        (cur["status"].as_str(), cur["qmpstatus"].as_str()),
        (Some("running"), Some("running"))
    );
    assert!(cur["uptime"].as_u64().unwrap() <= 2 && cur["pid"].is_u64());

    let log = c
        .get(&format!(
            "/nodes/{node}/tasks/{}/log?start=0&limit=50",
            encode(&upid)
        ))
        .await;
    assert_eq!(log.body["total"], 1);
    assert_eq!(log.data()[0], serde_json::json!({"n": 1, "t": "TASK OK"}));

    // starting it again: a task that fails like PVE's
    let again = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    let failed = c.wait_task(again.data().as_str().unwrap()).await;
    assert_eq!(failed["exitstatus"], format!("VM {vmid} already running"));

    // the task shows up cluster-wide; then stop it again
    let tasks = c.get("/cluster/tasks").await;
    assert!(
        tasks
            .data()
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["upid"] == upid.as_str())
    );
    let stop = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/stop"), &[])
        .await;
    assert_eq!(
        c.wait_task(stop.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let cur = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(
        (cur.data()["status"].as_str(), cur.data()["uptime"].as_u64()),
        (Some("stopped"), Some(0))
    );
}

#[tokio::test]
async fn template_and_stopped_vm_edge_cases() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let (node, tpl) = find_vm(&c, |v| v["template"] == 1).await;
    let a = c
        .post(&format!("/nodes/{node}/qemu/{tpl}/status/start"), &[])
        .await;
    let t = c.wait_task(a.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "you can't start a vm if it's a template");
    // stopping a stopped VM succeeds; rebooting it is refused at once
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/stop"), &[])
        .await;
    assert_eq!(
        c.wait_task(a.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/reboot"), &[])
        .await;
    assert_eq!(
        (a.status.as_u16(), a.message()),
        (500, format!("VM {vmid} not running\n").as_str())
    );
}

#[tokio::test]
async fn metrics_are_consistent_and_move() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let from_resources = vms(&c)
        .await
        .into_iter()
        .find(|v| v["vmid"] == vmid)
        .unwrap();
    let list = c.get(&format!("/nodes/{node}/qemu")).await;
    let from_list = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vmid"] == vmid)
        .unwrap()
        .clone();
    let cur = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
        .await
        .data()
        .clone();
    for e in [&from_resources, &from_list, &cur] {
        assert_eq!(e["maxmem"], cur["maxmem"]);
        assert!(e["cpu"].as_f64().unwrap() > 0.0);
    }
    let up = |v: &Value| v["uptime"].as_u64().unwrap();
    assert!(up(&cur) >= up(&from_resources) && up(&cur) - up(&from_resources) <= 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
        .await
        .data()
        .clone();
    assert!(later["netin"].as_u64() > cur["netin"].as_u64());
    assert!(up(&later) > up(&cur));
}

#[tokio::test]
async fn faults_and_reset() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let faults = Faults {
        node_offline: Some("pve2".into()),
        ..Faults::default()
    };
    sim.state().set_faults(faults).unwrap();
    let nodes = c.get("/nodes").await;
    let pve2 = nodes
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "pve2")
        .unwrap()
        .clone();
    assert_eq!(pve2["status"], "offline");
    assert!(pve2.get("cpu").is_none());
    assert_eq!(c.get("/nodes/pve2/qemu").await.status.as_u16(), 595);

    // over HTTP: every request under /version fails
    let http = sim_support::http_client();
    let url = format!("{}/_sim/fault", sim.base_url());
    let body = serde_json::json!({"error_rate": 1.0, "path_prefix": "/version"});
    assert!(
        http.post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(
        c.get("/version").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(c.get("/nodes/pve2/qemu").await.status, StatusCode::OK);
    http.post(format!("{}/_sim/reset", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(c.get("/version").await.status, StatusCode::OK);
    assert_eq!(sim.state().faults(), Faults::default());
}

#[tokio::test]
async fn suspend_resume_and_reboot() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let base = format!("/nodes/{node}/qemu/{vmid}/status");
    let upid = c
        .post(&format!("{base}/suspend"), &[])
        .await
        .data()
        .as_str()
        .unwrap()
        .to_owned();
    assert!(upid.contains(":qmpause:"), "{upid}");
    c.wait_task(&upid).await;
    let cur = c.get(&format!("{base}/current")).await.data().clone();
    assert_eq!(
        (cur["status"].as_str(), cur["qmpstatus"].as_str()),
        (Some("running"), Some("paused"))
    );
    let res = vms(&c)
        .await
        .into_iter()
        .find(|v| v["vmid"] == vmid)
        .unwrap();
    assert_eq!(res["status"], "paused");
    // a paused VM cannot be shut down or rebooted
    let a = c.post(&format!("{base}/shutdown"), &[]).await;
    assert_eq!(
        (a.status.as_u16(), a.message()),
        (500, "VM is paused - cannot shutdown\n")
    );
    let upid = c
        .post(&format!("{base}/resume"), &[])
        .await
        .data()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let upid = c
        .post(&format!("{base}/reboot"), &[])
        .await
        .data()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let cur = c.get(&format!("{base}/current")).await.data().clone();
    assert_eq!(cur["qmpstatus"], "running");
    assert!(
        cur["uptime"].as_u64().unwrap() <= 2,
        "uptime restarts after a reboot"
    );
    // root-only options are refused for a token
    let a = c.post(&format!("{base}/stop"), &[("skiplock", "1")]).await;
    assert_eq!(
        a.body["errors"]["skiplock"],
        "Only root may use this option."
    );
}

#[tokio::test]
async fn unknown_vmid_fails_inside_the_task() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    // start and stop fork the worker first; the worker finds no config (as qemu-server does)
    let upid = c
        .post("/nodes/pve1/qemu/999/status/start", &[])
        .await
        .data()
        .as_str()
        .unwrap()
        .to_owned();
    let t = c.wait_task(&upid).await;
    assert_eq!(
        t["exitstatus"],
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
    );
    let log = c
        .get(&format!("/nodes/pve1/tasks/{}/log", encode(&upid)))
        .await;
    let last = log.data().as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["t"],
        "TASK ERROR: Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
    );
    let upid = c
        .post("/nodes/pve1/qemu/999/status/stop", &[])
        .await
        .data()
        .as_str()
        .unwrap()
        .to_owned();
    let t = c.wait_task(&upid).await;
    assert_eq!(
        t["exitstatus"],
        "unable to find configuration file for VM 999 on node 'pve1'"
    );
    // reboot checks before forking
    let a = c.post("/nodes/pve1/qemu/999/status/reboot", &[]).await;
    assert_eq!(
        a.message(),
        "unable to find configuration file for VM 999 on node 'pve1'\n"
    );
    // a task asked for at another node does not exist there
    let other = if upid.contains(":pve1:") {
        "pve2"
    } else {
        "pve1"
    };
    let a = c
        .get(&format!("/nodes/{other}/tasks/{}/status", encode(&upid)))
        .await;
    assert_eq!(a.body["errors"]["upid"], "no such task");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    assert_eq!(c.get("/version").await.status, StatusCode::OK);
    let url = format!("{}/api2/json/version", sim.base_url());
    sim.shutdown().await;
    assert!(reqwest::get(&url).await.is_err());
}

#[tokio::test]
async fn same_seed_same_cluster() {
    let (a, b) = (start().await, start().await);
    let names = |vms: Vec<Value>| -> Vec<(String, String, String)> {
        vms.iter()
            .map(|v| {
                (
                    v["name"].to_string(),
                    v["node"].to_string(),
                    v["status"].to_string(),
                )
            })
            .collect()
    };
    let va = names(vms(&Client::with_token(&a)).await);
    let vb = names(vms(&Client::with_token(&b)).await);
    assert_eq!(va, vb);
    let other = start_with(SimConfig {
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    assert_ne!(va, names(vms(&Client::with_token(&other)).await));
}

#[tokio::test]
async fn a_crash_stops_the_vm_without_a_task() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let tasks_before = c.get("/cluster/tasks").await.data().clone();
    let http = sim_support::http_client();
    let crash = |vmid: u64| {
        http.post(format!("{}/_sim/vm/{vmid}/crash", sim.base_url()))
            .send()
    };
    assert_eq!(crash(vmid).await.unwrap().status(), StatusCode::OK);

    let cur = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(
        (cur.data()["status"].as_str(), cur.data()["uptime"].as_u64()),
        (Some("stopped"), Some(0))
    );
    let listed = vms(&c).await;
    let entry = listed.iter().find(|v| v["vmid"] == vmid).unwrap();
    assert_eq!(entry["status"], "stopped");
    // No task records it, as in PVE when QEMU dies.
    let tasks_after = c.get("/cluster/tasks").await.data().clone();
    let new: Vec<&Value> = tasks_after
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !tasks_before.as_array().unwrap().contains(t))
        .collect();
    assert!(new.is_empty(), "{new:?}");

    assert_eq!(crash(vmid).await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(
        crash(999_999).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // It starts again like any stopped VM.
    let start = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    assert_eq!(
        c.wait_task(start.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}
