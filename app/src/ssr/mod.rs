//! Server-only code: state, database, users, sessions, access checks, console sessions and
//! embed links.

pub mod alerts;
pub mod api_tokens;
pub mod clusters;
pub mod console;
pub mod db;
pub mod embed;
pub mod guard;
pub mod passwords;
pub mod sessions;
pub mod state;
pub mod users;
pub mod wall;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
