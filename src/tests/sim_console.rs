//! The QEMU console of the simulator over real HTTP and WebSocket: `vncproxy` (answer shape
//! per the 9.1 schema and PVE 9.1.7+), `vncwebsocket` (auth, ticket, port, refusals, the
//! upgrade with subprotocol `binary`) and a real RFB 3.8 session against the built-in VNC
//! server (VNC authentication, ServerInit, framebuffer updates, typing).
//!
//! Run: `cargo test -p pve --features sim --test sim_console`

#![cfg(feature = "sim")]

#[path = "support/reference.rs"]
mod reference;

mod sim_console_support;
mod sim_support;

use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use pve::sim::{SimConfig, SimHandle};
use serde_json::Value;
use sim_console_support::{Handshake, Head, ServerInit, Viewer, Ws, connect};
use sim_support::{Auth, Client, encode, find_vm, start_with};

/// A plain-HTTP simulator with fast tasks and a short 401 delay.
async fn start() -> SimHandle {
    start_with(SimConfig {
        root_password: "secret".into(),
        task_speed: 20.0,
        auth_failure_delay: Duration::from_millis(20),
        tls: false,
        ..SimConfig::default()
    })
    .await
}

/// `POST vncproxy websocket=1` → `data`.
async fn vncproxy(c: &Client, node: &str, vmid: u64) -> Value {
    let a = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/vncproxy"),
            &[("websocket", "1")],
        )
        .await;
    a.data().clone()
}

/// The WebSocket upgrade to `vncwebsocket` with `client`'s credentials.
async fn open(
    sim: &SimHandle,
    client: &Client,
    node: &str,
    vmid: u64,
    port: &str,
    ticket: &str,
) -> Result<(Ws, Head), Head> {
    let ticket = utf8_percent_encode(ticket, NON_ALPHANUMERIC);
    let path =
        format!("/api2/json/nodes/{node}/qemu/{vmid}/vncwebsocket?port={port}&vncticket={ticket}");
    let mut headers = vec![("Sec-WebSocket-Protocol", "binary".to_owned())];
    match &client.auth {
        Auth::Ticket { ticket, .. } => {
            headers.push(("Cookie", format!("PVEAuthCookie={}", encode(ticket))))
        }
        Auth::Token(value) => headers.push(("Authorization", format!("PVEAPIToken={value}"))),
        Auth::None => {}
    }
    let tls = sim.base_url().starts_with("https:");
    connect(sim.local_addr(), tls, &path, &headers).await
}

/// vncproxy + upgrade + RFB handshake with the returned password.
async fn session(sim: &SimHandle, c: &Client, node: &str, vmid: u64) -> (Viewer, ServerInit) {
    let p = vncproxy(c, node, vmid).await;
    let port = p["port"].as_str().unwrap();
    let (ws, _) = open(sim, c, node, vmid, port, p["ticket"].as_str().unwrap())
        .await
        .expect("upgrade");
    match Viewer::handshake(ws, p["password"].as_str().unwrap()).await {
        (v, Handshake::Ok(init)) => (v, init),
        (_, other) => panic!("handshake: {other:?}"),
    }
}

