//! Runs a task in the background like PVE's `fork_worker`: the caller gets the UPID at once,
//! the job runs on tokio and its outcome ends the task (unless the simulator was reset meanwhile).

use std::future::Future;
use std::sync::MutexGuard;

use super::Outcome;
use crate::sim::util::now_secs;
use crate::sim::world::{Error, SimState, World};

/// What a running job knows about its task.
#[derive(Clone)]
pub(crate) struct TaskCtx {
    /// The simulator.
    pub st: SimState,
    /// This task's UPID.
    pub upid: String,
    generation: u64,
}

impl TaskCtx {
    /// The world, unless the simulator was reset since the task started (then the job must
    /// not change anything).
    pub(crate) fn world(&self) -> Option<MutexGuard<'_, World>> {
        let world = self.st.world();
        (world.generation == self.generation).then_some(world)
    }

    /// Appends a line to the task log.
    pub(crate) fn log(&self, line: impl Into<String>) {
        if let Some(mut world) = self.world() {
            world.tasks.log(&self.upid, line);
        }
    }

    /// Sets VM `vmid`'s config lock to `lock` until the returned guard is dropped (also when
    /// the task is stopped), like `PVE::QemuConfig->lock_config` plus `set_lock`.
    pub(crate) fn hold_lock(&self, vmid: u32, lock: &str) -> ConfigLock {
        if let Some(mut world) = self.world()
            && let Some(vm) = world.model.vms.get_mut(&vmid)
        {
            vm.lock = Some(lock.to_owned());
        }
        ConfigLock {
            ctx: self.clone(),
            vmid,
        }
    }
}

/// A VM config lock held by a task; dropping it removes the lock.
pub(crate) struct ConfigLock {
    ctx: TaskCtx,
    vmid: u32,
}

impl Drop for ConfigLock {
    fn drop(&mut self) {
        if let Some(mut world) = self.ctx.world()
            && let Some(vm) = world.model.vms.get_mut(&self.vmid)
        {
            vm.lock = None;
        }
    }
}

/// Starts task `kind` for object `id` on `node`, owned by `user` (an auth ID), running `work`.
/// Returns the UPID.
pub(crate) fn spawn<F, Fut>(
    st: &SimState,
    node: &str,
    kind: &str,
    id: &str,
    user: &str,
    work: F,
) -> Result<String, Error>
where
    F: FnOnce(TaskCtx) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let ctx = {
        let mut world = st.world();
        let node = world
            .model
            .node(node)
            .cloned()
            .ok_or_else(|| Error::Failed(format!("no such node '{node}'")))?;
        let now = now_secs();
        let upid = world.tasks.create(&node, kind, id, user, now);
        let msg = format!("starting task {upid}");
        world.log.add(
            now,
            6,
            "pvedaemon",
            1000 + node.maxcpu,
            &node.name,
            user,
            msg,
        );
        TaskCtx {
            st: st.clone(),
            upid,
            generation: world.generation,
        }
    };
    let upid = ctx.upid.clone();
    let st = st.clone();
    let handle = tokio::spawn(async move {
        let outcome = work(ctx.clone()).await;
        if let Some(mut world) = ctx.world() {
            let now = now_secs();
            world.tasks.finish(&ctx.upid, now, outcome);
            log_end(&mut world, &ctx.upid, now);
        }
    });
    let mut world = st.world();
    world.tasks.set_abort(&upid, handle.abort_handle());
    Ok(upid)
}

/// Like [`spawn`] for a task on VM `vmid`, whose job runs holding the VM's config lock
/// (`lock_config`): waiting for it too long ends the task with the lock's error.
pub(crate) fn spawn_locked<F, Fut>(
    st: &SimState,
    node: &str,
    kind: &str,
    vmid: u32,
    user: &str,
    work: F,
) -> Result<String, Error>
where
    F: FnOnce(TaskCtx) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    spawn(
        st,
        node,
        kind,
        &vmid.to_string(),
        user,
        move |ctx| async move {
            let _guard = match ctx.st.lock_vm(vmid).await {
                Ok(guard) => guard,
                Err(e) => return e.into(),
            };
            work(ctx).await
        },
    )
}

/// The cluster log's "end task" line for a finished task.
pub(crate) fn log_end(world: &mut World, upid: &str, now: i64) {
    let Some(task) = world.tasks.get(upid) else {
        return;
    };
    let Some((_, status)) = &task.end else {
        return;
    };
    let pri = if status == "OK" { 6 } else { 3 };
    let (node, user) = (task.node.clone(), task.user.clone());
    let msg = format!("end task {upid} {status}");
    world
        .log
        .add(now, pri, "pvedaemon", 1001, &node, &user, msg);
}
