//! Authentication state: the API token header, or the login ticket with its CSRF token, when to
//! renew it, and one login at a time.
//!
//! The HTTP exchange itself lives in `http.rs`; this module only builds forms, reads the login
//! answer and keeps the current session.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::HeaderValue;
use serde::Deserialize;
use tokio::time::Instant;

use super::config::Credentials;
use crate::error::{Error, Result};
use crate::types::{Params, de};

/// PVE's UI renews its ticket every 15 minutes; so do we.
pub(crate) const DEFAULT_RENEW_AFTER: Duration = Duration::from_secs(15 * 60);
/// Tickets are valid for 2 hours; past this age we log in afresh instead of renewing.
const MAX_TICKET_AGE: Duration = Duration::from_secs(2 * 60 * 60 - 10 * 60);

/// Characters kept as they are in the cookie value (like JavaScript's `encodeURIComponent`).
const COOKIE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How requests are authenticated.
pub(crate) enum Auth {
    /// `Authorization: PVEAPIToken=…`, the same on every request.
    Token(HeaderValue),
    /// Login ticket.
    Ticket(TicketAuth),
}

impl Auth {
    /// Checks the credentials' shape; nothing is sent.
    pub(crate) fn new(credentials: &Credentials) -> Result<Self> {
        match credentials {
            Credentials::Token { token_id, secret } => {
                let (user, name) = token_id.split_once('!').unwrap_or((token_id, ""));
                if !user.contains('@') || name.is_empty() || !clean(token_id) {
                    return Err(Error::Config {
                        message: format!(
                            "API token ID {:?} must look like user@realm!tokenname",
                            token_id.chars().take(100).collect::<String>()
                        ),
                    });
                }
                if secret.is_empty() || !clean(secret) {
                    return Err(Error::Config {
                        message: "the API token secret is empty or contains spaces or control \
                                  characters"
                            .into(),
                    });
                }
                let mut value = HeaderValue::from_str(&format!("PVEAPIToken={token_id}={secret}"))
                    .map_err(|_| Error::Config {
                        message: "the API token contains characters not allowed in a header".into(),
                    })?;
                value.set_sensitive(true);
                Ok(Auth::Token(value))
            }
            Credentials::Password { username, password } => {
                if !username.contains('@') || !clean(username) || username.contains('!') {
                    return Err(Error::Config {
                        message: format!(
                            "user name {:?} must look like user@realm (e.g. root@pam)",
                            username.chars().take(100).collect::<String>()
                        ),
                    });
                }
                if password.is_empty() {
                    return Err(Error::Config {
                        message: "the password is empty".into(),
                    });
                }
                Ok(Auth::Ticket(TicketAuth {
                    username: username.clone(),
                    password: password.clone(),
                    renew_after_ms: AtomicU64::new(DEFAULT_RENEW_AFTER.as_millis() as u64),
                    current: Mutex::new(None),
                    login_lock: tokio::sync::Mutex::new(()),
                    generation: AtomicU64::new(0),
                }))
            }
        }
    }
}

/// No whitespace or control characters.
fn clean(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Ticket login state, shared by all requests of one client.
pub(crate) struct TicketAuth {
    username: String,
    password: String,
    renew_after_ms: AtomicU64,
    current: Mutex<Option<Arc<Session>>>,
    /// Held while logging in or renewing, so concurrent requests wait for one login.
    login_lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

/// A valid ticket, ready to be sent.
pub(crate) struct Session {
    /// `PVEAuthCookie=<url-encoded ticket>`.
    pub(crate) cookie: HeaderValue,
    /// The `CSRFPreventionToken` header value, for every non-GET request.
    pub(crate) csrf: HeaderValue,
    /// Identifies this session for [`TicketAuth::invalidate`].
    pub(crate) generation: u64,
    ticket: String,
    username: String,
    obtained: Instant,
}

impl TicketAuth {
    /// The lock to hold while logging in.
    pub(crate) fn login_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.login_lock
    }

    /// Sets how old a ticket may get before it is renewed.
    pub(crate) fn set_renew_after(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.renew_after_ms.store(ms, Ordering::Relaxed);
    }

    fn current(&self) -> Option<Arc<Session>> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current session if it does not need renewing yet.
    pub(crate) fn fresh(&self) -> Option<Arc<Session>> {
        let renew_after = Duration::from_millis(self.renew_after_ms.load(Ordering::Relaxed));
        self.current()
            .filter(|s| s.obtained.elapsed() < renew_after)
    }

    /// The current session if its ticket can still be renewed (or used).
    pub(crate) fn renewable(&self) -> Option<Arc<Session>> {
        self.current()
            .filter(|s| s.obtained.elapsed() < MAX_TICKET_AGE)
    }

    /// Forgets the session `generation` after PVE refused it (a newer one is kept).
    pub(crate) fn invalidate(&self, generation: u64) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|s| s.generation == generation) {
            *current = None;
        }
    }

    /// Form for a login with the password.
    pub(crate) fn password_form(&self) -> Params {
        let mut p = Params::new();
        p.str("username", &self.username)
            .str("password", &self.password);
        p
    }

    /// Form that renews `session`'s ticket (the ticket is sent as the password).
    pub(crate) fn renew_form(&self, session: &Session) -> Params {
        let mut p = Params::new();
        p.str("username", &session.username)
            .str("password", &session.ticket);
        p
    }

    /// Reads the answer of `POST /access/ticket` and makes it the current session.
    pub(crate) fn install(&self, body: &[u8]) -> Result<Arc<Session>> {
        let reply = parse_login(body)?;
        let cookie = format!(
            "PVEAuthCookie={}",
            utf8_percent_encode(&reply.ticket, COOKIE_ENCODE)
        );
        let bad = |_| Error::Decode {
            message: "the login answer holds an unusable ticket".into(),
        };
        let mut cookie = HeaderValue::from_str(&cookie).map_err(bad)?;
        cookie.set_sensitive(true);
        let mut csrf = HeaderValue::from_str(&reply.csrf).map_err(bad)?;
        csrf.set_sensitive(true);
        let session = Arc::new(Session {
            cookie,
            csrf,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            ticket: reply.ticket,
            username: reply.username.unwrap_or_else(|| self.username.clone()),
            obtained: Instant::now(),
        });
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        Ok(session)
    }
}

