"""The bars endpoint's fast parse path keeps every validation guarantee of the generic model path.

Pages are validated straight from the body bytes with the cyclic GC paused and with UTC times accepted natively;
these tests pin what must not change: the same ``Bar`` values as ``Bar.model_validate``, times normalised to UTC,
naive / unreadable times and missing prices refused with a typed error naming the place, the collector's state
restored whatever happens, unsorted pages sorted and duplicates refused.
"""

from __future__ import annotations

import gc
import json
import pickle
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import respx

from alchemiser.adapters.alpaca.broker import AlpacaBroker
from alchemiser.adapters.alpaca.errors import MalformedResponseError
from alchemiser.adapters.alpaca.parsing import parse_bars_page
from alchemiser.broker.bulk import cyclic_gc_paused
from alchemiser.broker.models import Bar
from alchemiser.errors import DataError
from tests.adapters.alpaca_fakes import DATA, bar_json

BARS = f"{DATA}/v2/stocks/bars"
START = date(2026, 1, 5)


def page(bars: dict[str, list[dict[str, Any]]], token: str | None = None) -> bytes:
    return json.dumps({"bars": bars, "next_page_token": token}).encode()


@pytest.fixture
def gc_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_fast_path_builds_the_same_bars_as_the_model(gc_on: None) -> None:
    rows = [bar_json(START + timedelta(days=i), 100.0 + i) for i in range(5)]
    rows[0]["extra_field"] = "ignored"
    bars, token = parse_bars_page(page({"SPY": rows, "QQQ": rows[:1]}, "abc"), ["SPY"])
    assert token == "abc"
    assert list(bars) == ["SPY"]  # only the wanted symbols
    expected = [Bar.model_validate(row) for row in rows]
    assert bars["SPY"] == expected
    first = bars["SPY"][0]
    assert first.t == datetime(2026, 1, 5, 5, tzinfo=UTC)
    assert first.t.utcoffset() == timedelta(0)
    assert first.session_date == date(2026, 1, 5)
    assert first.low == rows[0]["l"] and first.v == 1000.0 and isinstance(first.v, float)
    assert first.to_alpaca()["t"] == "2026-01-05T05:00:00Z"
    assert "extra_field" not in first.model_dump()
    assert pickle.loads(pickle.dumps(first)) == first  # noqa: S301 - our own bytes; bars cross to the worker
    assert hash(first.t) == hash(datetime(2026, 1, 5, 5, tzinfo=UTC))
    assert gc.isenabled()


def test_other_offsets_are_converted_to_utc() -> None:
    row = {**bar_json(START, 10.0), "t": "2026-01-05T00:00:00-05:00"}
    bars, _ = parse_bars_page(page({"SPY": [row]}), ["SPY"])
    assert bars["SPY"][0].t == datetime(2026, 1, 5, 5, tzinfo=UTC)
    assert bars["SPY"][0].t.tzinfo is UTC


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"t": "2026-01-05T05:00:00"}, r"bars\[SPY\]\[1\]\.t: .*naive"),
        ({"t": "yesterday"}, r"bars\[SPY\]\[1\]\.t: .*offset"),
        ({"c": "lots"}, r"bars\[SPY\]\[1\]\.c: Input should be a valid number"),
        ({"h": None}, r"bars\[SPY\]\[1\]\.h"),
    ],
)
def test_bad_bars_are_refused_by_place(gc_on: None, change: dict[str, Any], message: str) -> None:
    rows = [bar_json(START, 10.0), {**bar_json(START + timedelta(days=1), 11.0), **change}]
    with pytest.raises(MalformedResponseError, match=message):
        parse_bars_page(page({"SPY": rows}), ["SPY"])
    assert gc.isenabled()  # restored after the error too


def test_not_json_is_a_typed_error(gc_on: None) -> None:
    with pytest.raises(MalformedResponseError, match="bars"):
        parse_bars_page(b'{"bars": {"SPY": [', ["SPY"])
    assert gc.isenabled()


def test_gc_pause_restores_a_disabled_collector() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller that disabled it keeps it disabled
        gc.enable()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


async def test_unsorted_pages_are_sorted(broker: AlpacaBroker, alpaca_mock: respx.MockRouter) -> None:
    rows = [bar_json(START + timedelta(days=i), 100.0 + i) for i in range(4)]
    alpaca_mock.get(BARS).respond(200, content=page({"SPY": [rows[2], rows[0], rows[3], rows[1]]}))
    bars = await broker.get_daily_bars(["SPY"], START, START + timedelta(days=3))
    assert [bar.c for bar in bars["SPY"]] == [100.0, 101.0, 102.0, 103.0]


async def test_unsorted_duplicates_are_still_refused(broker: AlpacaBroker, alpaca_mock: respx.MockRouter) -> None:
    rows = [bar_json(START + timedelta(days=i), 100.0 + i) for i in range(3)]
    alpaca_mock.get(BARS).respond(200, content=page({"SPY": [rows[2], rows[0], rows[2]]}))
    with pytest.raises(DataError, match="duplicate bar at 2026-01-07"):
        await broker.get_daily_bars(["SPY"], START, START + timedelta(days=3))
