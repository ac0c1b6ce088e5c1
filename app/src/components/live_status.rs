//! Where a page's live stream stands: connected or not, and which clusters stopped answering
//! (since when, and why) — shown by every page that draws live data.

use leptos::prelude::*;

use crate::{
    format,
    live::view::{LiveView, StreamStatus},
};

/// "● live" (or connecting, or revoked) and what the stream carries.
#[component]
pub fn LiveStatus(status: RwSignal<StreamStatus>, carries: &'static str) -> impl IntoView {
    view! {
        <p class="muted">
            <span data-testid="live-status" data-connected=move || (status.get() == StreamStatus::Live).to_string()>
                {move || status.get().label()}
            </span>
            {carries}
        </p>
    }
}

/// One alert line per cluster whose polls fail: its live data stopped at that time.
#[component]
pub fn StaleClusters(view: RwSignal<LiveView>) -> impl IntoView {
    move || {
        view.with(|v| {
            v.clusters()
                .into_iter()
                .filter_map(|c| v.stale(&c).map(|(since, why)| (c, since, why)))
                .map(|(cluster, since, why)| {
                    let since = if since == 0 {
                        "start".to_string()
                    } else {
                        format::clock(since)
                    };
                    view! {
                        <div class="error" role="alert" data-testid="stale">
                            {format!("Cluster {cluster}: no data since {since} — {why}")}
                        </div>
                    }
                })
                .collect_view()
        })
    }
}
