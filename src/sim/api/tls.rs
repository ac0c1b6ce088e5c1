//! The simulator's TLS identity: a self-signed certificate made at start, like the one a fresh
//! PVE node serves before anyone installs a real one (here for `localhost` and `127.0.0.1`),
//! and its SHA-256 fingerprint in PVE's `AA:BB:…` form (`ssl_fingerprint` of `GET /nodes`).

use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// A certificate with its key, ready to serve.
#[derive(Clone)]
pub(crate) struct Identity {
    /// rustls settings for the server (HTTP/1.1 only, as pveproxy).
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the DER certificate, `AA:BB:…` (upper-case hex).
    pub fingerprint: String,
    /// The certificate in PEM form (what `/etc/pve/local/pve-ssl.pem` would hold).
    pub cert_pem: String,
}

/// Makes a fresh self-signed certificate for `localhost` / `127.0.0.1`.
pub(crate) fn self_signed() -> Result<Identity, String> {
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(|e| format!("certificate parameters: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Proxmox Virtual Environment");
    dn.push(DnType::OrganizationalUnitName, "PVE Cluster Node");
    dn.push(DnType::CommonName, "localhost");
    params.distinguished_name = dn;
    let key = KeyPair::generate().map_err(|e| format!("key generation: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("self-signing: {e}"))?;
    let der: CertificateDer<'static> = cert.der().clone();
    let fingerprint = fingerprint(&der);
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![der], private)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity {
        config: Arc::new(config),
        fingerprint,
        cert_pem: cert.pem(),
    })
}

/// SHA-256 of `der` as upper-case hex pairs joined by `:`.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_shape() {
        let id = self_signed().unwrap();
        assert_eq!(id.fingerprint.len(), 32 * 3 - 1);
        assert!(
            id.fingerprint
                .bytes()
                .all(|b| b == b':' || b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        assert!(id.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(self_signed().unwrap().fingerprint, id.fingerprint);
    }
}
