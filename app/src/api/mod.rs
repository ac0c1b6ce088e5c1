//! Server functions, grouped by domain. Each checks the session and role on the server first.

pub mod alerts;
pub mod auth;
pub mod console;
pub mod metrics;
pub mod users;
pub mod vms;
pub mod wall;
