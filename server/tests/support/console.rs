//! The console's client side for tests: a WebSocket to our relay read as a byte stream, and an
//! RFB 3.8 viewer on it.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{
    self, Bytes, Message, client::IntoClientRequest, http::HeaderValue,
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{TestServer, Vm};

impl TestServer {
    /// Opens a WebSocket to `path` on our server with `headers`, asking for subprotocol
    /// `binary` like noVNC; `Err((status, body))` when the upgrade is refused.
    pub async fn ws(&self, path: &str, headers: &[(&str, &str)]) -> Result<Ws, (u16, String)> {
        let mut request = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, response)) => {
                assert_eq!(
                    response
                        .headers()
                        .get("sec-websocket-protocol")
                        .map(|v| v.to_str().unwrap()),
                    Some("binary")
                );
                Ok(Ws {
                    ws,
                    buf: Vec::new(),
                })
            }
            Err(tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((response.status().as_u16(), body))
            }
            Err(e) => panic!("WebSocket to {path}: {e}"),
        }
    }

    /// A session console for `cookie`'s user, through the handshake.
    pub async fn viewer(&self, cookie: &str, vm: &Vm) -> (Viewer, ServerInit) {
        let path = self.console_path(cookie, vm).await;
        let origin = self.origin();
        let ws = self
            .ws(&path, &[("cookie", cookie), ("origin", &origin)])
            .await
            .expect("upgrade");
        Viewer::handshake(ws).await
    }
}

/// A WebSocket as a byte stream.
pub struct Ws {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    buf: Vec<u8>,
}

/// What ended a read.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// A close frame: code and reason.
    Close(Option<(u16, String)>),
    /// The connection ended without one.
    Gone(String),
    /// Nothing came in time.
    Timeout,
}

impl Ws {
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Self {
            ws,
            buf: Vec::new(),
        }
    }

    /// Sends one binary frame.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .unwrap();
    }

    /// The next binary frame's payload (within 10 s).
    async fn next_data(&mut self) -> Result<Bytes, Ended> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .map_err(|_| Ended::Timeout)?;
            match next {
                Some(Ok(Message::Binary(b))) => return Ok(b),
                Some(Ok(Message::Close(c))) => {
                    return Err(Ended::Close(
                        c.map(|c| (u16::from(c.code), c.reason.to_string())),
                    ));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Ended::Gone(e.to_string())),
                None => return Err(Ended::Gone("end".into())),
            }
        }
    }

    /// The next `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, Ended> {
        while self.buf.len() < n {
            let data = self.next_data().await?;
            self.buf.extend_from_slice(&data);
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// Consumes the next `n` bytes without keeping them: frames that fall wholly inside are
    /// dropped as they come, not copied.
    pub async fn skip(&mut self, n: usize) -> Result<(), Ended> {
        let buffered = n.min(self.buf.len());
        self.buf.drain(..buffered);
        let mut left = n - buffered;
        while left > 0 {
            let data = self.next_data().await?;
            if data.len() <= left {
                left -= data.len();
            } else {
                self.buf.extend_from_slice(&data[left..]);
                left = 0;
            }
        }
        Ok(())
    }

    /// Reads until a close frame with `code` comes (within `wait`); answers its reason.
    pub async fn expect_close(&mut self, code: u16, wait: Duration) -> String {
        match self.wait_end(wait).await {
            Ended::Close(Some((got, reason))) if got == code => reason,
            other => panic!("expected a close frame with {code}, got {other:?}"),
        }
    }

    /// Reads until the connection ends; answers how (within `wait`).
    pub async fn wait_end(&mut self, wait: Duration) -> Ended {
        let until = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(until, self.ws.next()).await {
                Err(_) => return Ended::Timeout,
                Ok(Some(Ok(Message::Close(c)))) => {
                    return Ended::Close(c.map(|c| (u16::from(c.code), c.reason.to_string())));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => return Ended::Gone(e.to_string()),
                Ok(None) => return Ended::Gone("end".into()),
            }
        }
    }
}

