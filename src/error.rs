//! The one error type of the `pve` crate: what went wrong talking to Proxmox VE, and whether
//! repeating the request is safe.
//!
//! It is plain data (no transport types inside), so it serialises and crosses to the browser.
//! Messages never contain credentials, tickets or secrets.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::ids::InvalidId;

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed call to Proxmox VE.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum Error {
    /// PVE refused the credentials (HTTP 401): wrong password, expired or revoked ticket or
    /// token, or a user that needs two-factor authentication.
    ///
    /// Retry: not safe as such. The HTTP client already logs in again once by itself; if this
    /// still comes back, the credentials need fixing.
    #[error("Proxmox VE refused the credentials: {message}")]
    Unauthorized {
        /// PVE's reason, or a description of what was refused.
        message: String,
    },

    /// The user or token lacks a privilege (HTTP 403).
    ///
    /// Retry: not useful until someone changes the permissions in PVE.
    #[error("{}", forbidden_text(.message, .permission.as_ref()))]
    Forbidden {
        /// PVE's message, e.g. `Permission check failed (/vms/100, VM.PowerMgmt)`.
        message: String,
        /// The ACL path and privilege, when PVE named them.
        permission: Option<Permission>,
    },

    /// The node, guest, task or path does not exist (HTTP 404, or PVE's HTTP 500 with a message
    /// such as `Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist`).
    ///
    /// Retry: not useful.
    #[error("not found in Proxmox VE: {message}")]
    NotFound {
        /// PVE's message.
        message: String,
    },

    /// PVE rejected the parameters (HTTP 400, "Parameter verification failed."), or the client
    /// refused to send them because its endpoint table does not allow them (the message then
    /// starts with `not sent:`; nothing reached PVE).
    ///
    /// Retry: not useful with the same parameters.
    #[error("{}", parameters_text(.message, .errors))]
    InvalidParameters {
        /// PVE's summary message.
        message: String,
        /// Per-parameter messages: parameter name → what is wrong with it.
        errors: BTreeMap<String, String>,
    },

    /// PVE answered with an error status not covered by another variant (mostly HTTP 500: the
    /// request handler failed, e.g. "VM is locked", or 501: the endpoint does not exist in this
    /// PVE version).
    ///
    /// Retry: safe only for 502, 503 and 504 (a proxy or PVE itself was briefly unavailable).
    /// PVE's 500s are usually deterministic; a repeated action fails the same way.
    #[error("Proxmox VE error (HTTP {status}): {message}")]
    Upstream {
        /// HTTP status code.
        status: u16,
        /// PVE's message.
        message: String,
    },

    /// PVE did not answer within the request timeout. The request was sent: an action may
    /// have been started anyway.
    ///
    /// Retry: safe for reads (the HTTP client retries GETs itself). Not safe for actions: look at
    /// the guest's state or the task list first.
    #[error("Proxmox VE did not answer in time")]
    Timeout,

    /// No connection to PVE could be made (refused, unreachable, DNS failure, connect timeout),
    /// on every configured endpoint; or PVE could not reach the node that owns the resource
    /// (pveproxy's HTTP 595/596).
    ///
    /// Retry: safe. The request did not reach the node that would have carried it out.
    #[error("cannot connect to Proxmox VE: {message}")]
    Connect {
        /// What failed, with the endpoint.
        message: String,
    },

    /// The connection broke after the request was sent, before the answer arrived.
    ///
    /// Retry: safe for reads (the HTTP client retries GETs itself). Not safe for actions: PVE
    /// may have carried out the request.
    #[error("connection to Proxmox VE broke during the request: {message}")]
    Interrupted {
        /// What failed, with the endpoint.
        message: String,
    },

    /// The TLS connection was refused: the server's certificate did not match the pinned
    /// fingerprint, or is not trusted by the configured CA.
    ///
    /// Retry: not useful until the certificate or the trust settings are fixed.
    #[error("{}", tls_text(.message, .presented_fingerprint.as_deref()))]
    Tls {
        /// Why the certificate was refused.
        message: String,
        /// SHA-256 fingerprint of the certificate the server presented (`AA:BB:…`), if known;
        /// lets an operator pin it after checking it on the node.
        presented_fingerprint: Option<String>,
    },

    /// PVE's answer could not be understood (not JSON, or not the expected shape).
    ///
    /// Retry: not useful; this points to a PVE version this crate does not handle.
    #[error("unexpected answer from Proxmox VE: {message}")]
    Decode {
        /// What did not match.
        message: String,
    },

    /// A node name, VM ID, UPID or storage ID was invalid; nothing was sent.
    ///
    /// Retry: not useful.
    #[error(transparent)]
    InvalidId(InvalidId),

    /// A PVE task ended with an error.
    ///
    /// Retry: depends on the task; PVE's exit status says why it failed.
    #[error("task {upid} failed: {exitstatus}")]
    TaskFailed {
        /// The task's UPID.
        upid: String,
        /// PVE's exit status, e.g. `VM 100 already running` or `interrupted by signal`.
        exitstatus: String,
    },

    /// The client configuration is unusable (no endpoint, malformed URL, unreadable CA file,
    /// malformed fingerprint or token ID); nothing was sent.
    ///
    /// Retry: not useful until the configuration is fixed.
    #[error("invalid Proxmox VE connection settings: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// True when repeating the same request cannot cause harm and may succeed.
    ///
    /// `Timeout` and `Interrupted` return false: the request may have been carried out. A read
    /// can still be repeated after them (the HTTP client does that itself for GETs).
    pub fn retry_safe(&self) -> bool {
        match self {
            Error::Connect { .. } => true,
            Error::Upstream { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Builds [`Error::Forbidden`] from PVE's message, picking out the permission.
    pub fn forbidden(message: impl Into<String>) -> Self {
        let message = tidy(message.into());
        let permission = Permission::parse(&message);
        Error::Forbidden {
            message,
            permission,
        }
    }

    /// The error PVE means by a non-success HTTP status and its (trimmed) message.
    ///
    /// `errors` is the body's per-parameter map (HTTP 400). An empty `message` is replaced by a
    /// description of the status.
    pub fn from_status(status: u16, message: &str, errors: BTreeMap<String, String>) -> Self {
        let message = tidy(message.to_owned());
        let or_default =
            |m: String, default: &str| if m.is_empty() { default.to_owned() } else { m };
        match status {
            400 => Error::InvalidParameters {
                message: or_default(message, "Parameter verification failed."),
                errors,
            },
            401 => Error::Unauthorized {
                message: or_default(message, "no valid ticket or API token (HTTP 401)"),
            },
            403 => Error::forbidden(or_default(message, "permission denied (HTTP 403)")),
            404 => Error::NotFound {
                message: or_default(message, "no such resource (HTTP 404)"),
            },
            500 if looks_like_not_found(&message) => Error::NotFound { message },
            595 | 596 => Error::Connect {
                message: format!(
                    "the contacted node could not reach the node that owns the resource \
                     (HTTP {status}): {}",
                    or_default(message, "no route")
                ),
            },
            _ => Error::Upstream {
                status,
                message: or_default(message, &format!("HTTP {status}")),
            },
        }
    }
}

impl From<InvalidId> for Error {
    fn from(e: InvalidId) -> Self {
        Error::InvalidId(e)
    }
}

/// The ACL path and privilege of a failed permission check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// ACL path, e.g. `/vms/100`.
    pub path: String,
    /// Privilege (or `|`-separated alternatives), e.g. `VM.PowerMgmt`.
    pub privilege: String,
}

impl Permission {
    /// Reads `Permission check failed (/vms/100, VM.PowerMgmt)`; `None` for other messages.
    pub fn parse(message: &str) -> Option<Self> {
        let start = message.find("Permission check failed (")? + "Permission check failed (".len();
        let inner = &message[start..];
        let inner = &inner[..inner.find(')')?];
        let (path, privilege) = inner.split_once(',')?;
        let (path, privilege) = (path.trim(), privilege.trim());
        let priv_ok = !privilege.is_empty()
            && privilege
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '|' | '_' | '-'));
        let path_ok = path.starts_with('/') && !path.contains(char::is_whitespace);
        (priv_ok && path_ok).then(|| Self {
            path: path.to_owned(),
            privilege: privilege.to_owned(),
        })
    }
}

