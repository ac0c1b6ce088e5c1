//! The two WebSockets of a console as byte streams for the RFB handshakes: frames reduced to
//! data, liveness or close, and a reader that takes exact byte counts across frames.

use std::time::Duration;

use axum::body::Bytes;

/// A WebSocket close: code and reason.
pub(crate) type Close = Option<(u16, String)>;

/// A frame, as the relay sees it.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    /// Binary (or text) payload.
    Data(Bytes),
    /// A pong (liveness).
    Pong,
    /// A ping, with the payload its pong must carry.
    Ping(Bytes),
    /// The peer closed.
    Close(Close),
}

/// Reads frames from one side of the relay; `None` when the connection is gone.
pub(crate) trait FrameSource {
    /// The next frame, or `Err(why)` when the connection failed or ended without a close.
    fn next_frame(&mut self) -> impl Future<Output = Result<Frame, String>> + Send;
}

impl<T: FrameSource + Send> FrameSource for &mut T {
    fn next_frame(&mut self) -> impl Future<Output = Result<Frame, String>> + Send {
        (**self).next_frame()
    }
}

/// Why a handshake read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the WebSocket.
    Closed(Close),
    /// The connection failed.
    Lost(String),
    /// No bytes came in time.
    Timeout,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed(Some((code, reason))) => write!(f, "closed ({code} {reason})"),
            ReadError::Closed(None) => f.write_str("closed"),
            ReadError::Lost(e) => write!(f, "connection lost: {e}"),
            ReadError::Timeout => f.write_str("timed out"),
        }
    }
}

/// Reads exact byte counts from a WebSocket whose frames may split or join RFB messages.
/// Holds at most the bytes of one frame beyond what was asked for.
pub(crate) struct ByteReader<S> {
    source: S,
    buf: Vec<u8>,
    timeout: Duration,
}

impl<S: FrameSource + Send> ByteReader<S> {
    /// Reads from `source`; each read waits at most `timeout`.
    pub(crate) fn new(source: S, timeout: Duration) -> Self {
        Self {
            source,
            buf: Vec::new(),
            timeout,
        }
    }

    /// The next `n` bytes.
    pub(crate) async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            let frame = tokio::time::timeout(self.timeout, self.source.next_frame())
                .await
                .map_err(|_| ReadError::Timeout)?
                .map_err(ReadError::Lost)?;
            match frame {
                Frame::Data(b) => self.buf.extend_from_slice(&b),
                Frame::Ping(_) | Frame::Pong => {}
                Frame::Close(c) => return Err(ReadError::Closed(c)),
            }
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// One byte.
    pub(crate) async fn read_u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.read_exact(1).await?[0])
    }

    /// A big-endian `u32`.
    pub(crate) async fn read_u32(&mut self) -> Result<u32, ReadError> {
        let b = self.read_exact(4).await?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An RFB reason string (`u32` length, then text), capped at 4 KiB.
    pub(crate) async fn read_reason(&mut self) -> Result<String, ReadError> {
        let len = self.read_u32().await? as usize;
        let text = self.read_exact(len.min(4096)).await?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// The source and the bytes read from it but not taken yet.
    pub(crate) fn into_parts(self) -> (S, Vec<u8>) {
        (self.source, self.buf)
    }
}

/// Whether an endpoint may send `code` in a close frame (RFC 6455 §7.4).
pub(crate) fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// `reason` cut to the 123 bytes a close frame allows, at a character boundary.
pub(crate) fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Frames(Vec<Frame>);

    impl FrameSource for Frames {
        async fn next_frame(&mut self) -> Result<Frame, String> {
            if self.0.is_empty() {
                return Err("end".into());
            }
            Ok(self.0.remove(0))
        }
    }

    #[tokio::test]
    async fn reads_across_frames_and_keeps_the_rest() {
        let frames = Frames(vec![
            Frame::Data(Bytes::from_static(b"RFB 00")),
            Frame::Ping(Bytes::new()),
            Frame::Data(Bytes::from_static(b"3.008\n\x01\x02")),
            Frame::Close(Some((1000, "bye".into()))),
        ]);
        let mut r = ByteReader::new(frames, Duration::from_secs(1));
        assert_eq!(r.read_exact(12).await.unwrap(), b"RFB 003.008\n");
        assert_eq!(r.read_u8().await.unwrap(), 1);
        assert!(matches!(
            r.read_exact(2).await,
            Err(ReadError::Closed(Some((1000, _))))
        ));
        let (_, rest) = r.into_parts();
        assert_eq!(rest, [2]);
    }

    #[test]
    fn close_frames_stay_valid() {
        assert!(sendable_close_code(1000) && sendable_close_code(4000));
        assert!(!sendable_close_code(1005) && !sendable_close_code(1006));
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(&cut));
    }
}
