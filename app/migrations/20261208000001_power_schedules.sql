-- Cecyber's own scheduled power actions and every slot they ran, missed or failed.
-- Portable to PostgreSQL: plain INTEGER/TEXT columns, times in Unix seconds.
CREATE TABLE power_schedules (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    cluster       TEXT    NOT NULL,
    action        TEXT    NOT NULL CHECK (action IN ('start', 'shutdown', 'stop', 'reboot', 'suspend', 'resume')),
    target_kind   TEXT    NOT NULL CHECK (target_kind IN ('vms', 'tag', 'pool')),
    target        TEXT    NOT NULL,  -- VM ids joined by ',', a PVE tag, or a pool id
    calendar      TEXT    NOT NULL,  -- a PVE calendar event ('mon..fri 07:30')
    timezone      TEXT    NOT NULL,  -- IANA name the calendar is read in
    grace_secs    INTEGER NOT NULL,  -- a slot missed by up to this long still runs, late
    enabled       INTEGER NOT NULL DEFAULT 1,
    -- The user who last saved it: runs act with their role and scope. A deleted user's
    -- schedules keep no owner (and their runs fail) rather than pass to a new user of that name.
    owner_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- Every slot at or before this instant has been dealt with (run, or recorded as missed):
    -- the scheduler's cursor, so that a restart or a clock set back never runs a slot again.
    checked_until INTEGER NOT NULL
);

CREATE TABLE power_schedule_runs (
    id           INTEGER PRIMARY KEY,
    schedule_id  INTEGER NOT NULL REFERENCES power_schedules (id) ON DELETE CASCADE,
    slot         INTEGER,            -- the slot's instant; NULL for "run now"
    status       TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed', 'missed')),
    requested_by TEXT    NOT NULL,   -- 'schedule', or the user who asked to run it now
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    heartbeat_at INTEGER NOT NULL,   -- refreshed while a runner works on it; a stale one is taken over
    runner       TEXT    NOT NULL,   -- the runner working on it: a runner whose run was taken over writes nothing more
    message      TEXT    NOT NULL DEFAULT '',
    -- The claim: one run per slot, whichever process or restart gets there first.
    UNIQUE (schedule_id, slot)
);

CREATE INDEX power_schedule_runs_by_status ON power_schedule_runs (status);

-- Each guest of a run and what became of it.
CREATE TABLE power_schedule_run_guests (
    run_id INTEGER NOT NULL REFERENCES power_schedule_runs (id) ON DELETE CASCADE,
    vmid   INTEGER NOT NULL,
    node   TEXT    NOT NULL,
    kind   TEXT    NOT NULL CHECK (kind IN ('qemu', 'lxc')),
    name   TEXT    NOT NULL DEFAULT '',
    -- pending → sending (asking PVE) → running (task started) → ok | failed; or skipped;
    -- unknown: the runner stopped while asking PVE, so whether PVE started a task is not known.
    state  TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'running', 'ok', 'failed', 'skipped', 'unknown')),
    upid   TEXT,
    result TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, vmid)
);
