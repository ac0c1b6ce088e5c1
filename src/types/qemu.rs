//! QEMU guests: `GET /nodes/{node}/qemu`, `GET …/qemu/{vmid}/status/current`, and the power
//! actions `POST …/qemu/{vmid}/status/{action}`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::cluster::split_tags;
use super::de;
use crate::ids::{InvalidId, VmId};

/// The QEMU process state of a VM (the schema's enum `stopped`, `running`; in
/// `/cluster/resources` also the QMP status `paused`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VmStatus {
    /// The QEMU process runs (the guest may still be paused: see `qmpstatus`).
    Running,
    /// The QEMU process runs with the guest paused (`qm suspend`, QMP status `paused`) or
    /// suspended to RAM by the guest (`suspended`). Only `/cluster/resources` says so in
    /// `status` (pvestatd reports the QMP status there); `status/current` keeps `running` and
    /// tells in `qmpstatus`.
    Paused,
    /// No QEMU process.
    Stopped,
    /// A value the schema does not know (a newer PVE), or none; shown, never guessed at.
    #[default]
    Unknown,
}

impl VmStatus {
    /// The name PVE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            VmStatus::Running => "running",
            VmStatus::Paused => "paused",
            VmStatus::Stopped => "stopped",
            VmStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for VmStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl VmStatus {
    /// The status PVE names `name` (any case); [`VmStatus::Unknown`] for anything else.
    pub fn from_name(name: &str) -> Self {
        match name.trim().to_ascii_lowercase().as_str() {
            "running" => VmStatus::Running,
            "paused" | "suspended" => VmStatus::Paused,
            "stopped" => VmStatus::Stopped,
            _ => VmStatus::Unknown,
        }
    }
}

impl<'de> Deserialize<'de> for VmStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(VmStatus::from_name(&de::string_lenient(d)?))
    }
}

/// One entry of `GET /nodes/{node}/qemu`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuListEntry {
    /// VM ID.
    pub vmid: VmId,
    /// VM name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// QEMU process state.
    #[serde(default)]
    pub status: VmStatus,
    /// Run state from QMP `query-status` (`running`, `paused`, `suspended`, `prelaunch`, …);
    /// only with `full=1` or for running VMs on recent PVE.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub qmpstatus: Option<String>,
    /// CPU utilisation, 0.0 to 1.0 of `cpus`.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    /// Number of usable CPUs (may be fractional with a CPU limit).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpus: Option<f64>,
    /// Used memory as the guest reports it (ballooning), bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    /// Configured memory, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    /// Memory used on the host, bytes (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub memhost: Option<u64>,
    /// Used space of the root disk, bytes (usually 0 for VMs: PVE cannot see inside).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    /// Size of the root disk, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    /// Seconds since the VM started (0 when stopped).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Bytes received over the network since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netin: Option<u64>,
    /// Bytes sent over the network since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netout: Option<u64>,
    /// Bytes read from disks since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskread: Option<u64>,
    /// Bytes written to disks since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskwrite: Option<u64>,
    /// PID of the QEMU process while running.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub pid: Option<u32>,
    /// Config lock (`backup`, `migrate`, `snapshot`, …), if any.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub lock: Option<String>,
    /// Tags as PVE stores them (`;`-separated); see [`QemuListEntry::tag_list`].
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tags: Option<String>,
    /// True for templates.
    #[serde(default, deserialize_with = "de::bool_lenient")]
    pub template: bool,
    /// Machine type of the running QEMU, e.g. `pc-i440fx-8.0+pve0`.
    #[serde(
        rename = "running-machine",
        default,
        deserialize_with = "de::opt_string"
    )]
    pub running_machine: Option<String>,
    /// Version of the running QEMU, e.g. `8.0.2`.
    #[serde(rename = "running-qemu", default, deserialize_with = "de::opt_string")]
    pub running_qemu: Option<String>,
    /// True when a serial device is configured.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub serial: Option<bool>,
    /// CPU pressure stall ("some"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurecpusome: Option<f64>,
    /// CPU pressure stall ("full"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurecpufull: Option<f64>,
    /// IO pressure stall ("some"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressureiosome: Option<f64>,
    /// IO pressure stall ("full"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressureiofull: Option<f64>,
    /// Memory pressure stall ("some"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurememorysome: Option<f64>,
    /// Memory pressure stall ("full"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurememoryfull: Option<f64>,
}

