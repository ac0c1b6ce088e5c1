//! How requests reach the server, against the demo server on a loopback port: built-in TLS
//! (HTTPS with a self-signed certificate, its reload when the files change while an open
//! connection keeps working, and on SIGHUP to the binary, the console WebSocket over TLS, the handshake and connection
//! bounds, bad files at start-up), HSTS (over TLS and behind an HTTPS `public_url`, never over
//! plain HTTP), and trusted proxies (`X-Forwarded-For` and `X-Forwarded-Proto` believed from
//! them only, for the recorded client and the cookie's `Secure` flag).
//!
//! Run: `cargo test -p server --test transport`

mod support;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName},
};
use serde_json::Value;
use server::{
    config::{Cli, load},
    router, runtime,
    serve::{self, Serving},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use support::{ADMIN_PASSWORD, Api, TestServer, process::fresh_dir};

/// A self-signed certificate for `127.0.0.1` and `localhost`.
struct Cert {
    pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn self_signed() -> Cert {
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    Cert {
        pem: generated.cert.pem(),
        key_pem: generated.key_pair.serialize_pem(),
        der: generated.cert.der().clone(),
    }
}

/// Puts `cert` into `dir` as tools do: new files renamed over the old ones.
fn install(dir: &Path, cert: &Cert) -> (PathBuf, PathBuf) {
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    for (path, text) in [(&cert_file, &cert.pem), (&key_file, &cert.key_pem)] {
        let new = path.with_extension("new");
        std::fs::write(&new, text).unwrap();
        std::fs::rename(&new, path).unwrap();
    }
    (cert_file, key_file)
}

/// The server as `main` serves it (TLS, trusted proxies from the configuration), demo mode,
/// a fresh database, `env` on top; the API calls go to `http://` (plain servers only).
async fn start(env: &[(&str, &str)]) -> TestServer {
    let dir = fresh_dir("transport");
    let mut vars: Vec<(String, String)> = vec![
        (
            "CECYBER_DATABASE_URL".into(),
            format!("sqlite://{}/t.db", dir.display()),
        ),
        ("CECYBER_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
        ("CECYBER_LOGIN_FAILURE_DELAY_MS".into(), "10".into()),
        ("CECYBER_FORCE_DEMO".into(), "true".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let (config, warnings) = load(&Cli::default(), vars).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let serving = Serving::from_config(&config).unwrap();
    let runtime = runtime::start(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve::serve(
        listener,
        router::app(&runtime),
        serving,
        runtime.shutdown.clone(),
    ));
    TestServer {
        api: Api::new(format!("http://{addr}")),
        addr,
        runtime,
    }
}

/// A TLS server with `cert` in `dir` (and `env` on top).
async fn start_tls(dir: &Path, cert: &Cert, env: &[(&str, &str)]) -> TestServer {
    let (cert_file, key_file) = install(dir, cert);
    let (cert_file, key_file) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let mut all = vec![
        ("CECYBER_TLS__CERT_FILE", cert_file.as_str()),
        ("CECYBER_TLS__KEY_FILE", key_file.as_str()),
    ];
    all.extend_from_slice(env);
    start(&all).await
}

/// An HTTPS client that trusts `cert` only.
fn https_client(cert: &Cert) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A TLS connection to `addr` trusting `certs`.
async fn tls_connect(addr: SocketAddr, certs: &[&Cert]) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert.der.clone()).unwrap();
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The certificate the server presented on `stream`.
fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// `GET path` on an open HTTP/1.1 connection, kept alive; answers the status line.
async fn get_on(stream: &mut TlsStream<TcpStream>, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head.lines().next().unwrap().to_owned()
}

#[tokio::test]
async fn https_serves_and_picks_up_a_new_certificate_without_dropping_connections() {
    let dir = fresh_dir("tls-reload");
    let old = self_signed();
    let server = start_tls(&dir, &old, &[]).await;
    let base = format!("https://{}", server.addr);

    let response = https_client(&old)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000",
        "HSTS over TLS"
    );
    assert!(
        reqwest::get(format!("http://{}/healthz", server.addr))
            .await
            .is_err(),
        "no plain HTTP on a TLS port"
    );

    let mut open = tls_connect(server.addr, &[&old]).await.unwrap();
    assert_eq!(presented(&open), old.der);
    assert_eq!(get_on(&mut open, "/healthz").await, "HTTP/1.1 200 OK");

    let new = self_signed();
    install(&dir, &new);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fresh = tls_connect(server.addr, &[&old, &new]).await.unwrap();
        if presented(&fresh) == new.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = https_client(&new)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "new connections: new cert"
    );
    assert!(
        https_client(&old)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "a client trusting only the old certificate cannot connect anew"
    );
    assert_eq!(
        get_on(&mut open, "/healthz").await,
        "HTTP/1.1 200 OK",
        "the connection opened before the reload still works"
    );
}

/// Writes `text` over `path` in place (same inode), padded to `size` bytes (PEM readers skip
/// what is outside the BEGIN/END lines), and sets its old modification time back: a change only
/// SIGHUP can reveal.
fn overwrite_unseen(path: &Path, text: &str, size: usize) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    assert!(text.len() <= size);
    let padded = format!("{text}{}", "\n".repeat(size - text.len()));
    std::fs::write(path, padded).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

#[tokio::test]
async fn sighup_reloads_the_certificate_of_the_running_binary() {
    const CERT_SIZE: usize = 4096;
    const KEY_SIZE: usize = 2048;
    let dir = fresh_dir("tls-sighup");
    let old = self_signed();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, "").unwrap();
    std::fs::write(&key_file, "").unwrap();
    overwrite_unseen(&cert_file, &old.pem, CERT_SIZE);
    overwrite_unseen(&key_file, &old.key_pem, KEY_SIZE);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cecyber"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CECYBER_")) {
        command.env_remove(key);
    }
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = command
        .current_dir(&dir)
        .env("CECYBER_FORCE_DEMO", "true")
        .env("CECYBER_LISTEN", addr.to_string())
        .env("CECYBER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CECYBER_TLS__CERT_FILE", &cert_file)
        .env("CECYBER_TLS__KEY_FILE", &key_file)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let server_log = || std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let serves = async |cert: &Cert| {
        let mut stream = tls_connect(addr, &[cert]).await.ok()?;
        Some(get_on(&mut stream, "/healthz").await)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while serves(&old).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "did not start:\n{}",
            server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let new = self_signed();
    overwrite_unseen(&cert_file, &new.pem, CERT_SIZE);
    overwrite_unseen(&key_file, &new.key_pem, KEY_SIZE);
    tokio::time::sleep(server::tls::WATCH_EVERY * 2 + Duration::from_millis(500)).await;
    assert!(
        serves(&old).await.is_some(),
        "the watcher cannot see this change"
    );

    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while serves(&new).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload:\n{}",
            server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server_log().contains("SIGHUP"), "{}", server_log());
}

