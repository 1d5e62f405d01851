"""The store-backed monitor on a real SQLite file: a revised bar, a partial fill, the CLI's view of the result."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from alchemiser.broker.activities import NonTradeActivity
from alchemiser.clock import ManualClock
from alchemiser.config import ParitySettings
from alchemiser.dsl import parse_symphony
from alchemiser.parity.monitor import ParityMonitor, ParityStrategy
from alchemiser.services.parity import parity_view
from alchemiser.store.corporate_actions import CorporateActionStore
from alchemiser.store.database import Store
from alchemiser.store.fees import FeeStore
from tests.parity.factories import D, account_at, decide, worked_order

SYMPHONY = parse_symphony('(defsymphony "flip" {} (if (> (current-price "SPY") 100) [(asset "SPY")] [(asset "TLT")]))')
DAYS = [date(2024, 3, 4) + timedelta(days=i) for i in range(4)]  # Mon..Thu
LINES = [{"symbol": "SPY", "price": "101", "delta_qty": "10", "contributions": {"flip": "0.99"}}]


class Vendor:
    """The data vendor's closes, as a parity bar source; a test revises them between two reads."""

    def __init__(self) -> None:
        self.closes: dict[str, dict[date, float]] = {}

    def set(self, symbol: str, closes: list[float]) -> None:
        self.closes.setdefault(symbol, {}).update(zip(DAYS, closes, strict=False))

    def read(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[tuple[date, float]]]:
        return {s: sorted((d, c) for d, c in self.closes.get(s, {}).items() if start <= d <= end) for s in symbols}

    async def __call__(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[tuple[date, float]]]:
        return self.read(symbols, start, end)