impl QemuListEntry {
    /// True when the QEMU process runs (it may still be paused: see `qmpstatus`).
    pub fn is_running(&self) -> bool {
        self.status == VmStatus::Running
    }

    /// The tags, split (`;`, `,` or whitespace).
    pub fn tag_list(&self) -> Vec<String> {
        split_tags(self.tags.as_deref().unwrap_or(""))
    }
}

/// Traffic counters of one network device (`nics` in the VM status).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NicCounters {
    /// Bytes received since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netin: Option<u64>,
    /// Bytes sent since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netout: Option<u64>,
}

/// The answer of `GET /nodes/{node}/qemu/{vmid}/status/current`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QemuStatus {
    /// VM ID.
    pub vmid: VmId,
    /// VM name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// QEMU process state.
    #[serde(default)]
    pub status: VmStatus,
    /// Run state from QMP `query-status` (`running`, `paused`, `suspended`, `prelaunch`, …).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub qmpstatus: Option<String>,
    /// CPU utilisation, 0.0 to 1.0 of `cpus`.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    /// Number of usable CPUs (may be fractional with a CPU limit).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpus: Option<f64>,
    /// Used memory as the guest reports it (ballooning), bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    /// Configured memory, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    /// Memory used on the host, bytes (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub memhost: Option<u64>,
    /// Free memory inside the guest as the balloon driver reports it, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub freemem: Option<u64>,
    /// Current balloon target, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub balloon: Option<u64>,
    /// Used space of the root disk, bytes (usually 0 for VMs).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    /// Size of the root disk, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    /// Seconds since the VM started (0 when stopped).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    /// Bytes received over the network since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netin: Option<u64>,
    /// Bytes sent over the network since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netout: Option<u64>,
    /// Bytes read from disks since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskread: Option<u64>,
    /// Bytes written to disks since start.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskwrite: Option<u64>,
    /// Per-device traffic counters, by tap device name (e.g. `tap100i0`).
    #[serde(default)]
    pub nics: Option<BTreeMap<String, NicCounters>>,
    /// PID of the QEMU process while running.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub pid: Option<u32>,
    /// Config lock (`backup`, `migrate`, `snapshot`, …), if any.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub lock: Option<String>,
    /// Tags as PVE stores them (`;`-separated); see [`QemuStatus::tag_list`].
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tags: Option<String>,
    /// True for templates.
    #[serde(default, deserialize_with = "de::bool_lenient")]
    pub template: bool,
    /// Machine type of the running QEMU, e.g. `pc-i440fx-8.0+pve0`.
    #[serde(
        rename = "running-machine",
        default,
        deserialize_with = "de::opt_string"
    )]
    pub running_machine: Option<String>,
    /// Version of the running QEMU, e.g. `8.0.2`.
    #[serde(rename = "running-qemu", default, deserialize_with = "de::opt_string")]
    pub running_qemu: Option<String>,
    /// True when the QEMU guest agent is enabled in the config.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub agent: Option<bool>,
    /// True when the display supports SPICE.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub spice: Option<bool>,
    /// True when a serial device is configured.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub serial: Option<bool>,
    /// Clipboard mode (`vnc`), if configured.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub clipboard: Option<String>,
    /// HA manager state of the VM, as PVE sends it (e.g. `{"managed": 0}` or
    /// `{"managed": 1, "state": "started", …}`).
    #[serde(default)]
    pub ha: Option<serde_json::Value>,
    /// CPU pressure stall ("some"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurecpusome: Option<f64>,
    /// CPU pressure stall ("full"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurecpufull: Option<f64>,
    /// IO pressure stall ("some"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressureiosome: Option<f64>,
    /// IO pressure stall ("full"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressureiofull: Option<f64>,
    /// Memory pressure stall ("some"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurememorysome: Option<f64>,
    /// Memory pressure stall ("full"), average over 10 s (PVE 9+).
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub pressurememoryfull: Option<f64>,
}

