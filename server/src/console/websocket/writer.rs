//! Frames written to one side of a console: our own frames are queued (masked towards a server,
//! as RFC 6455 requires of a client) and written together on [`FrameWriter::flush`]; bytes
//! passed on from PVE go out as they are.

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::frame::{self, OP_CLOSE};
use crate::console::wire::{Close, close_reason};

/// Writes frames to `io`.
pub(crate) struct FrameWriter<W> {
    io: W,
    queued: Vec<u8>,
    /// We are the client of this side: our frames are masked.
    masked: bool,
}

impl<W: AsyncWrite + Unpin + Send> FrameWriter<W> {
    /// A writer towards a server (`masked`) or towards a client.
    pub(crate) fn new(io: W, masked: bool) -> Self {
        Self {
            io,
            queued: Vec::new(),
            masked,
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

    /// Writes what is queued, in one write where the connection takes it.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.queued.is_empty() {
            self.io.write_all(&self.queued).await?;
            self.queued.clear();
        }
        self.io.flush().await
    }

    /// Writes `bytes` (whole frames or parts of frames, passed on) after what is queued.
    pub(crate) async fn pass_on(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if !self.queued.is_empty() {
            self.flush().await?;
        }
        self.io.write_all(bytes).await?;
        self.io.flush().await
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
}
