//! Privileges: PVE 9's built-in roles (`builtin-roles-9.x.json`), ACL entries, the walk down an
//! ACL path (more specific entries replace inherited ones) and the login answer's `cap` map.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// Every privilege PVE 9.1 knows.
pub(crate) const ALL_PRIVILEGES: &[&str] = &[
    "Datastore.Allocate",
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "Group.Allocate",
    "Mapping.Audit",
    "Mapping.Modify",
    "Mapping.Use",
    "Permissions.Modify",
    "Pool.Allocate",
    "Pool.Audit",
    "Realm.Allocate",
    "Realm.AllocateUser",
    "SDN.Allocate",
    "SDN.Audit",
    "SDN.Use",
    "Sys.AccessNetwork",
    "Sys.Audit",
    "Sys.Console",
    "Sys.Incoming",
    "Sys.Modify",
    "Sys.PowerMgmt",
    "Sys.Syslog",
    "User.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Backup",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];

const AUDITOR: &[&str] = &[
    "Datastore.Audit",
    "Mapping.Audit",
    "Pool.Audit",
    "SDN.Audit",
    "Sys.Audit",
    "VM.Audit",
    "VM.GuestAgent.Audit",
];

const VM_USER: &[&str] = &[
    "VM.Audit",
    "VM.Backup",
    "VM.Config.CDROM",
    "VM.Config.Cloudinit",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.PowerMgmt",
];

/// What PVEAdmin lacks compared to Administrator.
const NOT_IN_PVEADMIN: &[&str] = &[
    "Mapping.Modify",
    "Permissions.Modify",
    "Realm.Allocate",
    "Sys.AccessNetwork",
    "Sys.Incoming",
    "Sys.Modify",
    "Sys.PowerMgmt",
];

/// The built-in roles of PVE 9 (`builtin-roles-9.x.json`), in PVE's order.
pub(crate) const BUILTIN_ROLES: &[&str] = &[
    "Administrator",
    "NoAccess",
    "PVEAdmin",
    "PVEAuditor",
    "PVEDatastoreAdmin",
    "PVEDatastoreUser",
    "PVEMappingAdmin",
    "PVEMappingUser",
    "PVEPoolAdmin",
    "PVEPoolUser",
    "PVESDNAdmin",
    "PVESDNUser",
    "PVESysAdmin",
    "PVETemplateUser",
    "PVEUserAdmin",
    "PVEVMAdmin",
    "PVEVMUser",
];

/// The privileges of a built-in role; unknown roles grant nothing.
pub(crate) fn role_privileges(role: &str) -> Vec<&'static str> {
    match role {
        "Administrator" => ALL_PRIVILEGES.to_vec(),
        "PVEAdmin" => ALL_PRIVILEGES
            .iter()
            .copied()
            .filter(|p| !NOT_IN_PVEADMIN.contains(p))
            .collect(),
        "PVEVMAdmin" => ALL_PRIVILEGES
            .iter()
            .copied()
            .filter(|p| p.starts_with("VM."))
            .collect(),
        "PVEVMUser" => VM_USER.to_vec(),
        "PVEAuditor" => AUDITOR.to_vec(),
        "PVEDatastoreAdmin" => ALL_PRIVILEGES
            .iter()
            .copied()
            .filter(|p| p.starts_with("Datastore."))
            .collect(),
        "PVEDatastoreUser" => vec!["Datastore.AllocateSpace", "Datastore.Audit"],
        "PVEMappingAdmin" => vec!["Mapping.Audit", "Mapping.Modify", "Mapping.Use"],
        "PVEMappingUser" => vec!["Mapping.Audit", "Mapping.Use"],
        "PVEPoolAdmin" => vec!["Pool.Allocate", "Pool.Audit"],
        "PVEPoolUser" => vec!["Pool.Audit"],
        "PVESDNAdmin" => vec!["SDN.Allocate", "SDN.Audit", "SDN.Use"],
        "PVESDNUser" => vec!["SDN.Audit", "SDN.Use"],
        "PVESysAdmin" => vec!["Sys.Audit", "Sys.Console", "Sys.Syslog"],
        "PVETemplateUser" => vec!["VM.Audit", "VM.Clone"],
        "PVEUserAdmin" => vec!["Group.Allocate", "Realm.AllocateUser", "User.Modify"],
        _ => Vec::new(),
    }
}

