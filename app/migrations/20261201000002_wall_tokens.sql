-- Links for the wall display (/wall?token=…): read-only, revocable, no login.
-- Only a SHA-256 of each token is stored.
CREATE TABLE wall_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    label      TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
