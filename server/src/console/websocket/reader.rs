//! Frames read from one side of a console: whole frames (the RFB handshakes, the browser's
//! input), or — from PVE towards the browser — data frames passed on as the bytes they came
//! in, header and all, so the relay neither parses payloads nor copies them into new frames.
//!
//! Reads go into one growing buffer without zero-filling it; what a read brings is taken as
//! one piece, so a burst of frames costs one write on the other side. Every method that
//! awaits is cancel-safe: bytes are kept in the buffer until a whole answer is ready.
//!
//! Both ways, the headers are checked ([`frame::parse`]) and so is the order of fragments
//! (RFC 6455 §5.4); text messages read as whole frames must be UTF-8 (§8.1), while frames passed
//! on are not read (they go on as binary).

use axum::body::Bytes;
use bytes::BytesMut;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::frame::{self, FrameError, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use crate::console::wire::{Close, Frame, FrameSource};

/// What [`FrameReader::next_chunk`] gives.
#[derive(Debug, PartialEq)]
pub(crate) enum Chunk {
    /// Bytes of data frames, exactly as they came (a text frame's opcode turned binary); may end
    /// inside a frame, whose rest follows in the next chunk.
    Forward(Bytes),
    /// A control frame, taken out of the stream.
    Control(Frame),
}

/// Why reading ended.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum ReadFailure {
    /// The peer broke the WebSocket protocol.
    #[error("WebSocket protocol error: {0}")]
    Protocol(#[from] FrameError),
    /// The connection failed or ended without a close frame.
    #[error("{0}")]
    Lost(String),
}

impl ReadFailure {
    /// The close code that answers it (RFC 6455 §7.4.1).
    pub(crate) fn close_code(&self) -> u16 {
        match self {
            ReadFailure::Protocol(FrameError::TooLong(_)) => 1009,
            ReadFailure::Protocol(FrameError::InvalidUtf8) => 1007,
            ReadFailure::Protocol(_) => 1002,
            ReadFailure::Lost(_) => 1006,
        }
    }
}

/// Reads frames from `io`.
pub(crate) struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    rules: frame::Rules,
    read_size: usize,
    /// Payload bytes of the data frame being passed on that have not come yet.
    passing: u64,
    /// A fragmented message has begun and not ended.
    in_message: bool,
    /// While a text message is read as whole frames: the bytes of a character that its last
    /// frame cut (at most three).
    text: Option<Vec<u8>>,
}

impl<R: AsyncRead + Unpin + Send> FrameReader<R> {
    /// Frames from `io` that follow `already` (bytes read with the HTTP upgrade); each read
    /// takes up to `read_size` bytes.
    pub(crate) fn new(io: R, already: &[u8], rules: frame::Rules, read_size: usize) -> Self {
        let mut buf = BytesMut::with_capacity(read_size.max(already.len()));
        buf.extend_from_slice(already);
        Self {
            io,
            buf,
            rules,
            read_size,
            passing: 0,
            in_message: false,
            text: None,
        }
    }

