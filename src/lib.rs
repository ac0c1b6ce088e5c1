//! Everything Cecyber knows about Proxmox VE, and nothing about Leptos.
//!
//! `ids` and `types` are plain serde types that compile to wasm32, so the browser shares them.
//! `client` (feature `client`) is the native HTTP client; `sim` (feature `sim`) is the simulator.

#![warn(missing_docs)]

pub mod error;
pub mod ids;
pub mod types;

#[cfg(feature = "calendar")]
pub mod calendar;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "sim")]
pub mod sim;

#[cfg(any(feature = "client", feature = "sim"))]
pub mod vnc_auth;

pub use error::{Error, Result};
