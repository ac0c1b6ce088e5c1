//! Console state shared by the `open_console` server function and the console relay: one-time
//! console sessions (the `vncproxy` answer kept on the server, bound to a user and a VM, to be
//! opened within a short time), and one async lock per VM that serialises
//! "vncproxy → connect → authenticate" so a second viewer cannot break a first one mid-handshake.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use pve::ids::{NodeName, VmId};
use pve::types::VncProxy;
use rand::RngCore;
use tokio::sync::OwnedMutexGuard;

use crate::error::{AppError, AppResult};

/// How long a console session may wait for its WebSocket by default (the configuration's
/// `console_session_secs` changes it).
pub const SESSION_TTL: Duration = Duration::from_secs(30);

/// Console sessions waiting at most; more is refused (they expire within the TTL anyway).
const MAX_PENDING: usize = 10_000;

/// The VM a console is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleTarget {
    /// Configured cluster name.
    pub cluster: String,
    /// Node the VM runs on.
    pub node: NodeName,
    /// VM id.
    pub vmid: VmId,
}

impl ConsoleTarget {
    /// Parses the node and VM id a browser sent.
    pub fn parse(cluster: &str, node: &str, vmid: &str) -> AppResult<Self> {
        let (node, vmid) = crate::access::parse_target(node, vmid)?;
        Ok(Self {
            cluster: cluster.to_owned(),
            node,
            vmid,
        })
    }
}

/// A console session made by `open_console`, waiting for its WebSocket.
#[derive(Debug)]
pub struct PendingConsole {
    /// The VM.
    pub target: ConsoleTarget,
    /// The Cecyber user it belongs to; the WebSocket must come with this user's session.
    pub username: String,
    /// The VM's name.
    pub vm_name: String,
    /// Drop the viewer's input.
    pub view_only: bool,
    /// PVE's `vncproxy` answer (port, ticket, VNC password): never sent to the browser.
    pub proxy: VncProxy,
    /// When `vncproxy` answered (PVE's proxy waits only 10 s for its connection).
    pub proxied_at: Instant,
    created: Instant,
}

impl PendingConsole {
    /// A new session for `username` on `target`, with the `vncproxy` answer just received.
    pub fn new(
        target: ConsoleTarget,
        username: String,
        vm_name: String,
        view_only: bool,
        proxy: VncProxy,
    ) -> Self {
        let now = Instant::now();
        Self {
            target,
            username,
            vm_name,
            view_only,
            proxy,
            proxied_at: now,
            created: now,
        }
    }
}

/// Why a console session cannot be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeError {
    /// Never existed, or already opened once (a replay).
    Unknown,
    /// Not opened in time.
    Expired,
    /// Made for another user: refused, and left for its owner.
    OtherUser,
}

impl std::fmt::Display for TakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TakeError::Unknown => "console session unknown or already used",
            TakeError::Expired => "console session expired",
            TakeError::OtherUser => "this console session belongs to another user",
        })
    }
}

/// One console lock per (cluster, VM id).
type VmLocks = HashMap<(String, u32), Arc<tokio::sync::Mutex<()>>>;

/// The console state; one per server, given to server functions and the relay as a context.
pub struct ConsoleHub {
    pending: Mutex<HashMap<String, PendingConsole>>,
    ttl_ms: AtomicU64,
    vm_locks: Mutex<VmLocks>,
}

