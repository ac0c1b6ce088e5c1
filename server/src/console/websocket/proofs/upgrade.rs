//! The browser's upgrade request: the same requests taken and refused as tungstenite's server
//! handshake takes and refuses them, with the same `Sec-WebSocket-Accept`; and a whole upgrade
//! over HTTP/1.1 (header names in any case), then frames both ways with tungstenite.

use axum::extract::FromRequestParts;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{
    Message, handshake::derive_accept_key, handshake::server::create_response, protocol::Role,
};

use super::super::frame::{OP_BINARY, OP_PONG};
use super::super::handshake::{BrowserUpgrade, accept_key};
use super::super::{BoxIo, Side};
use super::*;

#[test]
fn accept_keys_are_tungstenite_s() {
    for case in 0..2000 {
        let rng = &mut case_rng("accept key", case);
        let key = if rng.gen_bool(0.7) {
            base64::engine::general_purpose::STANDARD.encode(rng.r#gen::<[u8; 16]>())
        } else {
            let len = rng.gen_range(0..64);
            random_text(rng, len)
        };
        assert_eq!(
            accept_key(key.as_bytes()),
            derive_accept_key(key.as_bytes())
        );
    }
}

fn pick<'a>(rng: &mut StdRng, options: &[Option<&'a str>]) -> Option<&'a str> {
    options[rng.gen_range(0..options.len())]
}