/// One ACL entry: `ugid` (a user or token ID) has `role` on `path`.
#[derive(Clone, Debug)]
pub(crate) struct AclEntry {
    pub path: String,
    pub ugid: String,
    pub role: &'static str,
    pub propagate: bool,
}

/// Privileges of `ugid` on `path` from `acl`: walking from `/` down, the deepest level with an
/// entry for `ugid` decides (entries above the target count only if they propagate).
pub(crate) fn privileges(acl: &[AclEntry], ugid: &str, path: &str) -> BTreeSet<&'static str> {
    let mut result = BTreeSet::new();
    let mut levels = vec!["/".to_owned()];
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        levels.push(cur.clone());
    }
    let last = levels.len() - 1;
    for (i, level) in levels.iter().enumerate() {
        let here: Vec<&AclEntry> = acl
            .iter()
            .filter(|e| e.ugid == ugid && e.path == *level && (i == last || e.propagate))
            .collect();
        if !here.is_empty() {
            result = here.iter().flat_map(|e| role_privileges(e.role)).collect();
        }
    }
    result
}

/// True if `ugid` has `privilege` on `path`: the same walk as [`privileges`] without building
/// sets (the per-VM checks of `/cluster/resources` run 10,000 times per call at scale).
pub(crate) fn has_privilege(acl: &[AclEntry], ugid: &str, path: &str, privilege: &str) -> bool {
    // Levels: "/", then every prefix of `path` ending before a '/' or at its end.
    let path = path.trim_end_matches('/');
    let ends = std::iter::once(0).chain(
        path.char_indices()
            .skip(1)
            .filter(|(_, c)| *c == '/')
            .map(|(i, _)| i)
            .chain(std::iter::once(path.len()))
            .filter(|i| *i > 0),
    );
    let mut decided = false;
    for end in ends {
        let level = if end == 0 { "/" } else { &path[..end] };
        let last = end == path.len() || (end == 0 && path.is_empty());
        let mut here = acl
            .iter()
            .filter(|e| e.ugid == ugid && e.path == level && (last || e.propagate))
            .peekable();
        if here.peek().is_some() {
            decided = here.any(|e| role_has(e.role, privilege));
        }
    }
    decided
}

/// True if built-in `role` grants `privilege`.
fn role_has(role: &str, privilege: &str) -> bool {
    match role {
        "Administrator" => ALL_PRIVILEGES.contains(&privilege),
        "PVEAdmin" => ALL_PRIVILEGES.contains(&privilege) && !NOT_IN_PVEADMIN.contains(&privilege),
        "PVEVMAdmin" => privilege.starts_with("VM.") && ALL_PRIVILEGES.contains(&privilege),
        "PVEVMUser" => VM_USER.contains(&privilege),
        "PVEAuditor" => AUDITOR.contains(&privilege),
        _ => role_privileges(role).contains(&privilege),
    }
}

/// A `cap` group: its name, the ACL path PVE looks at, and which privileges belong to it.
type CapGroup = (&'static str, &'static str, fn(&str) -> bool);

