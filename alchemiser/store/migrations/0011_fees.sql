-- 0011 fees: what the broker charged, one row per fee activity (Alpaca ``FEE`` rows: the regulatory TAF/REG fees
-- on sells and any other fee), recorded when reconciliation takes the activity into account (store/fees.py).
-- ``order_id`` is the broker's order id when the activity names the order it charges (the parity monitor books the
-- fee on that order); without one the fee belongs to its date. ``amount`` is what was charged (> 0; a refund < 0).

CREATE TABLE IF NOT EXISTS fees (
    activity_id   TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,   -- TAF | REG | FEE | CFEE
    fee_date      TEXT NOT NULL,   -- the activity's date (New York)
    amount        TEXT NOT NULL,
    symbol        TEXT,
    order_id      TEXT,
    description   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS fees_by_date ON fees (fee_date);
