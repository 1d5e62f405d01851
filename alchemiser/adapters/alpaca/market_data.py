"""Market data over REST: adjusted daily bars for many symbols at once, and latest quotes.

Only the symbols asked for are requested and returned. Daily bars are fetched in multi-symbol requests sized so one
page usually holds a whole chunk, the chunks run concurrently (bounded), and each chunk follows ``next_page_token``
to the end. Every call goes through the data API's ``AlpacaRestClient`` (budget, timeouts, retries, breaker).
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal

from alchemiser.adapters.alpaca.constants import (
    BARS_MAX_LIMIT,
    MAX_SYMBOLS_PER_DATA_REQUEST,
    PATH_BARS,
    PATH_LATEST_QUOTES,
)
from alchemiser.adapters.alpaca.errors import MalformedResponseError
from alchemiser.adapters.alpaca.parsing import parse_bars_page, parse_latest_quotes
from alchemiser.adapters.alpaca.rest import AlpacaRestClient
from alchemiser.broker.models import NEW_YORK, Bar, Quote
from alchemiser.clock import Clock
from alchemiser.errors import DataError

DataFeed = Literal["iex", "sip", "delayed_sip", "otc", "boats"]
_TRADING_DAYS_PER_YEAR = 252
_MAX_PAGES = 100_000


def normalise_symbols(symbols: Sequence[str]) -> list[str]:
    """Strip, upper-case and de-duplicate (order kept); refuse empty or malformed symbols by name."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in symbols:
        symbol = raw.strip().upper()
        if not symbol or any(ch in symbol for ch in ", /?&#"):
            raise ValueError(f"invalid symbol {raw!r}")
        if symbol not in seen:
            seen.add(symbol)
            out.append(symbol)
    return out


def symbols_per_request(start: date, end: date, limit: int = BARS_MAX_LIMIT) -> int:
    """How many symbols' daily bars fit one page for this date range (estimated trading days, with margin)."""
    days = (end - start).days + 1
    trading_days = days * _TRADING_DAYS_PER_YEAR // 365 + 10
    return max(1, min(MAX_SYMBOLS_PER_DATA_REQUEST, limit // trading_days))


class AlpacaMarketData:
    def __init__(
        self,
        rest: AlpacaRestClient,
        *,
        feed: DataFeed = "iex",
        latest_feed: DataFeed | None = None,
        max_concurrency: int = 8,
        page_limit: int = BARS_MAX_LIMIT,
        clock: Clock | None = None,
        sip_delay: timedelta = timedelta(minutes=16),
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if not 1 <= page_limit <= BARS_MAX_LIMIT:
            raise ValueError(f"page_limit must be in 1..{BARS_MAX_LIMIT}, got {page_limit}")
        self.rest = rest
        self.feed: DataFeed = feed
        # Free plans cannot query recent SIP data: latest endpoints default to IEX unless told otherwise.
        self.latest_feed: DataFeed = latest_feed or ("iex" if feed == "sip" else feed)
        self._max_concurrency = max_concurrency
        self._page_limit = page_limit
        self._clock = clock
        self._sip_delay = sip_delay

    async def get_daily_bars(
        self,
        symbols: Sequence[str],
        start: date,
        end: date,
        *,
        chunk_size: int | None = None,
    ) -> dict[str, list[Bar]]:
        """``adjustment=all`` daily bars in ``[start, end]``, ascending; every requested symbol is a key."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        wanted = normalise_symbols(symbols)
        if not wanted:
            return {}
        size = chunk_size or symbols_per_request(start, end, self._page_limit)
        chunks = [wanted[i : i + size] for i in range(0, len(wanted), size)]
        gate = asyncio.Semaphore(self._max_concurrency)

        async def run(chunk: list[str]) -> dict[str, list[Bar]]:
            async with gate:
                return await self._fetch_chunk(chunk, start, end)

        results = await asyncio.gather(*(run(chunk) for chunk in chunks))
        merged: dict[str, list[Bar]] = {symbol: [] for symbol in wanted}
        for part in results:
            for symbol, bars in part.items():
                merged[symbol].extend(bars)
        for symbol, bars in merged.items():
            _sort_checked(symbol, bars)
        return merged

    async def _fetch_chunk(self, chunk: list[str], start: date, end: date) -> dict[str, list[Bar]]:
        out: dict[str, list[Bar]] = {}
        token: str | None = None
        for _ in range(_MAX_PAGES):
            params: dict[str, str | int | None] = {
                "symbols": ",".join(chunk),
                "timeframe": "1Day",
                "start": start.isoformat(),
                "end": self._end_param(end),
                "adjustment": "all",
                "feed": self.feed,
                "limit": self._page_limit,
                "sort": "asc",
                "page_token": token,
            }
            body = await self.rest.get(PATH_BARS, endpoint=PATH_BARS, params=params, raw=True)
            page, next_token = parse_bars_page(body, chunk)
            for symbol, bars in page.items():
                out.setdefault(symbol, []).extend(bars)
            if next_token is None:
                return out
            if next_token == token:
                raise MalformedResponseError(f"{PATH_BARS}: next_page_token repeated ({next_token!r})")
            token = next_token
        raise DataError(f"{PATH_BARS}: more than {_MAX_PAGES} pages for {len(chunk)} symbols")

    def _end_param(self, end: date) -> str:
        """``end`` as a date, except on SIP when it reaches into the last 15 minutes: free plans may not query recent
        SIP data (403), so the range stops ``sip_delay`` before now (the newest bar then comes on the next call)."""
        if self.feed != "sip" or self._clock is None:
            return end.isoformat()
        cutoff = self._clock.now() - self._sip_delay
        if datetime.combine(end + timedelta(days=1), time(0), NEW_YORK) <= cutoff:
            return end.isoformat()
        return cutoff.astimezone(UTC).isoformat().replace("+00:00", "Z")

    async def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Latest quotes of the symbols asked for; a symbol the feed has no quote for is absent from the result."""
        wanted = normalise_symbols(symbols)
        out: dict[str, Quote] = {}
        for i in range(0, len(wanted), MAX_SYMBOLS_PER_DATA_REQUEST):
            chunk = wanted[i : i + MAX_SYMBOLS_PER_DATA_REQUEST]
            params = {"symbols": ",".join(chunk), "feed": self.latest_feed}
            data = await self.rest.get(PATH_LATEST_QUOTES, endpoint=PATH_LATEST_QUOTES, params=params)
            out.update(parse_latest_quotes(data, chunk))
        return out


def _sort_checked(symbol: str, bars: list[Bar]) -> None:
    """Sort ``bars`` by time in place (usually already sorted: one C-speed pass), refusing duplicate times."""
    times = [bar.t for bar in bars]
    if all(map(operator.lt, times, times[1:])):
        return  # strictly ascending: sorted and unique
    bars.sort(key=_bar_time)
    for previous, current in pairwise(bars):
        if current.t == previous.t:
            raise DataError(f"bars for {symbol}: duplicate bar at {current.t.isoformat()}")


def _bar_time(bar: Bar) -> datetime:
    return bar.t
