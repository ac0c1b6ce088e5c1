//! The VM console: noVNC on our own origin, with its controls and automatic reconnection.
//! Used full page and, for partner portals, embedded.

use leptos::{html::Div, prelude::*};

/// Where a console gets its one-time ticket from.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketSource {
    /// A logged-in operator's console of one VM.
    Vm {
        /// Cluster name.
        cluster: String,
        /// Node name.
        node: String,
        /// VM id.
        vmid: String,
    },
    /// A partner portal's embed link.
    Embed {
        /// The signed embed token from the link.
        token: String,
    },
}

/// What the console is doing, for the status line (and the host page of an embed).
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleStatus {
    /// Getting a ticket and opening the connection.
    Connecting,
    /// Showing the VM's screen.
    Connected,
    /// Lost the connection; trying again after `in_secs` (attempt `attempt`).
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Seconds until the next attempt.
        in_secs: u32,
        /// Why the last connection ended.
        reason: String,
    },
    /// Gave up: the reason is final (no permission, VM gone, refused link).
    Failed(String),
    /// Closed by the user.
    Closed,
}

impl ConsoleStatus {
    /// Short machine-readable state, for tests and `postMessage`.
    pub fn state(&self) -> &'static str {
        match self {
            ConsoleStatus::Connecting => "connecting",
            ConsoleStatus::Connected => "connected",
            ConsoleStatus::Reconnecting { .. } => "reconnecting",
            ConsoleStatus::Failed(_) => "error",
            ConsoleStatus::Closed => "disconnected",
        }
    }

    /// What the status line says.
    pub fn describe(&self, desktop: &str) -> String {
        match self {
            ConsoleStatus::Connecting => "Connecting…".into(),
            ConsoleStatus::Connected if desktop.is_empty() => "Connected".into(),
            ConsoleStatus::Connected => format!("Connected to {desktop}"),
            ConsoleStatus::Reconnecting {
                attempt,
                in_secs,
                reason,
            } => {
                format!("{reason} — reconnecting in {in_secs} s (attempt {attempt})")
            }
            ConsoleStatus::Failed(reason) => format!("Cannot open the console: {reason}"),
            ConsoleStatus::Closed => "Disconnected".into(),
        }
    }
}

/// Seconds to wait before reconnection attempt `attempt` (1, 2, 4, … up to 30).
pub fn backoff_secs(attempt: u32) -> u32 {
    1u32.checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(30)
}

/// How the remote screen fits the browser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaling {
    /// Scale the remote screen to the element.
    Fit,
    /// Ask the VM to change its resolution to the element's size.
    Remote,
    /// One remote pixel per browser pixel, with scrolling.
    Native,
}

/// The console: toolbar, status line and the screen.
#[component]
pub fn Console(source: TicketSource, #[prop(optional)] embedded: bool) -> impl IntoView {
    let status = RwSignal::new(ConsoleStatus::Connecting);
    let desktop = RwSignal::new(String::new());
    let view_only = RwSignal::new(false);
    let scaling = RwSignal::new(Scaling::Fit);
    let paste = RwSignal::new(String::new());
    let screen = NodeRef::<Div>::new();
    #[cfg(feature = "hydrate")]
    let client = crate::web::console::ConsoleClient::new(
        source, status, desktop, view_only, screen, embedded,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (&source, embedded);
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |started: Option<bool>| {
            if started != Some(true) && screen.get().is_some() {
                client.connect();
                return true;
            }
            started.unwrap_or(false)
        });
        Effect::new(move |_| client.set_view_only(view_only.get()));
        Effect::new(move |_| client.set_scaling(scaling.get()));
        on_cleanup(move || client.close());
    }
    let act = move |_action: &str| {
        #[cfg(feature = "hydrate")]
        client.action(_action, &paste.get_untracked());
    };
    view! {
        <div class="console" class:embedded=embedded>
            <div class="console-toolbar" role="toolbar">
                <button class="btn" data-testid="ctrl-alt-del" on:click=move |_| act("ctrl-alt-del")>"Ctrl+Alt+Del"</button>
                <select aria-label="Send keys" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    if !value.is_empty() { act(&value); }
                }>
                    <option value="">"Send keys…"</option>
                    <option value="ctrl-alt-f1">"Ctrl+Alt+F1"</option>
                    <option value="ctrl-alt-f2">"Ctrl+Alt+F2"</option>
                    <option value="alt-tab">"Alt+Tab"</option>
                    <option value="super">"Windows key"</option>
                    <option value="escape">"Escape"</option>
                </select>
                <input
                    aria-label="Text to type"
                    placeholder="Text to type into the VM"
                    data-testid="paste-text"
                    prop:value=move || paste.get()
                    on:input=move |ev| paste.set(event_target_value(&ev))
                />
                <button class="btn" data-testid="type-text" on:click=move |_| act("type")>"Type it"</button>
                <select aria-label="Scaling" on:change=move |ev| scaling.set(match event_target_value(&ev).as_str() {
                    "remote" => Scaling::Remote,
                    "native" => Scaling::Native,
                    _ => Scaling::Fit,
                })>
                    <option value="fit">"Scale to fit"</option>
                    <option value="remote">"Remote resize"</option>
                    <option value="native">"1:1"</option>
                </select>
                <label class="check"><input type="checkbox" prop:checked=move || view_only.get() on:change=move |ev| view_only.set(event_target_checked(&ev)) />"View only"</label>
                <button class="btn" on:click=move |_| act("fullscreen")>"Full screen"</button>
                <button class="btn" data-testid="reconnect" on:click=move |_| act("reconnect")>"Reconnect"</button>
            </div>
            <p class="console-status" data-testid="console-status" data-state=move || status.get().state()>
                {move || status.get().describe(&desktop.get())}
            </p>
            <div class="console-screen" node_ref=screen data-testid="console-screen"></div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let delays: Vec<u32> = (1..=7).map(backoff_secs).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff_secs(100), 30);
    }

    #[test]
    fn states_are_named_for_the_host_page() {
        assert_eq!(ConsoleStatus::Connected.state(), "connected");
        assert_eq!(ConsoleStatus::Failed("x".into()).state(), "error");
        let r = ConsoleStatus::Reconnecting {
            attempt: 2,
            in_secs: 2,
            reason: "Connection lost".into(),
        };
        assert_eq!(
            r.describe(""),
            "Connection lost — reconnecting in 2 s (attempt 2)"
        );
        assert_eq!(
            ConsoleStatus::Connected.describe("dns1"),
            "Connected to dns1"
        );
    }
}
