-- 0005 account history: snapshots of the broker account as the daemon observed it (after every decision, at each
-- session close, at start). Never backfilled: a day the daemon did not see has no row.
-- Money and quantities are TEXT decimals; times are ISO-8601 UTC; session is the New York date.

CREATE TABLE account_snapshots (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at         TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('after_decision', 'session_close', 'start')),
    session          TEXT,
    decision_id      TEXT,
    run_id           TEXT,
    equity           TEXT NOT NULL,
    cash             TEXT NOT NULL,
    buying_power     TEXT NOT NULL,
    positions_value  TEXT NOT NULL,
    positions        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(positions))  -- symbol → {qty, price, value}
);
CREATE INDEX account_snapshots_taken_at ON account_snapshots (taken_at);
-- One close snapshot per session, however often the daemon restarts around the close.
CREATE UNIQUE INDEX account_snapshots_session_close ON account_snapshots (session) WHERE kind = 'session_close';
