//! QEMU mode over real HTTPS and WebSocket: every running VM is a real tiny QEMU VM; `vncproxy`
//! sets its VNC password over QMP and `vncwebsocket` reaches QEMU's own VNC server (RFB
//! handshake with the password, ServerInit, a screen that is not blank), a wrong password is
//! refused, stopping a VM kills its QEMU and stopping the simulator leaves no QEMU behind.
//!
//! Needs `qemu-system-x86_64` (Debian: `qemu-system-x86` from bookworm-backports; `.ci/lib.sh`
//! has `need_qemu`). Without it the tests fail, naming the install step.
//!
//! Run: `cargo test -p pve --features sim --test sim_qemu`

#![cfg(feature = "sim")]

mod sim_console_support;
mod sim_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use pve::sim::{SimConfig, SimHandle};
use serde_json::Value;
use sim_console_support::{Handshake, ServerInit, Viewer, Ws, connect};
use sim_support::{Auth, Client, encode, find_vm, start_with};

/// A simulator in QEMU mode (HTTPS, fast tasks); fails when QEMU is missing.
async fn start() -> SimHandle {
    assert!(
        pve::sim::qemu_available(),
        "{} is not installed: QEMU mode cannot be tested. Install it with `need_qemu` from \
         .ci/lib.sh (qemu-system-x86 from bookworm-backports).",
        pve::sim::QEMU_BINARY
    );
    start_with(SimConfig {
        root_password: "secret".into(),
        task_speed: 20.0,
        auth_failure_delay: Duration::from_millis(20),
        qemu: true,
        ..SimConfig::default()
    })
    .await
}

/// True while process `pid` exists and is a QEMU.
fn is_qemu(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("qemu-system-x86_64"))
}

/// Waits up to `within` for `cond`.
async fn wait_for(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// `vncproxy` + the WebSocket upgrade; answers the socket and the proxy's answer.
async fn open_console(sim: &SimHandle, c: &Client, node: &str, vmid: u64) -> (Ws, Value) {
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
        panic!("needs a ticket client")
    };
    let headers = [
        ("Sec-WebSocket-Protocol", "binary".to_owned()),
        ("Cookie", format!("PVEAuthCookie={}", encode(auth))),
    ];
    let (ws, head) = connect(sim.local_addr(), true, &path, &headers)
        .await
        .expect("upgrade");
    assert_eq!(head.status, 101);
    (ws, p)
}

