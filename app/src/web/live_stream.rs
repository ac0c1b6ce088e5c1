//! Subscribes to `/api/live` with the browser's `EventSource`, which reconnects by itself after
//! a dropped connection and sends `Last-Event-ID`, so the stream resumes where it stopped. When
//! the browser gives up (an HTTP error, e.g. a proxy's 502 while the server restarts), a new
//! source is opened after a backoff, forever — a wall display must never need a hand. Only the
//! server's `revoked` event ends the stream for good.

use std::{cell::RefCell, rc::Rc, time::Duration};

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{EventSource, MessageEvent};

use crate::{
    live::view::{LiveView, StreamStatus},
    live::{LiveSnapshot, LiveStale, LiveTick},
};

/// First and longest wait before opening a new source after the browser gave up.
const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// The stream of one page: the current source, and whether to keep it going.
struct Stream {
    url: String,
    view: RwSignal<LiveView>,
    status: RwSignal<StreamStatus>,
    source: RefCell<Option<EventSource>>,
    retry: RefCell<Duration>,
    stopped: RefCell<bool>,
}

/// Opens the stream at `url` (see `LiveViewKind::url`) into `view`; `status` follows the
/// connection. The stream closes when the calling component is cleaned up, or for good when
/// the server says the session or wall link was revoked.
pub fn connect(url: &str, view: RwSignal<LiveView>, status: RwSignal<StreamStatus>) {
    let stream = Rc::new(Stream {
        url: url.to_owned(),
        view,
        status,
        source: RefCell::new(None),
        retry: RefCell::new(FIRST_RETRY),
        stopped: RefCell::new(false),
    });
    open(&stream);
    let stream = SendWrapper::new(stream);
    on_cleanup(move || stop(&stream));
}

fn stop(stream: &Stream) {
    *stream.stopped.borrow_mut() = true;
    if let Some(source) = stream.source.borrow_mut().take() {
        source.close();
    }
}

fn open(stream: &Rc<Stream>) {
    if *stream.stopped.borrow() {
        return;
    }
    let Ok(source) = EventSource::new(&stream.url) else {
        return;
    };
    let (view, status) = (stream.view, stream.status);
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
    let revoked = Rc::clone(stream);
    listen(&source, "revoked", move |_| {
        stop(&revoked);
        status.set(StreamStatus::Revoked);
    });
    let opened = Rc::clone(stream);
    let on_open = Closure::<dyn FnMut()>::new(move || {
        *opened.retry.borrow_mut() = FIRST_RETRY;
        status.set(StreamStatus::Live);
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let failed = Rc::clone(stream);
    let on_error = Closure::<dyn FnMut()>::new(move || {
        if *failed.stopped.borrow() {
            return;
        }
        status.set(StreamStatus::Connecting);
        let gave_up = failed
            .source
            .borrow()
            .as_ref()
            .is_some_and(|s| s.ready_state() == EventSource::CLOSED);
        if gave_up {
            reopen_later(&failed);
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    if let Some(old) = stream.source.borrow_mut().replace(source) {
        old.close();
    }
}

/// Opens a new source after the current backoff, doubling it for next time.
fn reopen_later(stream: &Rc<Stream>) {
    let wait = {
        let mut retry = stream.retry.borrow_mut();
        let wait = *retry;
        *retry = (wait * 2).min(LONGEST_RETRY);
        wait
    };
    let again = SendWrapper::new(Rc::clone(stream));
    set_timeout(move || open(&again), wait);
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