impl QemuStatus {
    /// True when the QEMU process runs (it may still be paused: see [`QemuStatus::is_paused`]).
    pub fn is_running(&self) -> bool {
        self.status == VmStatus::Running
    }

    /// True when the process runs but the guest is paused or suspended.
    pub fn is_paused(&self) -> bool {
        self.is_running()
            && self
                .qmpstatus
                .as_deref()
                .is_some_and(|s| VmStatus::from_name(s) == VmStatus::Paused)
    }

    /// The state power actions depend on: [`VmStatus::Paused`] when QMP says so.
    pub fn power_state(&self) -> VmStatus {
        if self.is_paused() {
            VmStatus::Paused
        } else {
            self.status
        }
    }

    /// True when the HA manager manages this VM.
    pub fn ha_managed(&self) -> bool {
        let managed = self.ha.as_ref().and_then(|ha| ha.get("managed"));
        match managed {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
            Some(serde_json::Value::String(s)) => s == "1",
            _ => false,
        }
    }

    /// The tags, split (`;`, `,` or whitespace).
    pub fn tag_list(&self) -> Vec<String> {
        split_tags(self.tags.as_deref().unwrap_or(""))
    }
}

/// A power action on a QEMU VM: `POST /nodes/{node}/qemu/{vmid}/status/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerAction {
    /// Start the VM.
    Start,
    /// Stop immediately, like pulling the plug.
    Stop,
    /// Ask the guest to shut down (ACPI or guest agent) and wait.
    Shutdown,
    /// Ask the guest to reboot.
    Reboot,
    /// Pause the VM (suspend to RAM).
    Suspend,
    /// Resume a paused VM.
    Resume,
}

impl PowerAction {
    /// All actions, in menu order.
    pub const ALL: [PowerAction; 6] = [
        PowerAction::Start,
        PowerAction::Shutdown,
        PowerAction::Reboot,
        PowerAction::Stop,
        PowerAction::Suspend,
        PowerAction::Resume,
    ];

    /// Last path segment of the endpoint (`start`, `stop`, …); also the serde name.
    pub fn path_segment(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Stop => "stop",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Reboot => "reboot",
            PowerAction::Suspend => "suspend",
            PowerAction::Resume => "resume",
        }
    }

    /// Task type of the task PVE starts for it (`qmstart`, `qmstop`, `qmshutdown`,
    /// `qmreboot`, `qmpause`, `qmresume`).
    pub fn task_type(self) -> &'static str {
        match self {
            PowerAction::Start => "qmstart",
            PowerAction::Stop => "qmstop",
            PowerAction::Shutdown => "qmshutdown",
            PowerAction::Reboot => "qmreboot",
            PowerAction::Suspend => "qmpause",
            PowerAction::Resume => "qmresume",
        }
    }

    /// True when a task of type `task_type` can result from this action: besides
    /// [`PowerAction::task_type`], suspend-to-disk runs as `qmsuspend`, and HA-managed VMs get
    /// `hastart` / `hastop`.
    pub fn matches_task_type(self, task_type: &str) -> bool {
        task_type == self.task_type()
            || matches!(
                (self, task_type),
                (PowerAction::Suspend, "qmsuspend")
                    | (PowerAction::Start, "hastart")
                    | (PowerAction::Stop | PowerAction::Shutdown, "hastop")
            )
    }

    /// The actions PVE accepts in `state`, in menu order: a running VM can be shut down,
    /// rebooted, paused or stopped; a paused one resumed or stopped (PVE refuses shutdown and
    /// reboot while paused, and start while the process exists); a stopped one started. None
    /// for an unknown state (an offline node, a QMP status such as `prelaunch`).
    pub fn applicable(state: VmStatus) -> &'static [PowerAction] {
        match state {
            VmStatus::Running => &[
                PowerAction::Shutdown,
                PowerAction::Reboot,
                PowerAction::Suspend,
                PowerAction::Stop,
            ],
            VmStatus::Paused => &[PowerAction::Resume, PowerAction::Stop],
            VmStatus::Stopped => &[PowerAction::Start],
            VmStatus::Unknown => &[],
        }
    }

    /// The actions PVE accepts for an LXC container in `state` (`running` or `stopped`):
    /// start, or shutdown, reboot and stop. Suspend and resume exist for containers but are
    /// experimental in PVE (CRIU) and not offered.
    pub fn applicable_to_container(state: VmStatus) -> &'static [PowerAction] {
        match state {
            VmStatus::Running => &[
                PowerAction::Shutdown,
                PowerAction::Reboot,
                PowerAction::Stop,
            ],
            VmStatus::Stopped => &[PowerAction::Start],
            VmStatus::Paused | VmStatus::Unknown => &[],
        }
    }

    /// True for actions that interrupt a running guest (stop, shutdown, reboot, suspend): the
    /// UI asks for confirmation.
    pub fn is_destructive(self) -> bool {
        !matches!(self, PowerAction::Start | PowerAction::Resume)
    }

    /// Button label: `Start`, `Stop`, `Shut down`, `Reboot`, `Pause` (PVE's UI word for
    /// suspend to RAM), `Resume`.
    pub fn label(self) -> &'static str {
        match self {
            PowerAction::Start => "Start",
            PowerAction::Stop => "Stop",
            PowerAction::Shutdown => "Shut down",
            PowerAction::Reboot => "Reboot",
            PowerAction::Suspend => "Pause",
            PowerAction::Resume => "Resume",
        }
    }
}

