//! The VM's built-in VNC server, speaking RFB 3.8 (also 3.7 and 3.3) the way QEMU does:
//! security type 2 (VNC authentication) against the display's current password,
//! "Authentication failed" on a wrong or expired password, ServerInit with 640×400 at 32 bpp
//! true colour and the VM's name, Raw framebuffer updates (incremental ones only once
//! something changed), key events typed onto the shared screen, pointer and clipboard
//! messages ignored.

use std::io;
use std::sync::Arc;

use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::display::Display;
use super::screen::{HEIGHT, WIDTH};

/// QEMU's text for every failed VNC authentication.
const AUTH_FAILED: &str = "Authentication failed";

/// How pixels are sent to a client (RFB PIXEL_FORMAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub max: [u16; 3],
    pub shift: [u8; 3],
}

impl PixelFormat {
    /// The server's native format: 32 bpp, depth 24, little endian, `0x00RRGGBB`.
    pub(crate) const NATIVE: Self = Self {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        max: [255, 255, 255],
        shift: [16, 8, 0],
    };

    /// The 16-byte wire form.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        for i in 0..3 {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&self.max[i].to_be_bytes());
            b[10 + i] = self.shift[i];
        }
        b
    }

    /// Parses the wire form; `None` for formats this server cannot produce.
    pub(crate) fn from_bytes(b: &[u8; 16]) -> Option<Self> {
        let f = Self {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            max: [
                u16::from_be_bytes([b[4], b[5]]),
                u16::from_be_bytes([b[6], b[7]]),
                u16::from_be_bytes([b[8], b[9]]),
            ],
            shift: [b[10], b[11], b[12]],
        };
        let fits = f
            .shift
            .iter()
            .all(|s| u32::from(*s) < u32::from(f.bits_per_pixel));
        (matches!(f.bits_per_pixel, 8 | 16 | 32) && f.true_colour && fits).then_some(f)
    }

    /// Appends one `0xRRGGBB` pixel in this format.
    pub(crate) fn put(&self, rgb: u32, out: &mut Vec<u8>) {
        let mut v: u32 = 0;
        for (i, component) in [(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff]
            .into_iter()
            .enumerate()
        {
            let max = u32::from(self.max[i]);
            v |= (component * max / 255) << self.shift[i];
        }
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(v as u8),
            (16, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&v.to_le_bytes()),
            (_, true) => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// A rectangle in screen pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

impl Rect {
    /// `self` clipped to rows `[top, bottom)` and to the screen; `None` if nothing is left.
    fn clip(self, top: usize, bottom: usize) -> Option<Self> {
        let x1 = (self.x + self.w).min(WIDTH);
        let y0 = self.y.max(top);
        let y1 = (self.y + self.h).min(bottom).min(HEIGHT);
        (self.x < x1 && y0 < y1).then(|| Self {
            x: self.x,
            y: y0,
            w: x1 - self.x,
            h: y1 - y0,
        })
    }
}

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
        format: PixelFormat::NATIVE,
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
    format: PixelFormat,
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
                self.format = PixelFormat::from_bytes(&f).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "unsupported pixel format")
                })?;
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
                    self.send(&[rect.clip(0, HEIGHT)], version, wr).await?;
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
                self.send(&[Some(area)], version, wr).await
            }
            None => {
                self.sent = version;
                self.pending = Some(rect);
                Ok(())
            }
        }
    }

    /// A FramebufferUpdate with the given rectangles in Raw encoding, as of `version`.
    async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        rects: &[Option<Rect>],
        version: u64,
        wr: &mut W,
    ) -> io::Result<()> {
        let rects: Vec<Rect> = rects.iter().flatten().copied().collect();
        let bytes_pp = usize::from(self.format.bits_per_pixel / 8);
        let size: usize = rects.iter().map(|r| 12 + r.w * r.h * bytes_pp).sum();
        let mut msg = Vec::with_capacity(4 + size);
        msg.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(&(rects.len() as u16).to_be_bytes());
        {
            let screen = self.display.screen();
            let pixels = screen.pixels();
            for r in &rects {
                for v in [r.x, r.y, r.w, r.h] {
                    msg.extend_from_slice(&(v as u16).to_be_bytes());
                }
                msg.extend_from_slice(&0i32.to_be_bytes());
                for y in r.y..r.y + r.h {
                    for p in &pixels[y * WIDTH + r.x..y * WIDTH + r.x + r.w] {
                        self.format.put(*p, &mut msg);
                    }
                }
            }
            // The pixels sent are those of the screen's current version.
            self.sent = screen.version().max(version);
        }
        wr.write_all(&msg).await?;
        wr.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_formats() {
        let mut out = Vec::new();
        PixelFormat::NATIVE.put(0x0011_2233, &mut out);
        assert_eq!(out, [0x33, 0x22, 0x11, 0]);
        // noVNC's format: red in the lowest byte.
        let novnc = PixelFormat {
            shift: [0, 8, 16],
            ..PixelFormat::NATIVE
        };
        let parsed = PixelFormat::from_bytes(&novnc.to_bytes()).unwrap();
        assert_eq!(parsed, novnc);
        out.clear();
        novnc.put(0x0011_2233, &mut out);
        assert_eq!(out, [0x11, 0x22, 0x33, 0]);
        // 16 bpp RGB565, big endian.
        let rgb565 = PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            max: [31, 63, 31],
            shift: [11, 5, 0],
        };
        out.clear();
        rgb565.put(0x00ff_ffff, &mut out);
        assert_eq!(out, [0xff, 0xff]);
        let mut colour_map = PixelFormat::NATIVE.to_bytes();
        colour_map[3] = 0;
        assert_eq!(PixelFormat::from_bytes(&colour_map), None);
    }

    #[test]
    fn clipping() {
        let full = Rect {
            x: 0,
            y: 0,
            w: 9999,
            h: 9999,
        };
        assert_eq!(
            full.clip(16, 48),
            Some(Rect {
                x: 0,
                y: 16,
                w: WIDTH,
                h: 32
            })
        );
        let small = Rect {
            x: 10,
            y: 0,
            w: 5,
            h: 5,
        };
        assert_eq!(small.clip(16, 48), None);
    }
}
