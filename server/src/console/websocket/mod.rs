//! The console's own WebSocket (RFC 6455) on both sides of the relay. Our own because the relay
//! passes PVE's frames on to the browser as the bytes they came in (both are frames from a
//! server: unmasked, so valid as they are), which a WebSocket library, decoding each message
//! and encoding it again, cannot do; the bytes are copied once, into the socket.
//!
//! - `handshake`: the browser's upgrade, and ours to PVE (TCP, TLS, credentials)
//! - `frame`: frame headers and masking
//! - `reader`, `writer`: frames from and to one side, joined in [`Side`]

pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod reader;
pub(crate) mod writer;

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};

use frame::Rules;
use reader::FrameReader;
use writer::FrameWriter;

/// A connection of either side: TCP, TLS over TCP, or the browser's upgraded HTTP connection.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A boxed [`Io`].
pub(crate) type BoxIo = Box<dyn Io>;

/// One side's connection (the browser's or PVE's), as frames.
pub(crate) struct Side {
    pub reader: FrameReader<ReadHalf<BoxIo>>,
    pub writer: FrameWriter<WriteHalf<BoxIo>>,
}

impl Side {
    /// `io` with `already` read from it; `client`: we are this side's WebSocket client.
    pub(crate) fn new(io: BoxIo, already: &[u8], client: bool, rules: Rules, read: usize) -> Self {
        let (r, w) = tokio::io::split(io);
        Self {
            reader: FrameReader::new(r, already, rules, read),
            writer: FrameWriter::new(w, client),
        }
    }
}

#[cfg(test)]
mod proofs;