/// PVE ends messages with a newline; drop surrounding whitespace.
fn tidy(mut s: String) -> String {
    let trimmed = s.trim();
    if trimmed.len() != s.len() {
        s = trimmed.to_owned();
    }
    s
}

/// PVE reports most missing objects as HTTP 500 with one of these phrasings.
fn looks_like_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("does not exist") || m.contains("no such ") || m.contains("not found")
}

fn forbidden_text(message: &str, permission: Option<&Permission>) -> String {
    match permission {
        Some(p) => format!(
            "permission denied by Proxmox VE: privilege {} is required on {}",
            p.privilege, p.path
        ),
        None => format!("permission denied by Proxmox VE: {message}"),
    }
}

fn parameters_text(message: &str, errors: &BTreeMap<String, String>) -> String {
    let mut out = format!("Proxmox VE rejected the request: {message}");
    for (i, (param, msg)) in errors.iter().enumerate() {
        let sep = if i == 0 { " " } else { "; " };
        let _ = write!(out, "{sep}{param}: {}", msg.trim());
    }
    out
}

fn tls_text(message: &str, fingerprint: Option<&str>) -> String {
    match fingerprint {
        Some(fp) => format!(
            "TLS check of Proxmox VE failed: {message} (the server presented a certificate \
             with SHA-256 fingerprint {fp})"
        ),
        None => format!("TLS check of Proxmox VE failed: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_parse() {
        let p = Permission::parse("Permission check failed (/vms/100, VM.PowerMgmt)\n").unwrap();
        assert_eq!(p.path, "/vms/100");
        assert_eq!(p.privilege, "VM.PowerMgmt");
        let p = Permission::parse("Permission check failed (/, Sys.Audit)").unwrap();
        assert_eq!(p.path, "/");
        assert!(Permission::parse("Permission check failed (user != root@pam)").is_none());
        assert!(
            Permission::parse(
                "Permission check failed (URI '/access/password' not available with API token, \
                 need proper ticket.\n)"
            )
            .is_none()
        );
        assert!(Permission::parse("something else").is_none());
    }

    #[test]
    fn status_mapping() {
        let e = Error::from_status(
            403,
            "Permission check failed (/vms/100, VM.PowerMgmt)\n",
            BTreeMap::new(),
        );
        match &e {
            Error::Forbidden {
                message,
                permission: Some(p),
            } => {
                assert_eq!(message, "Permission check failed (/vms/100, VM.PowerMgmt)");
                assert_eq!(p.privilege, "VM.PowerMgmt");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.to_string(),
            "permission denied by Proxmox VE: privilege VM.PowerMgmt is required on /vms/100"
        );
        let e = Error::from_status(
            500,
            "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
            BTreeMap::new(),
        );
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        let e = Error::from_status(500, "VM 100 already running\n", BTreeMap::new());
        assert_eq!(
            e,
            Error::Upstream {
                status: 500,
                message: "VM 100 already running".into()
            }
        );
        assert!(!e.retry_safe());
        let e = Error::from_status(401, "", BTreeMap::new());
        assert!(matches!(e, Error::Unauthorized { .. }));
        let e = Error::from_status(595, "Connection refused", BTreeMap::new());
        assert!(matches!(e, Error::Connect { .. }) && e.retry_safe());
        assert!(Error::from_status(503, "", BTreeMap::new()).retry_safe());
    }

    #[test]
    fn parameters_display() {
        let mut errors = BTreeMap::new();
        errors.insert(
            "vmid".to_owned(),
            "value must have a minimum value of 100".to_owned(),
        );
        errors.insert("name".to_owned(), "invalid format\n".to_owned());
        let e = Error::from_status(400, "Parameter verification failed.\n", errors);
        assert_eq!(
            e.to_string(),
            "Proxmox VE rejected the request: Parameter verification failed. \
             name: invalid format; vmid: value must have a minimum value of 100"
        );
    }

    #[test]
    fn serde_round_trip() {
        let all = vec![
            Error::forbidden("Permission check failed (/vms/100, VM.PowerMgmt)"),
            Error::Timeout,
            Error::InvalidId(InvalidId::new("UPID", "x")),
            Error::Tls {
                message: "mismatch".into(),
                presented_fingerprint: Some("AA:BB".into()),
            },
            Error::TaskFailed {
                upid: "UPID:x".into(),
                exitstatus: "boom".into(),
            },
        ];
        for e in all {
            let json = serde_json::to_string(&e).unwrap();
            let back: Error = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e, "{json}");
        }
    }
}
