"""Account history in a real SQLite file: snapshots round-trip exactly, one close per session, bad input named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.broker.models import Account, Position
from alchemiser.errors import StoreError
from alchemiser.store.account import AccountHistory, snapshot_of
from alchemiser.store.database import Store

T0 = datetime(2024, 3, 5, 20, 45, tzinfo=UTC)


def _account(equity: str = "100250.50", cash: str = "250.50") -> Account:
    return Account(id="a", cash=Decimal(cash), buying_power=Decimal("500.00"), equity=Decimal(equity))


def _positions() -> list[Position]:
    return [
        Position(symbol="SPY", qty=Decimal("100"), market_value=Decimal("50000"), current_price=Decimal("500")),
        # no market value from the broker: valued at cost
        Position(symbol="TLT", qty=Decimal("10"), avg_entry_price=Decimal("90"), cost_basis=Decimal("900")),
    ]


async def test_snapshot_round_trips_exactly(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        history = AccountHistory(store)
        snap = snapshot_of(
            _account(), _positions(), kind="after_decision", at=T0, session=date(2024, 3, 5), decision_id="D20240305"
        )
        assert snap.positions_value == Decimal("50900")
        assert await history.record(snap)
        [back] = await history.history()
        assert back.equity == Decimal("100250.50") and back.cash == Decimal("250.50")
        assert back.positions["SPY"].price == Decimal("500") and back.positions["TLT"].price is None
        assert back.positions["TLT"].value == Decimal("900")
        assert back.decision_id == "D20240305" and back.kind == "after_decision"
        assert back.to_json()["positions"]["SPY"] == {"qty": "100", "price": "500", "value": "50000"}
        assert (await history.latest()) == back
    finally:
        await store.close()


async def test_one_close_per_session_and_time_order(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        history = AccountHistory(store)
        day = date(2024, 3, 5)
        close = snapshot_of(_account(), [], kind="session_close", at=T0 + timedelta(minutes=20), session=day)
        assert await history.record(close)
        assert not await history.record(close), "a second close for the same session must be ignored"
        assert await history.has_session_close(day) and not await history.has_session_close(date(2024, 3, 6))
        await history.record(snapshot_of(_account("99000"), [], kind="start", at=T0 - timedelta(days=1)))
        assert [s.kind for s in await history.history()] == ["start", "session_close"]
        assert [s.kind for s in await history.history(since=T0)] == ["session_close"]
        assert [s.kind for s in await history.history(limit=1)] == ["session_close"]
        assert await history.count() == 2
    finally:
        await store.close()


async def test_bad_snapshots_are_refused_with_the_reason(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        history = AccountHistory(store)
        with pytest.raises(ValueError, match="snapshot kind must be one of"):
            snapshot_of(_account(), [], kind="weekly", at=T0)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="session_close snapshot needs its session"):
            await history.record(snapshot_of(_account(), [], kind="session_close", at=T0))
        assert await history.latest() is None
    finally:
        await store.close()
