-- Execution: rebalance runs, order intents (written before sending), order events, fills, strategy books and
-- the drawdown guard's high-water mark. The audit journal and the kill switch live in 0001_foundation.
-- Money and quantities are TEXT decimals; times are ISO-8601 UTC.

CREATE TABLE IF NOT EXISTS execution_runs (
    run_id        TEXT PRIMARY KEY,
    status        TEXT NOT NULL,
    mode          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    finished_at   TEXT,
    plan_json     TEXT NOT NULL,
    verdict_json  TEXT,
    result_json   TEXT,
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS execution_runs_status ON execution_runs (status);

CREATE TABLE IF NOT EXISTS execution_orders (
    client_order_id   TEXT PRIMARY KEY,
    run_id            TEXT NOT NULL REFERENCES execution_runs (run_id),
    symbol            TEXT NOT NULL,
    side              TEXT NOT NULL,
    step              INTEGER NOT NULL,
    order_type        TEXT NOT NULL,
    qty               TEXT NOT NULL,
    limit_price       TEXT,
    reference_price   TEXT,
    state             TEXT NOT NULL,
    broker_order_id   TEXT,
    broker_status     TEXT,
    filled_qty        TEXT NOT NULL DEFAULT '0',
    filled_avg_price  TEXT,
    reject_reason     TEXT,
    created_at        TEXT NOT NULL,
    submitted_at      TEXT,
    updated_at        TEXT NOT NULL,
    UNIQUE (run_id, symbol, side, step)
);
CREATE INDEX IF NOT EXISTS execution_orders_run ON execution_orders (run_id);
CREATE INDEX IF NOT EXISTS execution_orders_created ON execution_orders (created_at);

CREATE TABLE IF NOT EXISTS execution_order_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id  TEXT NOT NULL,
    broker_order_id  TEXT NOT NULL,
    event            TEXT NOT NULL,
    marker           TEXT NOT NULL,
    status           TEXT NOT NULL,
    filled_qty       TEXT NOT NULL,
    synthetic        INTEGER NOT NULL DEFAULT 0,
    received_at      TEXT NOT NULL,
    payload          TEXT NOT NULL,
    UNIQUE (broker_order_id, event, marker)
);
CREATE INDEX IF NOT EXISTS execution_order_events_coid ON execution_order_events (client_order_id);

CREATE TABLE IF NOT EXISTS execution_fills (
    fill_key         TEXT PRIMARY KEY,
    client_order_id  TEXT NOT NULL,
    broker_order_id  TEXT NOT NULL,
    run_id           TEXT,
    symbol           TEXT NOT NULL,
    side             TEXT NOT NULL,
    qty              TEXT NOT NULL,
    price            TEXT NOT NULL,
    cum_qty          TEXT NOT NULL,
    filled_at        TEXT,
    source           TEXT NOT NULL,
    recorded_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS execution_fills_run ON execution_fills (run_id);
CREATE INDEX IF NOT EXISTS execution_fills_recorded ON execution_fills (recorded_at);

CREATE TABLE IF NOT EXISTS strategy_books (
    strategy      TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    qty           TEXT NOT NULL,
    cost          TEXT NOT NULL,
    realized_pnl  TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (strategy, symbol)
);

CREATE TABLE IF NOT EXISTS strategy_book_pending (
    symbol    TEXT NOT NULL,
    strategy  TEXT NOT NULL,
    delta     TEXT NOT NULL,
    PRIMARY KEY (symbol, strategy)
);

CREATE TABLE IF NOT EXISTS execution_high_water_mark (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    equity      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
