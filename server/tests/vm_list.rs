//! The VM list as the server serves it: one page of the filtered, sorted VMs (the browser never
//! gets them all), "select all matching" for bulk actions, and the targets of a bulk
//! migration, each with its role checks. A simulator of 5 nodes and 120 VMs.
//! Run: `cargo test -p server --test vm_list`

use reqwest::StatusCode;
use serde_json::Value;

mod support;

use support::{ADMIN_PASSWORD, Browser, TestServer, error_kind, start_with};

async fn start() -> TestServer {
    start_with(&[
        ("CECYBER_DEMO__VMS", "120"),
        ("CECYBER_DEMO__CONTAINERS", "0"),
        ("CECYBER_DEMO__NODES", "5"),
    ])
    .await
}

async fn page(admin: &Browser, form: &[(&str, &str)]) -> Value {
    let (status, list) = admin.call("vms_list", form).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

fn ids(list: &Value) -> Vec<u64> {
    list["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vmid"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_is_served_a_page_at_a_time_filtered_and_sorted() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;

    let first = page(&admin, &[]).await;
    assert_eq!(
        (first["matched"].as_u64(), first["total"].as_u64()),
        (Some(120), Some(120))
    );
    assert_eq!(
        (first["page"].as_u64(), first["pages"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(ids(&first), (100..150).collect::<Vec<_>>());

    let last = page(&admin, &[("query[page]", "3")]).await;
    assert_eq!(ids(&last), (200..220).collect::<Vec<_>>());
    // Past the end: the last page, saying so.
    let past = page(&admin, &[("query[page]", "9")]).await;
    assert_eq!((past["page"].as_u64(), ids(&past).len()), (Some(3), 20));
    let all = page(&admin, &[("query[per_page]", "200")]).await;
    assert_eq!(ids(&all).len(), 120);
    // What the list does not offer is put right, not a failure (nor a division by zero).
    let odd = page(&admin, &[("query[per_page]", "0"), ("query[page]", "0")]).await;
    assert_eq!((odd["page"].as_u64(), ids(&odd).len()), (Some(1), 50));

    // Sorted by name descending over every page, not within one.
    let by_name = page(
        &admin,
        &[
            ("query[sort]", "name"),
            ("query[descending]", "true"),
            ("query[per_page]", "200"),
        ],
    )
    .await;
    let names: Vec<String> = by_name["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    // Pages are cut from the whole sorted list, not sorted one by one.
    let name_page = |n: &'static str| {
        [
            ("query[sort]", "name"),
            ("query[descending]", "true"),
            ("query[page]", n),
        ]
    };
    let (one, two) = (
        page(&admin, &name_page("1")).await,
        page(&admin, &name_page("2")).await,
    );
    let both: Vec<String> = [one, two]
        .iter()
        .flat_map(|p| p["vms"].as_array().unwrap().clone())
        .map(|v| v["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(both, names[..100]);

    // A filter counts what it matched on every page.
    let running = page(&admin, &[("query[status]", "running")]).await;
    let matched = running["matched"].as_u64().unwrap();
    assert!(matched > 0 && matched < 120, "{matched}");
    assert!(
        running["vms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["status"] == "running")
    );
    let templates = page(&admin, &[("query[status]", "template")]).await;
    assert_eq!(ids(&templates), [219], "the last VM is the template");
    let text = page(
        &admin,
        &[("query[text]", "WEB"), ("query[per_page]", "200")],
    )
    .await;
    let rows = text["vms"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|v| {
        v["name"].as_str().unwrap().contains("web")
            || v["tags"].as_array().unwrap().iter().any(|t| t == "web")
    }));
    // HA: the state PVE reports, its error as a filter, managed VMs first when sorted by it.
    let failed = page(&admin, &[("query[status]", "ha-error")]).await;
    assert_eq!(ids(&failed), [200]);
    assert_eq!(failed["vms"][0]["hastate"], "error");
    let by_ha = page(&admin, &[("query[sort]", "ha")]).await;
    let mut managed: Vec<u64> = ids(&by_ha).into_iter().take(4).collect();
    assert_eq!(managed[0], 200, "error sorts before started and stopped");
    managed.sort();
    assert_eq!(managed, [125, 150, 175, 200], "{by_ha}");
    assert!(by_ha["vms"][4]["hastate"].is_null());
    let locked = page(&admin, &[("query[status]", "locked")]).await;
    assert_eq!(
        locked["matched"].as_u64(),
        Some(0),
        "nothing runs a task yet"
    );
    // Pools come from PVE's resources, and the text filter finds them.
    let pooled = page(
        &admin,
        &[("query[text]", "kubernetes"), ("query[per_page]", "200")],
    )
    .await;
    let rows = pooled["vms"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|v| v["pool"] == "kubernetes"), "{pooled}");
}

#[tokio::test]
async fn select_all_matching_and_migration_targets_are_for_operators() {
    let server = start().await;
    let admin_cookie = server.admin().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;

    let running = page(&admin, &[("query[status]", "running")]).await;
    let (status, picks) = admin
        .call("vms_matching", &[("query[status]", "running")])
        .await;
    assert_eq!(status, StatusCode::OK, "{picks}");
    let picks = picks.as_array().unwrap();
    assert_eq!(picks.len() as u64, running["matched"].as_u64().unwrap());
    assert!(picks.len() > 50, "more than one page: {}", picks.len());
    assert!(picks.iter().all(|p| p["status"] == "running"));

    let (status, nodes) = admin.call("migration_nodes", &[("cluster", "demo")]).await;
    assert_eq!(status, StatusCode::OK, "{nodes}");
    assert_eq!(
        nodes,
        serde_json::json!(["pve1", "pve2", "pve3", "pve4", "pve5"])
    );
    let (status, body) = admin.call("migration_nodes", &[("cluster", "nope")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    server.user(&admin_cookie, "watcher", "viewer").await;
    let viewer = server.log_in("watcher", support::USER_PASSWORD).await;
    for (endpoint, form) in [
        ("vms_matching", vec![]),
        ("migration_nodes", vec![("cluster", "demo")]),
    ] {
        let (status, body) = viewer.call(endpoint, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
        assert_eq!(error_kind(&body), "Forbidden", "{endpoint}: {body}");
    }
    // Viewers still read the list.
    assert_eq!(page(&viewer, &[]).await["total"].as_u64(), Some(120));
}

#[tokio::test]
async fn a_scoped_operator_picks_acts_on_containers_and_follows_migrations_of_its_own() {
    let server = start_with(&[("CECYBER_DEMO__TASK_SPEED", "20")]).await;
    let admin_cookie = server.admin().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (status, body) = admin
        .call(
            "users_create",
            &[
                ("username", "netops"),
                ("password", support::USER_PASSWORD),
                ("role", "operator"),
                ("scope", "net"),
            ],
        )
        .await;
    assert!(status.is_success(), "{body}");
    let _ = admin_cookie;
    let netops = server.log_in("netops", support::USER_PASSWORD).await;

    // "Select all matching" stays in the scope, like the list.
    let (_, picks) = netops.call("vms_matching", &[]).await;
    let picks = picks.as_array().unwrap().clone();
    let listed = page(&netops, &[]).await;
    assert_eq!(picks.len() as u64, listed["total"].as_u64().unwrap());
    let all = page(&admin, &[]).await;
    assert!(picks.len() < ids(&all).len());
    for pick in &picks {
        let row = all["vms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["vmid"] == pick["vmid"])
            .unwrap();
        assert!(
            row["tags"].as_array().unwrap().iter().any(|t| t == "net"),
            "{row}"
        );
    }
    let (status, _) = netops.call("migration_nodes", &[("cluster", "demo")]).await;
    assert_eq!(status, StatusCode::OK);

    // Containers: its own starts, another tenant's is refused like one that does not exist.
    let rows = all["vms"].as_array().unwrap();
    let container = |tag: &str| {
        rows.iter()
            .find(|v| v["kind"] == "lxc" && v["tags"].as_array().unwrap().iter().any(|t| t == tag))
            .unwrap_or_else(|| panic!("a {tag} container: {all}"))
            .clone()
    };
    let theirs = container("prod");
    let (status, body) = power(&netops, &theirs, "stop").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let mine = container("net");
    let action = if mine["status"] == "running" {
        "stop"
    } else {
        "start"
    };
    let (status, task) = power(&netops, &mine, action).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let upid = task["upid"].as_str().unwrap().to_owned();
    assert!(
        upid.contains(if action == "stop" {
            ":vzstop:"
        } else {
            ":vzstart:"
        }),
        "{upid}"
    );
    assert_eq!(netops.finish_task(&upid).await, "OK");
    let (status, body) = power(&netops, &mine, "suspend").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A migration of its own VM: followed to its end although the VM left the task's node.
    let vm = rows
        .iter()
        .find(|v| {
            v["kind"] == "qemu"
                && v["status"] == "stopped"
                && v["tags"].as_array().unwrap().iter().any(|t| t == "net")
        })
        .expect("a stopped net VM")
        .clone();
    let node = vm["node"].as_str().unwrap().to_owned();
    let (_, targets) = netops.call("migration_nodes", &[("cluster", "demo")]).await;
    let target = targets
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .find(|t| *t != node)
        .unwrap();
    let vmid = vm["vmid"].to_string();
    let (status, started) = netops
        .call(
            "migration_start",
            &[
                ("cluster", "demo"),
                ("node", &node),
                ("vmid", &vmid),
                ("target", &target),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let upid = started["task"]["upid"].as_str().unwrap().to_owned();
    assert_eq!(netops.finish_task(&upid).await, "OK");
}

/// `vm_power` with `action` on the guest of a list row.
async fn power(user: &Browser, row: &Value, action: &str) -> (StatusCode, Value) {
    let vmid = row["vmid"].to_string();
    let form = [
        ("cluster", "demo"),
        ("node", row["node"].as_str().unwrap()),
        ("vmid", vmid.as_str()),
        ("action", action),
    ];
    user.call("vm_power", &form).await
}