/// The fields of the login answer we use.
#[derive(Deserialize)]
struct LoginReply {
    ticket: String,
    #[serde(rename = "CSRFPreventionToken")]
    csrf: String,
    #[serde(default, deserialize_with = "de::opt_string")]
    username: Option<String>,
    #[serde(rename = "NeedTFA", default, deserialize_with = "de::bool_lenient")]
    need_tfa: bool,
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<LoginReply>,
}

fn parse_login(body: &[u8]) -> Result<LoginReply> {
    // serde's messages may quote values, and these values are secrets: say only what is wrong.
    let reply = serde_json::from_slice::<Envelope>(body)
        .ok()
        .and_then(|e| e.data)
        .ok_or_else(|| Error::Decode {
            message: "the login answer lacks a ticket or CSRF token".into(),
        })?;
    if reply.need_tfa {
        return Err(Error::Unauthorized {
            message: "this user must use two-factor authentication, which Cecyber does not \
                      support; use an API token instead"
                .into(),
        });
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password() -> Credentials {
        Credentials::Password {
            username: "root@pam".into(),
            password: "s3cret".into(),
        }
    }

    #[test]
    fn credential_shapes() {
        let token = |id: &str, secret: &str| {
            Auth::new(&Credentials::Token {
                token_id: id.into(),
                secret: secret.into(),
            })
        };
        assert!(token("root@pam!cecyber", "aaaa-bbbb").is_ok());
        assert!(token("root@pam", "aaaa").is_err());
        assert!(token("root!x", "aaaa").is_err());
        assert!(token("root@pam!x", "").is_err());
        assert!(token("root@pam!x", "a b").is_err());
        let err = token("root@pam!x", "se\ncret").err().unwrap();
        assert!(!err.to_string().contains("se\ncret"));
        assert!(Auth::new(&password()).is_ok());
        let user = |u: &str| {
            Auth::new(&Credentials::Password {
                username: u.into(),
                password: "p".into(),
            })
        };
        assert!(user("root").is_err());
        assert!(user("root@pam!tok").is_err());
    }

    #[test]
    fn login_answer() {
        let Auth::Ticket(t) = Auth::new(&password()).unwrap() else {
            panic!()
        };
        let body = br#"{"data":{"username":"root@pam","ticket":"PVE:root@pam:6A4BB5C8::a+b/c=","CSRFPreventionToken":"6A4BB5C8:xyz","cap":{}}}"#;
        let s = t.install(body).unwrap();
        assert_eq!(
            s.cookie.to_str().unwrap(),
            "PVEAuthCookie=PVE%3Aroot%40pam%3A6A4BB5C8%3A%3Aa%2Bb%2Fc%3D"
        );
        assert!(s.cookie.is_sensitive());
        assert!(t.fresh().is_some());
        assert_eq!(
            t.renew_form(&s).get("password").unwrap().encode(),
            "PVE:root@pam:6A4BB5C8::a+b/c="
        );
        t.invalidate(s.generation + 1);
        assert!(t.fresh().is_some());
        t.invalidate(s.generation);
        assert!(t.fresh().is_none());

        let tfa = br#"{"data":{"username":"a@pve","ticket":"PVE:!tfa!x","CSRFPreventionToken":"c","NeedTFA":1}}"#;
        assert!(matches!(t.install(tfa), Err(Error::Unauthorized { .. })));
        let err = t.install(br#"{"data":{"ticket":12}}"#).err().unwrap();
        assert!(matches!(err, Error::Decode { .. }));
    }
}
