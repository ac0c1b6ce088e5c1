//! Tasks: UPIDs, logs and exit status, stored like PVE's task index and active list, and the
//! JSON views of `tasks/{upid}/status`, `tasks/{upid}/log` and `/cluster/tasks`.

mod worker;

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};

pub(crate) use worker::{TaskCtx, log_end as worker_log_end, spawn, spawn_locked};

use super::LockTimeout;
use super::model::Node;
use crate::sim::util::mix;

/// Finished tasks kept in memory (oldest go first).
const MAX_TASKS: usize = 2000;
/// `/cluster/tasks` shows per node the running tasks and up to this many in total.
const MAX_LISTED_PER_NODE: usize = 25;

/// One task.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub upid: String,
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: i64,
    pub kind: String,
    pub id: String,
    /// Auth ID that started it (`user@realm` or `user@realm!token`).
    pub user: String,
    /// Log lines, without the final `TASK …` line while running.
    pub log: Vec<String>,
    /// `(endtime, exitstatus)` once finished.
    pub end: Option<(i64, String)>,
}

/// How a task ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// `TASK OK`, or `TASK WARNINGS: n` when the log has `WARN: ` lines.
    Ok,
    /// `TASK ERROR: <message>`.
    Error(String),
}

/// A job that could not take its VM's config lock ends with the lock's error.
impl From<LockTimeout> for Outcome {
    fn from(e: LockTimeout) -> Self {
        Self::Error(e.to_string())
    }
}

/// A UPID's fields, parsed as pve-common's `PVE::UPID::decode` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UpidParts {
    pub node: String,
    pub user: String,
}

/// Parses `UPID:node:pid:pstart:starttime:type:id:user:`; `None` where PVE would say
/// "unable to parse worker upid".
pub(crate) fn decode_upid(upid: &str) -> Option<UpidParts> {
    let rest = upid.strip_prefix("UPID:")?.strip_suffix(':')?;
    let f: Vec<&str> = rest.split(':').collect();
    let hex = |s: &str, lens: &[usize]| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let word = |s: &str| !s.contains(|c: char| c.is_whitespace() || c == '/');
    let ok = f.len() == 7
        && super::model::is_node_name(f[0])
        && hex(f[1], &[8])
        && hex(f[2], &[8, 9])
        && hex(f[3], &[8])
        && !f[4].is_empty()
        && word(f[4])
        && word(f[5])
        && !f[6].is_empty()
        && word(f[6]);
    ok.then(|| UpidParts {
        node: f[0].to_owned(),
        user: f[6].to_owned(),
    })
}

impl Task {
    /// (user, token name) as PVE splits a token's auth ID.
    fn user_and_token(&self) -> (&str, Option<&str>) {
        match self.user.split_once('!') {
            Some((u, t)) => (u, Some(t)),
            None => (&self.user, None),
        }
    }

    /// PVE's `check_task_user`: a token sees its own tasks, a user sees its own and its tokens'.
    pub(crate) fn owned_by(&self, authid: &str) -> bool {
        let (user, _) = self.user_and_token();
        authid == self.user || authid == user
    }

    /// `GET /nodes/{node}/tasks/{upid}/status`.
    pub(crate) fn status_json(&self) -> Value {
        let (user, token) = self.user_and_token();
        let mut v = json!({
            "upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
            "starttime": self.starttime, "type": self.kind, "id": self.id, "user": user,
            "status": if self.end.is_some() { "stopped" } else { "running" },
        });
        if let Some(t) = token {
            v["tokenid"] = json!(t);
        }
        if let Some((_, exit)) = &self.end {
            v["exitstatus"] = json!(exit);
        }
        v
    }

