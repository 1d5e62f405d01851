"""The decision cycle and the scheduler actor on a manual clock, a real store and a real bar refresher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from alchemiser.clock import ManualClock
from alchemiser.errors import BrokerTransientError, StoreError
from alchemiser.notify.events import DecisionSkipped, Failure, RunSummary
from alchemiser.store import Store
from alchemiser.store.decisions import DecisionStore
from alchemiser.trading.data_refresh import BarRefresher
from alchemiser.trading.decision import DecisionCycle
from alchemiser.trading.decision_ports import GateResult
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from alchemiser.trading.scheduler import SchedulerActor
from tests.daemon.fakes import FakeBars, MomentumEngine, RecordingExecutor

SESSION = date(2024, 3, 5)


def ny(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), NEW_YORK).astimezone(UTC)


class Events:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def publish(self, event: Any) -> None:
        self.items.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)]


@dataclass
class Rig:
    clock: ManualClock
    cal: TradingCalendar
    bars: FakeBars
    refresher: BarRefresher
    decisions: DecisionStore
    executor: RecordingExecutor
    engines: list[MomentumEngine]
    events: Events
    gate_reasons: list[str]
    cycle: DecisionCycle


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(start=date(2023, 6, 1))


@pytest.fixture
async def rig(tmp_path: Path, cal: TradingCalendar) -> AsyncIterator[Rig]:
    clock = ManualClock(ny(SESSION, 15, 30))
    store = await Store.open(tmp_path / "s.sqlite", clock=clock)
    bars = FakeBars(cal)
    refresher = BarRefresher(bars, cal, clock)
    decisions = DecisionStore(store)
    executor = RecordingExecutor()
    engines = [MomentumEngine("alpha", "0.6", ["SPY", "TLT"]), MomentumEngine("beta", "0.4", ["QQQ", "GLD"])]
    events = Events()
    gate_reasons: list[str] = []

    async def gate() -> GateResult:
        return GateResult(not gate_reasons, tuple(gate_reasons))

    cycle = DecisionCycle(
        engines=engines,
        refresher=refresher,
        decisions=decisions,
        executor=executor,
        clock=clock,
        gate=gate,
        notifier=events,
    )
    yield Rig(clock, cal, bars, refresher, decisions, executor, engines, events, gate_reasons, cycle)
    cycle.close()
    await store.close()


async def test_happy_cycle_stores_traces_executes_and_reports(rig: Rig) -> None:
    await rig.cycle.refresh(SESSION)
    asked = {s for call in rig.bars.calls for s in call[0]}
    assert asked == {"SPY", "TLT", "QQQ", "GLD"}  # exactly the symphonies' symbols
    outcome = await rig.cycle.run(SESSION, "schedule")
    assert outcome.status == "executed", outcome.reason
    assert outcome.decision_id == "D20240305"
    record = await rig.decisions.get("D20240305")
    assert record is not None and record.as_of == date(2024, 3, 4) and record.as_of_policy == "previous_close"
    alpha = next(s for s in record.strategies if s.strategy == "alpha")
    assert alpha.status == "ok" and alpha.trace["picked"] in {"SPY", "TLT"}
    assert all(t.startswith("symphony-eval") for e in rig.engines for t in e.evaluated_on_thread)
    _, targets, trigger = rig.executor.calls[0]
    assert trigger == "schedule"
    assert {t.name: t.capital_weight for t in targets} == {"alpha": Decimal("0.6"), "beta": Decimal("0.4")}
    summary = rig.events.of(RunSummary)[0]
    assert summary.decision_id == "D20240305" and len(summary.trades) == 2
    assert summary.trades[0].slippage_bps == Decimal("5.0")


async def test_same_session_is_not_decided_twice(rig: Rig) -> None:
    await rig.cycle.refresh(SESSION)
    await rig.cycle.run(SESSION, "schedule")
    again = await rig.cycle.run(SESSION, "schedule")
    assert again.already_decided and len(rig.executor.calls) == 1


async def test_stale_symbol_fails_only_that_strategy_closed_naming_the_symbol(rig: Rig) -> None:
    rig.bars.lag = {"GLD": 1}
    await rig.cycle.refresh(SESSION)
    outcome = await rig.cycle.run(SESSION, "schedule")
    assert outcome.status == "executed"
    beta = next(s for s in outcome.strategies if s.strategy == "beta")
    assert beta.status == "failed_closed"
    assert beta.fail_reason == "GLD: stale data, last bar 2024-03-01 but 2024-03-04 is needed"
    _, targets, _ = rig.executor.calls[0]
    beta_target = next(t for t in targets if t.name == "beta")
    assert dict(beta_target.weights) == {}  # no previous allocation: nothing bought for it
    assert "GLD: stale data" in (outcome.reason or "")
    assert rig.events.of(RunSummary)[0].failed_closed["beta"].startswith("GLD")


async def test_failed_strategy_keeps_previous_allocation(rig: Rig) -> None:
    await rig.cycle.refresh(SESSION)
    first = await rig.cycle.run(SESSION, "schedule")
    prev = next(s for s in first.strategies if s.strategy == "beta").allocation
    rig.engines[1].fail_with = "division by zero in (rsi QQQ 0)"
    rig.clock.set(ny(date(2024, 3, 6), 15, 30))
    await rig.cycle.refresh(date(2024, 3, 6))
    second = await rig.cycle.run(date(2024, 3, 6), "schedule")
    beta = next(s for s in second.strategies if s.strategy == "beta")
    assert beta.status == "failed_closed" and "division by zero" in (beta.fail_reason or "")
    _, targets, _ = rig.executor.calls[-1]
    assert dict(next(t for t in targets if t.name == "beta").weights) == dict(prev)


async def test_all_strategies_failed_means_no_execution(rig: Rig) -> None:
    rig.bars.fail_symbols = {"SPY", "QQQ"}
    rig.bars.calls.clear()
    refresher_report = await rig.refresher.refresh(["SPY", "TLT", "QQQ", "GLD"], SESSION, 5)
    assert not refresher_report.ok
    outcome = await rig.cycle.run(SESSION, "schedule")
    assert outcome.status == "failed" and "every strategy failed closed" in (outcome.reason or "")
    assert rig.executor.calls == []
    assert rig.events.of(Failure)


async def test_closed_gate_blocks_with_reason(rig: Rig) -> None:
    rig.gate_reasons.append("stream: disconnected for 45s")
    await rig.cycle.refresh(SESSION)
    outcome = await rig.cycle.run(SESSION, "schedule")
    assert outcome.status == "blocked" and "stream: disconnected" in (outcome.reason or "")
    assert rig.executor.calls == []
    record = await rig.decisions.get(outcome.decision_id)
    assert record is not None and record.status == "blocked"


async def test_execution_error_is_recorded_not_raised(rig: Rig) -> None:
    rig.executor.raise_error = BrokerTransientError("503 from /v2/orders", status_code=503)
    await rig.cycle.refresh(SESSION)
    outcome = await rig.cycle.run(SESSION, "schedule")
    assert outcome.status == "failed" and "503" in (outcome.reason or "")
    assert any("503" in f.message for f in rig.events.of(Failure))


async def test_manual_decisions_get_their_own_ids(rig: Rig) -> None:
    await rig.cycle.refresh(SESSION)
    a = await rig.cycle.run(SESSION, "manual")
    rig.clock.advance(60)
    b = await rig.cycle.run(SESSION, "manual")
    assert a.decision_id != b.decision_id and a.decision_id.startswith("M")


async def test_evaluation_runs_off_the_loop(rig: Rig) -> None:
    """While a slow symphony evaluates, the event loop keeps serving other tasks."""
    import threading

    release = threading.Event()
    original = rig.engines[0].evaluate

    def slow(bars: Any, session: date) -> Any:
        release.wait(5)
        return original(bars, session)

    rig.engines[0].evaluate = slow  # type: ignore[method-assign]
    await rig.cycle.refresh(SESSION)
    task = asyncio.create_task(rig.cycle.run(SESSION, "schedule"))
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.005)
        ticks += 1
    assert not task.done() and ticks == 20
    release.set()
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.status == "executed"


def test_cycle_validates_strategies(rig: Rig) -> None:
    with pytest.raises(ValueError, match="duplicate strategy names"):
        DecisionCycle(
            engines=[rig.engines[0], rig.engines[0]],
            refresher=rig.refresher,
            decisions=rig.decisions,
            executor=rig.executor,
            clock=rig.clock,
            gate=lambda: None,  # type: ignore[arg-type,return-value]
        )


# -- scheduler actor ---------------------------------------------------------------------------------------


async def _settle(clock: ManualClock, until: datetime, step: float = 60.0) -> None:
    """Advance the manual clock in steps, letting the loop (and the store's thread) run between them."""
    while clock.now() < until:
        clock.advance(step)
        for _ in range(3):
            await asyncio.sleep(0.002)


async def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_scheduler_refreshes_ahead_then_decides_each_session(rig: Rig) -> None:
    rig.clock.set(ny(date(2024, 3, 8), 12))  # Friday noon
    scheduler = SchedulerActor(rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=30))
    await scheduler.on_start()
    task = asyncio.create_task(scheduler.run())
    await _settle(rig.clock, ny(date(2024, 3, 8), 15, 36))
    assert scheduler.phase == "waiting_decision"
    assert rig.bars.calls, "bars were refreshed before the decision"
    assert rig.executor.calls == []
    await _settle(rig.clock, ny(date(2024, 3, 8), 15, 50))
    await _wait_for(lambda: len(rig.executor.calls) == 1)
    assert [c[0] for c in rig.executor.calls] == ["D20240308"]
    await _wait_for(lambda: scheduler.next_slot is not None and scheduler.next_slot.day != date(2024, 3, 8))
    assert scheduler.next_slot is not None and scheduler.next_slot.day == date(2024, 3, 11)  # over the weekend
    await _settle(rig.clock, ny(date(2024, 3, 11), 15, 50), step=600)
    await _wait_for(lambda: len(rig.executor.calls) == 2)
    assert [c[0] for c in rig.executor.calls] == ["D20240308", "D20240311"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_scheduler_runs_missed_decision_late_inside_window(rig: Rig) -> None:
    rig.clock.set(ny(SESSION, 15, 55))
    scheduler = SchedulerActor(rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=30))
    await scheduler.on_start()
    assert [(c[0], c[2]) for c in rig.executor.calls] == [("D20240305", "late")]


