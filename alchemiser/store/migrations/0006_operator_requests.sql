-- 0006 operator requests (the outbox): every state-changing operator request is written here before it is
-- acknowledged, and closed with its outcome. After a crash, requests still 'pending' or 'running' are carried out
-- or expired with a reason at start. (0005 is the dashboard's account snapshots.)

CREATE TABLE operator_requests (
    request_id    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('rebalance', 'kill', 'resume', 'plan_approve', 'plan_reject',
                                                'reconcile_accept')),
    payload       TEXT NOT NULL CHECK (json_valid(payload)),
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    run_id        TEXT,                            -- the daemon run that acknowledged it
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'expired')),
    finished_at   TEXT,
    outcome       TEXT                             -- what happened, or why it expired
);
CREATE INDEX operator_requests_open ON operator_requests (status) WHERE status IN ('pending', 'running');
CREATE INDEX operator_requests_requested_at ON operator_requests (requested_at);

-- One row the daemon rewrites while the disk is failing, to notice when writes succeed again.
CREATE TABLE store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);
INSERT INTO store_probe (id, at) VALUES (1, '1970-01-01T00:00:00+00:00');
