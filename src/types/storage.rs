//! Storages of one node: `GET /nodes/{node}/storage` and
//! `GET /nodes/{node}/storage/{storage}/content` (backups, disk images, ISO images, …).

use serde::{Deserialize, Serialize};

use super::de;
use super::params::{Params, wire_enum};
use crate::ids::{NodeName, StorageId, VmId, Volid};

wire_enum! {
    /// A kind of content a storage holds.
    ContentType, "storage content type" {
        /// VM disk images.
        Images = "images",
        /// Container root file systems.
        Rootdir = "rootdir",
        /// Container templates.
        Vztmpl = "vztmpl",
        /// ISO images.
        Iso = "iso",
        /// Backup archives (vzdump).
        Backup = "backup",
        /// Snippets (hook scripts, cloud-init files).
        Snippets = "snippets",
        /// Importable disk images and OVAs (PVE 8.2+).
        Import = "import",
    }
}

/// Filters for `GET /nodes/{node}/storage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageListFilter {
    /// Only storages holding one of these content types.
    pub content: Vec<ContentType>,
    /// Only enabled storages.
    pub enabled: Option<bool>,
    /// Only this storage.
    pub storage: Option<StorageId>,
    /// Only storages also usable on this node.
    pub target: Option<NodeName>,
}

impl StorageListFilter {
    /// The query parameters.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.list("content", &self.content)
            .opt_bool("enabled", self.enabled)
            .opt_str("storage", self.storage.as_ref())
            .opt_str("target", self.target.as_ref());
        p
    }
}

/// One entry of `GET /nodes/{node}/storage`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStorage {
    /// Storage ID.
    #[serde(deserialize_with = "de::string_lenient")]
    pub storage: String,
    /// Plugin type (`dir`, `lvmthin`, `zfspool`, `nfs`, `pbs`, …).
    #[serde(rename = "type", default, deserialize_with = "de::string_lenient")]
    pub kind: String,
    /// Content types, comma-separated; see [`NodeStorage::content_types`].
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub content: String,
    /// True when the storage is reachable now.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    /// True unless disabled in the configuration.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub enabled: Option<bool>,
    /// True when shared between nodes.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub shared: Option<bool>,
    /// Size, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    /// Used, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    /// Available, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
    /// Used share, 0.0 to 1.0.
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub used_fraction: Option<f64>,
}

impl NodeStorage {
    /// The known content types (unknown ones are skipped).
    pub fn content_types(&self) -> Vec<ContentType> {
        self.content
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect()
    }

    /// True when the storage can hold backups.
    pub fn holds_backups(&self) -> bool {
        self.content_types().contains(&ContentType::Backup)
    }
}

/// Filters for `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageContentFilter {
    /// Only this content type (e.g. backups).
    pub content: Option<ContentType>,
    /// Only volumes of this guest.
    pub vmid: Option<VmId>,
}

impl StorageContentFilter {
    /// Backups, of all guests or of one.
    pub fn backups(vmid: Option<VmId>) -> Self {
        Self {
            content: Some(ContentType::Backup),
            vmid,
        }
    }

    /// The query parameters.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.opt_str("content", self.content)
            .opt_int("vmid", self.vmid.map(VmId::get));
        p
    }
}

/// The last verification of a backup (Proxmox Backup Server only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupVerification {
    /// `ok` or `failed`.
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub state: String,
    /// Task ID of the verification.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub upid: Option<String>,
}

/// One entry of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageContentEntry {
    /// Volume ID, e.g. `local:backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst`.
    pub volid: Volid,
    /// Content type (`backup`, `images`, `iso`, …).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub content: Option<String>,
    /// Format (`vma.zst`, `raw`, `qcow2`, `pbs-vm`, `iso`, …).
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub format: String,
    /// Size, bytes.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    /// Used space, bytes (few storages report it).
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    /// Creation time, Unix seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub ctime: Option<i64>,
    /// Owning guest.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub vmid: Option<u32>,
    /// Guest type of a backup: `qemu` or `lxc`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub subtype: Option<String>,
    /// First line of the backup's notes.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub notes: Option<String>,
    /// True when the backup is protected from pruning and deletion.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub protected: Option<bool>,
    /// Encryption key fingerprint, or `1`, for encrypted PBS backups.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub encrypted: Option<String>,
    /// Parent volume of a linked clone.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub parent: Option<String>,
    /// Last verification (PBS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<BackupVerification>,
}

impl StorageContentEntry {
    /// The owning guest as a validated [`VmId`].
    pub fn vm_id(&self) -> Option<VmId> {
        self.vmid.and_then(|v| VmId::new(v).ok())
    }

    /// True for backup archives.
    pub fn is_backup(&self) -> bool {
        self.content.as_deref() == Some("backup")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_content_types() {
        let s: NodeStorage = serde_json::from_str(
            r#"{"storage":"local","type":"dir","content":"iso,backup,vztmpl,nope","active":1,"total":100,"used":"40"}"#,
        )
        .unwrap();
        assert_eq!(
            s.content_types(),
            [ContentType::Iso, ContentType::Backup, ContentType::Vztmpl]
        );
        assert!(s.holds_backups());
        assert_eq!(s.used, Some(40));
    }

    #[test]
    fn content_filter() {
        let p = StorageContentFilter::backups(Some(VmId::new(100).unwrap())).params();
        let enc: Vec<String> = p.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(enc, ["content=backup", "vmid=100"]);
    }
}
