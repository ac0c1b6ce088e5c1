//! The world: the simulated cluster and what happens in it, behind one cloneable handle
//! ([`SimState`]): settings, users and ACLs, the cluster model with its tasks, backups and
//! cluster log, fault settings, per-VM config locks and QEMU mode's processes. Nothing here
//! knows HTTP; the API layer reads and changes the world, the consoles watch it.

pub(crate) mod access;
pub(crate) mod backup;
pub(crate) mod clog;
mod error;
mod faults;
pub(crate) mod ha;
pub(crate) mod lxc;
pub(crate) mod metrics;
pub(crate) mod migrate;
pub(crate) mod model;
pub(crate) mod power;
pub(crate) mod qemu;
pub(crate) mod qmigrate;
pub(crate) mod rrd;
pub(crate) mod snapshots;
pub(crate) mod tasks;

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, watch};

use crate::sim::util::now_secs;
use crate::sim::{API_TOKEN_ID, SimConfig};
use access::AuthDb;
use backup::{Archive, Job, initial_archives, initial_jobs};
use clog::ClusterLog;
pub use error::FaultError;
pub(crate) use error::{Error, LockTimeout};
pub use faults::Faults;
use model::{Model, Power, add_containers, generate};
use tasks::{Task, TaskStore};

/// PVE's `lock_config` waits this long for a VM's lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared state of one simulator; cheap to clone.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

struct Inner {
    nodes: usize,
    vms: usize,
    containers: usize,
    seed: u64,
    task_speed: f64,
    auth_failure_delay: Duration,
    /// The served certificate's fingerprint, reported as every node's `ssl_fingerprint`.
    fingerprint: Option<String>,
    root_password: String,
    auditor_password: String,
    auth: AuthDb,
    world: Mutex<World>,
    faults: Mutex<Arc<Faults>>,
    /// The faults of the start configuration (what a reset returns to).
    initial_faults: Faults,
    vm_locks: Mutex<HashMap<u32, Arc<AsyncMutex<()>>>>,
    /// Bumped on every network drop between the cluster and its clients (console sessions
    /// end).
    drops: watch::Sender<u64>,
    /// State other layers keep with the world (the consoles), one value per type; the world
    /// never looks inside.
    attachments: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// QEMU mode's processes (set at start when `SimConfig::qemu`).
    qemu: std::sync::OnceLock<Arc<qemu::QemuVms>>,
}

/// What changes while the simulator runs.
pub(crate) struct World {
    pub model: Model,
    pub tasks: TaskStore,
    /// The cluster log.
    pub log: ClusterLog,
    /// Backup archives on the `backup` storage.
    pub backups: Vec<Archive>,
    /// Backup jobs (`/cluster/backup`), by ID.
    pub jobs: BTreeMap<String, Job>,
    /// Increases on every reset; tasks from before a reset do not touch the new world.
    pub generation: u64,
}

impl SimState {
    /// Builds the cluster described by `config` (the server address is not used here).
    pub fn new(config: &SimConfig) -> Self {
        Self::with_fingerprint(config, None)
    }

    /// Like [`SimState::new`], with every node reporting `fingerprint` (the served certificate's)
    /// as its `ssl_fingerprint`.
    pub(crate) fn with_fingerprint(config: &SimConfig, fingerprint: Option<String>) -> Self {
        let mut world = fresh_world(config.nodes, config.vms, config.containers, config.seed, 0);
        set_fingerprint(&mut world, fingerprint.as_deref());
        let inner = Inner {
            nodes: config.nodes,
            vms: config.vms,
            containers: config.containers,
            seed: config.seed,
            task_speed: if config.task_speed > 0.0 {
                config.task_speed
            } else {
                1.0
            },
            auth_failure_delay: config.auth_failure_delay,
            fingerprint,
            root_password: config.root_password.clone(),
            auditor_password: config.auditor_password.clone(),
            auth: AuthDb::new(config),
            world: Mutex::new(world),
            faults: Mutex::new(Arc::new(Faults::default())),
            initial_faults: config.faults.clone(),
            vm_locks: Mutex::new(HashMap::new()),
            drops: watch::channel(0).0,
            attachments: Mutex::new(HashMap::new()),
            qemu: std::sync::OnceLock::new(),
        };
        let st = Self {
            inner: Arc::new(inner),
        };
        if let Err(e) = st.set_faults(config.faults.clone()) {
            tracing::warn!(error = %e, "fault settings of the start configuration ignored");
        }
        st
    }

