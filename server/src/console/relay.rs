//! The relay between the browser's WebSocket and PVE's, once both are open: the RFB version and
//! security handshake with the browser (offering security type None: the VNC password stays
//! here), then every byte from ClientInit on, both ways, as binary frames.
//!
//! Batching: each direction takes a frame and then every further frame its source has already
//! delivered (without waiting), joins the small ones into larger frames ([`Joiner`]), and flushes
//! once the source has nothing more ready — so bulk data (a framebuffer update arriving in many
//! frames) costs the other side fewer frames and writes, while a lone small message (a key, a
//! one-pixel update) is flushed at once and never waits for company.
//!
//! Backpressure: each direction awaits its writes before reading more; what the WebSocket
//! libraries hold is bounded by their write buffer plus one frame, so a slow browser slows only
//! its own upstream. The browser is pinged; closes are passed on with their code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{self, CloseFrame, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode};

use super::filter::ClientStream;
use super::upstream::{PVE_MAX_FRAME, PveSocket, Upstream};
use super::wire::{ByteReader, Close, Frame, FrameSource, close_reason, sendable_close_code};

/// How long the browser has for each step of its RFB handshake.
const BROWSER_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Ping interval towards the browser.
const PING_EVERY: Duration = Duration::from_secs(20);
/// The browser is given up when nothing (not even a pong) came for this long.
const BROWSER_SILENCE: Duration = Duration::from_secs(65);
/// How long a close handshake may take before the sockets are dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Largest frame the relay makes for the browser by joining small frames of PVE.
const BROWSER_JOIN_MAX: usize = 256 * 1024;
/// Pieces at least this big are sent as they are: joining them would only add a copy.
const JOIN_BELOW: usize = 16 * 1024;
/// Most bytes one batch takes before it flushes, even when more is ready (so that the ping
/// timer gets its turn between batches of a long stream).
const BATCH_MAX: usize = 1024 * 1024;

/// What the relay is told about its console.
pub(crate) struct Options {
    /// Drop the browser's input messages.
    pub view_only: bool,
    /// Who and what, for the log (`user ann`, `embed link 3`, and the VM).
    pub label: String,
}

type BrowserSink = SplitSink<WebSocket, ws::Message>;
type PveSink = SplitSink<PveSocket, tungstenite::Message>;

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
    /// The browser broke the protocol (handshake, or an input that cannot be followed).
    BrowserProtocol(String),
}

