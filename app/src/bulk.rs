//! Bulk actions on many VMs: which of the picked VMs an action applies to (and why not the
//! others), the queue that runs them a few at a time, and the server functions the list needs
//! for them. Each VM's action is the same server function a single VM's button calls, so the
//! checks of role and scope are the same too.

use std::collections::VecDeque;

use leptos::prelude::*;
use pve::types::{GuestKind, PowerAction, VmStatus};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::access::{self, Role};
use crate::{error::AppError, vm_query::VmQuery, vms::VmRow};

/// How many VMs' tasks run at once: PVE's own bulk actions (`startall`, `migrateall`) default
/// to a few workers too, so that a node is not flooded with tasks.
pub const PARALLEL_TASKS: usize = 4;

/// A VM picked for a bulk action: what its action and the confirmation need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmPick {
    /// Cluster name.
    pub cluster: String,
    /// Node the VM is on.
    pub node: String,
    /// VM id.
    pub vmid: u32,
    /// Name (may be empty).
    pub name: String,
    /// Status when it was picked.
    pub status: VmStatus,
    /// True for templates.
    pub template: bool,
    /// VM or container.
    pub kind: GuestKind,
    /// The config lock when it was picked (a task works on the guest).
    pub lock: Option<String>,
}

/// What identifies a VM across clusters.
pub type VmKey = (String, u32);

impl VmPick {
    /// Its key.
    pub fn key(&self) -> VmKey {
        (self.cluster.clone(), self.vmid)
    }

    /// `VM 100 (web01)` or `CT 200 (nginx)`, for lists and messages.
    pub fn label(&self) -> String {
        crate::vms::guest_label(self.kind, self.vmid, &self.name)
    }
}

impl From<&VmRow> for VmPick {
    fn from(row: &VmRow) -> Self {
        Self {
            cluster: row.cluster.clone(),
            node: row.node.to_string(),
            vmid: row.vmid.get(),
            name: row.name.clone(),
            status: row.status,
            template: row.template,
            kind: row.kind,
            lock: row.lock.clone(),
        }
    }
}

/// An action for every picked VM.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkAction {
    /// Start, shut down, stop, …
    Power(PowerAction),
    /// Migrate to `node` of `cluster` (online for running VMs).
    Migrate {
        /// Cluster of the target node.
        cluster: String,
        /// Target node.
        node: String,
    },
}

impl BulkAction {
    /// The verb for titles and buttons.
    pub fn label(&self) -> String {
        match self {
            BulkAction::Power(action) => action.label().to_owned(),
            BulkAction::Migrate { node, .. } => format!("Migrate to {node}"),
        }
    }

    /// Why the action does not apply to `vm`, if it does not.
    pub fn refusal(&self, vm: &VmPick) -> Option<String> {
        // PVE refuses a locked guest, except starting or resuming one suspended to disk.
        let resumes = matches!(
            self,
            BulkAction::Power(PowerAction::Start | PowerAction::Resume)
        );
        if let Some(lock) = vm
            .lock
            .as_deref()
            .filter(|l| !(resumes && *l == "suspended"))
        {
            return Some(format!("it is locked ({lock})"));
        }
        match self {
            BulkAction::Power(_) if vm.template => Some("a template does not run".into()),
            BulkAction::Power(action) => {
                let applicable = match vm.kind {
                    GuestKind::Qemu => PowerAction::applicable(vm.status),
                    GuestKind::Lxc => PowerAction::applicable_to_container(vm.status),
                };
                if applicable.contains(action) {
                    None
                } else if vm.status == VmStatus::Unknown {
                    Some("its status is unknown (is its node offline?)".into())
                } else {
                    Some(format!("it is {}", vm.status))
                }
            }
            BulkAction::Migrate { cluster, node } => {
                if vm.kind == GuestKind::Lxc {
                    Some("containers are not migrated from Cecyber yet".into())
                } else if &vm.cluster != cluster {
                    Some(format!("it is in cluster {}", vm.cluster))
                } else if &vm.node == node {
                    Some(format!("it is on {node} already"))
                } else if vm.status == VmStatus::Paused {
                    Some("it is paused: resume or stop it first".into())
                } else if vm.status == VmStatus::Unknown {
                    Some("its status is unknown (is its node offline?)".into())
                } else {
                    None
                }
            }
        }
    }

