//! VM operations through Cecyber's server functions against the simulator: hardware changes
//! (pending until a reboot, the digest against concurrent edits), the migration check, and
//! snapshot names.
//! Run: `cargo test -p server --test vm_ops`

use reqwest::StatusCode;
use serde_json::Value;

mod support;

use support::{ADMIN_PASSWORD, Browser, TestServer, error_kind, error_text, start_with};

async fn start() -> TestServer {
    start_with(&[("CECYBER_DEMO__TASK_SPEED", "20")]).await
}

/// A VM of the list with `status`, not a template.
async fn vm_with(admin: &Browser, status: &str) -> (String, String) {
    let (_, list) = admin.call("vms_list", &[]).await;
    let vm = list["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["status"] == status && v["template"] == false && v["lock"].is_null())
        .unwrap_or_else(|| panic!("a {status} VM: {list}"))
        .clone();
    (
        vm["node"].as_str().unwrap().to_owned(),
        vm["vmid"].to_string(),
    )
}

/// `migration_start` of VM `vmid` on `node` to `target`, its disks to `storage` ("": same).
async fn migrate_to(
    admin: &Browser,
    node: &str,
    vmid: &str,
    target: &str,
    storage: &str,
) -> (StatusCode, Value) {
    let fields = [
        ("cluster", "demo"),
        ("node", node),
        ("vmid", vmid),
        ("target", target),
        ("target_storage", storage),
    ];
    admin.call("migration_start", &fields).await
}

/// Waits for a task until it ends; returns its exit status.
async fn wait_task(admin: &Browser, task: &Value) -> String {
    admin
        .finish_task(task["upid"].as_str().expect("a task"))
        .await
}

async fn config(admin: &Browser, node: &str, vmid: &str) -> Value {
    let (status, config) = admin
        .call(
            "vm_config",
            &[("cluster", "demo"), ("node", node), ("vmid", vmid)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    config
}

/// The form fields of `config` with `changes` on top.
fn form(config: &Value, changes: &[(&str, String)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("digest", config["digest"].as_str().unwrap().to_owned()),
        ("name", config["name"].as_str().unwrap().to_owned()),
        ("cores", config["cores"].to_string()),
        ("sockets", config["sockets"].to_string()),
        ("memory_mib", config["memory_mib"].to_string()),
        ("cpu", config["cpu"].as_str().unwrap_or_default().to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(b) = config["balloon_mib"].as_u64() {
        fields.push(("balloon_mib".into(), b.to_string()));
    }
    for (k, v) in changes {
        fields.retain(|(key, _)| key != k);
        fields.push(((*k).to_owned(), v.clone()));
    }
    fields
        .into_iter()
        .map(|(k, v)| (format!("form[{k}]"), v))
        .collect()
}

async fn update(
    admin: &Browser,
    node: &str,
    vmid: &str,
    fields: &[(String, String)],
) -> (StatusCode, Value) {
    let mut all: Vec<(&str, &str)> = vec![("cluster", "demo"), ("node", node), ("vmid", vmid)];
    all.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    admin.call("vm_config_update", &all).await
}

#[tokio::test]
async fn a_running_vm_takes_its_name_at_once_and_its_cores_at_the_reboot() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "running").await;
    let before = config(&admin, &node, &vmid).await;
    let cores = before["cores"].as_u64().unwrap() + 1;
    let fields = form(
        &before,
        &[
            ("name", "renamed-by-test".into()),
            ("cores", cores.to_string()),
        ],
    );
    let (status, changed) = update(&admin, &node, &vmid, &fields).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["applied"], serde_json::json!(["name"]), "{changed}");
    assert_eq!(
        changed["pending"],
        serde_json::json!(["cores"]),
        "{changed}"
    );

    let after = config(&admin, &node, &vmid).await;
    assert_eq!(after["name"], "renamed-by-test");
    assert_eq!(
        after["cores"], cores,
        "the form shows the value after the reboot"
    );
    let pending: Vec<&Value> = after["pending"].as_array().unwrap().iter().collect();
    assert_eq!(pending.len(), 1, "{after}");
    assert_eq!(pending[0]["key"], "cores");
    assert_eq!(pending[0]["pending"], cores.to_string());

    // A reboot applies it.
    let (status, task) = admin
        .call(
            "vm_power",
            &[
                ("cluster", "demo"),
                ("node", &node),
                ("vmid", &vmid),
                ("action", "reboot"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(wait_task(&admin, &task).await, "OK");
    let rebooted = config(&admin, &node, &vmid).await;
    assert_eq!(rebooted["pending"], serde_json::json!([]), "{rebooted}");
    assert_eq!(rebooted["cores"], cores);
}

#[tokio::test]
async fn a_change_made_meanwhile_is_a_conflict_and_nothing_is_applied() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let opened = config(&admin, &node, &vmid).await;
    // Somebody else saves first.
    let (status, body) = update(
        &admin,
        &node,
        &vmid,
        &form(&opened, &[("name", "first-writer".into())]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The form opened before that is refused, whole.
    let (status, body) = update(
        &admin,
        &node,
        &vmid,
        &form(
            &opened,
            &[
                ("name", "second-writer".into()),
                ("memory_mib", "4096".into()),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_kind(&body), "Conflict");
    assert!(
        error_text(&body).contains("changed by someone else"),
        "{body}"
    );
    let now = config(&admin, &node, &vmid).await;
    assert_eq!(now["name"], "first-writer");
    assert_eq!(now["memory_mib"], opened["memory_mib"]);
}

#[tokio::test]
async fn bad_hardware_values_get_pve_like_messages_and_change_nothing() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let opened = config(&admin, &node, &vmid).await;
    for (field, value, says) in [
        ("cores", "0", "Cores per socket"),
        ("memory_mib", "8", "at least 16 MiB"),
        ("name", "bad name!", "VM name"),
        ("cpu", "host;rm", "CPU type"),
    ] {
        let (status, body) = update(
            &admin,
            &node,
            &vmid,
            &form(&opened, &[(field, value.into())]),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert!(error_text(&body).contains(says), "{field}: {body}");
    }
    assert_eq!(
        config(&admin, &node, &vmid).await["digest"],
        opened["digest"]
    );
}

#[tokio::test]
async fn the_migration_check_lists_targets_and_local_disks_and_viewers_get_none() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let (status, check) = admin
        .call(
            "migration_check",
            &[("cluster", "demo"), ("node", &node), ("vmid", &vmid)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["running"], false);
    let targets: Vec<&str> = check["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["node"].as_str().unwrap())
        .collect();
    assert_eq!(targets.len(), 2, "{check}");
    assert!(!targets.contains(&node.as_str()));
    assert!(
        check["local_disks"][0][0]
            .as_str()
            .is_some_and(|v| v.contains(&format!("vm-{vmid}-disk-0"))),
        "{check}"
    );

    let (status, body) = admin
        .call(
            "users_create",
            &[
                ("username", "vera"),
                ("password", "vera-password-1"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let viewer = server.log_in("vera", "vera-password-1").await;
    for endpoint in ["migration_check", "migration_start"] {
        let (status, body) = viewer
            .call(
                endpoint,
                &[
                    ("cluster", "demo"),
                    ("node", &node),
                    ("vmid", &vmid),
                    ("target", targets[0]),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
    }
}

/// Calls a device function of VM `vmid` with `fields` after the VM's ids.
async fn device_call(
    browser: &Browser,
    endpoint: &str,
    node: &str,
    vmid: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut all: Vec<(&str, &str)> = vec![("cluster", "demo"), ("node", node), ("vmid", vmid)];
    all.extend_from_slice(fields);
    browser.call(endpoint, &all).await
}

/// Owned fields as the call takes them.
fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The NIC line `key` of the panel's configuration.
fn nic<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
    config["nics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == key)
}

#[tokio::test]
async fn nics_and_disks_are_added_changed_and_removed_with_the_digest_guarding_them() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let (status, choices) = device_call(&admin, "vm_device_choices", &node, &vmid, &[]).await;
    assert_eq!(status, StatusCode::OK, "{choices}");
    assert_eq!(choices["bridges"], serde_json::json!(["vmbr0", "vmbr1"]));
    assert_eq!(choices["storages"], serde_json::json!(["local-lvm"]));

    // A new NIC takes the lowest free slot.
    let opened = config(&admin, &node, &vmid).await;
    let digest = opened["digest"].as_str().unwrap().to_owned();
    let new_nic = [
        ("digest", digest.as_str()),
        ("key", ""),
        ("nic[model]", "e1000"),
        ("nic[bridge]", "vmbr1"),
        ("nic[tag]", "20"),
        ("nic[firewall]", "true"),
        ("nic[link_down]", "false"),
    ];
    let (status, added) = device_call(&admin, "vm_nic_save", &node, &vmid, &new_nic).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["key"], "net1");
    assert_eq!(added["changed"]["applied"], serde_json::json!(["net1"]));
    let after = config(&admin, &node, &vmid).await;
    let net1 = nic(&after, "net1").expect("net1").clone();
    assert_eq!(
        (
            net1["model"].as_str(),
            net1["bridge"].as_str(),
            net1["tag"].as_u64()
        ),
        (Some("e1000"), Some("vmbr1"), Some(20))
    );
    assert!(
        net1["mac"].as_str().unwrap().starts_with("BC:24:11:"),
        "{net1}"
    );

    // The form opened before that change is refused, whole.
    let (status, body) = device_call(&admin, "vm_nic_save", &node, &vmid, &new_nic).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Changing it keeps its MAC; a bridge the node lacks is refused by name.
    let digest = after["digest"].as_str().unwrap().to_owned();
    let change = |bridge: &str| -> Vec<(&'static str, String)> {
        vec![
            ("digest", digest.clone()),
            ("key", "net1".to_owned()),
            ("nic[model]", "virtio".to_owned()),
            ("nic[bridge]", bridge.to_owned()),
            ("nic[firewall]", "false".to_owned()),
            ("nic[link_down]", "true".to_owned()),
        ]
    };
    let bad = change("vmbr7");
    let (status, body) = device_call(&admin, "vm_nic_save", &node, &vmid, &pairs(&bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        error_text(&body).contains("vmbr7") && error_text(&body).contains("does not exist"),
        "{body}"
    );
    let good = change("vmbr0");
    let (status, body) = device_call(&admin, "vm_nic_save", &node, &vmid, &pairs(&good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = config(&admin, &node, &vmid).await;
    let net1_now = nic(&changed, "net1").unwrap();
    assert_eq!(net1_now["mac"], net1["mac"], "the MAC stays");
    assert_eq!(
        (
            net1_now["model"].as_str(),
            net1_now["tag"].as_u64(),
            net1_now["link_down"].as_bool()
        ),
        (Some("virtio"), None, Some(true))
    );

    // A new disk on the lowest free SCSI slot.
    let digest = changed["digest"].as_str().unwrap().to_owned();
    let disk = [
        ("digest", digest.as_str()),
        ("disk[bus]", "scsi"),
        ("disk[storage]", "local-lvm"),
        ("disk[size_gib]", "8"),
    ];
    let (status, body) = device_call(&admin, "vm_disk_add", &node, &vmid, &disk).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], "scsi1");
    let with_disk = config(&admin, &node, &vmid).await;
    let scsi1 = with_disk["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "scsi1")
        .expect("scsi1");
    assert_eq!(
        scsi1["value"],
        format!("local-lvm:vm-{vmid}-disk-1,size=8G").as_str()
    );
    let digest = with_disk["digest"].as_str().unwrap().to_owned();
    let no_space = [
        ("digest", digest.as_str()),
        ("disk[bus]", "scsi"),
        ("disk[storage]", "backup"),
        ("disk[size_gib]", "8"),
    ];
    let (status, body) = device_call(&admin, "vm_disk_add", &node, &vmid, &no_space).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        error_text(&body).contains("does not hold VM disks"),
        "{body}"
    );

    // Removing the NIC.
    let remove = [("digest", digest.as_str()), ("key", "net1")];
    let (status, body) = device_call(&admin, "vm_nic_remove", &node, &vmid, &remove).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(nic(&config(&admin, &node, &vmid).await, "net1").is_none());
}

#[tokio::test]
async fn a_running_vm_takes_a_nic_at_once_and_a_sata_disk_at_its_next_start() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "running").await;
    let opened = config(&admin, &node, &vmid).await;
    let digest = opened["digest"].as_str().unwrap().to_owned();
    let disk = [
        ("digest", digest.as_str()),
        ("disk[bus]", "sata"),
        ("disk[storage]", "local-lvm"),
        ("disk[size_gib]", "4"),
    ];
    let (status, body) = device_call(&admin, "vm_disk_add", &node, &vmid, &disk).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["changed"]["pending"],
        serde_json::json!(["sata0"]),
        "{body}"
    );
    let after = config(&admin, &node, &vmid).await;
    let digest = after["digest"].as_str().unwrap().to_owned();
    let new_nic = [
        ("digest", digest.as_str()),
        ("key", ""),
        ("nic[model]", "virtio"),
        ("nic[bridge]", "vmbr0"),
        ("nic[firewall]", "true"),
        ("nic[link_down]", "false"),
    ];
    let (status, body) = device_call(&admin, "vm_nic_save", &node, &vmid, &new_nic).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["changed"]["applied"],
        serde_json::json!(["net1"]),
        "hot-plugged: {body}"
    );
}

#[tokio::test]
async fn viewers_get_no_device_changes() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let digest = config(&admin, &node, &vmid).await["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = admin
        .call(
            "users_create",
            &[
                ("username", "vic"),
                ("password", "vic-password-1"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let viewer = server.log_in("vic", "vic-password-1").await;
    let calls: [(&str, Vec<(&str, &str)>); 4] = [
        ("vm_device_choices", vec![]),
        (
            "vm_nic_save",
            vec![
                ("digest", &digest),
                ("key", ""),
                ("nic[model]", "virtio"),
                ("nic[bridge]", "vmbr0"),
                ("nic[firewall]", "true"),
                ("nic[link_down]", "false"),
            ],
        ),
        ("vm_nic_remove", vec![("digest", &digest), ("key", "net0")]),
        (
            "vm_disk_add",
            vec![
                ("digest", &digest),
                ("disk[bus]", "scsi"),
                ("disk[storage]", "local-lvm"),
                ("disk[size_gib]", "8"),
            ],
        ),
    ];
    for (endpoint, fields) in calls {
        let (status, body) = device_call(&viewer, endpoint, &node, &vmid, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
    }
    assert_eq!(
        config(&admin, &node, &vmid).await["digest"],
        digest.as_str(),
        "nothing changed"
    );
}

#[tokio::test]
async fn local_disks_go_to_the_target_storage_chosen_and_a_wrong_one_is_refused_first() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let ids = [
        ("cluster", "demo"),
        ("node", node.as_str()),
        ("vmid", vmid.as_str()),
    ];
    let (status, check) = admin.call("migration_check", &ids).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    // Each target offers its storages for VM disks (the demo's nodes: local-lvm).
    let target = check["targets"][0]["node"].as_str().unwrap().to_owned();
    assert_eq!(
        check["targets"][0]["storages"],
        serde_json::json!(["local-lvm"])
    );
    assert_eq!(check["targets"][0]["needs_storage"], false);
    assert!(check["ha_state"].is_null(), "{check}");

    let migrate = |storage| migrate_to(&admin, &node, &vmid, &target, storage);
    // Refused by Cecyber before PVE is asked: not a storage id, not a storage for disks there.
    let (status, body) = migrate("../etc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = migrate("backup").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        error_text(&body).contains(&format!(
            "storage backup does not hold VM disks on node {target}"
        )),
        "{body}"
    );
    // A storage of the target: PVE gets the mapping and the disk ends up there.
    let (status, started) = migrate("local-lvm").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["by_ha"], false);
    assert_eq!(wait_task(&admin, &started["task"]).await, "OK");
    let moved = config(&admin, &target, &vmid).await;
    assert!(moved.to_string().contains("local-lvm:vm-"), "{moved}");
    assert_eq!(
        admin.guest(vmid.parse().unwrap()).await["node"],
        target.as_str()
    );
}

#[tokio::test]
async fn an_ha_managed_vm_is_migrated_by_the_ha_manager_and_its_task_is_found() {
    // VM 125 is the demo simulator's first HA-managed VM: a cluster of 30 VMs has it.
    let server = start_with(&[
        ("CECYBER_DEMO__TASK_SPEED", "20"),
        ("CECYBER_DEMO__VMS", "30"),
    ])
    .await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let vm = &admin.guest(125).await;
    assert!(vm["hastate"].is_string(), "{vm}");
    let node = vm["node"].as_str().unwrap().to_owned();
    let ids = [
        ("cluster", "demo"),
        ("node", node.as_str()),
        ("vmid", "125"),
    ];
    let (status, check) = admin.call("migration_check", &ids).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["ha_state"], vm["hastate"], "{check}");
    let target = check["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["refusal"].is_null())
        .unwrap()["node"]
        .as_str()
        .unwrap()
        .to_owned();
    // The HA manager takes no storage map: none is offered, and one given is refused.
    assert!(
        check["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["storages"] == serde_json::json!([])),
        "{check}"
    );
    let (status, body) = migrate_to(&admin, &node, "125", &target, "local-lvm").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(error_text(&body).contains("HA-managed"), "{body}");
    let (status, started) = migrate_to(&admin, &node, "125", &target, "").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["by_ha"], true, "{started}");
    let request = started["task"]["upid"].as_str().unwrap();
    assert!(request.contains(":hamigrate:125:"), "{request}");
    assert_eq!(wait_task(&admin, &started["task"]).await, "OK");
    // The HA manager's own migration, found and followed to its end.
    let since = i64::from_str_radix(request.split(':').nth(4).unwrap(), 16).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let task = loop {
        let (status, found) = admin
            .call(
                "migration_ha_task",
                &[
                    ("cluster", "demo"),
                    ("node", &node),
                    ("vmid", "125"),
                    ("since", &since.to_string()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        if !found.is_null() {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "no HA migration task");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let upid = task["upid"].as_str().unwrap();
    assert!(upid.contains(":qmigrate:125:root@pam:"), "{upid}");
    assert_eq!(wait_task(&admin, &task).await, "OK");
    assert_eq!(admin.guest(125).await["node"], target.as_str());
}

#[tokio::test]
async fn a_node_without_the_disks_storage_takes_the_vm_onto_a_storage_of_its_own() {
    let server = start().await;
    let admin = server.log_in("admin", ADMIN_PASSWORD).await;
    let (node, vmid) = vm_with(&admin, "stopped").await;
    let ids = [
        ("cluster", "demo"),
        ("node", node.as_str()),
        ("vmid", vmid.as_str()),
    ];
    let (_, check) = admin.call("migration_check", &ids).await;
    let nodes: Vec<String> = check["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["node"].as_str().unwrap().to_owned())
        .collect();
    let (kept, lacking) = (&nodes[0], &nodes[1]);
    // local-lvm only on the VM's node and one other; the third has a ZFS pool instead.
    let sim = server.runtime.simulator.as_ref().expect("demo mode");
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    for storage in [
        serde_json::json!({"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir", "nodes": [node, kept]}),
        serde_json::json!({"storage": "local-zfs", "type": "zfspool", "content": "images,rootdir", "nodes": [lacking]}),
    ] {
        let reply = http
            .post(format!("{}/_sim/storage", sim.base_url()))
            .json(&storage)
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "{}",
            reply.text().await.unwrap()
        );
    }
    let (status, check) = admin.call("migration_check", &ids).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    let target = check["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["node"] == lacking.as_str())
        .unwrap()
        .clone();
    assert_eq!(target["needs_storage"], true, "{check}");
    assert!(
        target["refusal"].as_str().unwrap().contains("local-lvm"),
        "{target}"
    );
    assert_eq!(target["storages"], serde_json::json!(["local-zfs"]));

    let start = |storage| migrate_to(&admin, &node, &vmid, lacking, storage);
    // Without a target storage PVE refuses (its message passed on); with one the VM goes.
    let (status, body) = start("").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        error_text(&body).contains(&format!(
            "storage 'local-lvm' is not available on node '{lacking}'"
        )),
        "{body}"
    );
    let (status, started) = start("local-zfs").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(wait_task(&admin, &started["task"]).await, "OK");
    assert_eq!(
        admin.guest(vmid.parse().unwrap()).await["node"],
        lacking.as_str()
    );
    let moved = config(&admin, lacking, &vmid).await;
    assert!(
        moved
            .to_string()
            .contains(&format!("local-zfs:vm-{vmid}-disk-0")),
        "{moved}"
    );
}
