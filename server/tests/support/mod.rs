//! Shared by the server's integration tests: the whole server in demo mode (simulator over
//! HTTPS) on a loopback port, logins, server function calls (with a session cookie, or from a
//! cookie-keeping [`Browser`]), and, in `console`, a small RFB 3.8 viewer speaking through a
//! real WebSocket client (tokio-tungstenite), as a browser's noVNC would.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use server::{
    config::{Cli, Config, load},
    router, runtime, serve,
};

mod console;
pub mod process;

#[allow(unused_imports)]
pub use console::{Ended, ServerInit, Viewer, Ws};

pub const ADMIN_PASSWORD: &str = "test-admin-password";
pub const USER_PASSWORD: &str = "user-password-1";

/// The server and its simulator, in this process; calls go through [`Api`].
pub struct TestServer {
    pub api: Api,
    pub addr: SocketAddr,
    pub runtime: runtime::Runtime,
}

impl std::ops::Deref for TestServer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Calls to a running server at `base`, as scripts and browsers make them.
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    /// Calls to the server at `base` (`http://host:port`).
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }
}

/// A VM of the demo cluster.
#[derive(Debug, Clone)]
pub struct Vm {
    pub cluster: String,
    pub node: String,
    pub vmid: u32,
    pub name: String,
}

/// Starts the server in demo mode with a fresh database.
pub async fn start() -> TestServer {
    start_with(&[]).await
}

