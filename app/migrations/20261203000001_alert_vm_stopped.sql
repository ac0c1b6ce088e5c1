-- The rule "VM stopped unexpectedly" (kind vm_stopped): a VM that ran at the previous poll is
-- stopped now and no PVE task explains it. SQLite cannot change a CHECK constraint, so both alert
-- tables are rebuilt, keeping every row and id.
--
-- Order matters with foreign keys on (the pool enables them and sqlx runs this in a
-- transaction, where `PRAGMA foreign_keys` cannot change): dropping `alert_rules` while `alerts`
-- still references it would delete every alert through ON DELETE CASCADE. So the new `alerts`
-- references the new rules table, the old `alerts` goes first, and renaming the new rules table
-- rewrites the reference (SQLite ≥ 3.26 renames references to a renamed table).

CREATE TABLE alert_rules_new (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL UNIQUE CHECK (kind IN ('vm_cpu', 'vm_memory', 'storage_usage', 'node_offline', 'vm_stopped')),
    name       TEXT    NOT NULL,
    threshold  REAL    NOT NULL,  -- fires above this (percent; vm_stopped and node_offline: 100 when true, 0 when not)
    clear      REAL    NOT NULL,  -- clears below this (percent), so it does not flap
    for_secs   INTEGER NOT NULL,  -- the condition must hold this long
    level      TEXT    NOT NULL CHECK (level IN ('warning', 'critical')),
    enabled    INTEGER NOT NULL DEFAULT 1
);

INSERT INTO alert_rules_new (id, kind, name, threshold, clear, for_secs, level, enabled)
    SELECT id, kind, name, threshold, clear, for_secs, level, enabled FROM alert_rules;

INSERT INTO alert_rules_new (kind, name, threshold, clear, for_secs, level) VALUES
    ('vm_stopped', 'VM stopped unexpectedly', 50, 50, 0, 'critical');

CREATE TABLE alerts_new (
    id         INTEGER PRIMARY KEY,
    rule_id    INTEGER NOT NULL REFERENCES alert_rules_new (id) ON DELETE CASCADE,
    cluster    TEXT    NOT NULL,
    target     TEXT    NOT NULL,  -- qemu/100, node/pve1, storage/pve1/local
    level      TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER
);

INSERT INTO alerts_new (id, rule_id, cluster, target, level, message, started_at, ended_at)
    SELECT id, rule_id, cluster, target, level, message, started_at, ended_at FROM alerts;

DROP TABLE alerts;
DROP TABLE alert_rules;
ALTER TABLE alert_rules_new RENAME TO alert_rules;
ALTER TABLE alerts_new RENAME TO alerts;

CREATE INDEX alerts_active ON alerts (ended_at);
