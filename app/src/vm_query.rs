//! What the VM list shows: the filter, sort and page a user asked for (kept in the URL, so a
//! view can be shared), applied on the server to every VM of the clusters by [`list_vms`]. The
//! browser gets one page of rows, however many VMs there are.

use std::cmp::Ordering;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::vms::{ClusterProblem, NodeDown, VmRow};
#[cfg(feature = "ssr")]
use crate::{
    access::{self, Role},
    state::app_state,
    vms::vm_row,
};

/// Rows per page the list offers; the first is the default.
pub const PAGE_SIZES: [usize; 3] = [50, 100, 200];

/// The status filter: PVE's states, plus the kinds of VMs an admin looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusFilter {
    /// Every VM.
    #[default]
    All,
    /// Running (not paused).
    Running,
    /// Paused: the QEMU process exists, the guest does not run.
    Paused,
    /// Stopped VMs that can be started (templates are not: see `Template`).
    Stopped,
    /// Templates.
    Template,
    /// VMs holding a lock (backup, migrate, snapshot, …): a task works on them.
    Locked,
    /// HA-managed VMs the HA manager reports in `error`.
    HaError,
}

impl StatusFilter {
    /// Every filter, in the order the list offers them.
    pub const ALL: [StatusFilter; 7] = [
        StatusFilter::All,
        StatusFilter::Running,
        StatusFilter::Paused,
        StatusFilter::Stopped,
        StatusFilter::Template,
        StatusFilter::Locked,
        StatusFilter::HaError,
    ];

    /// The URL's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Running => "running",
            StatusFilter::Paused => "paused",
            StatusFilter::Stopped => "stopped",
            StatusFilter::Template => "template",
            StatusFilter::Locked => "locked",
            StatusFilter::HaError => "ha-error",
        }
    }

    /// What the status menu says.
    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "All",
            StatusFilter::Running => "Running",
            StatusFilter::Paused => "Paused",
            StatusFilter::Stopped => "Stopped",
            StatusFilter::Template => "Templates",
            StatusFilter::Locked => "Locked",
            StatusFilter::HaError => "HA error",
        }
    }

    /// The filter a URL word names; unknown words show everything.
    pub fn parse(word: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == word)
            .unwrap_or_default()
    }

    fn admits(self, row: &VmRow) -> bool {
        use pve::types::VmStatus;
        match self {
            StatusFilter::All => true,
            StatusFilter::Running => row.status == VmStatus::Running,
            StatusFilter::Paused => row.status == VmStatus::Paused,
            StatusFilter::Stopped => row.status == VmStatus::Stopped && !row.template,
            StatusFilter::Template => row.template,
            StatusFilter::Locked => row.lock.is_some(),
            StatusFilter::HaError => row.hastate.as_deref() == Some("error"),
        }
    }
}

/// Columns the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SortKey {
    /// VM id (then cluster).
    #[default]
    Vmid,
    /// Name, ignoring case.
    Name,
    /// Node name.
    Node,
    /// PVE's status word.
    Status,
    /// CPU use.
    Cpu,
    /// Memory used.
    Memory,
    /// Uptime.
    Uptime,
    /// Resource pool (VMs without one last).
    Pool,
    /// HA state (unmanaged VMs last).
    Ha,
}

impl SortKey {
    /// Every key.
    pub const ALL: [SortKey; 9] = [
        SortKey::Vmid,
        SortKey::Name,
        SortKey::Node,
        SortKey::Status,
        SortKey::Cpu,
        SortKey::Memory,
        SortKey::Uptime,
        SortKey::Pool,
        SortKey::Ha,
    ];

