"""A calendar strategy is evaluated only on its rebalance days (dsl.md §4.1, issue 16): on other sessions the decision
cycle does not evaluate it, holds its book and records "not due; next rebalance <date>" — so an evaluation that would
fail on such a day cannot fail the decision. Daily and corridor strategies are evaluated every session; a manual
decision evaluates everything and trades calendar strategies to target.

Real store and bar refresher on a manual clock; the symphonies and execution are the daemon tests' fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.cli.ops import render_decision
from alchemiser.clock import ManualClock
from alchemiser.dsl.rebalance import RebalanceFrequency, RebalanceRule
from alchemiser.services.strategies import strategy_view
from alchemiser.store import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.trading.data_refresh import BarRefresher
from alchemiser.trading.decision import DecisionCycle
from alchemiser.trading.decision_ports import DecisionOutcome, GateResult
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from tests.daemon.fakes import FakeBars, MomentumEngine, RecordingExecutor

MONTHLY = RebalanceRule(RebalanceFrequency.MONTHLY)
FIRST = date(2024, 3, 1)  # the first session of March (a Friday)
SECOND = date(2024, 3, 4)
THIRD = date(2024, 3, 5)
APRIL = date(2024, 4, 1)


def ny(day: date) -> datetime:
    return datetime.combine(day, time(15, 30), NEW_YORK).astimezone(UTC)


async def _open_gate() -> GateResult:
    return GateResult(True)


@dataclass
class Rig:
    clock: ManualClock
    store: Store
    decisions: DecisionStore
    executor: RecordingExecutor
    monthly: MomentumEngine
    daily: MomentumEngine
    books: dict[str, dict[str, Decimal]]
    cycle: DecisionCycle

    async def decide(self, day: date, trigger: str = "schedule") -> DecisionOutcome:
        self.clock.set(ny(day))
        await self.cycle.refresh(day)
        return await self.cycle.run(day, trigger)  # type: ignore[arg-type]

    def bought(self) -> None:
        """The books after the last decision's execution: each strategy holds its target, priced 60/40 when two."""
        _, targets, _ = self.executor.calls[-1]
        for target in targets:
            symbols = sorted(target.weights)
            values = [Decimal(6000), Decimal(4000)] if len(symbols) == 2 else [Decimal(10_000)]
            self.books[target.name] = dict(zip(symbols, values, strict=False))


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(start=date(2023, 6, 1))


@pytest.fixture
async def rig(tmp_path: Path, cal: TradingCalendar) -> AsyncIterator[Rig]:
    clock = ManualClock(ny(FIRST))
    store = await Store.open(tmp_path / "s.sqlite", clock=clock)
    decisions = DecisionStore(store)
    executor = RecordingExecutor()
    monthly = MomentumEngine("monthly", "0.5", ["SPY", "TLT"])
    monthly.rebalance_rule = MONTHLY
    daily = MomentumEngine("daily", "0.5", ["QQQ", "GLD"])
    books: dict[str, dict[str, Decimal]] = {}

    async def book_values() -> dict[str, dict[str, Decimal]]:
        return {name: dict(book) for name, book in books.items()}

    cycle = DecisionCycle(
        engines=[monthly, daily],
        refresher=BarRefresher(FakeBars(cal), cal, clock),
        decisions=decisions,
        executor=executor,
        clock=clock,
        gate=_open_gate,
        worker_process=False,
        book_values=book_values,
        previous_session=lambda day: cal.previous_session(day).day,
        calendar=cal,
    )
    yield Rig(clock, store, decisions, executor, monthly, daily, books, cycle)
    cycle.close()
    await store.close()


