//! The whole server over real HTTP against the built-in simulator: login, roles, the VM list,
//! power actions and their tasks, bad input, and an unreachable cluster.
//! Run: `cargo test -p server --test http`

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

mod support;

use support::{ADMIN_PASSWORD, TestServer, error_kind, start_with};

/// The server in demo mode with `env` on top, and the login failure delay the first test
/// measures.
async fn start(env: &[(&str, &str)]) -> TestServer {
    let mut all = vec![("CECYBER_LOGIN_FAILURE_DELAY_MS", "300")];
    all.extend_from_slice(env);
    start_with(&all).await
}

#[tokio::test]
async fn wrong_password_is_refused_after_a_delay_without_a_hint() {
    let server = start(&[]).await;
    let client = server.browser();
    for (user, password) in [("admin", "wrong"), ("nobody", "wrong")] {
        let started = Instant::now();
        let (status, body) = client
            .call("login", &[("username", user), ("password", password)])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            Value::String("BadCredentials".into()),
            "same answer for user {user}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
    let (status, body) = client.call("vms_list", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, Value::String("Unauthenticated".into()));
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_pages_need_it() {
    let server = start(&[]).await;
    let anonymous = server.browser().client;
    let page = anonymous
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/login");

    let response = anonymous
        .post(format!("{}/api/login", server.base))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("cecyber_session="));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback");

    let home = anonymous
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(
        html.contains("Demo — simulated cluster"),
        "demo banner rendered on the server"
    );
    assert!(html.contains("/pkg/cecyber.js"), "hydration script");

    let login_again = anonymous
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login_again.headers()["location"],
        "/",
        "logged-in users skip the login page"
    );
}

