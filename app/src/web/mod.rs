//! Browser-only glue (feature `hydrate`): the live event stream and ECharts through charming.

pub mod chart;
pub mod console;
pub mod live_stream;
pub mod novnc;
