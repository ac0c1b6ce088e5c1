// TLS trust of the HTTP client against a local HTTPS server whose certificate is issued by a
// throw-away CA (like a PVE node certificate signed by the cluster CA): pinned fingerprints,
// CA file, and refusal by the built-in public roots.
//
// Run: cargo test -p pve --features client --test client_tls

#![cfg(feature = "client")]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use pve::Error;
use pve::client::{
    ClientConfig, Credentials, HttpClient, PveApi, TlsTrust, certificate_fingerprint,
};

/// A CA and a server certificate for 127.0.0.1 issued by it.
struct Pki {
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key: Vec<u8>,
}

fn pki() -> Pki {
    pki_for(&["127.0.0.1", "localhost"])
}

fn pki_for(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Proxmox Virtual Environment test CA");
    let ca = ca.self_signed(&ca_key).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "pve.example");
    let leaf = leaf.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key: leaf_key.serialize_der(),
    }
}

/// Serves `GET /api2/json/version` over TLS with the leaf certificate; returns the base URL.
async fn https_server(pki: &Pki) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.leaf_der.clone().into()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.clone())),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let app = Router::new().route(
        "/api2/json/version",
        get(|| async { axum::Json(serde_json::json!({"data": {"version": "9.1.1", "release": "9.1", "repoid": "42db4a6c"}})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // Handshakes the client refuses end here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    format!("https://{addr}")
}

fn client(url: &str, tls: TlsTrust) -> HttpClient {
    let creds = Credentials::Token {
        token_id: "root@pam!t".into(),
        secret: "s".into(),
    };
    let mut config = ClientConfig::new(vec![url.to_owned()], creds);
    config.tls = tls;
    config.connect_timeout = Duration::from_secs(3);
    HttpClient::new(config).unwrap()
}

fn temp_pem(name: &str, pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("pve-tls-test-{}-{name}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    path
}

#[tokio::test]
async fn pinned_fingerprint_is_accepted_in_any_spelling() {
    let pki = pki();
    let url = https_server(&pki).await;
    let fp = certificate_fingerprint(&pki.leaf_der);
    assert_eq!(fp.len(), 95, "AA:BB:… form");
    for spelling in [fp.clone(), fp.replace(':', "").to_lowercase()] {
        let v = client(&url, TlsTrust::Fingerprint(spelling))
            .version()
            .await
            .unwrap();
        assert_eq!(v.version, "9.1.1");
    }
    // One pin per node: any matching pin is enough.
    let other = "00".repeat(32);
    client(&url, TlsTrust::Fingerprint(format!("{other}, {fp}")))
        .version()
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_fingerprint_is_refused_showing_the_presented_one() {
    let pki = pki();
    let url = https_server(&pki).await;
    let err = client(&url, TlsTrust::Fingerprint("AB".repeat(32)))
        .version()
        .await
        .unwrap_err();
    let presented = certificate_fingerprint(&pki.leaf_der);
    match &err {
        Error::Tls {
            presented_fingerprint,
            ..
        } => {
            assert_eq!(presented_fingerprint.as_deref(), Some(presented.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&presented), "{err}");
    assert!(!err.retry_safe());
}

#[tokio::test]
async fn system_trust_refuses_a_private_ca() {
    let pki = pki();
    let url = https_server(&pki).await;
    let err = client(&url, TlsTrust::System).version().await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn ca_file_trusts_certificates_it_issued() {
    let pki = pki();
    let url = https_server(&pki).await;
    let ca = temp_pem("ca", &pki.ca_pem);
    let v = client(&url, TlsTrust::CaFile(ca.clone()))
        .version()
        .await
        .unwrap();
    assert_eq!(v.release, "9.1");
    // The certificate's other name works too.
    let port = url.rsplit(':').next().unwrap();
    client(
        &format!("https://localhost:{port}"),
        TlsTrust::CaFile(ca.clone()),
    )
    .version()
    .await
    .unwrap();
    std::fs::remove_file(ca).unwrap();
}

#[tokio::test]
async fn ca_file_checks_the_host_name() {
    let pki = pki_for(&["pve.example"]);
    let url = https_server(&pki).await;
    let ca = temp_pem("ca-name", &pki.ca_pem);
    let err = client(&url, TlsTrust::CaFile(ca.clone()))
        .version()
        .await
        .unwrap_err();
    match &err {
        Error::Tls { message, .. } => assert!(message.contains("host name"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Pinning ignores the name.
    let fp = certificate_fingerprint(&pki.leaf_der);
    client(&url, TlsTrust::Fingerprint(fp))
        .version()
        .await
        .unwrap();
    std::fs::remove_file(ca).unwrap();
}

#[tokio::test]
async fn ca_file_of_another_ca_is_refused_showing_the_presented_fingerprint() {
    let pki = pki();
    let url = https_server(&pki).await;
    let other = temp_pem("other-ca", &self::pki().ca_pem);
    let err = client(&url, TlsTrust::CaFile(other.clone()))
        .version()
        .await
        .unwrap_err();
    match &err {
        Error::Tls {
            presented_fingerprint,
            message,
        } => {
            assert_eq!(
                presented_fingerprint.as_deref(),
                Some(certificate_fingerprint(&pki.leaf_der).as_str())
            );
            assert!(message.contains("not issued by a trusted CA"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(other).unwrap();
}

#[tokio::test]
async fn tls_refusal_wins_over_connection_errors_across_endpoints() {
    let pki = pki();
    let url = https_server(&pki).await;
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("https://{}", l.local_addr().unwrap())
    };
    let creds = Credentials::Token {
        token_id: "root@pam!t".into(),
        secret: "s".into(),
    };
    let mut config = ClientConfig::new(vec![dead, url], creds);
    config.tls = TlsTrust::Fingerprint("CD".repeat(32));
    let err = HttpClient::new(config)
        .unwrap()
        .version()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tls {
                presented_fingerprint: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn websocket_request_carries_the_same_trust() {
    let pki = pki();
    let url = https_server(&pki).await;
    let node = "pve".parse().unwrap();
    let vmid = pve::ids::VmId::new(100).unwrap();
    let pinned = client(
        &url,
        TlsTrust::Fingerprint(certificate_fingerprint(&pki.leaf_der)),
    );
    let ws = pinned
        .vnc_websocket_request(&node, vmid, 5900, "PVEVNC:x")
        .await
        .unwrap();
    let host = url.strip_prefix("https://").unwrap();
    assert!(
        ws.url.starts_with(&format!("wss://{host}/api2/json/")),
        "{}",
        ws.url
    );
    // The relay's handshake with the client's TLS settings succeeds against the pinned node…
    let handshake = |tls: Arc<rustls::ClientConfig>| {
        let host = host.to_owned();
        async move {
            let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
            tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
        }
    };
    handshake(ws.tls.clone().expect("pinned trust is passed on"))
        .await
        .unwrap();
    // …and fails with another pin.
    let other = client(&url, TlsTrust::Fingerprint("AB".repeat(32)))
        .vnc_websocket_request(&node, vmid, 5900, "PVEVNC:x")
        .await
        .unwrap();
    assert!(handshake(other.tls.unwrap()).await.is_err());
    // System trust leaves the roots to the relay.
    let system = client(&url, TlsTrust::System)
        .vnc_websocket_request(&node, vmid, 5900, "PVEVNC:x")
        .await
        .unwrap();
    assert!(system.tls.is_none());
}
