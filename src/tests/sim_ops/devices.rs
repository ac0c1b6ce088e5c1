//! Network devices and added disks over real HTTPS, as qemu-server answers them: `net<n>`
//! with MACs made up and printed in PVE's order, hot-plugged into a running VM (on a bridge
//! that exists), new volumes from `STORAGE:SIZE`, detached disks kept as `unused<n>`, growing
//! an added disk, and the added disks in clones and migration checks; the node's network
//! list (part of the `sim_ops` target).
//!
//! Run: `cargo test -p pve --features sim --test sim_ops devices`

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::sim_support::{Client, find_vm, start};

async fn put(c: &Client, path: &str, form: &[(&str, &str)]) -> crate::sim_support::Answer {
    c.call(Method::PUT, path, form).await
}

async fn config(c: &Client, vm: &str) -> Value {
    c.get(&format!("{vm}/config")).await.data().clone()
}

#[tokio::test]
async fn nics_are_added_changed_and_removed() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let path = format!("{vm}/config");

    // A MAC is made up, and the value printed as PVE prints it.
    let a = put(
        &c,
        &path,
        &[("net1", "tag=20,bridge=vmbr1,e1000,firewall=1")],
    )
    .await;
    assert!(a.data().is_null(), "{a:?}");
    let net1 = config(&c, &vm).await["net1"].as_str().unwrap().to_owned();
    assert!(net1.starts_with("e1000=BC:24:11:"), "{net1}");
    assert!(net1.ends_with(",bridge=vmbr1,firewall=1,tag=20"), "{net1}");

    // Changing it with its MAC keeps the MAC.
    let mac = net1.split(',').next().unwrap().split('=').nth(1).unwrap();
    let changed = format!("virtio={mac},bridge=vmbr0,link_down=1");
    put(&c, &path, &[("net1", &changed)]).await.data();
    assert_eq!(config(&c, &vm).await["net1"], changed.as_str());

    // Bad values get qemu-server's messages.
    let a = put(&c, &path, &[("net2", "virtio,bridge=vmbr0,tag=4095")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["errors"]["net2"]
            .as_str()
            .unwrap()
            .contains("maximum value of 4094"),
        "{a:?}"
    );
    let a = put(&c, &path, &[("net32", "virtio")]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{a:?}");

    // Removing it from a stopped VM takes it out at once.
    put(&c, &path, &[("delete", "net1")]).await.data();
    assert!(config(&c, &vm).await.get("net1").is_none());
}

#[tokio::test]
async fn a_running_vm_takes_a_nic_at_once_but_only_on_a_bridge_that_exists() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "running").await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let path = format!("{vm}/config");
    put(&c, &path, &[("net1", "virtio,bridge=vmbr1")])
        .await
        .data();
    let current = c.get(&format!("{path}?current=1")).await.data().clone();
    assert!(
        current["net1"].as_str().unwrap().contains("bridge=vmbr1"),
        "hot-plugged: {current}"
    );
    let a = put(&c, &path, &[("net2", "virtio,bridge=vmbr9")]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.message().trim(), "bridge 'vmbr9' does not exist");
    assert!(
        config(&c, &vm).await.get("net2").is_none(),
        "nothing half-applied"
    );
}

