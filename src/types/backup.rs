//! Backups: the options of `POST /nodes/{node}/vzdump`, and the scheduled backup jobs of
//! `/cluster/backup` (which carry the same options).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::de;
use super::params::{Params, wire_enum};
use crate::ids::{BackupJobId, NodeName, StorageId, VmId};

wire_enum! {
    /// How vzdump gets a consistent state of a running guest.
    VzdumpMode, "backup mode" {
        /// Live snapshot, no downtime (PVE's default).
        Snapshot = "snapshot",
        /// Suspend the guest while backing it up.
        Suspend = "suspend",
        /// Stop the guest for the backup and start it again.
        Stop = "stop",
    }
}

wire_enum! {
    /// Compression of the archive (ignored by Proxmox Backup Server storages).
    VzdumpCompress, "compression" {
        /// No compression (the API's default).
        Off = "0",
        /// The legacy default (LZO).
        On = "1",
        /// gzip (pigz with `pigz` threads).
        Gzip = "gzip",
        /// LZO.
        Lzo = "lzo",
        /// Zstandard (what PVE's UI uses).
        Zstd = "zstd",
    }
}

wire_enum! {
    /// When the legacy mail notification is sent.
    MailNotification, "mail notification" {
        /// After every backup.
        Always = "always",
        /// Only after a failure.
        Failure = "failure",
    }
}

/// Retention: which backups vzdump keeps after a new one (`prune-backups`). Unset fields keep
/// nothing by that rule; `keep_all` keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PruneBackups {
    /// Keep all backups (the others are then ignored).
    #[serde(rename = "keep-all", skip_serializing_if = "Option::is_none")]
    pub keep_all: Option<bool>,
    /// Keep the last N backups.
    #[serde(rename = "keep-last", skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Keep one backup for each of the last N hours.
    #[serde(rename = "keep-hourly", skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<u32>,
    /// Keep one backup for each of the last N days.
    #[serde(rename = "keep-daily", skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// Keep one backup for each of the last N weeks.
    #[serde(rename = "keep-weekly", skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// Keep one backup for each of the last N months.
    #[serde(rename = "keep-monthly", skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Keep one backup for each of the last N years.
    #[serde(rename = "keep-yearly", skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
}

impl PruneBackups {
    /// PVE's property string, e.g. `keep-daily=7,keep-last=3`.
    pub fn to_property_string(&self) -> String {
        self.to_string()
    }

    /// Reads a property string like `keep-last=3,keep-weekly=2`; unknown keys are an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut p = Self::default();
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value"))?;
            let n = || {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{part:?}: not a count"))
            };
            match k.trim() {
                "keep-all" => p.keep_all = Some(matches!(v.trim(), "1" | "true")),
                "keep-last" => p.keep_last = Some(n()?),
                "keep-hourly" => p.keep_hourly = Some(n()?),
                "keep-daily" => p.keep_daily = Some(n()?),
                "keep-weekly" => p.keep_weekly = Some(n()?),
                "keep-monthly" => p.keep_monthly = Some(n()?),
                "keep-yearly" => p.keep_yearly = Some(n()?),
                other => return Err(format!("unknown retention option {other:?}")),
            }
        }
        Ok(p)
    }
}

impl fmt::Display for PruneBackups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(all) = self.keep_all {
            parts.push(format!("keep-all={}", u8::from(all)));
        }
        for (key, value) in [
            ("keep-daily", self.keep_daily),
            ("keep-hourly", self.keep_hourly),
            ("keep-last", self.keep_last),
            ("keep-monthly", self.keep_monthly),
            ("keep-weekly", self.keep_weekly),
            ("keep-yearly", self.keep_yearly),
        ] {
            if let Some(n) = value {
                parts.push(format!("{key}={n}"));
            }
        }
        f.write_str(&parts.join(","))
    }
}

impl<'de> Deserialize<'de> for PruneBackups {
    /// Reads PVE's property string or an object with the same keys (the API schema
    /// describes it as an object).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Self::parse(&s).map_err(serde::de::Error::custom),
            serde_json::Value::Object(o) => {
                let text: Vec<String> = o
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::Bool(b) => format!("{k}={}", u8::from(*b)),
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect();
                Self::parse(&text.join(",")).map_err(serde::de::Error::custom)
            }
            other => Err(serde::de::Error::custom(format!(
                "expected retention options, got {other}"
            ))),
        }
    }
}

