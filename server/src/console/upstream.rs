//! The relay's side towards Proxmox VE: opens `vncwebsocket` with the panel's PVE credentials
//! and TLS trust, then performs the RFB version and security handshake itself, answering the
//! VNC authentication with the password from `vncproxy`. What is left is an RFB connection
//! waiting for ClientInit.

use std::time::Duration;

use pve::client::{PveApi, vnc_auth_response};
use pve::types::VncProxy;

use super::websocket::Side;
use super::websocket::frame::{OP_BINARY, Rules};
use super::websocket::handshake::{self, ConnectError};
use super::websocket::writer::FrameWriter;
use super::wire::{ByteReader, ReadError};
use app::console::ssr::ConsoleTarget;

/// pveproxy takes frames of at most 128 KiB.
pub(crate) const PVE_MAX_FRAME: usize = 128 * 1024;
/// Largest frame accepted from PVE (it sends at most 128 KiB per frame).
const MAX_FRAME: u64 = 1024 * 1024;
/// Longest wait for one handshake step from PVE.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Read window towards PVE: what one read takes is passed on to the browser in one write.
const READ_WINDOW: usize = 256 * 1024;

/// An authenticated RFB connection to the VM's VNC server through PVE.
pub(crate) struct Upstream {
    /// The WebSocket to PVE.
    pub side: Side,
    /// Bytes PVE sent after the security handshake (normally none: it waits for ClientInit).
    pub leftover: Vec<u8>,
}

/// Why the connection to PVE failed; the message is safe to show (no ticket, no password).
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// The client could not build the request (bad port or ticket, login failed).
    #[error("{0}")]
    Request(String),
    /// PVE answered the upgrade with an HTTP error.
    #[error("Proxmox VE refused the console connection: {0}")]
    Refused(String),
    /// No WebSocket connection (network, TLS).
    #[error("cannot reach the console of Proxmox VE: {0}")]
    Connect(String),
    /// The RFB handshake with the VM's VNC server failed.
    #[error("VNC handshake with Proxmox VE failed: {0}")]
    Rfb(String),
    /// The VNC server refused the password.
    #[error("VNC authentication with Proxmox VE failed: {0}")]
    AuthFailed(String),
}

impl From<ReadError> for UpstreamError {
    fn from(e: ReadError) -> Self {
        UpstreamError::Rfb(e.to_string())
    }
}

/// Opens the console of `target` with the `vncproxy` answer `proxy` and authenticates.
pub(crate) async fn open(
    api: &dyn PveApi,
    target: &ConsoleTarget,
    proxy: &VncProxy,
) -> Result<Upstream, UpstreamError> {
    let req = api
        .vnc_websocket_request(&target.node, target.vmid, proxy.port, &proxy.ticket)
        .await
        .map_err(|e| UpstreamError::Request(app::error::AppError::from(e).to_string()))?;
    let connected = handshake::connect(&req).await.map_err(|e| match e {
        ConnectError::Url(_) => UpstreamError::Request(e.to_string()),
        ConnectError::Refused(why) => UpstreamError::Refused(why),
        ConnectError::Failed(why) => UpstreamError::Connect(why),
    })?;
    let rules = Rules {
        from_client: false,
        max_payload: MAX_FRAME,
    };
    let mut side = Side::new(connected.io, &connected.already, true, rules, READ_WINDOW);
    let mut reader = ByteReader::new(&mut side.reader, STEP_TIMEOUT);
    authenticate(
        &mut reader,
        &mut side.writer,
        proxy.vnc_password().as_bytes(),
    )
    .await?;
    let leftover = reader.into_parts().1;
    Ok(Upstream { side, leftover })
}

/// The RFB client handshake up to (not including) ClientInit: version (3.8, 3.7 or 3.3), then
/// VNC authentication (type 2) with `password`, or None (1) if that is all the server offers.
async fn authenticate<S, W>(
    reader: &mut ByteReader<S>,
    writer: &mut FrameWriter<W>,
    password: &[u8],
) -> Result<(), UpstreamError>
where
    S: super::wire::FrameSource + Send,
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    let version = reader.read_exact(12).await?;
    let minor = match parse_version(&version) {
        Some((3, minor)) if minor >= 8 => 8,
        Some((3, 7)) => 7,
        Some((3, _)) => 3,
        _ => {
            return Err(UpstreamError::Rfb(format!(
                "not an RFB server (greeting {:?})",
                String::from_utf8_lossy(&version)
            )));
        }
    };
    send(writer, format!("RFB 003.{minor:03}\n").into_bytes()).await?;
    let chosen = if minor >= 7 {
        let count = reader.read_u8().await?;
        if count == 0 {
            let reason = reader.read_reason().await?;
            return Err(UpstreamError::Rfb(format!("refused: {reason}")));
        }
        let types = reader.read_exact(usize::from(count)).await?;
        let chosen = if types.contains(&2) {
            2
        } else if types.contains(&1) {
            1
        } else {
            return Err(UpstreamError::Rfb(format!(
                "no supported security type among {types:?}"
            )));
        };
        send(writer, vec![chosen]).await?;
        chosen
    } else {
        match reader.read_u32().await? {
            0 => {
                let reason = reader.read_reason().await?;
                return Err(UpstreamError::Rfb(format!("refused: {reason}")));
            }
            t @ (1 | 2) => t as u8,
            other => {
                return Err(UpstreamError::Rfb(format!(
                    "unsupported security type {other}"
                )));
            }
        }
    };
    if chosen == 2 {
        let challenge: [u8; 16] = reader
            .read_exact(16)
            .await?
            .try_into()
            .map_err(|_| UpstreamError::Rfb("short challenge".into()))?;
        send(writer, vnc_auth_response(password, &challenge).to_vec()).await?;
    }
    // RFB 3.3 and 3.7 send no SecurityResult for type None.
    if chosen == 2 || minor >= 8 {
        let result = reader.read_u32().await?;
        if result != 0 {
            let reason = if minor >= 8 {
                reader.read_reason().await.unwrap_or_else(|e| e.to_string())
            } else {
                "refused".into()
            };
            return Err(UpstreamError::AuthFailed(reason));
        }
    }
    Ok(())
}

async fn send<W>(writer: &mut FrameWriter<W>, bytes: Vec<u8>) -> Result<(), UpstreamError>
where
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    writer.queue(OP_BINARY, &bytes);
    writer
        .flush()
        .await
        .map_err(|e| UpstreamError::Rfb(format!("send failed: {e}")))
}

/// `RFB 003.008\n` → `(3, 8)`.
pub(crate) fn parse_version(greeting: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(greeting).ok()?;
    let rest = text.strip_prefix("RFB ")?.strip_suffix('\n')?;
    let (major, minor) = rest.split_once('.')?;
    if major.len() != 3 || minor.len() != 3 {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version(b"RFB 003.008\n"), Some((3, 8)));
        assert_eq!(parse_version(b"RFB 003.889\n"), Some((3, 889)));
        assert_eq!(parse_version(b"RFB 003.008"), None);
        assert_eq!(parse_version(b"HTTP/1.1 200"), None);
    }
}