/// `systemctl reload` sends SIGHUP whatever the configuration: without TLS it must not end the
/// server (the signal's default action).
#[tokio::test]
async fn sighup_without_tls_leaves_the_binary_running() {
    let dir = fresh_dir("plain-sighup");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cecyber"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CECYBER_")) {
        command.env_remove(key);
    }
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut child = command
        .current_dir(&dir)
        .env("CECYBER_FORCE_DEMO", "true")
        .env("CECYBER_LISTEN", addr.to_string())
        .env("CECYBER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let server_log = || std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let healthz = format!("http://{addr}/healthz");
    let up = async || {
        reqwest::get(&healthz)
            .await
            .is_ok_and(|r| r.status().is_success())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !up().await {
        assert!(
            Instant::now() < deadline,
            "did not start:\n{}",
            server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let pid = child.id().unwrap().to_string();
    for _ in 0..2 {
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server:\n{}",
        server_log()
    );
    assert!(up().await, "still serving after SIGHUP");
    assert!(
        server_log().contains("SIGHUP: nothing to reload"),
        "{}",
        server_log()
    );
}

#[tokio::test]
async fn logins_are_secure_and_consoles_work_over_tls() {
    let dir = fresh_dir("tls-console");
    let cert = self_signed();
    let server = start_tls(&dir, &cert, &[]).await;
    let base = format!("https://{}", server.addr);
    let client = https_client(&cert);

    let login = client
        .post(format!("{base}/api/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.ends_with("; Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{base}/api/{endpoint}"))
            .header("accept", "application/json")
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let list: Value = call("vms_list", vec![])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vm = list["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["status"] == "running" && v["template"] != true)
        .expect("a running VM")
        .clone();
    let ticket = call(
        "console_open",
        vec![
            ("cluster", vm["cluster"].as_str().unwrap().to_owned()),
            ("node", vm["node"].as_str().unwrap().to_owned()),
            ("vmid", vm["vmid"].to_string()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ticket.status(), StatusCode::OK);
    let ticket: Value = ticket.json().await.unwrap();
    let path = ticket["ws_path"].as_str().unwrap();

    let mut request = format!("wss://{}{path}", server.addr)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    headers.insert("origin", HeaderValue::from_str(&base).unwrap());
    let stream = tls_connect(server.addr, &[&cert]).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("WebSocket upgrade over TLS");
    let mut buf = Vec::new();
    assert_eq!(read_ws(&mut ws, &mut buf, 12).await, b"RFB 003.008\n");
    ws.send(Message::binary(&b"RFB 003.008\n"[..]))
        .await
        .unwrap();
    assert_eq!(
        read_ws(&mut ws, &mut buf, 2).await,
        [1, 1],
        "security type None: the relay answers what we send"
    );
}

/// The next `n` bytes of the WebSocket's binary messages (`buf` keeps the rest).
async fn read_ws(
    ws: &mut tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>,
    buf: &mut Vec<u8>,
    n: usize,
) -> Vec<u8> {
    while buf.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(data)))) => buf.extend_from_slice(&data),
            Ok(Some(Ok(_))) => {}
            other => panic!("console ended: {other:?}"),
        }
    }
    buf.drain(..n).collect()
}

#[tokio::test]
async fn a_silent_client_cannot_hold_a_tls_connection() {
    let dir = fresh_dir("tls-bounds");
    let cert = self_signed();
    let server = start_tls(
        &dir,
        &cert,
        &[
            ("CECYBER_HEADER_READ_TIMEOUT_SECS", "1"),
            ("CECYBER_MAX_CONNECTIONS", "2"),
        ],
    )
    .await;

    // Two connections that never start the handshake fill the server.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tls_connect(server.addr, &[&cert]).await.is_err(),
        "over max_connections: closed at once"
    );

    // The handshake timeout closes them.
    let started = Instant::now();
    for stream in &mut silent {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("closed by the server");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    let mut stream = tls_connect(server.addr, &[&cert]).await.unwrap();
    assert_eq!(get_on(&mut stream, "/healthz").await, "HTTP/1.1 200 OK");
}

/// Runs the `cecyber` binary in `dir` with only `env` as its settings, expecting it to refuse to
/// start; answers its exit code and error output.
async fn refused_start(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cecyber"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CECYBER_")) {
        command.env_remove(key);
    }
    command
        .current_dir(dir)
        .env("CECYBER_FORCE_DEMO", "true")
        .env("CECYBER_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .unwrap_or_else(|_| panic!("cecyber started with {env:?}"))
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bad_tls_files_stop_the_start_with_the_file_named() {
    let dir = fresh_dir("tls-bad");
    let (cert_file, key_file) = install(&dir, &self_signed());
    std::fs::write(dir.join("junk.pem"), "not a certificate").unwrap();
    let junk = dir.join("junk.pem").display().to_string();
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, self_signed().key_pem).unwrap();
    let (cert_file, key_file) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let other_key = other_key.display().to_string();
    for (cert, key, says) in [
        (junk.as_str(), key_file.as_str(), junk.as_str()),
        (cert_file.as_str(), junk.as_str(), junk.as_str()),
        (
            cert_file.as_str(),
            "/nonexistent/key.pem",
            "/nonexistent/key.pem",
        ),
        (cert_file.as_str(), other_key.as_str(), "does not match"),
    ] {
        let (code, stderr) = refused_start(
            &dir,
            &[
                ("CECYBER_TLS__CERT_FILE", cert),
                ("CECYBER_TLS__KEY_FILE", key),
            ],
        )
        .await;
        assert_eq!(code, Some(1), "{cert} {key}: {stderr}");
        assert!(stderr.contains(says), "{cert} {key}: {stderr}");
    }
}

#[tokio::test]
async fn hsts_only_when_browsers_come_over_https() {
    let plain = start(&[("CECYBER_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", plain.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response.headers().contains_key("strict-transport-security"),
        "plain HTTP (a forwarded header alone does not turn on a year of HSTS)"
    );

    let proxied = start(&[("CECYBER_PUBLIC_URL", "https://panel.example")]).await;
    let response = reqwest::get(format!("{}/healthz", proxied.base))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000",
        "behind a TLS proxy"
    );
    let http_public = start(&[("CECYBER_PUBLIC_URL", "http://panel.example")]).await;
    let response = reqwest::get(format!("{}/healthz", http_public.base))
        .await
        .unwrap();
    assert!(!response.headers().contains_key("strict-transport-security"));
}

/// Mints an embed link for a running VM; answers `(id, token)`.
async fn mint(server: &TestServer, admin: &str) -> (i64, String) {
    let vm = server.vms(admin, true).await.remove(0);
    let vmid = vm.vmid.to_string();
    let (status, link) = server
        .call(
            Some(admin),
            "embed_links_create",
            &[
                ("cluster", &vm.cluster),
                ("node", &vm.node),
                ("vmid", &vmid),
                ("origin", "http://partner.localhost:4000"),
                ("ttl_secs", "600"),
                ("single_use", "false"),
                ("view_only", "false"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = link["url"].as_str().unwrap();
    let token = url
        .strip_prefix("/embed/console?token=")
        .unwrap()
        .to_owned();
    (link["id"].as_i64().unwrap(), token)
}

/// Opens the embed page's console with `x-forwarded-for`; answers the recorded client.
async fn recorded_client(server: &TestServer, forwarded_for: &str) -> String {
    let admin = server.admin().await;
    let (id, token) = mint(server, &admin).await;
    let origin = server.origin();
    server
        .call_with(
            None,
            &[("origin", &origin), ("x-forwarded-for", forwarded_for)],
            "console_embed",
            &[("token", &token)],
        )
        .await;
    let uses = app::embed::ssr::uses(&server.runtime.state.db, id)
        .await
        .unwrap();
    uses[0].remote_addr.clone().expect("a recorded client")
}

/// Logs in with `x-forwarded-proto: https`; answers the `Set-Cookie` header.
async fn login_cookie(server: &TestServer) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/api/login", server.base))
        .header("x-forwarded-proto", "https")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    for env in [vec![], vec![("CECYBER_TRUSTED_PROXIES", "10.0.0.0/8, ::1")]] {
        let server = start(&env).await;
        let client = recorded_client(&server, "198.51.100.7").await;
        assert!(
            client.starts_with("127.0.0.1:") && !client.contains("198.51.100.7"),
            "{env:?}: {client}"
        );
        let cookie = login_cookie(&server).await;
        assert!(!cookie.contains("Secure"), "{env:?}: {cookie}");
    }
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_are_believed() {
    let server = start(&[("CECYBER_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")]).await;
    let client = recorded_client(&server, "198.51.100.7").await;
    assert!(
        client.starts_with("198.51.100.7 via 127.0.0.1:"),
        "{client}"
    );
    // What the client wrote itself is left of what the proxies appended.
    let client = recorded_client(&server, "6.6.6.6, 198.51.100.8, 10.1.2.3").await;
    assert!(client.starts_with("198.51.100.8 via "), "{client}");
    let cookie = login_cookie(&server).await;
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn bad_trusted_proxies_stop_the_start() {
    let (code, stderr) = refused_start(
        &fresh_dir("proxies-bad"),
        &[("CECYBER_TRUSTED_PROXIES", "127.0.0.1,proxy.internal")],
    )
    .await;
    assert_eq!(code, Some(2), "a configuration error: {stderr}");
    assert!(
        stderr.contains("trusted_proxies") && stderr.contains("proxy.internal"),
        "{stderr}"
    );
}
