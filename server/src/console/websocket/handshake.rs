//! The opening handshakes of RFC 6455 §4 on both sides of the relay: the browser's upgrade,
//! which we answer, and ours to PVE's `vncwebsocket`, over TLS with the panel's trust and with
//! the panel's credentials.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper_util::rt::TokioIo;
use pve::client::WebSocketRequest;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::BoxIo;

/// RFC 6455's key suffix for `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The subprotocol of noVNC and of pveproxy's `vncwebsocket`.
const BINARY: &str = "binary";
/// Longest HTTP answer head (status line and headers) taken from PVE.
const MAX_ANSWER_HEAD: usize = 16 * 1024;
/// Most of a refusal's body quoted in the error.
const MAX_REFUSAL_BODY: usize = 4096;
/// How long the body of a refusal is waited for.
const REFUSAL_BODY_WAIT: Duration = Duration::from_secs(2);

/// `Sec-WebSocket-Accept` for `key`.
pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Whether the comma-separated header `name` lists `token` (case-insensitive).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A browser's WebSocket upgrade request, checked.
pub(crate) struct BrowserUpgrade {
    on_upgrade: hyper::upgrade::OnUpgrade,
    accept: String,
    binary: bool,
}

/// Not a WebSocket upgrade we can take.
#[derive(Debug)]
pub(crate) struct NotAnUpgrade {
    pub status: StatusCode,
    pub why: &'static str,
}

impl std::fmt::Display for NotAnUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.why)
    }
}

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        (self.status, format!("{}\n", self.why)).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BrowserUpgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, NotAnUpgrade> {
        let refuse = |status, why| Err(NotAnUpgrade { status, why });
        if parts.method != Method::GET {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "a WebSocket opens with GET");
        }
        let headers = &parts.headers;
        if !lists(headers, header::CONNECTION, "upgrade")
            || !lists(headers, header::UPGRADE, "websocket")
        {
            return refuse(StatusCode::UPGRADE_REQUIRED, "not a WebSocket upgrade");
        }
        if headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v != "13")
        {
            return refuse(StatusCode::BAD_REQUEST, "WebSocket version 13 is required");
        }
        let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
            return refuse(StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key");
        };
        let accept = accept_key(key.as_bytes());
        let binary = lists(headers, header::SEC_WEBSOCKET_PROTOCOL, BINARY);
        let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return refuse(
                StatusCode::UPGRADE_REQUIRED,
                "this connection cannot be upgraded",
            );
        };
        Ok(Self {
            on_upgrade,
            accept,
            binary,
        })
    }
}

impl BrowserUpgrade {
    /// Answers `101 Switching Protocols` and, once the browser has it, runs `then` with the
    /// connection.
    pub(crate) fn accept<F, Fut>(self, label: String, then: F) -> Response
    where
        F: FnOnce(BoxIo) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        tokio::spawn(async move {
            match self.on_upgrade.await {
                Ok(upgraded) => then(Box::new(TokioIo::new(upgraded))).await,
                Err(e) => tracing::warn!(console = %label, error = %e, "console upgrade failed"),
            }
        });
        let mut answer = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        if self.binary {
            answer = answer.header(header::SEC_WEBSOCKET_PROTOCOL, BINARY);
        }
        answer.body(Body::empty()).expect("valid headers")
    }
}

/// Why our upgrade to PVE failed; messages carry no ticket and no credential.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("bad console URL: {0}")]
    Url(String),
    /// PVE answered with an HTTP error: status, reason and body.
    #[error("{0}")]
    Refused(String),
    /// Network, TLS or protocol failure.
    #[error("{0}")]
    Failed(String),
}

/// A WebSocket connection to PVE, and the bytes that came after the upgrade's answer.
pub(crate) struct Connected {
    pub io: BoxIo,
    pub already: Vec<u8>,
}

