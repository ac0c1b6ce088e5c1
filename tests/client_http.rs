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
    if let Some(answer) = typed_route(method, path, query) {
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

/// A task ID of `kind` for VM `id` on node `pve`.
fn upid(kind: &str, id: &str) -> Value {
    json!(format!(
        "UPID:pve:000586D2:0078E219:6A4BB5CA:{kind}:{id}:root@pam:"
    ))
}

/// The operations beyond login, status and power.
fn typed_route(method: &Method, path: &str, query: &str) -> Option<Response> {
    Some(match (method.as_str(), path) {
        ("GET", "/nodes/pve") => data(json!([{ "name": "qemu" }, { "name": "status" }])),
        ("GET", "/nodes/pve/status") => data(json!({
            "cpu": 0.05, "loadavg": ["0.10", "0.20", "0.30"], "uptime": 3600,
            "memory": { "total": 8192, "used": 4096, "free": 4096, "available": 5000 },
            "cpuinfo": { "model": "Test CPU", "cpus": 4 }, "pveversion": "pve-manager/9.1.1/42db4a6c",
            "current-kernel": { "release": "6.14.8-2-pve" }, "boot-info": { "mode": "efi", "secureboot": 0 }
        })),
        ("GET", "/nodes/pve/rrddata") => {
            assert_eq!(query, "timeframe=decade&cf=MAX");
            data(
                json!([{ "time": 1785168420, "cpu": 0.5, "memused": 1.5e9 }, { "time": 1785773220 }]),
            )
        }
        ("GET", "/nodes/pve/qemu/100/rrddata") => {
            assert_eq!(query, "timeframe=hour&cf=AVERAGE");
            data(
                json!([{ "time": 1785168420, "cpu": 0.25, "maxmem": 2147483648u64 }, { "time": 1785168480, "maxmem": 2147483648u64 }]),
            )
        }
        ("GET", "/nodes/pve/tasks") => data(json!([{
            "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:vzdump:100:root@pam:", "node": "pve",
            "type": "vzdump", "id": "100", "user": "root@pam", "starttime": 1783346634,
            "endtime": 1783346700, "status": "WARNINGS: 1"
        }])),
        ("GET", "/nodes/pve/storage") => data(json!([
            { "storage": "local", "type": "dir", "content": "backup,iso", "active": 1, "shared": 0, "total": 100, "used": 40, "avail": 60, "used_fraction": 0.4 }
        ])),
        ("GET", "/nodes/pve/storage/local/content") => data(json!([{
            "volid": "local:backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst", "content": "backup",
            "format": "vma.zst", "size": 1234, "ctime": 1783303201, "vmid": 100, "subtype": "qemu",
            "protected": 1, "notes": "web01"
        }])),
        ("POST", "/nodes/pve/vzdump") => data(upid("vzdump", "")),
        ("POST", "/nodes/pve/qemu") => data(upid("qmrestore", "100")),
        ("GET", "/nodes/pve/qemu/100/config") => data(json!({
            "name": "web", "memory": "2048", "cores": 2, "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
            "scsi0": "local-lvm:vm-100-disk-0,size=32G", "digest": "3e1f0c"
        })),
        ("PUT", "/nodes/pve/qemu/100/config") => data(Value::Null),
        // Done within the background delay: PVE answers null.
        ("POST", "/nodes/pve/qemu/100/config") => data(Value::Null),
        ("POST", "/nodes/pve/qemu/101/config") => data(upid("qmconfig", "101")),
        ("PUT", "/nodes/pve/qemu/100/resize") => data(upid("resize", "100")),
        ("POST", "/nodes/pve/qemu/100/clone") => data(upid("qmclone", "100")),
        ("GET", "/nodes/pve/qemu/100/migrate") => data(json!({
            "running": 1, "allowed_nodes": ["pve2"], "local_resources": [],
            "not_allowed_nodes": { "pve3": { "unavailable_storages": ["local-lvm"] } },
            "local_disks": [{ "volid": "local-lvm:vm-100-disk-0", "size": 34359738368u64, "cdrom": 0, "is_unused": 0 }]
        })),
        ("POST", "/nodes/pve/qemu/100/migrate") => data(upid("qmigrate", "100")),
        ("POST", "/nodes/pve/qemu/100/vncproxy") => data(json!({
            "user": "root@pam", "ticket": "Ab3!x#9z:PVEVNC:6A4BB5CD::c2ln+bmF/0=", "password": "Ab3!x#9z",
            "port": "5901", "upid": "UPID:pve:00058703:0078E322:6A4BB5CD:vncproxy:100:root@pam:",
            "cert": "-----BEGIN CERTIFICATE-----\n"
        })),
        ("GET", "/cluster/status") => data(json!([
            { "id": "cluster", "name": "lab", "type": "cluster", "quorate": 1, "nodes": 1, "version": 1 },
            { "id": "node/pve", "name": "pve", "type": "node", "online": 1, "local": 1, "nodeid": 1 }
        ])),
        ("GET", "/cluster/log") => {
            assert_eq!(query, "max=5");
            data(
                json!([{ "uid": 7, "time": 1783346634, "pri": 3, "tag": "pvedaemon", "node": "pve", "user": "root@pam", "msg": "failed" }]),
            )
        }
        ("GET", "/cluster/tasks") => data(json!([
            { "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:100:root@pam:", "status": "RUNNING" }
        ])),
        ("GET", "/cluster/backup") => data(json!([
            { "id": "backup-0b8f1a2c-5e3d", "type": "vzdump", "schedule": "sat 02:00", "next-run": 1783303200,
              "vmid": "100,101", "storage": "local", "mode": "snapshot", "compress": "zstd", "enabled": 1 }
        ])),
        ("GET", "/cluster/backup/backup-0b8f1a2c-5e3d") => data(json!(
            { "id": "backup-0b8f1a2c-5e3d", "schedule": "sat 02:00", "all": 1, "enabled": 0, "prune-backups": "keep-last=3" }
        )),
        ("POST", "/cluster/backup")
        | ("PUT", "/cluster/backup/backup-0b8f1a2c-5e3d")
        | ("DELETE", "/cluster/backup/backup-0b8f1a2c-5e3d") => data(Value::Null),
        ("GET", "/access/users") => data(json!([
            { "userid": "alice@pve", "enable": 0, "tokens": [{ "tokenid": "ci", "privsep": 1 }] }
        ])),
        ("GET", "/access/roles") => {
            data(json!([{ "roleid": "PVEAuditor", "privs": "Sys.Audit,VM.Audit", "special": 1 }]))
        }
        ("GET", "/access/acl") => data(json!([
            { "path": "/vms/100", "type": "user", "ugid": "alice@pve", "roleid": "PVEVMUser", "propagate": 0 }
        ])),
        ("GET", "/access/permissions") => {
            data(json!({ "/vms/100": { "VM.Audit": 1, "VM.Console": 0 } }))
        }
        _ => return None,
    })
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

// ---- typed operations -------------------------------------------------------------------

use pve::ids::{BackupJobId, DiskName, StorageId, UserId, Volid};
use pve::types::{
    BackupJobSpec, DiskSize, MetricsExportOptions, PruneBackups, QemuClone, QemuConfigUpdate,
    QemuMigrate, QemuRestore, RrdCf, RrdTimeframe, StorageContentFilter, StorageListFilter,
    TaskListFilter, TaskSource, TaskStatusFilter, VzdumpCompress, VzdumpMode, VzdumpOptions,
};

/// The decoded form body of the last `method path` request.
fn last_form(fake: &Fake, method: &Method, path: &str) -> HashMap<String, String> {
    form(&fake.last(method, &format!("/api2/json{path}")).body)
}

#[tokio::test]
async fn node_reads() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    let index = api.node_index(&node()).await.unwrap();
    assert_eq!(index[0].name, "qemu");
    let status = api.node_status(&node()).await.unwrap();
    assert_eq!(status.loadavg, [0.1, 0.2, 0.3]);
    assert_eq!(status.memory.available, Some(5000));
    assert_eq!(status.cpuinfo.cpus, Some(4));
    assert_eq!(status.boot_info.as_ref().unwrap().secureboot, Some(false));
    assert_eq!(status.manager_version(), Some("9.1.1"));

    let rrd = api
        .node_rrddata(&node(), RrdTimeframe::Decade, RrdCf::Max)
        .await
        .unwrap();
    assert_eq!(rrd[0].memused, Some(1.5e9));
    assert_eq!(rrd[1].cpu, None, "a missing sample stays missing");

    let filter = TaskListFilter {
        vmid: Some(vm(100)),
        typefilter: Some("vzdump".into()),
        statusfilter: vec![TaskStatusFilter::Ok, TaskStatusFilter::Warning],
        errors: Some(false),
        source: Some(TaskSource::All),
        limit: Some(20),
        since: Some(1_783_000_000),
        ..Default::default()
    };
    let tasks = api.node_tasks(&node(), &filter).await.unwrap();
    assert!(tasks[0].succeeded());
    let q = form(&fake.last(&Method::GET, "/api2/json/nodes/pve/tasks").query);
    assert_eq!(q["vmid"], "100");
    assert_eq!(q["typefilter"], "vzdump");
    assert_eq!(q["statusfilter"], "ok,warning");
    assert_eq!(q["errors"], "0", "booleans are 0/1");
    assert_eq!(q["source"], "all");
    assert_eq!(q["limit"], "20");
    assert_eq!(q["since"], "1783000000");

    let storages = api
        .node_storage(
            &node(),
            &StorageListFilter {
                content: vec![pve::types::ContentType::Backup],
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(storages[0].holds_backups());
    assert_eq!(
        fake.last(&Method::GET, "/api2/json/nodes/pve/storage")
            .query,
        "content=backup&enabled=1"
    );

    let local = StorageId::parse("local").unwrap();
    let backups = api
        .storage_content(
            &node(),
            &local,
            &StorageContentFilter::backups(Some(vm(100))),
        )
        .await
        .unwrap();
    assert_eq!(backups[0].volid.storage(), local);
    assert_eq!(backups[0].protected, Some(true));
    assert_eq!(
        fake.last(&Method::GET, "/api2/json/nodes/pve/storage/local/content")
            .query,
        "content=backup&vmid=100"
    );
}

#[tokio::test]
async fn qemu_rrddata_and_refused_decade() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    let points = api
        .qemu_rrddata(&node(), vm(100), RrdTimeframe::Hour, RrdCf::Average)
        .await
        .unwrap();
    assert!(points[0].has_samples() && !points[1].has_samples());
    assert_eq!(points[1].maxmem, Some(2_147_483_648.0));
    // PVE has no decade for guests: refused before sending.
    let err = api
        .qemu_rrddata(&node(), vm(100), RrdTimeframe::Decade, RrdCf::Average)
        .await
        .unwrap_err();
    match err {
        Error::InvalidParameters { errors, .. } => assert!(errors["timeframe"].contains("hour")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fake.count(&Method::GET, "/api2/json/nodes/pve/qemu/100/rrddata"),
        1
    );
}

#[tokio::test]
async fn backup_restore_and_task_stop() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], password());
    let options = VzdumpOptions {
        storage: Some(StorageId::parse("local").unwrap()),
        mode: Some(VzdumpMode::Snapshot),
        compress: Some(VzdumpCompress::Zstd),
        prune_backups: Some(PruneBackups {
            keep_last: Some(3),
            keep_daily: Some(7),
            ..Default::default()
        }),
        notes_template: Some("{{guestname}} on {{node}}".into()),
        protected: Some(false),
        ..VzdumpOptions::guests([vm(100), vm(101)])
    };
    let upid = api.node_vzdump(&node(), &options).await.unwrap();
    assert_eq!(upid.task_type(), "vzdump");
    let post = fake.last(&Method::POST, "/api2/json/nodes/pve/vzdump");
    assert!(post.csrf.is_some(), "CSRF header on POST");
    assert_eq!(
        post.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let f = form(&post.body);
    assert_eq!(f["vmid"], "100,101", "guest lists are comma-separated");
    assert_eq!(f["storage"], "local");
    assert_eq!(f["mode"], "snapshot");
    assert_eq!(f["compress"], "zstd");
    assert_eq!(f["prune-backups"], "keep-daily=7,keep-last=3");
    assert_eq!(f["notes-template"], "{{guestname}} on {{node}}");
    assert_eq!(f["protected"], "0");
    assert_eq!(f.len(), 7);

    let archive = Volid::parse("local:backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst").unwrap();
    let mut restore = QemuRestore::new(vm(100), archive.clone());
    restore.force = Some(true);
    restore.unique = Some(false);
    restore.live_restore = Some(true);
    restore.storage = Some(StorageId::parse("local-lvm").unwrap());
    let upid = api.qemu_restore(&node(), &restore).await.unwrap();
    assert_eq!(upid.task_type(), "qmrestore");
    let f = last_form(&fake, &Method::POST, "/nodes/pve/qemu");
    assert_eq!(f["vmid"], "100");
    assert_eq!(f["archive"], archive.as_str());
    assert_eq!(f["force"], "1");
    assert_eq!(f["unique"], "0");
    assert_eq!(f["live-restore"], "1");
    assert_eq!(f["storage"], "local-lvm");

    api.task_stop(&upid).await.unwrap();
    let del = fake.last(
        &Method::DELETE,
        &format!("/api2/json/nodes/pve/tasks/{upid}"),
    );
    assert!(del.csrf.is_some(), "CSRF header on DELETE");
}

#[tokio::test]
async fn config_read_update_sync_and_async() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], password());
    let config = api.qemu_config(&node(), vm(100)).await.unwrap();
    assert_eq!(config.memory, Some(2048));
    assert_eq!(config.cores, Some(2));
    assert_eq!(config.nets()[0].0, "net0");
    assert_eq!(
        config.disks(),
        [("scsi0", "local-lvm:vm-100-disk-0,size=32G")]
    );

    let mut update = QemuConfigUpdate {
        cores: Some(4),
        onboot: Some(true),
        numa: Some(false),
        delete: vec!["net1".into(), "description".into()],
        digest: config.digest.clone(),
        ..Default::default()
    };
    update
        .set
        .insert("net0".into(), "virtio,bridge=vmbr1".into());
    api.qemu_config_update(&node(), vm(100), &update)
        .await
        .unwrap();
    let put = fake.last(&Method::PUT, "/api2/json/nodes/pve/qemu/100/config");
    assert!(put.csrf.is_some(), "CSRF header on PUT");
    let f = form(&put.body);
    assert_eq!(f["cores"], "4");
    assert_eq!(f["onboot"], "1");
    assert_eq!(f["numa"], "0");
    assert_eq!(f["net0"], "virtio,bridge=vmbr1");
    assert_eq!(f["delete"], "net1,description");
    assert_eq!(f["digest"], "3e1f0c");

    // POST: `null` when PVE finished within its background delay, else a task.
    assert_eq!(
        api.qemu_config_update_async(&node(), vm(100), &update)
            .await
            .unwrap(),
        None
    );
    let task = api
        .qemu_config_update_async(&node(), vm(101), &update)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.task_type(), "qmconfig");

    // Keys the table does not list as strings are refused before sending.
    let mut bad = QemuConfigUpdate::default();
    bad.set.insert("cores".into(), "8".into());
    bad.set.insert("args".into(), "-no-reboot".into());
    let err = api
        .qemu_config_update(&node(), vm(100), &bad)
        .await
        .unwrap_err();
    match err {
        Error::InvalidParameters { errors, .. } => {
            assert!(
                errors.contains_key("cores") && errors.contains_key("args"),
                "{errors:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fake.count(&Method::PUT, "/api2/json/nodes/pve/qemu/100/config"),
        1
    );
}

#[tokio::test]
async fn resize_clone_migrate() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    let disk = DiskName::parse("scsi0").unwrap();
    let task = api
        .qemu_resize(&node(), vm(100), &disk, DiskSize::Grow(10 << 30))
        .await
        .unwrap();
    assert_eq!(task.unwrap().task_type(), "resize");
    let f = last_form(&fake, &Method::PUT, "/nodes/pve/qemu/100/resize");
    assert_eq!(f["disk"], "scsi0");
    assert_eq!(f["size"], "+10737418240");

    let mut clone = QemuClone::new(vm(200));
    clone.name = Some("web-copy".into());
    clone.full = Some(true);
    clone.target = Some("pve2".parse().unwrap());
    clone.storage = Some(StorageId::parse("ceph").unwrap());
    clone.snapname = Some("before-upgrade".into());
    let upid = api.qemu_clone(&node(), vm(100), &clone).await.unwrap();
    assert_eq!(upid.task_type(), "qmclone");
    let f = last_form(&fake, &Method::POST, "/nodes/pve/qemu/100/clone");
    assert_eq!(f["newid"], "200");
    assert_eq!(f["full"], "1");
    assert_eq!(f["name"], "web-copy");
    assert_eq!(f["target"], "pve2");
    assert_eq!(f["storage"], "ceph");
    assert_eq!(f["snapname"], "before-upgrade");

    let pre = api
        .qemu_migrate_precondition(&node(), vm(100), None)
        .await
        .unwrap();
    assert!(pre.running && pre.allows("pve2") && !pre.allows("pve3"));
    assert_eq!(
        pre.not_allowed_nodes["pve3"].unavailable_storages,
        ["local-lvm"]
    );
    assert_eq!(pre.local_disks[0].size, Some(34_359_738_368));
    let target: NodeName = "pve2".parse().unwrap();
    api.qemu_migrate_precondition(&node(), vm(100), Some(&target))
        .await
        .unwrap();
    assert_eq!(
        fake.last(&Method::GET, "/api2/json/nodes/pve/qemu/100/migrate")
            .query,
        "target=pve2"
    );

    let mut migrate = QemuMigrate::to(target);
    migrate.online = Some(true);
    migrate.with_local_disks = Some(true);
    migrate.targetstorage = Some("local-lvm".into());
    let upid = api.qemu_migrate(&node(), vm(100), &migrate).await.unwrap();
    assert_eq!(upid.task_type(), "qmigrate");
    let f = last_form(&fake, &Method::POST, "/nodes/pve/qemu/100/migrate");
    assert_eq!(f["target"], "pve2");
    assert_eq!(f["online"], "1");
    assert_eq!(f["with-local-disks"], "1");
    assert_eq!(f["targetstorage"], "local-lvm");
}