async def test_scheduler_runs_daily_housekeeping_after_the_decision_and_survives_its_failure(rig: Rig) -> None:
    rig.clock.set(ny(SESSION, 15, 55))
    calls: list[int] = []

    async def housekeeping() -> None:
        calls.append(len(rig.executor.calls))  # how many decisions had executed when it ran
        raise StoreError("disk full")

    scheduler = SchedulerActor(
        rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=30), after_decision=housekeeping
    )
    await scheduler.on_start()  # the late decision, then the housekeeping; its failure is logged, not raised
    assert calls == [1]
    record = await rig.decisions.get("D20240305")
    assert record is not None and record.status == "executed"


async def test_scheduler_skips_and_reports_beyond_window(rig: Rig) -> None:
    rig.clock.set(ny(SESSION, 15, 55))
    scheduler = SchedulerActor(
        rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=5), notifier=rig.events
    )
    await scheduler.on_start()
    assert rig.executor.calls == []
    record = await rig.decisions.get("D20240305")
    assert record is not None and record.status == "skipped" and "beyond the late window" in (record.reason or "")
    skipped = rig.events.of(DecisionSkipped)
    assert skipped and skipped[0].session == "2024-03-05"
    # A restart does not report it twice.
    again = SchedulerActor(
        rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=5), notifier=rig.events
    )
    await again.on_start()
    assert len(rig.events.of(DecisionSkipped)) == 1


