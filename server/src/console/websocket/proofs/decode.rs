//! What tungstenite writes, our reader reads: whole frames (the browser's input, the RFB
//! handshakes) and frames passed on as they came (PVE's output), for any split of the bytes.

use rand::Rng;
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{Role, WebSocket, frame::FrameSocket},
};

use super::super::frame::{OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use super::super::reader::Chunk;
use super::*;

/// Random conversations of frames, encoded by tungstenite (masked from a client), read whole.
#[tokio::test]
async fn frames_tungstenite_writes_read_back_whole() {
    const CASES: u64 = 1500;
    let mut frames_read = 0;
    for case in 0..CASES {
        let rng = &mut case_rng("read whole", case);
        let from_client = rng.gen_bool(0.5);
        let specs = conversation(rng);
        let bytes = tungstenite_stream(rng, &specs, from_client);
        let expected: Vec<Frame> = specs.iter().map(Spec::as_read).collect();
        for &delivery in Delivery::for_len(bytes.len()) {
            let mut reader = reader_over(rng, bytes.clone(), delivery, rules(from_client));
            let (frames, end) = read_all_frames(&mut reader).await;
            assert_eq!(frames, expected, "case {case}, {delivery:?}");
            assert_eq!(end, ended(), "case {case}, {delivery:?}");
            assert!(reader.buffered().is_empty(), "case {case}");
            frames_read += frames.len();
        }
    }
    assert!(frames_read > 10_000, "{frames_read} frames");
}

/// The bytes of data frames in `specs` as our reader passes them on (text turned binary),
/// with where each control frame comes out, and the frames a browser then sees.
fn passed_on_model(specs: &[Spec], bytes: &[u8]) -> (Vec<u8>, Vec<(usize, Frame)>, Vec<Spec>) {
    let mut at = 0;
    let mut passed = Vec::new();
    let mut controls = Vec::new();
    let mut seen = Vec::new();
    for spec in specs {
        let len = encoded_len(spec, bytes[at + 1] & 0x80 != 0);
        let frame = &bytes[at..at + len];
        at += len;
        if spec.is_control() {
            controls.push((passed.len(), spec.as_read()));
            continue;
        }
        let start = passed.len();
        passed.extend_from_slice(frame);
        if spec.opcode == OP_TEXT {
            passed[start] = (passed[start] & 0xF0) | OP_BINARY;
        }
        let opcode = if spec.opcode == OP_TEXT {
            OP_BINARY
        } else {
            spec.opcode
        };
        seen.push(Spec {
            opcode,
            ..spec.clone()
        });
    }
    assert_eq!(at, bytes.len());
    (passed, controls, seen)
}

/// Bytes of `spec` on the wire.
fn encoded_len(spec: &Spec, masked: bool) -> usize {
    let extra = match spec.payload.len() {
        0..=125 => 0,
        126..=65_535 => 2,
        _ => 8,
    };
    2 + extra + if masked { 4 } else { 0 } + spec.payload.len()
}

/// Random conversations passed on by our reader: exactly the bytes tungstenite wrote (a text
/// frame's opcode turned binary), control frames taken out where they were, chunks asked to
/// end at a frame's end ending there; and tungstenite reads what was passed on as the frames
/// that were sent.
#[tokio::test]
async fn frames_passed_on_are_the_bytes_tungstenite_wrote() {
    const CASES: u64 = 1500;
    for case in 0..CASES {
        let rng = &mut case_rng("pass on", case);
        // PVE's frames mostly; a browser's are passed on only while a close is awaited.
        let from_client = rng.gen_bool(0.2);
        let specs = conversation(rng);
        let bytes = tungstenite_stream(rng, &specs, from_client);
        let (expected, expected_controls, seen) = passed_on_model(&specs, &bytes);
        let starts = frame_starts(&expected);
        for &delivery in Delivery::for_len(bytes.len()) {
            let mut reader = reader_over(rng, bytes.clone(), delivery, rules(from_client));
            let mut passed = Vec::new();
            let mut controls = Vec::new();
            let end = loop {
                let to_frame_end = rng.gen_bool(0.5);
                match reader.next_chunk(to_frame_end).await {
                    Ok(Chunk::Forward(chunk)) => {
                        assert!(!chunk.is_empty(), "case {case}");
                        let (from, to) = (passed.len(), passed.len() + chunk.len());
                        if to_frame_end {
                            assert!(
                                !starts.iter().any(|&s| from < s && s < to),
                                "case {case}: a chunk asked to end at a frame's end went on"
                            );
                        }
                        passed.extend_from_slice(&chunk);
                        assert_eq!(
                            reader.at_frame_boundary(),
                            starts.contains(&passed.len()) || passed.len() == expected.len(),
                            "case {case}, {delivery:?}: boundary at {}",
                            passed.len()
                        );
                    }
                    Ok(Chunk::Control(frame)) => {
                        assert!(reader.at_frame_boundary(), "case {case}");
                        controls.push((passed.len(), frame));
                    }
                    Err(e) => break e,
                }
            };
            assert_eq!(end, ended(), "case {case}, {delivery:?}");
            assert!(
                passed == expected,
                "case {case}, {delivery:?}: bytes differ"
            );
            assert_eq!(controls, expected_controls, "case {case}, {delivery:?}");
        }
        // What the browser gets, read by tungstenite frame by frame.
        let mut socket = FrameSocket::new(Memory::new(expected, rng.gen_range(1..5000)));
        for spec in &seen {
            let frame = socket.read(None).expect("a valid frame").expect("a frame");
            let header = frame.header();
            assert_eq!(
                (header.is_final, u8::from(header.opcode)),
                (spec.fin, spec.opcode),
                "case {case}"
            );
            assert!(!header.rsv1 && !header.rsv2 && !header.rsv3);
            assert_eq!(header.mask.is_some(), from_client, "case {case}");
            assert!(
                unmask(frame.payload(), header.mask) == spec.payload,
                "case {case}"
            );
        }
        assert!(socket.read(None).expect("clean end").is_none());
    }
}

/// Where frames start in a stream of whole frames.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        starts.push(at);
        let second = bytes[at + 1];
        let (len, header) = match second & 0x7F {
            126 => (
                u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize,
                4,
            ),
            127 => (
                u64::from_be_bytes(bytes[at + 2..at + 10].try_into().unwrap()) as usize,
                10,
            ),
            n => (usize::from(n), 2),
        };
        at += header + if second & 0x80 != 0 { 4 } else { 0 } + len;
    }
    starts
}

