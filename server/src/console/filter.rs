//! View-only consoles: follows the browser's RFB client-to-server messages (after ClientInit)
//! across frame boundaries and drops the ones that act on the VM — keys, pointer, clipboard,
//! desktop resize, power (XVP) — while passing the rest byte for byte. Streams long messages
//! without holding them: at most one message header (≤ 20 bytes) is buffered.

use axum::body::Bytes;

/// Why the stream cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownMessage(pub u8);

impl std::fmt::Display for UnknownMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unsupported RFB message type {} in view-only mode",
            self.0
        )
    }
}

/// Everything the browser sends after the security handshake, on its way to PVE: ClientInit
/// (one byte) always asks for a shared session — an exclusive one would make QEMU drop the
/// other viewers of the VM — and, for view-only consoles, the messages go through
/// [`ViewOnlyFilter`]. Otherwise bytes pass untouched (and uncopied).
#[derive(Debug, Default)]
pub(crate) struct ClientStream {
    init_done: bool,
    filter: Option<ViewOnlyFilter>,
}

impl ClientStream {
    /// The stream of a console; `view_only` drops input.
    pub(crate) fn new(view_only: bool) -> Self {
        Self {
            init_done: false,
            filter: view_only.then(ViewOnlyFilter::new),
        }
    }

    /// What of `data` goes to PVE.
    pub(crate) fn process(&mut self, data: Bytes) -> Result<Bytes, UnknownMessage> {
        if data.is_empty() || (self.init_done && self.filter.is_none()) {
            return Ok(data);
        }
        let mut out = Vec::with_capacity(data.len());
        let mut rest = &data[..];
        if !self.init_done {
            out.push(1);
            rest = &rest[1..];
            self.init_done = true;
        }
        match &mut self.filter {
            Some(filter) => filter.feed(rest, &mut out)?,
            None => out.extend_from_slice(rest),
        }
        Ok(Bytes::from(out))
    }
}

/// Client-to-server message filter for one view-only console.
#[derive(Debug, Default)]
pub(crate) struct ViewOnlyFilter {
    /// The message header read so far.
    head: Vec<u8>,
    /// Body bytes of the current message still to come.
    body_left: u64,
    /// Whether the current message is passed on.
    pass: bool,
}

/// How a message is framed once its first bytes are known.
enum Shape {
    /// More header bytes are needed.
    Header,
    /// The header is complete: body length and whether to pass it.
    Known { body: u64, pass: bool },
}

