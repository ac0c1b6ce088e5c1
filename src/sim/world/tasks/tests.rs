use super::*;

fn node() -> Node {
    Node {
        name: "pve1".into(),
        ip: "10.10.0.11".into(),
        maxcpu: 8,
        maxmem: 1 << 35,
        maxdisk: 1 << 36,
        lvm_size: 1 << 38,
        boot_time: 1_783_000_000,
        fingerprint: String::new(),
        online: true,
    }
}

#[test]
fn upid_format_and_decode() {
    let mut store = TaskStore::default();
    let upid = store.create(&node(), "qmstart", "100", "root@pam!cecyber", 1_783_944_655);
    assert!(upid.starts_with("UPID:pve1:"), "{upid}");
    assert!(
        upid.ends_with(":6A54D5CF:qmstart:100:root@pam!cecyber:"),
        "{upid}"
    );
    let parts = decode_upid(&upid).unwrap();
    assert_eq!(
        parts,
        UpidParts {
            node: "pve1".into(),
            user: "root@pam!cecyber".into()
        }
    );
    for bad in [
        "",
        "UPID:pve1:1:2:3:qmstart:100:root@pam:",
        "UPID:pve1:00000001:00000002:00000003:qmstart:100:root@pam",
    ] {
        assert!(decode_upid(bad).is_none(), "{bad}");
    }
}

#[test]
fn status_and_log_life_cycle() {
    let mut store = TaskStore::default();
    let upid = store.create(&node(), "qmstop", "101", "root@pam!cecyber", 1_783_944_655);
    let t = store.get(&upid).unwrap();
    let s = t.status_json();
    assert_eq!(s["status"], "running");
    assert_eq!(s["user"], "root@pam");
    assert_eq!(s["tokenid"], "cecyber");
    assert!(s.get("exitstatus").is_none());
    assert_eq!(
        t.log_page(0, 50),
        (vec![json!({"n": 1, "t": "no content"})], 1)
    );
    assert!(t.owned_by("root@pam") && t.owned_by("root@pam!cecyber") && !t.owned_by("auditor@pve"));

    store.log(&upid, "WARN: something odd");
    store.finish(&upid, 1_783_944_657, Outcome::Ok);
    let t = store.get(&upid).unwrap();
    assert_eq!(t.status_json()["exitstatus"], "WARNINGS: 1");
    let (lines, total) = t.log_page(0, 0);
    assert_eq!(total, 2);
    assert_eq!(lines[1], json!({"n": 2, "t": "TASK WARNINGS: 1"}));
    let (lines, total) = t.log_page(1, 1);
    assert_eq!((lines.len(), total), (1, 2));

    let failed = store.create(&node(), "qmstart", "100", "root@pam", 1_783_944_660);
    store.finish(
        &failed,
        1_783_944_661,
        Outcome::Error("VM 100 already running\n".into()),
    );
    let t = store.get(&failed).unwrap();
    assert_eq!(t.status_json()["exitstatus"], "VM 100 already running");
    assert_eq!(
        t.log_page(0, 50).0[0]["t"],
        "TASK ERROR: VM 100 already running"
    );
    assert!(!t.owned_by("root@pam!cecyber"));
    let entry = t.cluster_entry();
    assert_eq!(entry["status"], "VM 100 already running");
    assert!(entry.get("pid").is_none() && entry.get("pstart").is_none());
}

#[test]
fn cluster_list_limits_finished_tasks() {
    let mut store = TaskStore::default();
    for i in 0..40 {
        let upid = store.create(&node(), "qmstart", "100", "root@pam", 1_783_944_000 + i);
        store.finish(&upid, 1_783_944_001 + i, Outcome::Ok);
    }
    store.create(&node(), "qmstop", "100", "root@pam", 1_783_944_100);
    let list = store.cluster_list(&["pve1", "pve2"]);
    assert_eq!(list.len(), 25);
    assert!(list[0].end.is_none());
    assert_eq!(list[1].starttime, 1_783_944_039);
}
