//! Origins — the one place that says where a request comes from (the client's address, and
//! whose forwarding headers to believe) and whether that is this server. Parsing and
//! normalisation (case, default ports, user info) are the `url` crate's.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};
use ipnet::IpNet;
use serde::Deserialize;
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

/// The reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: IP
/// addresses and CIDR ranges (`trusted_proxies`). Empty by default: nobody's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`127.0.0.1`, `::1`) and ranges (`10.0.0.0/8`); the error names the
    /// entry that is neither.
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "trusted_proxies: {entry:?} is neither an IP address nor a CIDR range \
                             (like 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of them (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, String> {
        Self::parse(entries)
    }
}

/// How a request reached Cecyber's side of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP, as far as Cecyber can tell.
    Http,
    /// Cecyber's own TLS (`[tls]`).
    Tls,
    /// Plain HTTP from a trusted proxy that says `X-Forwarded-Proto: https`.
    ProxiedHttps,
}

/// Where a request comes from: put into every request, once, by the server (`serve.rs`).
/// Everything that records or logs a client reads it, never the forwarding headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The client: the peer, or, when the peer is a trusted proxy, the right-most address of
    /// `X-Forwarded-For` that is not a trusted proxy itself.
    pub ip: IpAddr,
    /// How the request came.
    pub transport: Transport,
}

impl ClientAddr {
    /// Resolves the client of a request from `peer` on a connection that is (`tls`) or is not
    /// TLS: the forwarding headers count only when `peer` is a trusted proxy.
    pub fn resolve(
        peer: SocketAddr,
        tls: bool,
        headers: &HeaderMap,
        trusted: &TrustedProxies,
    ) -> Self {
        let peer_ip = peer.ip().to_canonical();
        let from_proxy = trusted.contains(peer_ip);
        let ip = if from_proxy {
            forwarded_client(headers, trusted).unwrap_or(peer_ip)
        } else {
            peer_ip
        };
        let transport = if tls {
            Transport::Tls
        } else if from_proxy && forwarded_https(headers) {
            Transport::ProxiedHttps
        } else {
            Transport::Http
        };
        Self {
            peer,
            ip,
            transport,
        }
    }

    /// Whether the client's request travelled over HTTPS (to Cecyber or to a trusted proxy).
    pub fn is_https(&self) -> bool {
        self.transport != Transport::Http
    }
}

impl std::fmt::Display for ClientAddr {
    /// The peer (`127.0.0.1:50312`), or the client and the proxy it came through
    /// (`203.0.113.7 via 10.0.0.2:40112`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ip == self.peer.ip().to_canonical() {
            write!(f, "{}", self.peer)
        } else {
            write!(f, "{} via {}", self.ip, self.peer)
        }
    }
}

/// The entries of `X-Forwarded-For` (every such header, in order), right-most first: each
/// proxy appends the address it was connected from.
fn forwarded_for(headers: &HeaderMap) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or_default())
        .flat_map(|v| v.split(','))
        .collect();
    entries.into_iter().rev().map(|entry| {
        let entry = entry.trim();
        entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
            .ok()
            .map(|ip| ip.to_canonical())
    })
}

/// The right-most `X-Forwarded-For` address that is not a trusted proxy. Left of it, anything
/// may have been written by the client. When every address is a trusted proxy (or the next one
/// is not an address at all), the left-most trusted one seen.
fn forwarded_client(headers: &HeaderMap, trusted: &TrustedProxies) -> Option<IpAddr> {
    let mut last_proxy = None;
    for entry in forwarded_for(headers) {
        match entry {
            Some(ip) if trusted.contains(ip) => last_proxy = Some(ip),
            Some(ip) => return Some(ip),
            None => break,
        }
    }
    last_proxy
}

/// Whether `X-Forwarded-Proto` says `https`: its right-most value, the one the proxy in front
/// of us set.
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The client of a request as recorded in audits and logs ([`ClientAddr`]'s form), or the bare
/// peer when the server did not resolve one; `None` when neither is known.
pub fn remote_addr(extensions: &Extensions) -> Option<String> {
    match extensions.get::<ClientAddr>() {
        Some(client) => Some(client.to_string()),
        None => extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.to_string()),
    }
}

