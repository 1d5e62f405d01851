"""Startup/after-decision reconciliation: positions vs store snapshot + our fills; adopt/flag unknown orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.broker.enums import OrderSide, OrderStatus
from alchemiser.broker.models import FillActivity, Order, Position
from alchemiser.clock import ManualClock
from alchemiser.store import AuditLog, Store
from alchemiser.trading.reconcile import Reconciler, Snapshot, Tolerance, compare

T0 = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)


def pos(symbol: str, qty: str) -> Position:
    return Position(symbol=symbol, qty=Decimal(qty))


def fill(symbol: str, side: str, qty: str, order_id: str, at: datetime) -> FillActivity:
    return FillActivity(
        id=f"f-{order_id}-{qty}",
        order_id=order_id,
        symbol=symbol,
        side=OrderSide(side),
        qty=Decimal(qty),
        price=Decimal(100),
        cum_qty=Decimal(qty),
        leaves_qty=Decimal(0),
        transaction_time=at,
    )


def order(oid: str, coid: str, symbol: str = "SPY", status: str = "new") -> Order:
    return Order(
        id=oid,
        client_order_id=coid,
        symbol=symbol,
        side=OrderSide.BUY,
        status=OrderStatus(status),
        qty=Decimal(1),
        created_at=T0,
    )


def test_compare_explains_positions_with_our_fills() -> None:
    snap = Snapshot(T0, "decision", {"SPY": Decimal(10), "TLT": Decimal(5)})
    report = compare(
        at=T0 + timedelta(days=1),
        snapshot=snap,
        broker_positions=[pos("SPY", "12"), pos("QQQ", "3")],
        fills_since=[
            fill("SPY", "buy", "2", "o1", T0 + timedelta(hours=1)),
            fill("TLT", "sell", "5", "o2", T0 + timedelta(hours=1)),
            fill("QQQ", "buy", "3", "o3", T0 + timedelta(hours=1)),
            fill("SPY", "buy", "99", "o1", T0 - timedelta(hours=1)),  # before the snapshot: ignored
        ],
        our_order_ids={"o1", "o2", "o3"},
        open_orders=[],
        known_client_ids=set(),
    )
    assert report.ok, report.reason
    assert report.expected_positions == {"SPY": Decimal(12), "QQQ": Decimal(3)}


def test_compare_names_positions_changed_behind_our_back() -> None:
    snap = Snapshot(T0, "decision", {"SPY": Decimal(10)})
    report = compare(
        at=T0,
        snapshot=snap,
        broker_positions=[pos("SPY", "15"), pos("GME", "1")],
        fills_since=[fill("SPY", "buy", "5", "foreign-1", T0 + timedelta(minutes=1))],
        our_order_ids=set(),
        open_orders=[],
        known_client_ids=set(),
    )
    assert not report.ok
    assert "GME: broker holds 1, store expects 0 (diff 1)" in report.mismatches
    assert "SPY: broker holds 15, store expects 10 (diff 5)" in report.mismatches
    assert report.foreign_fills == ("SPY buy 5 (order foreign-1)",)
    assert report.reason.startswith("position mismatch")


def test_compare_vanished_position_and_tolerance() -> None:
    snap = Snapshot(T0, "decision", {"SPY": Decimal(1000), "TLT": Decimal(4)})
    report = compare(
        at=T0,
        snapshot=snap,
        broker_positions=[pos("SPY", "1000.5")],
        fills_since=[],
        our_order_ids=set(),
        open_orders=[],
        known_client_ids=set(),
        tolerance=Tolerance(relative=Decimal("0.001")),
    )
    assert report.mismatches == ("TLT: broker holds 0, store expects 4 (diff -4)",)


def test_compare_adopts_ours_flags_foreign_open_orders() -> None:
    report = compare(
        at=T0,
        snapshot=Snapshot(T0, "decision", {}),
        broker_positions=[],
        fills_since=[],
        our_order_ids={"known"},
        open_orders=[order("known", "alc-x"), order("o2", "alc-r1-SPY-b0-abc"), order("o3", "manual-123")],
        known_client_ids={"alc-x"},
    )
    assert report.ok
    assert report.adopted_orders == ("SPY buy 1 (alc-r1-SPY-b0-abc)",)
    assert report.flagged_orders == ("SPY buy 1 (manual-123)",)


class FakeBroker:
    """Stands in for Alpaca's positions/orders/activities endpoints."""

    def __init__(self) -> None:
        self.positions: list[Position] = []
        self.fills: list[FillActivity] = []
        self.orders: list[Order] = []
        self.activities: list[NonTradeActivity] = []

    async def list_positions(self) -> list[Position]:
        return list(self.positions)

    async def list_orders(
        self,
        *,
        status: Any = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[Order]:
        if status == "open":
            return [o for o in self.orders if o.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)]
        return list(self.orders)

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]:
        return [f for f in self.fills if after is None or f.transaction_time > after]

    async def list_non_trade_activities(self, *, after: date | None = None) -> list[NonTradeActivity]:
        return [a for a in self.activities if after is None or a.date >= after]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "s.sqlite", clock=ManualClock(T0))
    yield s
    await s.close()