    /// An entry of `/cluster/tasks` (PVE's active-worker list: no `pstart`, `pid` only while
    /// running, `saved` as a string).
    pub(crate) fn cluster_entry(&self) -> Value {
        let (user, token) = self.user_and_token();
        let mut v = json!({
            "upid": self.upid, "node": self.node, "starttime": self.starttime,
            "type": self.kind, "id": self.id, "user": user,
        });
        match &self.end {
            Some((endtime, status)) => {
                v["endtime"] = json!(endtime);
                v["status"] = json!(status);
                v["saved"] = json!("1");
            }
            None => {
                v["pid"] = json!(self.pid);
                v["saved"] = json!("0");
            }
        }
        if let Some(t) = token {
            v["tokenid"] = json!(t);
        }
        v
    }

    /// An entry of `GET /nodes/{node}/tasks`: the index line's fields, `status` the exit
    /// status, or `RUNNING` for a running task.
    pub(crate) fn node_entry(&self) -> Value {
        let (user, token) = self.user_and_token();
        let mut v = json!({
            "upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
            "starttime": self.starttime, "type": self.kind, "id": self.id, "user": user,
        });
        match &self.end {
            Some((endtime, status)) => {
                v["endtime"] = json!(endtime);
                v["status"] = json!(status);
            }
            None => v["status"] = json!("RUNNING"),
        }
        if let Some(t) = token {
            v["tokenid"] = json!(t);
        }
        v
    }

    /// `ok`, `warning` or `error` as the task list's `statusfilter` classifies the exit status
    /// (`running` while running).
    pub(crate) fn status_class(&self) -> &'static str {
        match &self.end {
            None => "running",
            Some((_, s)) if s == "OK" => "ok",
            Some((_, s)) if s.starts_with("WARNINGS") => "warning",
            Some(_) => "error",
        }
    }

    /// The log file's lines, with the final status line once finished.
    fn file_lines(&self) -> Vec<String> {
        let mut lines = self.log.clone();
        if let Some((_, exit)) = &self.end {
            lines.push(exit_line(exit));
        }
        lines
    }

    /// `GET …/log?start&limit` as pve-common's `dump_logfile`: lines `n` from `start + 1`,
    /// `limit` 0 meaning all, and "no content" for an empty file. Returns (lines, total).
    pub(crate) fn log_page(&self, start: usize, limit: usize) -> (Vec<Value>, usize) {
        let file = self.file_lines();
        if file.is_empty() {
            return (vec![json!({"n": 1, "t": "no content"})], 1);
        }
        let take = if limit == 0 { usize::MAX } else { limit };
        let page = file
            .iter()
            .enumerate()
            .skip(start)
            .take(take)
            .map(|(i, t)| json!({"n": i + 1, "t": t}))
            .collect();
        (page, file.len())
    }
}

/// The line PVE reads the exit status back from: `TASK OK`, `TASK WARNINGS: n` or
/// `TASK ERROR: <message>`.
fn exit_line(exit: &str) -> String {
    if exit == "OK" || exit.starts_with("WARNINGS: ") {
        format!("TASK {exit}")
    } else {
        format!("TASK ERROR: {exit}")
    }
}

/// All tasks of the simulated cluster.
#[derive(Debug, Default)]
pub(crate) struct TaskStore {
    tasks: HashMap<String, Task>,
    order: VecDeque<String>,
    next_pid: HashMap<String, u32>,
    /// How to stop the worker of each running task.
    aborts: HashMap<String, tokio::task::AbortHandle>,
}

impl TaskStore {
    /// Registers a new running task on `node` and returns its UPID.
    pub(crate) fn create(
        &mut self,
        node: &Node,
        kind: &str,
        id: &str,
        user: &str,
        now: i64,
    ) -> String {
        let pid = self.next_pid(&node.name);
        let pstart = u64::try_from(now - node.boot_time).unwrap_or(0) * 100 + u64::from(pid % 97);
        self.insert(Task {
            upid: String::new(),
            node: node.name.clone(),
            pid,
            pstart,
            starttime: now,
            kind: kind.to_owned(),
            id: id.to_owned(),
            user: user.to_owned(),
            log: Vec::new(),
            end: None,
        })
    }

