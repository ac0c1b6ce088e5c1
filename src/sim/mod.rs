//! A Proxmox VE simulator: an axum server that answers `/api2/json/...` the way a real PVE 9.1
//! cluster does (shapes, status codes, error texts, task life cycle, permissions).
//!
//! Its truth is the real PVE API (schema, recordings and PVE's sources), never this crate's own
//! client types: every answer is built with `serde_json`.
//!
//! Layout: three layers, dependencies pointing one way (`vnc` → `api` → `world`; `util` is
//! shared by all):
//! - `world`: the simulated cluster and what happens in it, no HTTP: [`SimState`] (settings,
//!   locks, faults), `model` (nodes, VMs, storages from a seed), `access` (users, tokens,
//!   tickets, ACL evaluation), `tasks` (UPIDs, logs, the worker), `power`, `ha` (HA services
//!   and the HA manager's requests), `migrate` (migration checks, storage maps) and `qmigrate`
//!   (the migration task), `backup` (archives, jobs, vzdump and restore tasks), `metrics` and
//!   `rrd` (usage values from the seed and the clock), `clog` (cluster log), `faults`, `qemu`
//!   (QEMU mode: a real tiny QEMU per running VM), `error` (typed refusals);
//! - `api`: PVE's HTTP API over the world: `routes` (one module per API area), `extract` (the
//!   `Call` extractor: URI parameters merged, permission check, proxy to
//!   the node, schema check), `auth` (ticket/token/CSRF middleware), `params`, `reply` (PVE's
//!   answers, the world's errors as PVE answers them), `view` (JSON views), `control`
//!   (`/_sim/...` for tests: faults, reset, added storages), `stats` (`GET /_sim/stats`),
//!   `http` (pveproxy's headers, the 401 delay, serving), `tls` (the self-signed certificate);
//! - `vnc`: the consoles (`vncproxy`, `vncwebsocket`, the built-in RFB server), over the world
//!   and the API layer's helpers; its state is kept with the world, which never looks inside.
//!
//! Start it with [`Simulator::start`], or mount [`router`] in-process.
//!
//! Known differences from a real PVE: every error answer carries its reason phrase (the
//! message's first line) also in an extra `x-pve-sim-reason` header, and `Simulator::router`
//! used in-process cannot set the reason phrase at all. Tickets are signed with HMAC-SHA256, not
//! RSA; the certificate is self-signed for `localhost`, not issued by a cluster CA.
//! Usage values are computed live rather than refreshed every 10 s by pvestatd.

mod api;
mod util;
mod vnc;
mod world;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use world::qemu::{QEMU_BINARY, qemu_available};
pub use world::{FaultError, Faults, SimState};

/// User name of the API token the simulator creates for `root@pam` (privilege separation off).
pub const API_TOKEN_ID: &str = "root@pam!cecyber";

/// What the simulated cluster looks like and how the server behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// Number of nodes, named `pve1` … `pveN` (at least 1).
    pub nodes: usize,
    /// Number of VMs, VM IDs from 100; the last one is a template when there are at least two.
    pub vms: usize,
    /// Number of LXC containers, IDs from 200 (or right after the VMs when they reach 200).
    pub containers: usize,
    /// Seed for everything generated: names, placement, sizes, which VMs run, metric curves.
    pub seed: u64,
    /// Password of `root@pam`.
    pub root_password: String,
    /// Password of the read-only user `auditor@pve` (role PVEAuditor on `/`).
    pub auditor_password: String,
    /// Secret of the API token `root@pam!cecyber`; generated when `None`.
    pub api_token_secret: Option<String>,
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Speed-up of task durations: 1.0 = realistic (start ~2 s), 10.0 = ten times faster.
    pub task_speed: f64,
    /// How long every 401 answer is held back (pveproxy uses 3 s).
    pub auth_failure_delay: Duration,
    /// Serve HTTPS with a self-signed certificate made at start (like a fresh PVE node); false
    /// serves plain HTTP.
    pub tls: bool,
    /// Faults active from the start (changeable at run time through `/_sim/fault`).
    pub faults: Faults,
    /// Run each running VM as a real tiny QEMU VM (needs `qemu-system-x86_64`): consoles then
    /// reach QEMU's own VNC server instead of the built-in one.
    pub qemu: bool,
}