impl fmt::Display for PowerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path_segment())
    }
}

impl FromStr for PowerAction {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        PowerAction::ALL
            .into_iter()
            .find(|a| a.path_segment() == s)
            .ok_or_else(|| InvalidId::new("power action", s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_actions() {
        for a in PowerAction::ALL {
            assert_eq!(a.path_segment().parse::<PowerAction>().unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.path_segment()));
            assert_eq!(serde_json::from_str::<PowerAction>(&json).unwrap(), a);
            assert!(a.matches_task_type(a.task_type()));
        }
        assert!("Start".parse::<PowerAction>().is_err());
        assert!(PowerAction::Stop.is_destructive());
        assert!(!PowerAction::Resume.is_destructive());
        assert_eq!(PowerAction::Shutdown.label(), "Shut down");
        assert!(PowerAction::Suspend.matches_task_type("qmsuspend"));
        assert!(PowerAction::Shutdown.matches_task_type("hastop"));
        assert!(!PowerAction::Start.matches_task_type("qmstop"));
    }

    #[test]
    fn paused_vms_offer_resume_and_stop_only() {
        // /cluster/resources carries the QMP status in `status`.
        assert_eq!(VmStatus::from_name("paused"), VmStatus::Paused);
        assert_eq!(VmStatus::from_name("suspended"), VmStatus::Paused);
        assert_eq!(VmStatus::from_name("prelaunch"), VmStatus::Unknown);
        // status/current keeps `running` and tells in `qmpstatus`.
        let s: QemuStatus =
            serde_json::from_str(r#"{"vmid":100,"status":"running","qmpstatus":"paused"}"#)
                .unwrap();
        assert!(s.is_running() && s.is_paused());
        assert_eq!(s.power_state(), VmStatus::Paused);
        assert_eq!(
            PowerAction::applicable(s.power_state()),
            [PowerAction::Resume, PowerAction::Stop]
        );
        let running: QemuStatus =
            serde_json::from_str(r#"{"vmid":100,"status":"running","qmpstatus":"running"}"#)
                .unwrap();
        assert_eq!(running.power_state(), VmStatus::Running);
        let offered = PowerAction::applicable(VmStatus::Running);
        assert!(offered.contains(&PowerAction::Suspend) && !offered.contains(&PowerAction::Start));
        assert_eq!(
            PowerAction::applicable(VmStatus::Stopped),
            [PowerAction::Start]
        );
        assert!(PowerAction::applicable(VmStatus::Unknown).is_empty());
        assert_eq!(
            serde_json::to_string(&VmStatus::Paused).unwrap(),
            "\"paused\""
        );
    }

    #[test]
    fn minimal_status_decodes() {
        let s: QemuStatus =
            serde_json::from_str(r#"{"vmid":"100","status":"stopped","ha":{"managed":0}}"#)
                .unwrap();
        assert_eq!(s.vmid.get(), 100);
        assert!(!s.is_running());
        assert!(!s.ha_managed());
        let back: QemuStatus = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
