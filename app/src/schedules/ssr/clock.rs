//! The scheduler's clock: the system's, or one a test sets (to run slots, restarts and clock
//! jumps without waiting for them).

use std::sync::atomic::{AtomicI64, Ordering};

/// Where the scheduler reads the time (Unix seconds).
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        now_system()
    }
}

/// The system's time, for code that runs outside the scheduler (previews, the list).
pub fn now_system() -> i64 {
    crate::state::now()
}

/// A clock that only moves when told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `at`.
    pub fn at(at: i64) -> Self {
        Self(AtomicI64::new(at))
    }

    /// Sets the time (forwards or backwards: a clock jump).
    pub fn set(&self, at: i64) {
        self.0.store(at, Ordering::SeqCst);
    }

    /// Moves the time by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