/// The ServerInit message.
#[derive(Debug, Clone)]
pub struct ServerInit {
    pub width: u16,
    pub height: u16,
    pub bits_per_pixel: u8,
    pub name: String,
}

/// An RFB 3.8 viewer, as noVNC talks to our relay.
pub struct Viewer {
    pub ws: Ws,
}

impl Viewer {
    /// Version 3.8; the relay must offer exactly security type None and accept it; then
    /// ClientInit (shared) and ServerInit.
    pub async fn handshake(mut ws: Ws) -> (Viewer, ServerInit) {
        assert_eq!(ws.read_exact(12).await.unwrap(), b"RFB 003.008\n");
        ws.send(b"RFB 003.008\n").await;
        let count = ws.read_exact(1).await.unwrap()[0];
        let types = ws.read_exact(usize::from(count)).await.unwrap();
        assert_eq!(types, [1], "only security type None is offered to browsers");
        ws.send(&[1]).await;
        assert_eq!(
            ws.read_exact(4).await.unwrap(),
            [0, 0, 0, 0],
            "SecurityResult OK"
        );
        Self::init(ws).await
    }

    /// ClientInit (shared) and ServerInit, after the security handshake.
    pub async fn init(mut ws: Ws) -> (Viewer, ServerInit) {
        ws.send(&[1]).await;
        let init = ws.read_exact(24).await.unwrap();
        let len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
        let name = ws.read_exact(len).await.unwrap();
        let init = ServerInit {
            width: u16::from_be_bytes([init[0], init[1]]),
            height: u16::from_be_bytes([init[2], init[3]]),
            bits_per_pixel: init[4],
            name: String::from_utf8(name).unwrap(),
        };
        let mut viewer = Viewer { ws };
        // Raw only.
        viewer.ws.send(&[2, 0, 0, 1, 0, 0, 0, 0]).await;
        (viewer, init)
    }

    /// FramebufferUpdateRequest for the whole 640×400 screen.
    pub async fn request_update(&mut self, incremental: bool) {
        self.request_area(incremental, 0, 0, 640, 400).await;
    }

    /// FramebufferUpdateRequest for an area.
    pub async fn request_area(&mut self, incremental: bool, x: u16, y: u16, w: u16, h: u16) {
        let mut m = vec![3u8, u8::from(incremental)];
        for v in [x, y, w, h] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        self.ws.send(&m).await;
    }

    /// A key press and release (X11 keysym).
    pub async fn key(&mut self, keysym: u32) {
        let mut m = Vec::new();
        for down in [1u8, 0] {
            m.extend_from_slice(&[4, down, 0, 0]);
            m.extend_from_slice(&keysym.to_be_bytes());
        }
        self.ws.send(&m).await;
    }

    /// Types `text`, one keysym per (Latin-1) character.
    pub async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(u32::from(c)).await;
        }
    }

    /// One FramebufferUpdate of Raw 32 bpp rectangles: `(x, y, w, h)` and the pixel bytes.
    pub async fn read_update(&mut self) -> Result<Vec<((u16, u16, u16, u16), usize)>, Ended> {
        let head = self.ws.read_exact(4).await?;
        assert_eq!(head[0], 0, "FramebufferUpdate");
        let n = u16::from_be_bytes([head[2], head[3]]);
        let mut rects = Vec::new();
        for _ in 0..n {
            let r = self.ws.read_exact(12).await?;
            let f = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
            let (x, y, w, h) = (f(0), f(2), f(4), f(6));
            assert_eq!(&r[8..12], &[0, 0, 0, 0], "Raw encoding");
            let size = usize::from(w) * usize::from(h) * 4;
            self.ws.skip(size).await?;
            rects.push(((x, y, w, h), size));
        }
        Ok(rects)
    }
}
