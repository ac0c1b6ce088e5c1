//! A line chart over time (ECharts via charming in the browser; an empty box on the server).

use leptos::{html::Div, prelude::*};

/// Lines of a chart: `(name, points)`, points as `(unix seconds, value)`, `None` = gap.
pub type Lines = Vec<(String, Vec<(i64, Option<f64>)>)>;

/// A chart drawn into a box with the DOM id `id`; redrawn whenever `lines` changes.
/// `data-points` (points of the first line), `data-last` (its newest value) and `data-last-t`
/// (the newest point's time) let tests and screen readers see what is drawn.
#[component]
pub fn TimeChart(
    id: &'static str,
    title: &'static str,
    #[prop(into)] lines: Signal<Lines>,
) -> impl IntoView {
    let element = NodeRef::<Div>::new();
    #[cfg(feature = "hydrate")]
    {
        let drawn = StoredValue::new_local(None);
        // Inside a Suspense the box exists before it is in the document; until it is, look
        // again on the next animation frames.
        let frame = RwSignal::new(0u32);
        Effect::new(move |_| {
            let tries = frame.get();
            let mounted = element.get().is_some_and(|e| e.is_connected());
            if !mounted {
                if tries < 600 {
                    request_animation_frame(move || frame.set(tries + 1));
                }
                return;
            }
            if !crate::web::chart::echarts_ready() {
                // Draw once the script is in (the signal read below keeps this effect
                // subscribed to the lines meanwhile).
                lines.track();
                leptos::task::spawn_local(async move {
                    match crate::web::chart::load().await {
                        Ok(()) => frame.set(tries + 1),
                        Err(e) => web_sys::console::warn_1(&e),
                    }
                });
                return;
            }
            let series: Vec<crate::web::chart::Series> = lines
                .get()
                .into_iter()
                .map(|(name, points)| crate::web::chart::Series { name, points })
                .collect();
            drawn.update_value(|existing| crate::web::chart::draw(id, existing, title, &series));
        });
    }
    let _ = title;
    let points = move || lines.with(|l| l.first().map_or(0, |(_, p)| p.len()));
    let last_t =
        move || lines.with(|l| l.first().and_then(|(_, p)| p.last()).map_or(0, |(t, _)| *t));
    let last = move || {
        lines.with(|l| {
            l.first()
                .and_then(|(_, p)| p.iter().rev().find_map(|(_, v)| *v))
                .map(|v| format!("{v:.2}"))
        })
    };
    view! {
        <figure class="chart-box">
            <div class="chart" id=id node_ref=element data-points=points data-last=last data-last-t=last_t></div>
        </figure>
    }
}
