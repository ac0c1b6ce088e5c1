-- Secrets the server makes itself on first use (the HMAC key of embed tokens).
CREATE TABLE server_secrets (
    name       TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Console embed links minted by admins for partner portals. The token itself is not stored:
-- it is an HMAC-signed copy of this row's facts, checked against the row at every use.
CREATE TABLE embed_links (
    id         INTEGER PRIMARY KEY,
    cluster    TEXT    NOT NULL,
    node       TEXT    NOT NULL,
    vmid       INTEGER NOT NULL,
    origin     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    single_use INTEGER NOT NULL CHECK (single_use IN (0, 1)),
    view_only  INTEGER NOT NULL CHECK (view_only IN (0, 1)),
    used_at    INTEGER,
    revoked_at INTEGER
);

-- Every use of an embed link (page load or console opening), allowed or refused. Refusals of
-- tokens that name no real link (forged, garbled) have no link_id.
CREATE TABLE embed_link_uses (
    id          INTEGER PRIMARY KEY,
    link_id     INTEGER REFERENCES embed_links (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('page', 'console')),
    remote_addr TEXT,
    origin      TEXT,
    result      TEXT    NOT NULL
);

CREATE INDEX embed_link_uses_by_link ON embed_link_uses (link_id, at);

-- API tokens for scripts (e.g. a partner portal's backend minting embed links). Only a SHA-256
-- of each token is stored; a token acts with its user's current role.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    label        TEXT    NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
