//! The one table of every request the client can make: method, path (with the schema's
//! `{placeholders}`) and each query or form parameter with its schema type.
//!
//! `methods.rs` builds every request from an entry here ([`Endpoint::url_path`] fills the
//! placeholders, [`Endpoint::encode`] refuses parameters the entry does not list or values of
//! the wrong type), so the table cannot drift from the code. `tests/schema.rs` checks every
//! entry against PVE's published API schemas (8.4 and 9.1).

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::error::{Error, Result};
use crate::types::{ParamValue, Params};

/// A parameter type as PVE's schema names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// `integer`.
    Integer,
    /// `number` (integers are accepted too).
    Number,
    /// `boolean`, sent as `0` or `1`.
    Boolean,
    /// `string` of any format.
    String,
    /// `string` limited to these values (each must be in the schema's `enum`).
    Enum(&'static [&'static str]),
}

impl ParamType {
    /// The schema's `type` for this parameter type.
    pub fn schema_type(self) -> &'static str {
        match self {
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::String | ParamType::Enum(_) => "string",
        }
    }

    /// True when `value` may be sent as this type.
    pub fn accepts(self, value: &ParamValue) -> bool {
        match (self, value) {
            (ParamType::Integer, ParamValue::Int(_))
            | (ParamType::Number, ParamValue::Int(_) | ParamValue::Num(_))
            | (ParamType::Boolean, ParamValue::Bool(_))
            | (ParamType::String, ParamValue::Str(_)) => true,
            (ParamType::Enum(values), ParamValue::Str(s)) => values.contains(&s.as_str()),
            _ => false,
        }
    }
}

/// One query or form parameter of an [`Endpoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name as in the schema; `net[n]` stands for `net0`, `net1`, ….
    pub name: &'static str,
    /// Schema type.
    pub ty: ParamType,
    /// The PVE version that introduced the parameter, or some of its enum values; older
    /// schemas may lack it (or those values).
    pub since: Option<&'static str>,
}

impl Param {
    /// Marks the parameter as added in PVE `version`.
    pub const fn since(self, version: &'static str) -> Self {
        Self {
            since: Some(version),
            ..self
        }
    }

    /// True when a parameter called `name` is this one (`net0` matches `net[n]`).
    pub fn matches(&self, name: &str) -> bool {
        match self.name.strip_suffix("[n]") {
            Some(prefix) => name.strip_prefix(prefix).is_some_and(|n| {
                !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())
            }),
            None => self.name == name,
        }
    }
}

/// An `integer` parameter.
pub const fn int(name: &'static str) -> Param {
    Param {
        name,
        ty: ParamType::Integer,
        since: None,
    }
}

/// A `number` parameter.
pub const fn number(name: &'static str) -> Param {
    Param {
        name,
        ty: ParamType::Number,
        since: None,
    }
}

/// A `boolean` parameter.
pub const fn boolean(name: &'static str) -> Param {
    Param {
        name,
        ty: ParamType::Boolean,
        since: None,
    }
}

/// A `string` parameter.
pub const fn string(name: &'static str) -> Param {
    Param {
        name,
        ty: ParamType::String,
        since: None,
    }
}

/// A `string` parameter with a fixed set of values.
pub const fn one_of(name: &'static str, values: &'static [&'static str]) -> Param {
    Param {
        name,
        ty: ParamType::Enum(values),
        since: None,
    }
}

/// One request: HTTP method, path below `/api2/json`, parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// Path with the schema's placeholders, e.g. `/nodes/{node}/qemu/{vmid}/clone`.
    pub path: &'static str,
    /// Query (GET, DELETE) or form (POST, PUT) parameters; path placeholders are not listed.
    pub params: &'static [Param],
    /// The PVE version that introduced the endpoint; older schemas may lack it.
    pub since: Option<&'static str>,
}

const fn endpoint(method: &'static str, path: &'static str, params: &'static [Param]) -> Endpoint {
    Endpoint {
        method,
        path,
        params,
        since: None,
    }
}

