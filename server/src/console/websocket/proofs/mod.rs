//! Proofs of our own WebSocket code against RFC 6455, with tungstenite as the oracle: random
//! frames encoded by one and decoded by the other in both directions, the same bytes delivered
//! in pieces of every size, hostile input, and the browser's upgrade.
//!
//! Every case comes from a generator seeded with the test's name and the case's number, so a
//! failure names its case and repeats exactly.
//!
//! - `decode`: what tungstenite writes, our reader reads (whole frames, and passed on)
//! - `encode`: what our writer writes, tungstenite reads
//! - `hostile`: frames a peer must not send, random and mutated streams
//! - `upgrade`: the browser's upgrade request, against tungstenite's server handshake

mod decode;
mod encode;
mod hostile;
mod upgrade;

use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::{
    Frame as TungFrame, FrameHeader, coding::OpCode,
};

use super::frame::{OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, Rules};
use super::reader::{FrameReader, ReadFailure};
use crate::console::wire::{Frame, close_reason};

/// The largest frame the proofs' readers take (the relay's limit is 1 MiB on both sides).
const MAX_PAYLOAD: u64 = 1 << 20;

/// The rules for frames from a client (masked) or from a server.
fn rules(from_client: bool) -> Rules {
    Rules {
        from_client,
        max_payload: MAX_PAYLOAD,
    }
}

/// The generator of case `case` of the test `name`.
fn case_rng(name: &str, case: u64) -> StdRng {
    // FNV-1a: a stable seed per name (std's hasher may change between releases).
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    StdRng::seed_from_u64(seed ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Payload lengths at the edges of the three length forms, and past the 64 KiB of a TLS read.
const EDGES: [usize; 13] = [
    0, 1, 2, 124, 125, 126, 127, 128, 1000, 65_535, 65_536, 65_537, 70_000,
];

/// A data frame's payload length: often at an edge, mostly small, at times large.
fn data_len(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..10) {
        0..=2 => EDGES[rng.gen_range(0..EDGES.len())],
        3 => rng.gen_range(0..70_000),
        _ => rng.gen_range(0..300),
    }
}

/// A control frame's payload length (at most 125).
fn control_len(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..4) {
        0 => [0, 1, 124, 125][rng.gen_range(0..4)],
        _ => rng.gen_range(0..=125),
    }
}

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    rng.fill(&mut bytes[..]);
    bytes
}

/// Text of about `len` bytes, of characters of every UTF-8 length.
fn random_text(rng: &mut StdRng, len: usize) -> String {
    let mut text = String::with_capacity(len + 4);
    while text.len() < len {
        let c = match rng.gen_range(0..6) {
            0 => 'é',
            1 => '€',
            2 => '😀',
            3 => rng.r#gen::<char>(),
            _ => char::from(rng.gen_range(0x20..0x7F_u8)),
        };
        text.push(c);
    }
    text
}

/// One frame to put on the wire.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

impl Spec {
    fn whole(opcode: u8, payload: Vec<u8>) -> Self {
        Spec {
            fin: true,
            opcode,
            payload,
        }
    }

    fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// What our reader gives for this frame, read whole.
    fn as_read(&self) -> Frame {
        let payload = Bytes::from(self.payload.clone());
        match self.opcode {
            OP_PING => Frame::Ping(payload),
            OP_PONG => Frame::Pong,
            OP_CLOSE => Frame::Close(match &self.payload[..] {
                [] => None,
                [high, low, reason @ ..] => Some((
                    u16::from_be_bytes([*high, *low]),
                    String::from_utf8(reason.to_vec()).expect("generated as UTF-8"),
                )),
                [_] => unreachable!("not generated"),
            }),
            _ => Frame::Data(payload),
        }
    }
}

/// Close codes an endpoint may send (RFC 6455 §7.4), at the edges of their ranges.
const CLOSE_CODES: [u16; 14] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
];

