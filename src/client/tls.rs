//! TLS trust for the HTTP client: CA file or pinned fingerprints as rustls configurations, and
//! turning handshake failures into [`Error::Tls`] with the presented certificate's fingerprint.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::config::TlsTrust;
use crate::error::{Error, Result};

/// The rustls configuration for `trust`; `None` means the client's built-in public roots.
pub(crate) fn client_config(trust: &TlsTrust) -> Result<Option<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        TlsTrust::System => return Ok(None),
        TlsTrust::CaFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| config_err(format!("cannot read CA file {}: {e}", path.display())))?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    config_err(format!("CA file {} is not valid PEM: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    config_err(format!(
                        "CA file {} holds an unusable certificate: {e}",
                        path.display()
                    ))
                })?;
            }
            if roots.is_empty() {
                return Err(config_err(format!(
                    "CA file {} holds no certificate",
                    path.display()
                )));
            }
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| config_err(format!("CA file {}: {e}", path.display())))?;
            Arc::new(CaVerifier { inner })
        }
        TlsTrust::Fingerprint(pins) => Arc::new(PinnedVerifier {
            pins: parse_fingerprints(pins)?,
            provider: provider.clone(),
        }),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(config))
}

fn config_err(message: String) -> Error {
    Error::Config { message }
}

/// Parses one or more SHA-256 fingerprints (hex, `:` optional, any case; separated by `,`, `;`
/// or whitespace).
pub(crate) fn parse_fingerprints(text: &str) -> Result<Vec<[u8; 32]>> {
    let pins: Vec<[u8; 32]> = text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(parse_fingerprint)
        .collect::<Result<_>>()?;
    if pins.is_empty() {
        return Err(config_err("no certificate fingerprint given".into()));
    }
    Ok(pins)
}

fn parse_fingerprint(text: &str) -> Result<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    let bad = || {
        let shown: String = text.chars().take(100).collect();
        config_err(format!(
            "{shown:?} is not a SHA-256 fingerprint (64 hex digits, optionally separated by ':')"
        ))
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// SHA-256 fingerprint of a DER certificate in PVE's `AA:BB:…` form.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    format_fingerprint(&Sha256::digest(der))
}

/// Formats bytes as upper-case hex pairs joined by `:`.
pub fn format_fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Why a certificate was refused, carried through rustls and reqwest as the source of the
/// handshake error.
#[derive(Debug)]
struct Rejected {
    reason: String,
    presented: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (presented certificate {})",
            self.reason, self.presented
        )
    }
}

impl StdError for Rejected {}

fn rejected(reason: String, end_entity: &CertificateDer<'_>) -> rustls::Error {
    let presented = certificate_fingerprint(end_entity.as_ref());
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Rejected {
        reason,
        presented,
    }))))
}

/// Accepts exactly the end-entity certificates whose SHA-256 is pinned.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if self.pins.contains(&digest) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rejected(
                "the certificate does not match the pinned fingerprint".into(),
                end_entity,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Standard chain and host-name verification against a CA file; a refusal records the
/// presented certificate's fingerprint.
#[derive(Debug)]
struct CaVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| rejected(describe(&e), end_entity))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// An operator-facing description of a rustls error.
fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the certificate is not issued by a trusted CA (pin its fingerprint or configure \
             the cluster CA)"
                .into()
        }
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "the certificate is not issued by a trusted CA (its issuer has a trusted CA's name \
             but a different key, e.g. another cluster's CA)"
                .into()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "the certificate is not valid for this host name".into(),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the certificate has expired".into(),
        other => other.to_string(),
    }
}

/// Finds a TLS failure anywhere in `err`'s source chain and turns it into [`Error::Tls`].
pub(crate) fn tls_error(err: &(dyn StdError + 'static)) -> Option<Error> {
    let tls = find_rustls_error(err)?;
    if let rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = tls
        && let Some(r) = inner.downcast_ref::<Rejected>()
    {
        return Some(Error::Tls {
            message: r.reason.clone(),
            presented_fingerprint: Some(r.presented.clone()),
        });
    }
    Some(Error::Tls {
        message: describe(tls),
        presented_fingerprint: None,
    })
}

fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // `io::Error::source` skips the wrapped error itself; look inside explicitly.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn StdError + 'static) = inner;
            if let Some(tls) = find_rustls_error(inner) {
                return Some(tls);
            }
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "80:D4:F2:DF:64:95:CD:8D:A0:82:82:AC:48:BA:C0:7A:1B:6B:87:8B:FE:B9:83:1C:95:4E:79:58:77:99:69:F5";

    #[test]
    fn fingerprints_parse_in_all_spellings() {
        let a = parse_fingerprints(FP).unwrap();
        let b = parse_fingerprints(&FP.replace(':', "").to_lowercase()).unwrap();
        assert_eq!(a, b);
        assert_eq!(format_fingerprint(&a[0]), FP);
        let two = parse_fingerprints(&format!("{FP}, {}", FP.replace(':', ""))).unwrap();
        assert_eq!(two.len(), 2);
        assert!(parse_fingerprints("").is_err());
        assert!(parse_fingerprints("AA:BB").is_err());
        assert!(parse_fingerprints(&FP.replace('8', "G")).is_err());
    }
}
