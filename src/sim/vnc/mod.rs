//! The QEMU console of PVE 9.1: `POST …/qemu/{vmid}/vncproxy` and `GET …/vncwebsocket`, with
//! a built-in VNC server per running VM.
//!
//! How it fits together, as in PVE (qemu-server `API2::Qemu` vncproxy/vncwebsocket, `qm
//! vncproxy`, pve-http-server `websocket_proxy`):
//! - `vncproxy` picks a free port 5900–5999, makes a VNC ticket and a new 8-character VNC
//!   password, and starts a `vncproxy` task that waits 10 s for one connection;
//! - `vncwebsocket` checks VM.Console, the ticket (user, VM, port, 40 s), then "connects to
//!   the port": the proxy's task takes the connection (the port is free again), sets the VM's
//!   VNC password (QMP `set_password` + `expire_password +30`, so a later proxy's connection
//!   replaces it) and relays to the VM's VNC server until either side closes, the VM stops or
//!   nothing moves for 15 minutes;
//! - the VNC server is in-process ([`rfb`]), drawing a shared per-VM [`screen`], encoded for
//!   the viewers' [`pixel`] formats once per change ([`update`]).
//!
//! Differences from PVE: no TCP ports are opened (the websocket reaches the proxy through
//! memory); when no proxy waits on the port, pveproxy drops the connection without an answer,
//! the simulator answers 500 with the error pveproxy logs. Tickets use HMAC-SHA256.

mod display;
mod font;
mod inspect;
mod pixel;
mod proxy;
mod rfb;
mod screen;
mod ticket;
mod update;
mod vncauth;
mod websocket;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use axum::Router;
use axum::routing::{get, post};
use tokio::io::DuplexStream;
use tokio::sync::oneshot;

use crate::sim::util::now_secs;
use crate::sim::world::SimState;
use crate::sim::world::model::Vm;
use display::Display;
use screen::Banner;
use ticket::VncSigner;

/// The console endpoints.
pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/nodes/{node}/qemu/{vmid}/vncproxy", post(proxy::vncproxy))
        .route(
            "/nodes/{node}/qemu/{vmid}/vncwebsocket",
            get(websocket::vncwebsocket),
        )
}

/// Test controls outside `/api2` (see [`inspect`]).
pub(crate) fn control_routes() -> Router<SimState> {
    Router::new()
        .route("/_sim/console/{vmid}/text", get(inspect::screen_text))
        .route("/_sim/console/sessions", get(inspect::sessions))
        .route("/_sim/console/drop", post(inspect::drop_all))
}

/// First and last VNC port (`next_vnc_port`: 5900 up to, not including, 6000).
const PORTS: std::ops::RangeInclusive<u16> = 5900..=5999;

/// The console part of the simulator state, kept with the world
/// ([`SimState::attachment`]): proxies waiting for their connection, the VMs' displays, the
/// ticket key and a test clock offset.
pub(crate) struct Consoles {
    signer: VncSigner,
    clock: Clock,
    inner: Mutex<Hub>,
    sessions: Arc<AtomicUsize>,
    ca_pem: OnceLock<String>,
}

/// The consoles of `st`'s world.
fn consoles(st: &SimState) -> Arc<Consoles> {
    st.attachment::<Consoles>()
}

#[derive(Default)]
struct Hub {
    /// Proxies by port, until their connection arrives or they time out.
    waiting: BTreeMap<u16, Waiting>,
    /// Displays by VM ID (replaced when the VM's QEMU process restarts).
    displays: HashMap<u32, Arc<Display>>,
}

/// A proxy listening on its port.
struct Waiting {
    vmid: u32,
    /// Hands the accepted connection to the proxy's task.
    accept: oneshot::Sender<DuplexStream>,
}

/// The simulator's wall clock plus an offset tests can move forward.
#[derive(Clone, Default)]
pub(crate) struct Clock(Arc<AtomicI64>);

impl Clock {
    /// Seconds since the epoch, plus the offset.
    pub(crate) fn now(&self) -> i64 {
        now_secs() + self.0.load(Ordering::Relaxed)
    }
}

impl Default for Consoles {
    fn default() -> Self {
        Self {
            signer: VncSigner::random(),
            clock: Clock::default(),
            inner: Mutex::new(Hub::default()),
            sessions: Arc::new(AtomicUsize::new(0)),
            ca_pem: OnceLock::new(),
        }
    }
}

