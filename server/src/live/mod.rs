//! Live monitoring: one poll of each cluster per tick, shared by every viewer.
//!
//! `collector` polls `/cluster/resources` only while someone watches; `window` keeps the last
//! minutes per VM and turns counters into rates, and `backfill` fills a fresh one from PVE's
//! history; `hub` fans events out to subscribers without ever waiting for a slow one, each cut
//! to its page and scope by `views`; `sse` is the server-sent-events endpoint, whose streams
//! re-check who watches through `credentials`.

pub mod alerts;
pub mod backfill;
pub mod collector;
pub mod credentials;
pub mod hub;
pub mod sse;
pub mod views;
pub mod window;

pub use hub::LiveHub;
