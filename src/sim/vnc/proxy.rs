//! `POST /nodes/{node}/qemu/{vmid}/vncproxy` (needs VM.Console; not proxied to the node — it
//! runs where it was called) and its `vncproxy` task: wait 10 s for the one connection, then
//! `qm vncproxy`: set the VM's VNC password and relay to its VNC server.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until, timeout};

use super::ticket::generate_password;
use super::{consoles, rfb, running_display};
use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec, VMID};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;
use crate::sim::world::model::config_missing;
use crate::sim::world::tasks::{self, Outcome, TaskCtx};

const PARAMS: &[Spec] = &[
    NODE,
    VMID,
    Spec::boolean("websocket").optional(),
    Spec::boolean("generate-password").optional(),
];

/// The proxy waits this long for its connection (`$timeout = 10`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `qm vncproxy` ends after this long without traffic.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often a relay checks that the VM still runs.
const VM_CHECK: Duration = Duration::from_millis(500);
/// Buffer of the in-memory connections.
pub(super) const PIPE_BUFFER: usize = 256 * 1024;

/// The handler.
pub(super) async fn vncproxy(call: Call) -> ApiResult {
    // Answered here: `qm vncproxy` reaches the VM's node over SSH (see `run`).
    call.on_vm_here(&["VM.Console"], PARAMS)?;
    let Call { st, who, .. } = &call;
    let (node, vmid) = (call.node().to_owned(), call.vmid());
    if st.world().model.vm_on(&node, vmid).is_none() {
        return Err(ApiError::fail(config_missing(&node, vmid)));
    }
    let console = consoles(st);
    let (accept_tx, accept_rx) = oneshot::channel();
    let port = console
        .listen(vmid, accept_tx)
        .ok_or_else(|| ApiError::fail("unable to find free port (5900-6000)"))?;
    let password = generate_password();
    let path = format!("/vms/{vmid}");
    let ticket = console
        .signer
        .ticket(&who.authid, &path, port, console.clock.now());
    let task_password = password.clone();
    let task_node = node.clone();
    let upid = tasks::spawn(
        st,
        &node,
        "vncproxy",
        &vmid.to_string(),
        &who.authid,
        move |ctx| run(ctx, task_node, vmid, port, task_password, accept_rx),
    )
    .inspect_err(|_| {
        console.close(port);
    })?;
    ok(json!({
        "user": who.authid,
        "ticket": format!("{password}:{ticket}"),
        "password": password,
        "port": port.to_string(),
        "upid": upid,
        "cert": console.ca_pem(),
    }))
}

/// The task: accept one connection within 10 s, then act as `qm vncproxy`.
async fn run(
    ctx: TaskCtx,
    node: String,
    vmid: u32,
    port: u16,
    password: String,
    mut accept: oneshot::Receiver<DuplexStream>,
) -> Outcome {
    let st = ctx.st.clone();
    let conn = match timeout(CONNECT_TIMEOUT, &mut accept).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(_)) => return Outcome::Error("connection failed: Connection reset by peer".into()),
        Err(_) if consoles(&st).close(port) => {
            return Outcome::Error("connection timed out".into());
        }
        // The connection arrived just as the time ran out.
        Err(_) => match accept.await {
            Ok(conn) => conn,
            Err(_) => return Outcome::Error("connection timed out".into()),
        },
    };
    let online = st.world().model.node(&node).is_some_and(|n| n.online);
    let display = match running_display(&st, &node, vmid) {
        Some(d) if online => d,
        _ => {
            ctx.log(if online {
                format!("VM {vmid} not running")
            } else {
                format!("ssh: connect to host {node} port 22: No route to host")
            });
            return Outcome::Error("Failed to run vncproxy.".into());
        }
    };
    let boot = display.boot;
    if let Some(qemu) = st.qemu()
        && let Some(vm) = qemu.wait_instance(vmid, boot).await
    {
        return qemu_session(ctx, conn, node, vmid, boot, &password, &vm).await;
    }
    let clock = consoles(&st).clock.clone();
    display.set_password(&password, clock.now());
    let (vm_side, server_side) = tokio::io::duplex(PIPE_BUFFER);
    let server_display = display.clone();
    tokio::spawn(async move {
        if let Err(e) = rfb::serve(server_side, server_display, move || clock.now()).await {
            tracing::debug!(error = %e, "VNC client session ended");
        }
    });
    let alive = vm_alive(st, node, vmid, boot);
    let _open = SessionCount::open(consoles(&ctx.st).sessions.clone());
    let drop_all = ctx.st.connection_drops();
    let cut = ws_drop_fault(ctx.st.clone());
    if let Err(e) = relay(conn, vm_side, alive, cut, drop_all).await {
        tracing::debug!(error = %e, "vnc proxy relay ended");
    }
    Outcome::Ok
}