    /// Splits the picked VMs into those the action applies to and the others with the reason.
    pub fn plan(&self, picked: &[VmPick]) -> (Vec<VmPick>, Vec<(VmPick, String)>) {
        let mut acting = Vec::new();
        let mut skipped = Vec::new();
        for vm in picked {
            match self.refusal(vm) {
                None => acting.push(vm.clone()),
                Some(why) => skipped.push((vm.clone(), why)),
            }
        }
        (acting, skipped)
    }
}

/// The order in which a bulk run's items start: at most `limit` at a time, each next one as
/// soon as one ends.
#[derive(Debug)]
pub struct BulkQueue {
    waiting: VecDeque<usize>,
    running: usize,
    limit: usize,
}

impl BulkQueue {
    /// Items `0..items`, `limit` at a time (at least one).
    pub fn new(items: usize, limit: usize) -> Self {
        Self {
            waiting: (0..items).collect(),
            running: 0,
            limit: limit.max(1),
        }
    }

    /// The next item to start now, if a slot is free and one waits.
    pub fn start_next(&mut self) -> Option<usize> {
        if self.running >= self.limit {
            return None;
        }
        let next = self.waiting.pop_front()?;
        self.running += 1;
        Some(next)
    }

    /// An item ended: its slot is free.
    pub fn ended(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// True once every item has started and ended.
    pub fn is_done(&self) -> bool {
        self.waiting.is_empty() && self.running == 0
    }

    /// Drops the items not started yet (the user cancelled the rest); returns how many.
    pub fn cancel_waiting(&mut self) -> Vec<usize> {
        self.waiting.drain(..).collect()
    }
}

/// The VMs picked in the list: a click toggles one, a shift-click sets the rows between the
/// last click and this one (on the page shown) as the clicked one is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    picked: std::collections::BTreeMap<VmKey, VmPick>,
    anchor: Option<VmKey>,
}

impl Selection {
    /// A click on `vm`'s box, with shift held or not, among the rows of `page` (in order).
    pub fn click(&mut self, vm: &VmPick, shift: bool, page: &[VmPick]) {
        let key = vm.key();
        let on = !self.picked.contains_key(&key);
        let position = |k: &VmKey| page.iter().position(|p| &p.key() == k);
        let range = match (
            shift,
            self.anchor.as_ref().and_then(position),
            position(&key),
        ) {
            (true, Some(a), Some(b)) => Some((a.min(b), a.max(b))),
            _ => None,
        };
        match range {
            Some((from, to)) => self.set_all(&page[from..=to], on),
            None => self.set_all(std::slice::from_ref(vm), on),
        }
        self.anchor = Some(key);
    }

    /// Picks (`on`) or drops every VM of `vms`.
    pub fn set_all(&mut self, vms: &[VmPick], on: bool) {
        for vm in vms {
            if on {
                self.picked.insert(vm.key(), vm.clone());
            } else {
                self.picked.remove(&vm.key());
            }
        }
    }

    /// Takes the newer status and node of picked VMs the list shows again.
    pub fn refresh(&mut self, shown: &[VmPick]) {
        for vm in shown {
            if let Some(picked) = self.picked.get_mut(&vm.key()) {
                *picked = vm.clone();
            }
        }
    }

    /// Drops every pick.
    pub fn clear(&mut self) {
        self.picked.clear();
        self.anchor = None;
    }

    /// True when `key` is picked.
    pub fn contains(&self, key: &VmKey) -> bool {
        self.picked.contains_key(key)
    }

    /// How many VMs are picked.
    pub fn len(&self) -> usize {
        self.picked.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.picked.is_empty()
    }

    /// The picked VMs, by cluster and id.
    pub fn picks(&self) -> Vec<VmPick> {
        self.picked.values().cloned().collect()
    }