/// A close frame's payload: nothing, or a code with a reason that fits.
fn close_payload(rng: &mut StdRng) -> Vec<u8> {
    if rng.gen_bool(0.2) {
        return Vec::new();
    }
    let code = CLOSE_CODES[rng.gen_range(0..CLOSE_CODES.len())];
    let long = rng.gen_range(0..130);
    let reason = close_reason(&random_text(rng, long));
    [&code.to_be_bytes()[..], reason.as_bytes()].concat()
}

/// One message as frames: text or binary, in one frame or fragmented (text cut at any byte,
/// also inside a character), with pings and pongs between the fragments.
fn message(rng: &mut StdRng) -> Vec<Spec> {
    let text = rng.gen_bool(0.4);
    let fragments = if rng.gen_bool(0.6) {
        1
    } else {
        rng.gen_range(2..=4)
    };
    let pieces: Vec<Vec<u8>> = if text {
        let len = data_len(rng);
        let mut all = random_text(rng, len).into_bytes();
        let mut cuts: Vec<usize> = (1..fragments)
            .map(|_| rng.gen_range(0..=all.len()))
            .collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        for cut in cuts.into_iter().rev() {
            pieces.push(all.split_off(cut));
        }
        pieces.push(all);
        pieces.reverse();
        pieces
    } else {
        (0..fragments)
            .map(|_| {
                let len = data_len(rng);
                random_bytes(rng, len)
            })
            .collect()
    };
    let last = pieces.len() - 1;
    let mut frames = Vec::new();
    for (i, payload) in pieces.into_iter().enumerate() {
        if i > 0 && rng.gen_bool(0.3) {
            frames.push(control(rng));
        }
        let opcode = match (i, text) {
            (0, true) => OP_TEXT,
            (0, false) => OP_BINARY,
            _ => OP_CONTINUATION,
        };
        frames.push(Spec {
            fin: i == last,
            opcode,
            payload,
        });
    }
    frames
}

/// A ping or a pong.
fn control(rng: &mut StdRng) -> Spec {
    let opcode = if rng.gen_bool(0.6) { OP_PING } else { OP_PONG };
    let len = control_len(rng);
    Spec::whole(opcode, random_bytes(rng, len))
}

/// A valid stream of frames: messages, pings and pongs, and at times a close at the end.
fn conversation(rng: &mut StdRng) -> Vec<Spec> {
    let mut frames = Vec::new();
    for _ in 0..rng.gen_range(1..=6) {
        if rng.gen_bool(0.7) {
            frames.extend(message(rng));
        } else {
            frames.push(control(rng));
        }
    }
    if rng.gen_bool(0.5) {
        frames.push(Spec::whole(OP_CLOSE, close_payload(rng)));
    }
    frames
}

/// `spec` as tungstenite writes it, masked with `mask`.
fn tungstenite_encode(spec: &Spec, mask: Option<[u8; 4]>, out: &mut Vec<u8>) {
    let header = FrameHeader {
        is_final: spec.fin,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::from(spec.opcode),
        mask,
    };
    TungFrame::from_payload(header, spec.payload.clone().into())
        .format(out)
        .expect("writes into a Vec");
}

/// `frames` as tungstenite writes them, masked (each with its own key) when from a client.
fn tungstenite_stream(rng: &mut StdRng, frames: &[Spec], from_client: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for spec in frames {
        let mask = from_client.then(|| rng.r#gen::<[u8; 4]>());
        tungstenite_encode(spec, mask, &mut out);
    }
    out
}

/// How the bytes of a stream reach the reader.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Delivery {
    /// One byte per read.
    Bytewise,
    /// Reads of random sizes, at times not ready yet.
    Random,
    /// Everything in the first read.
    AllAtOnce,
}

impl Delivery {
    /// The deliveries worth running for a stream of `len` bytes (one byte per read is slow in a
    /// debug build beyond a few pages).
    fn for_len(len: usize) -> &'static [Delivery] {
        if len <= 16 * 1024 {
            &[Delivery::Bytewise, Delivery::Random, Delivery::AllAtOnce]
        } else {
            &[Delivery::Random, Delivery::AllAtOnce]
        }
    }
}

