// The typed operations over HTTP against the fake PVE of client_http.rs: form and query
// encoding (booleans as 0/1, comma-separated lists), `null` task IDs, the VNC proxy and
// WebSocket request, and requests refused before sending. Part of the client_http test binary.

use super::*;

use pve::ids::{BackupJobId, DiskName, StorageId, UserId, Volid};
use pve::types::{
    BackupJobSpec, ContentType, DiskSize, MetricsExportOptions, PruneBackups, QemuClone,
    QemuConfigUpdate, QemuMigrate, QemuRestore, RrdCf, RrdTimeframe, StorageContentFilter,
    StorageListFilter, TaskListFilter, TaskSource, TaskStatusFilter, VzdumpCompress, VzdumpMode,
    VzdumpOptions,
};

/// A task ID of `kind` for VM `id` on node `pve`.
fn upid(kind: &str, id: &str) -> Value {
    json!(format!(
        "UPID:pve:000586D2:0078E219:6A4BB5CA:{kind}:{id}:root@pam:"
    ))
}

/// The fake's answers for the operations beyond login, status and power.
pub(super) fn typed_route(method: &Method, path: &str, query: &str) -> Option<Response> {
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
            data(json!([
                { "time": 1785168420, "cpu": 0.25, "maxmem": 2147483648u64 },
                { "time": 1785168480, "maxmem": 2147483648u64 }
            ]))
        }
        ("GET", "/nodes/pve/tasks") => data(json!([{
            "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:vzdump:100:root@pam:", "node": "pve",
            "type": "vzdump", "id": "100", "user": "root@pam", "starttime": 1783346634,
            "endtime": 1783346700, "status": "WARNINGS: 1"
        }])),
        ("GET", "/nodes/pve/storage") => data(json!([{
            "storage": "local", "type": "dir", "content": "backup,iso", "active": 1, "shared": 0,
            "total": 100, "used": 40, "avail": 60, "used_fraction": 0.4
        }])),
        ("GET", "/nodes/pve/storage/local/content") => data(json!([{
            "volid": "local:backup/vzdump-qemu-100-2026_07_06-02_00_01.vma.zst", "content": "backup",
            "format": "vma.zst", "size": 1234, "ctime": 1783303201, "vmid": 100, "subtype": "qemu",
            "protected": 1, "notes": "web01"
        }])),
        ("POST", "/nodes/pve/vzdump") => data(upid("vzdump", "")),
        ("POST", "/nodes/pve/qemu") => data(upid("qmrestore", "100")),
        ("GET", "/nodes/pve/qemu/100/config") => data(json!({
            "name": "web", "memory": "2048", "cores": 2,
            "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
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
            "user": "root@pam", "ticket": "Ab3!x#9z:PVEVNC:6A4BB5CD::c2ln+bmF/0=",
            "password": "Ab3!x#9z", "port": "5901",
            "upid": "UPID:pve:00058703:0078E322:6A4BB5CD:vncproxy:100:root@pam:",
            "cert": "-----BEGIN CERTIFICATE-----\n"
        })),
        ("GET", "/cluster/status") => data(json!([
            { "id": "cluster", "name": "lab", "type": "cluster", "quorate": 1, "nodes": 1, "version": 1 },
            { "id": "node/pve", "name": "pve", "type": "node", "online": 1, "local": 1, "nodeid": 1 }
        ])),
        ("GET", "/cluster/log") => {
            assert_eq!(query, "max=5");
            data(json!([{
                "uid": 7, "time": 1783346634, "pri": 3, "tag": "pvedaemon", "node": "pve",
                "user": "root@pam", "msg": "failed"
            }]))
        }
        ("GET", "/cluster/tasks") => data(json!([
            { "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:100:root@pam:", "status": "RUNNING" }
        ])),
        ("GET", "/cluster/backup") => data(json!([{
            "id": "backup-0b8f1a2c-5e3d", "type": "vzdump", "schedule": "sat 02:00",
            "next-run": 1783303200, "vmid": "100,101", "storage": "local", "mode": "snapshot",
            "compress": "zstd", "enabled": 1
        }])),
        ("GET", "/cluster/backup/backup-0b8f1a2c-5e3d") => data(json!({
            "id": "backup-0b8f1a2c-5e3d", "schedule": "sat 02:00", "all": 1, "enabled": 0,
            "prune-backups": "keep-last=3"
        })),
        ("POST", "/cluster/backup")
        | ("PUT", "/cluster/backup/backup-0b8f1a2c-5e3d")
        | ("DELETE", "/cluster/backup/backup-0b8f1a2c-5e3d") => data(Value::Null),
        ("GET", "/access/users") => data(json!([
            { "userid": "alice@pve", "enable": 0, "tokens": [{ "tokenid": "ci", "privsep": 1 }] }
        ])),
        ("GET", "/access/roles") => data(json!([
            { "roleid": "PVEAuditor", "privs": "Sys.Audit,VM.Audit", "special": 1 }
        ])),
        ("GET", "/access/acl") => data(json!([{
            "path": "/vms/100", "type": "user", "ugid": "alice@pve", "roleid": "PVEVMUser",
            "propagate": 0
        }])),
        ("GET", "/access/permissions") => {
            data(json!({ "/vms/100": { "VM.Audit": 1, "VM.Console": 0 } }))
        }
        _ => return None,
    })
}

/// The decoded form body of the last `method path` request.
fn last_form(fake: &Fake, method: &Method, path: &str) -> HashMap<String, String> {
    form(&fake.last(method, &format!("/api2/json{path}")).body)
}

/// The raw query of the last `GET path` request.
fn last_query(fake: &Fake, path: &str) -> String {
    fake.last(&Method::GET, &format!("/api2/json{path}")).query
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
    let q = form(&last_query(&fake, "/nodes/pve/tasks"));
    assert_eq!(q["vmid"], "100");
    assert_eq!(q["typefilter"], "vzdump");
    assert_eq!(q["statusfilter"], "ok,warning");
    assert_eq!(q["errors"], "0", "booleans are 0/1");
    assert_eq!(q["source"], "all");
    assert_eq!(q["limit"], "20");
    assert_eq!(q["since"], "1783000000");

    let filter = StorageListFilter {
        content: vec![ContentType::Backup],
        enabled: Some(true),
        ..Default::default()
    };
    let storages = api.node_storage(&node(), &filter).await.unwrap();
    assert!(storages[0].holds_backups());
    assert_eq!(
        last_query(&fake, "/nodes/pve/storage"),
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
        last_query(&fake, "/nodes/pve/storage/local/content"),
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
        last_query(&fake, "/nodes/pve/qemu/100/migrate"),
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
                "ws://{host}/api2/json/nodes/pve/qemu/100/vncwebsocket?port=5901&vncticket=\
                 Ab3%21x%239z%3APVEVNC%3A6A4BB5CD%3A%3Ac2ln%2BbmF%2F0%3D"
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
    // Without generate-password only websocket=1 is sent.
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
        last_query(&fake, "/cluster/metrics/export"),
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
    assert_eq!(last_query(&fake, "/access/users"), "full=1");
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
        last_query(&fake, "/access/permissions"),
        "path=%2Fvms%2F100&userid=alice%40pve"
    );
}
