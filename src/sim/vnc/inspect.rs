//! `/_sim/console/...`: what a VM's console shows, for tests outside the process (the
//! end-to-end tests check that typed text reached the VM). Not part of the PVE API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::sim::world::SimState;

/// `GET /_sim/console/{vmid}/text`: the screen's text rows (404 while the VM is not running).
pub(crate) async fn screen_text(State(st): State<SimState>, Path(vmid): Path<u32>) -> Response {
    match st.console_text(vmid) {
        Some(rows) => Json(rows).into_response(),
        None => (StatusCode::NOT_FOUND, "no running VM with that id").into_response(),
    }
}

/// `GET /_sim/console/sessions`: how many console sessions are open.
pub(crate) async fn sessions(State(st): State<SimState>) -> Response {
    Json(st.console_sessions()).into_response()
}

/// `POST /_sim/console/drop`: ends every console session, like a network drop.
pub(crate) async fn drop_all(State(st): State<SimState>) -> Response {
    st.console_disconnect_all();
    StatusCode::NO_CONTENT.into_response()
}