/// A `GET` endpoint.
pub const fn get(path: &'static str, params: &'static [Param]) -> Endpoint {
    endpoint("GET", path, params)
}

/// A `POST` endpoint.
pub const fn post(path: &'static str, params: &'static [Param]) -> Endpoint {
    endpoint("POST", path, params)
}

/// A `PUT` endpoint.
pub const fn put(path: &'static str, params: &'static [Param]) -> Endpoint {
    endpoint("PUT", path, params)
}

/// A `DELETE` endpoint.
pub const fn delete(path: &'static str, params: &'static [Param]) -> Endpoint {
    endpoint("DELETE", path, params)
}

impl Endpoint {
    /// Marks the endpoint as added in PVE `version`.
    pub const fn since(self, version: &'static str) -> Self {
        Self {
            since: Some(version),
            ..self
        }
    }

    /// The parameter `name` sends as, if the endpoint takes it.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.matches(name))
    }

    /// The placeholders of the path, in order (`["node", "vmid"]`).
    pub fn placeholders(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }

    /// The path with the placeholders replaced by `segments` (in order, percent-encoded).
    /// The segments come from validated ID types.
    pub fn url_path(&self, segments: &[&str]) -> Result<String> {
        let mut values = segments.iter();
        let mut out = String::with_capacity(self.path.len() + 32);
        for part in self.path.split('/').skip(1) {
            out.push('/');
            if part.starts_with('{') {
                let value = values
                    .next()
                    .ok_or_else(|| self.misuse("too few path segments"))?;
                out.extend(utf8_percent_encode(value, SEGMENT));
            } else {
                out.push_str(part);
            }
        }
        if values.next().is_some() {
            return Err(self.misuse("too many path segments"));
        }
        Ok(out)
    }

    /// Checks every parameter against the table and encodes it for PVE (booleans as `0`/`1`).
    /// Nothing is sent when a name is not listed or a value has the wrong type.
    pub fn encode(&self, params: &Params) -> Result<Vec<(String, String)>> {
        let mut errors = BTreeMap::new();
        let mut out = Vec::with_capacity(params.len());
        for (name, value) in params.iter() {
            match self.param(name) {
                None => {
                    errors.insert(
                        name.to_owned(),
                        "not a parameter of this request".to_owned(),
                    );
                }
                Some(p) if !p.ty.accepts(value) => {
                    let want = match p.ty {
                        ParamType::Enum(values) => format!("one of {}", values.join(", ")),
                        other => format!("a {}", other.schema_type()),
                    };
                    errors.insert(
                        name.to_owned(),
                        // The value itself is not repeated: it may be a secret.
                        format!("expected {want}, got a {}", value.type_name()),
                    );
                }
                Some(_) => out.push((name.to_owned(), value.encode())),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(Error::InvalidParameters {
                message: format!(
                    "not sent: {} {} does not take these parameters",
                    self.method, self.path
                ),
                errors,
            })
        }
    }

    fn misuse(&self, what: &str) -> Error {
        Error::InvalidParameters {
            message: format!("not sent: {} {}: {what}", self.method, self.path),
            errors: BTreeMap::new(),
        }
    }
}

/// Encoded in a path segment: everything but unreserved characters and `:`, `@`, `!`, which
/// UPIDs contain and RFC 3986 allows in segments.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'&')
    .add(b'=')
    .add(b'+')
    .add(b';');

/// RRD timeframes guests accept.
const GUEST_TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year"];
/// RRD timeframes nodes accept (PVE 9 adds `decade`).
const NODE_TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year", "decade"];
/// RRD consolidation functions.
const RRD_CF: &[&str] = &["AVERAGE", "MAX"];