    /// Password of `root@pam`.
    pub fn root_password(&self) -> &str {
        &self.inner.root_password
    }

    /// The API token: (`root@pam!cecyber`, secret).
    pub fn api_token(&self) -> (String, String) {
        let secret = self
            .inner
            .auth
            .token_secret(API_TOKEN_ID)
            .unwrap_or_default();
        (API_TOKEN_ID.to_owned(), secret.to_owned())
    }

    /// The read-only user: (`auditor@pve`, password).
    pub fn auditor(&self) -> (String, String) {
        (
            "auditor@pve".to_owned(),
            self.inner.auditor_password.clone(),
        )
    }

    /// Current fault settings.
    pub fn faults(&self) -> Faults {
        (*self.faults_ref()).clone()
    }

    /// Current fault settings without copying them.
    pub(crate) fn faults_ref(&self) -> Arc<Faults> {
        lock(&self.inner.faults).clone()
    }

    /// Replaces the fault settings; fails for an unknown `node_offline`, a bad rate or status.
    pub fn set_faults(&self, faults: Faults) -> Result<(), FaultError> {
        faults.validate()?;
        {
            let mut world = self.world();
            if let Some(name) = &faults.node_offline
                && world.model.node(name).is_none()
            {
                return Err(FaultError::UnknownNode(name.clone()));
            }
            for node in &mut world.model.nodes {
                node.online = faults.node_offline.as_deref() != Some(node.name.as_str());
            }
        }
        self.inner
            .auth
            .set_ticket_lifetime(faults.ticket_lifetime_secs);
        let drop_consoles = faults.ws_drop_after_secs == Some(0);
        *lock(&self.inner.faults) = Arc::new(faults);
        if drop_consoles {
            self.drop_connections();
        }
        Ok(())
    }

    /// Back to the state right after start: a fresh cluster from the seed, no tasks but the
    /// generated history, the faults of the start configuration. Tickets and the token stay
    /// valid.
    pub fn reset(&self) {
        let mut world = self.world();
        let generation = world.generation + 1;
        *world = fresh_world(
            self.inner.nodes,
            self.inner.vms,
            self.inner.containers,
            self.inner.seed,
            generation,
        );
        set_fingerprint(&mut world, self.inner.fingerprint.as_deref());
        drop(world);
        if self.set_faults(self.inner.initial_faults.clone()).is_err() {
            let _ = self.set_faults(Faults::default());
        }
    }

    /// QEMU mode's processes, if on.
    pub(crate) fn qemu(&self) -> Option<&Arc<qemu::QemuVms>> {
        self.inner.qemu.get()
    }

    /// Turns QEMU mode on (once).
    pub(crate) fn set_qemu(&self, qemu: Arc<qemu::QemuVms>) {
        let _ = self.inner.qemu.set(qemu);
    }

    /// QEMU mode: (VM ID, PID) of every QEMU process now running; empty otherwise.
    pub fn qemu_pids(&self) -> Vec<(u32, u32)> {
        self.qemu().map(|q| q.pids()).unwrap_or_default()
    }

    /// A network drop between the cluster and its clients: every open console session ends.
    pub(crate) fn drop_connections(&self) {
        self.inner.drops.send_modify(|n| *n += 1);
    }

    /// Changes on every [`SimState::drop_connections`].
    pub(crate) fn connection_drops(&self) -> watch::Receiver<u64> {
        self.inner.drops.subscribe()
    }