/// Reads a guest list: PVE's `"100,101"` (`pve-vmid-list`), one number, or an array.
fn vmid_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<VmId>, D::Error> {
    use serde::de::Error as _;
    let parse_text = |s: &str| -> Result<Vec<VmId>, D::Error> {
        s.split([',', ';', ' '])
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim().parse::<VmId>().map_err(D::Error::custom))
            .collect()
    };
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => parse_text(&s),
        Some(serde_json::Value::Number(n)) => parse_text(&n.to_string()),
        Some(v @ serde_json::Value::Array(_)) => {
            serde_json::from_value(v).map_err(D::Error::custom)
        }
        Some(other) => Err(D::Error::custom(format!(
            "expected a guest list, got {other}"
        ))),
    }
}

/// What to back up and how: the options of `POST /nodes/{node}/vzdump`, also part of every
/// backup job. Unset options take PVE's defaults (datacenter `vzdump.conf`, then the API).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VzdumpOptions {
    /// Guests to back up.
    #[serde(
        default,
        deserialize_with = "vmid_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub vmid: Vec<VmId>,
    /// Back up every guest (on the node).
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub all: Option<bool>,
    /// With `all`: guests to leave out.
    #[serde(
        default,
        deserialize_with = "vmid_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exclude: Vec<VmId>,
    /// Back up the guests of this pool.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub pool: Option<String>,
    /// Target storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageId>,
    /// Snapshot, suspend or stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<VzdumpMode>,
    /// Compression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<VzdumpCompress>,
    /// Retention to apply after the backup.
    #[serde(
        rename = "prune-backups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub prune_backups: Option<PruneBackups>,
    /// Notes for the new backups; `{{guestname}}`, `{{node}}`, `{{vmid}}`, `{{cluster}}` are
    /// replaced.
    #[serde(
        rename = "notes-template",
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub notes_template: Option<String>,
    /// Protect the new backups from pruning and deletion.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub protected: Option<bool>,
    /// Prune older backups according to the retention (PVE's default: yes).
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub remove: Option<bool>,
    /// IO bandwidth limit, KiB/s.
    #[serde(
        default,
        deserialize_with = "de::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub bwlimit: Option<u64>,
    /// Zstandard threads (0 = half the cores).
    #[serde(
        default,
        deserialize_with = "de::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub zstd: Option<u32>,
    /// Mail recipients (legacy notifications).
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub mailto: Option<String>,
    /// When to send mail (legacy notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailnotification: Option<MailNotification>,
}

impl VzdumpOptions {
    /// Backs up these guests with PVE's defaults for everything else.
    pub fn guests(vmids: impl IntoIterator<Item = VmId>) -> Self {
        Self {
            vmid: vmids.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Adds the options to `p`.
    pub fn add_to(&self, p: &mut Params) {
        p.list("vmid", &self.vmid)
            .opt_bool("all", self.all)
            .list("exclude", &self.exclude)
            .opt_str("pool", self.pool.as_deref())
            .opt_str("storage", self.storage.as_ref())
            .opt_str("mode", self.mode)
            .opt_str("compress", self.compress)
            .opt_str("prune-backups", self.prune_backups.as_ref())
            .opt_str("notes-template", self.notes_template.as_deref())
            .opt_bool("protected", self.protected)
            .opt_bool("remove", self.remove)
            .opt_int(
                "bwlimit",
                self.bwlimit.map(|n| n.min(i64::MAX as u64) as i64),
            )
            .opt_int("zstd", self.zstd)
            .opt_str("mailto", self.mailto.as_deref())
            .opt_str("mailnotification", self.mailnotification);
    }

    /// The form of `POST /nodes/{node}/vzdump`.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        self.add_to(&mut p);
        p
    }
}

fn yes() -> bool {
    true
}

/// One scheduled backup job: `GET /cluster/backup` and `GET /cluster/backup/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupJob {
    /// Job ID.
    pub id: BackupJobId,
    /// Job type, `vzdump`.
    #[serde(rename = "type", default, deserialize_with = "de::opt_string")]
    pub kind: Option<String>,
    /// When the job runs, in systemd calendar syntax (`sat 02:00`, `mon..fri 22:00`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub schedule: Option<String>,
    /// False when the job is disabled (PVE leaves the key out for enabled jobs).
    #[serde(default = "yes", deserialize_with = "de::bool_lenient")]
    pub enabled: bool,
    /// Next scheduled run, Unix seconds (only for enabled jobs).
    #[serde(rename = "next-run", default, deserialize_with = "de::opt_i64")]
    pub next_run: Option<i64>,
    /// Description.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
    /// Run as soon as possible when a run was missed.
    #[serde(rename = "repeat-missed", default, deserialize_with = "de::opt_bool")]
    pub repeat_missed: Option<bool>,
    /// Only run on this node.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub node: Option<String>,
    /// What to back up and how.
    #[serde(flatten)]
    pub options: VzdumpOptions,
    /// Every other option PVE sent, as it sent it.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The settings of a backup job to create or change (`POST /cluster/backup`,
/// `PUT /cluster/backup/{id}`). Unset fields are left as they are (update) or take PVE's
/// defaults (create).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupJobSpec {
    /// When the job runs, in systemd calendar syntax (`sat 02:00`, `*/30`).
    pub schedule: Option<String>,
    /// Enable or disable the job.
    pub enabled: Option<bool>,
    /// Description (at most 512 characters).
    pub comment: Option<String>,
    /// Run as soon as possible when a run was missed.
    pub repeat_missed: Option<bool>,
    /// Only run on this node.
    pub node: Option<NodeName>,
    /// What to back up and how.
    pub options: VzdumpOptions,
}

