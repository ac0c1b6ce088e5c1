//! The console relay end to end: the server in demo mode (simulated PVE over HTTPS with a
//! pinned fingerprint), `open_console`, and a real RFB viewer talking to our relay through a
//! WebSocket — security None towards the browser, VNC authentication towards PVE, typing,
//! framebuffer updates, two viewers on one VM, refusals before the upgrade, and PVE dropping.
//!
//! Run: `cargo test -p server --test console`

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use support::{TestServer, Viewer, error_kind, start};

async fn operator(server: &TestServer, name: &str) -> String {
    let admin = server.admin().await;
    server.user(&admin, name, "operator").await
}

#[tokio::test]
async fn operator_types_through_the_relay_and_sees_the_vm() {
    let server = start().await;
    let olga = operator(&server, "olga").await;
    let vm = server.vms(&olga, true).await.remove(0);

    let (status, ticket) = server.open_console(&olga, &vm).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    // Nothing secret reaches the browser: three fields, a random session id.
    let fields: Vec<&String> = ticket.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["view_only", "vm_name", "ws_path"]);
    assert_eq!(ticket["vm_name"], vm.name);
    assert_eq!(ticket["view_only"], false);
    let path = ticket["ws_path"].as_str().unwrap();
    assert!(path.starts_with("/api/console/ws?session="), "{path}");
    assert!(!path.contains("PVEVNC") && !ticket.to_string().contains("password"));

    let ws = server
        .ws(path, &[("cookie", &olga), ("origin", &server.origin())])
        .await
        .expect("upgrade");
    let (mut viewer, init) = Viewer::handshake(ws).await;
    assert_eq!(
        (init.width, init.height, init.bits_per_pixel),
        (640, 400, 32)
    );
    assert_eq!(init.name, vm.name, "ServerInit carries the VM's name");

    viewer.request_update(false).await;
    let rects = viewer.read_update().await.unwrap();
    assert_eq!(rects[0].0, (0, 0, 640, 400), "a full framebuffer update");

    viewer.request_update(true).await;
    viewer.type_text("through the relay").await;
    viewer.key(0xff0d).await;
    server.wait_text(vm.vmid, "typed: through the relay").await;
    let rects = viewer.read_update().await.unwrap();
    assert!(!rects.is_empty(), "the typing comes back as an update");
}

#[tokio::test]
async fn viewers_and_stopped_vms_and_pve_refusals_get_no_console() {
    let server = start().await;
    let admin = server.admin().await;
    let vera = server.user(&admin, "vera", "viewer").await;
    let running = server.vms(&admin, true).await.remove(0);
    let stopped = server.vms(&admin, false).await.remove(0);

    let (status, body) = server.open_console(&vera, &running).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_kind(&body), "Forbidden", "{body}");

    // A stopped VM is the VM's state, not bad input: 409.
    let (status, body) = server.open_console(&admin, &stopped).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_kind(&body), "Conflict", "{body}");
    assert!(body.to_string().contains("not running"), "{body}");

    let (status, body) = server
        .open_console("cecyber_session=forged", &running)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_kind(&body), "Unauthenticated");

    // PVE refusing vncproxy: its own message is passed on.
    let vncproxy = format!("/nodes/{}/qemu/{}/vncproxy", running.node, running.vmid);
    server
        .sim()
        .set_faults(pve::sim::Faults {
            error_rates: BTreeMap::from([(vncproxy, 1.0)]),
            ..Default::default()
        })
        .unwrap();
    let (status, body) = server.open_console(&admin, &running).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(error_kind(&body), "Pve", "{body}");
    server.sim().set_faults(Default::default()).unwrap();
    assert!(server.open_console(&admin, &running).await.0.is_success());
}

