//! The simulator over HTTPS: its self-signed certificate, the fingerprint it reports (handle,
//! `GET /nodes`), PVE's reason phrases in the status line, and plain HTTP on request.
//!
//! Run: `cargo test -p pve --features sim --test sim_tls`

#![cfg(feature = "sim")]

mod sim_support;

use std::sync::{Arc, Mutex};

use pve::sim::SimConfig;
use sha2::{Digest, Sha256};
use sim_support::{Client, start, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::verify_tls13_signature;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring, verify_tls12_signature};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

/// Accepts any certificate and keeps the one presented.
#[derive(Debug)]
struct Capture {
    seen: Mutex<Vec<u8>>,
    provider: CryptoProvider,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        *self.seen.lock().unwrap() = end_entity.to_vec();
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Sends one raw HTTP/1.1 request over TLS; returns (presented certificate, whole answer).
async fn raw_https(addr: std::net::SocketAddr, request: &str) -> (Vec<u8>, String) {
    let capture = Arc::new(Capture {
        seen: Mutex::new(Vec::new()),
        provider: ring::default_provider(),
    });
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let cert = capture.seen.lock().unwrap().clone();
    (cert, String::from_utf8_lossy(&out).into_owned())
}

fn hex_fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[tokio::test]
async fn https_with_the_reported_fingerprint() {
    let sim = start().await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    assert!(
        sim.certificate_pem()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let request = "GET /api2/json/version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (cert, answer) = raw_https(sim.local_addr(), request).await;
    assert_eq!(hex_fingerprint(&cert), sim.fingerprint());
    // pveproxy's status line carries the reason as its phrase
    assert!(answer.starts_with("HTTP/1.1 401 No ticket\r\n"), "{answer}");

    let c = Client::login(&sim, "root@pam", "secret").await;
    let nodes = c.get("/nodes").await;
    for n in nodes.data().as_array().unwrap() {
        assert_eq!(n["ssl_fingerprint"], sim.fingerprint());
    }
    // a reset keeps the fingerprint
    sim.state().reset();
    let nodes = c.get("/nodes").await;
    assert_eq!(nodes.data()[0]["ssl_fingerprint"], sim.fingerprint());
}

#[tokio::test]
async fn error_reason_phrase_is_the_first_line() {
    let sim = start().await;
    let (id, secret) = sim.api_token();
    let request = format!(
        "GET /api2/json/nodes/pve1/qemu/999/status/current HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: PVEAPIToken={id}={secret}\r\n\r\n"
    );
    let (_, answer) = raw_https(sim.local_addr(), &request).await;
    assert!(
        answer.starts_with(
            "HTTP/1.1 500 Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\r\n"
        ),
        "{answer}"
    );
    // pveproxy closes the connection after an error (read_to_end returned without our close)
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
}

#[tokio::test]
async fn plain_http_when_asked() {
    let sim = start_with(SimConfig {
        root_password: "secret".into(),
        tls: false,
        ..SimConfig::default()
    })
    .await;
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(sim.fingerprint(), "");
    let c = Client::login(&sim, "root@pam", "secret").await;
    let nodes = c.get("/nodes").await;
    let fp = nodes.data()[0]["ssl_fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 95);
}

/// vncproxy's `cert` (the cluster CA in PVE) is the served certificate, so a client trusting
/// it can verify the HTTPS connection the console uses.
#[tokio::test]
async fn vncproxy_cert_is_the_served_certificate() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = sim_support::find_vm(&c, |v| v["status"] == "running").await;
    let a = c
        .post(
            &format!("/nodes/{node}/qemu/{vmid}/vncproxy"),
            &[("websocket", "1")],
        )
        .await;
    let cert = a.data()["cert"].as_str().unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    assert_eq!(cert, sim.certificate_pem());
}
