//! What the HTTP client needs to reach a cluster: endpoints, credentials, TLS trust, timeouts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Settings for [`HttpClient::new`](super::HttpClient::new).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URLs of the cluster's nodes, tried in order, e.g. `https://pve1.example:8006`
    /// (a trailing `/` or `/api2/json` is accepted). Any node of a cluster answers for all.
    pub endpoints: Vec<String>,
    /// How to log in.
    pub credentials: Credentials,
    /// Which server certificates to accept.
    pub tls: TlsTrust,
    /// Limit for establishing a TCP + TLS connection to one endpoint.
    pub connect_timeout: Duration,
    /// Limit for one whole HTTP request, connection included.
    pub request_timeout: Duration,
}

impl ClientConfig {
    /// Settings with system trust, a 5 s connect timeout and a 30 s request timeout.
    pub fn new(endpoints: Vec<String>, credentials: Credentials) -> Self {
        Self {
            endpoints,
            credentials,
            tls: TlsTrust::System,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// How the client authenticates. `Debug` never shows the secret or password.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// An API token: sent as `Authorization: PVEAPIToken=<token_id>=<secret>` on every request.
    Token {
        /// `user@realm!tokenname`, e.g. `root@pam!cecyber`.
        token_id: String,
        /// The token's secret (a UUID).
        secret: String,
    },
    /// A user and password: the client logs in for a ticket and renews it.
    Password {
        /// `user@realm`, e.g. `root@pam`.
        username: String,
        /// The password.
        password: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token { token_id, .. } => f
                .debug_struct("Token")
                .field("token_id", token_id)
                .field("secret", &"<redacted>")
                .finish(),
            Credentials::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// Which server certificates the client accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    /// Publicly trusted certificates (the Mozilla root store built into the client), checked
    /// against the endpoint's host name. For nodes with e.g. a Let's Encrypt certificate.
    System,
    /// Certificates issued by the CA(s) in this PEM file, checked against the endpoint's host
    /// name; e.g. the cluster CA `/etc/pve/pve-root-ca.pem`.
    CaFile(PathBuf),
    /// Exactly the certificate(s) with these SHA-256 fingerprints (hex, with or without `:`,
    /// any case; several separated by `,`, `;` or whitespace, one per node). Host name and
    /// expiry are not checked; the handshake signature is. PVE shows a node's fingerprint in
    /// `GET /nodes` (`ssl_fingerprint`) and under Node → System → Certificates.
    Fingerprint(String),
}