    /// The URL's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Vmid => "vmid",
            SortKey::Name => "name",
            SortKey::Node => "node",
            SortKey::Status => "status",
            SortKey::Cpu => "cpu",
            SortKey::Memory => "memory",
            SortKey::Uptime => "uptime",
            SortKey::Pool => "pool",
            SortKey::Ha => "ha",
        }
    }

    /// The key a URL word names; unknown words sort by id.
    pub fn parse(word: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == word)
            .unwrap_or_default()
    }

    /// False for a row without a value in this column (those sort last either way).
    fn has_value(self, row: &VmRow) -> bool {
        match self {
            SortKey::Pool => row.pool.is_some(),
            SortKey::Ha => row.hastate.is_some(),
            _ => true,
        }
    }

    fn compare(self, a: &VmRow, b: &VmRow) -> Ordering {
        match self {
            SortKey::Vmid => a.vmid.get().cmp(&b.vmid.get()),
            SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            SortKey::Node => a.node.as_str().cmp(b.node.as_str()),
            SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
            SortKey::Cpu => a.cpu.total_cmp(&b.cpu),
            SortKey::Memory => a.mem.cmp(&b.mem),
            SortKey::Uptime => a.uptime.cmp(&b.uptime),
            SortKey::Pool => a.pool.cmp(&b.pool),
            SortKey::Ha => a.hastate.cmp(&b.hastate),
        }
    }
}

/// The list's view: filter text, status filter, sort and page (from 1). Missing fields take
/// their defaults (an API caller may send only a page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmQuery {
    /// Text matched against name, id, node, tags and pool, ignoring case.
    pub text: String,
    /// Status filter.
    pub status: StatusFilter,
    /// Sort column.
    pub sort: SortKey,
    /// True for descending.
    pub descending: bool,
    /// Page, from 1.
    pub page: usize,
    /// Rows per page, one of [`PAGE_SIZES`].
    pub per_page: usize,
}

impl Default for VmQuery {
    fn default() -> Self {
        Self {
            text: String::new(),
            status: StatusFilter::All,
            sort: SortKey::Vmid,
            descending: false,
            page: 1,
            per_page: PAGE_SIZES[0],
        }
    }
}

impl VmQuery {
    /// Reads the URL's parameters (`q`, `status`, `sort`, `dir`, `page`, `per`); missing or
    /// malformed ones take their defaults.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |key: &str| get(key).and_then(|v| v.parse::<usize>().ok());
        let per_page = number("per")
            .filter(|n| PAGE_SIZES.contains(n))
            .unwrap_or(PAGE_SIZES[0]);
        Self {
            text: get("q").unwrap_or_default(),
            status: StatusFilter::parse(&get("status").unwrap_or_default()),
            sort: SortKey::parse(&get("sort").unwrap_or_default()),
            descending: get("dir").as_deref() == Some("desc"),
            page: number("page").unwrap_or(1).max(1),
            per_page,
        }
    }

    /// The URL query (without `?`) that reads back as this view; defaults are left out, so
    /// the plain list is `/`.
    pub fn to_url_query(&self) -> String {
        let defaults = Self::default();
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(format!("q={}", encode(&self.text)));
        }
        if self.status != defaults.status {
            parts.push(format!("status={}", self.status.as_str()));
        }
        if self.sort != defaults.sort {
            parts.push(format!("sort={}", self.sort.as_str()));
        }
        if self.descending {
            parts.push("dir=desc".to_owned());
        }
        if self.page != 1 {
            parts.push(format!("page={}", self.page));
        }
        if self.per_page != defaults.per_page {
            parts.push(format!("per={}", self.per_page));
        }
        parts.join("&")
    }

    /// The view with what a caller may send but the list does not offer put right: a page
    /// size not offered takes the default, page 0 is page 1, the filter text is cut at 200
    /// characters.
    pub fn sanitized(mut self) -> Self {
        if !PAGE_SIZES.contains(&self.per_page) {
            self.per_page = PAGE_SIZES[0];
        }
        self.page = self.page.max(1);
        if self.text.chars().count() > 200 {
            self.text = self.text.chars().take(200).collect();
        }
        self
    }

    /// The list's path for this view.
    pub fn href(&self) -> String {
        match self.to_url_query() {
            q if q.is_empty() => "/".to_owned(),
            q => format!("/?{q}"),
        }
    }

    /// True when the row passes the filters.
    pub fn admits(&self, row: &VmRow) -> bool {
        self.status.admits(row) && matches_text(row, &self.text.trim().to_lowercase())
    }

    /// Orders rows by the sort column (rows without a pool or HA state after the others),
    /// ties by cluster and id.
    pub fn compare(&self, a: &VmRow, b: &VmRow) -> Ordering {
        let by_column = self.sort.compare(a, b);
        let by_column = if self.descending {
            by_column.reverse()
        } else {
            by_column
        };
        // Rows with a value first, whichever the direction.
        let present_first = self.sort.has_value(b).cmp(&self.sort.has_value(a));
        present_first
            .then(by_column)
            .then_with(|| (&a.cluster, a.vmid.get()).cmp(&(&b.cluster, b.vmid.get())))
    }

    /// The rows that pass the filters, sorted.
    pub fn select(&self, rows: Vec<VmRow>) -> Vec<VmRow> {
        let mut matched: Vec<VmRow> = rows.into_iter().filter(|r| self.admits(r)).collect();
        matched.sort_by(|a, b| self.compare(a, b));
        matched
    }

    /// Pages of this view's size that `matched` rows fill (at least 1).
    pub fn pages(&self, matched: usize) -> usize {
        matched.div_ceil(self.per_page).max(1)
    }

    /// This view's page of the matched rows, and the page it really is (the last one when the
    /// URL asks past the end, say after a filter left fewer rows).
    pub fn page_of(&self, matched: Vec<VmRow>) -> (Vec<VmRow>, usize) {
        let page = self.page.min(self.pages(matched.len()));
        let rows = matched
            .into_iter()
            .skip((page - 1) * self.per_page)
            .take(self.per_page)
            .collect();
        (rows, page)
    }
}

