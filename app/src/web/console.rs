//! The console's browser side: fetches a one-time ticket, runs noVNC against our relay, and
//! reconnects by itself with backoff (a fresh ticket, hence a fresh `vncproxy`, each time).

use std::time::Duration;

use leptos::{html::Div, prelude::*};
use wasm_bindgen::{JsValue, closure::Closure};

use super::novnc::{self, keysym};
use crate::{
    console::{ConsoleStatus, ConsoleTicket, Scaling, TicketSource, backoff_secs},
    error::AppError,
};

/// noVNC's event callback: `(event name, detail as JSON)`.
type EventListener = Closure<dyn FnMut(String, String)>;

/// Everything the console needs between events; all fields are cheap handles.
#[derive(Clone, Copy)]
pub struct ConsoleClient {
    source: StoredValue<TicketSource>,
    rfb: StoredValue<Option<JsValue>, LocalStorage>,
    listener: StoredValue<Option<EventListener>, LocalStorage>,
    attempt: StoredValue<u32>,
    closing: StoredValue<bool>,
    status: RwSignal<ConsoleStatus>,
    desktop: RwSignal<String>,
    view_only: RwSignal<bool>,
    screen: NodeRef<Div>,
    embedded: bool,
}

/// Errors after which trying again cannot help.
fn is_final(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Unauthenticated
            | AppError::Forbidden(_)
            | AppError::InvalidInput(_)
            | AppError::NotFound(_)
            | AppError::Conflict(_)
    )
}

impl ConsoleClient {
    /// A client for the console element `screen`.
    pub fn new(
        source: TicketSource,
        status: RwSignal<ConsoleStatus>,
        desktop: RwSignal<String>,
        view_only: RwSignal<bool>,
        screen: NodeRef<Div>,
        embedded: bool,
    ) -> Self {
        Self {
            source: StoredValue::new(source),
            rfb: StoredValue::new_local(None),
            listener: StoredValue::new_local(None),
            attempt: StoredValue::new(0),
            closing: StoredValue::new(false),
            status,
            desktop,
            view_only,
            screen,
            embedded,
        }
    }

    async fn ticket(self) -> Result<ConsoleTicket, AppError> {
        match self.source.get_value() {
            TicketSource::Vm {
                cluster,
                node,
                vmid,
            } => crate::console::open_console(cluster, node, vmid).await,
            TicketSource::Embed { token } => crate::embed::embed_console(token).await,
        }
    }

    /// Opens (or re-opens) the connection.
    pub fn connect(self) {
        self.closing.set_value(false);
        self.drop_rfb();
        self.set_status(ConsoleStatus::Connecting);
        leptos::task::spawn_local(async move {
            let ticket = match self.ticket().await {
                Ok(ticket) => ticket,
                Err(error) if is_final(&error) => {
                    return self.set_status(ConsoleStatus::Failed(error.to_string()));
                }
                Err(error) => return self.retry(error.to_string()),
            };
            if novnc::load_novnc().await.is_err() {
                return self.set_status(ConsoleStatus::Failed(
                    "the console viewer (noVNC) could not be loaded".into(),
                ));
            }
            let Some(element) = self.screen.get_untracked() else {
                return;
            };
            let listener =
                Closure::<dyn FnMut(String, String)>::new(move |name: String, detail: String| {
                    self.on_event(&name, &detail);
                });
            let view_only = ticket.view_only || self.view_only.get_untracked();
            let rfb = novnc::rfb_connect(&element, &ticket.ws_path, view_only, &listener);
            self.listener.set_value(Some(listener));
            self.rfb.set_value(Some(rfb));
        });
    }

    fn on_event(self, name: &str, detail: &str) {
        let detail: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
        match name {
            "connect" => {
                self.attempt.set_value(0);
                self.set_status(ConsoleStatus::Connected);
            }
            "desktopname" => self
                .desktop
                .set(detail["name"].as_str().unwrap_or_default().to_owned()),
            "securityfailure" => {
                let reason = detail["reason"]
                    .as_str()
                    .unwrap_or("security negotiation failed")
                    .to_owned();
                self.retry(reason);
            }
            "disconnect" if self.closing.get_value() => self.set_status(ConsoleStatus::Closed),
            "disconnect" => self.retry("Connection lost".into()),
            _ => {}
        }
    }

