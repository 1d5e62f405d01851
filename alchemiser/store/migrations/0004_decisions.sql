-- 0004 decisions: one row per decision cycle (scheduled, late, manual, or skipped), one row per strategy in it.
-- Times are ISO-8601 UTC text; decimals are text; JSON payloads are text.

CREATE TABLE decisions (
    decision_id   TEXT PRIMARY KEY,
    session       TEXT NOT NULL,                    -- New York date of the session decided for
    trigger       TEXT NOT NULL CHECK (trigger IN ('schedule', 'late', 'manual')),
    as_of_policy  TEXT NOT NULL,
    as_of         TEXT,                             -- last completed session whose bars were used
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running', 'executed', 'no_trade', 'failed', 'skipped', 'blocked')),
    reason        TEXT,
    run_id        TEXT,
    plan          TEXT CHECK (plan IS NULL OR json_valid(plan)),
    summary       TEXT CHECK (summary IS NULL OR json_valid(summary))
);
CREATE INDEX decisions_session ON decisions (session);
CREATE INDEX decisions_started_at ON decisions (started_at);

CREATE TABLE decision_strategies (
    decision_id     TEXT NOT NULL REFERENCES decisions (decision_id),
    strategy        TEXT NOT NULL,
    capital_weight  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('ok', 'failed_closed')),
    allocation      TEXT CHECK (allocation IS NULL OR json_valid(allocation)),  -- symbol → weight (text decimals)
    trace           TEXT CHECK (trace IS NULL OR json_valid(trace)),
    fail_reason     TEXT,
    PRIMARY KEY (decision_id, strategy)
);
CREATE INDEX decision_strategies_strategy ON decision_strategies (strategy, decision_id);

-- The broker positions last confirmed by a reconciliation (startup, after each decision, or an operator's accept):
-- the baseline that the next reconciliation explains with fills of our own orders.
CREATE TABLE position_snapshots (
    snapshot_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at     TEXT NOT NULL,
    source       TEXT NOT NULL,          -- startup | decision | operator | adopt
    positions    TEXT NOT NULL CHECK (json_valid(positions))   -- symbol → qty (text decimals)
);