/// Starts the server with a fresh database and `env` (`CECYBER_…` settings) on top of the
/// defaults (demo mode unless `env` configures clusters, a known admin password, a short delay
/// after a failed login).
pub async fn start_with(env: &[(&str, &str)]) -> TestServer {
    let dir = process::fresh_dir("test");
    let mut vars: Vec<(String, String)> = vec![
        (
            "CECYBER_DATABASE_URL".into(),
            format!("sqlite://{}/t.db", dir.display()),
        ),
        ("CECYBER_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
        ("CECYBER_LOGIN_FAILURE_DELAY_MS".into(), "10".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    // Demo mode unless the test configures clusters of its own.
    if !vars
        .iter()
        .any(|(k, _)| k.starts_with("CECYBER_CLUSTERS__"))
    {
        vars.push(("CECYBER_FORCE_DEMO".into(), "true".into()));
    }
    let (config, _): (Config, _) = load(&Cli::default(), vars).unwrap();
    let runtime = runtime::start(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve::serve(
        listener,
        router::app(&runtime),
        runtime.connection_limits,
        runtime.shutdown.clone(),
    ));
    TestServer {
        api: Api::new(format!("http://{addr}")),
        addr,
        runtime,
    }
}

impl TestServer {
    /// The simulator's state (console text, disconnects, faults).
    pub fn sim(&self) -> &pve::sim::SimState {
        self.runtime.simulator.as_ref().expect("demo mode").state()
    }

    /// Waits (up to 2 s) until the simulator has no console session open.
    pub async fn wait_no_pve_sessions(&self) {
        for _ in 0..100 {
            if self.sim().console_sessions() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the PVE side stayed open");
    }

    /// Waits (up to 5 s) until `vmid`'s screen shows the row `row`.
    pub async fn wait_text(&self, vmid: u32, row: &str) -> Vec<String> {
        let mut text = Vec::new();
        for _ in 0..250 {
            text = self.sim().console_text(vmid).unwrap_or_default();
            if text.iter().any(|l| l == row) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{row:?} not on the screen of VM {vmid}: {text:?}");
    }
}

impl Api {
    /// Our own origin, as a browser on our pages sends it.
    pub fn origin(&self) -> String {
        self.base.clone()
    }

    /// Calls server function `endpoint` with `cookie` (a `name=value` pair) and extra headers.
    pub async fn call_with(
        &self,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json")
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Calls server function `endpoint` with `cookie`.
    pub async fn call(
        &self,
        cookie: Option<&str>,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.call_with(cookie, &[], endpoint, form).await
    }

    /// Logs in; returns the session cookie as `name=value`.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self
            .http
            .post(format!("{}/api/login", self.base))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .unwrap_or_else(|| panic!("login of {username} failed: {}", response.status()))
            .to_str()
            .unwrap()
            .to_owned();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// The admin's session cookie.
    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user with `role` and logs them in.
    pub async fn user(&self, admin: &str, username: &str, role: &str) -> String {
        let (status, body) = self
            .call(
                Some(admin),
                "users_create",
                &[
                    ("username", username),
                    ("password", USER_PASSWORD),
                    ("role", role),
                ],
            )
            .await;
        assert!(status.is_success(), "create {username}: {status} {body}");
        self.login(username, USER_PASSWORD).await
    }

    /// The VMs of the demo cluster that are (or are not) running, by VM id.
    pub async fn vms(&self, cookie: &str, running: bool) -> Vec<Vm> {
        let (status, list) = self.call(Some(cookie), "vms_list", &[]).await;
        assert!(status.is_success(), "{list}");
        list["vms"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| (v["status"] == "running") == running && v["template"] != true)
            .map(|v| Vm {
                cluster: v["cluster"].as_str().unwrap().to_owned(),
                node: v["node"].as_str().unwrap().to_owned(),
                vmid: v["vmid"].as_u64().unwrap() as u32,
                name: v["name"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// `open_console` for `vm`.
    pub async fn open_console(&self, cookie: &str, vm: &Vm) -> (StatusCode, Value) {
        let vmid = vm.vmid.to_string();
        self.call(
            Some(cookie),
            "console_open",
            &[
                ("cluster", &vm.cluster),
                ("node", &vm.node),
                ("vmid", &vmid),
            ],
        )
        .await
    }

    /// The `ws_path` of a console `open_console` made for `cookie`'s user.
    pub async fn console_path(&self, cookie: &str, vm: &Vm) -> String {
        let (status, ticket) = self.open_console(cookie, vm).await;
        assert!(status.is_success(), "open_console: {status} {ticket}");
        ticket["ws_path"].as_str().unwrap().to_owned()
    }

    /// A new browser, with no cookies yet.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// A browser logged in as `username`.
    pub async fn log_in(&self, username: &str, password: &str) -> Browser {
        let browser = self.browser();
        let (status, body) = browser
            .call("login", &[("username", username), ("password", password)])
            .await;
        assert!(
            status.is_success() || status.is_redirection(),
            "login of {username} failed: {status} {body}"
        );
        browser
    }
}

/// The error variant's name of a server function's JSON error (`{"Forbidden": "..."}`).
pub fn error_kind(body: &Value) -> String {
    match body {
        Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A browser: an HTTP client keeping its cookies, on the test server.
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

impl Browser {
    /// Calls server function `endpoint` with the browser's cookies.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/api/{endpoint}", self.base))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Follows task `upid` of the demo cluster through `task_progress`, as the browser does,
    /// until it ends (30 s at most); its exit status.
    pub async fn finish_task(&self, upid: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, progress) = self
                .call("task_progress", &[("cluster", "demo"), ("upid", upid)])
                .await;
            assert_eq!(status, StatusCode::OK, "{progress}");
            if progress["running"] == false {
                return progress["exitstatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "task still running: {upid}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Guest `vmid`'s row of the VM list (`vms_list`, the whole list on one page).
    pub async fn guest(&self, vmid: u32) -> Value {
        let id = vmid.to_string();
        let (status, list) = self
            .call("vms_list", &[("query[q]", &id), ("query[per]", "200")])
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["vms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["vmid"] == vmid)
            .unwrap_or_else(|| panic!("guest {vmid}: {list}"))
            .clone()
    }

    /// `GET path` on the server with the browser's cookies.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }
}

/// The message of a server function's JSON error.
pub fn error_text(body: &Value) -> String {
    match body {
        Value::Object(map) => map
            .values()
            .next()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        other => other.to_string(),
    }
}