/// Opens the WebSocket of `req` (`ws://` or `wss://`).
pub(crate) async fn connect(req: &WebSocketRequest) -> Result<Connected, ConnectError> {
    let uri: axum::http::Uri = req
        .url
        .parse()
        .map_err(|e| ConnectError::Url(format!("{e}")))?;
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(ConnectError::Url("not a ws:// or wss:// URL".into())),
    };
    let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
        return Err(ConnectError::Url("no host".into()));
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| ConnectError::Failed(format!("{host}:{port}: {e}")))?;
    tcp.set_nodelay(true)
        .map_err(|e| ConnectError::Failed(e.to_string()))?;
    let mut io: BoxIo = if tls {
        Box::new(tls_connect(tcp, &host, req.tls.clone()).await?)
    } else {
        Box::new(tcp)
    };
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: {}\r\n",
        req.subprotocol
    )
    .into_bytes();
    for (name, value) in &req.headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    io.write_all(&head)
        .await
        .and(io.flush().await)
        .map_err(|e| ConnectError::Failed(e.to_string()))?;
    let answer = read_answer(&mut io).await?;
    if answer.status != 101 {
        let body = refusal_body(&mut io, &answer).await;
        let reason = StatusCode::from_u16(answer.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        let text = format!("{} {reason} {}", answer.status, body.trim());
        return Err(ConnectError::Refused(
            text.trim().chars().take(300).collect(),
        ));
    }
    if answer.accept.as_deref() != Some(accept_key(key.as_bytes()).as_str()) {
        return Err(ConnectError::Failed(
            "the upgrade's Sec-WebSocket-Accept does not match".into(),
        ));
    }
    Ok(Connected {
        io,
        already: answer.rest,
    })
}

/// TLS with the HTTP client's trust (CA file or pinned fingerprint), or public web PKI roots;
/// HTTP/1.1 only, as the upgrade is an HTTP/1.1 request.
async fn tls_connect(
    tcp: TcpStream,
    host: &str,
    trust: Option<Arc<rustls::ClientConfig>>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnectError> {
    let mut config = match trust {
        Some(config) => (*config).clone(),
        None => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Failed(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| ConnectError::Url(format!("host {host}: {e}")))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| ConnectError::Failed(format!("TLS: {e}")))
}

/// PVE's answer to the upgrade.
struct Answer {
    status: u16,
    accept: Option<String>,
    content_length: Option<usize>,
    /// Bytes after the head.
    rest: Vec<u8>,
}

async fn read_answer(io: &mut BoxIo) -> Result<Answer, ConnectError> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let value = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
                };
                return Ok(Answer {
                    status: response.code.unwrap_or_default(),
                    accept: value("sec-websocket-accept"),
                    content_length: value("content-length").and_then(|v| v.parse().ok()),
                    rest: buf[len..].to_vec(),
                });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_ANSWER_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(ConnectError::Failed("answer head too long".into()));
            }
            Err(e) => return Err(ConnectError::Failed(format!("bad HTTP answer: {e}"))),
        }
        let mut chunk = [0u8; 4096];
        match io.read(&mut chunk).await {
            Ok(0) => {
                return Err(ConnectError::Failed(
                    "connection closed before the upgrade's answer".into(),
                ));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(ConnectError::Failed(e.to_string())),
        }
    }
}

/// The start of a refusal's body (as much as came within a moment, up to its length).
async fn refusal_body(io: &mut BoxIo, answer: &Answer) -> String {
    let want = answer
        .content_length
        .unwrap_or(MAX_REFUSAL_BODY)
        .min(MAX_REFUSAL_BODY);
    let mut body = answer.rest.clone();
    let _ = tokio::time::timeout(REFUSAL_BODY_WAIT, async {
        let mut chunk = [0u8; 1024];
        while body.len() < want {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    body.truncate(want);
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn header_token_lists() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        assert!(lists(&h, header::CONNECTION, "upgrade"));
        assert!(!lists(&h, header::CONNECTION, "close"));
        assert!(!lists(&h, header::UPGRADE, "websocket"));
    }
}