impl BackupJobSpec {
    /// The form, without `id` and `delete`.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.opt_str("schedule", self.schedule.as_deref())
            .opt_bool("enabled", self.enabled)
            .opt_str("comment", self.comment.as_deref())
            .opt_bool("repeat-missed", self.repeat_missed)
            .opt_str("node", self.node.as_ref());
        self.options.add_to(&mut p);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_backups_both_spellings() {
        let p = PruneBackups::parse("keep-last=3,keep-weekly=2").unwrap();
        assert_eq!(p.keep_last, Some(3));
        assert_eq!(p.to_property_string(), "keep-last=3,keep-weekly=2");
        let from_obj: PruneBackups =
            serde_json::from_str(r#"{"keep-last":"3","keep-weekly":2}"#).unwrap();
        assert_eq!(from_obj, p);
        let from_str: PruneBackups = serde_json::from_str(r#""keep-all=1""#).unwrap();
        assert_eq!(from_str.keep_all, Some(true));
        assert!(PruneBackups::parse("keep-forever=1").is_err());
        let back: PruneBackups = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn backup_job_wire() {
        let job: BackupJob = serde_json::from_value(serde_json::json!({
            "id": "backup-0b8f1a2c-5e3d", "type": "vzdump", "schedule": "sat 02:00",
            "next-run": 1783303200, "vmid": "100,101", "storage": "local", "mode": "snapshot",
            "compress": "zstd", "prune-backups": "keep-last=3", "notes-template": "{{guestname}}",
            "mailnotification": "failure", "fleecing": {"enabled": 1}
        }))
        .unwrap();
        assert!(job.enabled);
        assert_eq!(job.options.vmid.len(), 2);
        assert_eq!(job.options.compress, Some(VzdumpCompress::Zstd));
        assert_eq!(
            job.options.prune_backups.as_ref().unwrap().keep_last,
            Some(3)
        );
        assert_eq!(job.extra.keys().collect::<Vec<_>>(), ["fleecing"]);
        let back: BackupJob = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back, job);
        let disabled: BackupJob =
            serde_json::from_value(serde_json::json!({"id": "b1", "enabled": 0})).unwrap();
        assert!(!disabled.enabled && disabled.options.vmid.is_empty());
    }

    #[test]
    fn vzdump_params() {
        let o = VzdumpOptions {
            mode: Some(VzdumpMode::Snapshot),
            compress: Some(VzdumpCompress::Off),
            protected: Some(true),
            prune_backups: Some(PruneBackups {
                keep_last: Some(2),
                ..Default::default()
            }),
            ..VzdumpOptions::guests([VmId::new(100).unwrap(), VmId::new(101).unwrap()])
        };
        let enc: Vec<String> = o.params().iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(
            enc,
            [
                "vmid=100,101",
                "mode=snapshot",
                "compress=0",
                "prune-backups=keep-last=2",
                "protected=1"
            ]
        );
    }
}
