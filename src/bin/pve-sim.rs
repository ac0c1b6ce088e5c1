//! `pve-sim`: runs the Proxmox VE simulator until Ctrl-C.
//!
//! ```text
//! cargo run -p pve --features sim --bin pve-sim -- --bind 127.0.0.1:8006 --vms 20
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use pve::sim::{SimConfig, Simulator};

/// Command line of `pve-sim`.
#[derive(Debug, Parser)]
#[command(
    name = "pve-sim",
    about = "A simulated Proxmox VE cluster speaking the PVE API"
)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8006")]
    bind: SocketAddr,
    /// Number of nodes (pve1..pveN).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Number of VMs (VM IDs from 100).
    #[arg(long, default_value_t = 12)]
    vms: usize,
    /// Seed for names, placement, sizes, run states and metric curves.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Password of root@pam (random when not given).
    #[arg(long, env = "PVE_SIM_ROOT_PASSWORD", hide_env_values = true)]
    root_password: Option<String>,
    /// Password of the read-only user auditor@pve.
    #[arg(
        long,
        env = "PVE_SIM_AUDITOR_PASSWORD",
        hide_env_values = true,
        default_value = "auditor"
    )]
    auditor_password: String,
    /// Secret of the API token root@pam!cecyber (random when not given).
    #[arg(long, env = "PVE_SIM_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,
    /// Task speed-up: 1 = realistic durations, 10 = ten times faster.
    #[arg(long, default_value_t = 1.0)]
    task_speed: f64,
    /// Delay of every 401 answer in milliseconds (pveproxy: 3000).
    #[arg(long, default_value_t = 3000)]
    auth_failure_delay_ms: u64,
    /// Serve plain HTTP instead of HTTPS with a self-signed certificate.
    #[arg(long)]
    no_tls: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let defaults = SimConfig::default();
    let config = SimConfig {
        nodes: args.nodes.max(1),
        vms: args.vms,
        seed: args.seed,
        root_password: args.root_password.unwrap_or(defaults.root_password),
        auditor_password: args.auditor_password,
        api_token_secret: args.token_secret,
        bind: args.bind,
        task_speed: args.task_speed,
        auth_failure_delay: Duration::from_millis(args.auth_failure_delay_ms),
        tls: !args.no_tls,
    };
    let sim = Simulator::start(config).await?;
    let (token_id, secret) = sim.api_token();
    let (auditor, auditor_password) = sim.auditor();
    println!(
        "pve-sim: {} (API at {}/api2/json)",
        sim.base_url(),
        sim.base_url()
    );
    if !sim.fingerprint().is_empty() {
        println!("  TLS fingerprint:    {} (SHA-256)", sim.fingerprint());
    }
    println!("  root@pam password:  {}", sim.root_password());
    println!("  API token:          {token_id}={secret}");
    println!("    (header: Authorization: PVEAPIToken={token_id}={secret})");
    println!("  {auditor} password: {auditor_password}");
    println!("  controls: POST /_sim/fault, GET /_sim/fault, POST /_sim/reset");
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
