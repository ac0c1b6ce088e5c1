//! The VM console: noVNC on our own origin, with its controls and automatic reconnection.
//! Used full page and, for partner portals, embedded.

use leptos::{html::Div, prelude::*};

use crate::console::{ConsoleStatus, Scaling, TicketSource};

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