async def test_a_monthly_strategy_is_evaluated_on_its_rebalance_day_only(rig: Rig) -> None:
    first = await rig.decide(FIRST)
    assert first.status == "executed"
    rig.bought()
    assert len(rig.monthly.evaluated_on_thread) == 1 and len(rig.daily.evaluated_on_thread) == 1

    second = await rig.decide(SECOND)
    assert len(rig.monthly.evaluated_on_thread) == 1, "not due: the monthly symphony was not evaluated"
    assert len(rig.daily.evaluated_on_thread) == 2, "a daily symphony is evaluated every session"
    held = next(s for s in second.strategies if s.strategy == "monthly")
    daily = next(s for s in second.strategies if s.strategy == "daily")
    assert held.status == "ok" and held.not_due == "not due; next rebalance 2024-04-01"
    assert daily.not_due is None and daily.to_json()["evaluated"] is True
    assert held.to_json()["evaluated"] is False and held.to_json()["not_due"] == held.not_due
    assert held.trace["rebalance"] == {"rule": "monthly", "action": "hold", "next": "2024-04-01"}
    assert held.trace["evaluated_in"] == first.decision_id
    (symbol,) = rig.books["monthly"]
    assert dict(held.allocation) == {symbol: Decimal(1)}, "its allocation is the book it holds"
    _, targets, _ = rig.executor.calls[-1]
    target = next(t for t in targets if t.name == "monthly")
    assert target.hold and not target.exact and dict(target.weights) == {symbol: Decimal(1)}

    record = await rig.decisions.get(second.decision_id)
    assert record is not None and record.summary["not_due"] == {"monthly": held.not_due}
    stored = next(s for s in record.strategies if s.strategy == "monthly")
    assert stored.not_due == held.not_due, "the note survives the store"

    third = await rig.decide(THIRD)
    assert len(rig.monthly.evaluated_on_thread) == 1
    again = next(s for s in third.strategies if s.strategy == "monthly")
    assert again.trace["evaluated_in"] == first.decision_id, "still points at the evaluation the book came from"

    # /status's decisions section and the dashboard's Strategies page say so, with the evaluated logic tree
    last = (await rig.decisions.last_per_strategy())["monthly"]
    assert last["not_due"] == "not due; next rebalance 2024-04-01" and last["evaluated_in"] == first.decision_id
    assert (await rig.decisions.last_per_strategy())["daily"]["not_due"] is None
    view = await strategy_view(rig.store, "monthly", Decimal("0.5"))
    assert view.not_due == "not due; next rebalance 2024-04-01" and view.status == "ok"
    assert view.decision_id == third.decision_id and view.tree == (), "the fake's trace has no steps"

    # ... and so does ``explain --last``
    text = render_decision(record.to_json())
    assert f"not due; next rebalance 2024-04-01: not evaluated, its book drifts (holding {symbol} 1)" in text


async def test_the_first_session_of_the_next_month_evaluates_and_trades_it_exactly(rig: Rig) -> None:
    await rig.decide(date(2024, 3, 28))  # no book yet: built on its first decision, whatever the day
    rig.bought()
    assert len(rig.monthly.evaluated_on_thread) == 1
    await rig.decide(APRIL)  # 29 March 2024 is Good Friday: 1 April follows 28 March
    assert len(rig.monthly.evaluated_on_thread) == 2
    _, targets, _ = rig.executor.calls[-1]
    assert next(t for t in targets if t.name == "monthly").exact


async def test_an_evaluation_failing_on_a_day_it_is_not_due_cannot_fail_the_decision(rig: Rig) -> None:
    await rig.decide(FIRST)
    rig.bought()
    rig.monthly.fail_with = "rsi(SPY) unavailable"
    rig.daily.fail_with = "rsi(QQQ) unavailable"
    outcome = await rig.decide(SECOND)
    # Before issue 16 both strategies were evaluated, both failed closed and the decision failed
    # ("every strategy failed closed"); now the monthly one is not due and holds its book.
    assert outcome.status != "failed", outcome.reason
    monthly = next(s for s in outcome.strategies if s.strategy == "monthly")
    daily = next(s for s in outcome.strategies if s.strategy == "daily")
    assert monthly.status == "ok" and monthly.not_due is not None
    assert daily.status == "failed_closed", "a daily symphony is still evaluated and fails closed"
    assert "rsi(SPY)" not in (outcome.reason or "")


async def test_a_manual_decision_evaluates_every_strategy_and_trades_calendar_ones_to_target(rig: Rig) -> None:
    await rig.decide(FIRST)
    rig.bought()
    outcome = await rig.decide(SECOND, "manual")
    assert len(rig.monthly.evaluated_on_thread) == 2
    monthly = next(s for s in outcome.strategies if s.strategy == "monthly")
    assert monthly.not_due is None and monthly.trace["rebalance"] == {"rule": "monthly", "action": "full"}
    _, targets, trigger = rig.executor.calls[-1]
    assert trigger == "manual" and next(t for t in targets if t.name == "monthly").exact
    # the next scheduled session is not due again: the manual rebalance does not move the calendar
    await rig.decide(THIRD)
    assert len(rig.monthly.evaluated_on_thread) == 2


@pytest.mark.parametrize(
    ("rule", "evaluations"),
    [
        (RebalanceRule(RebalanceFrequency.NONE, 0.05), 3),  # a corridor is checked every session
        (RebalanceRule(RebalanceFrequency.NONE), 3),  # :none trades on a selection change: checked every session
        (RebalanceRule(RebalanceFrequency.DAILY), 3),
        (RebalanceRule(RebalanceFrequency.WEEKLY), 2),  # 1 March (Fri) and 4 March (Mon, a new ISO week)
        (RebalanceRule(RebalanceFrequency.QUARTERLY), 1),
    ],
)
async def test_which_rules_are_evaluated_every_session(rig: Rig, rule: RebalanceRule, evaluations: int) -> None:
    rig.monthly.rebalance_rule = rule
    for day in (FIRST, SECOND, THIRD):
        await rig.decide(day)
        rig.bought()
    assert len(rig.monthly.evaluated_on_thread) == evaluations
