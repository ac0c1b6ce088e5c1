//! Request checks that apply to every route: login required for pages (not for the embedded
//! console), same-origin writes, and security headers (framing allowed only for the embedded
//! console, by its link's origin).

use std::sync::Arc;

use app::{
    access::{
        self, Session,
        origin::{self, ClientAddr, Transport},
    },
    embed::ssr::{self as embed, EmbedKey},
    error::AppError,
    state::AppState,
    wall::ssr as wall,
};
use axum::{
    Extension,
    body::{Body, HttpBody},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

/// Paths served to anyone: static files (the login page's too) and the health checks.
pub fn is_public(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/vendor/")
        || matches!(
            path,
            "/favicon.svg" | "/favicon.ico" | "/healthz" | "/readyz" | "/robots.txt"
        )
}

/// Pages need a live session (else → `/login`); the login page is skipped when logged in.
/// The page's `Session` is put into the request for the server-side render. Server functions
/// (`/api/…`) are not redirected: each checks the session and role itself.
pub async fn session_gate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if is_public(&path) || path.starts_with("/api/") {
        return next.run(request).await;
    }
    if path == EMBED_PAGE {
        // The embedded console needs no login (third-party cookies are often blocked): its
        // embed token is checked by the page's server function and the console WebSocket.
        request.extensions_mut().insert(Session {
            user: None,
            demo: state.demo,
        });
        return next.run(request).await;
    }
    if path == WALL_PAGE {
        return wall_gate(&state, request, next).await;
    }
    let user = match access::session_user(&state.db, request.headers()).await {
        Ok(user) => user,
        Err(e) => return (status_of(&e), e.to_string()).into_response(),
    };
    match (path.as_str(), user.is_some()) {
        ("/login", true) => return Redirect::to("/").into_response(),
        ("/login", false) => {}
        (_, false) => return Redirect::to("/login").into_response(),
        _ => {}
    }
    request.extensions_mut().insert(Session {
        user,
        demo: state.demo,
    });
    next.run(request).await
}

/// The wall display's page: no login, a wall token instead.
const WALL_PAGE: &str = "/wall";

/// A query parameter's raw value (tokens are URL-safe, so no decoding is needed).
pub fn query_param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Lets `/wall` through with a live wall token, refuses it otherwise.
async fn wall_gate(state: &AppState, mut request: Request, next: Next) -> Response {
    let token = query_param(&request, "token")
        .unwrap_or_default()
        .to_owned();
    match wall::is_valid(&state.db, &token).await {
        Ok(true) => {
            request.extensions_mut().insert(Session {
                user: None,
                demo: state.demo,
            });
            next.run(request).await
        }
        Ok(false) => {
            tracing::warn!("wall page refused: invalid or revoked token");
            (StatusCode::FORBIDDEN, axum::response::Html(WALL_REFUSED)).into_response()
        }
        Err(e) => (status_of(&e), e.to_string()).into_response(),
    }
}

const WALL_REFUSED: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cecyber wall</title></head>\
<body style=\"background:#0d1117;color:#e6edf3;font-family:sans-serif;padding:10vh 10vw\">\
<h1>This wall link is invalid or has been revoked.</h1><p>Ask an administrator for a new link.</p></body></html>";

/// Refuses cross-origin writes: a non-GET request whose `Origin` is not this server.
/// (The session cookie is `SameSite=Strict` as well; this is the second lock.)
pub async fn same_origin_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let writes = request.method() != Method::GET && request.method() != Method::HEAD;
    let public = state.public_origin.as_deref();
    if writes && let Err(e) = origin::same_origin(request.headers(), public) {
        return (status_of(&e), e.to_string()).into_response();
    }
    next.run(request).await
}

/// Server functions answer every error with 500 (`server_fn`'s choice); this gives the answer
/// the status its [`AppError`] carries, so that proxies, monitoring and API clients tell a
/// refusal (401, 403, 404, …) from a failure. The browser's server-function client decodes any
/// 4xx or 5xx answer alike, so it shows the same message as before.
pub async fn server_fn_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let too_long = response
        .body()
        .size_hint()
        .upper()
        .is_none_or(|n| n > ERROR_BODY_LIMIT as u64);
    if too_long {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error body unreadable").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(&error);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Longest server-function error body read back (they are short JSON messages).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The HTTP status of an error, as every transport answers it.
pub fn status_of(error: &AppError) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Headers that keep the panel out of frames and stop content sniffing. The embedded console
/// page is the one exception: the partner origin of its (signed) embed token may frame it.
/// Responses that reach the browser over HTTPS — Cecyber's own TLS, or a `public_url` with
/// `https://` (a TLS proxy in front) — also carry HSTS; plain HTTP never does.
pub async fn security_headers(
    State(state): State<AppState>,
    Extension(key): Extension<Arc<EmbedKey>>,
    request: Request,
    next: Next,
) -> Response {
    let embed_ancestor = if request.uri().path() == EMBED_PAGE {
        Some(embed_frame_ancestor(&state, &key, request.uri().query()).await)
    } else {
        None
    };
    let over_tls = request
        .extensions()
        .get::<ClientAddr>()
        .is_some_and(|client| client.transport == Transport::Tls);
    let behind_tls_proxy = state
        .public_origin
        .as_deref()
        .is_some_and(|o| o.starts_with("https://"));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if over_tls || behind_tls_proxy {
        // No includeSubDomains: other hosts of the domain may not be ours to force onto HTTPS.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    match embed_ancestor {
        Some(ancestor) => {
            // `frame-ancestors` replaces X-Frame-Options, which cannot name an origin.
            let csp = format!("frame-ancestors {ancestor}");
            if let Ok(value) = HeaderValue::from_str(&csp) {
                headers.insert(header::CONTENT_SECURITY_POLICY, value);
            }
        }
        None => {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// HSTS: remember for a year to use HTTPS only.
const HSTS: &str = "max-age=31536000";

/// The page partner portals frame.
const EMBED_PAGE: &str = embed::PAGE_PATH;

/// The origin allowed to frame `/embed/console?token=…`: the one the token names if its
/// signature is right (even when expired or revoked, so the frame can say so), else `'none'`.
async fn embed_frame_ancestor(state: &AppState, key: &EmbedKey, query: Option<&str>) -> String {
    let token = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    let none = "'none'".to_owned();
    let Some(token) = token else {
        return none;
    };
    let Ok(key) = key.get(&state.db).await else {
        return none;
    };
    embed::verify_signature(&key, token)
        .and_then(|claims| origin::normalize_origin(&claims.origin))
        .unwrap_or(none)
}
