// The HTTP client against a small local fake of PVE (axum on 127.0.0.1:0): login, cookie and
// CSRF header, token header, re-login after 401, error mapping, failover, retries, timeouts,
// ticket renewal, wait_task, redaction; the typed operations (form encoding, booleans as 0/1,
// lists, `null` task IDs, the VNC proxy and WebSocket request, refusals before sending).
//
// Run: cargo test -p pve --features client --test client_http

#![cfg(feature = "client")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use pve::Error;
use pve::client::{ClientConfig, Credentials, HttpClient, PveApi, TlsTrust, wait_task};
use pve::ids::{NodeName, VmId};
use pve::types::{PowerAction, ResourceType, TaskLogLine};

#[path = "client_http/ops.rs"]
mod ops;

const PASSWORD: &str = "hunter2-very-secret";
const TOKEN_ID: &str = "root@pam!cecyber";
const TOKEN_SECRET: &str = "0f0e0d0c-aaaa-bbbb-cccc-123456789abc";

/// What the fake saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    /// Decoded `PVEAuthCookie`.
    cookie: Option<String>,
    csrf: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

#[derive(Default)]
struct Fake {
    /// Valid ticket → its CSRF token.
    tickets: Mutex<HashMap<String, String>>,
    counter: AtomicUsize,
    logins: AtomicUsize,
    renewals: AtomicUsize,
    reject_renewal: AtomicBool,
    seen: Mutex<Vec<Seen>>,
    /// How many of the next `GET /version` answer 503.
    version_503: AtomicUsize,
    /// Delay before answering anything, ms.
    delay_ms: AtomicU64,
    /// Task UPID → status polls so far.
    polls: Mutex<HashMap<String, usize>>,
}

impl Fake {
    fn count(&self, method: &Method, path: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|s| s.method == *method && s.path == path)
            .count()
    }

    fn last(&self, method: &Method, path: &str) -> Seen {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .rev()
            .find(|s| s.method == *method && s.path == path)
            .unwrap()
            .clone()
    }

    fn expire_tickets(&self) {
        self.tickets.lock().unwrap().clear();
    }
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn data(v: Value) -> Response {
    axum::Json(json!({ "data": v })).into_response()
}

