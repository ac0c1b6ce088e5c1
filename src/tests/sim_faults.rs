//! The simulator's faults over real HTTPS, set at start (`SimConfig::faults`) and at run time
//! (`POST /_sim/fault`): latency with jitter, error rates per path prefix (500/503 with PVE's
//! body), a node offline (offline/unknown in `/cluster/resources`, 595 on its paths), console
//! WebSocket drops and a shortened ticket lifetime.
//!
//! Run: `cargo test -p pve --features sim --test sim_faults`

#![cfg(feature = "sim")]

mod sim_console_support;
mod sim_support;

use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use pve::sim::{Faults, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sim_console_support::{Handshake, Viewer, connect};
use sim_support::{Auth, Client, encode, find_vm, start_with};

/// An HTTPS simulator with fast tasks, a short 401 delay and `faults` from the start.
async fn start(faults: Faults) -> SimHandle {
    start_with(SimConfig {
        root_password: "secret".into(),
        task_speed: 20.0,
        auth_failure_delay: Duration::from_millis(20),
        faults,
        ..SimConfig::default()
    })
    .await
}

/// `POST /_sim/fault` with `body`; answers the status and the settings now in force.
async fn set_faults(sim: &SimHandle, body: Value) -> (StatusCode, Value) {
    let res = sim_support::http_client()
        .post(format!("{}/_sim/fault", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Time of one GET.
async fn timed(c: &Client, path: &str) -> (Duration, StatusCode) {
    let t = Instant::now();
    let a = c.get(path).await;
    (t.elapsed(), a.status)
}

#[tokio::test]
async fn latency_with_jitter_on_a_path_prefix() {
    let sim = start(Faults::default()).await;
    let c = Client::with_token(&sim);
    let (status, now) = set_faults(
        &sim,
        json!({"latency_ms": 300, "jitter_ms": 200, "path_prefix": "/cluster"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now["latency_ms"], 300);
    assert_eq!(now["jitter_ms"], 200);

    let mut delays = Vec::new();
    for _ in 0..6 {
        let (d, s) = timed(&c, "/cluster/resources").await;
        assert_eq!(s, StatusCode::OK);
        assert!(d >= Duration::from_millis(300), "{d:?}");
        assert!(d < Duration::from_millis(1500), "{d:?}");
        delays.push(d);
    }
    // Jitter: the delays are not all the same (to the millisecond).
    let spread = delays
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*delays.iter().min().unwrap());
    assert!(spread > Duration::from_millis(5), "{delays:?}");
    // Paths outside the prefix are not delayed.
    let (d, _) = timed(&c, "/version").await;
    assert!(d < Duration::from_millis(300), "{d:?}");

    // Cleared with `{}`.
    set_faults(&sim, json!({})).await;
    let (d, _) = timed(&c, "/cluster/resources").await;
    assert!(d < Duration::from_millis(300), "{d:?}");
}

#[tokio::test]
async fn error_rates_per_path_prefix() {
    // From the start: every /cluster/resources call fails with 503.
    let faults = Faults {
        error_rates: [("/cluster/resources".to_owned(), 1.0)].into(),
        error_status: Some(503),
        ..Faults::default()
    };
    let sim = start(faults).await;
    let c = Client::with_token(&sim);
    let a = c.get("/cluster/resources").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.body["data"], Value::Null);
    assert!(a.message().contains("service unavailable"), "{a:?}");
    assert_eq!(
        a.reason.as_deref(),
        Some("service unavailable (pve-sim fault injection)")
    );
    assert_eq!(c.get("/version").await.status, StatusCode::OK);
    assert_eq!(c.get("/nodes").await.status, StatusCode::OK);

    // At run time: half of /nodes… fails with 500, a longer prefix never fails.
    let (status, _) = set_faults(
        &sim,
        json!({"error_rates": {"/nodes": 0.5, "/nodes/pve1/qemu": 0.0}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut failed = 0;
    for _ in 0..60 {
        let a = c.get("/nodes").await;
        if a.status == StatusCode::INTERNAL_SERVER_ERROR {
            assert_eq!(a.message(), "simulated failure (pve-sim fault injection)\n");
            failed += 1;
        } else {
            assert_eq!(a.status, StatusCode::OK);
        }
    }
    assert!((10..=50).contains(&failed), "{failed} of 60 failed");
    for _ in 0..10 {
        assert_eq!(c.get("/nodes/pve1/qemu").await.status, StatusCode::OK);
    }
    assert_eq!(c.get("/cluster/resources").await.status, StatusCode::OK);

    // A custom message; bad settings are refused and leave the faults unchanged.
    set_faults(
        &sim,
        json!({"error_rate": 1.0, "path_prefix": "/version", "error_message": "cfs down\n"}),
    )
    .await;
    assert_eq!(c.get("/version").await.message(), "cfs down\n");
    let (status, body) = set_faults(&sim, json!({"error_rate": 2.0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = set_faults(&sim, json!({"error_status": 404})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(sim.state().faults().path_prefix, "/version");
}

#[tokio::test]
async fn a_node_offline() {
    let faults = Faults {
        node_offline: Some("pve2".into()),
        ..Faults::default()
    };
    let sim = start(faults).await;
    let c = Client::with_token(&sim);
    let all = c.get("/cluster/resources").await.data().clone();
    let all = all.as_array().unwrap();
    let node = all.iter().find(|r| r["id"] == "node/pve2").unwrap();
    assert_eq!(node["status"], "offline");
    assert!(node.get("cpu").is_none() && node.get("uptime").is_none());
    let on_pve2: Vec<&Value> = all
        .iter()
        .filter(|r| r["node"] == "pve2" && r["type"] == "qemu")
        .collect();
    assert!(!on_pve2.is_empty());
    for vm in &on_pve2 {
        assert_eq!(vm["status"], "unknown", "{vm}");
        assert!(vm.get("cpu").is_none());
    }
    for st in all
        .iter()
        .filter(|r| r["node"] == "pve2" && r["type"] == "storage")
    {
        assert_eq!(st["status"], "unknown", "{st}");
    }
    let pve1 = all.iter().find(|r| r["id"] == "node/pve1").unwrap();
    assert_eq!(pve1["status"], "online");

    // pveproxy cannot reach the node: 595 "No route to host", no body.
    let vmid = on_pve2[0]["vmid"].as_u64().unwrap();
    for path in [
        "/nodes/pve2/qemu".to_owned(),
        "/nodes/pve2/status".to_owned(),
        format!("/nodes/pve2/qemu/{vmid}/status/current"),
        "/nodes/pve2/tasks".to_owned(),
        "/nodes/pve2/storage/backup/content".to_owned(),
    ] {
        let a = c.get(&path).await;
        assert_eq!(a.status.as_u16(), 595, "{path}: {a:?}");
        assert_eq!(a.reason.as_deref(), Some("No route to host"));
        assert_eq!(a.body, Value::Null);
    }
    let a = c
        .post(&format!("/nodes/pve2/qemu/{vmid}/status/start"), &[])
        .await;
    assert_eq!(a.status.as_u16(), 595);

    // The cluster still answers; quorum holds with 2 of 3.
    let status = c.get("/cluster/status").await.data().clone();
    let member = status
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "pve2")
        .unwrap()
        .clone();
    assert_eq!(member["online"], 0);

    // Back online at run time.
    set_faults(&sim, json!({})).await;
    assert_eq!(c.get("/nodes/pve2/qemu").await.status, StatusCode::OK);
    let vms = sim_support::vms(&c).await;
    assert!(
        vms.iter()
            .filter(|v| v["node"] == "pve2")
            .all(|v| v["status"] != "unknown")
    );
    // An unknown node is refused.
    let (status, _) = set_faults(&sim, json!({"node_offline": "pve9"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// vncproxy + vncwebsocket + RFB handshake on a running VM.
async fn console(sim: &SimHandle, c: &Client) -> Viewer {
    let (node, vmid) = find_vm(c, |v| v["status"] == "running").await;
    let p = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/vncproxy"),
            &[("websocket", "1")],
        )
        .await
        .data()
        .clone();
    let ticket = utf8_percent_encode(p["ticket"].as_str().unwrap(), NON_ALPHANUMERIC);
    let port = p["port"].as_str().unwrap();
    let path =
        format!("/api2/json/nodes/{node}/qemu/{vmid}/vncwebsocket?port={port}&vncticket={ticket}");
    let Auth::Ticket { ticket: auth, .. } = &c.auth else {
        panic!("needs a ticket client")
    };
    let headers = [
        ("Sec-WebSocket-Protocol", "binary".to_owned()),
        ("Cookie", format!("PVEAuthCookie={}", encode(auth))),
    ];
    let (ws, _) = connect(sim.local_addr(), true, &path, &headers)
        .await
        .expect("upgrade");
    match Viewer::handshake(ws, p["password"].as_str().unwrap()).await {
        (v, Handshake::Ok(_)) => v,
        (_, other) => panic!("handshake: {other:?}"),
    }
}

/// Waits up to `within` for the server to close `v`'s WebSocket; answers how long it took.
async fn closed_within(v: &mut Viewer, within: Duration) -> Duration {
    let t = Instant::now();
    tokio::time::timeout(within, async { while v.ws.recv().await.is_some() {} })
        .await
        .unwrap_or_else(|_| panic!("still open after {within:?}"));
    t.elapsed()
}

#[tokio::test]
async fn websocket_drops() {
    let sim = start(Faults::default()).await;
    let c = Client::login(&sim, "root@pam", "secret").await;

    // Sessions cut two seconds after they opened.
    set_faults(&sim, json!({"ws_drop_after_secs": 2})).await;
    let mut v = console(&sim, &c).await;
    v.request_update(false).await;
    let took = closed_within(&mut v, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(1000), "{took:?}");

    // 0 cuts the open sessions at once when set…
    set_faults(&sim, json!({})).await;
    let mut v = console(&sim, &c).await;
    set_faults(&sim, json!({"ws_drop_after_secs": 0})).await;
    closed_within(&mut v, Duration::from_secs(2)).await;
    // …and every new one right after it opened.
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let p = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/vncproxy"),
            &[("websocket", "1")],
        )
        .await
        .data()
        .clone();
    let ticket = utf8_percent_encode(p["ticket"].as_str().unwrap(), NON_ALPHANUMERIC);
    let path = format!(
        "/api2/json/nodes/{node}/qemu/{vmid}/vncwebsocket?port={}&vncticket={ticket}",
        p["port"].as_str().unwrap()
    );
    let Auth::Ticket { ticket: auth, .. } = &c.auth else {
        unreachable!()
    };
    let headers = [("Cookie", format!("PVEAuthCookie={}", encode(auth)))];
    let (ws, _) = connect(sim.local_addr(), true, &path, &headers)
        .await
        .expect("upgrade");
    let mut v = Viewer { ws };
    closed_within(&mut v, Duration::from_secs(2)).await;
    for _ in 0..50 {
        if sim.state().console_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.state().console_sessions(), 0);
}

#[tokio::test]
async fn short_ticket_lifetime_needs_renewal() {
    let faults = Faults {
        ticket_lifetime_secs: Some(3),
        ..Faults::default()
    };
    let sim = start(faults).await;
    let first = Client::login(&sim, "root@pam", "secret").await;
    assert_eq!(first.get("/version").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2000)).await;

    // Renew like PVE's UI: POST /access/ticket with the current ticket as password.
    let Auth::Ticket { ticket, .. } = &first.auth else {
        unreachable!()
    };
    let renewed = Client::login(&sim, "root@pam", ticket).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let a = first.get("/version").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.reason.as_deref(), Some("Authentication failed!"));
    assert_eq!(renewed.get("/version").await.status, StatusCode::OK);
    // An expired ticket cannot be renewed; the password still logs in.
    let a = Client::new(&sim)
        .post(
            "/access/ticket",
            &[("username", "root@pam"), ("password", ticket)],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // API tokens do not expire.
    assert_eq!(
        Client::with_token(&sim).get("/version").await.status,
        StatusCode::OK
    );

    // Back to PVE's 2 hours at run time: the old ticket is valid again (it is 3 s old).
    set_faults(&sim, json!({})).await;
    assert_eq!(first.get("/version").await.status, StatusCode::OK);
    let (status, _) = set_faults(&sim, json!({"ticket_lifetime_secs": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn start_faults_are_validated_and_restored_by_reset() {
    let bad = SimConfig {
        faults: Faults {
            node_offline: Some("nope".into()),
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    assert!(pve::sim::Simulator::start(bad).await.is_err());
    let faults = Faults {
        latency_ms: 10,
        node_offline: Some("pve3".into()),
        ..Faults::default()
    };
    let sim = start(faults.clone()).await;
    set_faults(&sim, json!({})).await;
    assert_eq!(sim.state().faults(), Faults::default());
    sim_support::http_client()
        .post(format!("{}/_sim/reset", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.state().faults(), faults);
    let c = Client::with_token(&sim);
    assert_eq!(c.get("/nodes/pve3/qemu").await.status.as_u16(), 595);
}