#[tokio::test]
async fn console_sessions_open_once_for_their_user_in_time() {
    let server = start().await;
    let olga = operator(&server, "olga").await;
    let admin = server.admin().await;
    let vm = server.vms(&olga, true).await.remove(0);
    let origin = server.origin();

    // Opened once; a replay is refused before any upgrade.
    let path = server.console_path(&olga, &vm).await;
    let ws = server
        .ws(&path, &[("cookie", &olga), ("origin", &origin)])
        .await
        .expect("first use");
    let (_viewer, _) = Viewer::handshake(ws).await;
    let (status, body) = server
        .ws(&path, &[("cookie", &olga), ("origin", &origin)])
        .await
        .err()
        .expect("replay refused");
    assert_eq!(status, 403);
    assert!(body.contains("unknown or already used"), "{body}");

    // Another user's cookie, no cookie, another site: refused (see also
    // `another_users_cookie_leaves_the_session_to_its_owner`).
    let path = server.console_path(&olga, &vm).await;
    let (status, body) = server
        .ws(&path, &[("cookie", &admin), ("origin", &origin)])
        .await
        .err()
        .unwrap();
    assert_eq!(
        (status, body.trim()),
        (403, "this console session belongs to another user")
    );
    let path = server.console_path(&olga, &vm).await;
    assert_eq!(
        server
            .ws(&path, &[("origin", &origin)])
            .await
            .err()
            .unwrap()
            .0,
        401
    );
    let path = server.console_path(&olga, &vm).await;
    let (status, _) = server
        .ws(
            &path,
            &[("cookie", &olga), ("origin", "https://evil.example")],
        )
        .await
        .err()
        .unwrap();
    assert_eq!(status, 403);
    assert_eq!(
        server
            .ws("/api/console/ws?session=forged", &[("cookie", &olga)])
            .await
            .err()
            .unwrap()
            .0,
        403
    );
    assert_eq!(
        server
            .ws("/api/console/ws", &[("cookie", &olga)])
            .await
            .err()
            .unwrap()
            .0,
        400
    );

    // Expired: the lifetime is shortened for the test.
    server
        .runtime
        .console
        .set_session_ttl(Duration::from_millis(300));
    let path = server.console_path(&olga, &vm).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = server
        .ws(&path, &[("cookie", &olga), ("origin", &origin)])
        .await
        .err()
        .expect("expired");
    assert_eq!((status, body.trim()), (403, "console session expired"));

    // A plain GET (no upgrade) is refused too.
    let plain = reqwest::get(format!("{}/api/console/ws?session=x", server.base))
        .await
        .unwrap();
    assert!(plain.status().is_client_error());
}

#[tokio::test]
async fn another_users_cookie_leaves_the_session_to_its_owner() {
    let server = start().await;
    let olga = operator(&server, "olga").await;
    let admin = server.admin().await;
    let otto = server.user(&admin, "otto", "operator").await;
    let vm = server.vms(&olga, true).await.remove(0);
    let origin = server.origin();

    let path = server.console_path(&olga, &vm).await;
    // Refused before the upgrade, whoever the other user is (even an admin)...
    for cookie in [&otto, &admin] {
        let (status, body) = server
            .ws(&path, &[("cookie", cookie), ("origin", &origin)])
            .await
            .err()
            .expect("another user is refused");
        assert_eq!(
            (status, body.trim()),
            (403, "this console session belongs to another user")
        );
    }
    // ... and so are attempts without a cookie or from another site ...
    let no_cookie = server.ws(&path, &[("origin", &origin)]).await.err();
    assert_eq!(no_cookie.map(|(status, _)| status), Some(401));
    let other_site = server
        .ws(
            &path,
            &[("cookie", &olga), ("origin", "https://evil.example")],
        )
        .await
        .err();
    assert_eq!(other_site.map(|(status, _)| status), Some(403));
    assert_eq!(server.runtime.console.pending(), 1, "not used up");

    // ... while its owner still opens it, once.
    let ws = server
        .ws(&path, &[("cookie", &olga), ("origin", &origin)])
        .await
        .expect("the owner opens the session");
    let (mut viewer, init) = Viewer::handshake(ws).await;
    assert_eq!(init.name, vm.name);
    viewer.request_update(false).await;
    assert_eq!(viewer.read_update().await.unwrap()[0].0, (0, 0, 640, 400));
    let (status, body) = server
        .ws(&path, &[("cookie", &otto), ("origin", &origin)])
        .await
        .err()
        .expect("used");
    assert_eq!(
        (status, body.trim()),
        (403, "console session unknown or already used")
    );
}

#[tokio::test]
async fn two_viewers_on_one_vm_both_get_updates() {
    let server = start().await;
    let olga = operator(&server, "olga").await;
    let admin = server.admin().await;
    let vm = server.vms(&olga, true).await.remove(0);

    // Opened at the same time: each vncproxy makes a new VNC password, the per-VM lock keeps
    // each "vncproxy → connect → authenticate" whole.
    let ((mut first, a), (mut second, b)) =
        tokio::join!(server.viewer(&olga, &vm), server.viewer(&admin, &vm));
    assert_eq!(
        (a.name.as_str(), b.name.as_str()),
        (vm.name.as_str(), vm.name.as_str())
    );
    assert_eq!(server.sim().console_sessions(), 2);

    for v in [&mut first, &mut second] {
        v.request_update(false).await;
        assert_eq!(v.read_update().await.unwrap()[0].0, (0, 0, 640, 400));
        v.request_update(true).await;
    }
    first.type_text("one").await;
    server.wait_text(vm.vmid, "typed: one").await;
    assert!(!first.read_update().await.unwrap().is_empty());
    assert!(
        !second.read_update().await.unwrap().is_empty(),
        "the other viewer sees it too"
    );

    // A third viewer opening later does not knock out the first two.
    let (mut third, _) = server.viewer(&olga, &vm).await;
    for v in [&mut first, &mut second, &mut third] {
        v.request_update(true).await;
    }
    second.type_text("two").await;
    server.wait_text(vm.vmid, "typed: onetwo").await;
    for v in [&mut first, &mut second, &mut third] {
        assert!(!v.read_update().await.unwrap().is_empty());
    }
    assert_eq!(server.sim().console_sessions(), 3);
}

