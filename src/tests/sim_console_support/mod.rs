//! Test clients for the simulator's console, written from RFC 6455 and the RFB 3.8 spec: a
//! minimal WebSocket client over TCP or TLS (masked binary frames, one frame per write) and an
//! RFB viewer on top of it (version, VNC authentication, ServerInit, updates, key events).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use des::Des;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

/// A byte stream the WebSocket runs on (plain TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Trusts any server certificate (the simulator's is self-signed); signatures are still
/// checked.
#[derive(Debug)]
struct AnyCertificate(CryptoProvider);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(msg, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(msg, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens the transport to `addr`: TLS (any certificate) when `tls`, else plain TCP.
pub async fn transport(addr: SocketAddr, tls: bool) -> Box<dyn Io> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    if !tls {
        return Box::new(tcp);
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(ring::default_provider())))
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    Box::new(stream)
}

/// The sample key of RFC 6455 section 1.3 and its accept value.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const WAIT: Duration = Duration::from_secs(10);

/// An HTTP answer head (and body, when it was not an upgrade).
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Head {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// An open WebSocket.
pub struct Ws {
    tcp: Box<dyn Io>,
    buf: Vec<u8>,
    /// Payload bytes received but not yet consumed by `read_exact`.
    data: Vec<u8>,
    pub closed: bool,
}

/// Sends a WebSocket upgrade for `path_and_query` with extra `headers` (over TLS when `tls`);
/// `Ok` with the socket on 101, `Err` with the answer otherwise.
pub async fn connect(
    addr: SocketAddr,
    tls: bool,
    path_and_query: &str,
    headers: &[(&str, String)],
) -> Result<(Ws, Head), Head> {
    let mut tcp = transport(addr, tls).await;
    let mut req = format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = timeout(WAIT, tcp.read(&mut chunk))
            .await
            .expect("answer in time")
            .unwrap();
        assert!(n > 0, "connection closed before an answer");
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut head = Head {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = buf[end..].to_vec();
    if status != 101 {
        let len: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = rest;
        while body.len() < len {
            let mut chunk = [0u8; 4096];
            let n = tcp.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        head.body = body;
        return Err(head);
    }
    assert_eq!(head.header("sec-websocket-accept"), Some(WS_ACCEPT));
    let ws = Ws {
        tcp,
        buf: rest,
        data: Vec::new(),
        closed: false,
    };
    Ok((ws, head))
}

impl Ws {
    /// Sends `payload` as one masked binary frame.
    pub async fn send(&mut self, payload: &[u8]) {
        self.send_frame(0x2, payload).await;
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..=125 => f.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&f).await.unwrap();
    }

    /// The next data frame's payload; `None` once the server closed. Answers pings.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some((opcode, payload, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                match opcode {
                    0x1 | 0x2 => return Some(payload),
                    0x8 => {
                        self.closed = true;
                        return None;
                    }
                    0x9 => self.send_frame(0xA, &payload).await,
                    _ => {}
                }
                continue;
            }
            let mut chunk = vec![0u8; 64 * 1024];
            let n = match timeout(WAIT, self.tcp.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) => 0,
                Err(_) => panic!("no frame within {WAIT:?}"),
            };
            if n == 0 {
                self.closed = true;
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Exactly `n` bytes of the data stream (frames joined); `None` if it ended first.
    pub async fn read_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.data.len() < n {
            let more = self.recv().await?;
            self.data.extend_from_slice(&more);
        }
        Some(self.data.drain(..n).collect())
    }

    /// Sends a close frame.
    pub async fn close(&mut self) {
        self.send_frame(0x8, &1000u16.to_be_bytes()).await;
    }
}

/// (opcode, payload, bytes used) of a complete unmasked server frame at the start of `buf`.
fn parse_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[0] & 0x80, 0x80, "server frames are not fragmented");
    assert_eq!(buf[1] & 0x80, 0, "server frames are not masked");
    let (len, off) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        126 | 127 => return None,
        n => (usize::from(n), 2),
    };
    (buf.len() >= off + len).then(|| (buf[0] & 0x0f, buf[off..off + len].to_vec(), off + len))
}

