//! `GET /cluster/metrics/export` (PVE 8.2+): the raw metric samples of the last ~30 minutes
//! (10 s apart) for every node, guest and storage.

use serde::{Deserialize, Serialize};

use super::de;
use super::params::{Params, wire_enum};
use crate::ids::NodeName;

wire_enum! {
    /// How a metric's value is meant.
    MetricType, "metric type" {
        /// A current value (memory used, CPU share).
        Gauge = "gauge",
        /// A monotonically growing total (bytes sent since start).
        Counter = "counter",
        /// A rate derived from a counter.
        Derive = "derive",
    }
}

/// One sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Object the sample belongs to, e.g. `node/pve1`, `qemu/100`, `storage/pve1/local`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub id: String,
    /// Metric name, e.g. `cpu_current`, `mem_used`, `net_in`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub metric: String,
    /// Sample time, Unix seconds.
    #[serde(deserialize_with = "de::i64_lenient")]
    pub timestamp: i64,
    /// Gauge, counter or derive.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// The value.
    #[serde(deserialize_with = "f64_lenient")]
    pub value: f64,
}

fn f64_lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    de::opt_f64(d)?.ok_or_else(|| serde::de::Error::custom("expected a number"))
}

/// The answer of `GET /cluster/metrics/export`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsExport {
    /// The samples, oldest first.
    #[serde(default)]
    pub data: Vec<MetricPoint>,
}

impl MetricsExport {
    /// The samples of one object (`qemu/100`).
    pub fn of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a MetricPoint> + 'a {
        self.data.iter().filter(move |p| p.id == id)
    }
}

/// Options of `GET /cluster/metrics/export`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsExportOptions {
    /// All samples of the last ~30 minutes instead of only the newest of each.
    pub history: Option<bool>,
    /// Only the answering node's samples, not the whole cluster's.
    pub local_only: Option<bool>,
    /// Only these nodes (PVE 9+).
    pub node_list: Vec<NodeName>,
    /// Only samples newer than this Unix time.
    pub start_time: Option<i64>,
}

impl MetricsExportOptions {
    /// The query parameters.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.opt_bool("history", self.history)
            .opt_bool("local-only", self.local_only)
            .list("node-list", &self.node_list)
            .opt_int("start-time", self.start_time);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_decodes() {
        let e: MetricsExport = serde_json::from_value(serde_json::json!({"data": [
            {"id": "qemu/100", "metric": "cpu_current", "timestamp": 1783346634, "type": "gauge", "value": 0.25},
            {"id": "node/pve", "metric": "net_in", "timestamp": "1783346634", "type": "counter", "value": "12345"}
        ]}))
        .unwrap();
        assert_eq!(e.of("qemu/100").count(), 1);
        assert_eq!(e.data[1].kind, MetricType::Counter);
        assert_eq!(e.data[1].value, 12345.0);
    }
}
