//! The simulator over real HTTP, checked against how Proxmox VE answers.
//!
//! Run: `cargo test -p pve --features sim --test sim_api`

#![cfg(feature = "sim")]

mod sim_support;

use std::time::{Duration, Instant};

use pve::sim::SimConfig;
use reqwest::{Method, StatusCode};
use sim_support::{Auth, Client, find_vm, start, start_with, vms};

#[tokio::test]
async fn login_returns_ticket_csrf_and_caps() {
    let sim = start().await;
    let c = Client::new(&sim);
    let a = c
        .post(
            "/access/ticket",
            &[("username", "root@pam"), ("password", "secret")],
        )
        .await;
    let d = a.data();
    assert_eq!(d["username"], "root@pam");
    assert_eq!(d["clustername"], "democluster");
    let ticket = d["ticket"].as_str().unwrap();
    assert!(
        ticket.starts_with("PVE:root@pam:") && ticket.contains("::"),
        "{ticket}"
    );
    let csrf = d["CSRFPreventionToken"].as_str().unwrap();
    assert_eq!(csrf.find(':'), Some(8), "{csrf}");
    assert_eq!(d["cap"]["vms"]["VM.PowerMgmt"], 1);

    // realm as a separate parameter, and renewal with the ticket as password
    let a = c
        .post(
            "/access/ticket",
            &[("username", "root"), ("realm", "pam"), ("password", ticket)],
        )
        .await;
    assert_eq!(a.data()["username"], "root@pam");

    // the auditor: read-only caps, and clustername (it has Sys.Audit on /)
    let a = c
        .post(
            "/access/ticket",
            &[("username", "auditor@pve"), ("password", "auditor")],
        )
        .await;
    let d = a.data();
    assert_eq!(
        d["cap"]["vms"],
        serde_json::json!({"VM.Audit": 1, "VM.GuestAgent.Audit": 1})
    );
    assert_eq!(d["clustername"], "democluster");
}

