//! Request checks that apply to every route: login required for pages (not for the embedded
//! console), same-origin writes, and security headers (framing allowed only for the embedded
//! console, by its link's origin).

use app::{
    model::Session,
    ssr::{embed, sessions, state::AppState, wall},
};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

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
    let user = match sessions::token_from_headers(request.headers()) {
        Some(token) => match sessions::lookup(&state.db, &token).await {
            Ok(user) => user,
            Err(_) => {
                return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
            }
        },
        None => None,
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
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

const WALL_REFUSED: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cecyber wall</title></head>\
<body style=\"background:#0d1117;color:#e6edf3;font-family:sans-serif;padding:10vh 10vw\">\
<h1>This wall link is invalid or has been revoked.</h1><p>Ask an administrator for a new link.</p></body></html>";

/// Refuses cross-origin writes: a non-GET request whose `Origin` is not this host.
/// (The session cookie is `SameSite=Strict` as well; this is the second lock.)
pub async fn same_origin_writes(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let origin_host = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(|o| o.split_once("://").map_or(o, |(_, rest)| rest).to_owned());
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if let Some(origin_host) = origin_host
            && Some(origin_host.as_str()) != host
        {
            tracing::warn!(origin = %origin_host, "cross-origin write refused");
            return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
        }
    }
    next.run(request).await
}

/// Headers that keep the panel out of frames and stop content sniffing. The embedded console
/// page is the one exception: the partner origin of its (signed) embed token may frame it.
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let embed_ancestor = if request.uri().path() == EMBED_PAGE {
        Some(embed_frame_ancestor(&state, request.uri().query()).await)
    } else {
        None
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
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

/// The page partner portals frame.
const EMBED_PAGE: &str = embed::PAGE_PATH;

/// The origin allowed to frame `/embed/console?token=…`: the one the token names if its
/// signature is right (even when expired or revoked, so the frame can say so), else `'none'`.
async fn embed_frame_ancestor(state: &AppState, query: Option<&str>) -> String {
    let token = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    let none = "'none'".to_owned();
    let Some(token) = token else {
        return none;
    };
    let Ok(key) = state.console.embed_key(&state.db).await else {
        return none;
    };
    embed::verify_signature(&key, token)
        .and_then(|claims| embed::normalize_origin(&claims.origin))
        .unwrap_or(none)
}
