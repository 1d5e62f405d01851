"""Alpaca endpoints, limits and protocol constants (facts from docs/alpaca-protocol.md)."""

from __future__ import annotations

from typing import Final

# Base URLs (configurable everywhere: the simulated exchange serves all three on one loopback port).
TRADING_URL_PAPER: Final = "https://paper-api.alpaca.markets"
TRADING_URL_LIVE: Final = "https://api.alpaca.markets"
DATA_URL: Final = "https://data.alpaca.markets"
STREAM_URL_PAPER: Final = "wss://paper-api.alpaca.markets/stream"
STREAM_URL_LIVE: Final = "wss://api.alpaca.markets/stream"

# Auth headers.
HEADER_KEY_ID: Final = "APCA-API-KEY-ID"
HEADER_SECRET_KEY: Final = "APCA-API-SECRET-KEY"  # noqa: S105 - a header name, not a secret
USER_AGENT: Final = "alchemiser-alpaca-adapter/0.1"

# Rate-limit headers (trading spells them X-Ratelimit-*, data X-RateLimit-*; httpx headers are case-insensitive).
HEADER_RATELIMIT_LIMIT: Final = "X-Ratelimit-Limit"
HEADER_RATELIMIT_REMAINING: Final = "X-Ratelimit-Remaining"
HEADER_RATELIMIT_RESET: Final = "X-Ratelimit-Reset"
HEADER_RETRY_AFTER: Final = "Retry-After"

# Trading REST paths.
PATH_ACCOUNT: Final = "/v2/account"
PATH_POSITIONS: Final = "/v2/positions"
PATH_ASSET: Final = "/v2/assets/{symbol}"
PATH_ORDERS: Final = "/v2/orders"
PATH_ORDER: Final = "/v2/orders/{order_id}"
PATH_ORDER_BY_CLIENT_ID: Final = "/v2/orders:by_client_order_id"
PATH_CLOCK: Final = "/v2/clock"
PATH_CALENDAR: Final = "/v2/calendar"
PATH_FILL_ACTIVITIES: Final = "/v2/account/activities/FILL"
PATH_ACTIVITIES: Final = "/v2/account/activities"
PATH_ANNOUNCEMENTS: Final = "/v2/corporate_actions/announcements"

# Market data REST paths.
PATH_BARS: Final = "/v2/stocks/bars"
PATH_LATEST_QUOTES: Final = "/v2/stocks/quotes/latest"

# Limits.
DEFAULT_RATE_LIMIT_PER_MINUTE: Final = 200
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
ORDERS_MAX_LIMIT: Final = 500
ACTIVITIES_PAGE_SIZE: Final = 100
#: the announcements route accepts at most 90 days between ``since`` and ``until``
ANNOUNCEMENTS_MAX_DAYS: Final = 90
BARS_MAX_LIMIT: Final = 10_000
MAX_SYMBOLS_PER_DATA_REQUEST: Final = 100
CLIENT_ORDER_ID_MAX_LEN: Final = 48

# Error body codes and messages (match messages first: codes are not reliable across endpoints).
CODE_INSUFFICIENT_BUYING_POWER: Final = 40310000
CODE_DUPLICATE_CLIENT_ORDER_ID: Final = 40010001
MSG_DUPLICATE_CLIENT_ORDER_ID: Final = "client_order_id must be unique"

# trade_updates stream.
STREAM_TRADE_UPDATES: Final = "trade_updates"
STREAM_AUTHORIZATION: Final = "authorization"
STREAM_LISTENING: Final = "listening"
HANDSHAKE_REFUSED_STATUSES: Final = frozenset({406, 429})
