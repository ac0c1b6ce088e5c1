//! Users, API tokens, ACLs and the ticket signer: PVE's `user.cfg` and `authkey`, and
//! privilege evaluation (pve-access-control `PVE::RPCEnvironment::check`).
//!
//! Users: `root@pam` (all privileges), `auditor@pve` (PVEAuditor on `/`), and the API token
//! `root@pam!cecyber` (privilege separation off, so it has root's privileges).

mod acl;
mod ticket;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::Value;

use acl::{ALL_PRIVILEGES, has_privilege, privileges};
pub(crate) use acl::{AclEntry, BUILTIN_ROLES, role_privileges};
use ticket::{Signer, TICKET_LIFETIME};

use super::error::Error;
use crate::sim::util::{now_secs, random_uuid, secret_eq};
use crate::sim::{API_TOKEN_ID, SimConfig};

struct User {
    password: String,
    enabled: bool,
}

struct Token {
    secret: String,
    privsep: bool,
}

/// Users, tokens, ACL and the ticket signer.
pub(crate) struct AuthDb {
    users: BTreeMap<String, User>,
    tokens: BTreeMap<String, Token>,
    acl: Vec<AclEntry>,
    signer: Signer,
    /// Seconds a ticket stays valid (PVE: 2 h; shorter under the `ticket_lifetime_secs` fault).
    ticket_lifetime: AtomicI64,
}

impl AuthDb {
    /// The simulator's users and token, with fresh signing keys.
    pub(crate) fn new(config: &SimConfig) -> Self {
        let mut users = BTreeMap::new();
        users.insert(
            "root@pam".to_owned(),
            User {
                password: config.root_password.clone(),
                enabled: true,
            },
        );
        users.insert(
            "auditor@pve".to_owned(),
            User {
                password: config.auditor_password.clone(),
                enabled: true,
            },
        );
        let secret = config.api_token_secret.clone().unwrap_or_else(random_uuid);
        let mut tokens = BTreeMap::new();
        tokens.insert(
            API_TOKEN_ID.to_owned(),
            Token {
                secret,
                privsep: false,
            },
        );
        let acl = vec![AclEntry {
            path: "/".to_owned(),
            ugid: "auditor@pve".to_owned(),
            role: "PVEAuditor",
            propagate: true,
        }];
        Self {
            users,
            tokens,
            acl,
            signer: Signer::random(),
            ticket_lifetime: AtomicI64::new(TICKET_LIFETIME),
        }
    }

    /// The secret of token `tokenid` (`user@realm!name`).
    pub(crate) fn token_secret(&self, tokenid: &str) -> Option<&str> {
        self.tokens.get(tokenid).map(|t| t.secret.as_str())
    }