/// One page of the VM list across every configured cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmList {
    /// The page's VMs, filtered and sorted as asked.
    pub vms: Vec<VmRow>,
    /// VMs that pass the filters, on every page.
    pub matched: usize,
    /// VMs the user sees, filtered or not.
    pub total: usize,
    /// The page shown (the last one when the query asked past it), from 1.
    pub page: usize,
    /// Pages of matched VMs (at least 1).
    pub pages: usize,
    /// Rows per page the answer was cut with.
    pub per_page: usize,
    /// Clusters that could not be listed.
    pub problems: Vec<ClusterProblem>,
    /// Nodes PVE does not report online (for scoped users, only those hosting one of their VMs).
    pub nodes_down: Vec<NodeDown>,
}

/// One page of the VMs of every configured cluster that the user's scope allows, filtered and
/// sorted by `query`; a cluster that fails is reported, not fatal. `fresh` asks PVE now (a
/// refresh, a task that ended) instead of taking the collector's last poll.
#[server(prefix = "/api", endpoint = "vms_list")]
pub async fn list_vms(
    #[server(default)] fresh: bool,
    #[server(default)] query: VmQuery,
) -> Result<VmList, AppError> {
    let user = access::require(Role::Viewer).await?;
    let query = query.sanitized();
    let seen = visible_vms(&user, fresh).await?;
    let total = seen.vms.len();
    let matched = query.select(seen.vms);
    let count = matched.len();
    let (vms, page) = query.page_of(matched);
    Ok(VmList {
        vms,
        matched: count,
        total,
        page,
        pages: query.pages(count),
        per_page: query.per_page,
        problems: seen.problems,
        nodes_down: seen.nodes_down,
    })
}

/// Every VM the user's scope allows, with the clusters that could not be listed and the
/// nodes that are down.
#[cfg(feature = "ssr")]
pub(crate) struct VisibleVms {
    pub vms: Vec<VmRow>,
    pub problems: Vec<ClusterProblem>,
    pub nodes_down: Vec<NodeDown>,
}

