//! The relay between the browser's WebSocket and PVE's, once both are open: the RFB version and
//! security handshake with the browser (offering security type None: the VNC password stays
//! here), then every byte from ClientInit on, both ways.
//!
//! PVE → browser: PVE's data frames are passed on as the bytes they came in (see
//! [`websocket`](super::websocket)): each read from PVE becomes one write to the browser, with
//! no decoding and no new frames. Our own frames for the browser (pings, pongs) go in only
//! between PVE's frames.
//!
//! Browser → PVE: the browser's frames are decoded, go through the input filter (view-only,
//! protocol checks), and what is already there is joined into frames pveproxy takes, masked.
//!
//! Backpressure: each direction finishes its write before it reads again, and a read takes at
//! most a read window, so a slow browser slows only its own upstream. The browser is pinged;
//! closes are passed on with their code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use super::filter::ClientStream;
use super::recheck::Access;
use super::upstream::{PVE_MAX_FRAME, Upstream};
use super::websocket::frame::{OP_BINARY, OP_PING, OP_PONG, Rules};
use super::websocket::reader::{Chunk, FrameReader, ReadFailure};
use super::websocket::writer::FrameWriter;
use super::websocket::{BoxIo, Side};
use super::wire::{ByteReader, Close, Frame, sendable_close_code};
use crate::shutdown::Shutdown;

/// How long the browser has for each step of its RFB handshake.
const BROWSER_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Ping interval towards the browser.
const PING_EVERY: Duration = Duration::from_secs(20);
/// The browser is given up when nothing (not even a pong) came for this long.
const BROWSER_SILENCE: Duration = Duration::from_secs(65);
/// How long a close handshake may take before the connections are dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Largest frame taken from a browser (RFB client messages are small; clipboard aside).
const BROWSER_MAX_FRAME: u64 = 1024 * 1024;
/// Read window for the browser's frames: its messages are small (keys, pointer, update
/// requests).
const BROWSER_READ: usize = 16 * 1024;
/// Pongs waiting for their turn; more pings than this at once are not all answered.
const PONG_QUEUE: usize = 4;

/// What the relay is told about its console.
pub(crate) struct Options {
    /// Drop the browser's input messages.
    pub view_only: bool,
    /// Who and what, for the log (`user ann`, `embed link 3`, and the VM).
    pub label: String,
    /// The grant, checked again while the console is open.
    pub access: Access,
    /// Set when the server stops: the console closes, and noVNC reconnects.
    pub stopping: Shutdown,
}

/// Why the relay ended.
enum End {
    /// PVE closed the WebSocket.
    PveClosed(Close),
    /// The connection to PVE failed.
    PveLost(String),
    /// The browser closed.
    BrowserClosed(Close),
    /// The browser's connection failed.
    BrowserLost(String),
    /// The browser did not answer pings.
    BrowserSilent,
    /// The browser broke the RFB protocol (handshake, or an input that cannot be followed).
    BrowserProtocol(String),
    /// The browser broke the WebSocket protocol: the close code for it, and why.
    BrowserBrokeWebSocket(u16, String),
    /// The grant no longer holds (link revoked, user logged out or lowered).
    Revoked,
    /// The server is stopping.
    ServerStopping,
}

fn browser_lost(e: std::io::Error) -> End {
    End::BrowserLost(e.to_string())
}

fn pve_lost(e: std::io::Error) -> End {
    End::PveLost(e.to_string())
}

/// Runs one console until either side ends.
pub(crate) async fn run(browser: BoxIo, upstream: Upstream, options: Options) {
    let started = Instant::now();
    let rules = Rules {
        from_client: true,
        max_payload: BROWSER_MAX_FRAME,
    };
    let mut browser = Side::new(browser, &[], false, rules, BROWSER_READ);
    let Upstream {
        side: mut pve,
        leftover: p_left,
    } = upstream;
    let mut input = ClientStream::new(options.view_only);
    let mut counts = Counts::default();
    let mut reader = ByteReader::new(&mut browser.reader, BROWSER_STEP_TIMEOUT);
    let handshake = browser_handshake(&mut reader, &mut browser.writer).await;
    let b_left = reader.into_parts().1;
    let end = match handshake {
        Err(end) => end,
        Ok(()) => {
            relay(
                &mut browser,
                &mut pve,
                b_left,
                p_left,
                &mut input,
                &mut counts,
                started,
                &options,
            )
            .await
        }
    };
    finish(end, browser, pve, &options, &counts, started).await;
}

