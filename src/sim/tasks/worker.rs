//! Runs a task in the background like PVE's `fork_worker`: the caller gets the UPID at once,
//! the job runs on tokio and its outcome ends the task (unless the simulator was reset meanwhile).

use std::future::Future;
use std::sync::MutexGuard;

use super::Outcome;
use crate::sim::reply::ApiError;
use crate::sim::state::{SimState, World};
use crate::sim::util::now_secs;

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
) -> Result<String, ApiError>
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
            .ok_or_else(|| ApiError::fail(format!("no such node '{node}'")))?;
        let upid = world.tasks.create(&node, kind, id, user, now_secs());
        TaskCtx {
            st: st.clone(),
            upid,
            generation: world.generation,
        }
    };
    let upid = ctx.upid.clone();
    tokio::spawn(async move {
        let outcome = work(ctx.clone()).await;
        if let Some(mut world) = ctx.world() {
            world.tasks.finish(&ctx.upid, now_secs(), outcome);
        }
    });
    Ok(upid)
}