impl Default for SimConfig {
    /// 3 nodes, 12 VMs, no containers, seed 42, a random root password, loopback on a free port, realistic
    /// task durations and PVE's 3 s delay on 401 answers.
    fn default() -> Self {
        Self {
            nodes: 3,
            vms: 12,
            containers: 0,
            seed: 42,
            root_password: util::random_password(16),
            auditor_password: "auditor".to_owned(),
            api_token_secret: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            task_speed: 1.0,
            auth_failure_delay: Duration::from_secs(3),
            tls: true,
            faults: Faults::default(),
            qemu: false,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    /// Shows everything but the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("nodes", &self.nodes)
            .field("vms", &self.vms)
            .field("containers", &self.containers)
            .field("seed", &self.seed)
            .field("root_password", &"<redacted>")
            .field("auditor_password", &"<redacted>")
            .field(
                "api_token_secret",
                &self.api_token_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("bind", &self.bind)
            .field("task_speed", &self.task_speed)
            .field("auth_failure_delay", &self.auth_failure_delay)
            .field("tls", &self.tls)
            .field("faults", &self.faults)
            .field("qemu", &self.qemu)
            .finish()
    }
}

/// Entry point: starts a simulator server.
pub struct Simulator;

impl Simulator {
    /// Binds `config.bind`, builds the cluster and serves the API until the returned handle is
    /// shut down or dropped.
    pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
        config
            .faults
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let identity = if config.tls {
            Some(api::tls::self_signed().map_err(std::io::Error::other)?)
        } else {
            None
        };
        let fingerprint = identity.as_ref().map(|id| id.fingerprint.clone());
        let cert_pem = identity.as_ref().map(|id| id.cert_pem.clone());
        let state = SimState::with_fingerprint(&config, fingerprint.clone());
        if let Some(node) = &config.faults.node_offline
            && state.faults().node_offline.as_ref() != Some(node)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("node_offline: no node '{node}'"),
            ));
        }
        if let Some(pem) = &cert_pem {
            // vncproxy's `cert` is the CA of the served certificate (self-signed here).
            state.set_console_ca_pem(pem.clone());
        }
        if config.qemu {
            let qemu = std::sync::Arc::new(world::qemu::QemuVms::new()?);
            state.set_qemu(qemu.clone());
            qemu.spawn_reconciler(state.clone());
        }
        let app = router(state.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let acceptor = identity.map(|id| tokio_rustls::TlsAcceptor::from(id.config));
        let server = tokio::spawn(api::http::serve(listener, app, acceptor, stop_rx));
        tracing::info!(%addr, tls = config.tls, "pve-sim listening");
        Ok(SimHandle {
            addr,
            fingerprint,
            cert_pem,
            state,
            stop: Some(stop_tx),
            server: Some(server),
        })
    }
}

/// A running simulator. Dropping it stops the server (without waiting).
pub struct SimHandle {
    addr: SocketAddr,
    fingerprint: Option<String>,
    cert_pem: Option<String>,
    state: SimState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// `https://127.0.0.1:PORT` (`http://…` with `tls: false`), without `/api2/json`.
    pub fn base_url(&self) -> String {
        let scheme = if self.fingerprint.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// SHA-256 fingerprint of the server certificate, `AA:BB:…` as PVE shows it; empty when
    /// serving plain HTTP.
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.as_deref().unwrap_or("")
    }

    /// The served certificate in PEM form (to trust it as a CA file); empty over plain HTTP.
    pub fn certificate_pem(&self) -> &str {
        self.cert_pem.as_deref().unwrap_or("")
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Password of `root@pam`.
    pub fn root_password(&self) -> &str {
        self.state.root_password()
    }

    /// The API token: (`root@pam!cecyber`, secret).
    pub fn api_token(&self) -> (String, String) {
        self.state.api_token()
    }

    /// The read-only user: (`auditor@pve`, password).
    pub fn auditor(&self) -> (String, String) {
        self.state.auditor()
    }

    /// The shared state, e.g. to inject faults without HTTP.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Stops accepting connections and waits (at most 5 s) for open requests to finish; in
    /// QEMU mode kills the QEMU processes and waits for them.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(qemu) = self.state.qemu() {
            qemu.shutdown().await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(qemu) = self.state.qemu() {
            qemu.kill_all_now();
        }
    }
}

/// The whole simulator as an axum router (PVE API under `/api2/json`, control under `/_sim`),
/// for in-process use, e.g. with `tower::ServiceExt::oneshot`.
pub fn router(state: SimState) -> axum::Router {
    api::router(state, vnc::routes(), vnc::control_routes())
}