#[tokio::test]
async fn wrong_password_is_401_after_the_delay() {
    let sim = start_with(SimConfig {
        root_password: "secret".into(),
        auth_failure_delay: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&sim);
    let t = Instant::now();
    let a = c
        .post(
            "/access/ticket",
            &[("username", "root@pam"), ("password", "nope")],
        )
        .await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.message(), "authentication failure\n");
    assert!(a.body["data"].is_null());
    let a = c
        .post(
            "/access/ticket",
            &[("username", "nobody@pve"), ("password", "secret")],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // missing parameters are a 400, not a 401
    let a = c.post("/access/ticket", &[("username", "root@pam")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.body["errors"]["password"],
        "property is missing and it is not optional"
    );
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401_without_body() {
    let sim = start().await;
    let a = Client::new(&sim).get("/version").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.is_null());
    assert_eq!(a.reason.as_deref(), Some("No ticket"));
    // unknown paths need authentication too
    assert_eq!(
        Client::new(&sim).get("/nosuch").await.status,
        StatusCode::UNAUTHORIZED
    );

    let mut c = Client::new(&sim);
    c.auth = Auth::Ticket {
        ticket: "PVE:root@pam:6A54D5CF::Zm9v".into(),
        csrf: None,
    };
    let a = c.get("/version").await;
    assert_eq!(
        (a.status, a.reason.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Authentication failed!"))
    );
    c.auth = Auth::Token("root@pam!cecyber=wrong".into());
    assert_eq!(c.get("/version").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn post_with_ticket_needs_csrf_token() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let path = format!("/nodes/{node}/qemu/{vmid}/status/start");
    let a = c.without_csrf().post(&path, &[]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.reason.as_deref(),
        Some("Permission denied - invalid csrf token")
    );
    // GET needs no CSRF token
    assert_eq!(
        c.without_csrf().get("/version").await.status,
        StatusCode::OK
    );
    // and with it the POST works
    assert_eq!(c.post(&path, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn token_works_without_csrf() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let v = c.get("/version").await;
    assert_eq!(v.data()["release"], "9.1");
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert!(
        upid.ends_with(&format!(":qmstart:{vmid}:root@pam!cecyber:")),
        "{upid}"
    );
    let status = c.wait_task(&upid).await;
    assert_eq!(status["user"], "root@pam");
    assert_eq!(status["tokenid"], "cecyber");
    // tokens cannot log in
    let a = c
        .post(
            "/access/ticket",
            &[("username", "root@pam"), ("password", "secret")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn resources_list_nodes_vms_and_storages() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let all = c.get("/cluster/resources").await;
    let all = all.data().as_array().unwrap();
    let of = |t: &str| all.iter().filter(|r| r["type"] == t).count();
    assert_eq!(
        (of("qemu"), of("node"), of("storage"), of("network")),
        (12, 3, 9, 3)
    );
    assert!(all.iter().any(|r| r["id"] == "qemu/100"));
    assert!(
        all.iter()
            .any(|r| r["id"] == "node/pve1" && r["status"] == "online")
    );
    assert!(
        all.iter()
            .any(|r| r["id"] == "storage/pve1/local-lvm" && r["plugintype"] == "lvmthin")
    );
    let vms = vms(&c).await;
    assert_eq!(vms.iter().filter(|v| v["template"] == 1).count(), 1);
    let running = vms.iter().filter(|v| v["status"] == "running").count();
    assert!((5..=7).contains(&running), "{running}");
    for v in vms.iter().filter(|v| v["status"] == "stopped") {
        assert_eq!(
            (v["cpu"].as_f64(), v["mem"].as_u64(), v["uptime"].as_u64()),
            (Some(0.0), Some(0), Some(0))
        );
    }
    assert!(
        vms.iter()
            .any(|v| v["tags"].as_str().is_some_and(|t| t.contains(';')))
    );
    let nodes = c.get("/cluster/resources?type=node").await;
    assert_eq!(nodes.data().as_array().unwrap().len(), 3);
    let bad = c.get("/cluster/resources?type=pool").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["errors"]["type"]
            .as_str()
            .unwrap()
            .contains("enumeration")
    );
}

#[tokio::test]
async fn auditor_may_read_but_not_start() {
    let sim = start().await;
    let c = Client::login(&sim, "auditor@pve", "auditor").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    assert_eq!(
        c.get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
            .await
            .status,
        StatusCode::OK
    );
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.message(),
        format!("Permission check failed (/vms/{vmid}, VM.PowerMgmt)\n")
    );
    assert!(a.body["data"].is_null());
}

#[tokio::test]
async fn errors_look_like_pve() {
    let sim = start().await;
    let c = Client::with_token(&sim);
    let a = c.get("/nodes/pve1/qemu/999/status/current").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        a.message(),
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n"
    );
    // a VM that lives on another node
    let (node, vmid) = find_vm(&c, |v| v["node"] != "pve1").await;
    let a = c
        .get(&format!("/nodes/pve1/qemu/{vmid}/status/current"))
        .await;
    assert_eq!(
        a.message(),
        format!("Configuration file 'nodes/pve1/qemu-server/{vmid}.conf' does not exist\n")
    );
    assert_ne!(node, "pve1");

    let a = c.get("/nodes/pve1/qemu/abc/status/current").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.message(), "Parameter verification failed.\n");
    assert_eq!(
        a.body["errors"]["vmid"],
        "type check ('integer') failed - got 'abc'"
    );
    let a = c.get("/nodes/pve1/qemu/42/status/current").await;
    assert_eq!(
        a.body["errors"]["vmid"],
        "invalid format - value does not look like a valid VM ID\n"
    );

    let a = c.get("/nodes/pve9/qemu").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        a.message(),
        "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known\n"
    );
    let a = c.get("/nodes/bad_node").await;
    assert_eq!(
        a.body["errors"]["node"],
        "invalid format - value does not look like a valid node name\n"
    );

    let a = c.get("/foo").await;
    assert_eq!(a.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(a.message(), "Method 'GET /foo' not implemented");
    let a = c.call(Method::DELETE, "/version", &[]).await;
    assert_eq!(a.message(), "Method 'DELETE /version' not implemented");
    let a = c.get("/version?bogus=1").await;
    assert!(
        a.body["errors"]["bogus"]
            .as_str()
            .unwrap()
            .starts_with("property is not defined")
    );

    let a = c.get("/nodes/pve1/tasks/UPID:nope/status").await;
    assert_eq!(a.body["errors"]["upid"], "unable to parse worker upid");
}
