//! Who is calling: the middleware that authenticates every `/api2/json` request the way
//! pve-manager's `auth_handler` does (ticket cookie or API token, CSRF token on writes),
//! against the world's users and tokens ([`AuthDb`](crate::sim::world::access::AuthDb)).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::rel_path;
use super::reply::ApiError;
use crate::sim::world::SimState;

/// An authenticated caller, put into the request's extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    /// `user@realm`, or `user@realm!tokenid` for an API token (PVE's "auth ID").
    pub authid: String,
    /// True when authenticated by an API token (no CSRF check).
    pub via_token: bool,
}

/// A caller of the few endpoints that need no authentication (`/access/ticket`).
#[derive(Clone, Debug)]
pub(crate) struct Anonymous {
    /// An `Authorization: PVEAPIToken=…` header was sent (and no ticket).
    pub api_token: bool,
}

/// Middleware: authenticates the request (ticket cookie, else API token), checks the CSRF token
/// of ticket-authenticated writes, and stores a [`Principal`] (or [`Anonymous`] for the
/// endpoints PVE leaves open).
pub(crate) async fn authenticate(
    State(st): State<SimState>,
    mut req: Request,
    next: Next,
) -> Response {
    let rel = rel_path(req.uri().path()).to_owned();
    let method = req.method().clone();
    let headers = req.headers();
    let ticket = auth_value(headers, header::COOKIE, "PVEAuthCookie")
        .or_else(|| auth_value(headers, header::AUTHORIZATION, "PVEAuthCookie"));
    let api_token = if ticket.is_none() {
        auth_value(headers, header::AUTHORIZATION, "PVEAPIToken")
    } else {
        None
    };
    let open = (rel == "/access/ticket" && (method == Method::GET || method == Method::POST))
        || (rel == "/access/domains" && method == Method::GET);
    if open {
        req.extensions_mut().insert(Anonymous {
            api_token: api_token.is_some(),
        });
        return next.run(req).await;
    }
    let principal = match (api_token, ticket) {
        (Some(token), _) => st.auth().verify_token(&token).map(|authid| Principal {
            authid,
            via_token: true,
        }),
        (None, Some(ticket)) => st.auth().verify_ticket(&ticket).map(|authid| Principal {
            authid,
            via_token: false,
        }),
        (None, None) => return ApiError::unauthorized("No ticket").into_response(),
    };
    let Some(principal) = principal else {
        return ApiError::unauthorized("Authentication failed!").into_response();
    };
    if method != Method::GET && !principal.via_token {
        let csrf = headers
            .get("CSRFPreventionToken")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !st.auth().verify_csrf(&principal.authid, csrf) {
            return ApiError::unauthorized("Permission denied - invalid csrf token")
                .into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// pve-http-server's `extract_auth_value`: `key=value` (or `key value`) at the start of the
/// header or after white space, up to `;`, URI-unescaped.
fn auth_value(headers: &HeaderMap, name: header::HeaderName, key: &str) -> Option<String> {
    let text = headers.get(name)?.to_str().ok()?;
    let mut from = 0;
    while let Some(pos) = text[from..].find(key).map(|p| p + from) {
        let after = pos + key.len();
        let starts_ok = pos == 0 || text[..pos].ends_with(char::is_whitespace);
        if starts_ok && matches!(text[after..].chars().next(), Some('=' | ' ')) {
            let value = text[after + 1..].split(';').next().unwrap_or("");
            let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
            return (!value.is_empty()).then_some(value);
        }
        from = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_and_token_extraction() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; PVEAuthCookie=PVE%3Aroot%40pam%3A1::x; c=d"),
        );
        assert_eq!(
            auth_value(&h, header::COOKIE, "PVEAuthCookie").unwrap(),
            "PVE:root@pam:1::x"
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("PVEAPIToken=root@pam!cecyber=abc"),
        );
        assert_eq!(
            auth_value(&h, header::AUTHORIZATION, "PVEAPIToken").unwrap(),
            "root@pam!cecyber=abc"
        );
        h.insert(header::COOKIE, HeaderValue::from_static("XPVEAuthCookie=1"));
        assert_eq!(auth_value(&h, header::COOKIE, "PVEAuthCookie"), None);
    }
}
