//! Console relay benchmark (not a timed test; prints numbers): relay throughput and
//! small-message round trip against the same simulated VNC server reached directly (its
//! `vncwebsocket` over HTTPS, VNC authentication done by the benchmark), and many concurrent
//! consoles through the relay with no errors.
//!
//! Run: `cargo test -p server --release --test console_bench -- --ignored --nocapture`
//! (`CONSOLE_BENCH_UPDATES`, `CONSOLE_BENCH_ROUND_TRIPS`, `CONSOLE_BENCH_CONSOLES` change the
//! sizes; defaults 300, 2000, 200).

mod console_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use console_support::{TestServer, Viewer, Vm, Ws, start};
use tokio_tungstenite::{Connector, tungstenite::client::IntoClientRequest};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A viewer connected to the simulator's `vncwebsocket` without the relay: what a relay would
/// do, done by the benchmark itself (vncproxy, upgrade with the panel's credentials and TLS
/// trust, VNC authentication).
async fn direct_viewer(server: &TestServer, vm: &Vm) -> Viewer {
    let cluster = server.runtime.state.clusters.get(&vm.cluster).unwrap();
    let node = vm.node.parse().unwrap();
    let vmid = pve::ids::VmId::new(vm.vmid).unwrap();
    let proxy = cluster.api.qemu_vncproxy(&node, vmid, true).await.unwrap();
    let req = cluster
        .api
        .vnc_websocket_request(&node, vmid, proxy.port, &proxy.ticket)
        .await
        .unwrap();
    let mut request = req.url.as_str().into_client_request().unwrap();
    request.headers_mut().extend(req.headers);
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let connector = req.tls.map(|tls| {
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Connector::Rustls(Arc::new(tls))
    });
    let (socket, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector)
            .await
            .unwrap();
    let mut ws = Ws::new(socket);
    assert_eq!(ws.read_exact(12).await.unwrap(), b"RFB 003.008\n");
    ws.send(b"RFB 003.008\n").await;
    let n = ws.read_exact(1).await.unwrap()[0];
    assert!(ws.read_exact(usize::from(n)).await.unwrap().contains(&2));
    ws.send(&[2]).await;
    let challenge: [u8; 16] = ws.read_exact(16).await.unwrap().try_into().unwrap();
    ws.send(&pve::client::vnc_auth_response(
        proxy.vnc_password().as_bytes(),
        &challenge,
    ))
    .await;
    assert_eq!(ws.read_exact(4).await.unwrap(), [0, 0, 0, 0]);
    Viewer::init(ws).await.0
}

/// MB/s of `updates` full-screen Raw updates (1 MB each), requested all at once.
async fn throughput(viewer: &mut Viewer, updates: usize) -> f64 {
    viewer.request_update(false).await;
    viewer.read_update().await.unwrap();
    let started = Instant::now();
    for _ in 0..updates {
        viewer.request_update(false).await;
    }
    let mut bytes = 0usize;
    for _ in 0..updates {
        let rects = viewer.read_update().await.unwrap();
        bytes += 4 + rects.iter().map(|(_, size)| 12 + size).sum::<usize>();
    }
    bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// Round trips of a 10-byte request for one pixel and its 20-byte answer: (median, p99).
async fn round_trip(viewer: &mut Viewer, n: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        viewer.request_area(false, 0, 0, 1, 1).await;
        viewer.read_update().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (times[n / 2], times[n * 99 / 100])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn relay_against_direct() {
    let server = start().await;
    let admin = server.admin().await;
    let vms = server.vms(&admin, true).await;
    let vm = vms[0].clone();
    let updates = env("CONSOLE_BENCH_UPDATES", 300);
    let trips = env("CONSOLE_BENCH_ROUND_TRIPS", 2000);

    let mut direct = direct_viewer(&server, &vm).await;
    let (mut relayed, _) = server.viewer(&admin, &vm).await;
    // Warm-up, then alternate to share the machine's state fairly.
    throughput(&mut direct, 20).await;
    throughput(&mut relayed, 20).await;
    let direct_mbs = throughput(&mut direct, updates).await;
    let relay_mbs = throughput(&mut relayed, updates).await;
    let (direct_med, direct_p99) = round_trip(&mut direct, trips).await;
    let (relay_med, relay_p99) = round_trip(&mut relayed, trips).await;

    println!();
    println!("console relay benchmark ({updates} full updates of 1 MB, {trips} round trips)");
    println!(
        "  throughput  direct {direct_mbs:8.1} MB/s   relay {relay_mbs:8.1} MB/s   relay/direct {:.2}",
        relay_mbs / direct_mbs
    );
    println!(
        "  round trip  direct {:8.3} ms (p99 {:.3})   relay {:8.3} ms (p99 {:.3})   relay adds {:+.3} ms (median)",
        ms(direct_med),
        ms(direct_p99),
        ms(relay_med),
        ms(relay_p99),
        ms(relay_med) - ms(direct_med)
    );
    println!("  (websockify is not part of this run: no Python package is installed here)");

    // Many consoles at once, spread over the running VMs, each through the whole handshake.
    let consoles = env("CONSOLE_BENCH_CONSOLES", 200);
    let started = Instant::now();
    let opening = Arc::new(tokio::sync::Semaphore::new(40));
    let server = Arc::new(server);
    let tasks: Vec<_> = (0..consoles)
        .map(|i| {
            let (server, admin, vm, opening) = (
                server.clone(),
                admin.clone(),
                vms[i % vms.len()].clone(),
                opening.clone(),
            );
            tokio::spawn(async move {
                let permit = opening.acquire_owned().await.unwrap();
                let (viewer, init) = server.viewer(&admin, &vm).await;
                drop(permit);
                assert_eq!(init.name, vm.name);
                viewer
            })
        })
        .collect();
    let mut viewers = Vec::new();
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok(v) => viewers.push(v),
            Err(e) => {
                errors += 1;
                eprintln!("console failed: {e}");
            }
        }
    }
    let opened = started.elapsed();
    let started = Instant::now();
    let updates: Vec<_> = viewers
        .into_iter()
        .map(|mut v| {
            tokio::spawn(async move {
                v.request_update(false).await;
                v.read_update()
                    .await
                    .map(|_| v)
                    .map_err(|e| format!("{e:?}"))
            })
        })
        .collect();
    let mut alive = Vec::new();
    for u in updates {
        match u.await {
            Ok(Ok(v)) => alive.push(v),
            other => {
                errors += 1;
                eprintln!("update failed: {:?}", other.err());
            }
        }
    }
    println!(
        "  {consoles} concurrent consoles over {} VMs: opened in {:.2} s, {} got a full update in {:.2} s, {errors} errors, {} PVE sessions open",
        vms.len(),
        opened.as_secs_f64(),
        alive.len(),
        started.elapsed().as_secs_f64(),
        server.sim().console_sessions()
    );
    assert_eq!(errors, 0);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