#[tokio::test]
async fn vncproxy_and_websocket_request() {
    let (url, fake) = start_fake().await;
    for (creds, is_token) in [(password(), false), (token(), true)] {
        let api = client(vec![url.clone()], creds);
        let proxy = api.qemu_vncproxy(&node(), vm(100), true).await.unwrap();
        assert_eq!(proxy.port, 5901, "the port arrives as a string");
        assert_eq!(proxy.password.as_deref(), Some("Ab3!x#9z"));
        assert_eq!(proxy.upid.task_type(), "vncproxy");
        let f = last_form(&fake, &Method::POST, "/nodes/pve/qemu/100/vncproxy");
        assert_eq!(f["websocket"], "1");
        assert_eq!(f["generate-password"], "1");

        let ws = api
            .vnc_websocket_request(&node(), vm(100), proxy.port, &proxy.ticket)
            .await
            .unwrap();
        let host = url.strip_prefix("http://").unwrap();
        assert_eq!(
            ws.url,
            format!(
                "ws://{host}/api2/json/nodes/pve/qemu/100/vncwebsocket?port=5901&vncticket=Ab3%21x%239z%3APVEVNC%3A6A4BB5CD%3A%3Ac2ln%2BbmF%2F0%3D"
            )
        );
        assert_eq!(ws.subprotocol, "binary");
        assert!(
            ws.tls.is_none(),
            "system trust: the relay uses public roots"
        );
        if is_token {
            assert_eq!(
                ws.headers["authorization"].to_str().unwrap(),
                format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}")
            );
            assert!(ws.headers.get("cookie").is_none());
        } else {
            let cookie = ws.headers["cookie"].to_str().unwrap();
            assert!(
                cookie.starts_with("PVEAuthCookie=PVE%3Aroot%40pam%3A"),
                "{cookie}"
            );
            assert!(ws.headers["cookie"].is_sensitive());
        }
        let shown = format!("{ws:?} {proxy:?}");
        assert!(
            !shown.contains("PVEVNC") && !shown.contains(TOKEN_SECRET),
            "{shown}"
        );
    }
    // Without generate-password only websocket=1 is sent (older PVE rejects nothing).
    let api = client(vec![url.clone()], token());
    api.qemu_vncproxy(&node(), vm(100), false).await.unwrap();
    assert_eq!(
        fake.last(&Method::POST, "/api2/json/nodes/pve/qemu/100/vncproxy")
            .body,
        "websocket=1"
    );
    let err = api
        .vnc_websocket_request(&node(), vm(100), 22, "t")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameters { .. }), "{err:?}");
}

