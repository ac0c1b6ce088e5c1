//! What our writer writes, tungstenite reads: our own frames (masked towards PVE, as a client
//! must), bytes passed on between them, closes with their reasons cut to fit.

use rand::Rng;
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{
        Role, WebSocket, WebSocketConfig,
        frame::{CloseFrame, FrameSocket, coding::CloseCode},
    },
};

use super::super::frame::{OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use super::super::writer::FrameWriter;
use super::*;

/// What the writer is asked to do.
#[derive(Debug)]
enum Step {
    /// Queue one of our frames.
    Queue(Spec),
    /// Queue a close (code and reason, the reason maybe too long to fit).
    Close(Option<(u16, String)>),
    /// Pass on a message (maybe fragmented) as the bytes a server wrote.
    PassOn(Vec<Spec>),
    /// Write what is queued.
    Flush,
}

/// A random frame of our own: data (any size) or a ping or pong.
fn own_frame(rng: &mut StdRng) -> Spec {
    match rng.gen_range(0..4) {
        0 => {
            let len = data_len(rng);
            Spec::whole(OP_TEXT, random_text(rng, len).into_bytes())
        }
        1 => {
            let len = data_len(rng);
            Spec::whole(OP_BINARY, random_bytes(rng, len))
        }
        _ => control(rng),
    }
}

/// The frames on the wire after `steps`: what is queued goes out on a flush, what is passed
/// on goes out at once.
fn wire_order(steps: &[Step]) -> Vec<Spec> {
    let mut wire = Vec::new();
    let mut queued = Vec::new();
    for step in steps {
        match step {
            Step::Queue(spec) => queued.push(spec.clone()),
            Step::Close(close) => {
                let payload = match close {
                    None => Vec::new(),
                    Some((code, reason)) => {
                        [&code.to_be_bytes()[..], close_reason(reason).as_bytes()].concat()
                    }
                };
                queued.push(Spec::whole(OP_CLOSE, payload));
            }
            Step::PassOn(frames) => wire.extend(frames.iter().cloned()),
            Step::Flush => wire.append(&mut queued),
        }
    }
    wire
}

/// The message tungstenite reads for the frames of one message.
fn as_message(frames: &[Spec]) -> Option<Message> {
    let first = frames.iter().find(|f| !f.is_control())?;
    let payload: Vec<u8> = frames
        .iter()
        .filter(|f| !f.is_control())
        .flat_map(|f| f.payload.iter().copied())
        .collect();
    Some(if first.opcode == OP_TEXT {
        Message::text(String::from_utf8(payload).expect("UTF-8"))
    } else {
        Message::binary(payload)
    })
}

fn control_message(spec: &Spec) -> Message {
    match spec.opcode {
        OP_PING => Message::Ping(spec.payload.clone().into()),
        OP_PONG => Message::Pong(spec.payload.clone().into()),
        _ => Message::Close(match &spec.payload[..] {
            [] => None,
            [high, low, reason @ ..] => Some(CloseFrame {
                code: u16::from_be_bytes([*high, *low]).into(),
                reason: String::from_utf8(reason.to_vec()).expect("UTF-8").into(),
            }),
            [_] => unreachable!("never written"),
        }),
    }
}

/// Random sequences of our frames, closes and passed-on messages, written through a
/// connection that takes writes in random pieces: tungstenite reads every frame (FIN, no
/// reserved bits, masked exactly when we are the client, each payload as queued), and the
/// same messages; our own reader reads them back too.
#[tokio::test]
async fn frames_we_write_tungstenite_reads_back() {
    const CASES: u64 = 1200;
    for case in 0..CASES {
        let rng = &mut case_rng("we write", case);
        // Towards PVE we are the client (masked); towards the browser we pass PVE's bytes on.
        let masked = rng.gen_bool(0.5);
        let mut steps = Vec::new();
        for _ in 0..rng.gen_range(1..=10) {
            steps.push(match rng.gen_range(0..10) {
                0..=4 => Step::Queue(own_frame(rng)),
                5..=6 if !masked => Step::PassOn(message(rng)),
                _ => Step::Flush,
            });
        }
        if rng.gen_bool(0.5) {
            let close = rng.gen_bool(0.8).then(|| {
                let code = CLOSE_CODES[rng.gen_range(0..CLOSE_CODES.len())];
                let len = rng.gen_range(0..200);
                (code, random_text(rng, len))
            });
            steps.push(Step::Close(close));
        }
        steps.push(Step::Flush);

        let (sink, written) = Sink::new(rng);
        let mut writer = FrameWriter::new(sink, masked);
        for step in &steps {
            match step {
                Step::Queue(spec) => writer.queue(spec.opcode, &spec.payload),
                Step::Close(close) => writer.queue_close(close),
                Step::PassOn(frames) => {
                    let bytes = tungstenite_stream(rng, frames, false);
                    writer.pass_on(&bytes).await.expect("written");
                }
                Step::Flush => {
                    writer.flush().await.expect("written");
                    assert!(!writer.has_queued());
                }
            }
            assert!(writer.is_intact());
        }
        let bytes = std::mem::take(&mut *written.lock().expect("not poisoned"));
        let wire = wire_order(&steps);
        let own: Vec<bool> = {
            // Which frames on the wire are ours (the rest were passed on, unmasked).
            let mut own = Vec::new();
            let mut queued = Vec::new();
            for step in &steps {
                match step {
                    Step::Queue(_) | Step::Close(_) => queued.push(true),
                    Step::PassOn(frames) => own.extend(frames.iter().map(|_| false)),
                    Step::Flush => own.append(&mut queued),
                }
            }
            own
        };

        // Frame by frame.
        let piece = rng.gen_range(1..70_000);
        let mut socket = FrameSocket::new(Memory::new(bytes.clone(), piece));
        for (spec, ours) in wire.iter().zip(&own) {
            let frame = socket.read(None).expect("a valid frame").expect("a frame");
            let header = frame.header();
            assert_eq!(
                (header.is_final, u8::from(header.opcode)),
                (spec.fin, spec.opcode),
                "case {case}"
            );
            assert!(!header.rsv1 && !header.rsv2 && !header.rsv3, "case {case}");
            assert_eq!(header.mask.is_some(), masked && *ours, "case {case}");
            assert!(
                unmask(frame.payload(), header.mask) == spec.payload,
                "case {case}"
            );
        }
        assert!(
            socket.read(None).expect("clean end").is_none(),
            "case {case}"
        );

        // As messages, by tungstenite's WebSocket on the other end.
        let role = if masked { Role::Server } else { Role::Client };
        let config = WebSocketConfig::default().max_message_size(None);
        let mut socket =
            WebSocket::from_raw_socket(Memory::new(bytes.clone(), piece), role, Some(config));
        let mut i = 0;
        while i < wire.len() {
            let expected = if wire[i].is_control() {
                i += 1;
                control_message(&wire[i - 1])
            } else {
                let start = i;
                let mut controls = Vec::new();
                while !wire[i].fin || wire[i].is_control() {
                    if wire[i].is_control() {
                        controls.push(control_message(&wire[i]));
                    }
                    i += 1;
                }
                i += 1;
                // tungstenite gives the control frames inside a message first.
                for control in controls {
                    assert_eq!(socket.read().expect("a message"), control, "case {case}");
                }
                as_message(&wire[start..i]).expect("data")
            };
            if let Message::Close(Some(CloseFrame { code, .. })) = &expected
                && matches!(code, CloseCode::Bad(_))
            {
                // tungstenite knows no codes past 1013 (1014, "bad gateway", came later).
                assert_eq!(u16::from(*code), 1014, "case {case}");
                break;
            }
            assert_eq!(socket.read().expect("a message"), expected, "case {case}");
        }

        // And by our own reader.
        let mut reader = reader_over(rng, bytes, Delivery::Random, rules(masked));
        let (frames, _) = read_all_frames(&mut reader).await;
        let expected: Vec<Frame> = wire.iter().map(Spec::as_read).collect();
        assert_eq!(frames, expected, "case {case}");
    }
}
