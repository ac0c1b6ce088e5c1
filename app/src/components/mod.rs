//! Reusable pieces of the interface.

pub mod alert_badge;
pub mod bulk;
pub mod clone;
pub mod console;
pub mod devices;
pub mod error_box;
pub mod hardware;
pub mod history;
pub mod layout;
pub mod live_charts;
pub mod live_status;
pub mod migrate;
pub mod power;
pub mod shown_once;
pub mod snapshots;
pub mod sparkline;
pub mod tasks;
pub mod time_chart;
