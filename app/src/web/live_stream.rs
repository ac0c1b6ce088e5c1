//! Subscribes to `/api/live` with the browser's `EventSource`, which reconnects by itself and
//! sends `Last-Event-ID`, so a dropped connection resumes where it stopped.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{EventSource, MessageEvent};

use crate::{
    live::{LiveSnapshot, LiveStale, LiveTick},
    live_view::{LiveView, StreamStatus},
};

/// Opens the stream at `url` (see `LiveViewKind::url`) into `view`; `status` follows the
/// connection. The stream closes when the calling component is cleaned up, or for good when
/// the server says the session or wall link was revoked.
pub fn connect(url: &str, view: RwSignal<LiveView>, status: RwSignal<StreamStatus>) {
    let Ok(source) = EventSource::new(url) else {
        return;
    };
    listen(&source, "snapshot", move |data| {
        if let Ok(snapshot) = serde_json::from_str::<LiveSnapshot>(&data) {
            view.update(|v| v.apply_snapshot(snapshot));
        }
    });
    listen(&source, "tick", move |data| {
        if let Ok(tick) = serde_json::from_str::<LiveTick>(&data) {
            view.update(|v| v.apply_tick(tick));
        }
    });
    listen(&source, "stale", move |data| {
        if let Ok(stale) = serde_json::from_str::<LiveStale>(&data) {
            let now = (js_sys::Date::now() / 1000.0) as i64;
            view.update(|v| v.apply_stale(stale, now));
        }
    });
    let closer = source.clone();
    listen(&source, "revoked", move |_| {
        closer.close();
        status.set(StreamStatus::Revoked);
    });
    let on_open = Closure::<dyn FnMut()>::new(move || status.set(StreamStatus::Live));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let watched = source.clone();
    let on_error = Closure::<dyn FnMut()>::new(move || {
        // The browser retries a dropped connection by itself; a refusal (401, 403) closes
        // the source for good.
        if watched.ready_state() == EventSource::CLOSED {
            status.set(StreamStatus::Revoked);
        } else if status.get_untracked() != StreamStatus::Revoked {
            status.set(StreamStatus::Connecting);
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();

    let source = SendWrapper::new(source);
    on_cleanup(move || source.close());
}

fn listen(source: &EventSource, name: &str, mut handle: impl FnMut(String) + 'static) {
    let callback = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(data) = event.data().as_string() {
            handle(data);
        }
    });
    let _ = source.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
    // The listener lives as long as the EventSource, which is closed on cleanup.
    callback.forget();
}
