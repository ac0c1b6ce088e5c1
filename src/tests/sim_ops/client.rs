//! The typed client (`HttpClient`) against the simulator: snapshots, pending changes,
//! `nextid` and the migration precondition, decoded into `pve::types` (part of the `sim_ops`
//! target; needs the `client` feature too).
//!
//! Run: `cargo test -p pve --features sim,client --test sim_ops client`

use std::time::Duration;

use pve::Error;
use pve::client::{ClientConfig, Credentials, HttpClient, PveApi, TlsTrust, wait_task};
use pve::ids::{NodeName, SnapshotName, VmId};
use pve::types::{PowerAction, QemuConfigUpdate, QemuSnapshotCreate};

use crate::sim_support::{Client, find_vm, start};

fn api(sim: &pve::sim::SimHandle) -> HttpClient {
    HttpClient::new(ClientConfig {
        endpoints: vec![sim.base_url()],
        credentials: Credentials::Password {
            username: "root@pam".into(),
            password: "secret".into(),
        },
        tls: TlsTrust::Fingerprint(sim.fingerprint().to_owned()),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
    })
    .expect("client")
}

async fn done(api: &HttpClient, upid: &pve::ids::Upid) -> pve::Result<()> {
    wait_task(api, upid, Duration::from_millis(20), |_, _| {})
        .await
        .map(|_| ())
}

#[tokio::test]
async fn snapshots_pending_nextid_through_the_typed_client() {
    let sim = start().await;
    let raw = Client::login(&sim, "root@pam", "secret").await;
    let api = api(&sim);
    let (node, vmid) = find_vm(&raw, |v| v["status"] == "running").await;
    let node = NodeName::parse(&node).unwrap();
    let vmid = VmId::new(u32::try_from(vmid).unwrap()).unwrap();
    let s1 = SnapshotName::parse("before-change").unwrap();

    let list = api.qemu_snapshots(&node, vmid).await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].is_current() && list[0].running == Some(true));

    let mut create = QemuSnapshotCreate::new(s1.clone());
    create.description = Some("first".into());
    let upid = api
        .qemu_snapshot_create(&node, vmid, &create)
        .await
        .unwrap();
    assert_eq!(upid.task_type(), "qmsnapshot");
    done(&api, &upid).await.unwrap();
    // the same name again: the task fails with PVE's text
    let upid = api
        .qemu_snapshot_create(&node, vmid, &create)
        .await
        .unwrap();
    match done(&api, &upid).await {
        Err(Error::TaskFailed { exitstatus, .. }) => {
            assert_eq!(exitstatus, "snapshot name 'before-change' already used")
        }
        other => panic!("{other:?}"),
    }
    let reserved = QemuSnapshotCreate::new(SnapshotName::parse("current").unwrap());
    assert!(matches!(
        api.qemu_snapshot_create(&node, vmid, &reserved).await,
        Err(Error::InvalidParameters { .. })
    ));

    let list = api.qemu_snapshots(&node, vmid).await.unwrap();
    let snap = list
        .iter()
        .find(|s| s.snapname() == Some(s1.clone()))
        .unwrap();
    assert_eq!(snap.description, "first");
    assert!(snap.snaptime.is_some() && !snap.vmstate);
    assert_eq!(
        list.last().unwrap().parent.as_deref(),
        Some("before-change")
    );
    api.qemu_snapshot_set_description(&node, vmid, &s1, "renamed")
        .await
        .unwrap();
    let saved = api.qemu_snapshot_config(&node, vmid, &s1).await.unwrap();
    assert_eq!(saved.config.description.as_deref(), Some("renamed"));
    assert!(saved.snaptime.is_some());
    let cores = saved.config.cores.unwrap();

    // cores wait for the next start
    let update = QemuConfigUpdate {
        cores: Some(cores + 1),
        ..Default::default()
    };
    api.qemu_config_update(&node, vmid, &update).await.unwrap();
    let pending = api.qemu_pending(&node, vmid).await.unwrap();
    let entry = pending.iter().find(|p| p.key == "cores").unwrap();
    assert!(entry.is_pending());
    assert_eq!(
        entry.pending.as_deref(),
        Some((cores + 1).to_string().as_str())
    );
    assert_eq!(
        api.qemu_config(&node, vmid).await.unwrap().cores,
        Some(cores + 1)
    );
    let now = api.qemu_config_current(&node, vmid).await.unwrap();
    assert_eq!(now.cores, Some(cores));
    assert_eq!(now.parent.as_deref(), Some("before-change"));

    // rollback with start: the saved options, the VM running again
    let upid = api
        .qemu_snapshot_rollback(&node, vmid, &s1, true)
        .await
        .unwrap();
    assert_eq!(upid.task_type(), "qmrollback");
    done(&api, &upid).await.unwrap();
    assert_eq!(
        api.qemu_config(&node, vmid).await.unwrap().cores,
        Some(cores)
    );
    assert!(api.qemu_status(&node, vmid).await.unwrap().is_running());

    let upid = api
        .qemu_snapshot_delete(&node, vmid, &s1, false)
        .await
        .unwrap();
    assert_eq!(upid.task_type(), "qmdelsnapshot");
    done(&api, &upid).await.unwrap();
    assert_eq!(api.qemu_snapshots(&node, vmid).await.unwrap().len(), 1);
    assert!(matches!(
        api.qemu_snapshot_config(&node, vmid, &s1).await,
        Err(Error::NotFound { .. })
    ));

    // nextid
    assert_eq!(api.cluster_nextid(None).await.unwrap().get(), 112);
    let free = VmId::new(777).unwrap();
    assert_eq!(api.cluster_nextid(Some(free)).await.unwrap(), free);
    assert!(matches!(
        api.cluster_nextid(Some(vmid)).await,
        Err(Error::InvalidParameters { .. })
    ));

    // migration precondition of a running VM
    let pre = api
        .qemu_migrate_precondition(&node, vmid, None)
        .await
        .unwrap();
    assert!(pre.running);
    assert_eq!(pre.allowed_nodes.len(), 2);
    assert_eq!(pre.local_disks[0].drivename.as_deref(), Some("scsi0"));
    assert!(pre.local_resources.is_empty());
    let upid = api
        .qemu_power(&node, vmid, PowerAction::Stop)
        .await
        .unwrap();
    done(&api, &upid).await.unwrap();
}

