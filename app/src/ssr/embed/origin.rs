//! Origins: the partner's as an admin typed it, and where a request comes from.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};

/// `scheme://host[:port]` of an origin or URL as the admin typed it, lower-cased, without path
/// or trailing slash; only `http` and `https`.
pub fn normalize_origin(input: &str) -> Option<String> {
    let input = input.trim();
    let (scheme, rest) = input.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    let valid = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| format!("{scheme}://{authority}"))
}

/// Whether a request with these `Origin` (or `Referer`-derived) and `Host` values may use a
/// link for `link_origin`: the partner's own pages, or our own page inside the partner's
/// iframe (its requests carry our origin). No origin at all (not a browser) is allowed: the
/// token is the credential; framing is limited by `frame-ancestors`.
pub fn origin_allowed(link_origin: &str, request_origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = request_origin else {
        return true;
    };
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    if origin == link_origin {
        return true;
    }
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
}

/// The origin a request comes from: its `Origin` header, else the origin of its `Referer`.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match text(header::ORIGIN) {
        Some(origin) => Some(origin.to_owned()),
        None => text(header::REFERER).and_then(normalize_origin),
    }
}

/// The peer address of a request (when the server records it) and the proxies' view of it.
pub fn remote_addr(headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.to_string());
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(128).collect::<String>());
    match (peer, forwarded) {
        (Some(p), Some(f)) => Some(format!("{p} (for {f})")),
        (p, f) => p.or(f),
    }
}
