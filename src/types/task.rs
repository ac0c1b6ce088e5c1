//! PVE tasks: `GET /nodes/{node}/tasks/{upid}/status` and `…/log`, the task lists
//! `GET /nodes/{node}/tasks` and `GET /cluster/tasks`, and their filters.

use serde::{Deserialize, Deserializer, Serialize};

use super::de;
use super::params::{Params, wire_enum};
use crate::ids::{Upid, VmId};

/// Whether a task still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// The task runs.
    Running,
    /// The task has ended; see `exitstatus`.
    Stopped,
}

impl<'de> Deserialize<'de> for TaskState {
    /// `running` (any case) is [`TaskState::Running`]; anything else means the task has ended
    /// (the task list even puts the exit status, e.g. `OK`, into this field).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = de::string_lenient(d)?;
        Ok(if s.trim().eq_ignore_ascii_case("running") {
            TaskState::Running
        } else {
            TaskState::Stopped
        })
    }
}

/// The answer of `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The task ID.
    pub upid: Upid,
    /// Node that runs the task.
    #[serde(deserialize_with = "de::string_lenient")]
    pub node: String,
    /// Running or stopped.
    pub status: TaskState,
    /// When stopped: `OK`, `WARNINGS: <n>`, or the error message.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub exitstatus: Option<String>,
    /// Task type, e.g. `qmstart`.
    #[serde(rename = "type", deserialize_with = "de::string_lenient")]
    pub kind: String,
    /// Task object ID (e.g. the VM ID); PVE sends `""` for tasks without one.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// User who started the task (`user@realm`, without the token name).
    #[serde(deserialize_with = "de::string_lenient")]
    pub user: String,
    /// API token name, when the task was started with a token.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tokenid: Option<String>,
    /// Start time, Unix seconds.
    #[serde(deserialize_with = "de::i64_lenient")]
    pub starttime: i64,
    /// PID of the worker process.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub pid: Option<u32>,
    /// Start time of the worker process in clock ticks since boot.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pstart: Option<u64>,
}

/// What [`TaskStatus::failure`] says for a stopped task without an exit status.
const NO_EXIT_STATUS: &str = "task ended without an exit status";

impl TaskStatus {
    /// True while the task runs.
    pub fn is_running(&self) -> bool {
        self.status == TaskState::Running
    }

    /// True when the task has ended with `OK` or `WARNINGS: n`.
    pub fn succeeded(&self) -> bool {
        self.status == TaskState::Stopped
            && self
                .exitstatus
                .as_deref()
                .is_some_and(|s| s == "OK" || s.starts_with("WARNINGS"))
    }

    /// PVE's error message when the task has ended without success; `None` while it runs or
    /// after success.
    pub fn failure(&self) -> Option<&str> {
        if self.is_running() || self.succeeded() {
            None
        } else {
            Some(self.exitstatus.as_deref().unwrap_or(NO_EXIT_STATUS))
        }
    }

    /// Number of warnings when the task ended with `WARNINGS: n`.
    pub fn warnings(&self) -> Option<u32> {
        self.exitstatus
            .as_deref()?
            .strip_prefix("WARNINGS:")?
            .trim()
            .parse()
            .ok()
    }

    /// Who started the task: `user@realm`, or `user@realm!token` for an API token.
    pub fn started_by(&self) -> String {
        match self.tokenid.as_deref() {
            Some(token) if !token.is_empty() => format!("{}!{token}", self.user),
            _ => self.user.clone(),
        }
    }
}

/// One line of `GET /nodes/{node}/tasks/{upid}/log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLogLine {
    /// Line number, counting from 1.
    #[serde(deserialize_with = "de::u64_lenient")]
    pub n: u64,
    /// Line text.
    #[serde(deserialize_with = "de::string_lenient")]
    pub t: String,
}

/// One entry of `GET /nodes/{node}/tasks` or `GET /cluster/tasks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskListEntry {
    /// The task ID.
    pub upid: Upid,
    /// Node that ran the task.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub node: Option<String>,
    /// Task type, e.g. `vzdump`.
    #[serde(rename = "type", default, deserialize_with = "de::opt_string")]
    pub kind: Option<String>,
    /// Task object ID (e.g. the VM ID); may be empty.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// User who started the task (without the token name).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub user: Option<String>,
    /// API token name, when started with a token.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tokenid: Option<String>,
    /// Start time, Unix seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub starttime: Option<i64>,
    /// End time, Unix seconds; missing while the task runs.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub endtime: Option<i64>,
    /// Exit status (`OK`, `WARNINGS: n`, the error text), or `RUNNING` / missing while it runs.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// PID of the worker process.
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub pid: Option<u32>,
    /// Start time of the worker process in clock ticks since boot.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pstart: Option<u64>,
}

impl TaskListEntry {
    /// True while the task runs (no end time, or status `RUNNING`).
    pub fn is_running(&self) -> bool {
        match self.status.as_deref() {
            Some(s) => s.eq_ignore_ascii_case("running"),
            None => self.endtime.is_none(),
        }
    }