/// Random messages sent through tungstenite's own WebSocket (as a client: masked with its own
/// keys; as a server: not), read back by our reader.
#[tokio::test]
async fn messages_tungstenite_sends_read_back() {
    const CASES: u64 = 600;
    for case in 0..CASES {
        let rng = &mut case_rng("tungstenite sends", case);
        let from_client = rng.gen_bool(0.5);
        let role = if from_client {
            Role::Client
        } else {
            Role::Server
        };
        let mut socket = WebSocket::from_raw_socket(Memory::new(Vec::new(), 1), role, None);
        let mut expected = Vec::new();
        for _ in 0..rng.gen_range(1..=8) {
            let (message, frame) = match rng.gen_range(0..5) {
                0 => {
                    let len = data_len(rng);
                    let text = random_text(rng, len);
                    (Message::text(text.clone()), Frame::Data(text.into()))
                }
                1 | 2 => {
                    let len = data_len(rng);
                    let bytes = random_bytes(rng, len);
                    (Message::binary(bytes.clone()), Frame::Data(bytes.into()))
                }
                3 => {
                    let len = control_len(rng);
                    let bytes = random_bytes(rng, len);
                    (
                        Message::Ping(bytes.clone().into()),
                        Frame::Ping(bytes.into()),
                    )
                }
                _ => {
                    let len = control_len(rng);
                    (Message::Pong(random_bytes(rng, len).into()), Frame::Pong)
                }
            };
            socket.send(message).expect("sent");
            expected.push(frame);
        }
        if rng.gen_bool(0.5) {
            let close = Spec::whole(OP_CLOSE, close_payload(rng));
            let frame = close.as_read();
            let Frame::Close(close) = &frame else {
                unreachable!()
            };
            let message = Message::Close(close.as_ref().map(|(code, reason)| {
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: (*code).into(),
                    reason: reason.clone().into(),
                }
            }));
            socket.send(message).expect("sent");
            expected.push(frame);
        }
        let bytes = std::mem::take(&mut socket.get_mut().output);
        for &delivery in Delivery::for_len(bytes.len()) {
            let mut reader = reader_over(rng, bytes.clone(), delivery, rules(from_client));
            let (frames, end) = read_all_frames(&mut reader).await;
            assert_eq!(frames, expected, "case {case}, {delivery:?}");
            assert_eq!(end, ended());
        }
    }
}

/// Opcodes tungstenite and we agree on.
#[test]
fn opcodes_are_tungstenite_s() {
    for op in [OP_BINARY, OP_TEXT, OP_PING, OP_PONG, OP_CLOSE, 0] {
        assert_eq!(u8::from(OpCode::from(op)), op);
    }
}