/// Waits (up to 2 s) until VM `vmid`'s screen shows the row `row`; answers the screen text.
async fn wait_text(sim: &SimHandle, vmid: u64, row: &str) -> Vec<String> {
    let mut text = Vec::new();
    for _ in 0..100 {
        text = sim.state().console_text(vmid as u32).unwrap();
        if text.iter().any(|l| l == row) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{row:?} not on the screen: {text:?}");
}

fn schema_returns(path: &str, method: &str) -> Value {
    let file = reference::pve_reference_dir().join("pve-api-schema-9.1.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    fn find<'a>(nodes: &'a Value, path: &str) -> Option<&'a Value> {
        nodes.as_array()?.iter().find_map(|n| {
            if n["path"] == path {
                Some(n)
            } else {
                n.get("children").and_then(|c| find(c, path))
            }
        })
    }
    find(&schema, path).unwrap()["info"][method]["returns"].clone()
}

#[tokio::test]
async fn vncproxy_answers_like_pve_9_1() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let d = vncproxy(&c, &node, vmid).await;

    // Against the schema's `returns`: every field known, every required one present, strings
    // typed as strings. `port` is a string although the schema says integer (recorded).
    let returns = schema_returns("/nodes/{node}/qemu/{vmid}/vncproxy", "POST");
    let props = returns["properties"].as_object().unwrap();
    for (name, v) in d.as_object().unwrap() {
        let prop = props
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in schema"));
        let ty = if name == "port" {
            "string"
        } else {
            prop["type"].as_str().unwrap()
        };
        assert_eq!(ty, "string", "{name}");
        assert!(v.is_string(), "{name}: {v}");
    }
    for (name, prop) in props {
        assert!(
            prop["optional"] == 1 || d.get(name).is_some(),
            "{name} missing"
        );
    }

    assert_eq!(d["user"], "root@pam");
    let password = d["password"].as_str().unwrap();
    assert_eq!(password.len(), 8);
    assert!(
        password.bytes().all(|b| (b'!'..=b'`').contains(&b)),
        "{password}"
    );
    let ticket = d["ticket"].as_str().unwrap();
    let rest = ticket.strip_prefix(&format!("{password}:PVEVNC:")).unwrap();
    let (stamp, sig) = rest.split_once("::").unwrap();
    assert_eq!(stamp.len(), 8);
    assert!(!sig.is_empty());
    let port: u16 = d["port"].as_str().unwrap().parse().unwrap();
    assert!((5900..=5999).contains(&port));
    let upid = d["upid"].as_str().unwrap();
    assert!(upid.starts_with(&format!("UPID:{node}:")), "{upid}");
    assert!(
        upid.ends_with(&format!(":vncproxy:{vmid}:root@pam:")),
        "{upid}"
    );
    assert!(
        d["cert"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    // The proxy's task runs while it waits; a second proxy gets another port.
    let st = c
        .get(&format!("/nodes/{node}/tasks/{}/status", encode(upid)))
        .await;
    assert_eq!(st.data()["status"], "running");
    let d2 = vncproxy(&c, &node, vmid).await;
    assert_ne!(d2["port"], d["port"]);
    assert_ne!(d2["password"], d["password"]);

    // Under an API token the user is the token's auth ID.
    let t = Client::with_token(&sim);
    let d3 = vncproxy(&t, &node, vmid).await;
    assert_eq!(d3["user"], "root@pam!cecyber");
    assert!(d3["upid"].as_str().unwrap().ends_with(":root@pam!cecyber:"));

    // No VM 999 here; bad parameters.
    let a = c
        .post(&format!("/nodes/{node}/qemu/999/vncproxy"), &[])
        .await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.message(),
        format!("Configuration file 'nodes/{node}/qemu-server/999.conf' does not exist\n")
    );
    let a = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/vncproxy"),
            &[("websocket", "yes")],
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body["errors"]["websocket"].is_string());
}

#[tokio::test]
async fn a_viewer_logs_in_sees_the_screen_and_types() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vms = sim_support::vms(&c).await;
    let vm_name = vms.iter().find(|v| v["vmid"] == vmid).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();

    let p = vncproxy(&c, &node, vmid).await;
    let port = p["port"].as_str().unwrap();
    let (ws, head) = open(&sim, &c, &node, vmid, port, p["ticket"].as_str().unwrap())
        .await
        .expect("upgrade");
    assert_eq!(head.status, 101);
    assert_eq!(head.header("sec-websocket-protocol"), Some("binary"));
    assert_eq!(sim.state().console_sessions(), 1);

    let (mut v, init) = match Viewer::handshake(ws, p["password"].as_str().unwrap()).await {
        (v, Handshake::Ok(init)) => (v, init),
        (_, other) => panic!("{other:?}"),
    };
    assert_eq!((init.width, init.height), (640, 400));
    assert_eq!(init.name, vm_name);
    assert_eq!(
        &init.pixel_format[..4],
        &[32, 24, 0, 1],
        "32 bpp true colour"
    );

    v.set_novnc_pixel_format().await;
    v.set_encodings().await;
    v.request_update(false).await;
    let rects = v.read_update().await;
    assert_eq!(rects.len(), 1);
    let (x, y, w, h, pixels) = &rects[0];
    assert_eq!((*x, *y, *w, *h), (0, 0, 640, 400));
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(4).collect();
    assert!(colours.len() >= 3, "not blank: {} colours", colours.len());
    let text = sim.state().console_text(vmid as u32).unwrap();
    assert_eq!(text[0], "Cecyber simulated console");
    assert_eq!(text[1], format!("VM {vmid} — {vm_name}"));

    // Typing changes the screen; the incremental update carries only the changed rows.
    let before = pixels.clone();
    v.request_update(true).await;
    v.type_text("Hi there").await;
    v.key(0xff0d).await;
    v.type_text("xy").await;
    v.key(0xff08).await;
    let text = wait_text(&sim, vmid, "typed: x").await;
    assert!(text.iter().any(|l| l == "typed: Hi there"), "{text:?}");
    let rects = v.read_update().await;
    let (_, y, w, h, pixels) = &rects[0];
    assert_eq!(*w, 640);
    assert!(*h < 400 && *y > 0, "only the input rows: y={y} h={h}");
    let start = usize::from(*y) * 640 * 4;
    assert_ne!(
        &before[start..start + pixels.len()],
        &pixels[..],
        "the rows changed"
    );

    // A screenshot for eyes (and the demo): a PPM of the shared screen.
    let ppm = sim.state().console_screenshot_ppm(vmid as u32).unwrap();
    assert!(ppm.starts_with(b"P6\n640 400\n255\n"));
    if let Ok(dir) = std::env::var("CECYBER_SCREENSHOT_DIR") {
        std::fs::write(PathBuf::from(dir).join("sim-console.ppm"), &ppm).unwrap();
    }

    // Closing the websocket ends the proxy's task with OK.
    v.ws.close().await;
    let done = c.wait_task(p["upid"].as_str().unwrap()).await;
    assert_eq!(done["exitstatus"], "OK");
    for _ in 0..50 {
        if sim.state().console_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.state().console_sessions(), 0);
}

