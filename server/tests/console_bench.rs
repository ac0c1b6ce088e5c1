//! Console relay benchmark (not a timed test; prints numbers). Throughput (full-screen Raw
//! updates) and small-message round trip of one simulated VNC server reached three ways, in
//! the same run, alternated over several rounds, and given as ratios:
//! - **direct**: its `vncwebsocket` over HTTPS, VNC authentication done by the benchmark — what
//!   the relay itself connects to;
//! - **relay**: through our relay (`/api/console/ws`, security None towards the viewer);
//! - **websockify** (PyPI) in front of it, from the Python virtualenv at `$CECYBER_PYVENV`
//!   (default `target/pyvenv`; `. .ci/lib.sh && need_python_clients` installs it). websockify
//!   needs a TCP VNC server, and the simulator's VNC servers have none (its `vncwebsocket`
//!   reaches them in memory), so the benchmark gives websockify a test-only one: a loopback TCP
//!   port carrying the bytes to and from the same `vncwebsocket` (see [`tcp_bridge`]). That
//!   bridge is one hop more than the relay's path has. Without websockify installed, that part
//!   is skipped with a note.
//!
//! The simulator's VNC server runs in this process (it sends ready-encoded screens, so it costs
//! little), on a machine with few cores; the CPU spent per GB by all processes (this one, and
//! websockify's) is given too: it shows what each proxy's hop costs. The viewer stands for the
//! browser, which runs on another machine: it checks each update's header and length and drops
//! the pixel bytes as they come (no copy), so that its own cost, the same on every path, weighs
//! as little as it can in the comparison.
//!
//! Then many concurrent consoles through the relay, which must all work.
//!
//! Run: `cargo test -p server --release --test console_bench -- --ignored --nocapture`
//! (`CONSOLE_BENCH_UPDATES`, `CONSOLE_BENCH_ROUND_TRIPS`, `CONSOLE_BENCH_ROUNDS`,
//! `CONSOLE_BENCH_CONSOLES` change the sizes; defaults 1000 updates and 2000 round trips per
//! path, spread over 5 rounds, and 200 consoles).

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use support::{TestServer, Viewer, Vm, Ws, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{Bytes, Message, client::IntoClientRequest};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The simulator's `vncwebsocket` for `vm`, opened as the relay does (vncproxy, upgrade with
/// the panel's credentials and TLS trust), and the VNC password.
async fn vncwebsocket(server: &TestServer, vm: &Vm) -> (Socket, String) {
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
    (socket, proxy.vnc_password().to_owned())
}

/// The RFB 3.8 client handshake with VNC authentication, then ClientInit and ServerInit.
async fn vnc_login(mut ws: Ws, password: &str) -> Viewer {
    assert_eq!(ws.read_exact(12).await.unwrap(), b"RFB 003.008\n");
    ws.send(b"RFB 003.008\n").await;
    let n = ws.read_exact(1).await.unwrap()[0];
    assert!(ws.read_exact(usize::from(n)).await.unwrap().contains(&2));
    ws.send(&[2]).await;
    let challenge: [u8; 16] = ws.read_exact(16).await.unwrap().try_into().unwrap();
    ws.send(&pve::client::vnc_auth_response(
        password.as_bytes(),
        &challenge,
    ))
    .await;
    assert_eq!(ws.read_exact(4).await.unwrap(), [0, 0, 0, 0]);
    Viewer::init(ws).await.0
}

/// A viewer on the simulator's `vncwebsocket` without the relay.
async fn direct_viewer(server: &TestServer, vm: &Vm) -> Viewer {
    let (socket, password) = vncwebsocket(server, vm).await;
    vnc_login(Ws::new(socket), &password).await
}

/// Test-only: a loopback TCP port whose first connection is joined to `socket` (raw RFB both
/// ways: TCP reads become binary frames, frames are written to TCP), so that a TCP VNC client
/// such as websockify reaches the simulator's VNC server.
async fn tcp_bridge(socket: Socket) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let (mut tcp_read, mut tcp_write) = tcp.into_split();
        let (mut sink, mut stream) = socket.split();
        let up = async move {
            let mut buf = vec![0u8; 128 * 1024];
            while let Ok(n @ 1..) = tcp_read.read(&mut buf).await {
                let frame = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                if sink.send(frame).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        };
        let down = async move {
            while let Some(Ok(msg)) = stream.next().await {
                match msg {
                    Message::Binary(b) if tcp_write.write_all(&b).await.is_err() => break,
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            let _ = tcp_write.shutdown().await;
        };
        tokio::select! {
            () = up => {}
            () = down => {}
        }
    });
    addr
}

/// websockify running as a child process; killed when dropped.
struct Websockify {
    child: Child,
    port: u16,
}

impl Drop for Websockify {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The virtualenv's python if it has websockify, else why not.
fn websockify_python() -> Result<PathBuf, String> {
    let venv = std::env::var_os("CECYBER_PYVENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyvenv"));
    let python = venv.join("bin/python");
    let found = Command::new(&python)
        .args(["-c", "import websockify"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        Ok(python)
    } else {
        Err(format!(
            "no websockify in the virtualenv {} (install: . .ci/lib.sh && need_python_clients)",
            venv.display()
        ))
    }
}

/// Starts websockify on a free loopback port in front of the TCP VNC server `target`.
fn start_websockify(target: SocketAddr) -> Result<Websockify, String> {
    let python = websockify_python()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(python)
        .args([
            "-m",
            "websockify",
            &format!("127.0.0.1:{port}"),
            &target.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start websockify: {e}"))?;
    Ok(Websockify { child, port })
}

/// A viewer through websockify: the `vncwebsocket` behind a TCP bridge, websockify in front.
async fn websockify_viewer(server: &TestServer, vm: &Vm) -> Result<(Viewer, Websockify), String> {
    let (socket, password) = vncwebsocket(server, vm).await;
    let websockify = start_websockify(tcp_bridge(socket).await)?;
    let url = format!("ws://127.0.0.1:{}/", websockify.port);
    // Python takes a moment to start listening.
    let deadline = Instant::now() + Duration::from_secs(15);
    let ws = loop {
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "binary".parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => break ws,
            Err(e) if Instant::now() > deadline => {
                return Err(format!("websockify did not answer on {url}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    Ok((vnc_login(Ws::new(ws), &password).await, websockify))
}

/// CPU time used so far by this process and by the processes `pids` and their children, in
/// clock ticks (1/100 s on Linux); `None` without Linux's `/proc`.
fn cpu_ticks(pids: &[u32]) -> Option<u64> {
    // utime and stime are the 12th and 13th fields after the command name's closing ")";
    // the parent's pid is the 2nd.
    let fields = |stat: &str| -> Option<(u32, u64)> {
        let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some((
            f.get(1)?.parse().ok()?,
            f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
        ))
    };
    let mut ticks = fields(&std::fs::read_to_string("/proc/self/stat").ok()?)?.1;
    if !pids.is_empty() {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if let Some((parent, t)) = fields(&stat)
                && (pids.contains(&pid) || pids.contains(&parent))
            {
                ticks += t;
            }
        }
    }
    Some(ticks)
}

/// MB/s of `updates` full-screen Raw updates (1 MB each), requested all at once; and the MB.
async fn throughput(viewer: &mut Viewer, updates: usize) -> (f64, f64) {
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
    let mb = bytes as f64 / 1e6;
    (mb / started.elapsed().as_secs_f64(), mb)
}

/// Round trips of a 10-byte request for one pixel and its 20-byte answer.
async fn round_trips(viewer: &mut Viewer, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        viewer.request_area(false, 0, 0, 1, 1).await;
        viewer.read_update().await.unwrap();
        times.push(started.elapsed());
    }
    times
}

/// One way to the VNC server and what was measured through it.
struct Path {
    name: &'static str,
    viewer: Viewer,
    mbs: Vec<f64>,
    trips: Vec<Duration>,
    /// MB moved in the throughput runs, and the CPU ticks they took (all processes).
    moved: f64,
    ticks: Option<u64>,
}

impl Path {
    fn new(name: &'static str, viewer: Viewer) -> Self {
        Self {
            name,
            viewer,
            mbs: Vec::new(),
            trips: Vec::new(),
            moved: 0.0,
            ticks: Some(0),
        }
    }

    /// CPU seconds per GB moved, by this process and websockify's together.
    fn cpu_per_gb(&self) -> Option<f64> {
        Some(self.ticks? as f64 / 100.0 / (self.moved / 1000.0))
    }

    /// Median throughput of the rounds.
    fn mbs(&self) -> f64 {
        let mut v = self.mbs.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Round trip in ms: median and 99th percentile.
    fn trip_ms(&self) -> (f64, f64) {
        let mut v = self.trips.clone();
        v.sort();
        (ms(v[v.len() / 2]), ms(v[v.len() * 99 / 100]))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn relay_against_direct_and_websockify() {
    let server = start().await;
    let admin = server.admin().await;
    let vms = server.vms(&admin, true).await;
    let vm = vms[0].clone();
    let updates = env("CONSOLE_BENCH_UPDATES", 1000);
    let trips = env("CONSOLE_BENCH_ROUND_TRIPS", 2000);
    let rounds = env("CONSOLE_BENCH_ROUNDS", 5).max(1);

    let mut paths = vec![
        Path::new("direct", direct_viewer(&server, &vm).await),
        Path::new("relay", server.viewer(&admin, &vm).await.0),
    ];
    let websockify = match websockify_viewer(&server, &vm).await {
        Ok((viewer, process)) => {
            paths.push(Path::new("websockify", viewer));
            Some(process)
        }
        Err(why) => {
            println!("\n(websockify skipped: {why})");
            None
        }
    };
    // Warm-up, then the paths in turn, round after round, so that they share the machine's
    // ups and downs (other work on it, CPU frequency) fairly.
    for path in &mut paths {
        throughput(&mut path.viewer, 20).await;
        round_trips(&mut path.viewer, 50).await;
    }
    let others: Vec<u32> = websockify.iter().map(|w| w.child.id()).collect();
    for _ in 0..rounds {
        for path in &mut paths {
            let before = cpu_ticks(&others);
            let (mbs, moved) = throughput(&mut path.viewer, updates.div_ceil(rounds)).await;
            let spent = cpu_ticks(&others)
                .zip(before)
                .map(|(after, before)| after - before);
            path.ticks = path.ticks.zip(spent).map(|(sum, t)| sum + t);
            path.moved += moved;
            path.mbs.push(mbs);
            let times = round_trips(&mut path.viewer, trips.div_ceil(rounds)).await;
            path.trips.extend(times);
        }
    }

    println!();
    println!(
        "console relay benchmark: {updates} full-screen updates of 1 MB and {trips} round trips \
         per path, over {rounds} rounds"
    );
    println!(
        "  path         throughput (median of rounds, range)   CPU s/GB   round trip median     p99"
    );
    for path in &paths {
        let (lo, hi) = path
            .mbs
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let (median, p99) = path.trip_ms();
        let cpu = path
            .cpu_per_gb()
            .map_or("    n/a".to_owned(), |c| format!("{c:7.2}"));
        println!(
            "  {:<11} {:8.1} MB/s  ({lo:6.1} – {hi:6.1})          {cpu}      {median:8.3} ms  {p99:8.3} ms",
            path.name,
            path.mbs()
        );
    }
    let (direct, relay) = (&paths[0], &paths[1]);
    let added_cpu = |path: &Path| {
        path.cpu_per_gb()
            .zip(direct.cpu_per_gb())
            .map_or("n/a".to_owned(), |(p, d)| format!("{:+.2}", p - d))
    };
    println!(
        "  relay/direct      throughput {:.2}×   the relay adds {:+.3} ms to the median round \
         trip and {} CPU s/GB",
        relay.mbs() / direct.mbs(),
        relay.trip_ms().0 - direct.trip_ms().0,
        added_cpu(relay)
    );
    match paths.get(2) {
        Some(wsfy) => println!(
            "  relay/websockify  throughput {:.2}×   websockify (behind it the TCP bridge) adds \
             {:+.3} ms to the median round trip and {} CPU s/GB",
            relay.mbs() / wsfy.mbs(),
            wsfy.trip_ms().0 - direct.trip_ms().0,
            added_cpu(wsfy)
        ),
        None => println!("  relay/websockify  skipped (websockify is not installed)"),
    }
    drop(paths);
    drop(websockify);

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
