//! The simulator's answers against the PVE 9.1 API schema (`returns` of each endpoint): every
//! required field present, every field typed as the schema says, enum values valid, and no
//! field outside the schema except the few real PVE sends anyway (seen in recordings).
//! The same checker runs over recorded real answers, so it is neither too strict nor too lax.
//!
//! Run: `cargo test -p pve --features sim --test sim_schema`

#![cfg(feature = "sim")]

#[path = "support/reference.rs"]
mod reference;

mod sim_support;

use std::path::PathBuf;

use serde_json::Value;
use sim_support::{Client, encode, find_vm, start};

fn shared(rel: &str) -> PathBuf {
    reference::pve_reference_dir().join(rel)
}

fn load(rel: &str) -> Value {
    let text = std::fs::read_to_string(shared(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The `returns` schema of `method path` in the 9.1 schema tree.
fn returns(schema: &Value, path: &str, method: &str) -> Value {
    fn find<'a>(nodes: &'a Value, path: &str) -> Option<&'a Value> {
        nodes.as_array()?.iter().find_map(|n| {
            if n["path"] == path {
                Some(n)
            } else {
                n.get("children").and_then(|c| find(c, path))
            }
        })
    }
    let node = find(schema, path).unwrap_or_else(|| panic!("{path} not in schema"));
    node["info"][method]["returns"].clone()
}

/// Checks `value` against `schema`; fields named in `extra` may appear outside the schema.
fn check(value: &Value, schema: &Value, at: &str, extra: &[&str], errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("any");
    let ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        // PVE's Perl answers booleans as 0/1.
        "boolean" => value.is_boolean() || value.as_u64().is_some_and(|n| n <= 1),
        "null" => value.is_null(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{at}: expected {ty}, got {value}"));
        return;
    }
    if let (Some(allowed), Some(s)) = (schema["enum"].as_array(), value.as_str())
        && !allowed.iter().any(|a| a == s)
    {
        errors.push(format!("{at}: '{s}' not in {allowed:?}"));
    }
    if let Some(items) = schema.get("items") {
        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
            check(item, items, &format!("{at}[{i}]"), extra, errors);
        }
    }
    let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) else {
        return;
    };
    for (name, prop) in props {
        match obj.get(name) {
            Some(v) => check(v, prop, &format!("{at}.{name}"), extra, errors),
            None if prop["optional"] != 1 => {
                errors.push(format!("{at}: required '{name}' missing"))
            }
            None => {}
        }
    }
    // An empty `properties` means "not described": anything goes.
    if !props.is_empty() {
        for name in obj
            .keys()
            .filter(|k| !props.contains_key(*k) && !extra.contains(&k.as_str()))
        {
            errors.push(format!("{at}: '{name}' is not in the schema"));
        }
    }
}

