//! A tiny inline SVG line of a VM's recent CPU use, from the live stream (cheap enough for a
//! table of thousands of rows, unlike a full chart per row).

use leptos::prelude::*;

use crate::live::view::LiveView;

/// Width and height of the drawing, in SVG units.
const W: f64 = 80.0;
const H: f64 = 20.0;

/// SVG `points` for values in 0..1, oldest first, spread over the width.
pub fn polyline(values: &[f64]) -> String {
    let step = if values.len() > 1 {
        W / (values.len() - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, H - v.clamp(0.0, 1.0) * H))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The CPU sparkline of one VM.
#[component]
pub fn CpuSparkline(view: RwSignal<LiveView>, cluster: String, vmid: u32) -> impl IntoView {
    let values = Memo::new(move |_| {
        view.with(|v| {
            let values = v.vm_cpu(&cluster, vmid);
            // The last 60 points: ten minutes at the default tick.
            values[values.len().saturating_sub(60)..].to_vec()
        })
    });
    view! {
        <svg class="sparkline" viewBox=format!("0 0 {W} {H}") width="80" height="20" aria-label="CPU, recent"
            data-points=move || values.with(Vec::len)>
            <polyline fill="none" stroke="currentColor" stroke-width="1.2" points=move || values.with(|v| polyline(v)) />
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_map_to_the_box_with_high_values_at_the_top() {
        assert_eq!(polyline(&[0.0, 1.0]), "0.0,20.0 80.0,0.0");
        assert_eq!(polyline(&[0.5]), "0.0,10.0");
        assert_eq!(polyline(&[2.0, -1.0]), "0.0,0.0 80.0,20.0", "clamped");
        assert_eq!(polyline(&[]), "");
    }
}