#[tokio::test]
async fn containers_power_through_the_typed_client() {
    let sim = crate::sim_support::start_with(pve::sim::SimConfig {
        root_password: "secret".into(),
        containers: 2,
        task_speed: 20.0,
        auth_failure_delay: Duration::from_millis(20),
        ..pve::sim::SimConfig::default()
    })
    .await;
    let api = api(&sim);
    let resources = api.cluster_resources(None).await.unwrap();
    let ct = resources
        .iter()
        .find(|r| r.guest_kind() == Some(pve::types::GuestKind::Lxc) && !r.is_running())
        .expect("a stopped container");
    assert!(!ct.is_vm());
    let node = NodeName::parse(ct.node.as_deref().unwrap()).unwrap();
    let vmid = ct.vm_id().unwrap();
    let upid = api
        .lxc_power(&node, vmid, PowerAction::Start)
        .await
        .unwrap();
    assert_eq!(upid.task_type(), "vzstart");
    done(&api, &upid).await.unwrap();
    // PVE's refusal comes back as its error, not as a task.
    let again = api.lxc_power(&node, vmid, PowerAction::Start).await;
    assert!(
        matches!(&again, Err(Error::Upstream { message, .. }) if message.contains("already running")),
        "{again:?}"
    );
    // Suspend is not sent at all.
    let suspend = api.lxc_power(&node, vmid, PowerAction::Suspend).await;
    assert!(
        matches!(&suspend, Err(Error::InvalidParameters { message, .. }) if message.starts_with("not sent:")),
        "{suspend:?}"
    );
    // A QEMU call on a container's ID fails as PVE fails it.
    assert!(api.qemu_status(&node, vmid).await.is_err());
    let upid = api
        .lxc_power(&node, vmid, PowerAction::Shutdown)
        .await
        .unwrap();
    assert_eq!(upid.task_type(), "vzshutdown");
    done(&api, &upid).await.unwrap();
}

#[tokio::test]
async fn bridges_nics_and_new_disks_through_the_typed_client() {
    let sim = start().await;
    let raw = Client::login(&sim, "root@pam", "secret").await;
    let api = api(&sim);
    let (node, vmid) = find_vm(&raw, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let node: NodeName = node.parse().unwrap();
    let vmid = VmId::new(vmid as u32).unwrap();

    let bridges = api
        .node_network(&node, Some(pve::types::InterfaceFilter::AnyBridge))
        .await
        .unwrap();
    let names: Vec<&str> = bridges.iter().map(|b| b.iface.as_str()).collect();
    assert_eq!(names, ["vmbr0", "vmbr1"]);
    assert!(bridges.iter().all(|b| b.is_bridge()));
    assert_eq!(bridges[0].bridge_ports.as_deref(), Some("eno1"));

    let nic = pve::types::NetDevice {
        model: "virtio".into(),
        bridge: Some("vmbr1".into()),
        tag: Some(30),
        firewall: true,
        ..Default::default()
    };
    let disk = pve::types::NewDisk {
        storage: "local-lvm".into(),
        size_gib: 2,
        options: vec![("discard".into(), "on".into())],
    };
    let mut update = QemuConfigUpdate::default();
    update.set.insert("net1".into(), nic.to_string());
    update.set.insert("virtio1".into(), disk.to_string());
    api.qemu_config_update(&node, vmid, &update).await.unwrap();
    let config = api.qemu_config(&node, vmid).await.unwrap();
    let net1 = pve::types::NetDevice::parse(config.get("net1").unwrap()).unwrap();
    assert!(net1.macaddr.is_some(), "PVE made up a MAC");
    assert_eq!(
        (net1.bridge.as_deref(), net1.tag, net1.firewall),
        (Some("vmbr1"), Some(30), true)
    );
    assert_eq!(
        config.get("virtio1"),
        Some(format!("local-lvm:vm-{vmid}-disk-1,discard=on,size=2G").as_str())
    );
}