    /// Stores `task` (its UPID is computed from the fields) and returns the UPID.
    pub(crate) fn insert(&mut self, mut task: Task) -> String {
        task.upid = format!(
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            task.node, task.pid, task.pstart, task.starttime, task.kind, task.id, task.user
        );
        let upid = task.upid.clone();
        self.order.push_back(upid.clone());
        self.tasks.insert(upid.clone(), task);
        while self.order.len() > MAX_TASKS {
            if let Some(old) = self.order.pop_front() {
                self.tasks.remove(&old);
            }
        }
        upid
    }

    fn next_pid(&mut self, node: &str) -> u32 {
        let seed = mix(node.len() as u64 ^ 0x5eed);
        let pid = self
            .next_pid
            .entry(node.to_owned())
            .or_insert(20_000 + (seed % 200_000) as u32);
        *pid += 1 + (mix(u64::from(*pid)) % 37) as u32;
        *pid
    }

    /// The task with this UPID.
    pub(crate) fn get(&self, upid: &str) -> Option<&Task> {
        self.tasks.get(upid)
    }

    /// Appends a log line to a running task.
    pub(crate) fn log(&mut self, upid: &str, line: impl Into<String>) {
        if let Some(t) = self.tasks.get_mut(upid) {
            t.log.push(line.into());
        }
    }

    /// Remembers how to stop the running task `upid`.
    pub(crate) fn set_abort(&mut self, upid: &str, handle: tokio::task::AbortHandle) {
        if self.tasks.get(upid).is_some_and(|t| t.end.is_none()) {
            self.aborts.insert(upid.to_owned(), handle);
        }
    }

    /// Stops a running task's worker (`DELETE …/tasks/{upid}`); false if it is not running.
    pub(crate) fn stop(&mut self, upid: &str, now: i64) -> bool {
        let running = self.tasks.get(upid).is_some_and(|t| t.end.is_none());
        if let Some(handle) = self.aborts.remove(upid) {
            handle.abort();
        }
        if running {
            self.log(upid, "received interrupt");
            self.finish(
                upid,
                now,
                Outcome::Error("interrupted by signal".to_owned()),
            );
        }
        running
    }

    /// All tasks of `node`, newest first (the node's task index plus its active list).
    pub(crate) fn on_node<'a>(&'a self, node: &str) -> Vec<&'a Task> {
        let mut list: Vec<&Task> = self.tasks.values().filter(|t| t.node == node).collect();
        list.sort_by_key(|t| std::cmp::Reverse((t.starttime, t.pid)));
        list
    }

    /// Marks the task finished at `now` (a finished task stays as it ended).
    pub(crate) fn finish(&mut self, upid: &str, now: i64, outcome: Outcome) {
        self.aborts.remove(upid);
        let Some(t) = self.tasks.get_mut(upid).filter(|t| t.end.is_none()) else {
            return;
        };
        let warnings = t.log.iter().filter(|l| l.starts_with("WARN: ")).count();
        let exit = match outcome {
            Outcome::Error(msg) => msg.trim_end().replace('\n', " "),
            Outcome::Ok if warnings > 0 => format!("WARNINGS: {warnings}"),
            Outcome::Ok => "OK".to_owned(),
        };
        t.end = Some((now, exit));
    }

    /// `/cluster/tasks` for the given nodes: per node its running tasks, then its most recent
    /// finished ones, at most 25 per node.
    pub(crate) fn cluster_list<'a>(&'a self, nodes: &[&str]) -> Vec<&'a Task> {
        let mut out = Vec::new();
        for node in nodes {
            let mut running: Vec<&Task> = self
                .tasks
                .values()
                .filter(|t| t.node == *node && t.end.is_none())
                .collect();
            running.sort_by_key(|t| std::cmp::Reverse(t.starttime));
            let mut done: Vec<&Task> = self
                .tasks
                .values()
                .filter(|t| t.node == *node && t.end.is_some())
                .collect();
            done.sort_by_key(|t| std::cmp::Reverse(t.starttime));
            let room = MAX_LISTED_PER_NODE.saturating_sub(running.len());
            out.extend(running);
            out.extend(done.into_iter().take(room));
        }
        out
    }
}

#[cfg(test)]
mod tests;
