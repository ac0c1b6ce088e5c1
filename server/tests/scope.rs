//! User scopes over real HTTP against the built-in simulator: a scoped user sees and reaches only
//! the VMs carrying one of its PVE tags (list, details, history, tasks, power actions, console,
//! alerts), no node figures, and an out-of-scope VM answers like one that does not exist. Admins
//! set scopes through the server function; bad tags change nothing, and one admin always keeps
//! an unrestricted scope. A scoped admin mints embed links only for VMs in scope.
//!
//! Run: `cargo test -p server --test scope`

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

use support::{ADMIN_PASSWORD, Browser, error_kind, error_text};

/// The demo server of the console tests, driven here through cookie-keeping browsers.
struct TestServer {
    base: String,
    server: support::TestServer,
}

async fn start() -> TestServer {
    let server = support::start().await;
    TestServer {
        base: server.base.clone(),
        server,
    }
}

/// A VM as the list shows it.
#[derive(Debug, Clone)]
struct Vm {
    node: String,
    vmid: String,
    status: String,
    template: bool,
    tags: Vec<String>,
}

impl Vm {
    fn from_row(row: &Value) -> Self {
        Self {
            node: row["node"].as_str().unwrap().to_owned(),
            vmid: row["vmid"].to_string(),
            status: row["status"].as_str().unwrap().to_owned(),
            template: row["template"] == true,
            tags: row["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect(),
        }
    }

    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// `cluster`, `node`, `vmid` as a form.
    fn target(&self) -> [(&'static str, &str); 3] {
        [
            ("cluster", "demo"),
            ("node", &self.node),
            ("vmid", &self.vmid),
        ]
    }
}

impl TestServer {
    /// Calls a server function that must succeed.
    async fn ok(&self, client: &Browser, endpoint: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = client.call(endpoint, form).await;
        assert_eq!(status, StatusCode::OK, "{endpoint} {form:?}: {body}");
        body
    }

    /// Calls a server function that must fail with error `kind`; returns the message.
    async fn refused(
        &self,
        client: &Browser,
        endpoint: &str,
        form: &[(&str, &str)],
        kind: &str,
    ) -> String {
        let (status, body) = client.call(endpoint, form).await;
        assert!(!status.is_success(), "{endpoint} {form:?} passed: {body}");
        assert_eq!(error_kind(&body), kind, "{endpoint} {form:?}: {body}");
        error_text(&body)
    }

    async fn login(&self, username: &str, password: &str) -> Browser {
        self.server.log_in(username, password).await
    }

    /// Creates a user through the admin's server function and logs them in.
    async fn user(&self, admin: &Browser, name: &str, role: &str, scope: &str) -> Browser {
        let password = format!("{name}-password");
        self.ok(
            admin,
            "users_create",
            &[
                ("username", name),
                ("password", &password),
                ("role", role),
                ("scope", scope),
            ],
        )
        .await;
        self.login(name, &password).await
    }

    async fn vms(&self, client: &Browser) -> Vec<Vm> {
        let list = self.ok(client, "vms_list", &[]).await;
        list["vms"]
            .as_array()
            .unwrap()
            .iter()
            .map(Vm::from_row)
            .collect()
    }

    /// The scope the users page shows for `name`.
    async fn scope_of(&self, admin: &Browser, name: &str) -> Value {
        let users = self.ok(admin, "users_list", &[]).await;
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {users}"))["scope"]
            .clone()
    }

    /// Waits for a task to end; returns its exit status.
    async fn finish(&self, client: &Browser, upid: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let progress = self
                .ok(
                    client,
                    "task_progress",
                    &[("cluster", "demo"), ("upid", upid)],
                )
                .await;
            if progress["running"] == false {
                return progress["exitstatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
            assert!(Instant::now() < deadline, "task {upid} did not finish");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Borrows an owned form.
fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A tag some but not all of the simulated VMs carry (`prod` when it qualifies), and the VMs
/// split by it: (with the tag, without it).
fn split_by_tag(all: &[Vm]) -> (String, Vec<Vm>, Vec<Vm>) {
    let mut candidates: Vec<&str> = vec!["prod"];
    candidates.extend(all.iter().flat_map(|v| v.tags.iter().map(String::as_str)));
    let tag = candidates
        .into_iter()
        .find(|t| {
            let n = all.iter().filter(|v| v.has(t)).count();
            n > 0 && n < all.len() && all.iter().any(|v| !v.has(t) && !v.template)
        })
        .expect("a tag that splits the simulated VMs")
        .to_owned();
    let (inside, outside) = all.iter().cloned().partition(|v| v.has(&tag));
    (tag, inside, outside)
}

#[tokio::test]
async fn a_scoped_viewer_sees_only_vms_with_its_tags_and_no_node_figures() {
    let server = start().await;
    let admin = server.login("admin", ADMIN_PASSWORD).await;
    let all = server.vms(&admin).await;
    assert!(all.len() >= 10, "the simulated cluster has a dozen VMs");
    let (tag, inside, outside) = split_by_tag(&all);

    let viewer = server
        .user(&admin, "tina", "viewer", &tag.to_uppercase())
        .await;
    assert_eq!(
        server.scope_of(&admin, "tina").await,
        json!({ "tags": [tag] }),
        "stored normalised"
    );
    let seen: BTreeSet<String> = server
        .vms(&viewer)
        .await
        .into_iter()
        .map(|v| v.vmid)
        .collect();
    let expected: BTreeSet<String> = inside.iter().map(|v| v.vmid.clone()).collect();
    assert_eq!(seen, expected, "only the VMs tagged {tag}");

    // A VM in scope: details and history.
    let mine = &inside[0];
    let detail = server.ok(&viewer, "vm_detail", &mine.target()).await;
    assert_eq!(detail["status"]["vmid"].to_string(), mine.vmid, "{detail}");
    let history = [("timeframe", "hour"), ("cf", "AVERAGE")];
    let form: Vec<_> = mine.target().into_iter().chain(history).collect();
    let points = server.ok(&viewer, "vm_history", &form).await;
    assert!(!points.as_array().unwrap().is_empty());

    // Outside the scope, and absent, answer alike.
    let theirs = &outside[0];
    let not_mine = server
        .refused(&viewer, "vm_detail", &theirs.target(), "NotFound")
        .await;
    assert!(not_mine.contains("in your scope"), "{not_mine}");
    let absent = server
        .refused(
            &viewer,
            "vm_detail",
            &[
                ("cluster", "demo"),
                ("node", &theirs.node),
                ("vmid", "99999"),
            ],
            "NotFound",
        )
        .await;
    assert_eq!(
        absent,
        not_mine.replace(&theirs.vmid, "99999"),
        "no way to tell another tenant's VM from no VM"
    );
    let form: Vec<_> = theirs.target().into_iter().chain(history).collect();
    server
        .refused(&viewer, "vm_history", &form, "NotFound")
        .await;

    // The admin sees the same VM (an admin without scope sees everything).
    server.ok(&admin, "vm_detail", &theirs.target()).await;

    // Node figures are not for scoped users.
    let node = [("cluster", "demo"), ("node", mine.node.as_str())];
    let refusal = server
        .refused(&viewer, "node_overview", &node, "Forbidden")
        .await;
    assert!(refusal.contains("outside your scope"), "{refusal}");
    let form: Vec<_> = node.into_iter().chain(history).collect();
    server
        .refused(&viewer, "node_history", &form, "Forbidden")
        .await;
    server.ok(&admin, "node_overview", &node).await;

    // Tasks of other tenants' VMs cannot be followed.
    let stopped = outside
        .iter()
        .find(|v| !v.template)
        .expect("an out-of-scope VM that can be started or stopped");
    let action = if stopped.status == "running" {
        "stop"
    } else {
        "start"
    };
    let form: Vec<_> = stopped
        .target()
        .into_iter()
        .chain([("action", action)])
        .collect();
    let task = server.ok(&admin, "vm_power", &form).await;
    let upid = task["upid"].as_str().unwrap();
    server
        .refused(
            &viewer,
            "task_progress",
            &[("cluster", "demo"), ("upid", upid)],
            "NotFound",
        )
        .await;
    assert_eq!(server.finish(&admin, upid).await, "OK");

    // Alerts (none of another tenant's, no node alerts): the call works for a scoped user.
    server.ok(&viewer, "alerts_active", &[]).await;
    server.ok(&viewer, "alerts_history", &[]).await;
}

#[tokio::test]
async fn a_scoped_operator_acts_only_on_vms_in_scope() {
    let server = start().await;
    let admin = server.login("admin", ADMIN_PASSWORD).await;
    let all = server.vms(&admin).await;
    let (tag, inside, outside) = split_by_tag(&all);
    let operator = server.user(&admin, "otto", "operator", &tag).await;

    // Power actions on another tenant's VM are refused and change nothing.
    let theirs = outside.iter().find(|v| !v.template).unwrap();
    for action in ["start", "stop", "shutdown", "reboot"] {
        let form: Vec<_> = theirs
            .target()
            .into_iter()
            .chain([("action", action)])
            .collect();
        server
            .refused(&operator, "vm_power", &form, "NotFound")
            .await;
    }
    let after = server.ok(&admin, "vm_detail", &theirs.target()).await;
    assert_eq!(after["status"]["status"], theirs.status.as_str());
    server
        .refused(&operator, "console_open", &theirs.target(), "NotFound")
        .await;

    // On its own VMs the operator works as before, and follows its task.
    let mine = inside.iter().find(|v| !v.template).unwrap();
    let action = if mine.status == "running" {
        "stop"
    } else {
        "start"
    };
    let form: Vec<_> = mine
        .target()
        .into_iter()
        .chain([("action", action)])
        .collect();
    let task = server.ok(&operator, "vm_power", &form).await;
    let upid = task["upid"].as_str().unwrap();
    assert_eq!(server.finish(&operator, upid).await, "OK");
    if action == "stop" {
        let form: Vec<_> = mine
            .target()
            .into_iter()
            .chain([("action", "start")])
            .collect();
        let task = server.ok(&operator, "vm_power", &form).await;
        assert_eq!(
            server
                .finish(&operator, task["upid"].as_str().unwrap())
                .await,
            "OK"
        );
    }
    let console = server.ok(&operator, "console_open", &mine.target()).await;
    assert!(
        console["ws_path"]
            .as_str()
            .unwrap()
            .starts_with("/api/console/ws?session="),
        "{console}"
    );
}

#[tokio::test]
async fn admins_set_scopes_bad_tags_change_nothing_and_one_admin_sees_everything() {
    let server = start().await;
    let admin = server.login("admin", ADMIN_PASSWORD).await;
    let all = server.vms(&admin).await;
    let (tag, inside, _) = split_by_tag(&all);
    let viewer = server.user(&admin, "vic", "viewer", "").await;
    assert_eq!(
        server.scope_of(&admin, "vic").await,
        json!({ "tags": null })
    );
    assert_eq!(
        server.vms(&viewer).await.len(),
        all.len(),
        "empty scope = all VMs"
    );

    // A bad tag is refused with a clear message, and the scope stays as it was.
    let message = server
        .refused(
            &admin,
            "users_set_scope",
            &[("username", "vic"), ("scope", &format!("{tag}, ../etc"))],
            "InvalidInput",
        )
        .await;
    assert!(message.contains("not a valid PVE tag"), "{message}");
    assert_eq!(
        server.scope_of(&admin, "vic").await,
        json!({ "tags": null })
    );
    let bad_new = admin
        .call(
            "users_create",
            &[
                ("username", "nemo"),
                ("password", "nemo-password"),
                ("role", "viewer"),
                ("scope", "a/b"),
            ],
        )
        .await;
    assert_eq!(error_kind(&bad_new.1), "InvalidInput", "{}", bad_new.1);
    let users = server.ok(&admin, "users_list", &[]).await;
    assert!(!users.to_string().contains("nemo"), "not created: {users}");

    // A good scope applies at once to the open session.
    server
        .ok(
            &admin,
            "users_set_scope",
            &[("username", "vic"), ("scope", &tag)],
        )
        .await;
    assert_eq!(
        server.scope_of(&admin, "vic").await,
        json!({ "tags": [tag] })
    );
    assert_eq!(server.vms(&viewer).await.len(), inside.len());

    // Only admins set scopes, and the last unscoped admin stays unscoped.
    server
        .refused(
            &viewer,
            "users_set_scope",
            &[("username", "vic"), ("scope", "")],
            "Forbidden",
        )
        .await;
    let last = server
        .refused(
            &admin,
            "users_set_scope",
            &[("username", "admin"), ("scope", &tag)],
            "InvalidInput",
        )
        .await;
    assert!(last.contains("last admin"), "{last}");
    assert_eq!(
        server.scope_of(&admin, "admin").await,
        json!({ "tags": null })
    );
    server
        .refused(
            &admin,
            "users_set_scope",
            &[("username", "ghost"), ("scope", &tag)],
            "NotFound",
        )
        .await;
}

#[tokio::test]
async fn a_scoped_admin_mints_embed_links_only_for_vms_in_scope() {
    let server = start().await;
    let admin = server.login("admin", ADMIN_PASSWORD).await;
    let all = server.vms(&admin).await;
    let (tag, inside, outside) = split_by_tag(&all);
    let scoped = server.user(&admin, "sam", "admin", &tag).await;
    let link = |vm: &Vm| -> Vec<(&'static str, String)> {
        let form = [
            ("origin", "https://portal.example"),
            ("ttl_secs", "60"),
            ("single_use", "false"),
            ("view_only", "true"),
        ];
        vm.target()
            .into_iter()
            .chain(form)
            .map(|(k, v)| (k, v.to_owned()))
            .collect()
    };
    let theirs = link(&outside[0]);
    let (status, body) = scoped.call("embed_links_create", &pairs(&theirs)).await;
    assert_eq!(error_kind(&body), "NotFound", "{status} {body}");
    let mine = link(&inside[0]);
    server
        .ok(&scoped, "embed_links_create", &pairs(&mine))
        .await;

    // The same through the API with the scoped admin's token.
    let token = server
        .ok(&scoped, "api_tokens_create", &[("label", "portal")])
        .await;
    let token = token.as_str().unwrap();
    let api = |vm: &Vm| {
        json!({
            "cluster": "demo", "node": vm.node, "vmid": vm.vmid.parse::<u32>().unwrap(),
            "origin": "https://portal.example", "ttl_secs": 60
        })
    };
    for (vm, expected) in [
        (&outside[0], StatusCode::NOT_FOUND),
        (&inside[0], StatusCode::CREATED),
    ] {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/embed-links", server.base))
            .bearer_auth(token)
            .json(&api(vm))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "VM {}", vm.vmid);
    }

    // The wall shows every node and VM: a scoped admin cannot mint a wall link.
    server
        .refused(&scoped, "wall_create", &[("label", "tv")], "Forbidden")
        .await;
    server.ok(&admin, "wall_create", &[("label", "tv")]).await;
}

/// The VM list names nodes that are down: every one for users who see nodes, for a scoped user
/// only those hosting one of its VMs (others' node names stay out of its view).
#[tokio::test]
async fn the_vm_list_names_offline_nodes_within_the_scope() {
    let server = start().await;
    let admin = server.login("admin", ADMIN_PASSWORD).await;
    let all = server.vms(&admin).await;
    let (tag, inside, _) = split_by_tag(&all);
    let viewer = server.user(&admin, "nora", "viewer", &tag).await;
    let nodes: BTreeSet<&str> = all.iter().map(|v| v.node.as_str()).collect();
    let mine: BTreeSet<&str> = inside.iter().map(|v| v.node.as_str()).collect();
    for node in nodes {
        server
            .server
            .sim()
            .set_faults(pve::sim::Faults {
                node_offline: Some(node.to_owned()),
                ..Default::default()
            })
            .unwrap();
        let down = |list: Value| -> Vec<Value> {
            list["nodes_down"].as_array().cloned().unwrap_or_default()
        };
        // Asked of PVE now (the Refresh button): the collector's poll may be from before.
        let for_admin = down(server.ok(&admin, "vms_list", &[("fresh", "true")]).await);
        assert_eq!(for_admin.len(), 1, "{for_admin:?}");
        assert_eq!(for_admin[0]["node"], node);
        assert_eq!(for_admin[0]["cluster"], "demo");
        assert_ne!(for_admin[0]["status"], "online");
        let for_viewer = down(server.ok(&viewer, "vms_list", &[("fresh", "true")]).await);
        let expected = usize::from(mine.contains(node));
        assert_eq!(for_viewer.len(), expected, "{node}: {for_viewer:?}");
    }
    server
        .server
        .sim()
        .set_faults(pve::sim::Faults::default())
        .unwrap();
    let list = server.ok(&admin, "vms_list", &[("fresh", "true")]).await;
    assert_eq!(list["nodes_down"], json!([]), "{list}");
}