/// Bytes relayed, for the log.
#[derive(Default)]
struct Counts {
    up: u64,
    down: u64,
}

/// After both handshakes: the bytes read ahead on each side, then both directions at once.
#[allow(clippy::too_many_arguments)]
async fn relay(
    browser: &mut Side,
    pve: &mut Side,
    b_left: Vec<u8>,
    p_left: Vec<u8>,
    input: &mut ClientStream,
    counts: &mut Counts,
    started: Instant,
    options: &Options,
) -> End {
    if !p_left.is_empty() {
        if let Err(end) = send_browser(&mut browser.writer, &p_left).await {
            return end;
        }
        counts.down += p_left.len() as u64;
    }
    if let Err(end) = forward_up(&mut pve.writer, Bytes::from(b_left), input, &mut counts.up).await
    {
        return end;
    }
    tracing::info!(console = %options.label, view_only = options.view_only, "console relay open");
    let last_heard = AtomicU64::new(0);
    let heard = Heard {
        at: &last_heard,
        started,
    };
    // Silence counts from here, not from before the browser's handshake.
    heard.now();
    let (browser_pongs, for_browser) = mpsc::channel(PONG_QUEUE);
    let (pve_pongs, for_pve) = mpsc::channel(PONG_QUEUE);
    let down = Down {
        from: &mut pve.reader,
        to: &mut browser.writer,
        pongs_to_send: for_browser,
        pongs_for_pve: pve_pongs,
        heard,
        count: &mut counts.down,
    };
    let up = Up {
        from: &mut browser.reader,
        to: &mut pve.writer,
        pongs_to_send: for_pve,
        pongs_for_browser: browser_pongs,
        input,
        heard,
        count: &mut counts.up,
    };
    tokio::select! {
        end = down.run() => end,
        end = up.run() => end,
        () = silence(heard) => End::BrowserSilent,
        () = options.access.lost() => End::Revoked,
        () = options.stopping.begun() => End::ServerStopping,
    }
}

/// The server half of the RFB handshake with the browser, offering only security type None.
async fn browser_handshake<S: super::wire::FrameSource + Send>(
    reader: &mut ByteReader<S>,
    writer: &mut BrowserWriter,
) -> Result<(), End> {
    send_browser(writer, b"RFB 003.008\n").await?;
    let greeting = reader.read_exact(12).await.map_err(browser_read_end)?;
    let minor = match super::upstream::parse_version(&greeting) {
        Some((3, minor)) if minor >= 8 => 8,
        Some((3, 7)) => 7,
        Some((3, _)) => 3,
        _ => return Err(End::BrowserProtocol("not an RFB client".into())),
    };
    if minor == 3 {
        // RFB 3.3: the server names the type; None has no SecurityResult.
        return send_browser(writer, &[0, 0, 0, 1]).await;
    }
    send_browser(writer, &[1, 1]).await?;
    let chosen = reader.read_u8().await.map_err(browser_read_end)?;
    if chosen != 1 {
        if minor >= 8 {
            let reason = b"only security type None is offered";
            let mut msg = vec![0, 0, 0, 1];
            msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
            msg.extend_from_slice(reason);
            send_browser(writer, &msg).await?;
        }
        return Err(End::BrowserProtocol(format!(
            "browser chose security type {chosen}"
        )));
    }
    if minor >= 8 {
        send_browser(writer, &[0, 0, 0, 0]).await?;
    }
    Ok(())
}

type BrowserWriter = FrameWriter<WriteHalf<BoxIo>>;

fn browser_read_end(e: super::wire::ReadError) -> End {
    use super::wire::ReadError;
    match e {
        ReadError::Closed(c) => End::BrowserClosed(c),
        ReadError::Lost(e) => End::BrowserLost(e),
        ReadError::Timeout => End::BrowserProtocol("RFB handshake timed out".into()),
    }
}

async fn send_browser(writer: &mut BrowserWriter, data: &[u8]) -> Result<(), End> {
    writer.queue(OP_BINARY, data);
    writer.flush().await.map_err(browser_lost)
}

/// Queues bytes for PVE in frames pveproxy takes (at most 128 KiB).
fn queue_pve(writer: &mut FrameWriter<WriteHalf<BoxIo>>, data: &[u8], count: &mut u64) {
    for chunk in data.chunks(PVE_MAX_FRAME) {
        writer.queue(OP_BINARY, chunk);
        *count += chunk.len() as u64;
    }
}

