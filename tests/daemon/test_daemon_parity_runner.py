"""The parity runner: alerts past the thresholds, failures counted and contained, the /status section, a reload."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry

from alchemiser.clock import ManualClock
from alchemiser.config import ParitySettings
from alchemiser.daemon.parity import ParityMetrics, ParityRunner
from alchemiser.errors import DataError
from alchemiser.notify.events import ParityAlert
from alchemiser.parity.flips import BarChange, Flip
from alchemiser.parity.monitor import SessionResult
from alchemiser.parity.replay import StrategyReplay
from alchemiser.store.decisions import StrategyDecision
from alchemiser.trading.decision_ports import DecisionOutcome
from tests.parity.factories import order, run, session

DAY = date(2024, 3, 5)


class Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, event: Any) -> None:
        self.events.append(event)


class StubMonitor:
    """Stands in for ``ParityMonitor``: one prepared outcome (a result, or an exception to raise) per ready session."""

    def __init__(self, settings: ParitySettings, outcomes: list[SessionResult | Exception]) -> None:
        self.settings = settings
        self.symbols = ["SPY"]
        self._outcomes = {DAY + timedelta(days=k): o for k, o in enumerate(outcomes)}
        self.calls: list[tuple[str, Mapping[str, Sequence[tuple[date, float]]]]] = []

    async def record_decision(self, decision_id: str, closes: Mapping[str, Sequence[tuple[date, float]]]) -> list[date]:
        self.calls.append((decision_id, closes))
        return sorted(self._outcomes)

    async def settle(self, session: date) -> SessionResult | None:
        outcome = self._outcomes[session]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _result(*, gap: str, drift: bool) -> SessionResult:
    live = session(
        orders=(order("SPY", "buy", "40", "40", "247.00", "247.10"),),
        previous_closes={"SPY": "246.50"},
        closes={"SPY": "249.00"},
        live_targets={"SPY": "0.99"},
    )
    _, attribution = run(live)
    replay = StrategyReplay(
        "switch",
        not drift,
        {"QQQ": Decimal(1)},
        {"GLD": Decimal(1)} if drift else {"QQQ": Decimal(1)},
        (Flip("switch.clj:2:3", "if", "", "then", "else"),) if drift else (),
        (BarChange("QQQ", DAY, "revised", 400.0, 380.0),) if drift else (),
    )
    return SessionResult(DAY, attribution, (replay,), Decimal(gap))


def _runner(monitor: StubMonitor, sink: Sink) -> ParityRunner:
    clock = ManualClock(datetime(2024, 3, 6, tzinfo=UTC))
    metrics = ParityMetrics(CollectorRegistry())
    return ParityRunner(monitor, metrics, sink, clock, lambda symbols, day: {"SPY": [(day, 1.0)]})  # type: ignore[arg-type]


def _outcome() -> DecisionOutcome:
    return DecisionOutcome("D20240306", "executed", None, (StrategyDecision("core", Decimal(1), "ok"),))


async def test_tracking_error_and_data_drift_past_their_thresholds_are_notified() -> None:
    sink = Sink()
    settings = ParitySettings(tracking_error_alert_bps=50, data_drift_alert_count=1)
    runner = _runner(StubMonitor(settings, [_result(gap="-900", drift=True)]), sink)
    await runner.on_decision(_outcome(), date(2024, 3, 6), "schedule")
    await asyncio.gather(*runner._tasks)  # the background task the listener started
    kinds = [e.what for e in sink.events if isinstance(e, ParityAlert)]
    assert kinds == ["tracking_error", "data_drift"]
    drift = next(e for e in sink.events if e.what == "data_drift")
    assert "then -> else" in drift.message and "QQQ: close of 2024-03-05 revised" in drift.message
    status = runner.status()
    assert status["sessions_settled"] == 1 and status["data_drift_events"] == 1 and status["gap"] == "-900"
    assert runner.metrics.tracking_error._value.get() > 50  # type: ignore[attr-defined]


async def test_below_the_thresholds_nothing_is_notified() -> None:
    sink = Sink()
    runner = _runner(StubMonitor(ParitySettings(tracking_error_alert_bps=500), [_result(gap="-5", drift=False)]), sink)
    await runner.run("D20240306", date(2024, 3, 6))
    assert sink.events == [] and runner.settled == 1


async def test_a_failing_session_is_counted_and_does_not_stop_the_next() -> None:
    sink = Sink()
    monitor = StubMonitor(ParitySettings(), [DataError("the data API is down"), _result(gap="-5", drift=False)])
    runner = _runner(monitor, sink)
    await runner.run("D20240306", date(2024, 3, 6))  # does not raise
    assert runner.failures == 1 and runner.settled == 1 and sink.events == []
    assert runner.metrics.failures._value.get() == 1  # type: ignore[attr-defined]
    assert monitor.calls[0][1] == {"SPY": [(date(2024, 3, 6), 1.0)]}  # the decision's own bars were handed over