fn assert_conforms(schema: &Value, path: &str, method: &str, data: &Value, extra: &[&str]) {
    let mut errors = Vec::new();
    check(
        data,
        &returns(schema, path, method),
        &format!("{method} {path}"),
        extra,
        &mut errors,
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Fields PVE sends outside the schema (recorded: `pve7.4-8.0_nodes`, `TestConsoleMint`,
/// `pve8.0_qemu_status_current_running`, every ticket login).
const NODES_EXTRA: &[&str] = &["id", "type", "disk", "maxdisk"];
const TASK_EXTRA: &[&str] = &["tokenid"];
const TICKET_EXTRA: &[&str] = &["cap"];
const VM_STATUS_EXTRA: &[&str] = &[
    "disk",
    "balloon",
    "balloon_min",
    "shares",
    "freemem",
    "ballooninfo",
    "blockstat",
    "nics",
    "proxmox-support",
];

#[tokio::test]
async fn simulator_answers_match_the_schema() {
    let schema = load("pve-api-schema-9.1.json");
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let login = c
        .post(
            "/access/ticket",
            &[("username", "root@pam"), ("password", "secret")],
        )
        .await;
    assert_conforms(
        &schema,
        "/access/ticket",
        "POST",
        login.data(),
        TICKET_EXTRA,
    );
    assert_conforms(
        &schema,
        "/version",
        "GET",
        c.get("/version").await.data(),
        &[],
    );
    assert_conforms(
        &schema,
        "/nodes",
        "GET",
        c.get("/nodes").await.data(),
        NODES_EXTRA,
    );
    assert_conforms(
        &schema,
        "/cluster/resources",
        "GET",
        c.get("/cluster/resources").await.data(),
        &[],
    );
    assert_conforms(
        &schema,
        "/cluster/status",
        "GET",
        c.get("/cluster/status").await.data(),
        &[],
    );
    assert_conforms(
        &schema,
        "/nodes/{node}",
        "GET",
        c.get("/nodes/pve1").await.data(),
        &[],
    );

    let (node, running) = find_vm(&c, |v| v["status"] == "running").await;
    let list = c.get(&format!("/nodes/{node}/qemu?full=1")).await;
    assert_conforms(
        &schema,
        "/nodes/{node}/qemu",
        "GET",
        list.data(),
        VM_STATUS_EXTRA,
    );
    let cur_path = "/nodes/{node}/qemu/{vmid}/status/current";
    for vmid in [running, find_vm(&c, |v| v["status"] == "stopped").await.1] {
        let node = find_vm(&c, |v| v["vmid"] == vmid).await.0;
        let cur = c
            .get(&format!("/nodes/{node}/qemu/{vmid}/status/current"))
            .await;
        assert_conforms(&schema, cur_path, "GET", cur.data(), VM_STATUS_EXTRA);
    }

    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let upid = c
        .post(&format!("/nodes/{node}/qemu/{vmid}/status/start"), &[])
        .await;
    let upid = upid.data().as_str().unwrap().to_owned();
    let status_path = "/nodes/{node}/tasks/{upid}/status";
    let st = c
        .get(&format!("/nodes/{node}/tasks/{}/status", encode(&upid)))
        .await;
    assert_conforms(&schema, status_path, "GET", st.data(), TASK_EXTRA);
    assert_conforms(
        &schema,
        status_path,
        "GET",
        &c.wait_task(&upid).await,
        TASK_EXTRA,
    );
    let log = c
        .get(&format!("/nodes/{node}/tasks/{}/log", encode(&upid)))
        .await;
    assert_conforms(
        &schema,
        "/nodes/{node}/tasks/{upid}/log",
        "GET",
        log.data(),
        &[],
    );
}

#[test]
fn recorded_pve_answers_pass_the_same_checks() {
    let schema = load("pve-api-schema-9.1.json");
    let cassette = load("recorded/proxmox-go-sdk-cassettes/TestClusterAndHAReads.json");
    let interactions = cassette["interactions"].as_array().unwrap();
    let resources = interactions
        .iter()
        .find(|i| i["path"] == "/api2/json/cluster/resources")
        .unwrap();
    assert_conforms(
        &schema,
        "/cluster/resources",
        "GET",
        &resources["response"]["data"],
        &[],
    );
    let version = interactions
        .iter()
        .find(|i| i["path"] == "/api2/json/version")
        .unwrap();
    assert_conforms(
        &schema,
        "/version",
        "GET",
        &version["response"]["data"],
        &[],
    );
    let nodes = load("recorded/pve7.4-8.0_nodes.go-proxmox.json");
    assert_conforms(&schema, "/nodes", "GET", &nodes["data"], NODES_EXTRA);
    let cur = load("recorded/pve8.0_qemu_status_current_running.go-proxmox.json");
    let cur_path = "/nodes/{node}/qemu/{vmid}/status/current";
    assert_conforms(&schema, cur_path, "GET", &cur["data"], VM_STATUS_EXTRA);
    let mint = load("recorded/proxmox-go-sdk-cassettes/TestConsoleMint.json");
    for i in mint["interactions"].as_array().unwrap() {
        if i["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/status") && p.contains("/tasks/"))
        {
            assert_conforms(
                &schema,
                "/nodes/{node}/tasks/{upid}/status",
                "GET",
                &i["response"]["data"],
                TASK_EXTRA,
            );
        }
    }
}

#[test]
fn the_checker_finds_mistakes() {
    let schema = load("pve-api-schema-9.1.json");
    let ret = returns(&schema, "/version", "GET");
    let mut errors = Vec::new();
    let bad = serde_json::json!({"version": 9, "repoid": "abc", "surprise": true});
    check(&bad, &ret, "v", &[], &mut errors);
    let text = errors.join("\n");
    assert!(text.contains("v.version: expected string"), "{text}");
    assert!(text.contains("required 'release' missing"), "{text}");
    assert!(text.contains("'surprise' is not in the schema"), "{text}");
    let ret = returns(&schema, "/nodes", "GET");
    let mut errors = Vec::new();
    check(
        &serde_json::json!([{"node": "pve1", "status": "sleeping"}]),
        &ret,
        "n",
        &[],
        &mut errors,
    );
    assert!(
        errors.iter().any(|e| e.contains("'sleeping' not in")),
        "{errors:?}"
    );
}

/// qemu-server's `migrate_vm_precondition` returns every attribute `foreach_volid` collects
/// for a local disk, not only the four the schema names.
const MIGRATE_EXTRA: &[&str] = &[
    "drivename",
    "is_attached",
    "is_cloudinit",
    "is_tpmstate",
    "is_vmstate",
    "replicate",
    "shared",
    "referenced_in_snapshot",
];

/// The snapshot list's `current` entry carries `digest` and `running`, and an entry being
/// worked on `snapstate`, outside the schema (qemu-server `snapshot_list`).
const SNAPSHOT_EXTRA: &[&str] = &["digest", "running", "snapstate"];

#[tokio::test]
async fn snapshots_and_nextid_match_the_schema() {
    let schema = load("pve-api-schema-9.1.json");
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let a = c
        .post(
            &format!("{vm}/snapshot"),
            &[("snapname", "s1"), ("vmstate", "1")],
        )
        .await;
    assert_conforms(
        &schema,
        "/nodes/{node}/qemu/{vmid}/snapshot",
        "POST",
        a.data(),
        &[],
    );
    c.wait_task(a.data().as_str().unwrap()).await;
    c.call(
        reqwest::Method::PUT,
        &format!("{vm}/config"),
        &[("cores", "5")],
    )
    .await;
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "/nodes/{node}/qemu/{vmid}/snapshot",
            format!("{vm}/snapshot"),
            SNAPSHOT_EXTRA,
        ),
        (
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
            format!("{vm}/snapshot/s1"),
            &[],
        ),
        (
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
            format!("{vm}/snapshot/s1/config"),
            &[],
        ),
        (
            "/nodes/{node}/qemu/{vmid}/pending",
            format!("{vm}/pending"),
            &[],
        ),
        (
            "/nodes/{node}/qemu/{vmid}/config",
            format!("{vm}/config?current=1"),
            &["net0", "scsi0"],
        ),
    ];
    for (path, url, extra) in cases {
        let a = c.get(&url).await;
        assert_conforms(&schema, path, "GET", a.data(), extra);
    }
    for (method, path) in [
        (
            "POST",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
        ),
        ("DELETE", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = path
            .replace("{node}", &node)
            .replace("{vmid}", &vmid.to_string())
            .replace("{snapname}", "s1");
        let a = c.call(m, &url, &[]).await;
        assert_conforms(&schema, path, method, a.data(), &[]);
        c.wait_task(a.data().as_str().unwrap()).await;
    }
    // The schema calls nextid's answer an integer; PVE sends it as a string (Perl's JSON
    // encoder writes the loop variable, used as a hash key, as text; proxmoxer and the
    // Terraform providers read a string). The simulator follows PVE.
    let next = c.get("/cluster/nextid").await;
    assert_eq!(
        returns(&schema, "/cluster/nextid", "GET")["type"],
        "integer"
    );
    assert!(next.data().as_str().unwrap().parse::<u32>().is_ok());
}

#[tokio::test]
async fn newer_endpoints_match_the_schema() {
    let schema = load("pve-api-schema-9.1.json");
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let backups = format!("/nodes/{node}/storage/backup/content?content=backup");
    let cases: Vec<(&str, String, &[&str])> = vec![
        // recorded `pve7.4_node_status` has these outside the schema (additionalProperties)
        (
            "/nodes/{node}/status",
            format!("/nodes/{node}/status"),
            &[
                "flags", "hvm", "mhz", "user_hz", "idle", "ksm", "kversion", "swap", "uptime",
                "wait",
            ],
        ),
        (
            "/nodes/{node}/rrddata",
            format!("/nodes/{node}/rrddata?timeframe=hour"),
            &[],
        ),
        (
            "/nodes/{node}/qemu/{vmid}/rrddata",
            format!("/nodes/{node}/qemu/{vmid}/rrddata?timeframe=day"),
            &[],
        ),
        (
            "/cluster/metrics/export",
            "/cluster/metrics/export".into(),
            &[],
        ),
        (
            "/nodes/{node}/tasks",
            format!("/nodes/{node}/tasks?source=all"),
            &["tokenid"],
        ),
        ("/cluster/log", "/cluster/log".into(), &[]),
        (
            "/nodes/{node}/qemu/{vmid}/config",
            format!("/nodes/{node}/qemu/{vmid}/config"),
            &["net0", "scsi0"], // the schema names them `net[n]`, `scsi[n]`
        ),
        (
            "/nodes/{node}/qemu/{vmid}/migrate",
            format!("/nodes/{node}/qemu/{vmid}/migrate"),
            MIGRATE_EXTRA,
        ),
        (
            "/nodes/{node}/qemu/{vmid}/pending",
            format!("/nodes/{node}/qemu/{vmid}/pending"),
            &[],
        ),
        (
            "/nodes/{node}/storage",
            format!("/nodes/{node}/storage"),
            &[],
        ),
        (
            "/nodes/{node}/network",
            format!("/nodes/{node}/network"),
            &[],
        ),
        (
            "/nodes/{node}/storage/{storage}/content",
            backups,
            &["content", "subtype"],
        ),
        ("/cluster/backup", "/cluster/backup".into(), &["type"]),
        (
            "/cluster/backup-info/not-backed-up",
            "/cluster/backup-info/not-backed-up".into(),
            &[],
        ),
        ("/access/users", "/access/users?full=1".into(), &[]),
        ("/access/roles", "/access/roles".into(), &[]),
        ("/access/acl", "/access/acl".into(), &[]),
        ("/access/permissions", "/access/permissions".into(), &[]),
        (
            "/nodes/{node}/subscription",
            format!("/nodes/{node}/subscription"),
            &[],
        ),
        (
            "/nodes/{node}/replication",
            format!("/nodes/{node}/replication"),
            &[],
        ),
        ("/nodes/{node}/lxc", format!("/nodes/{node}/lxc"), &[]),
        (
            "/cluster/config/qdevice",
            "/cluster/config/qdevice".into(),
            &[],
        ),
    ];
    for (path, url, extra) in cases {
        let a = c.get(&url).await;
        assert_conforms(&schema, path, "GET", a.data(), extra);
    }
    let job = c.get("/cluster/backup").await.data()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = c.get(&format!("/cluster/backup/{job}")).await;
    assert_conforms(
        &schema,
        "/cluster/backup/{id}",
        "GET",
        one.data(),
        &["type"],
    );
}
