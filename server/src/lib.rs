//! Cecyber's server: configuration, start-up state, and the HTTP router.
//!
//! `main.rs` only wires these together; tests build the same router against the simulator.

pub mod assets;
pub mod config;
pub mod console;
pub mod demo;
pub mod health;
pub mod live;
pub mod middleware;
pub mod render;
pub mod router;
pub mod runtime;
pub mod serve;
pub mod shutdown;
pub mod time_limit;
pub mod tls;
