//! Demo mode: the built-in Proxmox VE simulator as the one cluster, talked to over real HTTPS
//! like a real PVE. The simulator is linked only with the `demo` feature (on by default); a
//! production build without it refuses to start in demo mode instead of pretending.

use std::time::Duration;

use app::state::clusters::Cluster;

use crate::config::DemoConfig;

/// The running simulator, kept alive with the server (uninhabited without the `demo` feature).
#[cfg(feature = "demo")]
pub type Simulation = pve::sim::SimHandle;
/// The running simulator, kept alive with the server (uninhabited without the `demo` feature).
#[cfg(not(feature = "demo"))]
pub enum Simulation {}

/// Why demo mode did not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The simulator did not start.
    #[error("the simulated cluster could not start: {0}")]
    Simulator(std::io::Error),
    /// The client for the simulator could not be built.
    #[error("the client of the simulated cluster: {0}")]
    Client(pve::Error),
    /// This binary was built without the simulator.
    #[error(
        "this build has no demo mode (built without the `demo` feature): configure at least one \
         cluster"
    )]
    NotBuilt,
}

/// Starts the simulator on a loopback port; returns the cluster that talks to it.
#[cfg(feature = "demo")]
pub async fn start(
    settings: &DemoConfig,
    fresh_for: Duration,
) -> Result<(Cluster, Simulation), DemoError> {
    use pve::client::{ClientConfig, Credentials, HttpClient, TlsTrust};
    use pve::sim::{SimConfig, Simulator};

    let sim_config = SimConfig {
        nodes: settings.nodes,
        vms: settings.vms,
        containers: settings.containers,
        seed: settings.seed,
        root_password: app::users::ssr::random_password(),
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], settings.port)),
        qemu: settings.qemu,
        task_speed: settings.task_speed,
        ..SimConfig::default()
    };
    let sim = Simulator::start(sim_config)
        .await
        .map_err(DemoError::Simulator)?;
    let client = HttpClient::new(ClientConfig {
        endpoints: vec![sim.base_url()],
        credentials: Credentials::Password {
            username: "root@pam".into(),
            password: sim.root_password().to_owned(),
        },
        tls: TlsTrust::Fingerprint(sim.fingerprint().to_owned()),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
    })
    .map_err(DemoError::Client)?;
    let cluster = Cluster::new("demo".into(), std::sync::Arc::new(client), fresh_for);
    Ok((cluster, sim))
}

/// Without the simulator there is no demo mode.
#[cfg(not(feature = "demo"))]
pub async fn start(
    _settings: &DemoConfig,
    _fresh_for: Duration,
) -> Result<(Cluster, Simulation), DemoError> {
    Err(DemoError::NotBuilt)
}

/// The simulator's address, for the start-up banner.
pub fn address(simulation: &Simulation) -> String {
    #[cfg(feature = "demo")]
    return simulation.base_url();
    #[cfg(not(feature = "demo"))]
    match *simulation {}
}