#[tokio::test]
async fn pve_dropping_closes_the_browser_socket() {
    let server = start().await;
    let olga = operator(&server, "olga").await;
    let vm = server.vms(&olga, true).await.remove(0);
    let (mut viewer, _) = server.viewer(&olga, &vm).await;
    viewer.request_update(false).await;
    viewer.read_update().await.unwrap();

    server.sim().console_disconnect_all();
    let reason = viewer.ws.expect_close(1000, Duration::from_secs(5)).await;
    assert!(reason.contains("Proxmox VE"), "{reason}");
    // The browser reconnects with a fresh console session.
    let (mut again, _) = server.viewer(&olga, &vm).await;
    again.request_update(false).await;
    again.read_update().await.unwrap();
}

#[tokio::test]
async fn the_browser_closing_ends_the_pve_session() {
    let server = start().await;
    let olga = operator(&server, "olga").await;
    let vm = server.vms(&olga, true).await.remove(0);
    let (mut viewer, _) = server.viewer(&olga, &vm).await;
    assert_eq!(server.sim().console_sessions(), 1);
    viewer.ws.ws.close(None).await.unwrap();
    server.wait_no_pve_sessions().await;
}

#[tokio::test]
async fn the_relay_keeps_to_the_websocket_protocol() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Bytes, Message};

    let server = start().await;
    let olga = operator(&server, "olga").await;
    let vm = server.vms(&olga, true).await.remove(0);

    // Not an upgrade, or not version 13: refused before anything is opened.
    let path = server.console_path(&olga, &vm).await;
    let url = format!("{}{path}", server.origin());
    let plain = reqwest::Client::new()
        .get(&url)
        .header("cookie", &olga)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UPGRADE_REQUIRED);
    assert!(plain.text().await.unwrap().contains("WebSocket upgrade"));
    let old_version = reqwest::Client::new()
        .get(&url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "8")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(old_version.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.sim().console_sessions(), 0);

    let (mut viewer, _) = server.viewer(&olga, &vm).await;
    // A ping is answered with its payload.
    let ping = Bytes::from_static(b"still there?");
    viewer
        .ws
        .ws
        .send(Message::Ping(ping.clone()))
        .await
        .unwrap();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), viewer.ws.ws.next()).await;
        match next.expect("a pong in time") {
            Some(Ok(Message::Pong(payload))) => {
                assert_eq!(payload, ping);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    // Pings while whole screens stream: the pongs go between PVE's frames, never inside one.
    for _ in 0..50 {
        viewer.request_update(false).await;
        let ping = Message::Ping(ping.clone());
        viewer.ws.ws.send(ping).await.unwrap();
        assert_eq!(viewer.read_update().await.unwrap()[0].0, (0, 0, 640, 400));
    }
    // A text frame is taken as RFB bytes, like a binary one (this one: an update request).
    let request = "\u{3}\0\0\0\0\0\0\u{1}\0\u{1}";
    viewer.ws.ws.send(Message::text(request)).await.unwrap();
    assert_eq!(viewer.read_update().await.unwrap()[0].0, (0, 0, 1, 1));

    // A frame over the relay's limit (1 MiB) ends the console with 1009, PVE's side too.
    let huge = Bytes::from(vec![0u8; 2 << 20]);
    viewer.ws.ws.send(Message::Binary(huge)).await.unwrap();
    let reason = viewer.ws.expect_close(1009, Duration::from_secs(5)).await;
    assert!(reason.contains("over the limit"), "{reason}");
    server.wait_no_pve_sessions().await;
}

#[tokio::test]
async fn a_user_lowered_to_viewer_loses_the_open_console() {
    let server = start().await;
    let admin = server.admin().await;
    let olga = server.user(&admin, "olga", "operator").await;
    let vm = server.vms(&olga, true).await.remove(0);
    let (mut viewer, _) = server.viewer(&olga, &vm).await;
    viewer.request_update(false).await;
    viewer.read_update().await.unwrap();

    let (status, body) = server
        .call(
            Some(&admin),
            "users_set_role",
            &[("username", "olga"), ("role", "viewer")],
        )
        .await;
    assert!(status.is_success(), "{body}");
    // Checked every 10 s.
    let reason = viewer.ws.expect_close(1008, Duration::from_secs(15)).await;
    assert!(reason.contains("revoked"), "{reason}");
}
