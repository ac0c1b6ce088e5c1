//! Who may still watch, for the running live streams. Each stream re-checks its session or
//! wall link every [`RECHECK`](super::sse::RECHECK); at 10,000 streams one database lookup
//! each was most of the server's work. Instead the first stream due for a check reads every
//! current session and wall link in two queries, and the streams due in the next
//! [`BOARD_MAX_AGE`] look themselves up in that answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{CurrentUser, Role};
use app::scope::Scope;
use app::ssr::{sessions, wall};
use sqlx::SqlitePool;

/// How old an answer may be when a stream looks itself up in it: a revocation is seen within
/// `RECHECK` plus this.
pub const BOARD_MAX_AGE: Duration = Duration::from_secs(2);

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

/// The shared answer, read again when it is older than [`BOARD_MAX_AGE`].
#[derive(Default)]
pub struct Credentials {
    board: Mutex<Option<Arc<Board>>>,
    /// Held while the database is read, so that streams due at once share one reading.
    reading: tokio::sync::Mutex<()>,
}

impl Credentials {
    /// The scope `credential` grants now (as of at most [`BOARD_MAX_AGE`] ago), `None` when it
    /// no longer holds. A database that cannot answer ends no stream.
    pub async fn scope(&self, db: &SqlitePool, credential: &Credential) -> Option<Option<Scope>> {
        let board = self.board(db).await?;
        Some(board.scope(credential))
    }

    async fn board(&self, db: &SqlitePool) -> Option<Arc<Board>> {
        if let Some(board) = self.fresh() {
            return Some(board);
        }
        let _reading = self.reading.lock().await;
        if let Some(board) = self.fresh() {
            return Some(board);
        }
        let read_at = Instant::now();
        let (sessions, walls) = match (
            sessions::all_current(db).await,
            wall::valid_hashes(db).await,
        ) {
            (Ok(sessions), Ok(walls)) => (sessions, walls),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "live streams: cannot re-check sessions");
                return None;
            }
        };
        let board = Arc::new(Board {
            read_at,
            sessions,
            walls,
        });
        *self.board.lock().expect("credential board") = Some(board.clone());
        Some(board)
    }

    fn fresh(&self) -> Option<Arc<Board>> {
        self.board
            .lock()
            .expect("credential board")
            .as_ref()
            .filter(|b| b.read_at.elapsed() < BOARD_MAX_AGE)
            .cloned()
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
        let first = credentials.fresh().unwrap();
        let tv = Credential::wall(&wall_token);
        assert_eq!(
            credentials.scope(&db, &tv).await,
            Some(Some(Scope::everything()))
        );
        assert!(
            Arc::ptr_eq(&first, &credentials.fresh().unwrap()),
            "one reading"
        );
        let forged = Credential::session("forged");
        assert_eq!(credentials.scope(&db, &forged).await, Some(None));

        sessions::delete(&db, &token).await.unwrap();
        *credentials.board.lock().unwrap() = None;
        assert_eq!(credentials.scope(&db, &session).await, Some(None));
    }
}
