//! Users and permissions: `GET /access/users`, `/access/roles`, `/access/acl` and
//! `/access/permissions`, and what a login answer says about the user.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::de;

/// An API token of a user (in `GET /access/users?full=1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserToken {
    /// Token name (after the `!`).
    #[serde(deserialize_with = "de::string_lenient")]
    pub tokenid: String,
    /// Description.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
    /// Expiry, Unix seconds (0 = never).
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub expire: Option<i64>,
    /// True when the token has its own, separate ACLs (PVE's default).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub privsep: Option<bool>,
}

/// One entry of `GET /access/users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `name@realm`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub userid: String,
    /// False when the account is disabled (PVE's default: enabled).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub enable: Option<bool>,
    /// Expiry, Unix seconds (0 = never).
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub expire: Option<i64>,
    /// First name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub lastname: Option<String>,
    /// E-mail address.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub email: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
    /// Groups, comma-separated.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub groups: Option<String>,
    /// Realm type (`pam`, `pve`, `ldap`, `ad`, `openid`).
    #[serde(rename = "realm-type", default, deserialize_with = "de::opt_string")]
    pub realm_type: Option<String>,
    /// API tokens (only with `full=1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<UserToken>>,
}

impl User {
    /// True unless the account is disabled.
    pub fn is_enabled(&self) -> bool {
        self.enable != Some(false)
    }

    /// The realm, after the `@`.
    pub fn realm(&self) -> &str {
        self.userid.rsplit_once('@').map_or("", |(_, r)| r)
    }
}

/// One entry of `GET /access/roles`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// Role name, e.g. `PVEVMAdmin`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub roleid: String,
    /// Privileges, comma-separated; see [`Role::privilege_list`].
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub privs: String,
    /// True for PVE's built-in roles.
    #[serde(default, deserialize_with = "de::bool_lenient")]
    pub special: bool,
}

impl Role {
    /// The privileges, split.
    pub fn privilege_list(&self) -> Vec<&str> {
        self.privs
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

/// One entry of `GET /access/acl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AclEntry {
    /// ACL path, e.g. `/vms/100`.
    #[serde(deserialize_with = "de::string_lenient")]
    pub path: String,
    /// `user`, `group` or `token`.
    #[serde(rename = "type", deserialize_with = "de::string_lenient")]
    pub kind: String,
    /// User, group or token ID.
    #[serde(deserialize_with = "de::string_lenient")]
    pub ugid: String,
    /// Role granted.
    #[serde(deserialize_with = "de::string_lenient")]
    pub roleid: String,
    /// True when the grant applies to sub-paths too (PVE's default).
    #[serde(default = "yes", deserialize_with = "de::bool_lenient")]
    pub propagate: bool,
}

fn yes() -> bool {
    true
}

/// The answer of `GET /access/permissions`: ACL path → privilege → whether it propagates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Permissions(
    #[serde(deserialize_with = "de_perms")] pub BTreeMap<String, BTreeMap<String, bool>>,
);

fn de_perms<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, BTreeMap<String, bool>>, D::Error> {
    #[derive(Deserialize)]
    struct Flag(#[serde(deserialize_with = "de::bool_lenient")] bool);
    let raw = BTreeMap::<String, BTreeMap<String, Flag>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(path, privs)| (path, privs.into_iter().map(|(p, f)| (p, f.0)).collect()))
        .collect())
}

impl Permissions {
    /// True when `privilege` is granted exactly on `path` (PVE already resolved inheritance
    /// for the paths it lists).
    pub fn has(&self, path: &str, privilege: &str) -> bool {
        self.0.get(path).is_some_and(|p| p.contains_key(privilege))
    }

    /// The privileges on `path`.
    pub fn on(&self, path: &str) -> Vec<&str> {
        self.0
            .get(path)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// The non-secret part of the answer of `POST /access/ticket`: who logged in, the cluster,
/// and the user's capabilities per area. The ticket and CSRF token are not kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketInfo {
    /// The user as PVE spells it, e.g. `root@pam`.
    #[serde(default, deserialize_with = "de::string_lenient")]
    pub username: String,
    /// Cluster name (missing on a single node without a cluster).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub clustername: Option<String>,
    /// Capabilities: area (`vms`, `storage`, `nodes`, `access`, `dc`, `sdn`, `mapping`) →
    /// privilege → whether it propagates.
    #[serde(default)]
    pub cap: Permissions,
    /// True when the user still has to answer a second factor.
    #[serde(rename = "NeedTFA", default, deserialize_with = "de::bool_lenient")]
    pub need_tfa: bool,
}

impl TicketInfo {
    /// True when the user has `privilege` in capability area `area` (e.g. `vms`,
    /// `VM.PowerMgmt`) somewhere.
    pub fn can(&self, area: &str, privilege: &str) -> bool {
        self.cap.has(area, privilege)
    }
}
