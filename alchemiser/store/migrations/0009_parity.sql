-- 0009 parity: the live-vs-backtest parity monitor (alchemiser/parity/, store/parity.py).
-- The arrival quote of every order (the quote the ladder priced it from), the bars each decision saw (so a later
-- replay can name a revised bar), and one stored result per session: live and shadow equity, the gap, its
-- attribution, the replay and the shadow's state; and the per-order transaction cost analysis.
-- Money and quantities are TEXT decimals; times are ISO-8601 UTC; session is the New York date.

ALTER TABLE execution_orders ADD COLUMN arrival_bid TEXT;
ALTER TABLE execution_orders ADD COLUMN arrival_ask TEXT;

CREATE TABLE parity_decision_bars (
    decision_id  TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    bars         TEXT NOT NULL CHECK (json_valid(bars)),  -- [[session, close], ...] as the decision saw them
    PRIMARY KEY (decision_id, symbol)
) WITHOUT ROWID;

CREATE TABLE parity_sessions (
    session        TEXT PRIMARY KEY,
    decision_id    TEXT NOT NULL,
    computed_at    TEXT NOT NULL,
    live_equity    TEXT NOT NULL,
    shadow_equity  TEXT NOT NULL,
    gap            TEXT NOT NULL,          -- cumulative: live - shadow at the session's close
    session_gap    TEXT NOT NULL,          -- this session's change of the gap
    data_drift     INTEGER NOT NULL DEFAULT 0,
    parts          TEXT NOT NULL CHECK (json_valid(parts)),   -- cause -> $ (sums to session_gap)
    replay         TEXT NOT NULL CHECK (json_valid(replay)),  -- per strategy: same?, flips, changed bars
    shadow         TEXT NOT NULL CHECK (json_valid(shadow))   -- the shadow's state after the close
);

CREATE TABLE parity_orders (
    decision_id  TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    side         TEXT NOT NULL,
    session      TEXT NOT NULL,
    data         TEXT NOT NULL CHECK (json_valid(data)),      -- one TCA row
    PRIMARY KEY (decision_id, symbol, side)
) WITHOUT ROWID;
CREATE INDEX parity_orders_session ON parity_orders (session);
