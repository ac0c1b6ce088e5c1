-- Alert rules (admins edit them) and the history of alerts that fired.
CREATE TABLE alert_rules (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL UNIQUE CHECK (kind IN ('vm_cpu', 'vm_memory', 'storage_usage', 'node_offline')),
    name       TEXT    NOT NULL,
    threshold  REAL    NOT NULL,  -- fires above this (percent)
    clear      REAL    NOT NULL,  -- clears below this (percent), so it does not flap
    for_secs   INTEGER NOT NULL,  -- the condition must hold this long
    level      TEXT    NOT NULL CHECK (level IN ('warning', 'critical')),
    enabled    INTEGER NOT NULL DEFAULT 1
);

INSERT INTO alert_rules (kind, name, threshold, clear, for_secs, level) VALUES
    ('vm_cpu',        'VM CPU high',        90, 80, 300, 'warning'),
    ('vm_memory',     'VM memory high',     95, 90, 60,  'warning'),
    ('storage_usage', 'Storage almost full', 90, 85, 60,  'critical'),
    ('node_offline',  'Node offline',       50, 50, 30,  'critical');

CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    rule_id    INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    cluster    TEXT    NOT NULL,
    target     TEXT    NOT NULL,  -- qemu/100, node/pve1, storage/pve1/local
    level      TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER
);

CREATE INDEX alerts_active ON alerts (ended_at);
