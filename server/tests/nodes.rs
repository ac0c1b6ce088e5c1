//! Nodes and where VMs are: the node list with quorum, a node's VMs, the VM list served from
//! the collector's one poll, and VM links that follow a migration.
//! Run: `cargo test -p server --test nodes`

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

mod support;

use support::{ADMIN_PASSWORD, TestServer, start_with};

/// The demo server with one-second live ticks.
async fn start() -> TestServer {
    start_with(&[
        ("CECYBER_LIVE_TICK_SECS", "1"),
        ("CECYBER_DEMO__TASK_SPEED", "20"),
    ])
    .await
}

/// `GET /_sim/stats`: how often the simulator answered `GET /cluster/resources`.
async fn resource_calls(server: &TestServer) -> u64 {
    let sim = server.runtime.simulator.as_ref().expect("demo mode");
    let stats: Value = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["requests"]["GET /cluster/resources"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_node_list_shows_every_node_with_quorum_version_and_vm_count() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (status, clusters) = admin.call("nodes_list", &[]).await;
    assert_eq!(status, StatusCode::OK, "{clusters}");
    let demo = &clusters[0];
    assert_eq!(demo["cluster"], "demo");
    assert_eq!(demo["quorate"], true, "{demo}");
    assert!(demo["pve_name"].is_string(), "{demo}");
    let nodes = demo["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(names, ["pve1", "pve2", "pve3"]);
    let (_, list) = admin.call("vms_list", &[]).await;
    for node in nodes {
        assert_eq!(node["status"], "online");
        assert!(
            node["pveversion"]
                .as_str()
                .is_some_and(|v| v.starts_with("pve-manager/")),
            "{node}"
        );
        assert_eq!(node["member_online"], true);
        let hosted = list["vms"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["node"] == node["node"])
            .count();
        assert_eq!(node["vms"], hosted, "{node}");
    }

    // The node page lists the node's VMs, and only those.
    let (status, overview) = admin
        .call("node_overview", &[("cluster", "demo"), ("node", "pve2")])
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    let vms = overview["vms"].as_array().unwrap();
    assert!(!vms.is_empty());
    assert!(vms.iter().all(|v| v["node"] == "pve2"), "{overview}");
}

#[tokio::test]
async fn scoped_users_get_no_node_list() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (status, body) = admin
        .call(
            "users_create",
            &[
                ("username", "tenant"),
                ("password", "tenant-password-1"),
                ("role", "operator"),
                ("scope", "web"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tenant = server.log_in("tenant", "tenant-password-1").await;
    let (status, body) = tenant.call("nodes_list", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn open_vm_lists_share_the_collectors_poll() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    // Let the collector poll once: its poll is what the lists read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        server.runtime.state.clusters.all()[0]
            .latest
            .fresh()
            .is_some(),
        "the collector's poll is kept for the lists"
    );
    let before = resource_calls(&server).await;
    let started = Instant::now();
    let mut lists = 0;
    while started.elapsed() < Duration::from_secs(3) {
        // Ten tabs' worth of list refreshes.
        for _ in 0..10 {
            let (status, list) = admin.call("vms_list", &[]).await;
            assert_eq!(status, StatusCode::OK, "{list}");
            assert!(!list["vms"].as_array().unwrap().is_empty());
            lists += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let calls = resource_calls(&server).await - before;
    let ticks = started.elapsed().as_secs() + 2;
    assert!(
        calls <= ticks,
        "{lists} lists made {calls} upstream calls in {} s: more than the collector's one per tick",
        started.elapsed().as_secs_f32()
    );
}

#[tokio::test]
async fn a_vm_link_follows_the_vm_after_a_migration() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (_, list) = admin.call("vms_list", &[]).await;
    let vm = list["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["node"] == "pve1" && v["status"] == "stopped" && v["template"] == false)
        .expect("a stopped VM on pve1")
        .clone();
    let vmid = vm["vmid"].to_string();
    let sim = server.runtime.simulator.as_ref().expect("demo mode");
    let (token_id, secret) = sim.api_token();
    // Straight to the simulator: the migration is somebody else's (PVE's UI, another panel).
    let reply: Value = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .post(format!(
            "{}/api2/json/nodes/pve1/qemu/{vmid}/migrate",
            sim.base_url()
        ))
        .header("Authorization", format!("PVEAPIToken={token_id}={secret}"))
        .form(&[("target", "pve3"), ("with-local-disks", "1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reply["data"].is_string(), "{reply}");

    // The old link (node pve1) answers with the VM on pve3 once a poll has seen it there.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, detail) = admin
            .call(
                "vm_detail",
                &[("cluster", "demo"), ("node", "pve1"), ("vmid", &vmid)],
            )
            .await;
        if status == StatusCode::OK && detail["node"] == "pve3" {
            assert_eq!(detail["status"]["vmid"], vm["vmid"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not followed: {status} {detail}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
