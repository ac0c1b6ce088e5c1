//! The HTTP transport: endpoints with failover, authentication headers, re-login after a 401,
//! retries of reads, and mapping of transport failures to [`Error`].

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::auth::{Auth, Session, TicketAuth};
use super::config::ClientConfig;
use super::endpoints::{self, Endpoint as ApiEndpoint};
use super::response::{decode_data, error_from_response};
use super::retry::RetryPolicy;
use super::tls;
use crate::error::{Error, Result};
use crate::types::Params;

/// A PVE API client over HTTPS. Cheap to clone; clones share connections and the login.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
    retry: RetryPolicy,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Vec<Endpoint>,
    /// Index of the endpoint that answered last; requests start there.
    preferred: AtomicUsize,
    auth: Auth,
    /// The TLS settings requests use (`None`: the built-in public roots), for the console relay.
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// One configured node.
struct Endpoint {
    /// `https://host:8006` (for messages and logs).
    base: String,
    /// `https://host:8006/api2/json`.
    api: String,
}

/// One API call, before authentication.
struct Request<'a> {
    method: Method,
    /// Path below `/api2/json`, already percent-encoded.
    path: String,
    query: &'a [(String, String)],
    /// Form body of POST and PUT (never logged: it may hold a password).
    form: &'a [(String, String)],
}

