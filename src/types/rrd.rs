//! `GET /nodes/{node}/rrddata` and `GET /nodes/{node}/qemu/{vmid}/rrddata`: metric history.
//!
//! Every field but `time` is optional: PVE leaves out the keys of samples it does not have
//! (a stopped VM, a gap in the RRD), it does not send `null`. PVE sends averages, so values
//! that are whole numbers elsewhere (bytes) arrive as fractions here: all are `f64`.

use serde::{Deserialize, Serialize};

use super::de;
use super::params::wire_enum;

wire_enum! {
    /// The period an RRD query covers. PVE 9 keeps: hour 60 s × 60, day 60 s × 1440, week
    /// 30 min × 336, month 30 min × 1440, year 6 h × 1440, decade 1 week × 570 (node only);
    /// before PVE 9 about 70 points each.
    RrdTimeframe, "RRD timeframe" {
        /// The last hour.
        Hour = "hour",
        /// The last day.
        Day = "day",
        /// The last week.
        Week = "week",
        /// The last month.
        Month = "month",
        /// The last year.
        Year = "year",
        /// The last ten years (node metrics on PVE 9+ only; PVE rejects it for guests).
        Decade = "decade",
    }
}

wire_enum! {
    /// How samples are combined into one point.
    RrdCf, "RRD consolidation function" {
        /// The mean of the samples (PVE's default).
        Average = "AVERAGE",
        /// The largest sample.
        Max = "MAX",
    }
}

/// One point of `GET /nodes/{node}/qemu/{vmid}/rrddata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QemuRrdPoint {
    /// End of the interval, Unix seconds.
    #[serde(deserialize_with = "de::i64_lenient")]
    pub time: i64,
    /// CPU utilisation, 0.0 to 1.0 of `maxcpu`.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu: Option<f64>,
    /// Number of CPUs.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub maxcpu: Option<f64>,
    /// Used memory as the guest reports it, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub mem: Option<f64>,
    /// Configured memory, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub maxmem: Option<f64>,
    /// Memory used on the host, bytes (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub memhost: Option<f64>,
    /// Used disk space, bytes (usually 0 for VMs).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk: Option<f64>,
    /// Disk size, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub maxdisk: Option<f64>,
    /// Disk reads, bytes per second.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub diskread: Option<f64>,
    /// Disk writes, bytes per second.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub diskwrite: Option<f64>,
    /// Network receive, bytes per second.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub netin: Option<f64>,
    /// Network send, bytes per second.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub netout: Option<f64>,
    /// CPU pressure stall "some", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurecpusome: Option<f64>,
    /// CPU pressure stall "full", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurecpufull: Option<f64>,
    /// IO pressure stall "some", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressureiosome: Option<f64>,
    /// IO pressure stall "full", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressureiofull: Option<f64>,
    /// Memory pressure stall "some", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurememorysome: Option<f64>,
    /// Memory pressure stall "full", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurememoryfull: Option<f64>,
}

impl QemuRrdPoint {
    /// True when the point carries live samples (a running VM); stopped VMs and gaps only
    /// have the configured sizes.
    pub fn has_samples(&self) -> bool {
        self.cpu.is_some()
    }
}

/// One point of `GET /nodes/{node}/rrddata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRrdPoint {
    /// End of the interval, Unix seconds.
    #[serde(deserialize_with = "de::i64_lenient")]
    pub time: i64,
    /// CPU utilisation, 0.0 to 1.0 of `maxcpu`.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu: Option<f64>,
    /// Number of CPUs.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub maxcpu: Option<f64>,
    /// Share of CPU time waiting for IO, 0.0 to 1.0.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub iowait: Option<f64>,
    /// One-minute load average.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub loadavg: Option<f64>,
    /// Total memory, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub memtotal: Option<f64>,
    /// Used memory, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub memused: Option<f64>,
    /// Available memory, bytes (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub memavailable: Option<f64>,
    /// ZFS ARC size, bytes (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub arcsize: Option<f64>,
    /// Swap size, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub swaptotal: Option<f64>,
    /// Used swap, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub swapused: Option<f64>,
    /// Root file system size, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub roottotal: Option<f64>,
    /// Used space on the root file system, bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub rootused: Option<f64>,
    /// Network receive, bytes per second.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub netin: Option<f64>,
    /// Network send, bytes per second.
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub netout: Option<f64>,
    /// CPU pressure stall "some", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurecpusome: Option<f64>,
    /// IO pressure stall "some", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressureiosome: Option<f64>,
    /// IO pressure stall "full", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressureiofull: Option<f64>,
    /// Memory pressure stall "some", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurememorysome: Option<f64>,
    /// Memory pressure stall "full", percent (PVE 9+).
    #[serde(
        default,
        deserialize_with = "de::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pressurememoryfull: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::params::WireEnum;

    #[test]
    fn missing_keys_stay_missing() {
        let p: QemuRrdPoint =
            serde_json::from_str(r#"{"time":1693110660,"maxcpu":4,"maxmem":16777216000}"#).unwrap();
        assert!(!p.has_samples());
        assert_eq!(p.maxmem, Some(16_777_216_000.0));
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("\"cpu\""), "{json}");
        assert_eq!(serde_json::from_str::<QemuRrdPoint>(&json).unwrap(), p);
    }

    #[test]
    fn enums() {
        assert_eq!(RrdTimeframe::ALL.len(), 6);
        assert_eq!(
            "decade".parse::<RrdTimeframe>().unwrap(),
            RrdTimeframe::Decade
        );
        assert_eq!(RrdCf::Max.to_string(), "MAX");
        assert!("max".parse::<RrdCf>().is_err());
    }
}