fn error(status: u16, message: &str, extra: Value) -> Response {
    let mut body = json!({ "data": null, "message": format!("{message}\n") });
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// PVE answers 401 with an empty body.
fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let cookie = header("cookie").and_then(|c| {
        let v = c
            .split(';')
            .find_map(|p| p.trim().strip_prefix("PVEAuthCookie="))?
            .to_owned();
        Some(percent_decode_str(&v).decode_utf8().unwrap().into_owned())
    });
    let seen = Seen {
        method: method.clone(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        cookie: cookie.clone(),
        csrf: header("csrfpreventiontoken"),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    };
    fake.seen.lock().unwrap().push(seen.clone());
    let delay = fake.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let path = uri.path().strip_prefix("/api2/json").unwrap_or("");
    if method == Method::POST && path == "/access/ticket" {
        return login(&fake, &form(&seen.body));
    }

    // Authentication, as PVE's HTTP server does it.
    let token_ok =
        seen.authorization.as_deref() == Some(&format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"));
    if !token_ok {
        let Some(ticket) = &cookie else {
            return unauthorized();
        };
        let Some(csrf) = fake.tickets.lock().unwrap().get(ticket).cloned() else {
            return unauthorized();
        };
        if method != Method::GET && seen.csrf.as_deref() != Some(&csrf) {
            return unauthorized();
        }
    }
    route(&fake, &method, path, &seen.query)
}

fn login(fake: &Fake, form: &HashMap<String, String>) -> Response {
    let password = form.get("password").map(String::as_str).unwrap_or("");
    if form.get("username").map(String::as_str) != Some("root@pam") {
        return error(401, "authentication failure", json!({}));
    }
    let renewal = fake.tickets.lock().unwrap().contains_key(password);
    if renewal && !fake.reject_renewal.load(Ordering::SeqCst) {
        fake.renewals.fetch_add(1, Ordering::SeqCst);
    } else if password == PASSWORD {
        fake.logins.fetch_add(1, Ordering::SeqCst);
    } else {
        return error(401, "authentication failure", json!({}));
    }
    let n = fake.counter.fetch_add(1, Ordering::SeqCst);
    // Characters that must be URL-encoded in the cookie: ':', '+', '/', '='.
    let ticket = format!("PVE:root@pam:6A4BB5{n:02X}::c2ln+bmF/0dXJl={n}");
    let csrf = format!("6A4BB5{n:02X}:Y3NyZg{n}");
    fake.tickets
        .lock()
        .unwrap()
        .insert(ticket.clone(), csrf.clone());
    data(
        json!({ "username": "root@pam", "ticket": ticket, "CSRFPreventionToken": csrf, "cap": {} }),
    )
}

fn route(fake: &Fake, method: &Method, path: &str, query: &str) -> Response {
    if let Some(rest) = path.strip_prefix("/nodes/pve/tasks/") {
        if method == Method::DELETE && !rest.contains('/') {
            return data(Value::Null);
        }
        return task(fake, rest, query);
    }
    if let Some(answer) = ops::typed_route(method, path, query) {
        return answer;
    }
    match (method.as_str(), path) {
        ("GET", "/version") => {
            let busy = fake
                .version_503
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if busy.is_ok() {
                return error(503, "service busy", json!({}));
            }
            data(json!({ "version": "9.1.1", "release": "9.1", "repoid": "42db4a6cf33dac83" }))
        }
        ("GET", "/nodes") => data(json!([
            { "node": "pve", "status": "online", "cpu": "0.25", "maxcpu": 8, "mem": 1024, "maxmem": 4096, "uptime": 60 }
        ])),
        ("GET", "/cluster/resources") => {
            assert_eq!(query, "type=vm");
            data(
                json!([{ "id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve", "status": "running", "template": "0" }]),
            )
        }
        ("GET", "/nodes/pve/qemu") => {
            data(json!([{ "vmid": "100", "status": "running", "name": "web" }]))
        }
        // No vmid: the client fills it in.
        ("GET", "/nodes/pve/qemu/100/status/current") => data(
            json!({ "status": "running", "name": "web", "agent": "1", "ha": { "managed": 0 } }),
        ),
        ("GET", "/nodes/pve/qemu/101/status/current") => error(
            403,
            "Permission check failed (/vms/101, VM.Audit)",
            json!({}),
        ),
        ("GET", "/nodes/pve/qemu/999/status/current") => error(
            500,
            "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist",
            json!({}),
        ),
        ("POST", "/nodes/pve/qemu/100/status/start") => data(json!(
            "UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:100:root@pam:"
        )),
        ("POST", "/nodes/pve/qemu/103/status/start") => data(json!(
            "UPID:pve:000586D3:0078E21A:6A4BB5CB:qmstart:103:root@pam:"
        )),
        ("POST", "/nodes/pve/qemu/100/status/stop") => error(503, "service busy", json!({})),
        ("POST", "/nodes/pve/qemu/100/status/reboot") => error(
            400,
            "Parameter verification failed.",
            json!({ "errors": { "timeout": "value must have a minimum value of 0\n" } }),
        ),
        _ => error(
            501,
            &format!("Method '{method} {path}' not implemented"),
            json!({}),
        ),
    }
}

/// Tasks run for two status polls; the log grows by one line per poll.
fn task(fake: &Fake, rest: &str, query: &str) -> Response {
    let (upid, what) = rest.rsplit_once('/').unwrap();
    let upid = percent_decode_str(upid).decode_utf8().unwrap().into_owned();
    let fails = upid.contains(":103:");
    let polls = *fake.polls.lock().unwrap().get(&upid).unwrap_or(&0);
    let done = polls >= 2;
    let mut log: Vec<String> = (1..=polls.min(2) + 1)
        .map(|i| format!("progress {i}"))
        .collect();
    if done {
        log.push(if fails {
            "TASK ERROR: VM 103 already running".into()
        } else {
            "TASK OK".into()
        });
    }
    match what {
        "status" => {
            *fake.polls.lock().unwrap().entry(upid.clone()).or_default() += 1;
            let mut s = json!({
                "upid": upid, "node": "pve", "status": if done { "stopped" } else { "running" },
                "type": "qmstart", "id": if fails { "103" } else { "100" }, "user": "root@pam",
                "starttime": 1783346634, "pid": 362194, "pstart": 7922201,
            });
            if done {
                s["exitstatus"] = json!(if fails {
                    "VM 103 already running"
                } else {
                    "OK"
                });
            }
            data(s)
        }
        "log" => {
            let q = form(query);
            let start: usize = q["start"].parse().unwrap();
            let limit: usize = q["limit"].parse().unwrap();
            let lines: Vec<Value> = log
                .iter()
                .enumerate()
                .skip(start)
                .take(limit)
                .map(|(i, t)| json!({ "n": i + 1, "t": t }))
                .collect();
            if lines.is_empty() {
                data(json!([{ "n": start + 1, "t": "no content" }]))
            } else {
                data(Value::Array(lines))
            }
        }
        _ => error(501, "no such task call", json!({})),
    }
}

async fn start_fake() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

/// A URL where nothing listens.
async fn dead_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn password() -> Credentials {
    Credentials::Password {
        username: "root@pam".into(),
        password: PASSWORD.into(),
    }
}

fn token() -> Credentials {
    Credentials::Token {
        token_id: TOKEN_ID.into(),
        secret: TOKEN_SECRET.into(),
    }
}

fn client(endpoints: Vec<String>, credentials: Credentials) -> HttpClient {
    let mut config = ClientConfig::new(endpoints, credentials);
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(5);
    HttpClient::new(config).unwrap()
}

fn node() -> NodeName {
    "pve".parse().unwrap()
}

fn vm(id: u32) -> VmId {
    VmId::new(id).unwrap()
}

#[tokio::test]
async fn password_login_then_cookie_and_csrf_on_post_only() {
    let (url, fake) = start_fake().await;
    let api = client(vec![format!("{url}/api2/json/")], password());

    assert_eq!(api.version().await.unwrap().version, "9.1.1");
    let login = fake.last(&Method::POST, "/api2/json/access/ticket");
    assert_eq!(
        login.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let f = form(&login.body);
    assert_eq!(f["username"], "root@pam");
    assert_eq!(f["password"], PASSWORD);
    assert!(login.cookie.is_none() && login.csrf.is_none());

    let get = fake.last(&Method::GET, "/api2/json/version");
    let ticket = get.cookie.clone().expect("ticket cookie on GET");
    assert!(
        ticket.starts_with("PVE:root@pam:"),
        "cookie decodes to the ticket: {ticket}"
    );
    assert!(fake.tickets.lock().unwrap().contains_key(&ticket));
    assert!(get.csrf.is_none(), "no CSRF header on GET");
    assert!(get.authorization.is_none());

    let upid = api
        .qemu_power(&node(), vm(100), PowerAction::Start)
        .await
        .unwrap();
    assert_eq!(upid.task_type(), "qmstart");
    let post = fake.last(&Method::POST, "/api2/json/nodes/pve/qemu/100/status/start");
    assert_eq!(post.cookie.as_deref(), Some(ticket.as_str()));
    let csrf = fake.tickets.lock().unwrap()[&ticket].clone();
    assert_eq!(
        post.csrf.as_deref(),
        Some(csrf.as_str()),
        "CSRF header on POST"
    );
    assert_eq!(
        post.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(fake.logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn typed_reads() {
    let (url, _fake) = start_fake().await;
    let api = client(vec![url], password());
    let nodes = api.nodes().await.unwrap();
    assert_eq!(nodes[0].cpu, Some(0.25));
    let res = api.cluster_resources(Some(ResourceType::Vm)).await.unwrap();
    assert!(res[0].is_running() && !res[0].template);
    let list = api.qemu_list(&node()).await.unwrap();
    assert_eq!(list[0].vmid, vm(100));
    let status = api.qemu_status(&node(), vm(100)).await.unwrap();
    assert_eq!(status.vmid, vm(100));
    assert_eq!(status.agent, Some(true));
    assert!(status.is_running());
}

#[tokio::test]
async fn token_header_and_no_login() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    api.version().await.unwrap();
    api.qemu_power(&node(), vm(100), PowerAction::Start)
        .await
        .unwrap();
    let post = fake.last(&Method::POST, "/api2/json/nodes/pve/qemu/100/status/start");
    assert_eq!(
        post.authorization,
        Some(format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"))
    );
    assert!(post.cookie.is_none() && post.csrf.is_none());
    assert_eq!(fake.count(&Method::POST, "/api2/json/access/ticket"), 0);
}

#[tokio::test]
async fn bad_token_is_unauthorized_without_secret_in_message() {
    let (url, _fake) = start_fake().await;
    let secret = "deadbeef-0000-0000-0000-000000000000";
    let creds = Credentials::Token {
        token_id: TOKEN_ID.into(),
        secret: secret.into(),
    };
    let err = client(vec![url], creds).version().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(secret));
}

#[tokio::test]
async fn wrong_password_is_unauthorized_without_password_in_message() {
    let (url, fake) = start_fake().await;
    let creds = Credentials::Password {
        username: "root@pam".into(),
        password: "nope-secret".into(),
    };
    let err = client(vec![url], creds).version().await.unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { ref message } if message == "authentication failure"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("nope-secret"));
    assert_eq!(fake.count(&Method::GET, "/api2/json/version"), 0);
}

#[tokio::test]
async fn relogin_once_after_401() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], password());
    api.version().await.unwrap();
    fake.expire_tickets();
    api.version().await.unwrap();
    assert_eq!(fake.logins.load(Ordering::SeqCst), 2);
    // The POST after an expiry gets the new ticket and its CSRF token.
    fake.expire_tickets();
    api.qemu_power(&node(), vm(100), PowerAction::Start)
        .await
        .unwrap();
    assert_eq!(fake.logins.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn concurrent_requests_share_one_login() {
    let (url, fake) = start_fake().await;
    let api = Arc::new(client(vec![url], password()));
    let run = |n: usize| {
        let api = api.clone();
        async move {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    tokio::spawn({
                        let api = api.clone();
                        async move { api.version().await }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        }
    };
    run(10).await;
    assert_eq!(fake.logins.load(Ordering::SeqCst), 1);
    fake.expire_tickets();
    run(10).await;
    assert_eq!(
        fake.logins.load(Ordering::SeqCst),
        2,
        "one re-login for all 401s"
    );
}

#[tokio::test]
async fn ticket_renewal_and_fallback_to_password() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], password()).with_ticket_renewal(Duration::ZERO);
    api.version().await.unwrap();
    let first = fake
        .last(&Method::GET, "/api2/json/version")
        .cookie
        .unwrap();
    api.version().await.unwrap();
    assert_eq!(fake.renewals.load(Ordering::SeqCst), 1);
    assert_eq!(fake.logins.load(Ordering::SeqCst), 1);
    let renewal = fake.last(&Method::POST, "/api2/json/access/ticket");
    assert_eq!(
        form(&renewal.body)["password"],
        first,
        "renewal sends the ticket as password"
    );
    let second = fake
        .last(&Method::GET, "/api2/json/version")
        .cookie
        .unwrap();
    assert_ne!(first, second, "the renewed ticket is used");

    fake.reject_renewal.store(true, Ordering::SeqCst);
    api.version().await.unwrap();
    assert_eq!(
        fake.logins.load(Ordering::SeqCst),
        2,
        "password login after a refused renewal"
    );
}

#[tokio::test]
async fn forbidden_carries_the_permission() {
    let (url, _fake) = start_fake().await;
    let err = client(vec![url], token())
        .qemu_status(&node(), vm(101))
        .await
        .unwrap_err();
    match &err {
        Error::Forbidden {
            permission: Some(p),
            ..
        } => {
            assert_eq!(p.path, "/vms/101");
            assert_eq!(p.privilege, "VM.Audit");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.retry_safe());
}

#[tokio::test]
async fn parameter_errors() {
    let (url, _fake) = start_fake().await;
    let err = client(vec![url], token())
        .qemu_power(&node(), vm(100), PowerAction::Reboot)
        .await
        .unwrap_err();
    match err {
        Error::InvalidParameters { message, errors } => {
            assert_eq!(message, "Parameter verification failed.");
            assert_eq!(errors["timeout"], "value must have a minimum value of 0");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn does_not_exist_is_not_found_and_not_retried() {
    let (url, fake) = start_fake().await;
    let err = client(vec![url], token())
        .qemu_status(&node(), vm(999))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(
        fake.count(&Method::GET, "/api2/json/nodes/pve/qemu/999/status/current"),
        1
    );
}

#[tokio::test]
async fn unknown_path_is_upstream_501() {
    let (url, _fake) = start_fake().await;
    let err = client(vec![url], token())
        .qemu_list(&"other".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Upstream { status: 501, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn get_is_retried_after_503_but_post_never() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    fake.version_503.store(2, Ordering::SeqCst);
    api.version().await.unwrap();
    assert_eq!(fake.count(&Method::GET, "/api2/json/version"), 3);

    let err = api
        .qemu_power(&node(), vm(100), PowerAction::Stop)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Upstream { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(
        fake.count(&Method::POST, "/api2/json/nodes/pve/qemu/100/status/stop"),
        1
    );
}

#[tokio::test]
async fn failover_from_dead_endpoint_and_remember_the_live_one() {
    let (url, fake) = start_fake().await;
    let dead = dead_endpoint().await;
    let api = client(vec![dead.clone(), url.clone()], password());
    assert_eq!(api.current_endpoint(), dead);
    api.version().await.unwrap();
    assert_eq!(api.current_endpoint(), url);
    // The POST goes straight to the live endpoint.
    api.qemu_power(&node(), vm(100), PowerAction::Start)
        .await
        .unwrap();
    assert_eq!(
        fake.count(&Method::POST, "/api2/json/nodes/pve/qemu/100/status/start"),
        1
    );
}

#[tokio::test]
async fn all_endpoints_dead_is_connect_error_naming_each() {
    let (a, b) = (dead_endpoint().await, dead_endpoint().await);
    let api = client(vec![a.clone(), b.clone()], token());
    let err = api.version().await.unwrap_err();
    match &err {
        Error::Connect { message } => {
            assert!(message.contains(&a) && message.contains(&b), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.retry_safe());
}

#[tokio::test]
async fn timeouts_fail_over_reads_but_not_actions() {
    let (slow, slow_fake) = start_fake().await;
    let (fast, fast_fake) = start_fake().await;
    slow_fake.delay_ms.store(3_000, Ordering::SeqCst);
    let mut config = ClientConfig::new(vec![slow, fast.clone()], token());
    config.request_timeout = Duration::from_millis(400);
    let api = HttpClient::new(config).unwrap();

    // The POST timed out on the first endpoint: it may have been carried out, so it is
    // neither repeated there nor sent to the other endpoint.
    let err = api
        .qemu_power(&node(), vm(100), PowerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(!err.retry_safe());
    assert_eq!(
        slow_fake.count(&Method::POST, "/api2/json/nodes/pve/qemu/100/status/start"),
        1
    );
    assert_eq!(
        fast_fake.count(&Method::POST, "/api2/json/nodes/pve/qemu/100/status/start"),
        0
    );

    // A read moves on to the next endpoint.
    api.version().await.unwrap();
    assert_eq!(api.current_endpoint(), fast);
}

#[tokio::test]
async fn wait_task_reports_progress_and_success() {
    let (url, _fake) = start_fake().await;
    let api = client(vec![url], password());
    let upid = api
        .qemu_power(&node(), vm(100), PowerAction::Start)
        .await
        .unwrap();
    let mut lines: Vec<TaskLogLine> = Vec::new();
    let mut polls = 0;
    let done = wait_task(&api, &upid, Duration::from_millis(10), |status, new| {
        polls += 1;
        assert_eq!(status.upid, upid);
        lines.extend_from_slice(new);
    })
    .await
    .unwrap();
    assert!(done.succeeded());
    assert_eq!(polls, 3);
    let text: Vec<&str> = lines.iter().map(|l| l.t.as_str()).collect();
    assert_eq!(text, ["progress 1", "progress 2", "progress 3", "TASK OK"]);
    assert_eq!(lines.iter().map(|l| l.n).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[tokio::test]
async fn wait_task_fails_with_exit_status() {
    let (url, _fake) = start_fake().await;
    let api: Arc<dyn PveApi> = Arc::new(client(vec![url], token()));
    let upid = api
        .qemu_power(&node(), vm(103), PowerAction::Start)
        .await
        .unwrap();
    // The wait runs in a spawned task: its future is `Send`.
    let (err, last) = tokio::spawn({
        let (api, upid) = (api.clone(), upid.clone());
        async move {
            let mut last = String::new();
            let result = wait_task(api.as_ref(), &upid, Duration::from_millis(10), |_, new| {
                if let Some(l) = new.last() {
                    last = l.t.clone();
                }
            })
            .await;
            (result.unwrap_err(), last)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        err,
        Error::TaskFailed {
            upid: upid.to_string(),
            exitstatus: "VM 103 already running".into()
        }
    );
    assert_eq!(last, "TASK ERROR: VM 103 already running");
}

#[tokio::test]
async fn debug_output_is_redacted() {
    let (url, _fake) = start_fake().await;
    for creds in [password(), token()] {
        let config = ClientConfig::new(vec![url.clone()], creds.clone());
        let text = format!(
            "{creds:?} {config:?} {:?}",
            HttpClient::new(config.clone()).unwrap()
        );
        assert!(
            !text.contains(PASSWORD) && !text.contains(TOKEN_SECRET),
            "{text}"
        );
        assert!(text.contains("<redacted>"));
    }
    let config = ClientConfig {
        tls: TlsTrust::System,
        ..ClientConfig::new(vec![url], password())
    };
    assert!(format!("{config:?}").contains("root@pam"));
}

#[tokio::test]
async fn bad_configuration_is_rejected_up_front() {
    let err = HttpClient::new(ClientConfig::new(vec![], token())).unwrap_err();
    assert!(matches!(err, Error::Config { .. }));
    let err = HttpClient::new(ClientConfig::new(
        vec!["https://root:pw@pve:8006".into()],
        token(),
    ))
    .unwrap_err();
    assert!(!err.to_string().contains("pw"), "{err}");
    let mut config = ClientConfig::new(vec!["https://pve:8006".into()], token());
    config.tls = TlsTrust::Fingerprint("AA:BB".into());
    assert!(matches!(
        HttpClient::new(config).unwrap_err(),
        Error::Config { .. }
    ));
    let mut config = ClientConfig::new(vec!["https://pve:8006".into()], token());
    config.tls = TlsTrust::CaFile("/nonexistent/ca.pem".into());
    assert!(matches!(
        HttpClient::new(config).unwrap_err(),
        Error::Config { .. }
    ));
}