/// The vzdump options ([`VzdumpOptions`](crate::types::VzdumpOptions)), followed by `$extra`.
macro_rules! with_vzdump {
    ($($extra:expr),* $(,)?) => {
        &[
            string("vmid"),
            boolean("all"),
            string("exclude"),
            string("pool"),
            string("storage"),
            one_of("mode", &["snapshot", "suspend", "stop"]),
            one_of("compress", &["0", "1", "gzip", "lzo", "zstd"]),
            string("prune-backups"),
            string("notes-template"),
            boolean("protected"),
            boolean("remove"),
            int("bwlimit"),
            int("zstd"),
            string("mailto"),
            one_of("mailnotification", &["always", "failure"]),
            $($extra),*
        ]
    };
}

/// The config options ([`QemuConfigUpdate`](crate::types::QemuConfigUpdate)), followed by
/// `$extra`.
macro_rules! with_qemu_config {
    ($($extra:expr),* $(,)?) => {
        &[
            string("name"),
            string("description"),
            string("tags"),
            string("memory"),
            int("balloon"),
            int("cores"),
            int("sockets"),
            int("vcpus"),
            string("cpu"),
            number("cpulimit"),
            int("cpuunits"),
            boolean("numa"),
            boolean("onboot"),
            boolean("protection"),
            string("ostype"),
            string("boot"),
            string("agent"),
            string("startup"),
            string("delete"),
            string("revert"),
            string("digest"),
            // String-valued options the caller may set through `QemuConfigUpdate::set`.
            string("net[n]"),
            string("ide[n]"),
            string("sata[n]"),
            string("scsi[n]"),
            string("virtio[n]"),
            string("unused[n]"),
            string("ipconfig[n]"),
            string("serial[n]"),
            string("usb[n]"),
            string("hostpci[n]"),
            string("numa[n]"),
            string("efidisk0"),
            string("tpmstate0"),
            string("vga"),
            string("machine"),
            string("bios"),
            string("scsihw"),
            string("hotplug"),
            string("cicustom"),
            string("ciuser"),
            string("cipassword"),
            string("citype"),
            string("nameserver"),
            string("searchdomain"),
            string("sshkeys"),
            string("smbios1"),
            string("hookscript"),
            string("affinity"),
            string("keyboard"),
            string("vmstatestorage"),
            string("watchdog"),
            string("rng0"),
            $($extra),*
        ]
    };
}

