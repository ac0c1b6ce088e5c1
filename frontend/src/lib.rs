//! The browser entry point: hydrates the server-rendered application.

use wasm_bindgen::prelude::*;

/// Called by the script Leptos puts in the page once the WASM module is loaded.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for the end-to-end tests: clicks before hydration would be lost.
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(
            &window,
            &JsValue::from_str("__cecyber_hydrated"),
            &JsValue::TRUE,
        );
    }
}
