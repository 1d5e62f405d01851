"""Alpaca's non-trade account activities and corporate-action announcements, read through the REST client.

* ``GET /v2/account/activities?activity_types=SSP,DIV,…`` (paged by ``page_token`` = the last row's id, ascending);
  ``after`` is exclusive and takes a date, so asking for rows dated ``D`` or later sends ``after=D−1``.
* ``GET /v2/corporate_actions/announcements?ca_types=…&since=…&until=…&symbol=…`` (``since``..``until`` ≤ 90 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from alchemiser.adapters.alpaca import constants as c
from alchemiser.adapters.alpaca.parsing import parse_announcements, parse_non_trade_activities
from alchemiser.adapters.alpaca.rest import AlpacaRestClient
from alchemiser.broker.activities import NON_TRADE_TYPES, Announcement, NonTradeActivity

MAX_PAGES = 1000
ANNOUNCEMENT_TYPES = "dividend,merger,spinoff,split"


async def fetch_non_trade_activities(client: AlpacaRestClient, *, after: date | None = None) -> list[NonTradeActivity]:
    found: dict[str, NonTradeActivity] = {}
    token: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, str | int | None] = {
            "activity_types": ",".join(NON_TRADE_TYPES),
            "direction": "asc",
            "page_size": c.ACTIVITIES_PAGE_SIZE,
            "after": (after - timedelta(days=1)).isoformat() if after is not None else None,
            "page_token": token,
        }
        data = await client.get(c.PATH_ACTIVITIES, endpoint=c.PATH_ACTIVITIES, params=params)
        page = parse_non_trade_activities(data)
        fresh = [row for row in page if row.id not in found]
        for row in fresh:
            found[row.id] = row
        if len(data) < c.ACTIVITIES_PAGE_SIZE or not fresh:
            break
        token = page[-1].id
    return sorted(found.values(), key=lambda row: (row.date, row.id))


async def fetch_announcements(
    client: AlpacaRestClient, symbols: Sequence[str], since: date, until: date
) -> list[Announcement]:
    if since > until:
        raise ValueError(f"announcements: since {since} is after until {until}")
    if (until - since).days > c.ANNOUNCEMENTS_MAX_DAYS:
        raise ValueError(f"announcements: at most {c.ANNOUNCEMENTS_MAX_DAYS} days between since and until")
    found: dict[str, Announcement] = {}
    for symbol in sorted(set(symbols)):
        params = {"ca_types": ANNOUNCEMENT_TYPES, "since": since.isoformat(), "until": until.isoformat()}
        params["symbol"] = symbol
        data = await client.get(c.PATH_ANNOUNCEMENTS, endpoint=c.PATH_ANNOUNCEMENTS, params=params)
        for row in parse_announcements(data):
            found[row.id] = row
    return sorted(found.values(), key=lambda a: (a.effective_date or since, a.id))