/// Defines each endpoint as a constant and lists them all in [`ENDPOINTS`].
macro_rules! endpoints {
    ($($(#[$meta:meta])* $name:ident = $def:expr;)*) => {
        $($(#[$meta])* pub const $name: Endpoint = $def;)*

        /// Every request the client can make.
        pub const ENDPOINTS: &[&Endpoint] = &[$(&$name),*];
    };
}

endpoints! {
    /// Log in, or renew a ticket (the ticket as password).
    ACCESS_TICKET = post("/access/ticket", &[string("username"), string("password")]);
    /// The PVE release.
    VERSION = get("/version", &[]);
    /// All nodes.
    NODES = get("/nodes", &[]);
    /// Node sub-directories.
    NODE_INDEX = get("/nodes/{node}", &[]);
    /// Node status.
    NODE_STATUS = get("/nodes/{node}/status", &[]);
    /// Node metric history.
    NODE_RRDDATA = get(
        "/nodes/{node}/rrddata",
        &[one_of("timeframe", NODE_TIMEFRAMES).since("9.0"), one_of("cf", RRD_CF)],
    );
    /// A node's task list.
    NODE_TASKS = get(
        "/nodes/{node}/tasks",
        &[
            int("vmid"),
            string("typefilter"),
            string("statusfilter"),
            string("userfilter"),
            boolean("errors"),
            int("start"),
            int("limit"),
            int("since"),
            int("until"),
            one_of("source", &["archive", "active", "all"]),
        ],
    );
    /// One task's status.
    TASK_STATUS = get("/nodes/{node}/tasks/{upid}/status", &[]);
    /// One task's log.
    TASK_LOG = get("/nodes/{node}/tasks/{upid}/log", &[int("start"), int("limit")]);
    /// Stop a task.
    TASK_STOP = delete("/nodes/{node}/tasks/{upid}", &[]);
    /// A node's network interfaces.
    NODE_NETWORK = get("/nodes/{node}/network", &[string("type")]);
    /// A node's storages.
    NODE_STORAGE = get(
        "/nodes/{node}/storage",
        &[string("content"), boolean("enabled"), string("storage"), string("target")],
    );
    /// A storage's volumes.
    STORAGE_CONTENT = get(
        "/nodes/{node}/storage/{storage}/content",
        &[string("content"), int("vmid")],
    );
    /// Start a backup.
    NODE_VZDUMP = post("/nodes/{node}/vzdump", with_vzdump![]);
    /// A node's VMs.
    QEMU_LIST = get("/nodes/{node}/qemu", &[]);
    /// Create a VM; Cecyber only restores from a backup (`archive`).
    QEMU_CREATE = post(
        "/nodes/{node}/qemu",
        &[
            int("vmid"),
            string("archive"),
            string("storage"),
            boolean("force"),
            boolean("unique"),
            boolean("live-restore"),
            boolean("start"),
            string("pool"),
            int("bwlimit"),
        ],
    );
    /// A VM's live status.
    QEMU_STATUS = get("/nodes/{node}/qemu/{vmid}/status/current", &[]);
    /// Start a VM.
    QEMU_START = post("/nodes/{node}/qemu/{vmid}/status/start", &[]);
    /// Stop a VM.
    QEMU_STOP = post("/nodes/{node}/qemu/{vmid}/status/stop", &[]);
    /// Shut a VM down.
    QEMU_SHUTDOWN = post("/nodes/{node}/qemu/{vmid}/status/shutdown", &[]);
    /// Reboot a VM.
    QEMU_REBOOT = post("/nodes/{node}/qemu/{vmid}/status/reboot", &[]);
    /// Pause a VM.
    QEMU_SUSPEND = post("/nodes/{node}/qemu/{vmid}/status/suspend", &[]);
    /// Resume a VM.
    QEMU_RESUME = post("/nodes/{node}/qemu/{vmid}/status/resume", &[]);
    /// Start a container.
    LXC_START = post("/nodes/{node}/lxc/{vmid}/status/start", &[]);
    /// Stop a container.
    LXC_STOP = post("/nodes/{node}/lxc/{vmid}/status/stop", &[]);
    /// Shut a container down.
    LXC_SHUTDOWN = post("/nodes/{node}/lxc/{vmid}/status/shutdown", &[]);
    /// Reboot a container.
    LXC_REBOOT = post("/nodes/{node}/lxc/{vmid}/status/reboot", &[]);
    /// A VM's metric history.
    QEMU_RRDDATA = get(
        "/nodes/{node}/qemu/{vmid}/rrddata",
        &[one_of("timeframe", GUEST_TIMEFRAMES), one_of("cf", RRD_CF)],
    );
    /// A VM's configuration (with pending changes, as it is now with `current`, or as a
    /// snapshot saved it).
    QEMU_CONFIG = get(
        "/nodes/{node}/qemu/{vmid}/config",
        &[boolean("current"), string("snapshot")],
    );
    /// A VM's options with their pending changes.
    QEMU_PENDING = get("/nodes/{node}/qemu/{vmid}/pending", &[]);
    /// A VM's snapshots and its present state.
    QEMU_SNAPSHOT_LIST = get("/nodes/{node}/qemu/{vmid}/snapshot", &[]);
    /// Take a snapshot.
    QEMU_SNAPSHOT_CREATE = post(
        "/nodes/{node}/qemu/{vmid}/snapshot",
        &[string("snapname"), string("description"), boolean("vmstate")],
    );
    /// Delete a snapshot.
    QEMU_SNAPSHOT_DELETE = delete(
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
        &[boolean("force")],
    );
    /// What a snapshot saved.
    QEMU_SNAPSHOT_CONFIG = get("/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config", &[]);
    /// Change a snapshot's description.
    QEMU_SNAPSHOT_CONFIG_PUT = put(
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
        &[string("description")],
    );
    /// Roll a VM back to a snapshot.
    QEMU_SNAPSHOT_ROLLBACK = post(
        "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
        &[boolean("start")],
    );
    /// Change a VM's configuration, synchronously.
    QEMU_CONFIG_PUT = put("/nodes/{node}/qemu/{vmid}/config", with_qemu_config![boolean("skiplock")]);
    /// Change a VM's configuration as a task.
    QEMU_CONFIG_POST = post(
        "/nodes/{node}/qemu/{vmid}/config",
        with_qemu_config![boolean("skiplock"), int("background_delay")],
    );
    /// Grow a disk.
    QEMU_RESIZE = put(
        "/nodes/{node}/qemu/{vmid}/resize",
        &[string("disk"), string("size"), string("digest"), boolean("skiplock")],
    );
    /// Clone a VM.
    QEMU_CLONE = post(
        "/nodes/{node}/qemu/{vmid}/clone",
        &[
            int("newid"),
            string("name"),
            string("description"),
            boolean("full"),
            string("target"),
            string("storage"),
            string("pool"),
            string("snapname"),
            one_of("format", &["raw", "qcow2", "vmdk"]),
            int("bwlimit"),
        ],
    );
    /// Migration precondition.
    QEMU_MIGRATE_CHECK = get("/nodes/{node}/qemu/{vmid}/migrate", &[string("target")]);
    /// Migrate a VM.
    QEMU_MIGRATE = post(
        "/nodes/{node}/qemu/{vmid}/migrate",
        &[
            string("target"),
            boolean("online"),
            boolean("with-local-disks"),
            string("targetstorage"),
            boolean("force"),
            int("bwlimit"),
        ],
    );
    /// Start a VNC proxy.
    QEMU_VNCPROXY = post(
        "/nodes/{node}/qemu/{vmid}/vncproxy",
        &[boolean("websocket"), boolean("generate-password")],
    );
    /// The VNC WebSocket (opened by the console relay, not by this client).
    QEMU_VNCWEBSOCKET = get(
        "/nodes/{node}/qemu/{vmid}/vncwebsocket",
        &[int("port"), string("vncticket")],
    );
    /// Every node, guest and storage.
    CLUSTER_RESOURCES = get(
        "/cluster/resources",
        &[one_of("type", &["vm", "storage", "node", "sdn"])],
    );
    /// Quorum and nodes.
    CLUSTER_STATUS = get("/cluster/status", &[]);
    /// The next free VM ID, or whether one is free.
    CLUSTER_NEXTID = get("/cluster/nextid", &[int("vmid")]);
    /// The resource pools the caller may audit.
    POOLS = get("/pools", &[]);
    /// The cluster log.
    CLUSTER_LOG = get("/cluster/log", &[int("max")]);
    /// Recent tasks of all nodes.
    CLUSTER_TASKS = get("/cluster/tasks", &[]);
    /// Backup jobs.
    CLUSTER_BACKUP_LIST = get("/cluster/backup", &[]);
    /// Create a backup job.
    CLUSTER_BACKUP_CREATE = post(
        "/cluster/backup",
        with_vzdump![
            string("id"),
            string("schedule"),
            boolean("enabled"),
            string("comment"),
            boolean("repeat-missed"),
            string("node"),
        ],
    );
    /// One backup job.
    CLUSTER_BACKUP_GET = get("/cluster/backup/{id}", &[]);
    /// Change a backup job.
    CLUSTER_BACKUP_UPDATE = put(
        "/cluster/backup/{id}",
        with_vzdump![
            string("schedule"),
            boolean("enabled"),
            string("comment"),
            boolean("repeat-missed"),
            string("node"),
            string("delete"),
        ],
    );
    /// Delete a backup job.
    CLUSTER_BACKUP_DELETE = delete("/cluster/backup/{id}", &[]);
    /// Raw metric samples (PVE 8.2+).
    CLUSTER_METRICS_EXPORT = get(
        "/cluster/metrics/export",
        &[
            boolean("history"),
            boolean("local-only"),
            string("node-list").since("9.0"),
            int("start-time"),
        ],
    )
    .since("8.2");
    /// Users.
    ACCESS_USERS = get("/access/users", &[boolean("enabled"), boolean("full")]);
    /// Roles.
    ACCESS_ROLES = get("/access/roles", &[]);
    /// ACL entries.
    ACCESS_ACL = get("/access/acl", &[]);
    /// Effective permissions.
    ACCESS_PERMISSIONS = get("/access/permissions", &[string("path"), string("userid")]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for ep in ENDPOINTS {
            assert!(
                seen.insert((ep.method, ep.path)),
                "duplicate {} {}",
                ep.method,
                ep.path
            );
            assert!(matches!(ep.method, "GET" | "POST" | "PUT" | "DELETE"));
            assert!(
                ep.path.starts_with('/') && !ep.path.ends_with('/'),
                "{}",
                ep.path
            );
            let holders = ep.placeholders();
            let segments: Vec<&str> = holders.iter().map(|_| "x").collect();
            assert!(ep.url_path(&segments).is_ok(), "{}", ep.path);
            let mut names = std::collections::HashSet::new();
            for p in ep.params {
                assert!(
                    names.insert(p.name),
                    "{} {} lists {} twice",
                    ep.method,
                    ep.path,
                    p.name
                );
                assert!(
                    !holders.contains(&p.name),
                    "{} is a path placeholder",
                    p.name
                );
            }
        }
    }

    #[test]
    fn paths_are_encoded() {
        let path = TASK_STATUS
            .url_path(&[
                "pve",
                "UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam!sdk:",
            ])
            .unwrap();
        assert_eq!(
            path,
            "/nodes/pve/tasks/UPID:pve:000586C3:0078E111:6A4BB5C8:qmcreate:9102:root@pam!sdk:/status"
        );
        assert_eq!(
            CLUSTER_BACKUP_GET.url_path(&["a/b?c#d%e f"]).unwrap(),
            "/cluster/backup/a%2Fb%3Fc%23d%25e%20f"
        );
        assert!(QEMU_STATUS.url_path(&["pve"]).is_err());
        assert!(NODES.url_path(&["pve"]).is_err());
    }

    #[test]
    fn encode_checks_names_and_types() {
        let mut p = Params::new();
        p.int("newid", 201)
            .bool("full", true)
            .str("format", "qcow2");
        assert_eq!(
            QEMU_CLONE.encode(&p).unwrap(),
            [
                ("newid".to_owned(), "201".to_owned()),
                ("full".to_owned(), "1".to_owned()),
                ("format".to_owned(), "qcow2".to_owned())
            ]
        );
        let mut bad = Params::new();
        bad.str("newid", "201")
            .str("fulll", "1")
            .str("format", "vdi");
        match QEMU_CLONE.encode(&bad).unwrap_err() {
            Error::InvalidParameters { message, errors } => {
                assert!(
                    message.contains("POST /nodes/{node}/qemu/{vmid}/clone"),
                    "{message}"
                );
                assert_eq!(errors.len(), 3, "{errors:?}");
                assert!(errors["newid"].contains("integer"));
                assert!(errors["format"].contains("raw, qcow2, vmdk"));
                assert!(errors.contains_key("fulll"));
            }
            other => panic!("{other:?}"),
        }
        // Guests have no `decade` timeframe.
        let mut p = Params::new();
        p.str("timeframe", "decade");
        assert!(QEMU_RRDDATA.encode(&p).is_err());
        assert!(NODE_RRDDATA.encode(&p).is_ok());
    }

    #[test]
    fn indexed_names() {
        let p = string("net[n]");
        assert!(p.matches("net0") && p.matches("net31"));
        assert!(!p.matches("net") && !p.matches("netx") && !p.matches("net0a"));
        let mut params = Params::new();
        params.str("net1", "virtio,bridge=vmbr0").str("cores", "2");
        let err = QEMU_CONFIG_PUT.encode(&params).unwrap_err();
        assert!(err.to_string().contains("cores"), "{err}");
    }
}