/// Runs one console until either side ends.
pub(crate) async fn run(browser: WebSocket, upstream: Upstream, options: Options) {
    let started = Instant::now();
    let (mut b_sink, b_stream) = browser.split();
    let Upstream {
        sink: mut p_sink,
        stream: mut p_stream,
        leftover: p_left,
    } = upstream;
    let mut input = ClientStream::new(options.view_only);
    let mut counts = Counts::default();
    let mut reader = ByteReader::new(b_stream, BROWSER_STEP_TIMEOUT);
    let handshake = browser_handshake(&mut reader, &mut b_sink).await;
    let (mut b_stream, b_left) = reader.into_parts();
    let end = match handshake {
        Err(end) => end,
        Ok(()) => {
            let sides = Sides {
                b_sink: &mut b_sink,
                b_stream: &mut b_stream,
                p_sink: &mut p_sink,
                p_stream: &mut p_stream,
            };
            relay(
                sides,
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
    finish(
        end, b_sink, b_stream, p_sink, p_stream, &options, &counts, started,
    )
    .await;
}

/// Both WebSockets, borrowed for the relay.
struct Sides<'a> {
    b_sink: &'a mut BrowserSink,
    b_stream: &'a mut SplitStream<WebSocket>,
    p_sink: &'a mut PveSink,
    p_stream: &'a mut SplitStream<PveSocket>,
}

/// After both handshakes: the bytes read ahead on each side, then both directions at once.
async fn relay(
    sides: Sides<'_>,
    b_left: Vec<u8>,
    p_left: Vec<u8>,
    input: &mut ClientStream,
    counts: &mut Counts,
    started: Instant,
    options: &Options,
) -> End {
    if !p_left.is_empty()
        && let Err(end) = send_browser(sides.b_sink, Bytes::from(p_left), &mut counts.down).await
    {
        return end;
    }
    if let Err(end) = forward_up(sides.p_sink, Bytes::from(b_left), input, &mut counts.up).await {
        return end;
    }
    tracing::info!(console = %options.label, view_only = options.view_only, "console relay open");
    let last_heard = AtomicU64::new(0);
    let down = pump_down(
        sides.p_stream,
        sides.b_sink,
        &last_heard,
        started,
        &mut counts.down,
    );
    let up = pump_up(
        sides.b_stream,
        sides.p_sink,
        input,
        &last_heard,
        started,
        &mut counts.up,
    );
    tokio::select! {
        end = down => end,
        end = up => end,
    }
}

/// Bytes relayed, for the log.
#[derive(Default)]
struct Counts {
    up: u64,
    down: u64,
}

/// The server half of the RFB handshake with the browser, offering only security type None.
async fn browser_handshake(
    reader: &mut ByteReader<SplitStream<WebSocket>>,
    sink: &mut BrowserSink,
) -> Result<(), End> {
    let mut ignored = 0;
    send_browser(sink, Bytes::from_static(b"RFB 003.008\n"), &mut ignored).await?;
    let greeting = reader.read_exact(12).await.map_err(browser_read_end)?;
    let minor = match super::upstream::parse_version(&greeting) {
        Some((3, minor)) if minor >= 8 => 8,
        Some((3, 7)) => 7,
        Some((3, _)) => 3,
        _ => return Err(End::BrowserProtocol("not an RFB client".into())),
    };
    if minor == 3 {
        // RFB 3.3: the server names the type; None has no SecurityResult.
        send_browser(sink, Bytes::from_static(&[0, 0, 0, 1]), &mut ignored).await?;
        return Ok(());
    }
    send_browser(sink, Bytes::from_static(&[1, 1]), &mut ignored).await?;
    let chosen = reader.read_u8().await.map_err(browser_read_end)?;
    if chosen != 1 {
        if minor >= 8 {
            let reason = b"only security type None is offered";
            let mut msg = vec![0, 0, 0, 1];
            msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
            msg.extend_from_slice(reason);
            send_browser(sink, Bytes::from(msg), &mut ignored).await?;
        }
        return Err(End::BrowserProtocol(format!(
            "browser chose security type {chosen}"
        )));
    }
    if minor >= 8 {
        send_browser(sink, Bytes::from_static(&[0, 0, 0, 0]), &mut ignored).await?;
    }
    Ok(())
}

fn browser_read_end(e: super::wire::ReadError) -> End {
    use super::wire::ReadError;
    match e {
        ReadError::Closed(c) => End::BrowserClosed(c),
        ReadError::Lost(e) => End::BrowserLost(e),
        ReadError::Timeout => End::BrowserProtocol("RFB handshake timed out".into()),
    }
}

async fn send_browser(sink: &mut BrowserSink, data: Bytes, count: &mut u64) -> Result<(), End> {
    let n = data.len() as u64;
    sink.send(ws::Message::Binary(data))
        .await
        .map_err(|e| End::BrowserLost(e.to_string()))?;
    *count += n;
    Ok(())
}

/// Queues a frame for the browser without flushing (the WebSocket writes once its buffer fills).
async fn feed_browser(sink: &mut BrowserSink, data: Bytes, count: &mut u64) -> Result<(), End> {
    let n = data.len() as u64;
    sink.feed(ws::Message::Binary(data))
        .await
        .map_err(|e| End::BrowserLost(e.to_string()))?;
    *count += n;
    Ok(())
}

async fn flush_browser(sink: &mut BrowserSink) -> Result<(), End> {
    sink.flush()
        .await
        .map_err(|e| End::BrowserLost(e.to_string()))
}

/// Queues bytes for PVE without flushing, in frames pveproxy takes (at most 128 KiB).
async fn feed_pve(sink: &mut PveSink, data: Bytes, count: &mut u64) -> Result<(), End> {
    let mut rest = data;
    while !rest.is_empty() {
        let chunk = rest.split_to(rest.len().min(PVE_MAX_FRAME));
        let n = chunk.len() as u64;
        sink.feed(tungstenite::Message::Binary(chunk))
            .await
            .map_err(|e| End::PveLost(e.to_string()))?;
        *count += n;
    }
    Ok(())
}

async fn flush_pve(sink: &mut PveSink) -> Result<(), End> {
    sink.flush().await.map_err(|e| End::PveLost(e.to_string()))
}

/// Sends browser bytes to PVE, as [`ClientStream`] lets them through.
async fn forward_up(
    sink: &mut PveSink,
    data: Bytes,
    input: &mut ClientStream,
    count: &mut u64,
) -> Result<(), End> {
    let data = input
        .process(data)
        .map_err(|e| End::BrowserProtocol(e.to_string()))?;
    feed_pve(sink, data, count).await?;
    flush_pve(sink).await
}

fn millis_since(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

/// PVE → browser, and the browser's pings.
async fn pump_down(
    from: &mut SplitStream<PveSocket>,
    to: &mut BrowserSink,
    last_heard: &AtomicU64,
    started: Instant,
    count: &mut u64,
) -> End {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut joiner = Joiner::new(BROWSER_JOIN_MAX);
    loop {
        tokio::select! {
            frame = from.next_frame() => {
                if let Err(end) = down_batch(from, to, frame, &mut joiner, count).await {
                    return end;
                }
            }
            _ = ping.tick() => {
                let silent = millis_since(started).saturating_sub(last_heard.load(Ordering::Relaxed));
                if silent > BROWSER_SILENCE.as_millis() as u64 {
                    return End::BrowserSilent;
                }
                if let Err(e) = to.send(ws::Message::Ping(Bytes::new())).await {
                    return End::BrowserLost(e.to_string());
                }
            }
        }
    }
}

/// One batch towards the browser: `first`, then every frame PVE has delivered already (up to
/// [`BATCH_MAX`] bytes), joined where small; flushed when PVE has nothing more ready. A close
/// or failure of PVE ends the batch after what came before it has been sent.
async fn down_batch(
    from: &mut SplitStream<PveSocket>,
    to: &mut BrowserSink,
    first: Result<Frame, String>,
    joiner: &mut Joiner,
    count: &mut u64,
) -> Result<(), End> {
    let mut frame = first;
    let mut taken = 0;
    let ended = loop {
        match frame {
            Ok(Frame::Data(b)) => {
                taken += b.len();
                for f in joiner.push(b).into_iter().flatten() {
                    feed_browser(to, f, count).await?;
                }
            }
            Ok(Frame::Ping | Frame::Pong) => {}
            Ok(Frame::Close(c)) => break Some(End::PveClosed(c)),
            Err(e) => break Some(End::PveLost(e)),
        }
        if taken >= BATCH_MAX {
            break None;
        }
        // Only what is already there: a frame still on its way is not waited for.
        match from.next_frame().now_or_never() {
            Some(next) => frame = next,
            None => break None,
        }
    };
    if let Some(f) = joiner.take() {
        feed_browser(to, f, count).await?;
    }
    flush_browser(to).await?;
    ended.map_or(Ok(()), Err)
}

/// Browser → PVE.
async fn pump_up(
    from: &mut SplitStream<WebSocket>,
    to: &mut PveSink,
    input: &mut ClientStream,
    last_heard: &AtomicU64,
    started: Instant,
    count: &mut u64,
) -> End {
    let mut joiner = Joiner::new(PVE_MAX_FRAME);
    loop {
        let frame = from.next_frame().await;
        let heard = Heard {
            at: last_heard,
            started,
        };
        if let Err(end) = up_batch(from, to, frame, input, &mut joiner, heard, count).await {
            return end;
        }
    }
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
}

/// One batch towards PVE, like [`down_batch`]: the browser's messages that are already there,
/// through the input filter, joined into frames pveproxy takes.
async fn up_batch(
    from: &mut SplitStream<WebSocket>,
    to: &mut PveSink,
    first: Result<Frame, String>,
    input: &mut ClientStream,
    joiner: &mut Joiner,
    heard: Heard<'_>,
    count: &mut u64,
) -> Result<(), End> {
    let mut frame = first;
    let mut taken = 0;
    let ended = loop {
        heard.now();
        match frame {
            Ok(Frame::Data(b)) => {
                taken += b.len();
                let b = input
                    .process(b)
                    .map_err(|e| End::BrowserProtocol(e.to_string()));
                match b {
                    Ok(b) if b.is_empty() => {}
                    Ok(b) => {
                        for f in joiner.push(b).into_iter().flatten() {
                            feed_pve(to, f, count).await?;
                        }
                    }
                    Err(end) => break Some(end),
                }
            }
            Ok(Frame::Ping | Frame::Pong) => {}
            Ok(Frame::Close(c)) => break Some(End::BrowserClosed(c)),
            Err(e) => break Some(End::BrowserLost(e)),
        }
        if taken >= BATCH_MAX {
            break None;
        }
        match from.next_frame().now_or_never() {
            Some(next) => frame = next,
            None => break None,
        }
    };
    if let Some(f) = joiner.take() {
        feed_pve(to, f, count).await?;
    }
    flush_pve(to).await?;
    ended.map_or(Ok(()), Err)
}

/// Joins the small pieces of one direction's batch into fewer frames of at most `max` bytes;
/// pieces of [`JOIN_BELOW`] bytes or more go on as they are. Order is kept, and a piece that
/// stays alone is passed on without a copy.
struct Joiner {
    held: Held,
    max: usize,
}

/// What a [`Joiner`] holds between two pieces.
enum Held {
    Nothing,
    /// One piece, not copied yet.
    One(Bytes),
    /// Several pieces, copied one after the other.
    Joined(Vec<u8>),
}

impl Joiner {
    fn new(max: usize) -> Self {
        Self {
            held: Held::Nothing,
            max,
        }
    }

    /// Takes `data`; answers the frames complete now, in order (at most two).
    fn push(&mut self, data: Bytes) -> [Option<Bytes>; 2] {
        if data.len() >= JOIN_BELOW.min(self.max) {
            return [self.take(), Some(data)];
        }
        let held = std::mem::replace(&mut self.held, Held::Nothing);
        let held_len = match &held {
            Held::Nothing => 0,
            Held::One(b) => b.len(),
            Held::Joined(v) => v.len(),
        };
        if held_len + data.len() > self.max {
            self.held = Held::One(data);
            return [held.into_frame(), None];
        }
        self.held = match held {
            Held::Nothing => Held::One(data),
            Held::One(first) => {
                let mut joined = Vec::with_capacity((4 * (first.len() + data.len())).min(self.max));
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
                Held::Joined(joined)
            }
            Held::Joined(mut joined) => {
                joined.extend_from_slice(&data);
                Held::Joined(joined)
            }
        };
        [None, None]
    }

    /// What is held, as one frame.
    fn take(&mut self) -> Option<Bytes> {
        std::mem::replace(&mut self.held, Held::Nothing).into_frame()
    }
}

impl Held {
    /// The held bytes as one frame.
    fn into_frame(self) -> Option<Bytes> {
        match self {
            Held::Nothing => None,
            Held::One(b) => Some(b),
            Held::Joined(v) => Some(Bytes::from(v)),
        }
    }
}

/// Ends both sides: the close (code and reason) goes on to the other side, then each close
/// handshake gets a moment to complete.
#[allow(clippy::too_many_arguments)]
async fn finish(
    end: End,
    mut b_sink: BrowserSink,
    b_stream: SplitStream<WebSocket>,
    mut p_sink: PveSink,
    p_stream: SplitStream<PveSocket>,
    options: &Options,
    counts: &Counts,
    started: Instant,
) {
    let (to_browser, to_pve, why): (Close, Close, String) = match &end {
        End::PveClosed(c) => {
            let to_browser = match c {
                Some((code, reason)) if sendable_close_code(*code) => (*code, reason.clone()),
                Some((code, reason)) => (
                    1011,
                    format!("Proxmox VE closed the console ({code} {reason})"),
                ),
                None => (1000, "Proxmox VE closed the console".to_owned()),
            };
            (Some(to_browser), None, "PVE closed".into())
        }
        End::PveLost(e) => (
            Some((1014, "connection to Proxmox VE lost".into())),
            Some((1011, "relay error".into())),
            format!("PVE connection lost: {e}"),
        ),
        End::BrowserClosed(c) => {
            let to_pve = match c {
                Some((code, reason)) if sendable_close_code(*code) => (*code, reason.clone()),
                _ => (1000, String::new()),
            };
            (None, Some(to_pve), "browser closed".into())
        }
        End::BrowserLost(e) => (
            None,
            Some((1001, "viewer gone".into())),
            format!("browser lost: {e}"),
        ),
        End::BrowserSilent => (
            Some((1001, "no answer to ping".into())),
            Some((1001, "viewer gone".into())),
            "browser silent".into(),
        ),
        End::BrowserProtocol(e) => (
            Some((1008, e.clone())),
            Some((1000, String::new())),
            format!("browser protocol error: {e}"),
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
    let browser = async {
        if let Some((code, reason)) = to_browser {
            let frame = CloseFrame {
                code,
                reason: close_reason(&reason).into(),
            };
            let _ = b_sink.send(ws::Message::Close(Some(frame))).await;
        }
        let _ = b_sink.close().await;
        drain(b_stream).await;
    };
    let pve = async {
        if let Some((code, reason)) = to_pve {
            let frame = tungstenite::protocol::CloseFrame {
                code: CloseCode::from(code),
                reason: close_reason(&reason).into(),
            };
            let _ = p_sink.send(tungstenite::Message::Close(Some(frame))).await;
        }
        let _ = p_sink.close().await;
        drain(p_stream).await;
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, futures::future::join(browser, pve)).await;
}

/// Reads until the peer's close (or the end), so the close handshake can complete.
async fn drain<S: FrameSource>(mut stream: S) {
    while let Ok(frame) = stream.next_frame().await {
        if matches!(frame, Frame::Close(_)) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(sizes: &[usize]) -> Vec<Bytes> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Bytes::from(vec![i as u8; n]))
            .collect()
    }

    /// Runs `sizes` through a joiner as one batch: the frames sent, as their sizes.
    fn join(max: usize, sizes: &[usize]) -> (Vec<usize>, Vec<u8>) {
        let mut joiner = Joiner::new(max);
        let mut frames = Vec::new();
        for piece in pieces(sizes) {
            frames.extend(joiner.push(piece).into_iter().flatten());
        }
        frames.extend(joiner.take());
        let sizes = frames.iter().map(Bytes::len).collect();
        (sizes, frames.concat())
    }

    #[test]
    fn joins_small_pieces_keeps_big_ones_and_the_order() {
        let all = |sizes: &[usize]| pieces(sizes).concat();

        let sizes = [10, 20, 30];
        assert_eq!(join(1000, &sizes), (vec![60], all(&sizes)));
        let sizes = [10, 40_000, 20, 30, 128 * 1024];
        assert_eq!(
            join(256 * 1024, &sizes),
            (vec![10, 40_000, 50, 128 * 1024], all(&sizes)),
            "big pieces go alone, in order"
        );
        let sizes = [600, 600, 600];
        assert_eq!(
            join(1000, &sizes),
            (vec![600, 600, 600], all(&sizes)),
            "never above the limit"
        );
        let sizes = [400, 400, 400, 10];
        assert_eq!(join(1000, &sizes), (vec![800, 410], all(&sizes)));
        assert_eq!(join(1000, &[]), (vec![], vec![]));
    }

    #[test]
    fn a_lone_piece_is_not_copied() {
        let mut joiner = Joiner::new(1000);
        let piece = Bytes::from(vec![7u8; 10]);
        assert_eq!(joiner.push(piece.clone()), [None, None]);
        let out = joiner.take().unwrap();
        assert_eq!(out.as_ptr(), piece.as_ptr(), "same buffer");
        assert!(joiner.take().is_none());
    }
}