impl Consoles {
    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lowest free port, registered as waiting for a connection; `None` if all are taken.
    fn listen(&self, vmid: u32, accept: oneshot::Sender<DuplexStream>) -> Option<u16> {
        let mut hub = self.hub();
        let port = PORTS.clone().find(|p| !hub.waiting.contains_key(p))?;
        hub.waiting.insert(port, Waiting { vmid, accept });
        Some(port)
    }

    /// Stops listening on `port`; false if a connection took it already.
    fn close(&self, port: u16) -> bool {
        self.hub().waiting.remove(&port).is_some()
    }

    /// "Connects" to `port`: the waiting proxy (for any VM, as PVE does not check) gets the
    /// connection and stops listening.
    fn connect(&self, port: u16) -> Option<(u32, oneshot::Sender<DuplexStream>)> {
        self.hub().waiting.remove(&port).map(|w| (w.vmid, w.accept))
    }

    /// The display of running VM `vm`, made on first use and after each restart.
    fn display(&self, vm: &Vm, node_maxcpu: u32) -> Arc<Display> {
        let mut hub = self.hub();
        if let Some(d) = hub.displays.get(&vm.vmid)
            && d.boot == vm.started_at
        {
            return d.clone();
        }
        let d = Arc::new(Display::new(
            vm.started_at,
            &Banner {
                vmid: vm.vmid,
                name: &vm.name,
                node: &vm.node,
                cpus: vm.cpus(node_maxcpu),
                memory_mib: vm.memory_mib,
            },
        ));
        hub.displays.insert(vm.vmid, d.clone());
        d
    }

    /// The PEM of the cluster CA sent as `cert` (a generated one unless set before).
    fn ca_pem(&self) -> &str {
        self.ca_pem.get_or_init(generate_ca_pem)
    }
}

/// A self-signed CA certificate named like PVE's (`pve-root-ca.pem`).
fn generate_ca_pem() -> String {
    let make = || -> Result<String, rcgen::Error> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Proxmox Virtual Environment");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "PVE Cluster Manager CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate()?;
        Ok(params.self_signed(&key)?.pem())
    };
    make().unwrap_or_default()
}

/// The display of VM `vmid` on `node` if it has a QEMU process (running or paused).
fn running_display(st: &SimState, node: &str, vmid: u32) -> Option<Arc<Display>> {
    let world = st.world();
    let vm = world
        .model
        .vm_on(node, vmid)
        .filter(|vm| vm.has_process())?;
    let maxcpu = world.model.node(node).map_or(1, |n| n.maxcpu);
    Some(consoles(st).display(vm, maxcpu))
}

/// Console controls and views for tests and the demo (no HTTP needed).
impl SimState {
    /// The text on running VM `vmid`'s screen, row by row (typed text as typed; the screen
    /// draws small letters as capitals). `None` unless the VM runs.
    pub fn console_text(&self, vmid: u32) -> Option<Vec<String>> {
        let node = self.world().model.vms.get(&vmid)?.node.clone();
        running_display(self, &node, vmid).map(|d| d.screen().text())
    }

    /// Running VM `vmid`'s screen as a binary PPM (P6, 640×400) image.
    pub fn console_screenshot_ppm(&self, vmid: u32) -> Option<Vec<u8>> {
        let node = self.world().model.vms.get(&vmid)?.node.clone();
        running_display(self, &node, vmid).map(|d| d.screen().ppm())
    }

    /// Moves the console's clock (VNC ticket age, VNC password expiry) forward by `secs`.
    pub fn console_advance_clock(&self, secs: i64) {
        consoles(self).clock.0.fetch_add(secs, Ordering::Relaxed);
    }

    /// Ends every open console session (like a network drop between PVE and the viewer).
    pub fn console_disconnect_all(&self) {
        self.drop_connections();
    }

    /// Number of console sessions (websocket to VNC server) now open.
    pub fn console_sessions(&self) -> usize {
        consoles(self).sessions.load(Ordering::Relaxed)
    }

    /// Sets the PEM answered as `cert` by vncproxy (the cluster CA of the HTTPS server);
    /// false if it was set or generated already.
    pub fn set_console_ca_pem(&self, pem: String) -> bool {
        consoles(self).ca_pem.set(pem).is_ok()
    }
}
