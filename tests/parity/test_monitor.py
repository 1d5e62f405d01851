"""The store-backed monitor on a real SQLite file: a revised bar, a partial fill, the CLI's view of the result."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alchemiser.clock import ManualClock
from alchemiser.config import ParitySettings
from alchemiser.dsl import parse_symphony
from alchemiser.parity.monitor import ParityMonitor, ParityStrategy
from alchemiser.services.parity import parity_view
from alchemiser.store.account import AccountHistory, AccountSnapshot, HeldPosition
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore, StrategyDecision

SYMPHONY = parse_symphony('(defsymphony "flip" {} (if (> (current-price "SPY") 100) [(asset "SPY")] [(asset "TLT")]))')
DAYS = [date(2024, 3, 4) + timedelta(days=i) for i in range(4)]  # Mon..Thu
D = Decimal


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


async def _decide(store: Store, session: date, as_of: date, at: datetime, allocation: dict[str, Decimal]) -> str:
    decisions = DecisionStore(store)
    decision_id = f"sched-{session}"
    await decisions.start(
        decision_id, session=session, trigger="schedule", as_of_policy="previous_close", as_of=as_of, started_at=at
    )
    await decisions.record_strategy(
        decision_id, StrategyDecision("flip", D(1), "ok", allocation=allocation, trace=None)
    )
    plan = {"lines": [{"symbol": "SPY", "price": "101", "delta_qty": "10", "contributions": {"flip": "0.99"}}]}
    await decisions.finish(decision_id, status="executed", finished_at=at + timedelta(minutes=5), plan=plan)
    return decision_id


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
        history = AccountHistory(store)
        await history.record(AccountSnapshot(at - timedelta(hours=20), "start", D(2000), D(2000), D(2000), D(0)))
        first = await _decide(store, DAYS[1], DAYS[0], at, {"SPY": D(1)})
        # the decision read SPY 101 on Monday (so: SPY); keep what it read before the vendor revises it
        await monitor.snapshot_decision(first, vendor.read(["SPY", "TLT"], DAYS[0], DAYS[0]))
        await store.execute(
            "INSERT INTO execution_runs (run_id, status, mode, created_at, updated_at, plan_json)"
            " VALUES (?, 'finished', 'sim', ?, ?, '{}')",
            (first, at.isoformat(), at.isoformat()),
        )
        await store.execute(
            "INSERT INTO execution_orders (client_order_id, run_id, symbol, side, step, order_type, qty,"
            " reference_price, state, filled_qty, filled_avg_price, created_at, updated_at, arrival_bid, arrival_ask)"
            " VALUES ('c1', ?, 'SPY', 'buy', 0, 'limit', '10', '101', 'closed', '6', '101.05', ?, ?,"
            " '100.98', '101.02')",
            (first, at.isoformat(), at.isoformat()),
        )
        spy = HeldPosition(D(6), D(102), D(612))
        await history.record(
            AccountSnapshot(
                at + timedelta(hours=1),
                "session_close",
                D("2005.70"),
                D("1393.70"),
                D(0),
                D(612),
                {"SPY": spy},
                session=DAYS[1],
            )
        )
        vendor.set("SPY", [99.5, 102.0, 103.0])  # Monday revised 101 -> 99.5; Tuesday, Wednesday arrive
        vendor.set("TLT", [90.0, 90.0, 90.0])
        second = await _decide(store, DAYS[2], DAYS[1], at + timedelta(days=1), {"SPY": D(1)})
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