async def test_scheduler_does_nothing_at_start_when_already_decided(rig: Rig) -> None:
    await rig.cycle.refresh(SESSION)
    await rig.cycle.run(SESSION, "schedule")
    rig.clock.set(ny(SESSION, 15, 50))
    scheduler = SchedulerActor(rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=30))
    await scheduler.on_start()
    assert len(rig.executor.calls) == 1


async def test_live_as_of_policy_appends_a_provisional_bar(rig: Rig) -> None:
    seen: dict[str, float] = {}

    async def live(symbols: Any) -> dict[str, float]:
        return {s: 500.0 for s in symbols if s != "GLD"}

    original = rig.engines[0].evaluate

    def spy(bars: Any, session: date) -> Any:
        seen.update({s: series[-1].c for s, series in bars.items()})
        assert all(series[-1].session_date == session for series in bars.values())
        return original(bars, session)

    rig.engines[0].evaluate = spy  # type: ignore[method-assign]
    cycle = DecisionCycle(
        engines=rig.engines,
        refresher=rig.refresher,
        decisions=rig.decisions,
        executor=rig.executor,
        clock=rig.clock,
        gate=_open_gate,
        as_of_policy="live",
        live_prices=live,
    )
    await cycle.refresh(SESSION)
    outcome = await cycle.run(SESSION, "schedule")
    cycle.close()
    assert seen == {"SPY": 500.0, "TLT": 500.0}
    record = await rig.decisions.get(outcome.decision_id)
    assert record is not None and record.as_of == SESSION and record.as_of_policy == "live"
    beta = next(s for s in record.strategies if s.strategy == "beta")
    assert beta.status == "failed_closed" and beta.fail_reason == "GLD: no live price"
    with pytest.raises(ValueError, match="unknown as-of policy"):
        DecisionCycle(
            engines=rig.engines, refresher=rig.refresher, decisions=rig.decisions, executor=rig.executor,
            clock=rig.clock, gate=_open_gate, as_of_policy="tomorrow",
        )  # fmt: skip


async def _open_gate() -> GateResult:
    return GateResult(True)


async def test_scheduler_retries_a_failed_refresh_before_the_decision(rig: Rig) -> None:
    rig.clock.set(ny(SESSION, 15, 34))
    rig.bars.fail_symbols = {"GLD"}
    scheduler = SchedulerActor(
        rig.cycle, rig.cal, rig.decisions, rig.clock, late_window=timedelta(minutes=30), notifier=rig.events
    )
    task = asyncio.create_task(scheduler.run())
    await _settle(rig.clock, ny(SESSION, 15, 36), step=30)
    await _wait_for(lambda: len(rig.bars.calls) >= 1)
    assert rig.bars.calls and not rig.executor.calls
    rig.bars.fail_symbols = set()  # Alpaca answers again
    await _settle(rig.clock, ny(SESSION, 15, 50), step=30)
    await _wait_for(lambda: len(rig.executor.calls) == 1)
    record = await rig.decisions.get("D20240305")
    assert record is not None and all(s.status == "ok" for s in record.strategies)
    assert len(rig.bars.calls) >= 2  # retried
    assert not [e for e in rig.events.of(Failure) if "incomplete" in e.message]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