    /// Schedules the next attempt with backoff.
    fn retry(self, reason: String) {
        if self.closing.get_value() {
            return;
        }
        let attempt = self.attempt.get_value() + 1;
        self.attempt.set_value(attempt);
        let in_secs = backoff_secs(attempt);
        self.set_status(ConsoleStatus::Reconnecting {
            attempt,
            in_secs,
            reason,
        });
        set_timeout(
            move || {
                if !self.closing.get_value()
                    && matches!(
                        self.status.get_untracked(),
                        ConsoleStatus::Reconnecting { .. }
                    )
                {
                    self.connect();
                }
            },
            Duration::from_secs(in_secs.into()),
        );
    }

    fn set_status(self, status: ConsoleStatus) {
        if self.embedded {
            tell_host_page(&status);
        }
        self.status.set(status);
    }

    fn drop_rfb(self) {
        if let Some(rfb) = self.rfb.try_update_value(Option::take).flatten() {
            novnc::rfb_call(&rfb, "disconnect");
        }
    }

    /// Closes the console for good (page left).
    pub fn close(self) {
        self.closing.set_value(true);
        self.drop_rfb();
    }

    /// Switches view-only on or off.
    pub fn set_view_only(self, on: bool) {
        self.rfb.with_value(|rfb| {
            if let Some(rfb) = rfb {
                novnc::rfb_set(rfb, "viewOnly", &JsValue::from_bool(on));
            }
        });
    }

    /// Changes how the screen fits.
    pub fn set_scaling(self, scaling: Scaling) {
        self.rfb.with_value(|rfb| {
            if let Some(rfb) = rfb {
                novnc::rfb_set(
                    rfb,
                    "scaleViewport",
                    &JsValue::from_bool(scaling == Scaling::Fit),
                );
                novnc::rfb_set(
                    rfb,
                    "resizeSession",
                    &JsValue::from_bool(scaling == Scaling::Remote),
                );
                novnc::rfb_set(
                    rfb,
                    "clipViewport",
                    &JsValue::from_bool(scaling == Scaling::Native),
                );
            }
        });
    }

    /// A toolbar action.
    pub fn action(self, action: &str, text: &str) {
        if action == "reconnect" {
            self.attempt.set_value(0);
            return self.connect();
        }
        if action == "fullscreen" {
            if let Some(element) = self.screen.get_untracked() {
                novnc::request_fullscreen(&element);
            }
            return;
        }
        self.rfb.with_value(|rfb| {
            let Some(rfb) = rfb else { return };
            match action {
                "ctrl-alt-del" => novnc::rfb_call(rfb, "sendCtrlAltDel"),
                "ctrl-alt-f1" => novnc::rfb_combo(rfb, vec![keysym::CTRL, keysym::ALT, keysym::F1]),
                "ctrl-alt-f2" => {
                    novnc::rfb_combo(rfb, vec![keysym::CTRL, keysym::ALT, keysym::F1 + 1])
                }
                "alt-tab" => novnc::rfb_combo(rfb, vec![keysym::ALT, keysym::TAB]),
                "super" => novnc::rfb_combo(rfb, vec![keysym::SUPER]),
                "escape" => novnc::rfb_combo(rfb, vec![keysym::ESCAPE]),
                "type" => novnc::rfb_type(rfb, text),
                _ => {}
            }
            novnc::rfb_call(rfb, "focus");
        });
    }
}

/// Tells the page that embeds the console what happens (connected, disconnected, error).
fn tell_host_page(status: &ConsoleStatus) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(Some(parent)) = window.parent() else {
        return;
    };
    let message = serde_json::json!({ "type": "cecyber-console", "state": status.state(), "detail": status.describe("") });
    if let Ok(value) = js_sys::JSON::parse(&message.to_string()) {
        // Only a state name travels; nothing secret, so any host origin may read it.
        let _ = parent.post_message(&value, "*");
    }
}
