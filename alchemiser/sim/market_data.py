"""Alpaca's market data API v2 (stocks) on the simulated market: daily bars with pagination, latest quotes,
trades and bars, snapshots. Only what is known at the clock's now is served (today's bar is partial while open).
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alchemiser.broker.models import NEW_YORK
from alchemiser.errors import DataError
from alchemiser.sim.context import SimContext, json_response
from alchemiser.sim.market import DailyBar
from alchemiser.sim.payloads import (
    RequestError,
    bar_json,
    decode_page_token,
    encode_page_token,
    parse_time,
    quote_json,
    trade_json,
)

BARS_MAX_LIMIT = 10_000
DAILY_TIMEFRAMES = frozenset({"1day", "1d", "day"})
ADJUSTMENTS = frozenset({"raw", "split", "dividend", "spin-off", "all"})


def _symbols(request: Request) -> list[str]:
    raw = request.query_params.get("symbols", "")
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise RequestError("symbols is required", status_code=400, code=40010001)
    return list(dict.fromkeys(symbols))


def market_data_routes(ctx: SimContext) -> list[Route]:
    ex = ctx.exchange
    quotes = ex.quotes

    async def bars(request: Request) -> Response:
        q = request.query_params
        symbols = sorted(_symbols(request))
        timeframe = q.get("timeframe")
        if timeframe is None:
            raise RequestError("timeframe is required", status_code=400, code=40010001)
        if timeframe.lower() not in DAILY_TIMEFRAMES:
            raise RequestError(
                f"timeframe {timeframe} is not supported by the simulator (daily bars only)",
                status_code=422,
                code=42210000,
            )
        for adjustment in q.get("adjustment", "raw").split(","):
            if adjustment not in ADJUSTMENTS:
                raise RequestError(f"invalid adjustment: {adjustment!r}", status_code=400, code=40010001)
        limit_raw = q.get("limit", "1000")
        try:
            limit = int(limit_raw)
        except ValueError as err:
            raise RequestError(f"invalid limit: {limit_raw!r}", status_code=400, code=40010001) from err
        if not 1 <= limit <= BARS_MAX_LIMIT:
            raise RequestError(f"invalid limit: must be 1..{BARS_MAX_LIMIT}", status_code=400, code=40010001)
        sort = q.get("sort", "asc")
        if sort not in ("asc", "desc"):
            raise RequestError(f"invalid sort: {sort!r}", status_code=400, code=40010001)
        now = ctx.clock.now()
        today = now.astimezone(NEW_YORK).date()
        # A daily bar's t is its session's New York midnight; serve bars with start ≤ t ≤ end.
        start = today
        if q.get("start"):
            start_ny = parse_time(q["start"], "start").astimezone(NEW_YORK)
            start = start_ny.date() + (timedelta(days=1) if start_ny.time() != time(0) else timedelta(0))
        end = parse_time(q["end"], "end", end_of_day=True).astimezone(NEW_YORK).date() if q.get("end") else today
        if end < start:
            raise RequestError("end should not be before start", status_code=422, code=42210000)
        resume: tuple[str, date] | None = decode_page_token(q["page_token"]) if q.get("page_token") else None
        out: dict[str, list[dict[str, Any]]] = {}
        count = 0
        next_token: str | None = None
        for symbol in symbols:
            if resume is not None and symbol < resume[0]:
                continue
            series: list[DailyBar] = quotes.daily_bars(symbol, start, end, now)
            if sort == "desc":
                series.reverse()
            if resume is not None and symbol == resume[0]:
                mark = resume[1]
                series = [b for b in series if (b.session >= mark if sort == "asc" else b.session <= mark)]
            for bar in series:
                if count == limit:
                    next_token = encode_page_token(symbol, bar.session)
                    break
                out.setdefault(symbol, []).append(bar_json(bar))
                count += 1
            if next_token is not None:
                break
        return json_response({"bars": out, "next_page_token": next_token})

    def _latest(symbols: list[str]) -> dict[str, Any]:
        now = ctx.clock.now()
        found: dict[str, Any] = {}
        for symbol in symbols:
            try:
                found[symbol] = quotes.quote(symbol, now)
            except DataError:
                continue
        return found

    async def latest_quotes(request: Request) -> Response:
        found = _latest(_symbols(request))
        return json_response({"quotes": {s: quote_json(qt) for s, qt in found.items()}})

    async def latest_trades(request: Request) -> Response:
        found = _latest(_symbols(request))
        return json_response({"trades": {s: trade_json(qt, i + 1) for i, (s, qt) in enumerate(found.items())}})

    async def latest_bars(request: Request) -> Response:
        now = ctx.clock.now()
        result: dict[str, Any] = {}
        for symbol in _symbols(request):
            bar = quotes.latest_bar(symbol, now)
            if bar is not None:
                result[symbol] = bar_json(bar)
        return json_response({"bars": result})

    async def snapshots(request: Request) -> Response:
        now = ctx.clock.now()
        result: dict[str, Any] = {}
        for i, symbol in enumerate(_symbols(request)):
            try:
                quote = quotes.quote(symbol, now)
            except DataError:
                continue
            day = now.astimezone(NEW_YORK).date()
            recent = quotes.daily_bars(symbol, day - timedelta(days=14), day, now)
            daily = bar_json(recent[-1]) if recent else None
            result[symbol] = {
                "latestTrade": trade_json(quote, i + 1),
                "latestQuote": quote_json(quote),
                "minuteBar": daily,
                "dailyBar": daily,
                "prevDailyBar": bar_json(recent[-2]) if len(recent) > 1 else None,
            }
        return json_response(result)

    g = ctx.guard
    return [
        Route("/v2/stocks/bars", g("/v2/stocks/bars", bars), methods=["GET"]),
        Route("/v2/stocks/bars/latest", g("/v2/stocks/bars/latest", latest_bars), methods=["GET"]),
        Route("/v2/stocks/quotes/latest", g("/v2/stocks/quotes/latest", latest_quotes), methods=["GET"]),
        Route("/v2/stocks/trades/latest", g("/v2/stocks/trades/latest", latest_trades), methods=["GET"]),
        Route("/v2/stocks/snapshots", g("/v2/stocks/snapshots", snapshots), methods=["GET"]),
    ]
