-- 0002 bar cache: adjusted (adjustment=all) daily bars from the market-data API, per symbol and feed, so that the
-- next run fetches only the days it does not have. Prices are float64 like the indicators that read them.
-- bar_cache_coverage records the contiguous, complete range already fetched for a symbol (days with no bar inside
-- it are holidays or halts, not gaps to fetch again).

CREATE TABLE bar_cache (
    symbol       TEXT NOT NULL,
    feed         TEXT NOT NULL,
    session_date TEXT NOT NULL,
    t            TEXT NOT NULL,
    o            REAL NOT NULL,
    h            REAL NOT NULL,
    l            REAL NOT NULL,
    c            REAL NOT NULL,
    v            REAL NOT NULL,
    n            INTEGER,
    vw           REAL,
    PRIMARY KEY (symbol, feed, session_date)
) WITHOUT ROWID;

CREATE TABLE bar_cache_coverage (
    symbol     TEXT NOT NULL,
    feed       TEXT NOT NULL,
    first_date TEXT NOT NULL,
    last_date  TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (symbol, feed),
    CHECK (first_date <= last_date)
) WITHOUT ROWID;