/// Whether the request came over HTTPS ([`ClientAddr::is_https`]); `false` when unknown.
pub fn is_https(extensions: &Extensions) -> bool {
    extensions
        .get::<ClientAddr>()
        .is_some_and(ClientAddr::is_https)
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

    fn forwarded(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let trusted = TrustedProxies::parse(["127.0.0.1", "10.1.2.3/8", " ::1 "]).unwrap();
        assert!(
            trusted.contains("10.200.0.1".parse().unwrap()),
            "host bits ignored"
        );
        assert!(trusted.contains("::1".parse().unwrap()));
        assert!(
            trusted.contains("::ffff:127.0.0.1".parse().unwrap()),
            "IPv4 mapped into IPv6"
        );
        assert!(!trusted.contains("127.0.0.2".parse().unwrap()));
        assert!(!trusted.contains("11.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::default().is_empty());
        for bad in ["10.0.0.0/33", "localhost", "", "10.0.0.1-10.0.0.9"] {
            let err = TrustedProxies::parse([bad]).unwrap_err();
            assert!(
                err.contains("trusted_proxies") && err.contains(&format!("{bad:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let spoofed = forwarded(&[
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let direct = ClientAddr::resolve(peer("203.0.113.5:4000"), false, &spoofed, &trusted);
        assert_eq!(direct.ip, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(direct.transport, Transport::Http);
        assert_eq!(direct.to_string(), "203.0.113.5:4000");

        let proxied = ClientAddr::resolve(peer("10.0.0.2:4000"), false, &spoofed, &trusted);
        assert_eq!(proxied.ip, "198.51.100.9".parse::<IpAddr>().unwrap());
        assert_eq!(proxied.transport, Transport::ProxiedHttps);
        assert_eq!(proxied.to_string(), "198.51.100.9 via 10.0.0.2:4000");

        let tls = ClientAddr::resolve(peer("203.0.113.5:4000"), true, &spoofed, &trusted);
        assert_eq!((tls.transport, tls.is_https()), (Transport::Tls, true));
        let none = ClientAddr::resolve(peer("10.0.0.2:4000"), false, &HeaderMap::new(), &trusted);
        assert_eq!(none.ip, "10.0.0.2".parse::<IpAddr>().unwrap(), "no header");
        assert!(!none.is_https());
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "::1"]).unwrap();
        let client = |headers: &HeaderMap| {
            ClientAddr::resolve(peer("[::1]:4000"), false, headers, &trusted)
                .ip
                .to_string()
        };
        // The client wrote 1.1.1.1 itself; the outer proxy 10.0.0.3 saw 198.51.100.9.
        let chain = forwarded(&[("x-forwarded-for", "1.1.1.1, 198.51.100.9, 10.0.0.3")]);
        assert_eq!(client(&chain), "198.51.100.9");
        let split = forwarded(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.9:5555 , 10.0.0.3"),
        ]);
        assert_eq!(client(&split), "198.51.100.9", "several headers, a port");
        let proxies_only = forwarded(&[("x-forwarded-for", "10.0.0.9, 10.0.0.3")]);
        assert_eq!(client(&proxies_only), "10.0.0.9");
        let garbage = forwarded(&[("x-forwarded-for", "1.1.1.1, evil, 10.0.0.3")]);
        assert_eq!(
            client(&garbage),
            "10.0.0.3",
            "nothing left of garbage is believed"
        );
        let v6 = forwarded(&[("x-forwarded-for", "2001:db8::7")]);
        assert_eq!(client(&v6), "2001:db8::7");
        let proto = forwarded(&[("x-forwarded-proto", "http, https")]);
        assert!(
            ClientAddr::resolve(peer("[::1]:1"), false, &proto, &trusted).is_https(),
            "the nearest proxy's value"
        );
    }

    #[test]
    fn remote_addr_prefers_the_resolved_client() {
        let mut extensions = Extensions::new();
        assert_eq!(remote_addr(&extensions), None);
        extensions.insert(ConnectInfo(peer("10.0.0.2:4000")));
        assert_eq!(remote_addr(&extensions).as_deref(), Some("10.0.0.2:4000"));
        assert!(!is_https(&extensions), "unknown is not HTTPS");
        extensions.insert(ClientAddr {
            peer: peer("10.0.0.2:4000"),
            ip: "198.51.100.9".parse().unwrap(),
            transport: Transport::ProxiedHttps,
        });
        assert_eq!(
            remote_addr(&extensions).as_deref(),
            Some("198.51.100.9 via 10.0.0.2:4000")
        );
        assert!(is_https(&extensions));
    }
}
