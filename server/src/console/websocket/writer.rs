//! Frames written to one side of a console: our own frames are queued (masked towards a server,
//! as RFC 6455 requires of a client) and written together on [`FrameWriter::flush`]; bytes
//! passed on from PVE go out as they are. The caller flushes its own frames only between PVE's
//! frames.
//!
//! A write that was started and not finished (its future dropped, or failed) leaves the
//! connection in the middle of something: the writer then says it is not intact, and no frame
//! may follow (not even a close).

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::frame::{self, OP_CLOSE};
use crate::console::wire::{Close, close_reason};

/// Writes frames to `io`.
pub(crate) struct FrameWriter<W> {
    io: W,
    queued: Vec<u8>,
    /// We are the client of this side: our frames are masked.
    masked: bool,
    /// A write was started and has not finished.
    interrupted: bool,
}

impl<W: AsyncWrite + Unpin + Send> FrameWriter<W> {
    /// A writer towards a server (`masked`) or towards a client.
    pub(crate) fn new(io: W, masked: bool) -> Self {
        Self {
            io,
            queued: Vec::new(),
            masked,
            interrupted: false,
        }
    }

    /// Queues one whole frame.
    pub(crate) fn queue(&mut self, opcode: u8, payload: &[u8]) {
        let mask = self.masked.then(rand::random::<[u8; 4]>);
        frame::write_header(&mut self.queued, opcode, mask, payload.len());
        let start = self.queued.len();
        self.queued.extend_from_slice(payload);
        if let Some(key) = mask {
            frame::apply_mask(&mut self.queued[start..], key, 0);
        }
    }

    /// Queues a close frame (RFC 6455 §5.5.1; a reason is cut to fit).
    pub(crate) fn queue_close(&mut self, close: &Close) {
        let mut payload = Vec::new();
        if let Some((code, reason)) = close {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(close_reason(reason).as_bytes());
        }
        self.queue(OP_CLOSE, &payload);
    }

    /// Whether frames are queued.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Whether every write so far finished: frames may follow.
    pub(crate) fn is_intact(&self) -> bool {
        !self.interrupted
    }

    /// Writes what is queued, in one write where the connection takes it.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        let queued = std::mem::take(&mut self.queued);
        self.write(&queued).await?;
        self.queued = queued;
        self.queued.clear();
        Ok(())
    }

    /// Writes `bytes` (whole frames or parts of frames, passed on) as they are; what is queued
    /// stays queued.
    pub(crate) async fn pass_on(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write(bytes).await
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.interrupted = true;
        if !bytes.is_empty() {
            self.io.write_all(bytes).await?;
        }
        self.io.flush().await?;
        self.interrupted = false;
        Ok(())
    }

    /// Ends our direction of the connection (TCP FIN, or TLS close_notify first).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::websocket::frame::{OP_BINARY, Rules};
    use crate::console::websocket::reader::FrameReader;
    use crate::console::wire::Frame;

    #[tokio::test]
    async fn written_frames_read_back_masked_or_not() {
        for masked in [false, true] {
            let (ours, theirs) = tokio::io::duplex(1 << 16);
            let mut w = FrameWriter::new(ours, masked);
            w.queue(OP_BINARY, b"abc");
            w.queue_close(&Some((4000, "é".repeat(100))));
            assert!(w.has_queued());
            w.flush().await.unwrap();
            assert!(!w.has_queued());
            let rules = Rules {
                from_client: masked,
                max_payload: 1 << 20,
            };
            let mut r = FrameReader::new(theirs, &[], rules, 1024);
            assert_eq!(r.next_frame().await.unwrap(), Frame::Data("abc".into()));
            let Frame::Close(Some((4000, reason))) = r.next_frame().await.unwrap() else {
                panic!("close with its code");
            };
            assert!(reason.len() <= 123 && reason.starts_with('é'));
        }
    }

    #[tokio::test]
    async fn passing_on_leaves_our_frames_queued_and_a_dropped_write_is_remembered() {
        let (ours, mut theirs) = tokio::io::duplex(16);
        let mut w = FrameWriter::new(ours, false);
        w.queue(OP_BINARY, b"ours");
        w.pass_on(b"theirs").await.unwrap();
        assert!(w.has_queued(), "not flushed in front of passed-on bytes");
        let mut got = [0u8; 6];
        tokio::io::AsyncReadExt::read_exact(&mut theirs, &mut got)
            .await
            .unwrap();
        assert_eq!(&got, b"theirs");
        // A write the peer does not take, given up on: the writer is no longer intact.
        let stuck =
            tokio::time::timeout(std::time::Duration::from_millis(50), w.pass_on(&[0u8; 100]))
                .await;
        assert!(stuck.is_err());
        assert!(!w.is_intact());
    }
}
