//! The hub: the windows of every cluster, the event fan-out, and the count of watchers.
//!
//! Publishing never waits for a subscriber: events go into a bounded broadcast channel, and a
//! subscriber that falls behind gets a fresh snapshot instead of the events it missed. Each
//! event keeps the bytes it was encoded to per audience, so a thousand viewers of the same
//! page cost one encoding, not a thousand.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use app::live::{LiveSnapshot, LiveStale};
use axum::body::Bytes;
use pve::types::ClusterResource;
use tokio::sync::{broadcast, watch};

use super::{
    views::Audience,
    window::{ClusterSeries, History, Tick},
};

/// An event for subscribers.
#[derive(Debug)]
pub enum LiveEvent {
    /// A poll's result.
    Tick(Tick),
    /// A cluster stopped answering.
    Stale(LiveStale),
    /// The window changed wholesale (history was filled in): send subscribers a snapshot.
    Resync(u64),
}

impl LiveEvent {
    /// The event's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            LiveEvent::Tick(t) => t.seq,
            LiveEvent::Stale(s) => s.seq,
            LiveEvent::Resync(seq) => *seq,
        }
    }
}

/// An event as published, with its encodings per audience key (`None`: nothing for them).
#[derive(Debug)]
pub struct Published {
    /// The event.
    pub event: LiveEvent,
    frames: Mutex<HashMap<String, Option<Bytes>>>,
}

impl Published {
    fn new(event: LiveEvent) -> Self {
        Self {
            event,
            frames: Mutex::new(HashMap::new()),
        }
    }

    /// The event's bytes for audience `key`, encoded by `encode` the first time only.
    pub fn frame(
        &self,
        key: &str,
        encode: impl FnOnce(&LiveEvent) -> Option<Bytes>,
    ) -> Option<Bytes> {
        let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(frame) = frames.get(key) {
            return frame.clone();
        }
        let frame = encode(&self.event);
        frames.insert(key.to_owned(), frame.clone());
        frame
    }

    /// The event's sequence number.
    pub fn seq(&self) -> u64 {
        self.event.seq()
    }
}

/// Events kept for `Last-Event-ID` resumption.
const RECENT_EVENTS: usize = 64;
/// Events a subscriber may be behind before it is resynchronised.
const CHANNEL_CAPACITY: usize = 32;

/// Snapshot bytes per audience key, valid for one sequence number.
#[derive(Default)]
struct SnapshotCache {
    seq: u64,
    frames: HashMap<String, Bytes>,
}

/// Shared by the collectors (writers) and the SSE connections (readers).
pub struct LiveHub {
    clusters: Mutex<BTreeMap<String, ClusterSeries>>,
    recent: Mutex<VecDeque<Arc<Published>>>,
    events: broadcast::Sender<Arc<Published>>,
    seq: AtomicU64,
    watchers: watch::Sender<usize>,
    snapshots: Mutex<SnapshotCache>,
    points_per_vm: usize,
    /// The streams' shared re-check of sessions and wall links.
    pub credentials: super::credentials::Credentials,
}

