//! Shared helpers of the simulator tests: start a simulator on port 0 and talk to it over real
//! HTTP like a PVE client does (ticket cookie + CSRF header, or API token).

#![allow(dead_code)]

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use pve::sim::{SimConfig, SimHandle, Simulator};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A simulator with fast tasks and a short 401 delay.
pub async fn start() -> SimHandle {
    start_with(SimConfig {
        root_password: "secret".into(),
        task_speed: 20.0,
        auth_failure_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
}

/// A simulator with the given configuration (bound to a free loopback port).
pub async fn start_with(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.expect("simulator starts")
}

/// A reqwest client that accepts the simulator's self-signed certificate.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("reqwest client")
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Ticket {
        ticket: String,
        csrf: Option<String>,
    },
    Token(String),
}

/// An answer: status, the `x-pve-sim-reason` header, and the body (JSON, or `Null` if empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub reason: Option<String>,
    pub body: Value,
}

impl Answer {
    /// `data` of a successful answer.
    pub fn data(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        &self.body["data"]
    }

    /// `message` of an error answer.
    pub fn message(&self) -> &str {
        self.body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {self:?}"))
    }
}

/// A client of one simulator.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    pub auth: Auth,
}

impl Client {
    /// Unauthenticated client.
    pub fn new(sim: &SimHandle) -> Self {
        Self {
            http: http_client(),
            base: format!("{}/api2/json", sim.base_url()),
            auth: Auth::None,
        }
    }

    /// Client using the API token.
    pub fn with_token(sim: &SimHandle) -> Self {
        let (id, secret) = sim.api_token();
        Self {
            auth: Auth::Token(format!("{id}={secret}")),
            ..Self::new(sim)
        }
    }

    /// Logs in with a password and keeps the ticket and CSRF token.
    pub async fn login(sim: &SimHandle, user: &str, password: &str) -> Self {
        let mut c = Self::new(sim);
        let a = c
            .post(
                "/access/ticket",
                &[("username", user), ("password", password)],
            )
            .await;
        let d = a.data();
        c.auth = Auth::Ticket {
            ticket: d["ticket"].as_str().unwrap().to_owned(),
            csrf: Some(d["CSRFPreventionToken"].as_str().unwrap().to_owned()),
        };
        c
    }

    /// The same client without its CSRF token.
    pub fn without_csrf(&self) -> Self {
        let mut c = self.clone();
        if let Auth::Ticket { csrf, .. } = &mut c.auth {
            *csrf = None;
        }
        c
    }

    /// GET `path` (relative to `/api2/json`, may carry a query string).
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, &[]).await
    }

    /// POST `path` with a form body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.call(Method::POST, path, form).await
    }

    /// Any request.
    pub async fn call(&self, method: Method, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        match &self.auth {
            Auth::None => {}
            Auth::Ticket { ticket, csrf } => {
                let cookie = utf8_percent_encode(ticket, NON_ALPHANUMERIC);
                req = req.header("Cookie", format!("PVEAuthCookie={cookie}"));
                if let Some(csrf) = csrf {
                    req = req.header("CSRFPreventionToken", csrf);
                }
            }
            Auth::Token(value) => req = req.header("Authorization", format!("PVEAPIToken={value}")),
        }
        if method != Method::GET {
            req = req.form(form);
        }
        let res = req.send().await.expect("request is answered");
        let status = res.status();
        let reason = res
            .headers()
            .get("x-pve-sim-reason")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = res.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Answer {
            status,
            reason,
            body,
        }
    }

    /// Polls a task until it stops; returns its final status.
    pub async fn wait_task(&self, upid: &str) -> Value {
        let node = upid.split(':').nth(1).unwrap();
        for _ in 0..200 {
            let a = self
                .get(&format!("/nodes/{node}/tasks/{}/status", encode(upid)))
                .await;
            if a.data()["status"] == "stopped" {
                return a.data().clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("task {upid} did not finish");
    }
}

/// Percent-encodes a path segment (UPIDs contain `:`, `@` and `!`).
pub fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

/// The `qemu` entries of `/cluster/resources`.
pub async fn vms(c: &Client) -> Vec<Value> {
    let a = c.get("/cluster/resources?type=vm").await;
    a.data().as_array().unwrap().clone()
}

/// A VM matching `pred`: (node, vmid).
pub async fn find_vm(c: &Client, pred: impl Fn(&Value) -> bool) -> (String, u64) {
    let vm = vms(c)
        .await
        .into_iter()
        .find(|v| pred(v))
        .expect("a matching VM");
    (
        vm["node"].as_str().unwrap().to_owned(),
        vm["vmid"].as_u64().unwrap(),
    )
}