    /// True when the task ended with `OK` or `WARNINGS: n`.
    pub fn succeeded(&self) -> bool {
        !self.is_running()
            && self
                .status
                .as_deref()
                .is_some_and(|s| s == "OK" || s.starts_with("WARNINGS"))
    }
}

wire_enum! {
    /// Which tasks `GET /nodes/{node}/tasks` lists.
    TaskSource, "task source" {
        /// Finished tasks (PVE's default).
        Archive = "archive",
        /// Running tasks.
        Active = "active",
        /// Both.
        All = "all",
    }
}

wire_enum! {
    /// A task state for the `statusfilter` of `GET /nodes/{node}/tasks`.
    TaskStatusFilter, "task status" {
        /// Still running.
        Running = "running",
        /// Ended with `OK`.
        Ok = "ok",
        /// Ended with an error.
        Error = "error",
        /// Ended with `WARNINGS: n`.
        Warning = "warning",
        /// Ended with an unrecognised status.
        Unknown = "unknown",
    }
}

/// Filters for `GET /nodes/{node}/tasks`; the default lists PVE's default (the last 50
/// finished tasks).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskListFilter {
    /// Only tasks of this guest.
    pub vmid: Option<VmId>,
    /// Only tasks of this type, e.g. `vzdump`.
    pub typefilter: Option<String>,
    /// Only tasks in these states.
    pub statusfilter: Vec<TaskStatusFilter>,
    /// Only tasks started by this user.
    pub userfilter: Option<String>,
    /// Only failed tasks.
    pub errors: Option<bool>,
    /// Skip this many entries.
    pub start: Option<u32>,
    /// At most this many entries (PVE's default 50).
    pub limit: Option<u32>,
    /// Only tasks started at or after this Unix time.
    pub since: Option<i64>,
    /// Only tasks started at or before this Unix time.
    pub until: Option<i64>,
    /// Finished, running, or both.
    pub source: Option<TaskSource>,
}

impl TaskListFilter {
    /// The query parameters.
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        p.opt_int("vmid", self.vmid.map(VmId::get))
            .opt_str("typefilter", self.typefilter.as_deref())
            .list("statusfilter", &self.statusfilter)
            .opt_str("userfilter", self.userfilter.as_deref())
            .opt_bool("errors", self.errors)
            .opt_int("start", self.start)
            .opt_int("limit", self.limit)
            .opt_int("since", self.since)
            .opt_int("until", self.until)
            .opt_str("source", self.source);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, exit: Option<&str>) -> TaskStatus {
        let mut v = serde_json::json!({
            "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:9102:root@pam!sdk:",
            "node": "pve", "status": state, "type": "qmstart", "id": "9102",
            "user": "root@pam", "tokenid": "sdk", "starttime": 1783346634,
        });
        if let Some(e) = exit {
            v["exitstatus"] = e.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn outcomes() {
        let s = status("running", None);
        assert!(s.is_running() && !s.succeeded() && s.failure().is_none());
        let s = status("stopped", Some("OK"));
        assert!(s.succeeded() && s.failure().is_none());
        let s = status("stopped", Some("WARNINGS: 2"));
        assert!(s.succeeded());
        assert_eq!(s.warnings(), Some(2));
        let s = status("stopped", Some("VM 9102 already running"));
        assert_eq!(s.failure(), Some("VM 9102 already running"));
        let s = status("stopped", None);
        assert_eq!(s.failure(), Some(NO_EXIT_STATUS));
        assert_eq!(s.started_by(), "root@pam!sdk");
    }

    #[test]
    fn lenient_state() {
        assert_eq!(status("RUNNING", None).status, TaskState::Running);
        assert_eq!(status("OK", None).status, TaskState::Stopped);
        let s = status("running", None);
        let back: TaskStatus = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn task_list_entries() {
        let e: TaskListEntry = serde_json::from_value(serde_json::json!({
            "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:9102:root@pam!sdk:",
            "node": "pve", "pid": 362194, "pstart": 7922201, "starttime": 1783346634,
            "type": "qmstart", "id": "9102", "user": "root@pam", "tokenid": "sdk",
            "endtime": 1783346636, "status": "OK"
        }))
        .unwrap();
        assert!(!e.is_running() && e.succeeded());
        let e: TaskListEntry = serde_json::from_value(serde_json::json!({
            "upid": "UPID:pve:000586D2:0078E219:6A4BB5CA:qmstart:9102:root@pam:",
            "status": "RUNNING"
        }))
        .unwrap();
        assert!(e.is_running() && !e.succeeded());
    }

    #[test]
    fn task_filter_params() {
        let f = TaskListFilter {
            vmid: Some(VmId::new(100).unwrap()),
            statusfilter: vec![TaskStatusFilter::Error, TaskStatusFilter::Warning],
            source: Some(TaskSource::All),
            errors: Some(true),
            ..Default::default()
        };
        let p: Vec<(String, String)> = f
            .params()
            .iter()
            .map(|(n, v)| (n.to_owned(), v.encode()))
            .collect();
        let want = [
            ("vmid", "100"),
            ("statusfilter", "error,warning"),
            ("errors", "1"),
            ("source", "all"),
        ];
        assert_eq!(p, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }
}
