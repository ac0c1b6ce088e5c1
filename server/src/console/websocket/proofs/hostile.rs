//! Frames a peer must not send, each answered as RFC 6455 says (the connection fails, with
//! the close code for it), in both ways of reading and for any split of the bytes; random and
//! mutated streams never panic, always end, keep memory bounded by the frame limit, and are
//! refused exactly when tungstenite refuses them.

use rand::Rng;
use tokio_tungstenite::tungstenite::{
    Error as TungError, Message,
    error::ProtocolError,
    protocol::{Role, WebSocket, WebSocketConfig},
};

use super::super::frame::{FrameError, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_TEXT};
use super::super::reader::Chunk;
use super::*;
use crate::console::wire::sendable_close_code;

/// A frame's bytes as written by hand: first byte, then length and mask as given.
fn raw(first: u8, mask: Option<[u8; 4]>, len_bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend_from_slice(len_bytes);
    if let Some(key) = mask {
        out[1] |= 0x80;
        out.extend_from_slice(&key);
        out.extend(unmask(payload, Some(key)));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A whole frame, by tungstenite.
fn frame(fin: bool, opcode: u8, payload: &[u8], from_client: bool) -> Vec<u8> {
    let spec = Spec {
        fin,
        opcode,
        payload: payload.to_vec(),
    };
    let mut out = Vec::new();
    tungstenite_encode(&spec, from_client.then_some([3, 1, 4, 1]), &mut out);
    out
}

/// How our reader ends `bytes`, read whole and passed on, delivered every way: the failure
/// must be the same each time.
async fn failure(bytes: &[u8], rules: Rules, case: &str) -> ReadFailure {
    let rng = &mut case_rng(case, 0);
    let mut seen = None;
    for &delivery in Delivery::for_len(bytes.len()) {
        let mut reader = reader_over(rng, bytes.to_vec(), delivery, rules);
        let (_, whole) = read_all_frames(&mut reader).await;
        let mut reader = reader_over(rng, bytes.to_vec(), delivery, rules);
        let passed = loop {
            if let Err(e) = reader.next_chunk(rng.gen_bool(0.5)).await {
                break e;
            }
        };
        // Passed on, text is not read: a text frame that is not UTF-8 fails only read whole.
        if whole != ReadFailure::Protocol(FrameError::InvalidUtf8) {
            assert_eq!(
                whole, passed,
                "{case}: read whole or passed on, {delivery:?}"
            );
        }
        if let Some(seen) = &seen {
            assert_eq!(&whole, seen, "{case}: {delivery:?}");
        }
        seen = Some(whole);
    }
    seen.expect("read at least once")
}

async fn assert_fails(bytes: &[u8], rules: Rules, error: FrameError, code: u16, case: &str) {
    let failure = failure(bytes, rules, case).await;
    assert_eq!(failure, ReadFailure::Protocol(error), "{case}");
    assert_eq!(failure.close_code(), code, "{case}");
}

#[tokio::test]
async fn masking_the_wrong_way_fails_the_connection() {
    let plain = frame(true, OP_BINARY, b"abc", false);
    assert_fails(
        &plain,
        rules(true),
        FrameError::Masking,
        1002,
        "unmasked from a client",
    )
    .await;
    let masked = frame(true, OP_BINARY, b"abc", true);
    assert_fails(
        &masked,
        rules(false),
        FrameError::Masking,
        1002,
        "masked from a server",
    )
    .await;
}

#[tokio::test]
async fn reserved_bits_and_opcodes_fail_the_connection() {
    for bit in [0x40, 0x20, 0x10] {
        let bytes = raw(0x80 | bit | OP_BINARY, None, &[1], b"x");
        assert_fails(
            &bytes,
            rules(false),
            FrameError::Reserved,
            1002,
            "reserved bit",
        )
        .await;
    }
    for op in (3..=7).chain(0xB..=0xF) {
        let bytes = raw(0x80 | op, None, &[0], b"");
        assert_fails(&bytes, rules(false), FrameError::Opcode(op), 1002, "opcode").await;
    }
}

#[tokio::test]
async fn control_frames_must_be_whole_and_short() {
    for op in [OP_PING, 0xA, OP_CLOSE] {
        let long = frame(true, op, &[0; 126], true);
        assert_fails(&long, rules(true), FrameError::Control, 1002, "126 bytes").await;
        // 125 bytes in the 16-bit form: short, but not written minimally.
        let wide = raw(0x80 | op, Some([1; 4]), &[126, 0, 126], &[0; 126]);
        assert_fails(&wide, rules(true), FrameError::Control, 1002, "wide form").await;
        let fragmented = raw(op, None, &[0], b"");
        assert_fails(
            &fragmented,
            rules(false),
            FrameError::Control,
            1002,
            "fragment",
        )
        .await;
    }
}

#[tokio::test]
async fn lengths_past_the_limit_or_with_the_top_bit_fail_at_the_header() {
    // Only the header comes: the reader must not wait for (or make room for) the payload.
    let mut top = vec![0x82, 127];
    top.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    assert_fails(
        &top,
        rules(false),
        FrameError::LengthTopBit,
        1002,
        "top bit",
    )
    .await;
    let mut huge = vec![0x82, 127];
    huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    let too_long = FrameError::TooLong(u64::MAX >> 1);
    assert_fails(&huge, rules(false), too_long, 1009, "2^63 - 1").await;
    let mut over = vec![0x82, 127];
    over.extend_from_slice(&(MAX_PAYLOAD + 1).to_be_bytes());
    let too_long = FrameError::TooLong(MAX_PAYLOAD + 1);
    assert_fails(&over, rules(false), too_long, 1009, "limit + 1").await;
}

#[tokio::test]
async fn a_frame_at_the_limit_is_taken_with_memory_bounded_by_it() {
    let rng = &mut case_rng("at the limit", 0);
    let payload = random_bytes(rng, MAX_PAYLOAD as usize);
    let bytes = frame(true, OP_BINARY, &payload, true);
    let mut reader = reader_over(rng, bytes, Delivery::Random, rules(true));
    let Ok(Frame::Data(read)) = reader.next_frame().await else {
        panic!("the frame at the limit is taken");
    };
    assert!(read == payload);
    assert!(reader.buffer_capacity() <= 2 * (MAX_PAYLOAD as usize + 14) + 512 * 1024);
}

#[tokio::test]
async fn lengths_written_longer_than_needed_are_taken_as_tungstenite_takes_them() {
    // RFC 6455 §5.2 asks the sender for the shortest form; neither reader insists.
    let mut bytes = raw(0x82, None, &[126, 0, 3], b"abc");
    let mut long = raw(0x82, None, &[127, 0, 0, 0, 0, 0, 0, 0, 3], b"def");
    bytes.append(&mut long);
    let rng = &mut case_rng("non-minimal", 0);
    let mut reader = reader_over(rng, bytes.clone(), Delivery::Random, rules(false));
    let (frames, end) = read_all_frames(&mut reader).await;
    assert_eq!(
        frames,
        [Frame::Data("abc".into()), Frame::Data("def".into())]
    );
    assert_eq!(end, ended());
    let mut socket = WebSocket::from_raw_socket(Memory::new(bytes, 3), Role::Client, None);
    assert_eq!(socket.read().unwrap(), Message::binary(&b"abc"[..]));
    assert_eq!(socket.read().unwrap(), Message::binary(&b"def"[..]));
}

#[tokio::test]
async fn fragments_out_of_order_fail_the_connection() {
    let lone = frame(true, OP_CONTINUATION, b"x", true);
    let unexpected = || FrameError::UnexpectedContinuation;
    assert_fails(&lone, rules(true), unexpected(), 1002, "lone continuation").await;
    let after_end = [
        frame(true, OP_BINARY, b"a", true),
        frame(true, OP_CONTINUATION, b"b", true),
    ]
    .concat();
    assert_fails(&after_end, rules(true), unexpected(), 1002, "after the end").await;
    let interrupted = [
        frame(false, OP_TEXT, b"a", false),
        frame(true, OP_PING, b"", false),
        frame(true, OP_BINARY, b"b", false),
    ]
    .concat();
    let unfinished = FrameError::UnfinishedMessage;
    assert_fails(&interrupted, rules(false), unfinished, 1002, "new message").await;
}

#[tokio::test]
async fn text_read_whole_must_be_utf8_and_may_cut_characters_between_frames() {
    let invalid: [&[u8]; 6] = [
        b"\xff",
        b"ok\xc3",           // cut at the message's end
        b"\xc0\x80",         // overlong
        b"\xed\xa0\x80",     // a surrogate
        b"\xf4\x90\x80\x80", // past U+10FFFF
        b"\x80",
    ];
    for bytes in invalid {
        let stream = frame(true, OP_TEXT, bytes, true);
        assert_fails(
            &stream,
            rules(true),
            FrameError::InvalidUtf8,
            1007,
            "invalid",
        )
        .await;
        // Split in two frames at every byte: still refused.
        for cut in 0..=bytes.len() {
            let stream = [
                frame(false, OP_TEXT, &bytes[..cut], true),
                frame(true, OP_CONTINUATION, &bytes[cut..], true),
            ]
            .concat();
            let rng = &mut case_rng("utf-8 split", cut as u64);
            let mut reader = reader_over(rng, stream, Delivery::Random, rules(true));
            let (_, end) = read_all_frames(&mut reader).await;
            assert_eq!(
                end,
                ReadFailure::Protocol(FrameError::InvalidUtf8),
                "{bytes:?} {cut}"
            );
        }
    }
    // "€😀" cut at every byte, over up to three frames (pings between): taken.
    let text = "€😀".as_bytes();
    for a in 0..=text.len() {
        for b in a..=text.len() {
            let stream = [
                frame(false, OP_TEXT, &text[..a], true),
                frame(true, OP_PING, b"", true),
                frame(false, OP_CONTINUATION, &text[a..b], true),
                frame(true, OP_CONTINUATION, &text[b..], true),
            ]
            .concat();
            let rng = &mut case_rng("utf-8 cut", (a * 10 + b) as u64);
            let mut reader = reader_over(rng, stream, Delivery::Random, rules(true));
            let (frames, end) = read_all_frames(&mut reader).await;
            assert_eq!((frames.len(), end), (4, ended()), "cut at {a} and {b}");
        }
    }
    // Passed on, a text frame is binary: its bytes are not read.
    let stream = frame(true, OP_TEXT, b"\xff", false);
    let rng = &mut case_rng("utf-8 passed on", 0);
    let mut reader = reader_over(rng, stream, Delivery::AllAtOnce, rules(false));
    let Ok(Chunk::Forward(passed)) = reader.next_chunk(false).await else {
        panic!("passed on");
    };
    assert_eq!(&passed[..], [0x82, 1, 0xff]);
}

#[tokio::test]
async fn close_frames_of_one_byte_fail_and_other_codes_are_left_to_the_relay() {
    let one = frame(true, OP_CLOSE, b"\x03", true);
    assert_fails(
        &one,
        rules(true),
        FrameError::CloseOfOneByte,
        1002,
        "one byte",
    )
    .await;
    // Codes no endpoint may send are read (the relay does not echo them: it answers the
    // browser with a close without a code, and closes PVE's side with 1000).
    for code in [
        0u16,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2999,
        5000,
        u16::MAX,
    ] {
        let payload = [&code.to_be_bytes()[..], b"why"].concat();
        let stream = frame(true, OP_CLOSE, &payload, true);
        let rng = &mut case_rng("close codes", u64::from(code));
        let mut reader = reader_over(rng, stream, Delivery::Random, rules(true));
        assert_eq!(
            reader.next_frame().await,
            Ok(Frame::Close(Some((code, "why".into()))))
        );
        assert!(!sendable_close_code(code), "{code}");
    }
}

/// Reads `bytes` with our reader and with tungstenite's WebSocket until either fails or the
/// stream ends: whether each refused it (a protocol or size error, not the stream's end).
/// `None` when the stream holds a close frame: the two read closes differently (tungstenite
/// also checks the close's code and reason) and stop at it, so the rest is not compared.
///
/// Our reader checks a header as soon as it has come, tungstenite once the payload has come
/// too; so where ours refused a stream that ends inside a frame, tungstenite is given the rest
/// of that frame (zeros) to judge it.
async fn verdicts(rng: &mut StdRng, bytes: &[u8], from_client: bool) -> Option<(bool, bool)> {
    let mut reader = reader_over(rng, bytes.to_vec(), Delivery::Random, rules(from_client));
    let ours = loop {
        match reader.next_frame().await {
            Ok(Frame::Close(_)) => return None,
            Ok(_) => {}
            Err(ReadFailure::Lost(_)) => break false,
            Err(ReadFailure::Protocol(_)) => break true,
        }
        assert!(
            reader.buffer_capacity() <= 2 * (MAX_PAYLOAD as usize) + 512 * 1024,
            "memory bounded"
        );
    };
    let role = if from_client {
        Role::Server
    } else {
        Role::Client
    };
    let config = WebSocketConfig::default()
        .max_frame_size(Some(MAX_PAYLOAD as usize))
        .max_message_size(None);
    let piece = rng.gen_range(1..3000);
    let tungstenite_refuses = |bytes: Vec<u8>| {
        let mut socket = WebSocket::from_raw_socket(Memory::new(bytes, piece), role, Some(config));
        loop {
            match socket.read() {
                Ok(_) => {}
                Err(TungError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                    return false;
                }
                Err(TungError::ConnectionClosed | TungError::AlreadyClosed) => return false,
                Err(_) => return true,
            }
        }
    };
    let mut theirs = tungstenite_refuses(bytes.to_vec());
    if ours && !theirs {
        let padded = [bytes, &vec![0; MAX_PAYLOAD as usize + 14]].concat();
        theirs = tungstenite_refuses(padded);
    }
    Some((ours, theirs))
}

/// Valid conversations with random damage (bits flipped, bytes changed, cut short): refused
/// by our reader exactly when tungstenite refuses them, and never a panic or a hang.
#[tokio::test]
async fn damaged_streams_are_refused_as_tungstenite_refuses_them() {
    const CASES: u64 = 3000;
    let (mut compared, mut refused) = (0, 0);
    for case in 0..CASES {
        let rng = &mut case_rng("damaged", case);
        let from_client = rng.gen_bool(0.5);
        let mut specs = conversation(rng);
        specs.retain(|s| s.opcode != OP_CLOSE);
        let mut bytes = tungstenite_stream(rng, &specs, from_client);
        for _ in 0..rng.gen_range(1..=3) {
            if bytes.is_empty() {
                break;
            }
            // Mostly near the front, where the first header is.
            let at = if rng.gen_bool(0.5) {
                rng.gen_range(0..bytes.len().min(16))
            } else {
                rng.gen_range(0..bytes.len())
            };
            match rng.gen_range(0..3) {
                0 => bytes[at] ^= 1 << rng.gen_range(0..8),
                1 => bytes[at] = rng.r#gen(),
                _ => bytes.truncate(at),
            }
        }
        if let Some((ours, theirs)) = verdicts(rng, &bytes, from_client).await {
            assert_eq!(
                ours, theirs,
                "case {case}: ours refused {ours}, tungstenite {theirs}"
            );
            compared += 1;
            refused += usize::from(ours);
        }
    }
    assert!(
        compared > CASES as usize / 2 && refused > 300,
        "{compared} compared, {refused} refused"
    );
}

/// Random bytes: read whole and passed on, delivered every way, the reader ends (never
/// panics or hangs) with the same answer each way.
#[tokio::test]
async fn random_bytes_end_the_same_way_however_they_come() {
    const CASES: u64 = 2000;
    for case in 0..CASES {
        let rng = &mut case_rng("random bytes", case);
        let len = rng.gen_range(0..600);
        let mut bytes = random_bytes(rng, len);
        if let Some(first) = bytes.first_mut() {
            // Often a plausible first byte, so that more than the first check is reached.
            if rng.gen_bool(0.5) {
                *first =
                    [0x81, 0x82, 0x01, 0x02, 0x00, 0x80, 0x89, 0x8A, 0x88][rng.gen_range(0..9)];
            }
        }
        let from_client = rng.gen_bool(0.5);
        if let (Some(second), true) = (bytes.get_mut(1), rng.gen_bool(0.5)) {
            *second = (*second & 0x7F) | if from_client { 0x80 } else { 0 };
        }
        failure(&bytes, rules(from_client), &format!("random bytes {case}")).await;
    }
}