    /// True if `user` exists, is enabled and `password` is right.
    pub(crate) fn check_password(&self, user: &str, password: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.enabled && secret_eq(&u.password, password))
    }

    /// True if `user` exists and is enabled.
    pub(crate) fn user_enabled(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.enabled)
    }

    /// A new ticket and CSRF token for `user`.
    pub(crate) fn issue(&self, user: &str) -> (String, String) {
        let now = now_secs();
        (
            self.signer.ticket(user, now),
            self.signer.csrf_token(user, now),
        )
    }

    /// Tickets expire after `secs` seconds; `None` restores PVE's 2 hours.
    pub(crate) fn set_ticket_lifetime(&self, secs: Option<u64>) {
        let secs = secs.map_or(TICKET_LIFETIME, |s| i64::try_from(s).unwrap_or(i64::MAX));
        self.ticket_lifetime.store(secs, Ordering::Relaxed);
    }

    /// The user of a valid ticket whose user is still enabled.
    pub(crate) fn verify_ticket(&self, ticket: &str) -> Option<String> {
        let lifetime = self.ticket_lifetime.load(Ordering::Relaxed);
        self.signer
            .verify_ticket(ticket, now_secs(), lifetime)
            .filter(|u| self.user_enabled(u))
    }

    /// Checks `PVEAPIToken` value `user@realm!name=secret`: the token's auth ID if valid.
    pub(crate) fn verify_token(&self, value: &str) -> Option<String> {
        let (tokenid, secret) = value.rsplit_once('=')?;
        let (user, _) = tokenid.split_once('!')?;
        let token = self.tokens.get(tokenid)?;
        (self.user_enabled(user) && secret_eq(&token.secret, secret)).then(|| tokenid.to_owned())
    }

    /// True if `csrf` is a valid CSRF prevention token of `authid`.
    pub(crate) fn verify_csrf(&self, authid: &str, csrf: &str) -> bool {
        self.signer.verify_csrf(authid, csrf, now_secs())
    }

    /// Privileges of `authid` (user or token) on `path`.
    pub(crate) fn privileges(&self, authid: &str, path: &str) -> BTreeSet<&'static str> {
        let (user, token) = match authid.split_once('!') {
            Some((user, _)) => (user, self.tokens.get(authid)),
            None => (authid, None),
        };
        let user_privs = if user == "root@pam" {
            ALL_PRIVILEGES.iter().copied().collect()
        } else {
            privileges(&self.acl, user, path)
        };
        match token {
            Some(t) if t.privsep => {
                let own = privileges(&self.acl, authid, path);
                user_privs.intersection(&own).copied().collect()
            }
            _ => user_privs,
        }
    }

    /// True if `authid` has `privilege` on `path` (as [`AuthDb::privileges`], without sets).
    pub(crate) fn has(&self, authid: &str, path: &str, privilege: &str) -> bool {
        let (user, token) = match authid.split_once('!') {
            Some((user, _)) => (user, self.tokens.get(authid)),
            None => (authid, None),
        };
        let user_has = if user == "root@pam" {
            ALL_PRIVILEGES.contains(&privilege)
        } else {
            has_privilege(&self.acl, user, path, privilege)
        };
        match token {
            Some(t) if t.privsep => user_has && has_privilege(&self.acl, authid, path, privilege),
            _ => user_has,
        }
    }

    /// Refused unless `authid` has every privilege in `privs` on `path` (PVE names the first
    /// missing).
    pub(crate) fn check(&self, authid: &str, path: &str, privs: &[&str]) -> Result<(), Error> {
        let have = self.privileges(authid, path);
        match privs.iter().find(|p| !have.contains(**p)) {
            Some(missing) => Err(Error::Forbidden {
                path: path.to_owned(),
                privilege: (*missing).to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Every user: (user ID, enabled).
    pub(crate) fn users(&self) -> Vec<(&str, bool)> {
        self.users
            .iter()
            .map(|(id, u)| (id.as_str(), u.enabled))
            .collect()
    }

    /// Every API token: (token ID, privilege separation).
    pub(crate) fn tokens(&self) -> Vec<(&str, bool)> {
        self.tokens
            .iter()
            .map(|(id, t)| (id.as_str(), t.privsep))
            .collect()
    }

    /// The ACL entries.
    pub(crate) fn acl(&self) -> &[AclEntry] {
        &self.acl
    }

    /// The `cap` map of a login answer for `user`.
    pub(crate) fn cap(&self, user: &str) -> Value {
        acl::cap(|path| self.privileges(user, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> AuthDb {
        let cfg = SimConfig {
            api_token_secret: Some("s3cret".into()),
            ..SimConfig::default()
        };
        AuthDb::new(&cfg)
    }

    #[test]
    fn tokens_and_privileges() {
        let db = db();
        assert!(db.verify_token("root@pam!cecyber=s3cret").is_some());
        assert!(db.verify_token("root@pam!cecyber=wrong").is_none());
        assert!(db.verify_token("root@pam!other=s3cret").is_none());
        assert!(db.has("root@pam!cecyber", "/vms/100", "VM.PowerMgmt"));
        assert!(db.has("auditor@pve", "/vms/100", "VM.Audit"));
        let e = db
            .check("auditor@pve", "/vms/100", &["VM.PowerMgmt"])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Permission check failed (/vms/100, VM.PowerMgmt)"
        );
        assert!(db.check_password("auditor@pve", "auditor"));
        assert!(!db.check_password("auditor@pve", "x"));
    }
}