/// Asks for the whole screen until the guest has booted — VGA text mode (720×400, announced
/// by DesktopSize; before that QEMU shows its own 640×480 "Guest has not initialized the
/// display" page) with more than one colour. QEMU boots in well under a second. Answers the
/// screen's size and number of colours.
async fn booted_screen(v: &mut Viewer, init: &ServerInit) -> (u16, u16, usize) {
    v.set_novnc_pixel_format().await;
    // Raw and DesktopSize only, so every rectangle is one of those two.
    let mut m = vec![2u8, 0, 0, 2];
    m.extend_from_slice(&0i32.to_be_bytes());
    m.extend_from_slice(&(-223i32).to_be_bytes());
    v.ws.send(&m).await;
    let (mut w, mut h) = (init.width, init.height);
    let t = Instant::now();
    let mut colours = HashSet::new();
    while t.elapsed() < Duration::from_secs(15) {
        let mut req = vec![3u8, 0];
        for x in [0, 0, w, h] {
            req.extend_from_slice(&x.to_be_bytes());
        }
        v.ws.send(&req).await;
        let head = v.ws.read_exact(4).await.expect("an update");
        assert_eq!(head[0], 0, "FramebufferUpdate");
        let n = u16::from_be_bytes([head[2], head[3]]);
        colours.clear();
        for _ in 0..n {
            let r = v.ws.read_exact(12).await.unwrap();
            let f = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
            let encoding = i32::from_be_bytes([r[8], r[9], r[10], r[11]]);
            match encoding {
                0 => {
                    let len = usize::from(f(4)) * usize::from(f(6)) * 4;
                    let pixels = v.ws.read_exact(len).await.unwrap();
                    colours.extend(pixels.chunks(4).map(|p| p[..3].to_vec()));
                }
                -223 => (w, h) = (f(4), f(6)),
                other => panic!("encoding {other}"),
            }
        }
        if (w, h) == (720, 400) && colours.len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (w, h, colours.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consoles_reach_real_qemu_vms() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let running: Vec<Value> = sim_support::vms(&c)
        .await
        .into_iter()
        .filter(|v| v["status"] == "running")
        .collect();
    assert!(!running.is_empty());
    assert!(
        wait_for(Duration::from_secs(5), || sim.state().qemu_pids().len()
            == running.len())
        .await,
        "one QEMU per running VM: {:?} for {} VMs",
        sim.state().qemu_pids(),
        running.len()
    );
    let pids = sim.state().qemu_pids();
    for (_, pid) in &pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains("q35,accel=tcg"), "{cmdline}");
        assert!(cmdline.contains("password=on"), "{cmdline}");
    }

    // The password from vncproxy opens QEMU's VNC server; the screen shows the boot text.
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let name = running.iter().find(|v| v["vmid"] == vmid).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ws, p) = open_console(&sim, &c, &node, vmid).await;
    let (mut v, init) = match Viewer::handshake(ws, p["password"].as_str().unwrap()).await {
        (v, Handshake::Ok(init)) => (v, init),
        (_, other) => panic!("handshake with QEMU: {other:?}"),
    };
    assert!(init.name.contains(&name), "desktop name {:?}", init.name);
    assert!(init.width >= 640 && init.height >= 400, "{init:?}");
    let (w, h, colours) = booted_screen(&mut v, &init).await;
    assert_eq!((w, h), (720, 400), "the guest never switched to text mode");
    assert!(colours > 1, "QEMU's screen stays blank");
    assert_eq!(sim.state().console_sessions(), 1);
    v.ws.close().await;

    // PVE's noVNC page sends the whole ticket: QEMU compares only the first 8 bytes.
    let (ws, p) = open_console(&sim, &c, &node, vmid).await;
    match Viewer::handshake(ws, p["ticket"].as_str().unwrap()).await {
        (_, Handshake::Ok(_)) => {}
        (_, other) => panic!("the ticket as password: {other:?}"),
    }

    // A wrong password is refused by QEMU.
    let (ws, _) = open_console(&sim, &c, &node, vmid).await;
    match Viewer::handshake(ws, "wrong!!!").await {
        (_, Handshake::Failed(reason)) => assert!(reason.contains("failed"), "{reason}"),
        (_, other) => panic!("a wrong password: {other:?}"),
    }

    // Stopping the VM kills its QEMU.
    let pid = pids
        .iter()
        .find(|(id, _)| u64::from(*id) == vmid)
        .unwrap()
        .1;
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/stop"), &[])
        .await;
    let done = c.wait_task(a.data().as_str().unwrap()).await;
    assert_eq!(done["exitstatus"], "OK");
    assert!(
        wait_for(Duration::from_secs(3), || !is_qemu(pid)).await,
        "QEMU {pid} of the stopped VM still runs"
    );
    assert!(
        sim.state()
            .qemu_pids()
            .iter()
            .all(|(id, _)| u64::from(*id) != vmid)
    );

    // Starting it again starts a new QEMU.
    let a = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    c.wait_task(a.data().as_str().unwrap()).await;
    assert!(
        wait_for(Duration::from_secs(5), || sim
            .state()
            .qemu_pids()
            .iter()
            .any(|(id, _)| u64::from(*id) == vmid))
        .await
    );

    // Stopping the simulator leaves no QEMU behind.
    let all: Vec<u32> = sim.state().qemu_pids().iter().map(|(_, p)| *p).collect();
    sim.shutdown().await;
    for pid in all {
        assert!(
            wait_for(Duration::from_secs(3), || !is_qemu(pid)).await,
            "QEMU {pid} outlived the simulator"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_kills_qemu() {
    let sim = start().await;
    assert!(
        wait_for(Duration::from_secs(5), || !sim
            .state()
            .qemu_pids()
            .is_empty())
        .await
    );
    let pids: Vec<u32> = sim.state().qemu_pids().iter().map(|(_, p)| *p).collect();
    drop(sim);
    for pid in pids {
        assert!(
            wait_for(Duration::from_secs(3), || !is_qemu(pid)).await,
            "QEMU {pid} outlived the dropped simulator"
        );
    }
}
