//! `pve-sim`: runs the Proxmox VE simulator until Ctrl-C.
//!
//! ```text
//! cargo run -p pve --features sim --bin pve-sim -- --bind 127.0.0.1:8006 --vms 20
//! cargo run -p pve --features sim --release --bin pve-sim -- --nodes 50 --vms 10000
//! cargo run -p pve --features sim --bin pve-sim -- --latency-ms 200 --error-rate 0.1 \
//!     --error-rates /cluster/resources=0.5 --node-offline pve2 --ticket-lifetime 60
//! cargo run -p pve --features sim --bin pve-sim -- --qemu   # real QEMU VMs behind the consoles
//! ```
//!
//! Faults set here are the start state; `POST /_sim/fault` changes them at run time.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use pve::sim::{Faults, SimConfig, Simulator};

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
    /// Number of LXC containers (IDs from 200).
    #[arg(long, default_value_t = 3)]
    containers: usize,
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
    /// Run each running VM as a real tiny QEMU VM (needs qemu-system-x86_64).
    #[arg(long)]
    qemu: bool,
    /// Fault: added latency of every API request (or those under --fault-path), milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fault: up to this many more milliseconds of random latency.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Fault: share (0-1) of API requests (under --fault-path) that fail.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fault: path prefix after /api2/json that latency and --error-rate apply to.
    #[arg(long, default_value = "")]
    fault_path: String,
    /// Fault: error rate of one path prefix, PREFIX=RATE (repeatable; longest prefix wins).
    #[arg(long = "error-rates", value_parser = parse_rate)]
    error_rates: Vec<(String, f64)>,
    /// Fault: status of injected errors, 500 or 503.
    #[arg(long)]
    error_status: Option<u16>,
    /// Fault: this node is offline (shown offline, its API paths answer 595).
    #[arg(long)]
    node_offline: Option<String>,
    /// Fault: console WebSocket sessions are cut this many seconds after opening (0: at once).
    #[arg(long)]
    ws_drop_after: Option<u64>,
    /// Fault: tickets expire after this many seconds (PVE: 7200).
    #[arg(long)]
    ticket_lifetime: Option<u64>,
}

/// `PREFIX=RATE` of `--error-rates`.
fn parse_rate(s: &str) -> Result<(String, f64), String> {
    let (prefix, rate) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("'{s}' is not PREFIX=RATE"))?;
    let rate = rate
        .parse()
        .map_err(|e| format!("bad rate in '{s}': {e}"))?;
    Ok((prefix.to_owned(), rate))
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
        containers: args.containers,
        seed: args.seed,
        root_password: args.root_password.unwrap_or(defaults.root_password),
        auditor_password: args.auditor_password,
        api_token_secret: args.token_secret,
        bind: args.bind,
        task_speed: args.task_speed,
        auth_failure_delay: Duration::from_millis(args.auth_failure_delay_ms),
        tls: !args.no_tls,
        qemu: args.qemu,
        faults: Faults {
            latency_ms: args.latency_ms,
            jitter_ms: args.jitter_ms,
            error_rate: args.error_rate,
            path_prefix: args.fault_path,
            error_rates: args.error_rates.into_iter().collect(),
            node_offline: args.node_offline,
            error_status: args.error_status,
            error_message: None,
            ws_drop_after_secs: args.ws_drop_after,
            ticket_lifetime_secs: args.ticket_lifetime,
            task_speed: None,
        },
    };
    let qemu = config.qemu;
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
    println!("  controls: POST /_sim/fault, GET /_sim/fault, POST /_sim/reset, GET /_sim/stats");
    println!(
        "    fault fields: latency_ms, jitter_ms, error_rate, path_prefix, error_rates, \
         error_status, error_message, node_offline, ws_drop_after_secs, ticket_lifetime_secs"
    );
    if qemu {
        println!("  QEMU mode: running VMs are real QEMU VMs (consoles reach their VNC servers)");
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