#[tokio::test]
async fn a_new_disk_is_allocated_detached_to_unused_and_grown() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    let path = format!("{vm}/config");

    // POST: a qmconfig task whose log says which disk it created.
    let a = c.post(&path, &[("scsi1", "local-lvm:8,discard=on")]).await;
    let upid = a.data().as_str().unwrap().to_owned();
    assert_eq!(c.wait_task(&upid).await["exitstatus"], "OK");
    let scsi1 = format!("local-lvm:vm-{vmid}-disk-1,discard=on,size=8G");
    assert_eq!(config(&c, &vm).await["scsi1"], scsi1.as_str());
    let log = c
        .get(&format!(
            "/nodes/{node}/tasks/{}/log",
            crate::sim_support::encode(&upid)
        ))
        .await;
    let text: Vec<String> = log
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["t"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        text.iter()
            .any(|l| l == &format!("scsi1: successfully created disk '{scsi1}'")),
        "{text:?}"
    );

    // The next one takes the next free name.
    put(&c, &path, &[("virtio0", "local-lvm:1")]).await.data();
    assert_eq!(
        config(&c, &vm).await["virtio0"],
        format!("local-lvm:vm-{vmid}-disk-2,size=1G").as_str()
    );

    // Storages that cannot hold it.
    for (value, message) in [
        ("nosuch:8", "storage 'nosuch' does not exist"),
        ("backup:8", "storage 'backup' does not support vm images"),
    ] {
        let a = put(&c, &path, &[("sata0", value)]).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{a:?}");
        assert_eq!(a.body["errors"]["sata0"], message, "{a:?}");
    }

    // Growing an added disk.
    let r = put(
        &c,
        &format!("{vm}/resize"),
        &[("disk", "scsi1"), ("size", "+2G")],
    )
    .await;
    assert_eq!(
        c.wait_task(r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(
        config(&c, &vm).await["scsi1"],
        format!("local-lvm:vm-{vmid}-disk-1,discard=on,size=10G").as_str()
    );

    // The precondition check counts it as a local disk.
    let pre = c.get(&format!("{vm}/migrate")).await.data().clone();
    let disks: Vec<&str> = pre["local_disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["volid"].as_str().unwrap())
        .collect();
    assert!(
        disks.contains(&format!("local-lvm:vm-{vmid}-disk-1").as_str()),
        "{disks:?}"
    );

    // Detaching keeps the volume as an unused disk; deleting that destroys it.
    put(&c, &path, &[("delete", "scsi1")]).await.data();
    let cfg = config(&c, &vm).await;
    assert!(cfg.get("scsi1").is_none());
    assert_eq!(
        cfg["unused0"],
        format!("local-lvm:vm-{vmid}-disk-1").as_str()
    );
    put(&c, &path, &[("delete", "unused0")]).await.data();
    assert!(config(&c, &vm).await.get("unused0").is_none());
}

#[tokio::test]
async fn a_clone_gets_its_own_volumes_and_macs() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, vmid) = find_vm(&c, |v| v["status"] == "stopped" && v["template"] == 0).await;
    let vm = format!("/nodes/{node}/qemu/{vmid}");
    put(
        &c,
        &format!("{vm}/config"),
        &[("scsi1", "local-lvm:4"), ("net1", "virtio,bridge=vmbr1")],
    )
    .await
    .data();
    let source = config(&c, &vm).await;
    let newid = "901";
    let a = c
        .post(&format!("{vm}/clone"), &[("newid", newid), ("full", "1")])
        .await;
    assert_eq!(
        c.wait_task(a.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let copy = config(&c, &format!("/nodes/{node}/qemu/{newid}")).await;
    assert_eq!(
        copy["scsi1"],
        format!("local-lvm:vm-{newid}-disk-1,size=4G").as_str()
    );
    assert_ne!(copy["net1"], source["net1"], "a MAC of its own");
    assert!(copy["net1"].as_str().unwrap().ends_with(",bridge=vmbr1"));
}

#[tokio::test]
async fn the_node_lists_its_bridges() {
    let sim = start().await;
    let c = Client::login(&sim, "root@pam", "secret").await;
    let (node, _) = find_vm(&c, |_| true).await;
    let all = c
        .get(&format!("/nodes/{node}/network"))
        .await
        .data()
        .clone();
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| i["iface"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&all), ["eno1", "eno2", "vmbr0", "vmbr1"]);
    let bridges = c
        .get(&format!("/nodes/{node}/network?type=any_bridge"))
        .await
        .data()
        .clone();
    assert_eq!(names(&bridges), ["vmbr0", "vmbr1"]);
    let a = c.get(&format!("/nodes/{node}/network?type=wifi")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}
