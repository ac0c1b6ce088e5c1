//! noVNC (`@novnc/novnc` 1.7, ES modules served from our origin, see `assets`) driven from Rust.
//!
//! The browser only ever talks RFB to our own origin; our relay holds every PVE secret and
//! offers the browser security type None, so no password is handled here.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
let RFB = null;
export async function import_novnc(src) {
  if (!RFB) { RFB = (await import(src)).default; }
}
export function rfb_connect(element, path, viewOnly, onEvent) {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const rfb = new RFB(element, scheme + location.host + path, { wsProtocols: ['binary'], shared: true });
  rfb.viewOnly = viewOnly;
  rfb.scaleViewport = true;
  rfb.background = '#000';
  for (const name of ['connect', 'disconnect', 'securityfailure', 'clipboard', 'desktopname', 'credentialsrequired']) {
    rfb.addEventListener(name, (e) => onEvent(name, JSON.stringify(e.detail ?? {})));
  }
  return rfb;
}
export function rfb_set(rfb, property, value) { rfb[property] = value; }
export function rfb_call(rfb, method) { rfb[method](); }
export function rfb_combo(rfb, keysyms) {
  for (const k of keysyms) rfb.sendKey(k, null, true);
  for (const k of [...keysyms].reverse()) rfb.sendKey(k, null, false);
}
export function rfb_type(rfb, text) {
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    const keysym = ch === '\n' ? 0xff0d : (cp < 0x100 ? cp : 0x01000000 + cp);
    rfb.sendKey(keysym, null);
  }
}
export function request_fullscreen(element) {
  if (element.requestFullscreen) element.requestFullscreen();
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn import_novnc(src: &str) -> Result<JsValue, JsValue>;
    /// Creates the RFB client on `element`, connecting to `path` on our origin.
    pub fn rfb_connect(
        element: &web_sys::Element,
        path: &str,
        view_only: bool,
        on_event: &Closure<dyn FnMut(String, String)>,
    ) -> JsValue;
    /// Sets a property of the RFB object (`viewOnly`, `scaleViewport`, `resizeSession`, ...).
    pub fn rfb_set(rfb: &JsValue, property: &str, value: &JsValue);
    /// Calls a method without arguments (`disconnect`, `sendCtrlAltDel`, `focus`).
    pub fn rfb_call(rfb: &JsValue, method: &str);
    /// Presses the keys in order and releases them in reverse (a key combination).
    pub fn rfb_combo(rfb: &JsValue, keysyms: Vec<u32>);
    /// Types `text` as key presses.
    pub fn rfb_type(rfb: &JsValue, text: &str);
    /// Full screen for `element`.
    pub fn request_fullscreen(element: &web_sys::Element);
}

/// Loads noVNC's module once.
pub async fn load_novnc() -> Result<JsValue, JsValue> {
    import_novnc(crate::assets::NOVNC_RFB_JS).await
}

/// X11 keysyms used by the key-combination menu.
pub mod keysym {
    /// Left Control.
    pub const CTRL: u32 = 0xffe3;
    /// Left Alt.
    pub const ALT: u32 = 0xffe9;
    /// Delete.
    pub const DELETE: u32 = 0xffff;
    /// Backspace.
    pub const BACKSPACE: u32 = 0xff08;
    /// Tab.
    pub const TAB: u32 = 0xff09;
    /// Escape.
    pub const ESCAPE: u32 = 0xff1b;
    /// F1; F2..F12 follow.
    pub const F1: u32 = 0xffbe;
    /// Left Super ("Windows" key).
    pub const SUPER: u32 = 0xffeb;
}