    /// The `T` another layer keeps with this world, made on first use.
    pub(crate) fn attachment<T: Any + Send + Sync + Default>(&self) -> Arc<T> {
        let mut all = lock(&self.inner.attachments);
        let any = all
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        drop(all);
        // The entry of `T`'s type ID holds a `T`.
        any.downcast().unwrap_or_else(|_| Arc::new(T::default()))
    }

    /// Users, tokens and privileges.
    pub(crate) fn auth(&self) -> &AuthDb {
        &self.inner.auth
    }

    /// The model and tasks; never hold the guard across an `.await`.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.inner.world)
    }

    /// How long a 401 answer is held back.
    pub(crate) fn auth_failure_delay(&self) -> Duration {
        self.inner.auth_failure_delay
    }

    /// A realistic duration, divided by the configured task speed (and the one a test set).
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        let factor = self.faults_ref().task_speed.unwrap_or(1.0);
        d.div_f64(self.inner.task_speed * factor)
    }

    /// Refused unless `authid` has all `privs` on `path`.
    pub(crate) fn check(&self, authid: &str, path: &str, privs: &[&str]) -> Result<(), Error> {
        self.inner.auth.check(authid, path, privs)
    }

    /// True if `authid` has `privilege` on `path`.
    pub(crate) fn can(&self, authid: &str, path: &str, privilege: &str) -> bool {
        self.inner.auth.has(authid, path, privilege)
    }

    /// Whether `node` can be reached from the node answering (pveproxy's `proxyto`): an
    /// unknown node does not resolve, an offline one has no route.
    pub(crate) fn reach(&self, node: &str) -> Result<(), Error> {
        match self.world().model.node(node) {
            Some(n) if n.online => Ok(()),
            Some(_) => Err(Error::NodeUnreachable),
            None => Err(Error::UnknownNode(node.to_owned())),
        }
    }

    /// Takes VM `vmid`'s config lock, waiting up to 10 s (scaled) like `lock_config`.
    pub(crate) async fn lock_vm(&self, vmid: u32) -> Result<OwnedMutexGuard<()>, LockTimeout> {
        let m = lock(&self.inner.vm_locks).entry(vmid).or_default().clone();
        tokio::time::timeout(self.scaled(LOCK_TIMEOUT), m.lock_owned())
            .await
            .map_err(|_| LockTimeout(vmid))
    }
}

fn set_fingerprint(world: &mut World, fingerprint: Option<&str>) {
    if let Some(fp) = fingerprint {
        for node in &mut world.model.nodes {
            node.fingerprint = fp.to_owned();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A freshly generated cluster, with a finished `qmstart` task for each running VM.
fn fresh_world(nodes: usize, vms: usize, containers: usize, seed: u64, generation: u64) -> World {
    let now = now_secs();
    let mut model = generate(nodes, vms, seed, now);
    add_containers(&mut model, containers, now);
    ha::add_services(&mut model);
    let mut tasks = TaskStore::default();
    let mut history: Vec<_> = model
        .vms
        .values()
        .map(|vm| (vm, "qmstart"))
        .chain(model.cts.values().map(|ct| (ct, "vzstart")))
        .filter(|(vm, _)| vm.power == Power::Running)
        .collect();
    history.sort_by_key(|(vm, _)| vm.started_at);
    for (vm, kind) in history {
        let Some(node) = model.node(&vm.node) else {
            continue;
        };
        let start = vm.started_at - 2;
        let pid = 1000 + vm.pid % 60_000;
        tasks.insert(Task {
            upid: String::new(),
            node: vm.node.clone(),
            pid,
            pstart: u64::try_from(start - node.boot_time).unwrap_or(0) * 100,
            starttime: start,
            kind: kind.to_owned(),
            id: vm.vmid.to_string(),
            user: "root@pam".to_owned(),
            log: Vec::new(),
            end: Some((vm.started_at, "OK".to_owned())),
        });
    }
    let backups = initial_archives(&model, now);
    let jobs = initial_jobs(&model.vms.keys().copied().collect::<Vec<_>>());
    World {
        model,
        tasks,
        log: ClusterLog::default(),
        backups,
        jobs,
        generation,
    }
}
