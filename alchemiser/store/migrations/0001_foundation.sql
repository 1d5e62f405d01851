-- 0001 foundation: daemon runs, the append-only audit journal, the latched kill switch.
-- Times are ISO-8601 UTC text; JSON payloads are text.

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    mode        TEXT NOT NULL CHECK (mode IN ('sim', 'paper', 'live')),
    version     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    hostname    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'crashed')),
    exit_reason TEXT
);
CREATE INDEX runs_started_at ON runs (started_at);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    run_id      TEXT,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    decision_id TEXT,
    order_id    TEXT,
    data        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data))
);
CREATE INDEX audit_events_kind_at ON audit_events (kind, at);
CREATE INDEX audit_events_decision ON audit_events (decision_id) WHERE decision_id IS NOT NULL;
CREATE INDEX audit_events_order ON audit_events (order_id) WHERE order_id IS NOT NULL;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;

CREATE TABLE kill_switch (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    engaged    INTEGER NOT NULL CHECK (engaged IN (0, 1)),
    action     TEXT CHECK (action IS NULL OR action IN ('freeze', 'cancel', 'flatten')),
    reason     TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
);
INSERT INTO kill_switch (id, engaged, action, reason, changed_at, changed_by)
VALUES (1, 0, NULL, NULL, '1970-01-01T00:00:00+00:00', 'migration');

CREATE TRIGGER kill_switch_no_delete BEFORE DELETE ON kill_switch
BEGIN
    SELECT RAISE(ABORT, 'kill_switch row cannot be deleted');
END;