#[tokio::test]
async fn passwords_tickets_and_the_whole_ticket_as_password() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;

    // A wrong password: SecurityResult failed, with QEMU's reason.
    let p = vncproxy(&c, &node, vmid).await;
    let (ws, _) = open(
        &sim,
        &c,
        &node,
        vmid,
        p["port"].as_str().unwrap(),
        p["ticket"].as_str().unwrap(),
    )
    .await
    .unwrap();
    match Viewer::handshake(ws, "wrong!!!").await {
        (_, Handshake::Failed(reason)) => assert_eq!(reason, "Authentication failed"),
        (_, other) => panic!("{other:?}"),
    }

    // PVE's own noVNC page sends the whole ticket: only its first 8 bytes count.
    let p = vncproxy(&c, &node, vmid).await;
    let ticket = p["ticket"].as_str().unwrap();
    let (ws, _) = open(&sim, &c, &node, vmid, p["port"].as_str().unwrap(), ticket)
        .await
        .unwrap();
    assert!(matches!(
        Viewer::handshake(ws, ticket).await.1,
        Handshake::Ok(_)
    ));

    // The port is closed once its connection arrived.
    let again = open(&sim, &c, &node, vmid, p["port"].as_str().unwrap(), ticket)
        .await
        .err()
        .expect("refused");
    assert_eq!(again.status, 500);
    assert!(
        again.json()["message"].as_str().unwrap().contains("failed"),
        "{again:?}"
    );
}

#[tokio::test]
async fn vncwebsocket_refusals() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let p = vncproxy(&c, &node, vmid).await;
    let port = p["port"].as_str().unwrap();
    let ticket = p["ticket"].as_str().unwrap();

    // The ticket is bound to the port, the VM and the user.
    let other_port = if port == "5999" { "5998" } else { "5999" };
    let e = open(&sim, &c, &node, vmid, other_port, ticket)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 401);
    assert_eq!(
        e.json()["message"],
        "permission denied - invalid PVEVNC ticket\n"
    );
    let (_, other_vm) = find_vm(&c, |v| v["vmid"] != vmid && v["node"] == node.as_str()).await;
    let e = open(&sim, &c, &node, other_vm, port, ticket)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 401);
    let token = Client::with_token(&sim);
    let e = open(&sim, &token, &node, vmid, port, ticket)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 401, "root@pam's ticket is not the token's");

    // Parameter checks: range and length.
    let e = open(&sim, &c, &node, vmid, "6000", ticket)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 400);
    assert_eq!(
        e.json()["errors"]["port"],
        "value must have a maximum value of 5999"
    );
    let long = "x".repeat(513);
    let e = open(&sim, &c, &node, vmid, port, &long)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 400);
    assert!(e.json()["errors"]["vncticket"].is_string());

    // Without credentials: 401 from the authentication layer.
    let e = open(&sim, &Client::new(&sim), &node, vmid, port, ticket)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 401);

    // An expired ticket (valid 40 s).
    sim.state().console_advance_clock(41);
    let e = open(&sim, &c, &node, vmid, port, ticket)
        .await
        .err()
        .unwrap();
    assert_eq!(e.status, 401);

    // A fresh one works (the clock moved for tickets and passwords alike).
    let p = vncproxy(&c, &node, vmid).await;
    let (ws, _) = open(
        &sim,
        &c,
        &node,
        vmid,
        p["port"].as_str().unwrap(),
        p["ticket"].as_str().unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        Viewer::handshake(ws, p["password"].as_str().unwrap())
            .await
            .1,
        Handshake::Ok(_)
    ));

    // Without upgrade headers it is a plain API call answering the port.
    let p = vncproxy(&c, &node, vmid).await;
    let port = p["port"].as_str().unwrap();
    let q = format!(
        "/nodes/{node}/qemu/{vmid}/vncwebsocket?port={port}&vncticket={}",
        encode(p["ticket"].as_str().unwrap())
    );
    assert_eq!(c.get(&q).await.data()["port"], port);
}