async def test_a_revised_bar_and_a_partial_fill_are_attributed(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        clock = ManualClock(datetime(2024, 3, 8, tzinfo=UTC))
        vendor = Vendor()
        strategies = {"flip": ParityStrategy(SYMPHONY, D(1), 3)}
        monitor = ParityMonitor(store, strategies, ParitySettings(), clock=clock, bars=vendor)
        vendor.set("SPY", [101.0, 101.0])
        vendor.set("TLT", [90.0, 90.0])
        at = datetime(2024, 3, 5, 20, 45, tzinfo=UTC)
        await account_at(store, at - timedelta(hours=20), cash="2000")
        first = await decide(store, DAYS[1], as_of=DAYS[0], at=at, allocation={"SPY": D(1)}, lines=LINES)
        # the decision read SPY 101 on Monday (so: SPY); keep what it read before the vendor revises it
        await monitor.snapshot_decision(first, vendor.read(["SPY", "TLT"], DAYS[0], DAYS[0]))
        await worked_order(store, first, "SPY", "buy", "10", "6", "101", "101.05", at, bid="100.98", ask="101.02")
        await account_at(
            store, at + timedelta(hours=1), cash="1393.70", positions={"SPY": ("6", "102")}, close_of=DAYS[1]
        )
        vendor.set("SPY", [99.5, 102.0, 103.0])  # Monday revised 101 -> 99.5; Tuesday, Wednesday arrive
        vendor.set("TLT", [90.0, 90.0, 90.0])
        second = await decide(
            store, DAYS[2], as_of=DAYS[1], at=at + timedelta(days=1), allocation={"SPY": D(1)}, lines=LINES
        )
        [result] = await monitor.after_decision(second, vendor.read(["SPY", "TLT"], DAYS[0], DAYS[1]))
    finally:
        await store.close()
    [replay] = result.replays
    assert replay.data_drift  # the revised Monday close flips the if: the replay holds TLT
    assert replay.replayed == {"TLT": D(1)}
    assert "SPY: close of 2024-03-04 revised 101.0 -> 99.5" in [c.describe() for c in replay.changed_bars]
    parts = result.attribution.parts
    assert sum(parts.values()) == result.attribution.session_gap
    causes = [(c.part, c.what) for c in result.attribution.causes]
    assert ("timing", "partially filled: 6 of 10") in causes
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        view = await parity_view(store)
    finally:
        await store.close()
    [session] = view["sessions"]
    assert session["session"] == "2024-03-05" and session["data_drift"] == 1
    assert view["tca"]["orders"][0]["cost_vs_decision"] == "0.30"
    assert json.dumps(view)  # JSON-able for the API and the CLI


async def test_every_decision_of_the_session_and_the_broker_s_fees_are_attributed(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite")
    try:
        clock = ManualClock(datetime(2024, 3, 8, tzinfo=UTC))
        vendor = Vendor()
        vendor.set("SPY", [101.0, 102.0])
        vendor.set("TLT", [90.0, 90.0])
        monitor = ParityMonitor(
            store, {"flip": ParityStrategy(SYMPHONY, D(1), 3)}, ParitySettings(), clock=clock, bars=vendor
        )
        at = datetime(2024, 3, 5, 20, 45, tzinfo=UTC)
        read = vendor.read(["SPY", "TLT"], DAYS[0], DAYS[0])
        await account_at(store, at - timedelta(hours=20), cash="2000")
        # the scheduled decision buys 10 SPY (0.05 over), a manual rebalance ten minutes later 5 more (0.10 over)
        scheduled = await decide(store, DAYS[1], as_of=DAYS[0], at=at, allocation={"SPY": D(1)}, lines=LINES)
        await monitor.snapshot_decision(scheduled, read)
        await worked_order(store, scheduled, "SPY", "buy", "10", "10", "101", "101.05", at, broker_order_id="b-1")
        later = at + timedelta(minutes=10)
        manual_lines = [{"symbol": "SPY", "price": "101.5", "delta_qty": "5", "contributions": {"flip": "0.99"}}]
        manual = await decide(
            store,
            DAYS[1],
            as_of=DAYS[0],
            at=later,
            allocation={"SPY": D(1)},
            lines=manual_lines,
            decision_id="manual-1",
            trigger="manual",
        )
        await monitor.snapshot_decision(manual, read)
        await worked_order(store, manual, "SPY", "buy", "5", "5", "101.5", "101.60", later, broker_order_id="b-2")
        # the broker's fees: one names the first order, one (a daily charge) names none
        fees = [
            {
                "id": "f1",
                "activity_type": "FEE",
                "date": "2024-03-05",
                "net_amount": "-0.05",
                "description": "REG fee",
                "order_id": "b-1",
                "symbol": "SPY",
            },
            {"id": "f2", "activity_type": "FEE", "date": "2024-03-05", "net_amount": "-0.01", "description": "TAF"},
        ]
        await CorporateActionStore(store, clock).record([NonTradeActivity.model_validate(f) for f in fees], "applied")
        # cash: 2000 - 1010.50 - 508.00 - 0.06; 15 SPY at the 102 close
        await account_at(
            store, at + timedelta(hours=1), cash="481.44", positions={"SPY": ("15", "102")}, close_of=DAYS[1]
        )
        result = await monitor.settle(DAYS[1])
        stored = await FeeStore(store).for_orders(["b-1"])
    finally:
        await store.close()
    assert result is not None
    assert [f.kind for f in stored] == ["REG"] and stored[0].amount == D("0.05")
    parts = result.attribution.parts
    assert sum(parts.values()) == result.attribution.session_gap
    assert parts["execution"] == D("-1.00")  # 10 x 0.05 on the scheduled decision, 5 x 0.10 on the manual one
    assert parts["fees"] == D("-0.06")  # the order's fee and the session's daily one
    assert abs(parts["unexplained"]) <= D("0.03")
    assert [(r["symbol"], r["fees"]) for r in result.tca] == [("SPY", "0.05"), ("SPY", "0")]
    assert len(result.replays) == 2  # each decision replayed
