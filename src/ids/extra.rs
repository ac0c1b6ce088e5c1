//! More validated identifiers: backup job IDs, volume IDs, user IDs, QEMU disk names and
//! snapshot names, each checked the way PVE's schema checks it before anything is sent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{InvalidId, StorageId};

/// True when `s` has no whitespace or control characters and is 1 to `max` bytes long.
fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A backup job ID (`/cluster/backup/{id}`): 1 to 50 characters, no whitespace, as PVE's
/// schema requires (`\S+`, at most 50). PVE generates IDs like `backup-0b8f1a2c-5e3d`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackupJobId(String);

impl BackupJobId {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if printable(s, 50) && !s.contains(['/', '?', '#']) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId::new("backup job ID", s))
        }
    }

    /// True when the ID may also be chosen for a new job (schema format `pve-configid`: a
    /// letter, then letters, digits, `-` or `_`).
    pub fn is_config_id(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() >= 2
            && b[0].is_ascii_alphabetic()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
    }

    /// The ID as PVE spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(BackupJobId);

/// A storage volume ID (schema format `pve-volume-id`): `<storage>:<volume>`, e.g.
/// `local:backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst` or
/// `pbs:backup/vm/100/2026-07-06T02:00:01Z`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Volid {
    text: String,
    /// Length of the storage part.
    storage_len: usize,
}

impl Volid {
    /// Checks `s` and wraps it: a valid storage ID, `:`, and a volume name without control
    /// characters (at most 4096 bytes in all).
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let bad = || InvalidId::new("volume ID", s);
        let (storage, volume) = s.split_once(':').ok_or_else(bad)?;
        StorageId::parse(storage).map_err(|_| bad())?;
        if volume.is_empty()
            || s.len() > 4096
            || volume.chars().any(char::is_control)
            || volume.starts_with(char::is_whitespace)
        {
            return Err(bad());
        }
        Ok(Self {
            text: s.to_owned(),
            storage_len: storage.len(),
        })
    }

    /// The storage part.
    pub fn storage(&self) -> StorageId {
        StorageId(self.text[..self.storage_len].to_owned())
    }

    /// The volume part, after the first `:`.
    pub fn volume(&self) -> &str {
        &self.text[self.storage_len + 1..]
    }

    /// The whole volume ID.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

string_id_impls!(Volid);

