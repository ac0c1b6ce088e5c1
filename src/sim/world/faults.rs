//! Fault injection settings ([`Faults`]): what `/_sim/fault` sets and the start configuration
//! brings; the API layer applies latency and injected errors, the world the offline node and
//! the ticket lifetime, the consoles the WebSocket cuts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::FaultError;

/// Fault injection settings (all off by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Extra delay before each matching request is handled, in milliseconds.
    pub latency_ms: u64,
    /// Up to this many more milliseconds of delay, uniformly random per request.
    pub jitter_ms: u64,
    /// Share of matching requests (0–1) that fail with `error_status`.
    pub error_rate: f64,
    /// Only requests whose path after `/api2/json` starts with this get the latency and
    /// `error_rate`.
    pub path_prefix: String,
    /// Error rates (0–1) by path prefix (after `/api2/json`); the longest matching prefix wins
    /// over `error_rate`.
    pub error_rates: BTreeMap<String, f64>,
    /// A node that is unreachable (shown offline, requests to it fail with 595).
    pub node_offline: Option<String>,
    /// Status of injected errors: 500 (default) or 503.
    pub error_status: Option<u16>,
    /// Message of injected errors (default "simulated failure (pve-sim fault injection)" for
    /// 500, "service unavailable (pve-sim fault injection)" for 503).
    pub error_message: Option<String>,
    /// Console WebSocket sessions are cut this many seconds after they opened; 0 cuts them at
    /// once (the open ones too, when set).
    pub ws_drop_after_secs: Option<u64>,
    /// Tickets expire after this many seconds instead of PVE's 2 hours (answers 401
    /// "Authentication failed!" afterwards, so clients must renew earlier).
    pub ticket_lifetime_secs: Option<u64>,
    /// Tasks run this many times faster than the configured task speed (a test that needs a
    /// long task, a migration of a big disk, sets it for a while; 0.01–1000).
    pub task_speed: Option<f64>,
}

impl Faults {
    /// Checks rates, the error status and the ticket lifetime (the node is checked by the
    /// state, which knows the nodes).
    pub(crate) fn validate(&self) -> Result<(), FaultError> {
        let rates = std::iter::once(("error_rate", self.error_rate))
            .chain(self.error_rates.iter().map(|(p, r)| (p.as_str(), *r)));
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultError::Rate {
                    name: name.to_owned(),
                    rate,
                });
            }
        }
        if let Some(s) = self.error_status
            && !matches!(s, 500 | 503)
        {
            return Err(FaultError::Status(s));
        }
        if self.ticket_lifetime_secs == Some(0) {
            return Err(FaultError::TicketLifetime);
        }
        if let Some(speed) = self.task_speed
            && !(0.01..=1000.0).contains(&speed)
        {
            return Err(FaultError::TaskSpeed(speed));
        }
        Ok(())
    }

    /// The error rate for `rel` (a path after `/api2/json`).
    pub(crate) fn error_rate_for(&self, rel: &str) -> f64 {
        let longest = self
            .error_rates
            .iter()
            .filter(|(prefix, _)| rel.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len());
        match longest {
            Some((_, rate)) => *rate,
            None if rel.starts_with(&self.path_prefix) => self.error_rate,
            None => 0.0,
        }
    }

    /// The injected error: (status, message).
    pub(crate) fn injected_error(&self) -> (u16, String) {
        let status = self.error_status.unwrap_or(500);
        let message = self.error_message.clone().unwrap_or_else(|| {
            if status == 503 {
                "service unavailable (pve-sim fault injection)\n".to_owned()
            } else {
                "simulated failure (pve-sim fault injection)\n".to_owned()
            }
        });
        (status, message)
    }

    /// True if any latency or error is configured (the request path can skip the rest).
    pub(crate) fn affects_requests(&self) -> bool {
        self.latency_ms > 0
            || self.jitter_ms > 0
            || self.error_rate > 0.0
            || self.error_rates.values().any(|r| *r > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let f = Faults {
            error_rate: 0.2,
            path_prefix: "/nodes".into(),
            error_rates: [
                ("/nodes/pve1".to_owned(), 1.0),
                ("/cluster".to_owned(), 0.5),
            ]
            .into_iter()
            .collect(),
            ..Faults::default()
        };
        assert_eq!(f.error_rate_for("/nodes/pve1/qemu"), 1.0);
        assert_eq!(f.error_rate_for("/nodes/pve2/qemu"), 0.2);
        assert_eq!(f.error_rate_for("/cluster/resources"), 0.5);
        assert_eq!(f.error_rate_for("/version"), 0.0);
        assert!(f.validate().is_ok());
        let bad = Faults {
            error_status: Some(404),
            ..Faults::default()
        };
        assert_eq!(bad.validate(), Err(FaultError::Status(404)));
    }
}