#[cfg(feature = "ssr")]
pub(crate) async fn visible_vms(
    user: &access::CurrentUser,
    fresh: bool,
) -> Result<VisibleVms, AppError> {
    let state = app_state()?;
    // Every resource, not only VMs: the same one poll also tells which nodes are down. The
    // collector's poll while it is fresh, so that open lists do not each call PVE.
    let calls = state.clusters.all().iter().map(|c| async move {
        let resources = if fresh {
            c.resources_now().await
        } else {
            c.resources().await
        };
        (c.name.clone(), resources)
    });
    let mut seen = VisibleVms {
        vms: Vec::new(),
        problems: Vec::new(),
        nodes_down: Vec::new(),
    };
    for (cluster, result) in futures::future::join_all(calls).await {
        match result {
            Ok(resources) => {
                let first = seen.vms.len();
                seen.vms.extend(
                    resources
                        .iter()
                        .filter_map(|r| vm_row(&cluster, r))
                        .filter(|row| user.scope.allows_vm(&row.tags)),
                );
                let shown = &seen.vms[first..];
                seen.nodes_down.extend(
                    resources
                        .iter()
                        .filter(|r| r.kind == "node" && r.status.as_deref() != Some("online"))
                        .filter_map(|r| r.node.clone().map(|node| (node, r.status.clone())))
                        .filter(|(node, _)| {
                            user.scope.sees_nodes() || shown.iter().any(|v| v.node.as_str() == node)
                        })
                        .map(|(node, status)| NodeDown {
                            cluster: cluster.clone(),
                            node,
                            status: status.unwrap_or_else(|| "unknown".into()),
                        }),
                );
            }
            Err(err) => seen.problems.push(ClusterProblem {
                cluster,
                message: AppError::from(err).to_string(),
            }),
        }
    }
    Ok(seen)
}

