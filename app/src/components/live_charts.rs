//! Live charts of one VM or one node, fed by the server-sent event stream of that VM or node
//! only (the server sends each page what it shows).

use leptos::prelude::*;

use crate::{
    components::{
        live_status::LiveStatus,
        time_chart::{Lines, TimeChart},
    },
    live::LiveViewKind,
    live::view::{LiveView, StreamStatus},
};

/// What the VM and node pages' streams carry.
const SHARED_POLL: &str = " — one poll of Proxmox VE per tick, shared by every viewer";
/// Points kept: 30 minutes at a 10 s tick.
const POINTS: usize = 180;
const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = MIB * 1024.0;

/// A chart line: its name and how to read its value from a point.
type Field<P> = (&'static str, fn(&P) -> Option<f64>);

/// Subscribes this component to `kind` and returns the view and the connection state.
fn subscribe(kind: LiveViewKind) -> (RwSignal<LiveView>, RwSignal<StreamStatus>) {
    let view = RwSignal::new(LiveView::new(POINTS));
    let status = RwSignal::new(StreamStatus::Connecting);
    #[cfg(feature = "hydrate")]
    crate::web::live_stream::connect(&kind.url(), view, status);
    #[cfg(not(feature = "hydrate"))]
    let _ = kind;
    (view, status)
}

/// One line per `(name, value of a point)`, `None` values (gaps, missing rates) as gaps.
fn lines<P: Copy>(points: &[(i64, Option<P>)], fields: &[Field<P>]) -> Lines {
    fields
        .iter()
        .map(|(name, value)| {
            let line = points
                .iter()
                .map(|(t, p)| (*t, p.as_ref().and_then(value)))
                .collect();
            ((*name).to_owned(), line)
        })
        .collect()
}

/// A VM's CPU, memory, network and disk I/O, live.
#[component]
pub fn LiveVmCharts(cluster: String, vmid: u32) -> impl IntoView {
    let (view, status) = subscribe(LiveViewKind::Vm {
        cluster: cluster.clone(),
        vmid,
    });
    let points = Memo::new(move |_| view.with(|v| v.vm_points(&cluster, vmid)));
    let chart = move |fields: &'static [Field<crate::live::VmPoint>]| {
        Signal::derive(move || points.with(|p| lines(p, fields)))
    };
    view! {
        <h2>"Live"</h2>
        <LiveStatus status carries=SHARED_POLL />
        <div class="charts">
            <TimeChart id="live-vm-cpu" title="CPU (%)" lines=chart(&[("CPU", |p| Some(p.cpu * 100.0))]) />
            <TimeChart id="live-vm-memory" title="Memory used (GiB)" lines=chart(&[("memory", |p| Some(p.mem as f64 / GIB))]) />
            <TimeChart id="live-vm-network" title="Network (MiB/s)" lines=chart(&[
                ("in", |p| p.netin.map(|v| v / MIB)),
                ("out", |p| p.netout.map(|v| v / MIB)),
            ]) />
            <TimeChart id="live-vm-disk" title="Disk I/O (MiB/s)" lines=chart(&[
                ("read", |p| p.diskread.map(|v| v / MIB)),
                ("write", |p| p.diskwrite.map(|v| v / MIB)),
            ]) />
        </div>
    }
}

/// A node's CPU and memory, live.
#[component]
pub fn LiveNodeCharts(cluster: String, node: String) -> impl IntoView {
    let (view, status) = subscribe(LiveViewKind::Node {
        cluster: cluster.clone(),
        node: node.clone(),
    });
    let points = Memo::new(move |_| view.with(|v| v.node_points(&cluster, &node)));
    let chart = move |fields: &'static [Field<crate::live::NodePoint>]| {
        Signal::derive(move || points.with(|p| lines(p, fields)))
    };
    view! {
        <h2>"Live"</h2>
        <LiveStatus status carries=SHARED_POLL />
        <div class="charts">
            <TimeChart id="live-node-cpu" title="CPU (%)" lines=chart(&[("CPU", |p| Some(p.cpu * 100.0))]) />
            <TimeChart id="live-node-memory" title="Memory used (GiB)" lines=chart(&[("memory", |p| Some(p.mem as f64 / GIB))]) />
        </div>
    }
}
