//! Validated identifiers that end up in PVE URL paths: nothing a user typed is pasted raw into a path.
//!
//! Every type here checks its value on construction, on `FromStr` and on deserialisation, so a
//! value of one of these types is always safe to put into a URL path segment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many characters of a rejected value [`InvalidId`] keeps (for messages and logs).
const MAX_SHOWN: usize = 64;

/// A value was rejected as an identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvalidId {
    /// What was expected, e.g. `"node name"`, `"VM ID"`, `"UPID"`, `"storage ID"`.
    pub kind: &'static str,
    /// The rejected value, cut to 64 characters.
    pub value: String,
}

impl InvalidId {
    /// Builds the error, keeping at most 64 characters of `value`.
    pub fn new(kind: &'static str, value: &str) -> Self {
        let value = if value.chars().count() > MAX_SHOWN {
            let mut cut: String = value.chars().take(MAX_SHOWN).collect();
            cut.push('…');
            cut
        } else {
            value.to_owned()
        };
        Self { kind, value }
    }
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` quotes the value and escapes control characters.
        write!(f, "invalid {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for InvalidId {}

/// The kinds this module produces; deserialisation maps a kind back to one of these.
const KINDS: &[&str] = &[
    "node name",
    "VM ID",
    "storage ID",
    "UPID",
    "resource type",
    "power action",
    "backup job ID",
    "volume ID",
    "user ID",
    "disk name",
    "snapshot name",
    "disk size",
    "RRD timeframe",
    "RRD consolidation function",
    "parameter",
];

// `kind` is `&'static str`, which serde cannot deserialise from owned data: read a `String` and
// map it back to the matching static name.
impl<'de> Deserialize<'de> for InvalidId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            kind: String,
            value: String,
        }
        let w = Wire::deserialize(d)?;
        let kind = KINDS
            .iter()
            .find(|k| **k == w.kind)
            .copied()
            .unwrap_or("identifier");
        Ok(Self {
            kind,
            value: w.value,
        })
    }
}

/// True for a hostname label: ASCII letters, digits and `-`, not starting or ending with `-`.
fn is_hostname_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Implements Display, Serialize (as the string), Deserialize (validating) and FromStr for a
/// string-backed identifier with a `fn parse(&str) -> Result<Self, InvalidId>`.
macro_rules! string_id_impls {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

mod extra;

pub use extra::{BackupJobId, DiskName, SnapshotName, UserId, Volid};

/// A PVE cluster node name (schema format `pve-node`): a hostname label of 1 to 63 ASCII
/// letters, digits and `-`, neither starting nor ending with `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName(String);

impl NodeName {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if is_hostname_label(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId::new("node name", s))
        }
    }

    /// The node name as PVE spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(NodeName);

/// A guest ID (schema format `pve-vmid`): 100 to 999 999 999.
///
/// Serialises as a JSON number; deserialises from a number or a numeric string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmId(u32);

impl VmId {
    /// Smallest valid VM ID.
    pub const MIN: u32 = 100;
    /// Largest valid VM ID.
    pub const MAX: u32 = 999_999_999;

    /// Checks the range and wraps it.
    pub fn new(id: u32) -> Result<Self, InvalidId> {
        if (Self::MIN..=Self::MAX).contains(&id) {
            Ok(Self(id))
        } else {
            Err(InvalidId::new("VM ID", &id.to_string()))
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for VmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for VmId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let t = s.trim();
        // Plain decimal digits only: no sign, no "0x", no exponent.
        if t.is_empty() || t.len() > 10 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidId::new("VM ID", s));
        }
        let n: u32 = t.parse().map_err(|_| InvalidId::new("VM ID", s))?;
        Self::new(n)
    }
}

impl TryFrom<u32> for VmId {
    type Error = InvalidId;
    fn try_from(id: u32) -> Result<Self, InvalidId> {
        Self::new(id)
    }
}

impl From<VmId> for u32 {
    fn from(id: VmId) -> u32 {
        id.0
    }
}

impl Serialize for VmId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for VmId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = VmId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VM ID (100 to 999999999) as a number or numeric string")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<VmId, E> {
                u32::try_from(v)
                    .map_err(|_| InvalidId::new("VM ID", &v.to_string()))
                    .and_then(VmId::new)
                    .map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<VmId, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(InvalidId::new("VM ID", &v.to_string())))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<VmId, E> {
                if v.fract() == 0.0 && v >= 0.0 && v <= f64::from(u32::MAX) {
                    self.visit_u64(v as u64)
                } else {
                    Err(E::custom(InvalidId::new("VM ID", &v.to_string())))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<VmId, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A storage ID (schema format `pve-storage-id`): starts with a letter, then letters, digits,
/// `-`, `_` or `.`, and ends with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageId(String);

impl StorageId {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let b = s.as_bytes();
        let ok = b.len() >= 2
            && b.len() <= 128
            && b[0].is_ascii_alphabetic()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId::new("storage ID", s))
        }
    }

    /// The storage ID as PVE spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(StorageId);