/// Random upgrade requests: the ones tungstenite takes we take, with its accept value; the
/// ones it refuses we refuse, with a status that says why.
#[tokio::test]
async fn upgrade_requests_are_taken_as_tungstenite_takes_them() {
    let (mut taken, mut refused) = (0, 0);
    for case in 0..3000 {
        let rng = &mut case_rng("upgrade request", case);
        let method = [
            Method::GET,
            Method::GET,
            Method::GET,
            Method::POST,
            Method::HEAD,
        ][rng.gen_range(0..5)]
        .clone();
        let mut request = Request::builder().method(method).uri("/api/console/ws");
        let connection = pick(
            rng,
            &[
                Some("Upgrade"),
                Some("upgrade"),
                Some("UPGRADE"),
                Some("keep-alive, Upgrade"),
                Some("Upgrade,keep-alive"),
                Some("keep-alive"),
                Some("close"),
                Some("upgrades"),
                None,
            ],
        );
        let upgrade = pick(
            rng,
            &[
                Some("websocket"),
                Some("WebSocket"),
                Some("WEBSOCKET"),
                Some("websockets"),
                Some("h2c"),
                Some(""),
                None,
            ],
        );
        let version = pick(
            rng,
            &[
                Some("13"),
                Some("13"),
                Some("8"),
                Some("12"),
                Some("130"),
                Some(""),
                None,
            ],
        );
        let key = match rng.gen_range(0..5) {
            0 => None,
            1 => {
                let len = rng.gen_range(0..30);
                Some(
                    (0..len)
                        .map(|_| char::from(rng.gen_range(0x21..0x7F_u8)))
                        .collect(),
                )
            }
            _ => Some(base64::engine::general_purpose::STANDARD.encode(rng.r#gen::<[u8; 16]>())),
        };
        let protocol = pick(
            rng,
            &[Some("binary"), Some("chat, binary"), Some("chat"), None],
        );
        for (name, value) in [
            (header::CONNECTION, connection),
            (header::UPGRADE, upgrade),
            (header::SEC_WEBSOCKET_VERSION, version),
            (header::SEC_WEBSOCKET_KEY, key.as_deref()),
            (header::SEC_WEBSOCKET_PROTOCOL, protocol),
        ] {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        let request = request.body(()).expect("a request");
        let oracle = create_response(&request);
        let (mut parts, ()) = request.into_parts();
        // What hyper puts in a request whose connection can be upgraded.
        parts
            .extensions
            .insert(hyper::upgrade::on(Request::new(())));
        match (
            BrowserUpgrade::from_request_parts(&mut parts, &()).await,
            oracle,
        ) {
            (Ok(ours), Ok(theirs)) => {
                let answer = ours.accept("proof".into(), |_| async {});
                assert_eq!(answer.status(), StatusCode::SWITCHING_PROTOCOLS);
                assert_eq!(
                    answer.headers().get(header::SEC_WEBSOCKET_ACCEPT),
                    theirs.headers().get(header::SEC_WEBSOCKET_ACCEPT),
                    "case {case}"
                );
                let binary = protocol.is_some_and(|p| p.contains("binary"));
                assert_eq!(
                    answer
                        .headers()
                        .get(header::SEC_WEBSOCKET_PROTOCOL)
                        .is_some(),
                    binary,
                    "case {case}: the subprotocol is echoed when offered"
                );
                taken += 1;
            }
            (Err(ours), Err(_)) => {
                let status = ours.into_response().status();
                assert!(
                    [
                        StatusCode::METHOD_NOT_ALLOWED,
                        StatusCode::UPGRADE_REQUIRED,
                        StatusCode::BAD_REQUEST
                    ]
                    .contains(&status),
                    "case {case}: {status}"
                );
                refused += 1;
            }
            (ours, theirs) => panic!(
                "case {case}: ours {:?}, tungstenite {:?}",
                ours.err(),
                theirs.err()
            ),
        }
    }
    assert!(
        taken > 100 && refused > 1000,
        "{taken} taken, {refused} refused"
    );
}

#[tokio::test]
async fn headers_listed_twice_or_in_lists_are_read_whole() {
    // tungstenite reads only the first `Connection` header; HTTP lets a list be split over
    // several (RFC 9110 §5.3), and we read them all.
    let request = Request::builder()
        .uri("/")
        .header(header::CONNECTION, "keep-alive")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .unwrap();
    let (mut parts, ()) = request.into_parts();
    parts
        .extensions
        .insert(hyper::upgrade::on(Request::new(())));
    let ours = BrowserUpgrade::from_request_parts(&mut parts, &()).await;
    let answer = ours.expect("taken").accept("proof".into(), |_| async {});
    assert_eq!(
        answer.headers()[header::SEC_WEBSOCKET_ACCEPT],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

/// Our end of the proofs' WebSocket: every data frame back as binary, pings answered, the
/// close echoed.
async fn echo(io: BoxIo) {
    let mut side = Side::new(io, &[], false, rules(true), 4096);
    loop {
        match side.reader.next_frame().await {
            Ok(Frame::Data(bytes)) => side.writer.queue(OP_BINARY, &bytes),
            Ok(Frame::Ping(payload)) => side.writer.queue(OP_PONG, &payload),
            Ok(Frame::Pong) => {}
            Ok(Frame::Close(close)) => {
                side.writer.queue_close(&close);
                let _ = side.writer.flush().await;
                return;
            }
            Err(_) => return,
        }
        if side.writer.flush().await.is_err() {
            return;
        }
    }
}

/// `name` with each letter's case picked at random.
fn random_case(rng: &mut StdRng, name: &str) -> String {
    name.chars()
        .map(|c| {
            if rng.gen_bool(0.5) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Whole upgrades over HTTP/1.1 through hyper, the header names in random case: answered
/// with 101 and tungstenite's accept value, then tungstenite's frames echoed by ours.
#[tokio::test]
async fn a_whole_upgrade_then_frames_both_ways_with_tungstenite() {
    for case in 0..40 {
        let rng = &mut case_rng("whole upgrade", case);
        let (client, server) = tokio::io::duplex(1 << 20);
        let app = axum::Router::new().route(
            "/ws",
            axum::routing::get(|upgrade: BrowserUpgrade| async move {
                upgrade.accept("proof".into(), echo)
            }),
        );
        let service = hyper_util::service::TowerToHyperService::new(app);
        let serving = tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), service)
                .with_upgrades(),
        );
        let key = base64::engine::general_purpose::STANDARD.encode(rng.r#gen::<[u8; 16]>());
        let mut head = String::from("GET /ws HTTP/1.1\r\n");
        for (name, value) in [
            ("Host", "cecyber.test"),
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", key.as_str()),
            ("Sec-WebSocket-Protocol", "binary"),
        ] {
            head.push_str(&format!("{}: {value}\r\n", random_case(rng, name)));
        }
        head.push_str("\r\n");
        let mut client = client;
        client.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            answer.push(client.read_u8().await.unwrap());
        }
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Response::new(&mut headers);
        parsed.parse(&answer).unwrap();
        assert_eq!(parsed.code, Some(101), "case {case}");
        let accept = parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
            .expect("an accept value");
        assert_eq!(accept.value, derive_accept_key(key.as_bytes()).as_bytes());

        let mut ws = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for _ in 0..rng.gen_range(1..10) {
            let (sent, back) = match rng.gen_range(0..3) {
                0 => {
                    let len = data_len(rng);
                    let text = random_text(rng, len);
                    (
                        Message::text(text.clone()),
                        Message::binary(text.into_bytes()),
                    )
                }
                1 => {
                    let len = data_len(rng);
                    let bytes = random_bytes(rng, len);
                    (Message::binary(bytes.clone()), Message::binary(bytes))
                }
                _ => {
                    let len = control_len(rng);
                    let bytes = random_bytes(rng, len);
                    (
                        Message::Ping(bytes.clone().into()),
                        Message::Pong(bytes.into()),
                    )
                }
            };
            ws.send(sent).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), back, "case {case}");
        }
        ws.close(None).await.unwrap();
        assert!(matches!(
            ws.next().await,
            Some(Ok(Message::Close(None))) | None
        ));
        serving.abort();
    }
}
