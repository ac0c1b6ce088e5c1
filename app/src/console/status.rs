//! The console's state as the browser sees it: where its ticket comes from, what it is doing,
//! how the screen fits, and how long to wait before reconnecting. Shared by the console
//! component and the browser-side client.

/// Where a console gets its one-time ticket from.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketSource {
    /// A logged-in operator's console of one VM.
    Vm {
        /// Cluster name.
        cluster: String,
        /// Node name.
        node: String,
        /// VM id.
        vmid: String,
    },
    /// A partner portal's embed link.
    Embed {
        /// The signed embed token from the link.
        token: String,
    },
}

/// What the console is doing, for the status line (and the host page of an embed).
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleStatus {
    /// Getting a ticket and opening the connection.
    Connecting,
    /// Showing the VM's screen.
    Connected,
    /// Lost the connection; trying again after `in_secs` (attempt `attempt`).
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Seconds until the next attempt.
        in_secs: u32,
        /// Why the last connection ended.
        reason: String,
    },
    /// Gave up: the reason is final (no permission, VM gone, refused link).
    Failed(String),
    /// Closed by the user.
    Closed,
}

impl ConsoleStatus {
    /// Short machine-readable state, for tests and `postMessage`.
    pub fn state(&self) -> &'static str {
        match self {
            ConsoleStatus::Connecting => "connecting",
            ConsoleStatus::Connected => "connected",
            ConsoleStatus::Reconnecting { .. } => "reconnecting",
            ConsoleStatus::Failed(_) => "error",
            ConsoleStatus::Closed => "disconnected",
        }
    }

    /// What the status line says.
    pub fn describe(&self, desktop: &str) -> String {
        match self {
            ConsoleStatus::Connecting => "Connecting…".into(),
            ConsoleStatus::Connected if desktop.is_empty() => "Connected".into(),
            ConsoleStatus::Connected => format!("Connected to {desktop}"),
            ConsoleStatus::Reconnecting {
                attempt,
                in_secs,
                reason,
            } => {
                format!("{reason} — reconnecting in {in_secs} s (attempt {attempt})")
            }
            ConsoleStatus::Failed(reason) => format!("Cannot open the console: {reason}"),
            ConsoleStatus::Closed => "Disconnected".into(),
        }
    }
}

/// Seconds to wait before reconnection attempt `attempt` (1, 2, 4, … up to 30).
pub fn backoff_secs(attempt: u32) -> u32 {
    1u32.checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(30)
}

/// How the remote screen fits the browser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scaling {
    /// Scale the remote screen to the element.
    Fit,
    /// Ask the VM to change its resolution to the element's size.
    Remote,
    /// One remote pixel per browser pixel, with scrolling.
    Native,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let delays: Vec<u32> = (1..=7).map(backoff_secs).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff_secs(100), 30);
    }

    #[test]
    fn states_are_named_for_the_host_page() {
        assert_eq!(ConsoleStatus::Connected.state(), "connected");
        assert_eq!(ConsoleStatus::Failed("x".into()).state(), "error");
        let r = ConsoleStatus::Reconnecting {
            attempt: 2,
            in_secs: 2,
            reason: "Connection lost".into(),
        };
        assert_eq!(
            r.describe(""),
            "Connection lost — reconnecting in 2 s (attempt 2)"
        );
        assert_eq!(
            ConsoleStatus::Connected.describe("dns1"),
            "Connected to dns1"
        );
    }
}