/// A resource pool ID (schema format `pve-poolid`, pve-access-control's `verify_poolid`): up to
/// three `/`-separated levels (nested pools, PVE 8.1+), each of letters, digits, `.`, `-` and
/// `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolId(String);

impl PoolId {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let levels = s.split('/');
        let ok = s.len() <= 128
            && s.split('/').count() <= 3
            && levels.into_iter().all(|level| {
                !level.is_empty()
                    && level
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId::new("pool ID", s))
        }
    }

    /// The pool ID as PVE spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id_impls!(PoolId);

/// A PVE task ID: `UPID:<node>:<pid hex>:<pstart hex>:<starttime hex>:<type>:<id>:<user>:`.
///
/// `id` may be empty; `user` may be an API token (`user@realm!tokenid`). The original text is
/// kept: [`Upid::as_str`], `Display` and serialisation give it back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Upid {
    text: String,
    node: NodeName,
    pid: u32,
    pstart: u64,
    starttime: i64,
    /// Byte ranges of type, id and user inside `text`.
    task_type: (usize, usize),
    id: (usize, usize),
    user: (usize, usize),
}

impl Upid {
    /// Parses a UPID.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        Self::parse_inner(s).ok_or_else(|| InvalidId::new("UPID", s))
    }

    fn parse_inner(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("UPID:")?;
        let parts: Vec<&str> = rest.split(':').collect();
        // node, pid, pstart, starttime, type, id, user, "" (after the closing ':').
        if parts.len() != 8 || !parts[7].is_empty() {
            return None;
        }
        let node = NodeName::parse(parts[0]).ok()?;
        let pid = u32::try_from(hex(parts[1], 8)?).ok()?;
        let pstart = hex(parts[2], 16)?;
        let starttime = i64::try_from(hex(parts[3], 15)?).ok()?;
        let field_ok = |f: &str, may_be_empty: bool| {
            (may_be_empty || !f.is_empty())
                && !f.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if !field_ok(parts[4], false) || !field_ok(parts[5], true) || !field_ok(parts[6], false) {
            return None;
        }
        // Byte offsets of fields 4..=6 inside `s`.
        let mut start = "UPID:".len();
        let mut ranges = [(0, 0); 7];
        for (i, p) in parts.iter().take(7).enumerate() {
            ranges[i] = (start, start + p.len());
            start += p.len() + 1;
        }
        Some(Self {
            text: s.to_owned(),
            node,
            pid,
            pstart,
            starttime,
            task_type: ranges[4],
            id: ranges[5],
            user: ranges[6],
        })
    }

    /// The node that runs the task (its status and log are read there).
    pub fn node(&self) -> &NodeName {
        &self.node
    }

    /// Task type, e.g. `qmstart`, `vzdump`.
    pub fn task_type(&self) -> &str {
        &self.text[self.task_type.0..self.task_type.1]
    }

    /// Task object ID, e.g. the VM ID for `qmstart`; may be empty.
    pub fn id(&self) -> &str {
        &self.text[self.id.0..self.id.1]
    }

    /// The user who started the task, `user@realm` or `user@realm!tokenid` for an API token.
    pub fn user(&self) -> &str {
        &self.text[self.user.0..self.user.1]
    }

    /// Start time, Unix seconds.
    pub fn starttime(&self) -> i64 {
        self.starttime
    }

    /// PID of the worker process on the node.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Start time of the worker process in clock ticks since boot (used by PVE to tell reused
    /// PIDs apart).
    pub fn pstart(&self) -> u64 {
        self.pstart
    }

    /// The UPID text exactly as PVE sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Parses 1..=`max_len` hex digits.
fn hex(s: &str, max_len: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

string_id_impls!(Upid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        for ok in ["pve", "pve1", "PVE-node-2", "a", "0", &"x".repeat(63)] {
            assert_eq!(NodeName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "-pve",
            "pve-",
            "pve.example.com",
            "x/../y",
            "pve 1",
            "pve_1",
            "pvé",
            &"x".repeat(64),
        ] {
            assert!(NodeName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn invalid_id_message_is_quoted_and_truncated() {
        let e = NodeName::parse("x/../y").unwrap_err();
        assert_eq!(e.to_string(), r#"invalid node name "x/../y""#);
        let long = "y".repeat(500);
        let e = NodeName::parse(&long).unwrap_err();
        assert!(e.to_string().len() < 100, "{e}");
        assert!(e.value.ends_with('…'));
        let e = NodeName::parse("a\nb").unwrap_err();
        assert_eq!(e.to_string(), r#"invalid node name "a\nb""#);
    }

    #[test]
    fn node_name_serde() {
        let n: NodeName = serde_json::from_str(r#""pve1""#).unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""pve1""#);
        assert!(serde_json::from_str::<NodeName>(r#""../etc""#).is_err());
        assert_eq!("pve1".parse::<NodeName>().unwrap(), n);
    }

    #[test]
    fn vmids() {
        assert_eq!(VmId::new(100).unwrap().get(), 100);
        assert_eq!(VmId::new(999_999_999).unwrap().get(), 999_999_999);
        assert!(VmId::new(99).is_err());
        assert!(VmId::new(1_000_000_000).is_err());
        assert!(VmId::new(0).is_err());
        assert_eq!("101".parse::<VmId>().unwrap().get(), 101);
        for bad in ["", "abc", "-100", "+100", "1e3", "0x100", "100/../1", "99"] {
            assert!(bad.parse::<VmId>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            VmId::new(99).unwrap_err().to_string(),
            r#"invalid VM ID "99""#
        );
    }

    #[test]
    fn vmid_serde() {
        let v: VmId = serde_json::from_str("9102").unwrap();
        assert_eq!(v.get(), 9102);
        let v: VmId = serde_json::from_str(r#""9102""#).unwrap();
        assert_eq!(v.get(), 9102);
        assert_eq!(serde_json::to_string(&v).unwrap(), "9102");
        assert!(serde_json::from_str::<VmId>("42").is_err());
        assert!(serde_json::from_str::<VmId>("-1").is_err());
        assert!(serde_json::from_str::<VmId>("5000000000").is_err());
        assert!(serde_json::from_str::<VmId>(r#""x""#).is_err());
        assert!(serde_json::from_str::<VmId>("null").is_err());
    }

    #[test]
    fn pool_ids_follow_verify_poolid() {
        for ok in ["production", "dept/team", "a/b/c", "-x", "v1.2_b"] {
            assert_eq!(PoolId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a b", "a/b/c/d", "a//b", "a/", "/a", "p\u{e9}", "x?y"] {
            assert!(PoolId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn storage_ids() {
        for ok in ["local", "local-lvm", "nfs_backup.1", "Ceph2"] {
            assert_eq!(StorageId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "l", "1local", "local-", "lo/cal", "lo cal", "-x"] {
            assert!(StorageId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn upid_plain_user() {
        let s = "UPID:pve2-dogfood:00002AE3:000527E7:6A54D5CF:qmstop:9301:root@pam:";
        let u = Upid::parse(s).unwrap();
        assert_eq!(u.node().as_str(), "pve2-dogfood");
        assert_eq!(u.pid(), 0x2AE3);
        assert_eq!(u.pstart(), 0x527E7);
        assert_eq!(u.starttime(), 0x6A54_D5CF);
        assert_eq!(u.task_type(), "qmstop");
        assert_eq!(u.id(), "9301");
        assert_eq!(u.user(), "root@pam");
        assert_eq!(u.as_str(), s);
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn upid_token_user_and_empty_id() {
        let u =
            Upid::parse("UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam!sdk:").unwrap();
        assert_eq!(u.user(), "root@pam!sdk");
        assert_eq!(u.starttime(), 1_783_346_632);
        let u = Upid::parse("UPID:pve:0000CB00:001CF71E:6A864D51:acmeregister::root@pam:").unwrap();
        assert_eq!(u.id(), "");
        assert_eq!(u.task_type(), "acmeregister");
        // 9-digit pstart (long uptimes) is valid.
        assert!(Upid::parse("UPID:n1:000FF1FD:110F9374C:630D702C:vzdump:110:root@pam:").is_ok());
    }

    #[test]
    fn upid_rejects_malformed() {
        for bad in [
            "",
            "UPID:",
            "upid:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam:",
            "UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam",
            "UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam:extra",
            "UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102::",
            "UPID:pve:000586C3:0078E111:6A4BB5C8::9102:root@pam:",
            "UPID:p/e:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam:",
            "UPID:pve:XYZ:0078E111:6A4BB5C8:qmcreate:9102:root@pam:",
            "UPID:pve:1FFFFFFFF:0078E111:6A4BB5C8:qmcreate:9102:root@pam:",
            "UPID:pve:000586C3:0078E111:6A4BB5C8:qm create:9102:root@pam:",
            "UPID:pve:000586C3:0078E111:6A4BB5C8:qmstart:9102:root@pam:keep-running",
        ] {
            assert!(Upid::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn upid_serde() {
        let s = r#""UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:9102:root@pam!sdk:""#;
        let u: Upid = serde_json::from_str(s).unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), s);
        assert!(serde_json::from_str::<Upid>(r#""UPID:nope""#).is_err());
    }
}