async def test_reconciler_adopts_on_fresh_store_then_detects_tampering(store: Store) -> None:
    clock = ManualClock(T0)
    broker = FakeBroker()
    broker.positions = [pos("SPY", "10")]
    audit = AuditLog(store, clock)
    rec = Reconciler(broker, store, audit, clock)
    first = await rec.run(source="startup")
    assert first.ok and "adopted" in first.baseline
    # Our own order fills: explained (client id prefix says it is ours even before execution stored it).
    clock.advance(3600)
    broker.orders = [order("o1", "alc-r1-SPY-b0-1", status="filled")]
    broker.fills = [fill("SPY", "buy", "2", "o1", clock.now())]
    broker.positions = [pos("SPY", "12")]
    clock.advance(60)
    second = await rec.run(source="decision")
    assert second.ok, second.reason
    # Execution has not recorded that fill: reconciliation says so (execution adopts it on its own catch-up).
    assert second.unrecorded_fills == ("SPY buy order o1: broker filled 2, store has 0",)
    # Someone sells by hand behind the daemon's back.
    clock.advance(3600)
    broker.orders.append(order("o9", "web-ui-1", status="filled"))
    broker.fills.append(fill("SPY", "sell", "12", "o9", clock.now()))
    broker.positions = []
    clock.advance(60)
    third = await rec.run(source="startup")
    assert not third.ok
    assert third.mismatches == ("SPY: broker holds 0, store expects 12 (diff -12)",)
    assert third.foreign_fills == ("SPY sell 12 (order o9)",)
    # Stays a mismatch on the next try; an operator accepting it clears it.
    assert not (await rec.run(source="startup")).ok
    accepted = await rec.accept(by="cli", reason="sold by hand")
    assert accepted.ok
    assert (await rec.run(source="startup")).ok
    kinds = [e.kind for e in await audit.recent()]
    assert "reconcile.mismatch" in kinds and "reconcile.accepted" in kinds and "reconcile.adopted" in kinds


def split_rows(day: date, old: str, new: str) -> list[NonTradeActivity]:
    return [
        NonTradeActivity.model_validate(
            {
                "id": f"{day:%Y%m%d}000000000::{n}",
                "activity_type": "SSP",
                "date": day.isoformat(),
                "symbol": "UVXY",
                "qty": qty,
            }
        )
        for n, qty in enumerate((f"-{old}", new))
    ]


async def test_reconciler_explains_an_overnight_split_once_and_books_it(store: Store) -> None:
    clock = ManualClock(T0)
    broker = FakeBroker()
    broker.positions = [pos("UVXY", "100")]
    audit = AuditLog(store, clock)
    applied: list[list[str]] = []

    async def hook(rows: Sequence[NonTradeActivity]) -> None:
        applied.append([r.id for r in rows])

    rec = Reconciler(broker, store, audit, clock, on_corporate_actions=hook)
    assert (await rec.run(source="startup")).ok  # adopted: 100 UVXY
    clock.advance(86400)
    broker.positions = [pos("UVXY", "10")]
    broker.activities = split_rows(clock.now().date(), "100", "10")
    report = await rec.run(source="pre-decision")
    assert report.ok and report.corporate_actions == ("UVXY -90",)
    assert applied == [[a.id for a in broker.activities]]
    again = await rec.run(source="decision")  # the same activities are never applied twice
    assert again.ok and again.corporate_actions == () and len(applied) == 1


async def test_a_change_no_corporate_action_explains_still_fails_closed_and_accept_baselines(store: Store) -> None:
    clock = ManualClock(T0)
    broker = FakeBroker()
    broker.positions = [pos("UVXY", "100")]
    rec = Reconciler(broker, store, AuditLog(store, clock), clock)
    await rec.run(source="startup")
    clock.advance(86400)
    broker.positions = [pos("UVXY", "7")]  # the split says 10
    broker.activities = split_rows(clock.now().date(), "100", "10")
    report = await rec.run(source="pre-decision")
    assert not report.ok and "UVXY: broker holds 7, store expects 10" in report.reason
    await rec.accept(by="operator", reason="checked with the broker")
    assert (await rec.run(source="decision")).ok  # the split is part of the accepted baseline now
