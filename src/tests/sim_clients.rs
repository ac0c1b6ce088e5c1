//! Real third-party PVE clients, unchanged from PyPI, against the simulator over HTTPS:
//! `proxmoxer` (password and API token, lists, start + `Tasks.blocking_status`) and
//! `prometheus-pve-exporter` (one scrape with every collector).
//!
//! Needs a virtualenv at `$CECYBER_PYVENV` (default `<repo>/target/pyvenv`) with the pinned
//! packages; `.ci/lib.sh`'s `need_python_clients` creates it. Without it these tests FAIL.
//!
//! Run: `cargo test -p pve --features sim --test sim_clients`

#![cfg(feature = "sim")]

mod sim_support;

use std::path::PathBuf;
use std::process::Command;

use pve::sim::SimHandle;

const INSTALL: &str = "python3 -m venv target/pyvenv && target/pyvenv/bin/pip install \
     proxmoxer==2.3.0 requests==2.34.2 prometheus-pve-exporter==3.10.2 \
     (or run: . .ci/lib.sh && need_python_clients)";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv's python, or a failure naming the install command.
fn python() -> PathBuf {
    let venv = std::env::var_os("CECYBER_PYVENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/pyvenv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "no Python virtualenv at {} — install it with: {INSTALL}",
        venv.display()
    );
    let check = Command::new(&py)
        .args(["-c", "import proxmoxer, requests, pve_exporter"])
        .output()
        .expect("python runs");
    assert!(
        check.status.success(),
        "the virtualenv {} lacks the client packages ({}) — install them with: {INSTALL}",
        venv.display(),
        String::from_utf8_lossy(&check.stderr).trim()
    );
    py
}

/// Runs `src/tests/clients/<script>` against `sim` (on a blocking thread) and returns stdout.
async fn run(sim: &SimHandle, script: &str) -> String {
    let py = python();
    let (token_id, secret) = sim.api_token();
    let token_name = token_id.split('!').nth(1).unwrap().to_owned();
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("src/tests/clients").join(script))
        .env("PVE_HOST", "127.0.0.1")
        .env("PVE_PORT", sim.local_addr().port().to_string())
        .env("PVE_PASSWORD", sim.root_password())
        .env("PVE_TOKEN_NAME", token_name)
        .env("PVE_TOKEN_VALUE", secret)
        .env("PYTHONWARNINGS", "ignore");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("script runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn proxmoxer_logs_in_lists_and_starts() {
    let sim = sim_support::start().await;
    assert!(sim.base_url().starts_with("https://"));
    let out = run(&sim, "proxmoxer_client.py").await;
    assert_eq!(out.trim(), "OK");
}

#[tokio::test]
async fn prometheus_pve_exporter_scrapes_every_vm() {
    // With containers, as most clusters have: the exporter reads their list and configs too.
    let sim = sim_support::start_with(pve::sim::SimConfig {
        root_password: "secret".into(),
        containers: 3,
        task_speed: 20.0,
        auth_failure_delay: std::time::Duration::from_millis(20),
        ..pve::sim::SimConfig::default()
    })
    .await;
    let out = run(&sim, "pve_exporter_scrape.py").await;
    assert_eq!(out.trim(), "OK");
}
