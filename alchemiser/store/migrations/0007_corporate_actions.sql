-- Corporate actions: the broker's non-trade activities alchemiser has taken into account (each once), the daily
-- record of what each strategy book held (to credit a dividend to the books that held the shares on its record
-- date), and the corporate-action alerts already sent (each once).

CREATE TABLE IF NOT EXISTS corporate_activities (
    activity_id    TEXT PRIMARY KEY,
    activity_type  TEXT NOT NULL,
    symbol         TEXT,
    activity_date  TEXT NOT NULL,
    body           TEXT NOT NULL,
    outcome        TEXT NOT NULL,   -- applied (books adjusted) | baseline (already in an accepted/adopted snapshot)
    recorded_at    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS strategy_book_days (
    day       TEXT NOT NULL,
    strategy  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    qty       TEXT NOT NULL,
    PRIMARY KEY (day, strategy, symbol)
);

CREATE TABLE IF NOT EXISTS corporate_alerts (
    alert_key  TEXT PRIMARY KEY,
    message    TEXT NOT NULL,
    sent_at    TEXT NOT NULL
);