#[tokio::test]
async fn the_auditor_has_no_console() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let auditor = Client::login(&sim, "auditor@pve", "auditor").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let a = auditor
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/vncproxy"),
            &[("websocket", "1")],
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.message(),
        format!("Permission check failed (/vms/{vmid}, VM.Console)\n")
    );
    let p = vncproxy(&c, &node, vmid).await;
    let e = open(
        &sim,
        &auditor,
        &node,
        vmid,
        p["port"].as_str().unwrap(),
        p["ticket"].as_str().unwrap(),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(e.status, 403);
}

/// PVE answers vncproxy for a stopped VM (the API call does not look at the VM's state); the
/// proxy's `qm vncproxy` then fails: the websocket closes without RFB and the task fails.
#[tokio::test]
async fn a_stopped_vm_has_no_vnc_server() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let p = vncproxy(&c, &node, vmid).await;
    let (ws, _) = open(
        &sim,
        &c,
        &node,
        vmid,
        p["port"].as_str().unwrap(),
        p["ticket"].as_str().unwrap(),
    )
    .await
    .expect("pveproxy upgrades before the proxy fails");
    assert!(matches!(
        Viewer::handshake(ws, "x").await.1,
        Handshake::Closed
    ));
    let upid = p["upid"].as_str().unwrap();
    let done = c.wait_task(upid).await;
    assert_eq!(done["exitstatus"], "Failed to run vncproxy.");
    let log = c
        .get(&format!("/nodes/{node}/tasks/{}/log", encode(upid)))
        .await;
    assert_eq!(log.data()[0]["t"], format!("VM {vmid} not running"));
    assert!(sim.state().console_text(vmid as u32).is_none());
}

/// PVE 9.1: each proxy's connection sets a new VNC password, so a viewer that has not logged in
/// yet fails once another viewer connected; logged-in viewers stay and share the screen.
#[tokio::test]
async fn a_second_viewer_replaces_the_password_but_shares_the_screen() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let token = Client::with_token(&sim);
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;

    let (mut first, _) = session(&sim, &c, &node, vmid).await;
    first.set_novnc_pixel_format().await;
    first.request_update(false).await;
    first.read_update().await;

    let pa = vncproxy(&c, &node, vmid).await;
    let (wa, _) = open(
        &sim,
        &c,
        &node,
        vmid,
        pa["port"].as_str().unwrap(),
        pa["ticket"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let (mut second, _) = session(&sim, &token, &node, vmid).await;
    match Viewer::handshake(wa, pa["password"].as_str().unwrap()).await {
        (_, Handshake::Failed(reason)) => assert_eq!(reason, "Authentication failed"),
        (_, other) => panic!("the replaced password still worked: {other:?}"),
    }

    // The second viewer types; the first one is told.
    first.request_update(true).await;
    second.type_text("shared").await;
    let rects = first.read_update().await;
    assert_eq!(rects.len(), 1);
    wait_text(&sim, vmid, "typed: shared").await;

    // Dropping every session ends both proxies' tasks.
    sim.state().console_disconnect_all();
    assert!(first.ws.recv().await.is_none());
    assert!(second.ws.recv().await.is_none());
}

/// Stopping the VM ends its console sessions.
#[tokio::test]
async fn stopping_the_vm_closes_the_console() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running" && v["hastate"].is_null()).await;
    let (mut v, _) = session(&sim, &c, &node, vmid).await;
    let stop = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/stop"), &[])
        .await;
    c.wait_task(stop.data().as_str().unwrap()).await;
    assert!(v.ws.recv().await.is_none());
}

/// The default simulator serves HTTPS: the upgrade and the session work through TLS too.
#[tokio::test]
async fn the_console_works_over_https() {
    let sim = start_with(SimConfig {
        root_password: "secret".into(),
        auth_failure_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    assert!(sim.base_url().starts_with("https:"));
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let (mut v, init) = session(&sim, &c, &node, vmid).await;
    assert_eq!((init.width, init.height), (640, 400));
    v.request_update(false).await;
    let rects = v.read_update().await;
    assert_eq!(rects[0].4.len(), 640 * 400 * 4);
}