/// A subscriber's end; counts as a watcher until dropped.
pub struct Subscription {
    hub: Arc<LiveHub>,
    /// The event stream.
    pub events: broadcast::Receiver<Arc<Published>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.watchers.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Subscription {
    /// The hub this subscription belongs to.
    pub fn hub(&self) -> &Arc<LiveHub> {
        &self.hub
    }
}

impl LiveHub {
    /// A hub keeping `points_per_vm` points per VM (the window length over the tick).
    pub fn new(points_per_vm: usize) -> Arc<Self> {
        Arc::new(Self {
            clusters: Mutex::new(BTreeMap::new()),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_EVENTS)),
            events: broadcast::channel(CHANNEL_CAPACITY).0,
            seq: AtomicU64::new(0),
            watchers: watch::channel(0).0,
            snapshots: Mutex::new(SnapshotCache::default()),
            points_per_vm,
            credentials: super::credentials::Credentials::default(),
        })
    }

    /// Starts watching: the collectors poll while at least one subscription lives.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let events = self.events.subscribe();
        self.watchers.send_modify(|n| *n += 1);
        Subscription {
            hub: Arc::clone(self),
            events,
        }
    }

    /// Number of live subscriptions.
    pub fn watchers(&self) -> usize {
        *self.watchers.borrow()
    }

    /// Resolves once somebody watches.
    pub async fn wait_for_watchers(&self) {
        let mut rx = self.watchers.subscribe();
        let _ = rx.wait_for(|n| *n > 0).await;
    }

    /// What `audience` sees of the window. Events with a `seq` at or below the snapshot's are
    /// included.
    pub fn snapshot(&self, audience: &Audience) -> LiveSnapshot {
        let clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        LiveSnapshot {
            seq: self.seq.load(Ordering::SeqCst),
            clusters: clusters
                .iter()
                .filter_map(|(name, series)| audience.window(name, series))
                .collect(),
        }
    }

    /// The snapshot for audience `key` as bytes, encoded by `encode` once per sequence
    /// number (many viewers connecting at once cost one snapshot).
    pub fn snapshot_frame(&self, key: &str, encode: impl FnOnce(&Self) -> Bytes) -> Bytes {
        let mut cache = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        let seq = self.seq.load(Ordering::SeqCst);
        if cache.seq != seq {
            cache.seq = seq;
            cache.frames.clear();
        }
        if let Some(frame) = cache.frames.get(key) {
            return frame.clone();
        }
        let frame = encode(self);
        // Only cache what is still current (an event may have arrived while encoding).
        if self.seq.load(Ordering::SeqCst) == seq {
            cache.frames.insert(key.to_owned(), frame.clone());
        }
        frame
    }

    /// The events after `seq`, if they are all still kept; `None` means "send a snapshot".
    pub fn since(&self, seq: u64) -> Option<Vec<Arc<Published>>> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.seq.load(Ordering::SeqCst);
        if seq > current {
            return None;
        }
        let oldest_kept = recent.front().map_or(current + 1, |e| e.seq());
        if seq + 1 < oldest_kept && seq != current {
            return None;
        }
        Some(recent.iter().filter(|e| e.seq() > seq).cloned().collect())
    }

    /// Records a successful poll of `cluster` taken at unix time `t` and tells subscribers.
    pub fn publish_poll(&self, cluster: &str, t: i64, resources: &[ClusterResource]) {
        let event = {
            let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
            let series = clusters
                .entry(cluster.to_owned())
                .or_insert_with(|| ClusterSeries::new(self.points_per_vm));
            let at_ms = unix_ms();
            let poll = series.record(t, at_ms, resources);
            LiveEvent::Tick(Tick {
                seq: self.next_seq(),
                cluster: cluster.to_owned(),
                t,
                at_ms,
                nodes: poll.nodes,
                vms: poll.vms,
            })
        };
        self.send(event);
    }
    /// Notes the one-minute load of `node` in `cluster`, read from its status.
    pub fn set_node_load(&self, cluster: &str, node: &str, load: f64) {
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        clusters
            .entry(cluster.to_owned())
            .or_insert_with(|| ClusterSeries::new(self.points_per_vm))
            .set_load(node, load);
    }

    /// Fills `cluster`'s window with `history` (per VM, oldest first) and tells subscribers to
    /// take a new snapshot.
    pub fn backfill(&self, cluster: &str, history: History) {
        if history.points.is_empty() && history.counters.is_empty() {
            return;
        }
        let event = {
            let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
            clusters
                .entry(cluster.to_owned())
                .or_insert_with(|| ClusterSeries::new(self.points_per_vm))
                .backfill(history);
            LiveEvent::Resync(self.next_seq())
        };
        self.send(event);
    }

    /// Records a failed poll of `cluster`.
    pub fn publish_failure(&self, cluster: &str, message: String) {
        let event = {
            let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
            let series = clusters
                .entry(cluster.to_owned())
                .or_insert_with(|| ClusterSeries::new(self.points_per_vm));
            let since = series.mark_stale().unwrap_or(0);
            LiveEvent::Stale(LiveStale {
                seq: self.next_seq(),
                cluster: cluster.to_owned(),
                since,
                message,
            })
        };
        self.send(event);
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn send(&self, event: LiveEvent) {
        let event = Arc::new(Published::new(event));
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT_EVENTS {
                recent.pop_front();
            }
            recent.push_back(Arc::clone(&event));
        }
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }
}

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(vmid: u32) -> ClusterResource {
        serde_json::from_value(serde_json::json!({"id": format!("qemu/{vmid}"), "type": "qemu", "vmid": vmid, "status": "running"}))
            .unwrap()
    }

    fn everything() -> Audience {
        Audience {
            view: app::live::LiveViewKind::Overview,
            scope: app::access::Scope::everything(),
        }
    }

    #[test]
    fn each_event_is_encoded_once_per_audience() {
        let hub = LiveHub::new(5);
        let mut sub = hub.subscribe();
        hub.publish_poll("c", 1, &[vm(100)]);
        let event = sub.events.try_recv().unwrap();
        let mut encodings = 0;
        for _ in 0..3 {
            let frame = event.frame("k", |_| {
                encodings += 1;
                Some(Bytes::from_static(b"x"))
            });
            assert_eq!(frame.as_deref(), Some(&b"x"[..]));
        }
        assert_eq!(encodings, 1);
        let mut snapshots = 0;
        for _ in 0..3 {
            hub.snapshot_frame("k", |_| {
                snapshots += 1;
                Bytes::new()
            });
        }
        assert_eq!(snapshots, 1, "one snapshot encoding per sequence number");
        hub.publish_poll("c", 2, &[vm(100)]);
        hub.snapshot_frame("k", |_| {
            snapshots += 1;
            Bytes::new()
        });
        assert_eq!(snapshots, 2, "a new event makes a new snapshot");
    }

    #[test]
    fn subscriptions_count_as_watchers_until_dropped() {
        let hub = LiveHub::new(5);
        assert_eq!(hub.watchers(), 0);
        let a = hub.subscribe();
        let b = hub.subscribe();
        assert_eq!(hub.watchers(), 2);
        drop(a);
        drop(b);
        assert_eq!(hub.watchers(), 0);
    }

    #[test]
    fn resumption_replays_kept_events_or_asks_for_a_snapshot() {
        let hub = LiveHub::new(5);
        for t in 0..3 {
            hub.publish_poll("c", t, &[vm(100)]);
        }
        let replay = hub.since(1).expect("events 2 and 3 are kept");
        assert_eq!(replay.iter().map(|e| e.seq()).collect::<Vec<_>>(), [2, 3]);
        assert!(hub.since(3).unwrap().is_empty(), "up to date");
        assert!(
            hub.since(99).is_none(),
            "an id from the future (a restarted server) → snapshot"
        );
        for t in 3..100 {
            hub.publish_poll("c", t, &[vm(100)]);
        }
        assert!(hub.since(1).is_none(), "too old → snapshot");
        assert_eq!(hub.snapshot(&everything()).seq, 100);
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_so() {
        let hub = LiveHub::new(5);
        let mut slow = hub.subscribe();
        for t in 0..(CHANNEL_CAPACITY as i64 + 5) {
            hub.publish_poll("c", t, &[vm(100)]);
        }
        assert!(matches!(
            slow.events.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}
