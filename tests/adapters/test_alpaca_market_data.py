"""Daily bars (multi-symbol, paginated, adjustment=all, feed) and latest quotes, only for the symbols asked."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import respx

from alchemiser.adapters.alpaca.broker import AlpacaBroker
from alchemiser.adapters.alpaca.errors import MalformedResponseError, RequestRefusedError
from alchemiser.adapters.alpaca.market_data import normalise_symbols, symbols_per_request
from alchemiser.errors import BrokerTransientError, DataError
from tests.adapters.alpaca_fakes import DATA, bar_json

BARS = f"{DATA}/v2/stocks/bars"
QUOTES = f"{DATA}/v2/stocks/quotes/latest"
START = date(2026, 1, 5)


def series(symbol: str, days: int) -> list[dict[str, object]]:
    return [bar_json(START + timedelta(days=i), 100.0 + i) for i in range(days)]


def paging_server(data: dict[str, list[dict[str, object]]], page: int, seen: list[httpx.Request]):
    """Serves data sorted by symbol then time, ``page`` bars per reply, like Alpaca (limit is across symbols)."""
    flat = [(s, bar) for s in sorted(data) for bar in data[s]]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        wanted = request.url.params["symbols"].split(",")
        rows = [(s, b) for s, b in flat if s in wanted]
        offset = int(request.url.params.get("page_token") or 0)
        chunk = rows[offset : offset + page]
        body: dict[str, object] = {"bars": {}, "next_page_token": None}
        for symbol, bar in chunk:
            body["bars"].setdefault(symbol, []).append(bar)  # type: ignore[union-attr]
        if offset + page < len(rows):
            body["next_page_token"] = str(offset + page)
        return httpx.Response(200, json=body)

    return handler


async def test_bars_paginate_and_return_exactly_the_symbols_asked(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    data = {"SPY": series("SPY", 30), "QQQ": series("QQQ", 30), "TLT": series("TLT", 5), "EXTRA": series("X", 3)}
    seen: list[httpx.Request] = []
    broker.market_data._page_limit = 7
    alpaca_mock.get(BARS).mock(side_effect=paging_server(data, page=7, seen=seen))
    bars = await broker.get_daily_bars(["spy", "QQQ", "TLT", "NODATA", "SPY"], START, START + timedelta(days=40))
    assert list(bars) == ["SPY", "QQQ", "TLT", "NODATA"]
    assert [len(bars[s]) for s in bars] == [30, 30, 5, 0]
    assert all(a.t < b.t for a, b in zip(bars["SPY"], bars["SPY"][1:], strict=False))
    assert bars["SPY"][0].session_date == START
    first = seen[0].url.params
    assert first["timeframe"] == "1Day"
    assert first["adjustment"] == "all"
    assert first["feed"] == "iex"
    assert first["start"] == "2026-01-05"
    assert "EXTRA" not in ",".join(r.url.params["symbols"] for r in seen)
    assert len(seen) >= 10  # followed next_page_token to the end


async def test_bars_are_fetched_in_concurrent_chunks(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    symbols = [f"S{i:03d}" for i in range(40)]
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        wanted = request.url.params["symbols"].split(",")
        return httpx.Response(200, json={"bars": {s: series(s, 2) for s in wanted}, "next_page_token": None})

    route = alpaca_mock.get(BARS).mock(side_effect=handler)
    bars = await broker.market_data.get_daily_bars(symbols, START, START + timedelta(days=5), chunk_size=4)
    assert len(bars) == 40 and all(len(v) == 2 for v in bars.values())
    assert route.call_count == 10
    assert 1 < peak <= 8  # concurrent, bounded by max_concurrency


def test_chunk_size_fits_one_page():
    assert symbols_per_request(date(2021, 1, 1), date(2025, 12, 31)) == 7  # ~1,270 bars each, 10,000 per page
    assert symbols_per_request(date(2026, 1, 1), date(2026, 1, 10)) == 100
    assert symbols_per_request(date(1990, 1, 1), date(2026, 1, 1)) == 1


async def test_bad_bar_requests_are_refused_by_name(broker: AlpacaBroker):
    with pytest.raises(ValueError, match="after end"):
        await broker.get_daily_bars(["SPY"], START, START - timedelta(days=1))
    with pytest.raises(ValueError, match="invalid symbol 'SPY,QQQ'"):
        normalise_symbols(["SPY,QQQ"])
    with pytest.raises(ValueError, match="invalid symbol ''"):
        await broker.get_daily_bars([""], START, START)
    assert await broker.get_daily_bars([], START, START) == {}


async def test_repeated_page_token_is_detected(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(BARS).respond(200, json={"bars": {"SPY": series("SPY", 1)}, "next_page_token": "same"})
    with pytest.raises(MalformedResponseError, match="repeated"):
        await broker.get_daily_bars(["SPY"], START, START + timedelta(days=3))


async def test_duplicate_bars_are_a_data_error(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(BARS).respond(200, json={"bars": {"SPY": series("SPY", 2) * 2}, "next_page_token": None})
    with pytest.raises(DataError, match="duplicate bar"):
        await broker.get_daily_bars(["SPY"], START, START + timedelta(days=3))


async def test_malformed_bar_names_symbol_and_field(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(BARS).respond(200, json={"bars": {"SPY": [{"t": "2026-01-05T05:00:00Z", "o": 1}]}})
    with pytest.raises(MalformedResponseError, match=r"bars: bars\[SPY\]\[0\]\.h: Field required"):
        await broker.get_daily_bars(["SPY"], START, START)


async def test_free_plan_sip_refusal_is_typed(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(BARS).respond(403, json={"message": "subscription does not permit querying recent SIP data"})
    with pytest.raises(RequestRefusedError, match="subscription does not permit"):
        await broker.get_daily_bars(["SPY"], START, START)


async def test_latest_quotes_only_asked_symbols_with_iex(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    quote = {"t": "2022-03-11T18:40:13.514830169Z", "ax": "V", "ap": 156.47, "as": 3, "bx": "V", "bp": 156.45, "bs": 1}
    route = alpaca_mock.get(QUOTES).respond(200, json={"quotes": {"AAPL": quote, "MSFT": quote}})
    quotes = await broker.get_latest_quotes(["aapl", "TSLA"])
    assert list(quotes) == ["AAPL"]  # MSFT not asked; TSLA had no quote
    assert quotes["AAPL"].bid_price == Decimal("156.45") and quotes["AAPL"].mid == Decimal("156.46")
    assert route.calls.last.request.url.params["feed"] == "iex"
    assert route.calls.last.request.url.params["symbols"] == "AAPL,TSLA"


async def test_data_api_has_its_own_breaker(broker: AlpacaBroker, alpaca_mock: respx.MockRouter):
    alpaca_mock.get(QUOTES).respond(503)
    for _ in range(5):
        with pytest.raises(BrokerTransientError, match="server error 503"):
            await broker.get_latest_quotes(["SPY"])
    assert broker.breakers["alpaca_data"].state.name == "OPEN"
    assert broker.breakers["alpaca_trading"].state.name == "CLOSED"


async def test_sip_ranges_stop_short_of_the_last_15_minutes(
    broker: AlpacaBroker, alpaca_mock: respx.MockRouter, fast_clock
):
    broker.market_data.feed = "sip"
    route = alpaca_mock.get(BARS).respond(200, json={"bars": {}, "next_page_token": None})
    today = fast_clock.now().date()
    await broker.get_daily_bars(["SPY"], today - timedelta(days=10), today)
    end = route.calls.last.request.url.params["end"]
    assert end.endswith("Z") and datetime.fromisoformat(end) <= fast_clock.now() - timedelta(minutes=15)
    await broker.get_daily_bars(["SPY"], today - timedelta(days=10), today - timedelta(days=2))
    assert route.calls.last.request.url.params["end"] == (today - timedelta(days=2)).isoformat()
