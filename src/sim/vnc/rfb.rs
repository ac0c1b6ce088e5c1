//! The VM's built-in VNC server, speaking RFB 3.8 (also 3.7 and 3.3) the way QEMU does:
//! security type 2 (VNC authentication) against the display's current password,
//! "Authentication failed" on a wrong or expired password, ServerInit with 640×400 at 32 bpp
//! true colour and the VM's name, Raw framebuffer updates in the client's pixel format
//! (incremental ones only once something changed; see [`update`] for how they are made), key
//! events typed onto the shared screen, pointer and clipboard messages ignored.

use std::io;
use std::sync::Arc;

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::display::Display;
use super::pixel::{Encoder, PixelFormat};
use super::screen::{HEIGHT, WIDTH};
use super::update::{self, Rect};

/// QEMU's text for every failed VNC authentication.
const AUTH_FAILED: &str = "Authentication failed";

/// Serves one VNC client on `stream` until it disconnects. `now` is the simulator's clock
/// (for the password expiry).
pub(crate) async fn serve<S>(
    stream: S,
    display: Arc<Display>,
    now: impl Fn() -> i64,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    wr.write_all(b"RFB 003.008\n").await?;
    let mut version = [0u8; 12];
    rd.read_exact(&mut version).await?;
    let minor = match &version {
        b"RFB 003.008\n" => 8,
        b"RFB 003.007\n" => 7,
        _ => 3,
    };
    if minor >= 7 {
        wr.write_all(&[1, 2]).await?;
        if rd.read_u8().await? != 2 {
            return fail(&mut wr, minor, "Unsupported authentication type").await;
        }
    } else {
        wr.write_u32(2).await?;
    }
    let mut challenge = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut challenge);
    wr.write_all(&challenge).await?;
    let mut answer = [0u8; 16];
    rd.read_exact(&mut answer).await?;
    if !display.check(&challenge, &answer, now()) {
        return fail(&mut wr, minor, AUTH_FAILED).await;
    }
    wr.write_u32(0).await?;
    let _shared = rd.read_u8().await?;
    let mut init = Vec::with_capacity(24 + display.name.len());
    init.extend_from_slice(&(WIDTH as u16).to_be_bytes());
    init.extend_from_slice(&(HEIGHT as u16).to_be_bytes());
    init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    init.extend_from_slice(&(display.name.len() as u32).to_be_bytes());
    init.extend_from_slice(display.name.as_bytes());
    wr.write_all(&init).await?;
    Session {
        display,
        encoder: Encoder::new(PixelFormat::NATIVE),
        sent: 0,
        pending: None,
    }
    .run(&mut rd, &mut wr)
    .await
}

/// SecurityResult "failed" (with a reason from RFB 3.8 on), then the connection ends.
async fn fail<W: AsyncWrite + Unpin>(wr: &mut W, minor: u8, reason: &str) -> io::Result<()> {
    let mut msg = 1u32.to_be_bytes().to_vec();
    if minor >= 8 {
        msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
        msg.extend_from_slice(reason.as_bytes());
    }
    wr.write_all(&msg).await?;
    wr.flush().await
}

/// The normal phase of one client connection.
struct Session {
    display: Arc<Display>,
    /// Converts pixels into the client's format.
    encoder: Encoder,
    /// Screen version of the last update sent.
    sent: u64,
    /// An incremental update request waiting for a change.
    pending: Option<Rect>,
}

impl Session {
    async fn run<R, W>(mut self, rd: &mut R, wr: &mut W) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut changes = self.display.subscribe();
        loop {
            tokio::select! {
                // Reading one byte is cancel-safe: the rest of the message is read below.
                kind = rd.read_u8() => {
                    match kind {
                        Ok(kind) => self.message(kind, rd, wr).await?,
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
                changed = changes.changed(), if self.pending.is_some() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if let Some(rect) = self.pending {
                        self.incremental(rect, wr).await?;
                    }
                }
            }
        }
    }

    async fn message<R, W>(&mut self, kind: u8, rd: &mut R, wr: &mut W) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        match kind {
            // SetPixelFormat
            0 => {
                let mut b = [0u8; 19];
                rd.read_exact(&mut b).await?;
                let mut f = [0u8; 16];
                f.copy_from_slice(&b[3..]);
                let format = PixelFormat::from_bytes(&f).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "unsupported pixel format")
                })?;
                if format != self.encoder.format() {
                    self.encoder = Encoder::new(format);
                }
            }
            // SetEncodings: Raw is always allowed, nothing else is used.
            2 => {
                let mut b = [0u8; 3];
                rd.read_exact(&mut b).await?;
                let n = usize::from(u16::from_be_bytes([b[1], b[2]]));
                let mut list = vec![0u8; n * 4];
                rd.read_exact(&mut list).await?;
            }
            // FramebufferUpdateRequest
            3 => {
                let mut b = [0u8; 9];
                rd.read_exact(&mut b).await?;
                let field = |i: usize| usize::from(u16::from_be_bytes([b[i], b[i + 1]]));
                let rect = Rect {
                    x: field(1),
                    y: field(3),
                    w: field(5),
                    h: field(7),
                };
                if b[0] == 0 {
                    self.pending = None;
                    let version = self.display.screen().version();
                    self.send(rect.clip(0, HEIGHT), version, wr).await?;
                } else {
                    self.incremental(rect, wr).await?;
                }
            }
            // KeyEvent
            4 => {
                let mut b = [0u8; 7];
                rd.read_exact(&mut b).await?;
                if b[0] != 0 {
                    self.display
                        .key(u32::from_be_bytes([b[3], b[4], b[5], b[6]]));
                }
            }
            // PointerEvent
            5 => {
                let mut b = [0u8; 5];
                rd.read_exact(&mut b).await?;
            }
            // ClientCutText (a negative length is the extended clipboard format)
            6 => {
                let mut b = [0u8; 7];
                rd.read_exact(&mut b).await?;
                let len = i32::from_be_bytes([b[3], b[4], b[5], b[6]]).unsigned_abs();
                let mut text = vec![0u8; len.min(1 << 20) as usize];
                rd.read_exact(&mut text).await?;
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown RFB client message {other}"),
                ));
            }
        }
        Ok(())
    }

    /// Answers an incremental request now if something in `rect` changed since the last
    /// update, else keeps it pending.
    async fn incremental<W: AsyncWrite + Unpin>(
        &mut self,
        rect: Rect,
        wr: &mut W,
    ) -> io::Result<()> {
        let (version, changed) = {
            let s = self.display.screen();
            (s.version(), s.changed_since(self.sent))
        };
        match changed.and_then(|(top, bottom)| rect.clip(top, bottom)) {
            Some(area) => {
                self.pending = None;
                self.send(Some(area), version, wr).await
            }
            None => {
                self.sent = version;
                self.pending = Some(rect);
                Ok(())
            }
        }
    }

    /// A FramebufferUpdate of `rect` (or of none) in Raw encoding, as of `version` or later.
    async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        rect: Option<Rect>,
        version: u64,
        wr: &mut W,
    ) -> io::Result<()> {
        let (full, shown) = self.display.full_update(&self.encoder);
        // The pixels sent are those of the screen's current version.
        self.sent = shown.max(version);
        if rect == Some(Rect::SCREEN) {
            wr.write_all(&full).await?;
        } else {
            let bytes_pp = self.encoder.format().bytes_per_pixel();
            wr.write_all(&update::rect_update(&full, rect, bytes_pp))
                .await?;
        }
        wr.flush().await
    }
}
