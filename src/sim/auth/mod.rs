//! Who is calling: users, API tokens, tickets and CSRF tokens, and the middleware that
//! authenticates every `/api2/json` request the way pve-manager's `auth_handler` does.
//!
//! Users: `root@pam` (all privileges), `auditor@pve` (PVEAuditor on `/`), and the API token
//! `root@pam!cecyber` (privilege separation off, so it has root's privileges).

mod acl;
mod ticket;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use acl::{ALL_PRIVILEGES, has_privilege, privileges};
pub(crate) use acl::{AclEntry, BUILTIN_ROLES, role_privileges};
use ticket::{Signer, TICKET_LIFETIME};

use super::reply::ApiError;
use super::state::SimState;
use super::util::{now_secs, secret_eq};
use super::{API_TOKEN_ID, SimConfig};

/// An authenticated caller, put into the request's extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    /// `user@realm`, or `user@realm!tokenid` for an API token (PVE's "auth ID").
    pub authid: String,
    /// True when authenticated by an API token (no CSRF check).
    pub via_token: bool,
}

/// A caller of the few endpoints that need no authentication (`/access/ticket`).
#[derive(Clone, Debug)]
pub(crate) struct Anonymous {
    /// An `Authorization: PVEAPIToken=…` header was sent (and no ticket).
    pub api_token: bool,
}

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
        let secret = config
            .api_token_secret
            .clone()
            .unwrap_or_else(super::util::random_uuid);
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

    /// Checks `PVEAPIToken` value `user@realm!name=secret`.
    fn verify_token(&self, value: &str) -> Option<Principal> {
        let (tokenid, secret) = value.rsplit_once('=')?;
        let (user, _) = tokenid.split_once('!')?;
        let token = self.tokens.get(tokenid)?;
        (self.user_enabled(user) && secret_eq(&token.secret, secret)).then(|| Principal {
            authid: tokenid.to_owned(),
            via_token: true,
        })
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

    /// 403 unless `authid` has every privilege in `privs` on `path` (PVE names the first missing).
    pub(crate) fn check(&self, authid: &str, path: &str, privs: &[&str]) -> Result<(), ApiError> {
        let have = self.privileges(authid, path);
        match privs.iter().find(|p| !have.contains(**p)) {
            Some(missing) => Err(ApiError::forbidden(path, missing)),
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

/// Middleware: authenticates the request (ticket cookie, else API token), checks the CSRF token
/// of ticket-authenticated writes, and stores a [`Principal`] (or [`Anonymous`] for the
/// endpoints PVE leaves open).
pub(crate) async fn authenticate(
    State(st): State<SimState>,
    mut req: Request,
    next: Next,
) -> Response {
    let rel = super::routes::rel_path(req.uri().path()).to_owned();
    let method = req.method().clone();
    let headers = req.headers();
    let ticket = auth_value(headers, header::COOKIE, "PVEAuthCookie")
        .or_else(|| auth_value(headers, header::AUTHORIZATION, "PVEAuthCookie"));
    let api_token = if ticket.is_none() {
        auth_value(headers, header::AUTHORIZATION, "PVEAPIToken")
    } else {
        None
    };
    let open = (rel == "/access/ticket" && (method == Method::GET || method == Method::POST))
        || (rel == "/access/domains" && method == Method::GET);
    if open {
        req.extensions_mut().insert(Anonymous {
            api_token: api_token.is_some(),
        });
        return next.run(req).await;
    }
    let principal = match (api_token, ticket) {
        (Some(token), _) => st.auth().verify_token(&token),
        (None, Some(ticket)) => st.auth().verify_ticket(&ticket).map(|authid| Principal {
            authid,
            via_token: false,
        }),
        (None, None) => return ApiError::unauthorized("No ticket").into_response(),
    };
    let Some(principal) = principal else {
        return ApiError::unauthorized("Authentication failed!").into_response();
    };
    if method != Method::GET && !principal.via_token {
        let csrf = headers
            .get("CSRFPreventionToken")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !st
            .auth()
            .signer
            .verify_csrf(&principal.authid, csrf, now_secs())
        {
            return ApiError::unauthorized("Permission denied - invalid csrf token")
                .into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// pve-http-server's `extract_auth_value`: `key=value` (or `key value`) at the start of the
/// header or after white space, up to `;`, URI-unescaped.
fn auth_value(headers: &HeaderMap, name: header::HeaderName, key: &str) -> Option<String> {
    let text = headers.get(name)?.to_str().ok()?;
    let mut from = 0;
    while let Some(pos) = text[from..].find(key).map(|p| p + from) {
        let after = pos + key.len();
        let starts_ok = pos == 0 || text[..pos].ends_with(char::is_whitespace);
        if starts_ok && matches!(text[after..].chars().next(), Some('=' | ' ')) {
            let value = text[after + 1..].split(';').next().unwrap_or("");
            let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
            return (!value.is_empty()).then_some(value);
        }
        from = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn db() -> AuthDb {
        let cfg = SimConfig {
            api_token_secret: Some("s3cret".into()),
            ..SimConfig::default()
        };
        AuthDb::new(&cfg)
    }

    #[test]
    fn cookie_and_token_extraction() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; PVEAuthCookie=PVE%3Aroot%40pam%3A1::x; c=d"),
        );
        assert_eq!(
            auth_value(&h, header::COOKIE, "PVEAuthCookie").unwrap(),
            "PVE:root@pam:1::x"
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("PVEAPIToken=root@pam!cecyber=abc"),
        );
        assert_eq!(
            auth_value(&h, header::AUTHORIZATION, "PVEAPIToken").unwrap(),
            "root@pam!cecyber=abc"
        );
        h.insert(header::COOKIE, HeaderValue::from_static("XPVEAuthCookie=1"));
        assert_eq!(auth_value(&h, header::COOKIE, "PVEAuthCookie"), None);
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
            e.message,
            "Permission check failed (/vms/100, VM.PowerMgmt)\n"
        );
        assert!(db.check_password("auditor@pve", "auditor"));
        assert!(!db.check_password("auditor@pve", "x"));
    }
}
