//! What can go wrong in the world, typed; the API layer turns each into PVE's answer (status
//! and text), so the texts here are exactly PVE's.

/// A refused or failed operation on the simulated cluster.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Error {
    /// PVE's `die "…"`: the operation failed with this text (answered as 500).
    #[error("{0}")]
    Failed(String),
    /// `authid` lacks `privilege` on `path` (403 "Permission check failed (path, privilege)").
    #[error("Permission check failed ({path}, {privilege})")]
    Forbidden {
        /// The ACL path checked.
        path: String,
        /// The first privilege missing.
        privilege: String,
    },
    /// The node does not resolve (pveproxy's host name lookup fails: 500).
    #[error(
        "hostname lookup '{0}' failed - failed to get address info for: {0}: Name or service not known"
    )]
    UnknownNode(String),
    /// The node is offline: pveproxy's proxy gets no connection (595, no body).
    #[error("No route to host")]
    NodeUnreachable,
}

impl Error {
    /// [`Error::Failed`] with `message`.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// `lock_config` gave up waiting for a VM's config lock.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("can't lock file '/var/lock/qemu-server/lock-{0}.conf' - got timeout")]
pub(crate) struct LockTimeout(pub u32);

/// Fault settings that cannot be applied; the text is what `/_sim/fault` answers.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// A rate outside 0–1 (`name` is `error_rate` or a path prefix of `error_rates`).
    #[error("error rate {rate} of '{name}' is not between 0 and 1")]
    Rate {
        /// Which rate.
        name: String,
        /// Its value.
        rate: f64,
    },
    /// An injected status other than 500 or 503.
    #[error("error_status {0} is neither 500 nor 503")]
    Status(u16),
    /// `ticket_lifetime_secs: 0`.
    #[error("ticket_lifetime_secs must be at least 1")]
    TicketLifetime,
    /// A `task_speed` outside 0.01–1000.
    #[error("task_speed {0} is not between 0.01 and 1000")]
    TaskSpeed(f64),
    /// `node_offline` names no node of the cluster.
    #[error("no node '{0}'")]
    UnknownNode(String),
}
