//! Line charts of time series, drawn by ECharts (served from our own origin) via charming.
//! ECharts is the largest file the browser gets, so it is loaded by the first chart drawn,
//! not by every page.

use wasm_bindgen::prelude::*;

use charming::{
    Chart,
    component::{Axis, Grid, Legend, Title},
    datatype::CompositeValue,
    element::{AxisType, Tooltip, Trigger},
    renderer::{Echarts, WasmRenderer},
    series::Line,
};

#[wasm_bindgen(inline_js = r#"
let loading = null;
export function echarts_ready() { return typeof window.echarts !== 'undefined'; }
export function load_echarts(src) {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.onload = () => resolve();
      script.onerror = () => { loading = null; reject(new Error('could not load ' + src)); };
      document.head.appendChild(script);
    });
  }
  return loading;
}
"#)]
extern "C" {
    /// Whether ECharts is loaded (charming calls it as the global `echarts`).
    pub fn echarts_ready() -> bool;
    #[wasm_bindgen(catch)]
    async fn load_echarts(src: &str) -> Result<JsValue, JsValue>;
}

/// Loads ECharts once; every chart waiting for it shares the one request.
pub async fn load() -> Result<(), JsValue> {
    load_echarts(crate::assets::ECHARTS_JS).await.map(|_| ())
}

/// One line: a name and `(unix seconds, value)` points; `None` values are drawn as gaps.
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points, oldest first.
    pub points: Vec<(i64, Option<f64>)>,
}

fn chart(title: &str, series: &[Series]) -> Chart {
    let mut chart = Chart::new()
        .title(Title::new().text(title))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().top("bottom"))
        .grid(Grid::new().left(60).right(20).top(40).bottom(50))
        .x_axis(Axis::new().type_(AxisType::Time))
        .y_axis(Axis::new().type_(AxisType::Value));
    for s in series {
        let data: Vec<CompositeValue> = s
            .points
            .iter()
            .map(|(t, v)| {
                CompositeValue::from(vec![
                    CompositeValue::from(*t as f64 * 1000.0),
                    CompositeValue::from(*v),
                ])
            })
            .collect();
        chart = chart.series(
            Line::new()
                .name(s.name.clone())
                .show_symbol(false)
                .data(data),
        );
    }
    chart
}

/// Draws the chart into the element `id`, or updates the one drawn there before.
pub fn draw(id: &str, existing: &mut Option<Echarts>, title: &str, series: &[Series]) {
    let chart = chart(title, series);
    match existing {
        Some(echarts) => WasmRenderer::update(echarts, &chart),
        None => {
            // Width and height come from the element's CSS size.
            match WasmRenderer::new_opt(None, None).render(id, &chart) {
                Ok(echarts) => *existing = Some(echarts),
                Err(e) => web_sys::console::warn_1(&format!("chart {id}: {e:?}").into()),
            }
        }
    }
}