fn matches_text(row: &VmRow, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let has = |s: &str| s.to_lowercase().contains(needle);
    has(&row.name)
        || row.vmid.to_string().contains(needle)
        || has(row.node.as_str())
        || row.tags.iter().any(|t| has(t))
        || row.pool.as_deref().is_some_and(has)
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pve::types::VmStatus;

    fn row(vmid: u32, name: &str, status: &str, tags: &[&str]) -> VmRow {
        VmRow {
            cluster: "c".into(),
            node: "pve1".parse().unwrap(),
            vmid: pve::ids::VmId::new(vmid).unwrap(),
            name: name.into(),
            status: VmStatus::from_name(status),
            cpu: 0.0,
            maxcpu: 1.0,
            mem: 0,
            maxmem: 0,
            uptime: 0,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            template: false,
            lock: None,
            hastate: None,
            pool: None,
            kind: pve::types::GuestKind::Qemu,
        }
    }

    fn query(text: &str, status: StatusFilter) -> VmQuery {
        VmQuery {
            text: text.into(),
            status,
            ..VmQuery::default()
        }
    }

    #[test]
    fn text_matches_name_id_node_tags_and_pool_ignoring_case() {
        let mut vm = row(101, "Web01", "running", &["prod"]);
        vm.pool = Some("Customers".into());
        for text in ["web", "101", "PVE1", "prod", "custom", " web "] {
            assert!(query(text, StatusFilter::All).admits(&vm), "{text}");
        }
        assert!(!query("db", StatusFilter::All).admits(&vm));
        assert!(query("", StatusFilter::Running).admits(&vm));
        assert!(!query("", StatusFilter::Stopped).admits(&vm));
    }

    #[test]
    fn paused_templates_locks_and_ha_errors_are_filters_of_their_own() {
        let paused = row(102, "db", "paused", &[]);
        assert!(query("", StatusFilter::Paused).admits(&paused));
        assert!(!query("", StatusFilter::Running).admits(&paused));
        assert!(!query("", StatusFilter::Stopped).admits(&paused));

        let mut template = row(103, "tpl", "stopped", &[]);
        template.template = true;
        assert!(query("", StatusFilter::Template).admits(&template));
        assert!(
            !query("", StatusFilter::Stopped).admits(&template),
            "a template cannot be started"
        );

        let mut locked = row(104, "b", "running", &[]);
        locked.lock = Some("backup".into());
        assert!(query("", StatusFilter::Locked).admits(&locked));
        assert!(!query("", StatusFilter::Locked).admits(&paused));

        let mut failed = row(105, "ha", "stopped", &[]);
        failed.hastate = Some("error".into());
        let mut started = row(106, "ha2", "running", &[]);
        started.hastate = Some("started".into());
        assert!(query("", StatusFilter::HaError).admits(&failed));
        assert!(!query("", StatusFilter::HaError).admits(&started));
    }

    #[test]
    fn sorts_with_ties_broken_by_id_and_empty_values_last() {
        let mut a = row(100, "alpha", "stopped", &[]);
        let mut b = row(101, "Beta", "running", &[]);
        let c = row(102, "beta", "running", &[]);
        a.pool = Some("zeta".into());
        b.pool = Some("alpha".into());
        let by = |sort, descending| VmQuery {
            sort,
            descending,
            ..VmQuery::default()
        };
        let ids = |q: &VmQuery| -> Vec<u32> {
            q.select(vec![c.clone(), a.clone(), b.clone()])
                .iter()
                .map(|r| r.vmid.get())
                .collect()
        };
        assert_eq!(ids(&by(SortKey::Name, false)), [100, 101, 102]);
        assert_eq!(ids(&by(SortKey::Name, true)), [101, 102, 100], "ties by id");
        assert_eq!(ids(&by(SortKey::Vmid, true)), [102, 101, 100]);
        assert_eq!(ids(&by(SortKey::Pool, false)), [101, 100, 102]);
        assert_eq!(ids(&by(SortKey::Pool, true)), [100, 101, 102]);
    }

    #[test]
    fn pages_cut_the_matched_rows_and_clamp_past_the_end() {
        let rows: Vec<VmRow> = (100..220).map(|id| row(id, "vm", "running", &[])).collect();
        let q = |page| VmQuery {
            page,
            ..VmQuery::default()
        };
        let (first, page) = q(1).page_of(rows.clone());
        assert_eq!((first.len(), page, first[0].vmid.get()), (50, 1, 100));
        let (last, page) = q(3).page_of(rows.clone());
        assert_eq!((last.len(), page, last[0].vmid.get()), (20, 3, 200));
        let (clamped, page) = q(9).page_of(rows);
        assert_eq!((clamped.len(), page), (20, 3));
        let (none, page) = q(4).page_of(Vec::new());
        assert_eq!((none.len(), page), (0, 1));
    }

    #[test]
    fn the_url_round_trips_and_leaves_defaults_out() {
        assert_eq!(VmQuery::default().href(), "/");
        let view = VmQuery {
            text: "web 01&x".into(),
            status: StatusFilter::HaError,
            sort: SortKey::Memory,
            descending: true,
            page: 3,
            per_page: 200,
        };
        let url = view.to_url_query();
        assert_eq!(
            url,
            "q=web%2001%26x&status=ha-error&sort=memory&dir=desc&page=3&per=200"
        );
        let decoded: std::collections::HashMap<String, String> = url
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_owned(), percent_decode(v))
            })
            .collect();
        assert_eq!(VmQuery::from_params(|k| decoded.get(k).cloned()), view);
    }

    #[test]
    fn what_the_list_does_not_offer_is_put_right() {
        let odd = VmQuery {
            page: 0,
            per_page: 0,
            text: "x".repeat(500),
            ..VmQuery::default()
        }
        .sanitized();
        assert_eq!((odd.page, odd.per_page, odd.text.len()), (1, 50, 200));
        let rows: Vec<VmRow> = (100..103).map(|id| row(id, "vm", "running", &[])).collect();
        assert_eq!(odd.page_of(rows).1, 1);
    }

    #[test]
    fn malformed_parameters_take_defaults() {
        let params = |k: &str| {
            Some(match k {
                "status" => "bogus".to_owned(),
                "sort" => "drop table".to_owned(),
                "page" => "-4".to_owned(),
                "per" => "7".to_owned(),
                _ => return None,
            })
        };
        assert_eq!(VmQuery::from_params(params), VmQuery::default());
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