impl Default for ConsoleHub {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            ttl_ms: AtomicU64::new(SESSION_TTL.as_millis() as u64),
            vm_locks: Mutex::new(HashMap::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ConsoleHub {
    /// An empty hub with the default session lifetime ([`SESSION_TTL`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty hub whose console sessions wait at most `ttl` for their WebSocket.
    pub fn with_session_ttl(ttl: Duration) -> Self {
        let hub = Self::default();
        hub.set_session_ttl(ttl);
        hub
    }

    /// How long a console session may wait for its WebSocket.
    pub fn session_ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed))
    }

    /// Changes the session lifetime (from the configuration; tests shorten it).
    pub fn set_session_ttl(&self, ttl: Duration) {
        self.ttl_ms.store(ttl.as_millis() as u64, Ordering::Relaxed);
    }

    /// Keeps `console` until its WebSocket comes; returns its random id (32 bytes, base64url).
    pub fn insert(&self, console: PendingConsole) -> AppResult<String> {
        let ttl = self.session_ttl();
        let mut pending = lock(&self.pending);
        pending.retain(|_, p| p.created.elapsed() < ttl);
        if pending.len() >= MAX_PENDING {
            tracing::warn!(
                pending = pending.len(),
                "too many console sessions waiting; refused"
            );
            return Err(AppError::Busy(
                "too many consoles are being opened; try again in a moment".into(),
            ));
        }
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let id = URL_SAFE_NO_PAD.encode(raw);
        pending.insert(id.clone(), console);
        Ok(id)
    }

    /// Takes the console session `id` out for `username`: it can be opened once only, only
    /// in time, and only by the user it was made for. The owner is checked before the session
    /// is taken, so another user's attempt leaves it usable by its owner until it expires.
    pub fn take(&self, id: &str, username: &str) -> Result<PendingConsole, TakeError> {
        let mut pending = lock(&self.pending);
        let console = pending.get(id).ok_or(TakeError::Unknown)?;
        if console.created.elapsed() >= self.session_ttl() {
            pending.remove(id);
            return Err(TakeError::Expired);
        }
        if console.username != username {
            return Err(TakeError::OtherUser);
        }
        pending.remove(id).ok_or(TakeError::Unknown)
    }

    /// Number of console sessions waiting for their WebSocket.
    pub fn pending(&self) -> usize {
        lock(&self.pending).len()
    }

    /// The lock of VM `vmid` of `cluster`: held from `vncproxy` until the VNC authentication
    /// with PVE has ended, because PVE 9.1 makes a new VNC password at each `vncproxy`.
    pub async fn lock_vm(&self, cluster: &str, vmid: VmId) -> OwnedMutexGuard<()> {
        let vm_lock = {
            let mut locks = lock(&self.vm_locks);
            // Locks nobody holds or waits for are dropped, so the map stays small.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks
                .entry((cluster.to_owned(), vmid.get()))
                .or_default()
                .clone()
        };
        vm_lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy() -> VncProxy {
        serde_json::from_value(serde_json::json!({
            "user": "root@pam", "ticket": "PVEVNC:x", "password": "pw", "port": "5900",
            "upid": "UPID:pve:00058703:0078E322:6A4BB5CD:vncproxy:100:root@pam:",
        }))
        .unwrap()
    }

    fn pending() -> PendingConsole {
        PendingConsole::new(
            ConsoleTarget {
                cluster: "c".into(),
                node: "pve".parse().unwrap(),
                vmid: VmId::new(100).unwrap(),
            },
            "ann".into(),
            "web".into(),
            false,
            proxy(),
        )
    }

    #[test]
    fn sessions_open_once_and_in_time() {
        let hub = ConsoleHub::new();
        let id = hub.insert(pending()).unwrap();
        assert_eq!(id.len(), 43);
        assert_eq!(hub.take(&id, "ann").unwrap().username, "ann");
        assert_eq!(
            hub.take(&id, "ann").unwrap_err(),
            TakeError::Unknown,
            "replay"
        );
        assert_eq!(hub.take("forged", "ann").unwrap_err(), TakeError::Unknown);

        hub.set_session_ttl(Duration::ZERO);
        let id = hub.insert(pending()).unwrap();
        assert_eq!(hub.take(&id, "ann").unwrap_err(), TakeError::Expired);
        assert_eq!(hub.pending(), 0);
    }

    #[test]
    fn another_user_does_not_use_up_the_session() {
        let hub = ConsoleHub::with_session_ttl(Duration::from_secs(5));
        assert_eq!(hub.session_ttl(), Duration::from_secs(5));
        let id = hub.insert(pending()).unwrap();
        assert_eq!(hub.take(&id, "bob").unwrap_err(), TakeError::OtherUser);
        assert_eq!(hub.pending(), 1, "still there for its owner");
        assert_eq!(hub.take(&id, "ann").unwrap().username, "ann");
        assert_eq!(hub.take(&id, "bob").unwrap_err(), TakeError::Unknown);

        // An expired session is gone whoever asks.
        hub.set_session_ttl(Duration::ZERO);
        let id = hub.insert(pending()).unwrap();
        assert_eq!(hub.take(&id, "bob").unwrap_err(), TakeError::Expired);
        assert_eq!(hub.pending(), 0);
    }

    #[tokio::test]
    async fn one_lock_per_vm() {
        let hub = Arc::new(ConsoleHub::new());
        let vm = VmId::new(100).unwrap();
        let held = hub.lock_vm("c", vm).await;
        // Another VM is not blocked; the same VM is.
        let _other = hub.lock_vm("c", VmId::new(101).unwrap()).await;
        let waiting = {
            let hub = hub.clone();
            tokio::spawn(async move { hub.lock_vm("c", vm).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap()
            .unwrap();
    }
}