/// Sends browser bytes to PVE, as [`ClientStream`] lets them through.
async fn forward_up(
    writer: &mut FrameWriter<WriteHalf<BoxIo>>,
    data: Bytes,
    input: &mut ClientStream,
    count: &mut u64,
) -> Result<(), End> {
    let data = input
        .process(data)
        .map_err(|e| End::BrowserProtocol(e.to_string()))?;
    queue_pve(writer, &data, count);
    writer.flush().await.map_err(pve_lost)
}

fn millis_since(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

/// Where the time the browser was last heard from is kept.
#[derive(Clone, Copy)]
struct Heard<'a> {
    at: &'a AtomicU64,
    started: Instant,
}

impl Heard<'_> {
    fn now(self) {
        self.at.store(millis_since(self.started), Ordering::Relaxed);
    }

    fn silent_too_long(self) -> bool {
        let silent = millis_since(self.started).saturating_sub(self.at.load(Ordering::Relaxed));
        silent > BROWSER_SILENCE.as_millis() as u64
    }
}

/// PVE → browser: PVE's data frames passed on, its pings answered (by [`Up`]), the browser
/// pinged and its pings answered — our own frames only between PVE's.
struct Down<'a> {
    from: &'a mut FrameReader<ReadHalf<BoxIo>>,
    to: &'a mut BrowserWriter,
    /// Pongs the browser is owed (its pings arrive in [`Up`]).
    pongs_to_send: mpsc::Receiver<Bytes>,
    /// PVE's pings, for [`Up`] to answer.
    pongs_for_pve: mpsc::Sender<Bytes>,
    /// Set when the browser took a write: it is alive even when it sends nothing.
    heard: Heard<'a>,
    count: &'a mut u64,
}

impl Down<'_> {
    async fn run(mut self) -> End {
        let start = tokio::time::Instant::now() + PING_EVERY;
        let mut ping = tokio::time::interval_at(start, PING_EVERY);
        // Our frames waiting for a gap between PVE's: the newest pong owed (RFC 6455 lets
        // older ones go), and a ping.
        let mut pong: Option<Bytes> = None;
        let mut ping_due = false;
        loop {
            let ours_waiting = pong.is_some() || ping_due;
            tokio::select! {
                chunk = self.from.next_chunk(ours_waiting) => match chunk {
                    Ok(Chunk::Forward(bytes)) => {
                        if let Err(e) = self.to.pass_on(&bytes).await {
                            return browser_lost(e);
                        }
                        self.heard.now();
                        *self.count += bytes.len() as u64;
                    }
                    Ok(Chunk::Control(Frame::Ping(payload))) => {
                        let _ = self.pongs_for_pve.try_send(payload);
                    }
                    Ok(Chunk::Control(Frame::Close(close))) => return End::PveClosed(close),
                    Ok(Chunk::Control(_)) => {}
                    Err(e) => return End::PveLost(e.to_string()),
                },
                Some(payload) = self.pongs_to_send.recv() => pong = Some(payload),
                _ = ping.tick() => ping_due = true,
            }
            if (pong.is_some() || ping_due) && self.from.at_frame_boundary() {
                if let Some(payload) = pong.take() {
                    self.to.queue(OP_PONG, &payload);
                }
                if std::mem::take(&mut ping_due) {
                    self.to.queue(OP_PING, &[]);
                }
                if let Err(e) = self.to.flush().await {
                    return browser_lost(e);
                }
            }
        }
    }
}

/// Ends when the browser has neither sent anything nor taken a write for
/// [`BROWSER_SILENCE`] (also while a write to it is stuck).
async fn silence(heard: Heard<'_>) {
    let mut every = tokio::time::interval(PING_EVERY);
    loop {
        every.tick().await;
        if heard.silent_too_long() {
            return;
        }
    }
}

/// Browser → PVE: the browser's frames through the input filter, joined with whatever else
/// has already come, as frames for PVE; the browser's pings answered (by [`Down`]).
struct Up<'a> {
    from: &'a mut FrameReader<ReadHalf<BoxIo>>,
    to: &'a mut FrameWriter<WriteHalf<BoxIo>>,
    /// Pongs PVE is owed (its pings arrive in [`Down`]).
    pongs_to_send: mpsc::Receiver<Bytes>,
    /// The browser's pings, for [`Down`] to answer.
    pongs_for_browser: mpsc::Sender<Bytes>,
    input: &'a mut ClientStream,
    heard: Heard<'a>,
    count: &'a mut u64,
}

