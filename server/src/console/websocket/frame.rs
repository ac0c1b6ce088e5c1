//! RFC 6455 frame headers: parsing with the checks a relay needs, writing, and masking.

/// Opcodes (RFC 6455 §5.2).
pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Longest payload of a control frame.
pub(crate) const MAX_CONTROL: u64 = 125;

/// One frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// Bytes the header itself takes.
    pub len: usize,
}

impl Header {
    pub(crate) fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// Whether this data frame may come with a fragmented message `in_message` or not (RFC 6455
    /// §5.4: a continuation only inside one, a text or binary frame only outside); whether a
    /// message is in progress after it.
    pub(crate) fn continues(&self, in_message: bool) -> Result<bool, FrameError> {
        match (self.opcode == OP_CONTINUATION, in_message) {
            (true, false) => Err(FrameError::UnexpectedContinuation),
            (false, true) => Err(FrameError::UnfinishedMessage),
            _ => Ok(!self.fin),
        }
    }
}

/// What a side's frames must look like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Frames from a client are masked, frames from a server are not (RFC 6455 §5.1).
    pub from_client: bool,
    /// Largest payload of one frame.
    pub max_payload: u64,
}

/// A frame the peer must not have sent.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("reserved bits set, but no extension was negotiated")]
    Reserved,
    #[error("unknown opcode {0}")]
    Opcode(u8),
    #[error("a control frame must be whole and at most 125 bytes")]
    Control,
    #[error("frame of {0} bytes is over the limit")]
    TooLong(u64),
    #[error("frames from a client must be masked, from a server must not")]
    Masking,
    #[error("a close frame of one byte")]
    CloseOfOneByte,
    #[error("a 64-bit payload length with its most significant bit set")]
    LengthTopBit,
    #[error("a continuation frame without a message to continue")]
    UnexpectedContinuation,
    #[error("a new message before the fragmented one ended")]
    UnfinishedMessage,
    #[error("a text message that is not UTF-8")]
    InvalidUtf8,
}

/// The header at the start of `buf`, checked against `rules`; `None` while incomplete.
pub(crate) fn parse(buf: &[u8], rules: Rules) -> Result<Option<Header>, FrameError> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(FrameError::Reserved);
    }
    let opcode = first & 0x0F;
    if !matches!(
        opcode,
        OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Err(FrameError::Opcode(opcode));
    }
    let fin = first & 0x80 != 0;
    let masked = second & 0x80 != 0;
    if masked != rules.from_client {
        return Err(FrameError::Masking);
    }
    let (payload_len, mut len) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            Some(b) if b[0] & 0x80 != 0 => return Err(FrameError::LengthTopBit),
            Some(b) => (u64::from_be_bytes(b.try_into().expect("eight bytes")), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let control = opcode & 0x8 != 0;
    if control && (!fin || payload_len > MAX_CONTROL) {
        return Err(FrameError::Control);
    }
    if payload_len > rules.max_payload {
        return Err(FrameError::TooLong(payload_len));
    }
    let mask = if masked {
        let Some(key) = buf.get(len..len + 4) else {
            return Ok(None);
        };
        len += 4;
        Some(key.try_into().expect("four bytes"))
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        opcode,
        mask,
        payload_len,
        len,
    }))
}

/// Appends the header of a whole (FIN) frame of `payload_len` bytes to `out`.
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload_len: usize,
) {
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(0x80 | opcode);
    match payload_len {
        0..=125 => out.push(mask_bit | payload_len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(payload_len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// XORs `data` with `key`, as the bytes at `offset` of a frame's payload (masking and unmasking
/// are the same operation).
pub(crate) fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let value = u64::from_ne_bytes((&*word).try_into().expect("eight bytes")) ^ wide;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// The rules of either side, for tests.
#[cfg(test)]
pub(crate) mod test_rules {
    use super::Rules;

    pub(crate) const FROM_SERVER: Rules = Rules {
        from_client: false,
        max_payload: 1 << 20,
    };
    pub(crate) const FROM_CLIENT: Rules = Rules {
        from_client: true,
        max_payload: 1 << 20,
    };
}

#[cfg(test)]
mod tests {
    use super::test_rules::{FROM_CLIENT, FROM_SERVER};
    use super::*;

    fn header(opcode: u8, mask: Option<[u8; 4]>, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, opcode, mask, len);
        out
    }

    #[test]
    fn written_headers_parse_back_at_every_length_form() {
        for len in [0, 1, 125, 126, 65_535, 65_536, 1 << 20] {
            for (mask, rules) in [(None, FROM_SERVER), (Some([1, 2, 3, 4]), FROM_CLIENT)] {
                let bytes = header(OP_BINARY, mask, len);
                let parsed = parse(&bytes, rules).unwrap().unwrap();
                assert_eq!(
                    parsed,
                    Header {
                        fin: true,
                        opcode: OP_BINARY,
                        mask,
                        payload_len: len as u64,
                        len: bytes.len(),
                    }
                );
                for cut in 0..bytes.len() {
                    assert_eq!(parse(&bytes[..cut], rules), Ok(None), "len {len} cut {cut}");
                }
            }
        }
        assert_eq!(header(OP_PING, None, 5), [0x89, 5]);
        assert_eq!(header(OP_BINARY, None, 300), [0x82, 126, 1, 44]);
    }

    #[test]
    fn frames_a_relay_must_refuse() {
        let masked = header(OP_BINARY, Some([9; 4]), 3);
        assert_eq!(parse(&masked, FROM_SERVER), Err(FrameError::Masking));
        let plain = header(OP_BINARY, None, 3);
        assert_eq!(parse(&plain, FROM_CLIENT), Err(FrameError::Masking));
        assert_eq!(parse(&[0xC2, 0], FROM_SERVER), Err(FrameError::Reserved));
        assert_eq!(parse(&[0x83, 0], FROM_SERVER), Err(FrameError::Opcode(3)));
        assert_eq!(
            parse(&[0x09, 0], FROM_SERVER),
            Err(FrameError::Control),
            "fragmented ping"
        );
        assert_eq!(
            parse(&header(OP_PING, None, 126), FROM_SERVER),
            Err(FrameError::Control)
        );
        let small = Rules {
            from_client: false,
            max_payload: 100,
        };
        assert_eq!(
            parse(&header(OP_BINARY, None, 101), small),
            Err(FrameError::TooLong(101))
        );
        let fragment = parse(&[0x02, 1], FROM_SERVER).unwrap().unwrap();
        assert!(!fragment.fin && !fragment.is_control());
    }

    #[test]
    fn masking_at_any_offset_matches_the_definition() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..100u8).collect();
        for offset in 0..8 {
            for len in [0, 1, 7, 8, 9, 31, 64, 100] {
                let mut masked = data[..len].to_vec();
                apply_mask(&mut masked, key, offset);
                let expected: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(offset + i) % 4])
                    .collect();
                assert_eq!(masked, expected, "offset {offset} len {len}");
                apply_mask(&mut masked, key, offset);
                assert_eq!(masked, &data[..len], "unmasking restores");
            }
        }
    }
}
