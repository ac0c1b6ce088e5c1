//! What the console relay needs to open PVE's VNC WebSocket itself: the `wss://` URL with port
//! and ticket, the authentication headers, and the TLS trust of the HTTP client.

use std::fmt;
use std::sync::Arc;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::HeaderMap;

use super::endpoints::QEMU_VNCWEBSOCKET;
use super::http::HttpClient;
use crate::error::{Error, Result};
use crate::ids::{NodeName, VmId};
use crate::types::Params;

/// The WebSocket subprotocol pveproxy expects (it echoes the one requested).
pub const VNC_SUBPROTOCOL: &str = "binary";

/// Everything needed for the WebSocket upgrade of
/// `GET /nodes/{node}/qemu/{vmid}/vncwebsocket`. Valid only briefly: the VNC ticket expires
/// about 40 s after `vncproxy`, and the proxy waits only 10 s for the connection.
///
/// `Debug` hides the ticket and the credentials.
#[derive(Clone)]
pub struct WebSocketRequest {
    /// `wss://host:8006/api2/json/nodes/{node}/qemu/{vmid}/vncwebsocket?port=…&vncticket=…`
    /// (`ws://` for a plain-HTTP endpoint), on the endpoint that answered last: the one that
    /// ran `vncproxy`.
    pub url: String,
    /// `Cookie: PVEAuthCookie=…` or `Authorization: PVEAPIToken=…`, marked sensitive. No
    /// CSRF token is needed: the upgrade is a GET.
    pub headers: HeaderMap,
    /// Subprotocol to request: [`VNC_SUBPROTOCOL`].
    pub subprotocol: &'static str,
    /// The TLS settings of the HTTP client (CA file or pinned fingerprints). `None` means
    /// public web PKI roots (system trust), which the relay has to supply itself.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for WebSocketRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match self.url.find("vncticket=") {
            Some(i) => format!("{}vncticket=<redacted>", &self.url[..i]),
            None => self.url.clone(),
        };
        f.debug_struct("WebSocketRequest")
            .field("url", &shown)
            .field("headers", &self.headers)
            .field("subprotocol", &self.subprotocol)
            .field("tls", &self.tls.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl HttpClient {
    /// Builds the upgrade request for the VNC proxy PVE started on `port` with `ticket`.
    pub(crate) async fn vnc_websocket(
        &self,
        node: &NodeName,
        vmid: VmId,
        port: u16,
        ticket: &str,
    ) -> Result<WebSocketRequest> {
        if !(5900..=5999).contains(&port) {
            return Err(Error::InvalidParameters {
                message: "not sent: the VNC port must be between 5900 and 5999".into(),
                errors: [("port".to_owned(), port.to_string())].into(),
            });
        }
        if ticket.is_empty() || ticket.len() > 512 {
            return Err(Error::InvalidParameters {
                message: "not sent: the VNC ticket must be 1 to 512 characters".into(),
                errors: Default::default(),
            });
        }
        let vmid_text = vmid.to_string();
        let path = QEMU_VNCWEBSOCKET.url_path(&[node.as_str(), &vmid_text])?;
        let mut params = Params::new();
        params.int("port", port).str("vncticket", ticket);
        let query: Vec<String> = QEMU_VNCWEBSOCKET
            .encode(&params)?
            .into_iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(&v, NON_ALPHANUMERIC)))
            .collect();
        let base = self.current_endpoint();
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        Ok(WebSocketRequest {
            url: format!("{ws_base}/api2/json{path}?{}", query.join("&")),
            headers: self.auth_headers().await?,
            subprotocol: VNC_SUBPROTOCOL,
            tls: self.tls_config(),
        })
    }
}