/// An `AsyncRead` giving its bytes as a [`Delivery`] says, then the end of the stream.
struct Pieces {
    bytes: Vec<u8>,
    at: usize,
    delivery: Delivery,
    rng: StdRng,
}

impl Pieces {
    fn new(bytes: Vec<u8>, delivery: Delivery, rng: &mut StdRng) -> Self {
        Pieces {
            bytes,
            at: 0,
            delivery,
            rng: StdRng::seed_from_u64(rng.r#gen()),
        }
    }
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let rest = this.bytes.len() - this.at;
        let n = match this.delivery {
            Delivery::Bytewise => 1,
            Delivery::AllAtOnce => rest,
            Delivery::Random => {
                if rest > 0 && this.rng.gen_bool(0.2) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                match this.rng.gen_range(0..4) {
                    0 => this.rng.gen_range(1..=3),
                    1 => this.rng.gen_range(1..=200),
                    _ => this.rng.gen_range(1..=20_000),
                }
            }
        };
        let n = n.min(rest).min(buf.remaining());
        buf.put_slice(&this.bytes[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

/// A reader over `bytes` with `rules`: a random read window, some bytes at times already read
/// with the upgrade, the rest delivered as `delivery` says.
fn reader_over(
    rng: &mut StdRng,
    mut bytes: Vec<u8>,
    delivery: Delivery,
    rules: Rules,
) -> FrameReader<Pieces> {
    let read_size = [1, 7, 64, 1500, 16 * 1024, 256 * 1024][rng.gen_range(0..6)];
    let already = if rng.gen_bool(0.2) {
        let n = rng.gen_range(0..=bytes.len().min(300));
        bytes.drain(..n).collect()
    } else {
        Vec::new()
    };
    FrameReader::new(
        Pieces::new(bytes, delivery, rng),
        &already,
        rules,
        read_size,
    )
}

/// Every frame our reader reads from `reader`, whole, until it fails or the stream ends.
async fn read_all_frames<R>(reader: &mut FrameReader<R>) -> (Vec<Frame>, ReadFailure)
where
    R: AsyncRead + Unpin + Send,
{
    let mut frames = Vec::new();
    loop {
        match reader.next_frame().await {
            Ok(frame) => frames.push(frame),
            Err(failure) => return (frames, failure),
        }
    }
}

/// The end of a stream that ended between frames, as our reader says it.
fn ended() -> ReadFailure {
    ReadFailure::Lost("connection ended".into())
}

/// An in-memory connection for tungstenite's blocking API: reads its input in pieces of at
/// most `piece` bytes, keeps what is written to it.
struct Memory {
    input: Vec<u8>,
    at: usize,
    piece: usize,
    output: Vec<u8>,
}

impl Memory {
    fn new(input: Vec<u8>, piece: usize) -> Self {
        Memory {
            input,
            at: 0,
            piece: piece.max(1),
            output: Vec::new(),
        }
    }
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An `AsyncWrite` taking writes in pieces of random size (at times not ready), into a buffer
/// the test keeps a handle of.
struct Sink {
    written: Arc<Mutex<Vec<u8>>>,
    rng: StdRng,
}

impl Sink {
    fn new(rng: &mut StdRng) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink {
            written: written.clone(),
            rng: StdRng::seed_from_u64(rng.r#gen()),
        };
        (sink, written)
    }
}

impl AsyncWrite for Sink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.rng.gen_bool(0.1) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = self
            .rng
            .gen_range(1..=buf.len().clamp(1, 40_000))
            .min(buf.len());
        self.written
            .lock()
            .expect("not poisoned")
            .extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `payload` unmasked with `mask`, by the definition (RFC 6455 §5.3), independent of ours.
fn unmask(payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    match mask {
        None => payload.to_vec(),
        Some(key) => payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect(),
    }
}