/// The `cap` map of a login answer, from the privileges on the paths PVE looks at
/// (`compute_api_permission`; `/` counts as `dc`).
pub(crate) fn cap(privs_on: impl Fn(&str) -> BTreeSet<&'static str>) -> Value {
    let groups: [CapGroup; 7] = [
        ("vms", "/vms", |p| {
            p.starts_with("VM.") || p == "Permissions.Modify"
        }),
        ("access", "/access/groups", |p| {
            p.starts_with("User.") || p.starts_with("Group.") || p == "Permissions.Modify"
        }),
        ("storage", "/storage", |p| {
            p.starts_with("Datastore.") || p == "Permissions.Modify"
        }),
        ("nodes", "/nodes", |p| {
            p.starts_with("Sys.") || p == "Permissions.Modify"
        }),
        ("sdn", "/sdn", |p| {
            p.starts_with("SDN.") || p == "Permissions.Modify"
        }),
        ("dc", "/", |p| {
            p == "Sys.Audit" || p == "Sys.Modify" || p.starts_with("SDN.")
        }),
        ("mapping", "/mapping", |p| {
            p.starts_with("Mapping.") || p == "Permissions.Modify"
        }),
    ];
    let mut out = Map::new();
    for (name, path, wanted) in groups {
        let mut m = Map::new();
        for p in privs_on(path).into_iter().filter(|p| wanted(p)) {
            m.insert(p.to_owned(), json!(1));
        }
        out.insert(name.to_owned(), Value::Object(m));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, role: &'static str, propagate: bool) -> AclEntry {
        AclEntry {
            path: path.into(),
            ugid: "u@pve".into(),
            role,
            propagate,
        }
    }

    #[test]
    fn deeper_entries_replace_inherited_ones() {
        let acl = vec![
            entry("/", "PVEAuditor", true),
            entry("/vms/100", "PVEVMUser", true),
        ];
        assert!(privileges(&acl, "u@pve", "/vms/101").contains("VM.Audit"));
        assert!(!privileges(&acl, "u@pve", "/vms/101").contains("VM.PowerMgmt"));
        assert!(privileges(&acl, "u@pve", "/vms/100").contains("VM.PowerMgmt"));
        assert!(!privileges(&acl, "u@pve", "/vms/100").contains("Sys.Audit"));
        assert!(privileges(&acl, "other@pve", "/").is_empty());
        let acl = vec![entry("/", "PVEAuditor", false)];
        assert!(privileges(&acl, "u@pve", "/").contains("Sys.Audit"));
        assert!(privileges(&acl, "u@pve", "/nodes").is_empty());
    }

    #[test]
    fn has_privilege_agrees_with_privileges() {
        let acls = [
            vec![
                entry("/", "PVEAuditor", true),
                entry("/vms/100", "PVEVMUser", true),
            ],
            vec![entry("/", "PVEAuditor", false)],
            vec![
                entry("/vms", "PVEVMAdmin", false),
                entry("/nodes", "PVEAdmin", true),
                entry("/storage", "PVEDatastoreUser", true),
            ],
            vec![
                entry("/vms/101", "NoAccess", true),
                entry("/", "Administrator", true),
            ],
        ];
        let paths = [
            "/",
            "/vms",
            "/vms/100",
            "/vms/101",
            "/nodes/pve1",
            "/storage/local",
        ];
        for acl in &acls {
            for path in paths {
                let set = privileges(acl, "u@pve", path);
                for p in ALL_PRIVILEGES {
                    assert_eq!(
                        has_privilege(acl, "u@pve", path, p),
                        set.contains(p),
                        "{acl:?} {path} {p}"
                    );
                }
                assert!(!has_privilege(acl, "other@pve", path, "VM.Audit"));
            }
        }
    }

    #[test]
    fn root_cap_matches_recording() {
        let all = |_: &str| ALL_PRIVILEGES.iter().copied().collect::<BTreeSet<_>>();
        let c = cap(all);
        assert_eq!(c["vms"].as_object().unwrap().len(), 24);
        assert_eq!(c["access"].as_object().unwrap().len(), 3);
        assert_eq!(c["dc"].as_object().unwrap().len(), 5);
        assert_eq!(c["nodes"].as_object().unwrap().len(), 8);
        assert_eq!(c["storage"].as_object().unwrap().len(), 5);
        assert_eq!(c["mapping"].as_object().unwrap().len(), 4);
        assert_eq!(c["sdn"].as_object().unwrap().len(), 4);
    }
}
