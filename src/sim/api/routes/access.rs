//! `/access`: ticket login and renewal (pve-access-control `create_ticket`).

use axum::extract::{Extension, State};
use axum::routing::get;
use axum::{Router, response::Response};
use serde_json::json;

use crate::sim::api::auth::Anonymous;
use crate::sim::api::params::{Params, Spec};
use crate::sim::api::reply::{ApiError, ApiResult, ok};
use crate::sim::world::SimState;

const TICKET_PARAMS: &[Spec] = &[
    Spec::boolean("new-format").optional(),
    Spec::string("otp").optional(),
    Spec::string("password"),
    Spec::string("path").max_len(64).optional(),
    Spec::string("privs").max_len(64).optional(),
    Spec::string("realm").max_len(32).optional(),
    Spec::string("tfa-challenge").optional(),
    Spec::string("username").max_len(64),
];

pub(super) fn routes() -> Router<SimState> {
    Router::new().route("/access/ticket", get(ticket_dummy).post(create_ticket))
}

/// `GET /access/ticket`: "Dummy. Useful for formatters which want to provide a login page."
async fn ticket_dummy() -> ApiResult {
    ok(serde_json::Value::Null)
}

/// `POST /access/ticket`: password (or a valid ticket, to renew) → ticket, CSRF token, caps.
async fn create_ticket(
    State(st): State<SimState>,
    Extension(caller): Extension<Anonymous>,
    params: Params,
) -> Result<Response, ApiError> {
    if caller.api_token {
        return Err(ApiError::forbidden_because(
            "URI '/access/ticket' not available with API token, need proper ticket.\n",
        ));
    }
    params.validate(TICKET_PARAMS)?;
    let mut username = params.get("username").unwrap_or_default().to_owned();
    if let Some(realm) = params.get("realm") {
        username = format!("{username}@{realm}");
    }
    let password = params.get("password").unwrap_or_default();
    let auth = st.auth();
    let by_ticket = auth
        .verify_ticket(password)
        .is_some_and(|ticket_user| ticket_user == username || ticket_user == "root@pam");
    let valid =
        auth.user_enabled(&username) && (by_ticket || auth.check_password(&username, password));
    if !valid {
        tracing::info!(user = %username, "authentication failure");
        return Err(ApiError::new(401, "authentication failure\n"));
    }
    let mut data = json!({ "username": username, "cap": auth.cap(&username) });
    if let (Some(path), Some(privs)) = (params.get("path"), params.get("privs")) {
        // Verify mode: check the privileges instead of issuing a ticket.
        let mut wanted = privs
            .split([',', ';', ' '])
            .filter(|p| !p.is_empty())
            .peekable();
        if wanted.peek().is_none() || !wanted.all(|p| auth.has(&username, path, p)) {
            return Err(ApiError::new(401, "authentication failure\n"));
        }
    } else {
        let (ticket, csrf) = auth.issue(&username);
        data["ticket"] = json!(ticket);
        data["CSRFPreventionToken"] = json!(csrf);
    }
    if auth.has(&username, "/", "Sys.Audit") {
        data["clustername"] = json!(st.world().model.cluster_name);
    }
    ok(data)
}