    /// Reads more bytes, then whatever else is already there (up to the read window): over
    /// TLS each read gives one record (16 KiB), and a burst taken at once becomes one write on
    /// the other side. An end of stream is an error (a WebSocket ends with a close frame),
    /// once the bytes before it are taken.
    async fn fill(&mut self) -> Result<(), ReadFailure> {
        if self.read_once().await? == 0 {
            return Err(ReadFailure::Lost("connection ended".into()));
        }
        while self.buf.len() < self.read_size {
            match self.read_once().now_or_never() {
                Some(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        Ok(())
    }

    async fn read_once(&mut self) -> Result<usize, ReadFailure> {
        if self.buf.capacity() - self.buf.len() < self.read_size / 4 {
            self.buf.reserve(self.read_size);
        }
        self.io
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| ReadFailure::Lost(e.to_string()))
    }

    /// The next whole frame, its payload unmasked.
    pub(crate) async fn next_frame(&mut self) -> Result<Frame, ReadFailure> {
        loop {
            if let Some(frame) = self.buffered_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }

    /// A whole frame already read, if there is one.
    pub(crate) fn buffered_frame(&mut self) -> Result<Option<Frame>, ReadFailure> {
        debug_assert_eq!(
            self.passing, 0,
            "whole frames are not read while passing one on"
        );
        let Some(header) = frame::parse(&self.buf, self.rules)? else {
            return Ok(None);
        };
        let in_message = if header.is_control() {
            self.in_message
        } else {
            header.continues(self.in_message)?
        };
        let total = header.len + header.payload_len as usize;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        let mut payload = self.buf.split_to(total).split_off(header.len);
        if let Some(key) = header.mask {
            frame::apply_mask(&mut payload, key, 0);
        }
        if !header.is_control() {
            self.in_message = in_message;
            if header.opcode == OP_TEXT {
                self.text = Some(Vec::new());
            }
            if let Some(cut) = &mut self.text {
                check_utf8(cut, &payload, header.fin)?;
            }
            if header.fin {
                self.text = None;
            }
        }
        to_frame(header.opcode, payload.freeze()).map(Some)
    }

    /// The next chunk of data frames to pass on as they are, or a control frame. With
    /// `to_frame_end`, a chunk ends where a frame ends (the caller has frames of its own
    /// waiting for a gap).
    pub(crate) async fn next_chunk(&mut self, to_frame_end: bool) -> Result<Chunk, ReadFailure> {
        loop {
            if let Some(chunk) = self.buffered_chunk(to_frame_end)? {
                return Ok(chunk);
            }
            self.fill().await?;
        }
    }

    /// Whether the stream passed on so far ends at a frame's end, where a frame of our own may
    /// be put in.
    pub(crate) fn at_frame_boundary(&self) -> bool {
        self.passing == 0
    }

    /// The data frames (and parts) at the front of the buffer, or a control frame there.
    fn buffered_chunk(&mut self, to_frame_end: bool) -> Result<Option<Chunk>, ReadFailure> {
        let mut end = 0;
        let mut passing = self.passing;
        let mut in_message = self.in_message;
        loop {
            if to_frame_end && passing == 0 && end > 0 {
                break;
            }
            let rest = self.buf.len() - end;
            if passing > 0 {
                if rest == 0 {
                    break;
                }
                let n = passing.min(rest as u64);
                end += n as usize;
                passing -= n;
                continue;
            }
            let Some(header) = frame::parse(&self.buf[end..], self.rules)? else {
                break;
            };
            if header.is_control() {
                if end > 0 {
                    break;
                }
                return Ok(self.buffered_frame()?.map(Chunk::Control));
            }
            in_message = header.continues(in_message)?;
            if header.opcode == OP_TEXT {
                // Passed on as binary: the viewer speaks the `binary` subprotocol.
                self.buf[end] = (self.buf[end] & 0xF0) | OP_BINARY;
            }
            end += header.len;
            passing = header.payload_len;
        }
        if end == 0 {
            return Ok(None);
        }
        self.passing = passing;
        self.in_message = in_message;
        // A text message passed on (even in part) is not read, so not checked.
        self.text = None;
        Ok(Some(Chunk::Forward(self.buf.split_to(end).freeze())))
    }

    /// The bytes read but not taken yet (for tests).
    #[cfg(test)]
    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The memory the buffer holds (for tests: it stays bounded by the frame size limit).
    #[cfg(test)]
    pub(super) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

impl<R: AsyncRead + Unpin + Send> FrameSource for FrameReader<R> {
    async fn next_frame(&mut self) -> Result<Frame, String> {
        FrameReader::next_frame(self)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A whole frame's payload as a [`Frame`].
fn to_frame(opcode: u8, payload: Bytes) -> Result<Frame, ReadFailure> {
    Ok(match opcode {
        OP_PING => Frame::Ping(payload),
        OP_PONG => Frame::Pong,
        OP_CLOSE => Frame::Close(close_payload(&payload)?),
        _ => Frame::Data(payload),
    })
}

/// Checks the next frame of a text message: `cut` holds the bytes of a character the previous
/// frame cut, and is left with those `payload` cuts (RFC 6455 §5.6: a frame may end inside a
/// character, the message may not).
fn check_utf8(cut: &mut Vec<u8>, payload: &[u8], last: bool) -> Result<(), FrameError> {
    let joined;
    let bytes = if cut.is_empty() {
        payload
    } else {
        joined = [cut.as_slice(), payload].concat();
        &joined
    };
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) if e.error_len().is_none() && !last => e.valid_up_to(),
        Err(_) => return Err(FrameError::InvalidUtf8),
    };
    *cut = bytes[valid..].to_vec();
    Ok(())
}

/// A close frame's code and reason (RFC 6455 §5.5.1).
fn close_payload(payload: &[u8]) -> Result<Close, ReadFailure> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::CloseOfOneByte.into()),
        [high, low, reason @ ..] => Ok(Some((
            u16::from_be_bytes([*high, *low]),
            String::from_utf8_lossy(reason).into_owned(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::websocket::frame::test_rules::{FROM_CLIENT, FROM_SERVER};
    use crate::console::websocket::frame::{OP_CONTINUATION, Rules, write_header};

    fn frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, opcode, mask, payload.len());
        if !fin {
            out[0] &= 0x7F;
        }
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            frame::apply_mask(&mut out[start..], key, 0);
        }
        out
    }

    /// A reader over `bytes`, delivered in pieces of `piece` bytes.
    fn reader(bytes: Vec<u8>, piece: usize, rules: Rules) -> FrameReader<tokio_test_io::Pieces> {
        FrameReader::new(tokio_test_io::Pieces::new(bytes, piece), &[], rules, 64)
    }

    /// An `AsyncRead` giving its bytes in fixed pieces (as a network would).
    mod tokio_test_io {
        use std::pin::Pin;
        use std::task::{Context, Poll};
        use tokio::io::{AsyncRead, ReadBuf};

        pub struct Pieces {
            bytes: Vec<u8>,
            at: usize,
            piece: usize,
        }

        impl Pieces {
            pub fn new(bytes: Vec<u8>, piece: usize) -> Self {
                Self {
                    bytes,
                    at: 0,
                    piece,
                }
            }
        }

        impl AsyncRead for Pieces {
            fn poll_read(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                let end = (self.at + self.piece)
                    .min(self.bytes.len())
                    .min(self.at + buf.remaining());
                let at = self.at;
                buf.put_slice(&self.bytes[at..end]);
                self.at = end;
                Poll::Ready(Ok(()))
            }
        }
    }

    #[tokio::test]
    async fn whole_frames_unmasked_across_any_read_size() {
        let key = Some([7, 1, 3, 9]);
        let mut stream = frame(true, OP_BINARY, key, b"hello");
        stream.extend(frame(true, OP_PING, key, b"p"));
        stream.extend(frame(true, OP_BINARY, key, &[5u8; 300]));
        stream.extend(frame(true, OP_CLOSE, key, b"\x03\xe8bye"));
        for piece in [1, 3, 64, 1000] {
            let mut r = reader(stream.clone(), piece, FROM_CLIENT);
            assert_eq!(r.next_frame().await.unwrap(), Frame::Data("hello".into()));
            assert_eq!(r.next_frame().await.unwrap(), Frame::Ping("p".into()));
            assert_eq!(
                r.next_frame().await.unwrap(),
                Frame::Data(Bytes::from(vec![5u8; 300]))
            );
            assert_eq!(
                r.next_frame().await.unwrap(),
                Frame::Close(Some((1000, "bye".into())))
            );
            assert_eq!(
                r.next_frame().await,
                Err(ReadFailure::Lost("connection ended".into()))
            );
        }
    }

    #[tokio::test]
    async fn protocol_errors_end_the_reading() {
        let mut r = reader(frame(true, OP_BINARY, None, b"x"), 100, FROM_CLIENT);
        let failure = r.next_frame().await.unwrap_err();
        assert_eq!(failure, ReadFailure::Protocol(FrameError::Masking));
        assert_eq!(failure.close_code(), 1002);
        let mut r = reader(frame(true, OP_CLOSE, None, b"x"), 100, FROM_SERVER);
        assert_eq!(
            r.next_frame().await,
            Err(ReadFailure::Protocol(FrameError::CloseOfOneByte))
        );
        let big = frame(true, OP_BINARY, Some([1; 4]), &[0; 2000]);
        let small = Rules {
            from_client: true,
            max_payload: 1000,
        };
        let mut r = FrameReader::new(tokio_test_io::Pieces::new(big, 100), &[], small, 64);
        assert_eq!(r.next_frame().await.unwrap_err().close_code(), 1009);
    }

    /// Passes `stream` on in pieces of `piece` bytes: the bytes passed on, and the control
    /// frames with the number of bytes passed on before each.
    async fn pass_on(stream: Vec<u8>, piece: usize) -> (Vec<u8>, Vec<(usize, Frame)>) {
        let mut r = reader(stream, piece, FROM_SERVER);
        let mut passed = Vec::new();
        let mut controls = Vec::new();
        loop {
            match r.next_chunk(false).await {
                Ok(Chunk::Forward(b)) => passed.extend_from_slice(&b),
                Ok(Chunk::Control(f)) => {
                    assert!(r.at_frame_boundary());
                    controls.push((passed.len(), f));
                }
                Err(_) => break,
            }
        }
        assert!(r.buffered().is_empty());
        (passed, controls)
    }

    #[tokio::test]
    async fn data_frames_pass_on_as_they_came_and_control_frames_come_out() {
        let first = frame(true, OP_BINARY, None, &[1u8; 200]);
        let ping = frame(true, OP_PING, None, b"hi");
        let start = frame(false, OP_BINARY, None, b"abc");
        let rest = frame(true, OP_CONTINUATION, None, b"def");
        let stream = [first.clone(), ping, start.clone(), rest.clone()].concat();
        for piece in [1, 2, 5, 64, 10_000] {
            let (passed, controls) = pass_on(stream.clone(), piece).await;
            assert_eq!(
                passed,
                [first.clone(), start.clone(), rest.clone()].concat()
            );
            assert_eq!(controls, vec![(first.len(), Frame::Ping("hi".into()))]);
        }
    }

    #[tokio::test]
    async fn a_chunk_can_be_asked_to_end_where_a_frame_ends() {
        let (a, b) = (
            frame(true, OP_BINARY, None, b"one"),
            frame(true, OP_BINARY, None, b"two"),
        );
        let mut r = reader([a.clone(), b.clone()].concat(), 100, FROM_SERVER);
        assert_eq!(r.next_chunk(true).await, Ok(Chunk::Forward(a.into())));
        assert!(r.at_frame_boundary());
        assert_eq!(r.next_chunk(true).await, Ok(Chunk::Forward(b.into())));
    }

    #[tokio::test]
    async fn text_frames_pass_on_as_binary() {
        let (passed, _) = pass_on(frame(true, OP_TEXT, None, b"RFB"), 100).await;
        assert_eq!(passed, frame(true, OP_BINARY, None, b"RFB"));
    }

    #[tokio::test]
    async fn a_frame_passed_on_in_parts_holds_back_frames_of_our_own() {
        // 20-byte reads, taken up to the 64-byte read window at once.
        let big = frame(true, OP_BINARY, None, &[2u8; 300]);
        let mut r = reader(big.clone(), 20, FROM_SERVER);
        let Chunk::Forward(part) = r.next_chunk(false).await.unwrap() else {
            panic!("data first");
        };
        assert_eq!(
            &part[..],
            &big[..80],
            "what was there at once, as one piece"
        );
        assert!(!r.at_frame_boundary(), "inside the frame");
        let mut passed = part.to_vec();
        while passed.len() < big.len() {
            let Chunk::Forward(part) = r.next_chunk(false).await.unwrap() else {
                panic!("data");
            };
            passed.extend_from_slice(&part);
        }
        assert_eq!(passed, big);
        assert!(r.at_frame_boundary());
    }
}
