//! Who may still watch, for the running live streams. Each stream re-checks its session or
//! wall link every [`RECHECK`](super::sse::RECHECK); at 10,000 streams one database lookup
//! each was most of the server's work. Instead every current session and wall link is read in
//! two queries, and streams look themselves up in that answer (the board). A board older than
//! [`BOARD_MAX_AGE`] is read again in the background while streams go on with it, so no
//! stream waits for the database, except for the very first board.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{CurrentUser, Role};
use app::scope::Scope;
use app::ssr::{sessions, wall};
use sqlx::SqlitePool;

/// A board older than this is read again: a revocation is seen within `RECHECK` plus this
/// plus the reading.
pub const BOARD_MAX_AGE: Duration = Duration::from_secs(2);
/// A board older than this (the database has not answered for a while) answers nothing.
const BOARD_USELESS_AGE: Duration = Duration::from_secs(30);

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
    /// A reading is under way (one at a time).
    reading: Arc<AtomicBool>,
    /// The first board: streams wait for it once.
    first: tokio::sync::Mutex<()>,
}

impl Credentials {
    /// The scope `credential` grants, as of the board, `None` when it no longer holds; `None`
    /// outside when there is no usable board (the database has not answered).
    pub async fn scope(&self, db: &SqlitePool, credential: &Credential) -> Option<Option<Scope>> {
        let board = match self.current() {
            Some(board) => board,
            None => self.first_board(db).await?,
        };
        let age = board.read_at.elapsed();
        if age >= BOARD_MAX_AGE {
            self.read_in_background(db);
        }
        (age < BOARD_USELESS_AGE).then(|| board.scope(credential))
    }

    fn current(&self) -> Option<Arc<Board>> {
        self.board.lock().expect("credential board").clone()
    }

    /// The first board, read once for all the streams asking at the same time.
    async fn first_board(&self, db: &SqlitePool) -> Option<Arc<Board>> {
        let _first = self.first.lock().await;
        if let Some(board) = self.current() {
            return Some(board);
        }
        let board = Arc::new(read(db).await?);
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
            if let Some(fresh) = read(&db).await {
                *board.lock().expect("credential board") = Some(Arc::new(fresh));
            }
            reading.store(false, Ordering::Release);
        });
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
        let db = app::ssr::db::temp().await;
        app::ssr::users::create(&db, "vic", "password-1", Role::Viewer)
            .await
            .unwrap();
        let vic = app::ssr::users::check_login(&db, "vic", "password-1")
            .await
            .unwrap()
            .unwrap();
        let token = sessions::create(&db, &vic, Duration::from_secs(60))
            .await
            .unwrap();
        let (_, wall_token) = wall::create(&db, "TV", "admin").await.unwrap();
        let credentials = Credentials::default();
        let session = Credential::session(&token);
        assert_eq!(
            credentials.scope(&db, &session).await,
            Some(Some(Scope::everything()))
        );
        let first = credentials.current().unwrap();
        let tv = Credential::wall(&wall_token);
        assert_eq!(
            credentials.scope(&db, &tv).await,
            Some(Some(Scope::everything()))
        );
        assert!(
            Arc::ptr_eq(&first, &credentials.current().unwrap()),
            "one reading"
        );
        let forged = Credential::session("forged");
        assert_eq!(credentials.scope(&db, &forged).await, Some(None));

        // Logged out: an old board still says yes, and has a new one read meanwhile.
        sessions::delete(&db, &token).await.unwrap();
        let old = Board {
            read_at: Instant::now() - BOARD_MAX_AGE,
            ..(*first).clone()
        };
        *credentials.board.lock().unwrap() = Some(Arc::new(old));
        assert_eq!(
            credentials.scope(&db, &session).await,
            Some(Some(Scope::everything()))
        );
        for _ in 0..100 {
            if credentials.scope(&db, &session).await == Some(None) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(credentials.scope(&db, &session).await, Some(None));
        // A board the database has not renewed for long answers nothing.
        let useless = Board {
            read_at: Instant::now() - BOARD_USELESS_AGE,
            ..(*first).clone()
        };
        *credentials.board.lock().unwrap() = Some(Arc::new(useless));
        credentials.reading.store(true, Ordering::Release);
        assert_eq!(credentials.scope(&db, &tv).await, None);
    }
}