/// A user ID `name@realm`, or an API token ID `name@realm!token` (schema `pve-userid`, and
/// `pve-tokenid` for tokens).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Checks `s` and wraps it. The name may hold no whitespace, `:` or `/`; realm and token
    /// name start with a letter, then letters, digits, `.`, `-` or `_`.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let bad = || InvalidId::new("user ID", s);
        let ident = |t: &str| {
            let b = t.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphabetic()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        };
        if s.len() > 128 {
            return Err(bad());
        }
        let (user, token) = match s.split_once('!') {
            Some((u, t)) => (u, Some(t)),
            None => (s, None),
        };
        let (name, realm) = user.rsplit_once('@').ok_or_else(bad)?;
        let name_ok = printable(name, 64) && !name.contains([':', '/']);
        if name_ok && ident(realm) && token.is_none_or(ident) {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// True for an API token ID (`user@realm!token`).
    pub fn is_token(&self) -> bool {
        self.0.contains('!')
    }

    /// The ID as PVE spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(UserId);

/// A QEMU disk slot that can be resized: `ide0`–`ide3`, `sata0`–`sata5`, `scsi0`–`scsi30`,
/// `virtio0`–`virtio15`, `efidisk0` or `tpmstate0` (the schema's enum).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiskName(String);

impl DiskName {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
        let (bus, index) = s.split_at(split);
        let max = match bus {
            "ide" => 3,
            "sata" => 5,
            "scsi" => 30,
            "virtio" => 15,
            "efidisk" | "tpmstate" => 0,
            _ => return Err(InvalidId::new("disk name", s)),
        };
        // No leading zeros: "scsi01" is not a slot.
        let canonical = index == "0" || (!index.is_empty() && !index.starts_with('0'));
        match index.parse::<u32>() {
            Ok(n) if canonical && index.len() <= 2 && n <= max => Ok(Self(s.to_owned())),
            _ => Err(InvalidId::new("disk name", s)),
        }
    }

    /// The slot name, e.g. `scsi0`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(DiskName);

/// A snapshot name (schema `pve-snapshot-name`: format `pve-configid`, at most 40
/// characters): an ASCII letter, then at least one more letter, digit, `-` or `_`. PVE
/// refuses `current` and `pending` for new snapshots (`current` names the VM's present
/// state in the snapshot list); [`SnapshotName::is_reserved`] tells.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotName(String);

impl SnapshotName {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let b = s.as_bytes();
        let ok = (2..=40).contains(&b.len())
            && b[0].is_ascii_alphabetic()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId::new("snapshot name", s))
        }
    }

    /// True for `current` and `pending` (any case), which PVE does not take for a new
    /// snapshot.
    pub fn is_reserved(&self) -> bool {
        self.0 == "current" || self.0.eq_ignore_ascii_case("pending")
    }

    /// The name as PVE spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(SnapshotName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_job_ids() {
        let id = BackupJobId::parse("backup-0b8f1a2c-5e3d").unwrap();
        assert!(id.is_config_id());
        assert!(!BackupJobId::parse("5e3d.x").unwrap().is_config_id());
        for bad in ["", "a b", "a/b", "x?y", &"x".repeat(51), "a\nb"] {
            assert!(BackupJobId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn volids() {
        let v = Volid::parse("local:backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst").unwrap();
        assert_eq!(v.storage().as_str(), "local");
        assert_eq!(
            v.volume(),
            "backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst"
        );
        let v = Volid::parse("pbs:backup/vm/100/2026-07-06T02:00:01Z").unwrap();
        assert_eq!(v.volume(), "backup/vm/100/2026-07-06T02:00:01Z");
        for bad in [
            "",
            "local",
            "local:",
            ":x",
            "1x:y",
            "local:a\nb",
            "local: x",
        ] {
            assert!(Volid::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Volid>(&json).unwrap(), v);
    }

    #[test]
    fn user_ids() {
        for ok in ["root@pam", "alice@pve", "root@pam!sdk", "a.b-c@ldap-1"] {
            assert_eq!(UserId::parse(ok).unwrap().as_str(), ok);
        }
        assert!(UserId::parse("root@pam!sdk").unwrap().is_token());
        for bad in [
            "root",
            "@pam",
            "root@",
            "ro ot@pam",
            "root@pam!",
            "a/b@pam",
            "root@1x",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn snapshot_names() {
        for ok in ["s1", "before-upgrade", "Nightly_2026", &"a".repeat(40)] {
            assert_eq!(SnapshotName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "a",
            "1st",
            "-x",
            "a b",
            "a/b",
            "a.b",
            "snäp",
            &"a".repeat(41),
        ] {
            assert!(SnapshotName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(SnapshotName::parse("current").unwrap().is_reserved());
        assert!(SnapshotName::parse("PENDING").unwrap().is_reserved());
        assert!(!SnapshotName::parse("currently").unwrap().is_reserved());
        let n: SnapshotName = serde_json::from_str(r#""s1""#).unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""s1""#);
        assert!(serde_json::from_str::<SnapshotName>(r#""../x""#).is_err());
    }

    #[test]
    fn disk_names() {
        for ok in [
            "ide0",
            "ide3",
            "sata5",
            "scsi0",
            "scsi30",
            "virtio15",
            "efidisk0",
            "tpmstate0",
        ] {
            assert_eq!(DiskName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", "ide4", "scsi31", "scsi01", "net0", "virtio", "efidisk1", "scsi-1",
        ] {
            assert!(DiskName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