impl HttpClient {
    /// Checks the configuration and builds the client; nothing is sent yet (password logins
    /// happen on the first request).
    pub fn new(config: ClientConfig) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(Error::Config {
                message: "no Proxmox VE endpoint configured".into(),
            });
        }
        let endpoints = config
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, raw)| parse_endpoint(i, raw))
            .collect::<Result<Vec<_>>>()?;
        let auth = Auth::new(&config.credentials)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Credentials must never follow a redirect, and PVE does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            // PVE is managed directly; ignore HTTP(S)_PROXY from the environment.
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(20))
            .user_agent(concat!("cecyber-pve/", env!("CARGO_PKG_VERSION")));
        // `None` (system trust) keeps reqwest's built-in public roots.
        let tls = tls::client_config(&config.tls)?.map(Arc::new);
        if let Some(tls) = &tls {
            builder = builder.use_preconfigured_tls(rustls::ClientConfig::clone(tls));
        }
        let http = builder.build().map_err(|e| Error::Config {
            message: format!("HTTP client setup failed: {}", root_cause(&e)),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoints,
                preferred: AtomicUsize::new(0),
                auth,
                tls,
            }),
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy for reads (default: 3 tries, 250 ms / 500 ms apart).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Renews the login ticket when it is older than `every` (default 15 minutes, like PVE's
    /// UI). No effect with an API token. Affects all clones.
    pub fn with_ticket_renewal(self, every: Duration) -> Self {
        if let Auth::Ticket(t) = &self.inner.auth {
            t.set_renew_after(every);
        }
        self
    }

    /// Base URL of the endpoint requests currently go to first (the one that answered last).
    pub fn current_endpoint(&self) -> &str {
        let i = self.inner.preferred.load(Ordering::Relaxed) % self.inner.endpoints.len();
        &self.inner.endpoints[i].base
    }

    /// Sends the request `endpoint` describes, with `segments` filling its path placeholders
    /// and `params` checked against it, and decodes the answer's `data`. Only GETs are ever
    /// repeated.
    pub(crate) async fn request<T: DeserializeOwned>(
        &self,
        endpoint: &ApiEndpoint,
        segments: &[&str],
        params: &Params,
    ) -> Result<T> {
        let path = endpoint.url_path(segments)?;
        let encoded = endpoint.encode(params)?;
        let method = match endpoint.method {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            other => {
                return Err(Error::InvalidParameters {
                    message: format!("not sent: unknown method {other}"),
                    errors: Default::default(),
                });
            }
        };
        let has_body = method == Method::POST || method == Method::PUT;
        let none: &[(String, String)] = &[];
        let (query, form) = if has_body {
            (none, encoded.as_slice())
        } else {
            (encoded.as_slice(), none)
        };
        self.call(Request {
            method,
            path,
            query,
            form,
        })
        .await
    }

    /// The headers that authenticate a request right now: the ticket cookie (logging in or
    /// renewing first if needed) or the API token. Marked sensitive.
    pub(crate) async fn auth_headers(&self) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        match &self.inner.auth {
            Auth::Token(value) => {
                headers.insert(AUTHORIZATION, value.clone());
            }
            Auth::Ticket(t) => {
                let session = self.session(t).await?;
                headers.insert(COOKIE, session.cookie.clone());
            }
        }
        Ok(headers)
    }

    /// The TLS settings of this client (`None`: the built-in public roots).
    pub(crate) fn tls_config(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.inner.tls.clone()
    }

    async fn call<T: DeserializeOwned>(&self, req: Request<'_>) -> Result<T> {
        let mut attempt = 0;
        loop {
            match self.call_authenticated(&req).await {
                Ok(body) => return decode_data(&body, &format!("{} {}", req.method, req.path)),
                Err(e)
                    if req.method == Method::GET && self.retry.should_retry_read(&e, attempt) =>
                {
                    let wait = self.retry.delay(attempt);
                    tracing::debug!(path = %req.path, error = %e, ?wait, "retrying read");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends with the current credentials; after a 401 on a ticket, logs in again once and
    /// resends (a 401 means PVE did not act on the request, so this is safe for any method).
    async fn call_authenticated(&self, req: &Request<'_>) -> Result<Vec<u8>> {
        let Auth::Ticket(t) = &self.inner.auth else {
            return self.send(req, None).await;
        };
        let session = self.session(t).await?;
        match self.send(req, Some(&session)).await {
            Err(Error::Unauthorized { .. }) => {
                tracing::debug!(path = %req.path, "ticket refused, logging in again");
                t.invalidate(session.generation);
                let session = self.session(t).await?;
                self.send(req, Some(&session)).await
            }
            other => other,
        }
    }

    /// A usable ticket: the current one, a renewed one, or a new login. One login at a time;
    /// requests arriving meanwhile wait for it and share the result.
    async fn session(&self, t: &TicketAuth) -> Result<Arc<Session>> {
        if let Some(s) = t.fresh() {
            return Ok(s);
        }
        let _one_login = t.login_lock().lock().await;
        if let Some(s) = t.fresh() {
            return Ok(s);
        }
        let Some(old) = t.renewable() else {
            return self.login(t, &t.password_form()).await;
        };
        match self.login(t, &t.renew_form(&old)).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                tracing::debug!(error = %e, "ticket renewal failed, logging in with the password")
            }
        }
        match self.login(t, &t.password_form()).await {
            Err(e) if !matches!(e, Error::Unauthorized { .. } | Error::Forbidden { .. }) => {
                // PVE is unreachable right now; the old ticket is still valid for a while.
                tracing::warn!(error = %e, "could not renew the Proxmox VE ticket");
                Ok(old)
            }
            other => other,
        }
    }

    async fn login(&self, t: &TicketAuth, form: &Params) -> Result<Arc<Session>> {
        let endpoint = &endpoints::ACCESS_TICKET;
        let form = endpoint.encode(form)?;
        let req = Request {
            method: Method::POST,
            path: endpoint.url_path(&[])?,
            query: &[],
            form: &form,
        };
        let body = self.send(&req, None).await?;
        t.install(&body)
    }

    /// One try over the endpoints, starting with the preferred one. Moves on to the next
    /// endpoint when no connection could be made (or, for reads, on a timeout or broken
    /// connection); PVE's own error answers are returned as they are.
    async fn send(&self, req: &Request<'_>, session: Option<&Session>) -> Result<Vec<u8>> {
        let endpoints = &self.inner.endpoints;
        let first = self.inner.preferred.load(Ordering::Relaxed) % endpoints.len();
        let idempotent = req.method == Method::GET;
        let mut failures = Vec::new();
        for i in 0..endpoints.len() {
            let index = (first + i) % endpoints.len();
            let ep = &endpoints[index];
            let started = Instant::now();
            let sent = self.build(ep, req, session).send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    let (err, next) = classify(&e, ep, idempotent);
                    tracing::warn!(
                        endpoint = %ep.base, method = %req.method, path = %req.path, error = %err,
                        "Proxmox VE request failed"
                    );
                    if !next {
                        return Err(err);
                    }
                    failures.push(err);
                    continue;
                }
            };
            if index != first {
                self.inner.preferred.store(index, Ordering::Relaxed);
                tracing::info!(endpoint = %ep.base, "switched to another Proxmox VE endpoint");
            }
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .map_err(|e| classify(&e, ep, idempotent).0)?;
            tracing::debug!(
                endpoint = %ep.base, method = %req.method, path = %req.path, status,
                elapsed_ms = started.elapsed().as_millis() as u64, "Proxmox VE request"
            );
            return if (200..300).contains(&status) {
                Ok(body.to_vec())
            } else {
                Err(error_from_response(status, &body))
            };
        }
        Err(combine(failures))
    }

    fn build(
        &self,
        ep: &Endpoint,
        req: &Request<'_>,
        session: Option<&Session>,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), format!("{}{}", ep.api, req.path));
        if !req.query.is_empty() {
            rb = rb.query(req.query);
        }
        match (&self.inner.auth, session) {
            (Auth::Token(header), _) => rb = rb.header(AUTHORIZATION, header.clone()),
            (Auth::Ticket(_), Some(s)) => {
                rb = rb.header(COOKIE, s.cookie.clone());
                if req.method != Method::GET {
                    rb = rb.header("CSRFPreventionToken", s.csrf.clone());
                }
            }
            (Auth::Ticket(_), None) => {}
        }
        if req.method == Method::POST || req.method == Method::PUT {
            rb = rb.form(req.form);
        }
        rb
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoints: Vec<&str> = self
            .inner
            .endpoints
            .iter()
            .map(|e| e.base.as_str())
            .collect();
        let auth = match self.inner.auth {
            Auth::Token(_) => "api-token",
            Auth::Ticket(_) => "ticket",
        };
        f.debug_struct("HttpClient")
            .field("endpoints", &endpoints)
            .field("auth", &auth)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Reads `https://host:8006`, `https://host:8006/`, `https://host:8006/api2/json` (or no scheme:
/// https is assumed).
fn parse_endpoint(index: usize, raw: &str) -> Result<Endpoint> {
    // Never echo an endpoint that might carry `user:password@`.
    let shown = if raw.contains('@') {
        format!("endpoint #{}", index + 1)
    } else {
        format!("{raw:?}")
    };
    let bad = |why: &str| Error::Config {
        message: format!("{shown} is not a usable endpoint URL: {why}"),
    };
    let mut text = raw.trim().to_owned();
    if !text.contains("://") {
        text = format!("https://{text}");
    }
    let text = text.trim_end_matches('/');
    let text = text
        .strip_suffix("/api2/json")
        .unwrap_or(text)
        .trim_end_matches('/');
    let url = reqwest::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad("the scheme must be https (or http)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials do not belong in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    let base = url.as_str().trim_end_matches('/').to_owned();
    Ok(Endpoint {
        api: format!("{base}/api2/json"),
        base,
    })
}

/// Maps a transport failure; the flag says whether trying the next endpoint is safe.
fn classify(e: &reqwest::Error, ep: &Endpoint, idempotent: bool) -> (Error, bool) {
    if let Some(tls) = tls::tls_error(e) {
        // The handshake failed: nothing was sent.
        return (tls, true);
    }
    if e.is_connect() {
        return (
            Error::Connect {
                message: format!("{}: {}", ep.base, root_cause(e)),
            },
            true,
        );
    }
    if e.is_timeout() {
        return (Error::Timeout, idempotent);
    }
    (
        Error::Interrupted {
            message: format!("{}: {}", ep.base, root_cause(e)),
        },
        idempotent,
    )
}

/// The innermost error's message (reqwest's own text repeats the URL and adds nothing).
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The error to report when every endpoint failed: a TLS refusal first (it needs action),
/// all connection failures together, else the last failure.
fn combine(failures: Vec<Error>) -> Error {
    if let Some(tls) = failures.iter().find(|e| matches!(e, Error::Tls { .. })) {
        return tls.clone();
    }
    if failures.iter().all(|e| matches!(e, Error::Connect { .. })) {
        let message = failures
            .iter()
            .filter_map(|e| match e {
                Error::Connect { message } => Some(message.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Error::Connect { message };
    }
    failures.into_iter().last().unwrap_or(Error::Connect {
        message: "no endpoint".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_spellings() {
        for raw in [
            "https://pve1.example:8006",
            "https://pve1.example:8006/",
            "https://pve1.example:8006/api2/json",
            "https://pve1.example:8006/api2/json/",
            " pve1.example:8006 ",
        ] {
            let ep = parse_endpoint(0, raw).unwrap();
            assert_eq!(ep.base, "https://pve1.example:8006", "{raw}");
            assert_eq!(ep.api, "https://pve1.example:8006/api2/json");
        }
        assert_eq!(
            parse_endpoint(0, "http://127.0.0.1:8006").unwrap().base,
            "http://127.0.0.1:8006"
        );
        for bad in [
            "ftp://x",
            "https://",
            "https://root:pw@pve1:8006",
            "https://pve1:8006/?a=b",
        ] {
            let e = parse_endpoint(0, bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(!e.to_string().contains("pw@"), "{e}");
        }
    }
}
