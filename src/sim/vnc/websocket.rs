//! `GET /nodes/{node}/qemu/{vmid}/vncwebsocket?port=&vncticket=` as pveproxy serves it: the
//! API call first (VM.Console, parameters, VNC ticket for this user, VM and port, VM config on
//! the node); with `Upgrade: websocket` it then checks the upgrade headers, connects to the
//! proxy waiting on the port and answers 101, echoing `Sec-WebSocket-Protocol` as sent. Without
//! an upgrade it answers `{"port": "<port>"}`. Frames carry raw RFB, at most 128 KiB each.

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::consoles;
use super::proxy::PIPE_BUFFER;
use crate::sim::api::extract::Call;
use crate::sim::api::params::{NODE, Spec, VMID};
use crate::sim::api::reply::{ApiError, ok};
use crate::sim::world::model::config_missing;

/// pveproxy's `$max_payload_size`.
const MAX_FRAME: usize = 128 * 1024;
const PORT_MAX: i64 = 5999;

const PARAMS: &[Spec] = &[
    NODE,
    VMID,
    Spec::string("vncticket").max_len(512),
    Spec::integer("port").min(5900),
];

/// The handler.
pub(super) async fn vncwebsocket(
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    call: Call,
) -> Response {
    let (vmid, port) = match check(&call) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Call { st, who, .. } = &call;
    let Some(requested) = headers.get(header::UPGRADE) else {
        return ok(json!({ "port": port.to_string() })).into_response();
    };
    if let Err(e) = check_upgrade(&headers, requested) {
        return e.into_response();
    }
    let mut upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return ApiError::fail(e.body_text()).into_response(),
    };
    let Some((_, accept)) = consoles(st).connect(port) else {
        return ApiError::fail(format!(
            "connect to 'localhost:{port}' failed: Connection refused"
        ))
        .into_response();
    };
    let (ours, theirs) = tokio::io::duplex(PIPE_BUFFER);
    if accept.send(theirs).is_err() {
        return ApiError::fail(format!(
            "connect to 'localhost:{port}' failed: Connection refused"
        ))
        .into_response();
    }
    tracing::debug!(vmid, port, user = %who.authid, "vncwebsocket connected");
    if let Some(protocol) = headers.get(header::SEC_WEBSOCKET_PROTOCOL) {
        upgrade.set_selected_protocol(protocol.clone());
    }
    upgrade
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |ws| bridge(ws, ours))
}

/// The API part, in `rest_handler` order; answers (VM ID, port).
fn check(call: &Call) -> Result<(u32, u16), ApiError> {
    let params = call.params()?;
    call.require_vm(&["VM.Console"])?;
    let mut verified = params.validate(PARAMS);
    let port = params.int("port").unwrap_or_default();
    if port > PORT_MAX {
        let msg = format!("value must have a maximum value of {PORT_MAX}");
        match &mut verified {
            Err(e) => {
                e.errors.entry("port".into()).or_insert(msg);
            }
            Ok(()) => verified = Err(ApiError::param("port", msg)),
        }
    }
    verified?;
    let Call { st, who, .. } = call;
    let (node, vmid) = (call.node(), call.vmid());
    let port = u16::try_from(port).unwrap_or_default();
    let console = consoles(st);
    let ticket = params.get("vncticket").unwrap_or_default();
    let path = format!("/vms/{vmid}");
    if !console
        .signer
        .verify(ticket, &who.authid, &path, port, console.clock.now())
    {
        return Err(ApiError::new(
            401,
            "permission denied - invalid PVEVNC ticket\n",
        ));
    }
    if st.world().model.vm_on(node, vmid).is_none() {
        return Err(ApiError::fail(config_missing(node, vmid)));
    }
    Ok((vmid, port))
}

/// pveproxy's checks of the upgrade request (after the API call succeeded).
fn check_upgrade(headers: &HeaderMap, requested: &header::HeaderValue) -> Result<(), ApiError> {
    let requested = requested.to_str().unwrap_or_default().to_ascii_lowercase();
    if requested != "websocket" {
        return Err(ApiError::fail(format!(
            "unable to upgrade to protocol '{requested}'"
        )));
    }
    let version = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if version != "13" {
        return Err(ApiError::fail(format!(
            "unsupported websocket-version '{version}'"
        )));
    }
    if !headers.contains_key(header::SEC_WEBSOCKET_KEY) {
        return Err(ApiError::fail("missing websocket-key"));
    }
    Ok(())
}

/// Relays between the websocket (binary frames; text frames are taken as data too, like
/// pveproxy) and the proxy's connection.
async fn bridge(ws: WebSocket, conn: DuplexStream) {
    let (mut sink, mut source) = ws.split();
    let (mut rd, mut wr) = tokio::io::split(conn);
    let mut buf = Vec::with_capacity(MAX_FRAME);
    loop {
        tokio::select! {
            msg = source.next() => {
                let data = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => Bytes::from(t),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                if wr.write_all(&data).await.is_err() {
                    break;
                }
            }
            n = rd.read_buf(&mut buf) => {
                match n {
                    Ok(n) if n > 0 => {
                        // What was read becomes the frame as it is, not a copy.
                        let data = std::mem::replace(&mut buf, Vec::with_capacity(MAX_FRAME));
                        if sink.send(Message::Binary(Bytes::from(data))).await.is_err() {
                            break;
                        }
                    }
                    _ => {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}
