//! The cluster log (pmxcfs `clusterlog`): what `GET /cluster/log` shows, newest first. Entries
//! are added as things happen: task starts and ends, logins.

use std::collections::VecDeque;

use serde_json::{Value, json};

/// Entries kept (pmxcfs keeps a ring buffer of about this many).
const MAX_ENTRIES: usize = 5000;

/// One cluster log entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub uid: u64,
    pub time: i64,
    /// syslog priority (6 = info, 3 = error).
    pub pri: u8,
    pub tag: &'static str,
    pub pid: u32,
    pub node: String,
    /// Auth ID the entry is about.
    pub user: String,
    pub msg: String,
}

impl Entry {
    /// The JSON of `/cluster/log` (`id` = `uid:node`).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "uid": self.uid, "time": self.time, "pri": self.pri, "tag": self.tag,
            "pid": self.pid, "node": self.node, "user": self.user, "msg": self.msg,
            "id": format!("{}:{}", self.uid, self.node),
        })
    }
}

/// The log.
#[derive(Debug, Default)]
pub(crate) struct ClusterLog {
    entries: VecDeque<Entry>,
    next_uid: u64,
}

impl ClusterLog {
    /// Adds an entry (uid assigned here).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        time: i64,
        pri: u8,
        tag: &'static str,
        pid: u32,
        node: &str,
        user: &str,
        msg: String,
    ) {
        self.next_uid += 1;
        self.entries.push_back(Entry {
            uid: self.next_uid,
            time,
            pri,
            tag,
            pid,
            node: node.to_owned(),
            user: user.to_owned(),
            msg,
        });
        while self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }

    /// Up to `max` entries, newest first, that `keep` accepts.
    pub(crate) fn newest(&self, max: usize, keep: impl Fn(&Entry) -> bool) -> Vec<Value> {
        self.entries
            .iter()
            .rev()
            .filter(|e| keep(e))
            .take(max)
            .map(Entry::to_json)
            .collect()
    }
}