#[tokio::test]
async fn operator_starts_a_stopped_vm_and_follows_its_task() {
    let server = start(&[]).await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (status, list) = admin.call("vms_list", &[]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let vms = list["vms"].as_array().unwrap();
    assert!(
        vms.len() >= 10,
        "the simulated cluster has about a dozen VMs"
    );
    assert!(list["problems"].as_array().unwrap().is_empty());
    let stopped = vms
        .iter()
        .find(|v| v["status"] == "stopped" && v["template"] == false)
        .expect("a stopped VM");
    let (node, vmid) = (
        stopped["node"].as_str().unwrap(),
        stopped["vmid"].to_string(),
    );

    let (status, task) = admin
        .call(
            "vm_power",
            &[
                ("cluster", "demo"),
                ("node", node),
                ("vmid", &vmid),
                ("action", "start"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let upid = task["upid"].as_str().unwrap().to_owned();
    assert!(
        upid.starts_with(&format!("UPID:{node}:")) && upid.contains(":qmstart:"),
        "{upid}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let progress = loop {
        let (_, progress) = admin
            .call("task_progress", &[("cluster", "demo"), ("upid", &upid)])
            .await;
        if progress["running"] == false {
            break progress;
        }
        assert!(Instant::now() < deadline, "task did not finish");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(progress["exitstatus"], "OK");

    let (_, detail) = admin
        .call(
            "vm_detail",
            &[("cluster", "demo"), ("node", node), ("vmid", &vmid)],
        )
        .await;
    assert_eq!(detail["status"]["status"], "running", "{detail}");
}

#[tokio::test]
async fn viewers_may_look_but_the_server_refuses_their_actions() {
    let server = start(&[]).await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (status, body) = admin
        .call(
            "users_create",
            &[
                ("username", "vera"),
                ("password", "viewer-pass"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let viewer = server.log_in("vera", "viewer-pass").await;
    let (status, list) = viewer.call("vms_list", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let vm = &list["vms"][0];
    let (node, vmid) = (vm["node"].as_str().unwrap(), vm["vmid"].to_string());
    for action in ["start", "stop", "shutdown", "reboot"] {
        let (status, body) = viewer
            .call(
                "vm_power",
                &[
                    ("cluster", "demo"),
                    ("node", node),
                    ("vmid", &vmid),
                    ("action", action),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(error_kind(&body), "Forbidden", "{body}");
    }
    let (status, body) = viewer.call("users_list", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_kind(&body), "Forbidden");
    let (_, body) = viewer
        .call(
            "users_create",
            &[
                ("username", "eve"),
                ("password", "12345678"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(error_kind(&body), "Forbidden");
}

#[tokio::test]
async fn bad_targets_get_clear_errors() {
    let server = start(&[]).await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("cluster", "demo"), ("node", "pve1/../x"), ("vmid", "100")],
            "InvalidInput",
        ),
        (
            &[("cluster", "demo"), ("node", "pve1"), ("vmid", "abc")],
            "InvalidInput",
        ),
        (
            &[("cluster", "demo"), ("node", "pve1"), ("vmid", "999999")],
            "NotFound",
        ),
        (
            &[("cluster", "nope"), ("node", "pve1"), ("vmid", "100")],
            "NotFound",
        ),
    ];
    for (form, kind) in cases {
        let (status, body) = admin.call("vm_detail", form).await;
        let expected = match kind {
            "InvalidInput" => StatusCode::BAD_REQUEST,
            _ => StatusCode::NOT_FOUND,
        };
        assert_eq!(status, expected, "{form:?} → {body}");
        assert_eq!(error_kind(&body), kind, "{form:?} → {body}");
    }
    let (_, body) = admin
        .call(
            "vm_power",
            &[
                ("cluster", "demo"),
                ("node", "pve1"),
                ("vmid", "100"),
                ("action", "explode"),
            ],
        )
        .await;
    assert_eq!(error_kind(&body), "InvalidInput");
}

/// Server-function errors carry the HTTP status of their kind, so that proxies, monitoring and
/// API clients tell a refusal from a failure; the body stays the error the browser decodes.
#[tokio::test]
async fn server_function_errors_carry_their_http_status() {
    let server = start(&[]).await;
    let anonymous = server.browser();
    for endpoint in [
        "users_list",
        "vms_list",
        "embed_links_list",
        "alerts_active",
    ] {
        let (status, body) = anonymous.call(endpoint, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{endpoint}: {body}");
        assert_eq!(body, Value::String("Unauthenticated".into()), "{endpoint}");
    }

    let admin = server.admin().await;
    let viewer = server.user(&admin, "vic", "viewer").await;
    for endpoint in [
        "users_list",
        "embed_links_list",
        "wall_list",
        "api_tokens_create",
    ] {
        let (status, body) = server
            .call(Some(&viewer), endpoint, &[("label", "x")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
        assert_eq!(error_kind(&body), "Forbidden", "{endpoint}");
    }

    // Arguments the server function cannot even decode.
    let (status, body) = server.call(Some(&admin), "vm_detail", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A console of a VM that is not running: the request is fine, the VM's state is not.
    let stopped = &server.vms(&admin, false).await[0];
    let (status, body) = server.open_console(&admin, stopped).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_kind(&body), "Conflict");

    // Success stays 200.
    let (status, _) = server.call(Some(&admin), "users_list", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cross_origin_writes_are_refused() {
    let server = start(&[]).await;
    let response = server
        .browser()
        .client
        .post(format!("{}/api/login", server.base))
        .header("origin", "http://evil.example")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("set-cookie").is_none());
}

/// Behind a reverse proxy that rewrites `Host` (nginx's default), `public_url` names the origin
/// browsers use: writes from it pass, and the `Host` no longer counts as our origin.
#[tokio::test]
async fn behind_a_proxy_the_public_url_is_the_own_origin() {
    let server = start(&[("CECYBER_PUBLIC_URL", "https://panel.example")]).await;
    let login = |origin: &'static str| {
        server
            .browser()
            .client
            .post(format!("{}/api/login", server.base))
            .header("origin", origin)
            .header("accept", "application/json")
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
            .send()
    };
    let through_proxy = login("https://panel.example").await.unwrap();
    assert_eq!(through_proxy.status(), StatusCode::OK);
    assert!(through_proxy.headers().get("set-cookie").is_some());
    let own_host = format!("http://{}", server.addr);
    let direct = server
        .browser()
        .client
        .post(format!("{}/api/login", server.base))
        .header("origin", own_host)
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        direct.status(),
        StatusCode::FORBIDDEN,
        "the Host is not the origin then"
    );
    assert_eq!(
        login("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_unreachable_cluster_is_reported_and_nothing_breaks() {
    // A closed port: connections are refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = start(&[
        ("CECYBER_CLUSTERS__0__NAME", "down"),
        ("CECYBER_CLUSTERS__0__URLS", &url),
        ("CECYBER_CLUSTERS__0__TOKEN_ID", "root@pam!cecyber"),
        (
            "CECYBER_CLUSTERS__0__TOKEN_SECRET",
            "00000000-0000-0000-0000-000000000000",
        ),
        ("CECYBER_CLUSTERS__0__CONNECT_TIMEOUT_SECS", "2"),
    ])
    .await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (status, list) = admin.call("vms_list", &[]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list["vms"].as_array().unwrap().is_empty());
    assert_eq!(list["problems"][0]["cluster"], "down");
    let message = list["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("unreachable"), "{message}");
    assert!(!message.contains("00000000-0000"), "no secret in messages");

    let (_, body) = admin
        .call(
            "vm_detail",
            &[("cluster", "down"), ("node", "pve1"), ("vmid", "100")],
        )
        .await;
    assert_eq!(error_kind(&body), "Unavailable", "{body}");
    // The server still answers.
    let health = server
        .browser()
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Readiness names the cluster that does not answer, without its message; anyone may ask.
    let (status, ready) = readyz(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["ready"], false);
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["render"]["ok"], true);
    assert_eq!(ready["clusters"][0]["name"], "down");
    assert_eq!(ready["clusters"][0]["ok"], false);
    assert_eq!(ready["clusters"][0]["error"], "unreachable", "{ready}");
}

/// `GET /readyz` without a session: its status and JSON.
async fn readyz(server: &TestServer) -> (StatusCode, Value) {
    let response = server.browser().get("/readyz").send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn readiness_is_public_and_ok_when_everything_answers() {
    let server = start(&[]).await;
    let (status, ready) = readyz(&server).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["clusters"][0]["name"], "demo");
    assert_eq!(ready["clusters"][0]["ok"], true);
    assert_eq!(ready["render"]["replaced"], 0);
}

/// A backup of every VM of a node writes a log far longer than one screen (and than the 50
/// lines once read): following it from line 0, then from each answer's `next`, yields the
/// whole log exactly once, as PVE has it.
#[tokio::test]
async fn a_long_task_log_is_read_whole_page_by_page() {
    let server = start(&[("CECYBER_DEMO__TASK_SPEED", "25")]).await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let sim = server.runtime.simulator.as_ref().expect("demo mode");
    let (token_id, secret) = sim.api_token();
    // Straight to the simulator: Cecyber starts no backups yet.
    let pve = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let auth = format!("PVEAPIToken={token_id}={secret}");
    let reply: Value = pve
        .post(format!("{}/api2/json/nodes/pve1/vzdump", sim.base_url()))
        .header("Authorization", &auth)
        .form(&[("all", "1"), ("storage", "backup")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upid = reply["data"].as_str().expect("a UPID").to_owned();

    let follow = async |from: u64| {
        let from = from.to_string();
        let (status, progress) = admin
            .call(
                "task_progress",
                &[("cluster", "demo"), ("upid", &upid), ("from", &from)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{progress}");
        progress
    };
    let (mut lines, mut next) = (Vec::<String>::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let progress = follow(next).await;
        let page = progress["log"].as_array().unwrap();
        lines.extend(page.iter().map(|l| l.as_str().unwrap().to_owned()));
        let new_next = progress["next"].as_u64().unwrap();
        assert_eq!(new_next, lines.len() as u64, "next counts the lines read");
        next = new_next;
        if progress["running"] == false && page.is_empty() {
            assert_eq!(progress["exitstatus"], "OK", "{progress}");
            break;
        }
        assert!(Instant::now() < deadline, "the backup did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let whole: Value = pve
        .get(format!(
            "{}/api2/json/nodes/pve1/tasks/{upid}/log?start=0&limit=0",
            sim.base_url()
        ))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let whole: Vec<String> = whole["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["t"].as_str().unwrap().to_owned())
        .collect();
    assert!(whole.len() > 50, "a long log: {} lines", whole.len());
    assert_eq!(lines, whole, "every line once, in order");
    assert!(lines.last().unwrap().starts_with("TASK OK"), "{lines:?}");

    // From the middle: the rest, numbered as PVE numbers it.
    let rest = follow(30).await;
    assert_eq!(rest["log"].as_array().unwrap().len(), whole.len() - 30);
    assert_eq!(rest["log"][0], whole[30].as_str());
    assert_eq!(rest["next"], whole.len() as u64);
}

/// The task center lists every task of the cluster, by anyone (here a backup started with an
/// API token straight at PVE); operators stop a running one, viewers may not, and a task that
/// has ended cannot be stopped again.
#[tokio::test]
async fn the_task_center_lists_every_task_and_operators_stop_a_running_one() {
    let server = start(&[]).await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let admin_cookie = server.admin().await;
    let viewer = server.user(&admin_cookie, "taskviewer", "viewer").await;
    let sim = server.runtime.simulator.as_ref().expect("demo mode");
    let (token_id, secret) = sim.api_token();
    let pve = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    // At real speed a backup of every VM of a node runs for half a minute or more.
    let reply: Value = pve
        .post(format!("{}/api2/json/nodes/pve1/vzdump", sim.base_url()))
        .header("Authorization", format!("PVEAPIToken={token_id}={secret}"))
        .form(&[("all", "1"), ("storage", "backup")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upid = reply["data"].as_str().expect("a UPID").to_owned();

    let (status, list) = admin.call("tasks_list", &[]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list["problems"].as_array().unwrap().is_empty(), "{list}");
    let backup = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["upid"] == upid.as_str())
        .unwrap_or_else(|| panic!("the backup is listed: {list}"));
    assert_eq!(backup["kind"], "vzdump");
    assert_eq!(backup["node"], "pve1");
    assert_eq!(backup["running"], true);
    assert_eq!(
        backup["user"],
        token_id.as_str(),
        "user and token, as PVE names them"
    );

    let form = [("cluster", "demo"), ("upid", upid.as_str())];
    let (status, body) = server.call(Some(&viewer), "task_stop", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = admin.call("task_stop", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let progress = loop {
        let (_, progress) = admin.call("task_progress", &form).await;
        if progress["running"] == false {
            break progress;
        }
        assert!(Instant::now() < deadline, "the stopped task still runs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(progress["exitstatus"], "OK", "{progress}");
    let log: Vec<&str> = progress["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(log.contains(&"received interrupt"), "{log:?}");
    let (status, list) = admin.call("tasks_list", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let backup = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["upid"] == upid.as_str())
        .unwrap();
    assert_eq!(backup["running"], false);

    let (status, body) = admin.call("task_stop", &form).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_kind(&body), "Conflict", "{body}");
}