impl ViewOnlyFilter {
    /// A filter for the stream of messages after ClientInit.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Feeds `data` from the browser; appends what may go to the VM to `out`.
    pub(crate) fn feed(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UnknownMessage> {
        while !data.is_empty() {
            if self.body_left > 0 {
                let n = usize::try_from(self.body_left)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                if self.pass {
                    out.extend_from_slice(&data[..n]);
                }
                self.body_left -= n as u64;
                data = &data[n..];
                continue;
            }
            self.head.push(data[0]);
            data = &data[1..];
            match shape(&self.head)? {
                Shape::Header => {}
                Shape::Known { body, pass } => {
                    if pass {
                        out.extend_from_slice(&self.head);
                    }
                    self.head.clear();
                    self.body_left = body;
                    self.pass = pass;
                }
            }
        }
        Ok(())
    }
}

/// The shape of the message whose first bytes are `head` (at least the type byte).
fn shape(head: &[u8]) -> Result<Shape, UnknownMessage> {
    let kind = head[0];
    let be16 = |i: usize| u64::from(u16::from_be_bytes([head[i], head[i + 1]]));
    let be32 = |i: usize| {
        u64::from(u32::from_be_bytes([
            head[i],
            head[i + 1],
            head[i + 2],
            head[i + 3],
        ]))
    };
    // (header length, then the body and verdict once the header is complete)
    let (len, known): (usize, &dyn Fn() -> (u64, bool)) = match kind {
        // SetPixelFormat, FramebufferUpdateRequest, EnableContinuousUpdates: viewing.
        0 => (20, &|| (0, true)),
        3 => (10, &|| (0, true)),
        150 => (10, &|| (0, true)),
        // SetEncodings: 4 bytes, then 4 per encoding.
        2 => (4, &|| (4 * be16(2), true)),
        // KeyEvent, PointerEvent: dropped.
        4 => (8, &|| (0, false)),
        5 => (6, &|| (0, false)),
        // ClientCutText: 8 bytes, then the text; dropped.
        6 => (8, &|| (be32(4), false)),
        // Fence: 9 bytes, then up to 64 bytes of payload; passed (flow control).
        248 => (9, &|| (u64::from(head[8]), true)),
        // XVP (shutdown, reboot, reset): dropped.
        250 => (4, &|| (0, false)),
        // SetDesktopSize: 8 bytes, then 16 per screen; dropped.
        251 => (8, &|| (16 * u64::from(head[6]), false)),
        // QEMU client messages: the subtype decides.
        255 if head.len() < 2 => (2, &|| (0, false)),
        255 => match head[1] {
            // Extended key event: dropped.
            0 => (12, &|| (0, false)),
            // Audio: enable/disable (4 bytes) or set format (10 bytes); passed.
            1 if head.len() < 4 => (4, &|| (0, true)),
            1 if be16(2) == 2 => (10, &|| (0, true)),
            1 => (4, &|| (0, true)),
            _ => return Err(UnknownMessage(kind)),
        },
        other => return Err(UnknownMessage(other)),
    };
    if head.len() < len {
        return Ok(Shape::Header);
    }
    let (body, pass) = known();
    Ok(Shape::Known { body, pass })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Result<Vec<u8>, UnknownMessage> {
        let mut f = ViewOnlyFilter::new();
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn drops_input_and_keeps_viewing() {
        let set_encodings = [2u8, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21];
        let update = [3u8, 1, 0, 0, 0, 0, 2, 128, 1, 144];
        let key = [4u8, 1, 0, 0, 0, 0, 0, 0x61];
        let pointer = [5u8, 1, 0, 10, 0, 20];
        let cut = [6u8, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c'];
        let qemu_key = [255u8, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30];
        let mut all = Vec::new();
        for m in [
            &set_encodings[..],
            &key,
            &update,
            &pointer,
            &cut,
            &qemu_key,
            &update,
        ] {
            all.extend_from_slice(m);
        }
        let mut expected = set_encodings.to_vec();
        expected.extend_from_slice(&update);
        expected.extend_from_slice(&update);

        assert_eq!(run(&[&all]).unwrap(), expected, "one frame");
        // Every split point, and byte by byte.
        for cut_at in 0..all.len() {
            assert_eq!(
                run(&[&all[..cut_at], &all[cut_at..]]).unwrap(),
                expected,
                "split at {cut_at}"
            );
        }
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(run(&bytes).unwrap(), expected);
    }

    #[test]
    fn long_cut_text_is_streamed_not_buffered() {
        let mut f = ViewOnlyFilter::new();
        let mut out = Vec::new();
        // ClientCutText of 64 KiB.
        f.feed(&[6, 0, 0, 0, 0, 1, 0, 0], &mut out).unwrap();
        for _ in 0..16 {
            f.feed(&[b'x'; 4096], &mut out).unwrap();
        }
        f.feed(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1], &mut out).unwrap();
        assert_eq!(out, [3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
        assert!(f.head.capacity() <= 64);
    }

    #[test]
    fn unknown_messages_stop_the_stream() {
        assert_eq!(run(&[&[77]]), Err(UnknownMessage(77)));
    }

    #[test]
    fn client_init_is_always_shared() {
        let mut full = ClientStream::new(false);
        assert_eq!(
            &full.process(Bytes::from_static(&[0, 4, 1])).unwrap()[..],
            [1, 4, 1]
        );
        let keys = Bytes::from_static(&[4, 1, 0, 0, 0, 0, 0, 0x61]);
        assert_eq!(full.process(keys.clone()).unwrap(), keys, "then untouched");

        let mut view = ClientStream::new(true);
        assert_eq!(&view.process(Bytes::from_static(&[0])).unwrap()[..], [1]);
        assert!(view.process(keys).unwrap().is_empty(), "input dropped");
    }
}
