//! Who may still watch, for the running live streams. Each stream re-checks its session or
//! wall link every [`RECHECK`](super::sse::RECHECK); at 10,000 streams one database lookup
//! each was most of the server's work. Instead every current session and wall link is read in
//! two queries, and streams look themselves up in that answer (the board). A board older than
//! [`BOARD_MAX_AGE`] is read again in the background while streams go on with it; only a
//! board older than [`BOARD_WAIT_AGE`] (a quiet server, where few streams ask) is read again
//! before answering. So a revocation is seen within `RECHECK` plus `BOARD_WAIT_AGE`, and on a
//! busy server no stream waits for the database.
//!
//! A board read before a stream was last confirmed cannot say it no longer holds (a session
//! made after the reading is simply not on it): such an answer counts as unknown.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::access::Scope;
use app::access::{CurrentUser, Role};
use app::{access::sessions, wall::ssr as wall};
use sqlx::SqlitePool;

/// A board older than this is read again in the background.
pub const BOARD_MAX_AGE: Duration = Duration::from_secs(2);
/// A board older than this is read again before it answers.
pub const BOARD_WAIT_AGE: Duration = Duration::from_secs(4);
/// After a failed reading, streams go on without an answer this long before the next try.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What a stream was opened with, by the stored hash of its token (the token itself is not
/// kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A login session.
    Session(String),
    /// A wall link.
    Wall(String),
}

impl Credential {
    /// The credential of a session token.
    pub fn session(token: &str) -> Self {
        Credential::Session(sessions::token_hash(token))
    }

    /// The credential of a wall token.
    pub fn wall(token: &str) -> Self {
        Credential::Wall(wall::token_hash(token))
    }
}

/// Every current session and wall link, as read at one moment.
#[derive(Clone)]
struct Board {
    read_at: Instant,
    sessions: HashMap<String, CurrentUser>,
    walls: HashSet<String>,
}

impl Board {
    /// The scope `credential` grants, `None` when it no longer holds.
    fn scope(&self, credential: &Credential) -> Option<Scope> {
        match credential {
            Credential::Wall(hash) => self.walls.contains(hash).then(Scope::everything),
            Credential::Session(hash) => self
                .sessions
                .get(hash)
                .filter(|u| u.role.allows(Role::Viewer))
                .map(|u| u.scope.clone()),
        }
    }
}

/// The shared board.
#[derive(Default)]
pub struct Credentials {
    board: Arc<Mutex<Option<Arc<Board>>>>,
    /// A background reading is under way (one at a time).
    reading: Arc<AtomicBool>,
    /// Held by a stream reading the board itself; streams asking meanwhile wait for its answer.
    waited: tokio::sync::Mutex<Option<Instant>>,
}

impl Credentials {
    /// The scope `credential` grants, `None` inside when it no longer holds; `None` when that
    /// cannot be told now (no usable board: the database did not answer, or a board older
    /// than `confirmed`, the stream's last positive check, does not list it).
    pub async fn scope(
        &self,
        db: &SqlitePool,
        credential: &Credential,
        confirmed: Instant,
    ) -> Option<Option<Scope>> {
        let board = match self.current() {
            Some(board) if board.read_at.elapsed() < BOARD_WAIT_AGE => board,
            _ => self.read_now(db).await?,
        };
        if board.read_at.elapsed() >= BOARD_MAX_AGE {
            self.read_in_background(db);
        }
        match board.scope(credential) {
            Some(scope) => Some(Some(scope)),
            None if board.read_at >= confirmed => Some(None),
            None => None,
        }
    }

    fn current(&self) -> Option<Arc<Board>> {
        self.board.lock().expect("credential board").clone()
    }

    /// A board read now, shared with the streams asking at the same time; `None` when the
    /// database does not answer (then not asked again for a moment).
    async fn read_now(&self, db: &SqlitePool) -> Option<Arc<Board>> {
        let asked = Instant::now();
        let mut failed_at = self.waited.lock().await;
        if let Some(board) = self.current().filter(|b| b.read_at >= asked) {
            return Some(board);
        }
        if failed_at.is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE) {
            return None;
        }
        let Some(board) = read(db).await else {
            *failed_at = Some(Instant::now());
            return None;
        };
        let board = Arc::new(board);
        *self.board.lock().expect("credential board") = Some(board.clone());
        Some(board)
    }

    /// Starts reading a new board unless a reading is under way.
    fn read_in_background(&self, db: &SqlitePool) {
        if self.reading.swap(true, Ordering::AcqRel) {
            return;
        }
        let (db, board, reading) = (db.clone(), self.board.clone(), self.reading.clone());
        tokio::spawn(async move {
            // Cleared however the task ends.
            let _done = ClearOnDrop(reading);
            if let Some(fresh) = read(&db).await {
                *board.lock().expect("credential board") = Some(Arc::new(fresh));
            }
        });
    }
}

/// Clears its flag when dropped.
struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Reads every current session and wall link.
async fn read(db: &SqlitePool) -> Option<Board> {
    let read_at = Instant::now();
    match (
        sessions::all_current(db).await,
        wall::valid_hashes(db).await,
    ) {
        (Ok(sessions), Ok(walls)) => Some(Board {
            read_at,
            sessions,
            walls,
        }),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "live streams: cannot re-check sessions");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_due_together_share_one_reading_and_see_revocations() {
        let db = app::state::db::temp().await;
        app::users::ssr::create(&db, "vic", "password-1", Role::Viewer)
            .await
            .unwrap();
        let vic = app::users::ssr::check_login(&db, "vic", "password-1")
            .await
            .unwrap()
            .unwrap();
        let token = sessions::create(&db, vic.id, Duration::from_secs(60))
            .await
            .unwrap();
        let (_, wall_token) = wall::create(&db, "TV", "admin").await.unwrap();
        let credentials = Credentials::default();
        let opened = Instant::now();
        let session = Credential::session(&token);
        let everything = Some(Some(Scope::everything()));
        assert_eq!(credentials.scope(&db, &session, opened).await, everything);
        let first = credentials.current().unwrap();
        let tv = Credential::wall(&wall_token);
        assert_eq!(credentials.scope(&db, &tv, opened).await, everything);
        assert!(
            Arc::ptr_eq(&first, &credentials.current().unwrap()),
            "one reading"
        );
        let forged = Credential::session("forged");
        assert_eq!(credentials.scope(&db, &forged, opened).await, Some(None));

        // Logged out: a board two seconds old still says yes, and has a new one read
        // meanwhile, which says no.
        sessions::delete(&db, &token).await.unwrap();
        let aged = |age| {
            let board = Board {
                read_at: Instant::now() - age,
                ..(*first).clone()
            };
            *credentials.board.lock().unwrap() = Some(Arc::new(board));
        };
        aged(BOARD_MAX_AGE);
        assert_eq!(credentials.scope(&db, &session, opened).await, everything);
        for _ in 0..100 {
            if credentials.scope(&db, &session, opened).await == Some(None) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(credentials.scope(&db, &session, opened).await, Some(None));
        // A board older than that is read again before it answers.
        aged(BOARD_WAIT_AGE);
        assert_eq!(credentials.scope(&db, &session, opened).await, Some(None));

        // A session made after the board was read is not on it: unknown, not revoked.
        let new_token = sessions::create(&db, vic.id, Duration::from_secs(60))
            .await
            .unwrap();
        let newer = Credential::session(&new_token);
        let confirmed = Instant::now();
        assert_eq!(credentials.scope(&db, &newer, confirmed).await, None);
    }
}