    /// The clusters of the picked VMs.
    pub fn clusters(&self) -> Vec<String> {
        let mut clusters: Vec<String> = self.picked.keys().map(|(c, _)| c.clone()).collect();
        clusters.dedup();
        clusters
    }
}

/// Every VM the user sees that passes the list's filters (the whole match, not one page), for
/// "select all filtered". Operators only: nothing else picks VMs.
#[server(prefix = "/api", endpoint = "vms_matching")]
pub async fn matching_vms(#[server(default)] query: VmQuery) -> Result<Vec<VmPick>, AppError> {
    let user = access::require(Role::Operator).await?;
    let seen = crate::vm_query::visible_vms(&user, false).await?;
    Ok(query
        .sanitized()
        .select(seen.vms)
        .iter()
        .map(VmPick::from)
        .collect())
}

/// The online nodes of `cluster`, targets for a bulk migration (operators; a scoped operator
/// only of a cluster where they have VMs). PVE checks each VM again when its migration starts
/// and refuses it in the task if it cannot go.
#[server(prefix = "/api", endpoint = "migration_nodes")]
pub async fn migration_nodes(cluster: String) -> Result<Vec<String>, AppError> {
    let user = access::require(Role::Operator).await?;
    let state = crate::state::app_state()?;
    let cluster = state.clusters.get(&cluster)?;
    if !user.scope.is_everything() {
        let seen = crate::vm_query::visible_vms(&user, false).await?;
        if !seen.vms.iter().any(|vm| vm.cluster == cluster.name) {
            return Err(AppError::NotFound(format!(
                "no VM of yours in cluster {:?}.",
                cluster.name
            )));
        }
    }
    let resources = cluster.resources().await?;
    let mut nodes: Vec<String> = resources
        .iter()
        .filter(|r| r.kind == "node" && r.status.as_deref() == Some("online"))
        .filter_map(|r| r.node.clone())
        .collect();
    nodes.sort();
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(vmid: u32, node: &str, status: VmStatus) -> VmPick {
        VmPick {
            cluster: "c".into(),
            node: node.into(),
            vmid,
            name: format!("vm{vmid}"),
            status,
            template: false,
            kind: GuestKind::Qemu,
            lock: None,
        }
    }

    #[test]
    fn power_actions_skip_vms_they_do_not_apply_to_and_say_why() {
        let mut template = pick(103, "pve1", VmStatus::Stopped);
        template.template = true;
        let mut backing_up = pick(104, "pve1", VmStatus::Stopped);
        backing_up.lock = Some("backup".into());
        let mut suspended = pick(105, "pve1", VmStatus::Stopped);
        suspended.lock = Some("suspended".into());
        let picked = [
            pick(100, "pve1", VmStatus::Stopped),
            pick(101, "pve1", VmStatus::Running),
            pick(102, "pve2", VmStatus::Unknown),
            template,
            backing_up,
            suspended,
        ];
        let (acting, skipped) = BulkAction::Power(PowerAction::Start).plan(&picked);
        assert_eq!(
            acting.iter().map(|v| v.vmid).collect::<Vec<_>>(),
            [100, 105],
            "a VM suspended to disk starts"
        );
        let reasons: Vec<_> = skipped
            .iter()
            .map(|(v, why)| (v.vmid, why.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (101, "it is running"),
                (102, "its status is unknown (is its node offline?)"),
                (103, "a template does not run"),
                (104, "it is locked (backup)"),
            ]
        );
        let (acting, _) = BulkAction::Power(PowerAction::Shutdown).plan(&picked);
        assert_eq!(acting.iter().map(|v| v.vmid).collect::<Vec<_>>(), [101]);
        // A running container shuts down, but does not pause.
        let mut container = pick(200, "pve1", VmStatus::Running);
        container.kind = GuestKind::Lxc;
        let (acting, skipped) = BulkAction::Power(PowerAction::Suspend).plan(&[container.clone()]);
        assert!(acting.is_empty() && skipped[0].1 == "it is running");
        let (acting, _) = BulkAction::Power(PowerAction::Shutdown).plan(&[container]);
        assert_eq!(acting.len(), 1);
    }

    #[test]
    fn migration_skips_vms_on_the_target_in_other_clusters_or_paused() {
        let mut elsewhere = pick(104, "pve1", VmStatus::Running);
        elsewhere.cluster = "other".into();
        let mut container = pick(200, "pve1", VmStatus::Running);
        container.kind = GuestKind::Lxc;
        let picked = [
            container,
            pick(100, "pve1", VmStatus::Running),
            pick(101, "pve2", VmStatus::Stopped),
            pick(102, "pve1", VmStatus::Paused),
            elsewhere,
        ];
        let to_pve2 = BulkAction::Migrate {
            cluster: "c".into(),
            node: "pve2".into(),
        };
        let (acting, skipped) = to_pve2.plan(&picked);
        assert_eq!(acting.iter().map(|v| v.vmid).collect::<Vec<_>>(), [100]);
        let reasons: Vec<_> = skipped
            .iter()
            .map(|(v, why)| (v.vmid, why.clone()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    200,
                    "containers are not migrated from Cecyber yet".to_owned()
                ),
                (101, "it is on pve2 already".to_owned()),
                (102, "it is paused: resume or stop it first".to_owned()),
                (104, "it is in cluster other".to_owned()),
            ]
        );
    }

    #[test]
    fn the_queue_never_runs_more_than_its_limit_and_runs_everything_once() {
        let mut queue = BulkQueue::new(10, 4);
        let mut started = Vec::new();
        let mut running = 0;
        let mut most = 0;
        loop {
            while let Some(i) = queue.start_next() {
                started.push(i);
                running += 1;
                most = most.max(running);
            }
            if queue.is_done() {
                break;
            }
            // One ends; the next may start.
            queue.ended();
            running -= 1;
        }
        assert_eq!(most, 4);
        assert_eq!(started, (0..10).collect::<Vec<_>>());
        assert_eq!(running, 0);
    }

    #[test]
    fn cancelling_drops_only_what_has_not_started() {
        let mut queue = BulkQueue::new(6, 2);
        assert_eq!((queue.start_next(), queue.start_next()), (Some(0), Some(1)));
        assert_eq!(queue.start_next(), None, "two at a time");
        assert_eq!(queue.cancel_waiting(), [2, 3, 4, 5]);
        assert!(!queue.is_done(), "two still run");
        queue.ended();
        queue.ended();
        assert!(queue.is_done());
        assert_eq!(queue.start_next(), None);
    }
    #[test]
    fn clicks_toggle_one_and_shift_clicks_set_the_range() {
        let page: Vec<VmPick> = (100..106)
            .map(|id| pick(id, "pve1", VmStatus::Stopped))
            .collect();
        let ids = |s: &Selection| s.picks().iter().map(|v| v.vmid).collect::<Vec<_>>();
        let mut s = Selection::default();
        s.click(&page[1], false, &page);
        s.click(&page[4], true, &page);
        assert_eq!(ids(&s), [101, 102, 103, 104]);
        // Upwards from the last click, dropping: the range takes the clicked box's new state.
        s.click(&page[2], true, &page);
        assert_eq!(ids(&s), [101]);
        s.click(&page[1], false, &page);
        assert!(s.is_empty());
        // A shift-click without an earlier click on this page toggles one.
        let mut fresh = Selection::default();
        fresh.click(&page[3], true, &page);
        assert_eq!(ids(&fresh), [103]);
    }

    #[test]
    fn picks_survive_pages_and_take_newer_states() {
        let mut s = Selection::default();
        let first: Vec<VmPick> = (100..103)
            .map(|id| pick(id, "pve1", VmStatus::Stopped))
            .collect();
        s.set_all(&first, true);
        let mut moved = pick(101, "pve2", VmStatus::Running);
        moved.name = "renamed".into();
        s.refresh(std::slice::from_ref(&moved));
        assert_eq!(s.len(), 3);
        assert_eq!(s.picks()[1], moved);
        s.set_all(&first[..1], false);
        assert_eq!(
            s.picks().iter().map(|v| v.vmid).collect::<Vec<_>>(),
            [101, 102]
        );
        assert_eq!(s.clusters(), ["c"]);
    }
}