#[tokio::test]
async fn cluster_reads_and_metrics_not_available() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    let status = api.cluster_status().await.unwrap();
    assert!(status[0].is_cluster() && status[1].is_online_node());
    let log = api.cluster_log(Some(5)).await.unwrap();
    assert!(log[0].is_warning());
    let tasks = api.cluster_tasks().await.unwrap();
    assert!(tasks[0].is_running());
    // The fake answers 501 like PVE before 8.2.
    let options = MetricsExportOptions {
        history: Some(true),
        local_only: Some(false),
        start_time: Some(1_783_000_000),
        ..Default::default()
    };
    assert_eq!(api.cluster_metrics_export(&options).await.unwrap(), None);
    assert_eq!(
        fake.last(&Method::GET, "/api2/json/cluster/metrics/export")
            .query,
        "history=1&local-only=0&start-time=1783000000"
    );
}

#[tokio::test]
async fn backup_jobs() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], password());
    let jobs = api.cluster_backup_list().await.unwrap();
    assert_eq!(jobs[0].options.vmid, [vm(100), vm(101)]);
    assert_eq!(jobs[0].next_run, Some(1_783_303_200));
    assert!(jobs[0].enabled);
    let id = BackupJobId::parse("backup-0b8f1a2c-5e3d").unwrap();
    let job = api.cluster_backup_get(&id).await.unwrap();
    assert!(!job.enabled);
    assert_eq!(job.options.all, Some(true));
    assert_eq!(job.options.prune_backups.unwrap().keep_last, Some(3));

    let spec = BackupJobSpec {
        schedule: Some("mon..fri 22:00".into()),
        enabled: Some(true),
        repeat_missed: Some(true),
        comment: Some("nightly".into()),
        options: VzdumpOptions {
            storage: Some(StorageId::parse("local").unwrap()),
            ..VzdumpOptions::guests([vm(100)])
        },
        ..Default::default()
    };
    let new_id = BackupJobId::parse("nightly-web").unwrap();
    api.cluster_backup_create(Some(&new_id), &spec)
        .await
        .unwrap();
    let f = last_form(&fake, &Method::POST, "/cluster/backup");
    assert_eq!(f["id"], "nightly-web");
    assert_eq!(f["schedule"], "mon..fri 22:00");
    assert_eq!(f["enabled"], "1");
    assert_eq!(f["repeat-missed"], "1");
    assert_eq!(f["vmid"], "100");

    api.cluster_backup_update(&id, &spec, &["comment", "mailto"])
        .await
        .unwrap();
    let f = last_form(&fake, &Method::PUT, "/cluster/backup/backup-0b8f1a2c-5e3d");
    assert_eq!(f["delete"], "comment,mailto");
    let err = api
        .cluster_backup_update(&id, &spec, &["bogus"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameters { .. }), "{err:?}");
    let bad_id = BackupJobId::parse("1-starts-with-digit").unwrap();
    assert!(
        api.cluster_backup_create(Some(&bad_id), &spec)
            .await
            .is_err()
    );
    assert_eq!(fake.count(&Method::POST, "/api2/json/cluster/backup"), 1);

    api.cluster_backup_delete(&id).await.unwrap();
    assert_eq!(
        fake.count(
            &Method::DELETE,
            "/api2/json/cluster/backup/backup-0b8f1a2c-5e3d"
        ),
        1
    );
}

#[tokio::test]
async fn access_reads() {
    let (url, fake) = start_fake().await;
    let api = client(vec![url], token());
    let users = api.access_users(true).await.unwrap();
    assert!(!users[0].is_enabled());
    assert_eq!(users[0].tokens.as_ref().unwrap()[0].tokenid, "ci");
    assert_eq!(
        fake.last(&Method::GET, "/api2/json/access/users").query,
        "full=1"
    );
    let roles = api.access_roles().await.unwrap();
    assert_eq!(roles[0].privilege_list(), ["Sys.Audit", "VM.Audit"]);
    let acl = api.access_acl().await.unwrap();
    assert!(!acl[0].propagate);
    let alice = UserId::parse("alice@pve").unwrap();
    let perms = api
        .access_permissions(Some("/vms/100"), Some(&alice))
        .await
        .unwrap();
    assert!(perms.has("/vms/100", "VM.Audit"));
    assert!(!perms.0["/vms/100"]["VM.Console"]);
    assert_eq!(
        fake.last(&Method::GET, "/api2/json/access/permissions")
            .query,
        "path=%2Fvms%2F100&userid=alice%40pve"
    );
}