impl Up<'_> {
    async fn run(mut self) -> End {
        let mut joined = Vec::new();
        loop {
            let mut ended = None;
            tokio::select! {
                frame = self.from.next_frame() => {
                    ended = self.take_batch(frame, &mut joined);
                    queue_pve(self.to, &joined, self.count);
                    joined.clear();
                }
                Some(payload) = self.pongs_to_send.recv() => self.to.queue(OP_PONG, &payload),
            }
            // What came before a close or a failure still goes to PVE.
            if self.to.has_queued()
                && let Err(e) = self.to.flush().await
            {
                return ended.unwrap_or_else(|| pve_lost(e));
            }
            if let Some(end) = ended {
                return end;
            }
        }
    }

    /// `first`, and whatever else the browser has already sent, into `joined`; the end, if one
    /// of them ends the console.
    fn take_batch(
        &mut self,
        first: Result<Frame, ReadFailure>,
        joined: &mut Vec<u8>,
    ) -> Option<End> {
        let mut frame = first;
        loop {
            if let Err(end) = self.take(frame, joined) {
                return Some(end);
            }
            frame = match self.from.buffered_frame() {
                Ok(Some(next)) => Ok(next),
                Ok(None) => return None,
                Err(e) => Err(e),
            };
        }
    }

    /// One frame of the browser: data through the filter into `joined`.
    fn take(&mut self, frame: Result<Frame, ReadFailure>, joined: &mut Vec<u8>) -> Result<(), End> {
        self.heard.now();
        match frame {
            Ok(Frame::Data(bytes)) => {
                let passed = self
                    .input
                    .process(bytes)
                    .map_err(|e| End::BrowserProtocol(e.to_string()))?;
                joined.extend_from_slice(&passed);
            }
            Ok(Frame::Ping(payload)) => {
                let _ = self.pongs_for_browser.try_send(payload);
            }
            Ok(Frame::Pong) => {}
            Ok(Frame::Close(close)) => return Err(End::BrowserClosed(close)),
            Err(ReadFailure::Lost(e)) => return Err(End::BrowserLost(e)),
            Err(broken) => {
                return Err(End::BrowserBrokeWebSocket(
                    broken.close_code(),
                    broken.to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// A close to send in answer to `close` (RFC 6455 §5.5.1: echo the code).
fn echo(close: &Close) -> Close {
    close
        .as_ref()
        .filter(|(code, _)| sendable_close_code(*code))
        .map(|(code, _)| (*code, String::new()))
}

/// Ends both sides: the close (code and reason) goes on to the other side, then each close
/// handshake gets a moment to complete.
async fn finish(
    end: End,
    mut browser: Side,
    mut pve: Side,
    options: &Options,
    counts: &Counts,
    started: Instant,
) {
    // (close for the browser, close for PVE, whether each side already sent its close, why).
    let (to_browser, to_pve, why): (Option<Close>, Option<Close>, String) = match &end {
        End::PveClosed(c) => {
            let to_browser = match c {
                Some((code, reason)) if sendable_close_code(*code) => (*code, reason.clone()),
                Some((code, reason)) => (
                    1011,
                    format!("Proxmox VE closed the console ({code} {reason})"),
                ),
                None => (1000, "Proxmox VE closed the console".to_owned()),
            };
            (Some(Some(to_browser)), Some(echo(c)), "PVE closed".into())
        }
        End::PveLost(e) => (
            Some(Some((1014, "connection to Proxmox VE lost".into()))),
            Some(Some((1011, "relay error".into()))),
            format!("PVE connection lost: {e}"),
        ),
        End::BrowserClosed(c) => {
            let to_pve = match c {
                Some((code, reason)) if sendable_close_code(*code) => (*code, reason.clone()),
                _ => (1000, String::new()),
            };
            (Some(echo(c)), Some(Some(to_pve)), "browser closed".into())
        }
        End::BrowserLost(e) => (
            None,
            Some(Some((1001, "viewer gone".into()))),
            format!("browser lost: {e}"),
        ),
        End::BrowserSilent => (
            Some(Some((1001, "no answer to ping".into()))),
            Some(Some((1001, "viewer gone".into()))),
            "browser silent".into(),
        ),
        End::BrowserProtocol(e) => (
            Some(Some((1008, e.clone()))),
            Some(Some((1000, String::new()))),
            format!("browser protocol error: {e}"),
        ),
        End::Revoked => (
            Some(Some((1008, "access to this console was revoked".into()))),
            Some(Some((1000, String::new()))),
            "access revoked".into(),
        ),
        End::ServerStopping => (
            Some(Some((1012, "Cecyber is restarting".into()))),
            Some(Some((1001, "viewer gone".into()))),
            "server stopping".into(),
        ),
        End::BrowserBrokeWebSocket(code, e) => (
            Some(Some((*code, e.clone()))),
            Some(Some((1000, String::new()))),
            format!("browser broke the WebSocket protocol: {e}"),
        ),
    };
    tracing::info!(
        console = %options.label,
        reason = %why,
        secs = started.elapsed().as_secs(),
        bytes_to_browser = counts.down,
        bytes_to_pve = counts.up,
        "console relay closed"
    );
    let browser_closed = matches!(end, End::BrowserClosed(_));
    let pve_closed = matches!(end, End::PveClosed(_));
    // A close frame for the browser only between PVE's frames, after whole writes.
    let browser_framed = browser.writer.is_intact() && pve.reader.at_frame_boundary();
    let to_browser = to_browser.filter(|_| browser_framed);
    let to_pve = to_pve.filter(|_| pve.writer.is_intact());
    let browser = close_side(&mut browser, to_browser, !browser_closed);
    let pve = close_side(&mut pve, to_pve, !pve_closed);
    let _ = tokio::time::timeout(CLOSE_GRACE, futures::future::join(browser, pve)).await;
}

/// Sends `close` (if any: none when the connection is in the middle of a frame), waits for the
/// peer's close if `await_reply`, and ends the connection.
async fn close_side(side: &mut Side, close: Option<Close>, await_reply: bool) {
    if let Some(close) = close {
        side.writer.queue_close(&close);
        if side.writer.flush().await.is_err() {
            return;
        }
        if await_reply {
            // Reads until the peer's close (or the end), so the close handshake completes.
            while let Ok(chunk) = side.reader.next_chunk(false).await {
                if matches!(chunk, Chunk::Control(Frame::Close(_))) {
                    break;
                }
            }
        }
    }
    side.writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::console::websocket::frame::write_header;

    /// Reads exactly `n` bytes within a second.
    async fn read_n(io: &mut (impl tokio::io::AsyncRead + Unpin), n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(Duration::from_secs(1), io.read_exact(&mut buf))
            .await
            .expect("in time")
            .unwrap();
        buf
    }

    #[tokio::test]
    async fn a_pong_waits_for_the_end_of_the_frame_being_passed_on() {
        let (pve, mut pve_peer) = tokio::io::duplex(1 << 16);
        let (browser, mut browser_peer) = tokio::io::duplex(1 << 16);
        let rules = Rules {
            from_client: false,
            max_payload: 1 << 20,
        };
        let (r, _w) = tokio::io::split(Box::new(pve) as BoxIo);
        let mut from = FrameReader::new(r, &[], rules, 1 << 16);
        let (_r, w) = tokio::io::split(Box::new(browser) as BoxIo);
        let mut to = FrameWriter::new(w, false);
        let (browser_pongs, pongs_to_send) = mpsc::channel(PONG_QUEUE);
        let (pongs_for_pve, _pve_pongs) = mpsc::channel(PONG_QUEUE);
        let at = AtomicU64::new(0);
        let mut count = 0;
        let down = Down {
            from: &mut from,
            to: &mut to,
            pongs_to_send,
            pongs_for_pve,
            heard: Heard {
                at: &at,
                started: Instant::now(),
            },
            count: &mut count,
        };
        let mut frame = Vec::new();
        write_header(&mut frame, OP_BINARY, None, 1000);
        frame.extend_from_slice(&[7; 1000]);
        let script = async {
            // PVE sends half a frame; the browser gets it at once.
            pve_peer.write_all(&frame[..500]).await.unwrap();
            assert_eq!(read_n(&mut browser_peer, 500).await, &frame[..500]);
            // The browser's ping is answered only once the frame is whole.
            browser_pongs.send(Bytes::from_static(b"p")).await.unwrap();
            let early =
                tokio::time::timeout(Duration::from_millis(100), browser_peer.read_u8()).await;
            assert!(early.is_err(), "nothing inside PVE's frame");
            pve_peer.write_all(&frame[500..]).await.unwrap();
            let rest = frame.len() - 500;
            assert_eq!(read_n(&mut browser_peer, rest).await, &frame[500..]);
            assert_eq!(read_n(&mut browser_peer, 3).await, [0x8A, 1, b'p']);
        };
        tokio::select! {
            end = down.run() => panic!("ended: {}", matches!(end, End::PveLost(_))),
            () = script => {}
        }
    }
}