/// True while VM `vmid` on `node` still runs the QEMU process started at `boot`.
fn vm_alive(st: SimState, node: String, vmid: u32, boot: i64) -> impl Fn() -> bool {
    move || {
        let world = st.world();
        world
            .model
            .vm_on(&node, vmid)
            .is_some_and(|vm| vm.has_process() && vm.started_at == boot)
    }
}

/// QEMU mode: set the VNC password over QMP (`set_password`, `expire_password +30`) and relay
/// to QEMU's own VNC server on its TCP port.
async fn qemu_session(
    ctx: TaskCtx,
    conn: DuplexStream,
    node: String,
    vmid: u32,
    boot: i64,
    password: &str,
    vm: &crate::sim::world::qemu::Instance,
) -> Outcome {
    let connected = match vm.set_vnc_password(password).await {
        Ok(()) => match vm.vnc_port().await {
            Ok(port) => tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| format!("connect to 'localhost:{port}' failed: {e}")),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let tcp = match connected {
        Ok(tcp) => tcp,
        Err(e) => {
            ctx.log(e);
            return Outcome::Error("Failed to run vncproxy.".into());
        }
    };
    let _ = tcp.set_nodelay(true);
    let st = ctx.st.clone();
    let _open = SessionCount::open(consoles(&st).sessions.clone());
    let drop_all = st.connection_drops();
    let cut = ws_drop_fault(st.clone());
    let alive = vm_alive(st, node, vmid, boot);
    if let Err(e) = relay(conn, tcp, alive, cut, drop_all).await {
        tracing::debug!(error = %e, "vnc proxy relay to QEMU ended");
    }
    Outcome::Ok
}

/// Counts an open session until dropped (also when the task is stopped).
struct SessionCount(Arc<AtomicUsize>);

impl SessionCount {
    fn open(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The `ws_drop_after_secs` fault as a check for [`relay`]: true once a session open since
/// `opened` must be cut.
pub(super) fn ws_drop_fault(st: SimState) -> impl Fn(Instant) -> bool {
    move |opened| {
        st.faults_ref()
            .ws_drop_after_secs
            .is_some_and(|secs| opened.elapsed() >= Duration::from_secs(secs))
    }
}

/// Copies between the viewer's connection and the VNC server until one side closes, the VM
/// stops, the `ws_drop_after_secs` fault cuts it, a disconnect-all is requested or nothing
/// moves for 15 minutes.
pub(super) async fn relay<C, V>(
    client: C,
    vm: V,
    alive: impl Fn() -> bool,
    cut: impl Fn(Instant) -> bool,
    mut drop_all: tokio::sync::watch::Receiver<u64>,
) -> io::Result<()>
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    V: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let opened = Instant::now();
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut vr, mut vw) = tokio::io::split(vm);
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    let idle = sleep_until(Instant::now() + IDLE_TIMEOUT);
    tokio::pin!(idle);
    let mut check = tokio::time::interval(VM_CHECK);
    loop {
        tokio::select! {
            n = cr.read(&mut up) => {
                let n = n?;
                if n == 0 {
                    break;
                }
                vw.write_all(&up[..n]).await?;
                idle.as_mut().reset(Instant::now() + IDLE_TIMEOUT);
            }
            n = vr.read(&mut down) => {
                let n = n?;
                if n == 0 {
                    break;
                }
                cw.write_all(&down[..n]).await?;
                idle.as_mut().reset(Instant::now() + IDLE_TIMEOUT);
            }
            _ = check.tick() => {
                if !alive() || cut(opened) {
                    break;
                }
            }
            _ = drop_all.changed() => break,
            () = &mut idle => break,
        }
    }
    let _ = cw.shutdown().await;
    let _ = vw.shutdown().await;
    Ok(())
}
