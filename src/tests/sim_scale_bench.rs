//! Scale of the simulator: 50 nodes with 10,000 VMs start and answer `/cluster/resources` (a
//! normal test, no timing), and a benchmark of `/cluster/resources` there against the default
//! 3 nodes × 12 VMs (ignored by default; the target is a median under 50 ms in release mode).
//!
//! Run the test: `cargo test -p pve --features sim --test sim_scale_bench`
//! Run the benchmark:
//! `cargo test -p pve --features sim --release --test sim_scale_bench -- --ignored --nocapture`

#![cfg(feature = "sim")]

mod sim_support;

use std::time::{Duration, Instant};

use pve::sim::{SimConfig, SimHandle};
use serde_json::Value;
use sim_support::start_with;

/// An HTTPS simulator of `nodes` nodes and `vms` VMs.
async fn start(nodes: usize, vms: usize) -> SimHandle {
    start_with(SimConfig {
        nodes,
        vms,
        root_password: "secret".into(),
        auth_failure_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
}

/// `GET /cluster/resources` with the API token: (time to the last body byte, body).
async fn resources(http: &reqwest::Client, sim: &SimHandle) -> (Duration, axum::body::Bytes) {
    let (id, secret) = sim.api_token();
    let t = Instant::now();
    let res = http
        .get(format!("{}/api2/json/cluster/resources", sim.base_url()))
        .header("Authorization", format!("PVEAPIToken={id}={secret}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let body = res.bytes().await.unwrap();
    (t.elapsed(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_nodes_ten_thousand_vms() {
    let sim = start(50, 10_000).await;
    let http = sim_support::http_client();
    let (_, body) = resources(&http, &sim).await;
    let all: Value = serde_json::from_slice(&body).unwrap();
    let all = all["data"].as_array().unwrap();
    let count = |t: &str| all.iter().filter(|r| r["type"] == t).count();
    assert_eq!(count("qemu"), 10_000);
    assert_eq!(count("node"), 50);
    assert!(count("storage") >= 150);
    let running = all
        .iter()
        .filter(|r| r["type"] == "qemu" && r["status"] == "running")
        .count();
    assert!(running > 1000, "{running} running");
    let vm = all.iter().find(|r| r["status"] == "running").unwrap();
    assert!(
        vm["cpu"].is_number() && vm["mem"].as_u64().unwrap() > 0,
        "{vm}"
    );
    let nodes = sim_support::Client::with_token(&sim).get("/nodes").await;
    assert_eq!(nodes.data().as_array().unwrap().len(), 50);
}

/// Median, 95th percentile and maximum of `samples`.
fn stats(samples: &mut [Duration]) -> (Duration, Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (
        samples[n / 2],
        samples[(n * 95).div_ceil(100) - 1],
        samples[n - 1],
    )
}

/// Times `n` calls of `/cluster/resources` after two warm-up calls.
async fn bench(nodes: usize, vms: usize, n: usize) -> (Duration, Duration, Duration, usize) {
    let t = Instant::now();
    let sim = start(nodes, vms).await;
    let started = t.elapsed();
    let http = sim_support::http_client();
    let mut size = 0;
    for _ in 0..2 {
        size = resources(&http, &sim).await.1.len();
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(resources(&http, &sim).await.0);
    }
    let (median, p95, max) = stats(&mut samples);
    println!(
        "{nodes:>3} nodes × {vms:>6} VMs: start {started:>9.1?}, {n} calls of \
         /cluster/resources ({size} bytes): median {median:>8.2?}, p95 {p95:>8.2?}, max {max:>8.2?}"
    );
    sim.shutdown().await;
    (median, p95, max, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release mode with --ignored --nocapture"]
async fn bench_cluster_resources() {
    if cfg!(debug_assertions) {
        println!("note: a debug build; the 50 ms target is for --release");
    }
    let (base, ..) = bench(3, 12, 200).await;
    let (big, p95, ..) = bench(50, 10_000, 40).await;
    println!(
        "50×10,000 vs 3×12: median {:.0}× slower; target median < 50 ms: {}",
        big.as_secs_f64() / base.as_secs_f64(),
        if big < Duration::from_millis(50) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("(p95 at 50×10,000: {p95:.2?})");
}
