"""The embedded exchange's saved state: a restored exchange is the same account (cash, holdings with cost basis,
orders, fills), its open orders keep their holds and go on (a limit fills once marketable, expiry at the close), new
ids do not collide with saved ones, and a malformed file is a clear error naming the fix."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.broker.enums import OrderStatus
from alchemiser.errors import ConfigError
from alchemiser.sim.persist import read_state, restore, snapshot, state_path, write_state
from tests.sim.conftest import MIDDAY, START, MakeExchange, order


def test_round_trip_keeps_the_account_and_continues_open_orders(make_exchange: MakeExchange, tmp_path: Path) -> None:
    exchange, _ = make_exchange(partial_fill_rate=0.5, seed=3)
    exchange.submit(order("SPY", qty="10", cid="buy-spy"), MIDDAY)
    exchange.submit(order("TLT", notional="2500", cid="buy-tlt"), MIDDAY + timedelta(seconds=1))
    exchange.advance(MIDDAY + timedelta(seconds=30))
    quote = exchange.quote("SPY", MIDDAY + timedelta(seconds=31))
    resting = exchange.submit(
        order(
            "SPY",
            "sell",
            qty="4",
            limit=str((quote.bid_price * Decimal("1.002")).quantize(Decimal("0.01"))),
            cid="sell",
        ),
        MIDDAY + timedelta(seconds=31),
    )
    now = MIDDAY + timedelta(seconds=32)
    exchange.advance(now)
    assert exchange.get_order(resting.id).status is OrderStatus.NEW  # a resting limit, holding 4 shares

    path = state_path(tmp_path / "alchemiser.sqlite")
    write_state(path, snapshot(exchange, world_id="w-1", clock=now, market_start=START))
    assert path.stat().st_mode & 0o777 == 0o600
    saved = read_state(path)
    assert saved is not None and saved.world_id == "w-1" and saved.clock == now and saved.market_start == START

    again, events = make_exchange(partial_fill_rate=0.5, seed=3)
    restore(again, saved)
    assert again.account_id == exchange.account_id
    assert again.cash == exchange.cash
    assert again.positions(now) == exchange.positions(now)
    assert again.account(now) == exchange.account(now)
    assert again.fill_activities() == exchange.fill_activities()
    assert [o.id for o in again.list_orders(status="all")] == [o.id for o in exchange.list_orders(status="all")]
    assert again.book.held_qty("SPY") == Decimal(4)

    # The open order goes on in the restored exchange exactly as in the original one.
    later = now + timedelta(hours=4)
    exchange.advance(later)
    again.advance(later)
    assert again.get_order(resting.id).status == exchange.get_order(resting.id).status
    assert again.get_order(resting.id).status.is_terminal
    assert again.cash == exchange.cash and again.positions(later) == exchange.positions(later)
    assert events, "the restored exchange emits the continued order's events"
    fresh = again.submit(order("GLD", qty="1", cid="after-restore"), later + timedelta(days=1, hours=-3))
    assert fresh.id not in {o.id for o in exchange.list_orders(status="all")}


def test_no_state_is_none_and_a_broken_one_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite.sim.json"
    assert read_state(path) is None
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"unreadable .*alchemiser run --fresh"):
        read_state(path)
    path.write_text(json.dumps({"version": 99, "world_id": "w", "clock": "x", "market_start": "y"}))
    with pytest.raises(ConfigError, match=r"malformed \(format version 99"):
        read_state(path)
