//! Origins — the one place that says where a request comes from and whether that is this
//! server. Parsing and normalisation (case, default ports, user info) are the `url` crate's.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};
use url::{Host, Url};

use crate::error::{AppError, AppResult};

/// `scheme://host[:port]` of an origin or URL as typed (a partner's, an `Origin` header):
/// lower-cased, default port dropped, without path; only `http` and `https`, no user info, and
/// a host that is an IP address or a plain DNS name — no `*`, `;` or `,`, which would mean
/// something else in the `frame-ancestors` header the origin ends up in.
pub fn normalize_origin(input: &str) -> Option<String> {
    let url = Url::parse(input.trim()).ok()?;
    let plain_host = match url.host()? {
        Host::Ipv4(_) | Host::Ipv6(_) => true,
        Host::Domain(name) => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        }
    };
    let plain = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && plain_host;
    plain.then(|| url.origin().ascii_serialization())
}

/// Whether `origin` (an `Origin` header's value) is this server: its `public` origin when one
/// is configured (behind a proxy that rewrites `Host`), else the request's `Host` — same
/// scheme (when public), host and port, once both are normalised.
pub fn is_own_origin(origin: &str, headers: &HeaderMap, public: Option<&str>) -> bool {
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    if let Some(public) = public {
        return normalize_origin(public).is_some_and(|public| public == origin);
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = origin
        .split_once("://")
        .map_or("http", |(scheme, _)| scheme);
    normalize_origin(&format!("{scheme}://{host}")).is_some_and(|own| own == origin)
}

/// Refuses a request that names an `Origin` other than this server (see [`is_own_origin`]; a
/// request without one is not from another site's page: browsers send it on every
/// cross-origin request).
pub fn same_origin(headers: &HeaderMap, public: Option<&str>) -> AppResult<()> {
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(origin)) if is_own_origin(origin, headers, public) => Ok(()),
        Some(origin) => {
            tracing::warn!(
                origin = origin.unwrap_or("(not text)"),
                "cross-origin request refused"
            );
            Err(AppError::Forbidden(
                "this request must come from Cecyber's own pages.".into(),
            ))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn host(h: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(h));
        headers
    }

    #[test]
    fn origins_are_normalised() {
        let n = |s| normalize_origin(s);
        assert_eq!(
            n("HTTPS://Portal.Example:8443/path?q").as_deref(),
            Some("https://portal.example:8443")
        );
        assert_eq!(
            n("http://localhost:3001/").as_deref(),
            Some("http://localhost:3001")
        );
        assert_eq!(
            n("https://a:443").as_deref(),
            Some("https://a"),
            "default port"
        );
        assert_eq!(n("http://a:80/x").as_deref(), Some("http://a"));
        assert_eq!(n("http://[::1]:3000").as_deref(), Some("http://[::1]:3000"));
        assert_eq!(n("javascript://x"), None);
        assert_eq!(n("https://"), None);
        assert_eq!(n("https://user@evil"), None);
        assert_eq!(n("https://user:pw@evil"), None);
        assert_eq!(n("portal.example"), None);
        assert_eq!(n("null"), None);
        for wild in [
            "https://*",
            "https://*.example.com",
            "https://a;b",
            "https://a,b",
        ] {
            assert_eq!(n(wild), None, "{wild}: would widen frame-ancestors");
        }
        assert_eq!(
            n("https://Bücher.example").as_deref(),
            Some("https://xn--bcher-kva.example")
        );
    }

    #[test]
    fn own_origin_follows_the_host_header() {
        assert!(is_own_origin(
            "http://panel:3000",
            &host("panel:3000"),
            None
        ));
        assert!(
            is_own_origin("http://PANEL:3000", &host("panel:3000"), None),
            "case"
        );
        assert!(
            is_own_origin("https://panel:443", &host("panel"), None),
            "default port"
        );
        assert!(is_own_origin("https://panel", &host("panel:443"), None));
        assert!(!is_own_origin("https://panel:8443", &host("panel"), None));
        assert!(!is_own_origin(
            "http://evil.example",
            &host("panel:3000"),
            None
        ));
        assert!(!is_own_origin("null", &host("panel:3000"), None));
        assert!(
            !is_own_origin("http://panel:3000", &HeaderMap::new(), None),
            "no Host"
        );
    }

    #[test]
    fn a_public_url_is_the_own_origin_behind_a_proxy() {
        // nginx's default `proxy_set_header Host $proxy_host` hands on its upstream's name.
        let proxied = host("127.0.0.1:3000");
        let public = Some("https://panel.example");
        assert!(is_own_origin("https://panel.example", &proxied, public));
        assert!(is_own_origin("https://PANEL.example:443", &proxied, public));
        assert!(
            !is_own_origin("http://panel.example", &proxied, public),
            "scheme"
        );
        assert!(
            !is_own_origin("http://127.0.0.1:3000", &proxied, public),
            "not the Host then"
        );
        assert!(!is_own_origin("https://evil.example", &proxied, public));
    }

    #[test]
    fn cross_origin_requests_are_refused() {
        let mut headers = host("panel:3000");
        assert_eq!(same_origin(&headers, None), Ok(()), "no Origin");
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://panel:3000"),
        );
        assert_eq!(same_origin(&headers, None), Ok(()));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://evil:3000"));
        assert!(matches!(
            same_origin(&headers, None),
            Err(AppError::Forbidden(_))
        ));
    }
}
