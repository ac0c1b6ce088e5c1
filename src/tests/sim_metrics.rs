//! Metrics over real HTTPS: `rrddata` point counts and spacing per timeframe (PVE 9 layout),
//! no nulls, MAX and decade for nodes, and `/cluster/metrics/export` history at 10 s.
//!
//! Run: `cargo test -p pve --features sim --test sim_metrics`

#![cfg(feature = "sim")]

mod sim_support;

use reqwest::StatusCode;
use serde_json::Value;
use sim_support::{Client, find_vm, start};

#[tokio::test]
async fn rrddata_counts_and_spacing() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    for (tf, n, step) in [
        ("hour", 60, 60),
        ("day", 1440, 60),
        ("week", 336, 1800),
        ("month", 1440, 1800),
        ("year", 1440, 21_600),
    ] {
        let a = c
            .get(&format!(
                "/nodes/{node}/qemu/{vmid}/rrddata?timeframe={tf}&cf=AVERAGE"
            ))
            .await;
        let pts = a.data().as_array().unwrap();
        assert_eq!(pts.len(), n, "{tf}");
        let t: Vec<i64> = pts.iter().map(|p| p["time"].as_i64().unwrap()).collect();
        assert!(t.windows(2).all(|w| w[1] - w[0] == step), "{tf}");
        assert!(
            pts.iter()
                .all(|p| !p.as_object().unwrap().values().any(Value::is_null))
        );
    }
    let last = c
        .get(&format!("/nodes/{node}/qemu/{vmid}/rrddata?timeframe=hour"))
        .await;
    let last = last.data().as_array().unwrap().last().unwrap().clone();
    assert!(last["cpu"].as_f64().unwrap() > 0.0 && last["netin"].as_f64().is_some());
    let n = c
        .get(&format!("/nodes/{node}/rrddata?timeframe=decade&cf=MAX"))
        .await;
    assert_eq!(n.data().as_array().unwrap().len(), 570);
    let bad = c
        .get(&format!(
            "/nodes/{node}/qemu/{vmid}/rrddata?timeframe=decade"
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let export = c.get("/cluster/metrics/export?history=1").await;
    let data = export.data()["data"].as_array().unwrap();
    let stamps: std::collections::BTreeSet<i64> = data
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(stamps.len(), 180);
}
