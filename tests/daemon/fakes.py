"""Small stand-ins used by the daemon unit tests: Alpaca's bar endpoint, a symphony, and execution's face."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from alchemiser.broker.models import Bar
from alchemiser.dsl.rebalance import RebalanceRule
from alchemiser.errors import RateLimitedError, StrategyError
from alchemiser.portfolio.planner import StrategyTarget
from alchemiser.trading.decision_ports import ExecutedLine, ExecutionOutcome
from alchemiser.trading.evaluation import Evaluation
from alchemiser.trading.schedule import TradingCalendar

NY = ZoneInfo("America/New_York")


def bar(day: date, close: float) -> Bar:
    t = datetime.combine(day, time(0), NY).astimezone(UTC)
    return Bar(t=t, o=close, h=close, l=close, c=close, v=1000)


class FakeBars:
    """Stands in for Alpaca's bars endpoint: serves every session in range; can fail or lag per symbol."""

    def __init__(self, calendar: TradingCalendar) -> None:
        self.calendar = calendar
        self.calls: list[tuple[tuple[str, ...], date, date]] = []
        self.fail_symbols: set[str] = set()
        self.lag: dict[str, int] = {}  # symbol → sessions missing at the end
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        self.calls.append((tuple(symbols), start, end))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail_symbols & set(symbols):
                raise RateLimitedError("429 too many requests", status_code=429)
            sessions = [s.day for s in self.calendar.sessions_between(start, end)]
            out: dict[str, list[Bar]] = {}
            for symbol in symbols:
                days = sessions[: len(sessions) - self.lag.get(symbol, 0)]
                out[symbol] = [bar(d, 100 + i) for i, d in enumerate(days)]
            return out
        finally:
            self.in_flight -= 1


class MomentumEngine:
    """A tiny symphony: all in the symbol whose last close rose most over ``lookback`` bars."""

    def __init__(self, name: str, weight: str, symbols: Sequence[str], lookback: int = 5) -> None:
        self.name = name
        self.capital_weight = Decimal(weight)
        self.rebalance_threshold: Decimal | None = None
        self.rebalance_rule = RebalanceRule()
        self.symbols = frozenset(symbols)
        self.lookback = lookback
        self.warmup = lookback * 2
        self.fail_with: str | None = None
        self.block: asyncio.Event | None = None
        self.evaluated_on_thread: list[str] = []

    def evaluate(self, bars: Mapping[str, Sequence[Bar]], session: date) -> Evaluation:
        import threading

        self.evaluated_on_thread.append(threading.current_thread().name)
        if self.fail_with:
            raise StrategyError(self.fail_with)
        scores = {s: bars[s][-1].c / bars[s][-self.lookback].c for s in sorted(self.symbols)}
        best = max(scores, key=lambda s: scores[s])
        return Evaluation({best: Decimal(1)}, {"scores": scores, "session": session.isoformat(), "picked": best})


class RecordingExecutor:
    """Stands in for execution's face: records the targets, reports every line filled at the reference price."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[StrategyTarget], str]] = []
        self.raise_error: Exception | None = None

    async def execute_targets(
        self, decision_id: str, targets: Sequence[StrategyTarget], *, trigger: str
    ) -> ExecutionOutcome:
        self.calls.append((decision_id, list(targets), trigger))
        if self.raise_error is not None:
            raise self.raise_error
        lines = tuple(
            ExecutedLine(s, "buy", Decimal(1), Decimal(1), Decimal("100.05"), Decimal("100.00"), "filled")
            for t in targets
            for s in t.weights
        )
        return ExecutionOutcome(status="completed", ok=True, lines=lines, plan={"targets": len(targets)})