/// VNC authentication's answer: DES with the password's first 8 bytes, each bit-reversed.
pub fn vnc_response(password: &str, challenge: &[u8]) -> Vec<u8> {
    let mut key = [0u8; 8];
    for (i, b) in password.bytes().take(8).enumerate() {
        let mut r = 0u8;
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                r |= 0x80 >> bit;
            }
        }
        key[i] = r;
    }
    let des = Des::new_from_slice(&key).unwrap();
    let mut out = challenge.to_vec();
    for block in out.chunks_mut(8) {
        des.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

/// What ServerInit said.
#[derive(Debug)]
pub struct ServerInit {
    pub width: u16,
    pub height: u16,
    pub pixel_format: Vec<u8>,
    pub name: String,
}

/// An RFB viewer on a WebSocket.
pub struct Viewer {
    pub ws: Ws,
}

/// How the handshake ended.
#[derive(Debug)]
pub enum Handshake {
    Ok(ServerInit),
    /// SecurityResult failed, with the reason.
    Failed(String),
    /// The stream ended before the server's version.
    Closed,
}

impl Viewer {
    /// Version 3.8, security type 2 with `password`, ClientInit (shared).
    pub async fn handshake(ws: Ws, password: &str) -> (Self, Handshake) {
        let mut v = Self { ws };
        let Some(version) = v.ws.read_exact(12).await else {
            return (v, Handshake::Closed);
        };
        assert_eq!(version, b"RFB 003.008\n");
        v.ws.send(b"RFB 003.008\n").await;
        let n = v.ws.read_exact(1).await.unwrap()[0];
        let types = v.ws.read_exact(usize::from(n)).await.unwrap();
        assert_eq!(types, [2], "only VNC authentication is offered");
        v.ws.send(&[2]).await;
        let challenge = v.ws.read_exact(16).await.unwrap();
        v.ws.send(&vnc_response(password, &challenge)).await;
        let result = v.u32().await;
        if result != 0 {
            let len = v.u32().await as usize;
            let reason = v.ws.read_exact(len).await.unwrap();
            return (v, Handshake::Failed(String::from_utf8(reason).unwrap()));
        }
        v.ws.send(&[1]).await;
        let init = v.ws.read_exact(24).await.unwrap();
        let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
        let name = v.ws.read_exact(name_len).await.unwrap();
        let init = ServerInit {
            width: u16::from_be_bytes([init[0], init[1]]),
            height: u16::from_be_bytes([init[2], init[3]]),
            pixel_format: init[4..20].to_vec(),
            name: String::from_utf8(name).unwrap(),
        };
        (v, Handshake::Ok(init))
    }

    async fn u32(&mut self) -> u32 {
        let b = self.ws.read_exact(4).await.expect("4 bytes");
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// SetPixelFormat as noVNC sends it: 32 bpp, depth 24, little endian, red in the low byte.
    pub async fn set_novnc_pixel_format(&mut self) {
        let mut m = vec![0u8, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16];
        m.extend_from_slice(&[0, 0, 0]);
        self.ws.send(&m).await;
    }

    /// SetEncodings with Raw and a few pseudo-encodings noVNC asks for.
    pub async fn set_encodings(&mut self) {
        let encodings: [i32; 4] = [0, 1, -223, -239];
        let mut m = vec![2u8, 0];
        m.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            m.extend_from_slice(&e.to_be_bytes());
        }
        self.ws.send(&m).await;
    }

    /// FramebufferUpdateRequest for the whole 640×400 screen.
    pub async fn request_update(&mut self, incremental: bool) {
        let mut m = vec![3u8, u8::from(incremental)];
        for v in [0u16, 0, 640, 400] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        self.ws.send(&m).await;
    }

    /// A key press and release (X11 keysym).
    pub async fn key(&mut self, keysym: u32) {
        for down in [1u8, 0] {
            let mut m = vec![4u8, down, 0, 0];
            m.extend_from_slice(&keysym.to_be_bytes());
            self.ws.send(&m).await;
        }
    }

    /// Types `text` (one keysym per character, Latin-1).
    pub async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(u32::from(c)).await;
        }
    }

    /// Reads one FramebufferUpdate with Raw rectangles (32 bpp): `(x, y, w, h, pixels)` each.
    pub async fn read_update(&mut self) -> Vec<(u16, u16, u16, u16, Vec<u8>)> {
        let head = self.ws.read_exact(4).await.expect("an update");
        assert_eq!(head[0], 0, "FramebufferUpdate");
        let n = u16::from_be_bytes([head[2], head[3]]);
        let mut rects = Vec::new();
        for _ in 0..n {
            let r = self.ws.read_exact(12).await.unwrap();
            let f = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
            let (x, y, w, h) = (f(0), f(2), f(4), f(6));
            assert_eq!(&r[8..12], &[0, 0, 0, 0], "Raw encoding");
            let pixels = self
                .ws
                .read_exact(usize::from(w) * usize::from(h) * 4)
                .await
                .unwrap();
            rects.push((x, y, w, h, pixels));
        }
        rects
    }
}
