//! Cecyber's server: configuration, start-up state, and the HTTP router.
//!
//! `main.rs` only wires these together; tests build the same router against the simulator.

pub mod config;
pub mod console;
pub mod live;
pub mod middleware;
pub mod router;
pub mod runtime;
