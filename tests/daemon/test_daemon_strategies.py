"""Symphony engines over real reference symphonies and synthetic bars."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.broker.models import Bar
from alchemiser.config import StrategyEntry
from alchemiser.errors import StrategyError
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from alchemiser.trading.strategies import SymphonyEngine, load_engines


def _bars(cal: TradingCalendar, symbols: frozenset[str], end: date, count: int) -> dict[str, list[Bar]]:
    sessions = [s.day for s in cal.sessions_between(end - timedelta(days=count * 2), end)][-count:]
    out: dict[str, list[Bar]] = {}
    for k, symbol in enumerate(sorted(symbols)):
        series = []
        for i, day in enumerate(sessions):
            price = 50 + 10 * math.sin(i / (7 + k)) + i * 0.01 * (k % 5)
            t = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
            series.append(Bar(t=t, o=price, h=price, l=price, c=price, v=1000))
        out[symbol] = series
    return out


def test_reference_symphony_evaluates_with_trace(reference_strategies_dir: Path) -> None:
    cal = TradingCalendar(start=date(2020, 1, 1))
    engine = SymphonyEngine.from_entry(StrategyEntry(file=reference_strategies_dir / "nuclear.clj", weight=1.0))
    assert engine.name == "nuclear" and engine.symbols and engine.warmup >= engine.lookback
    bars = _bars(cal, engine.symbols, date(2024, 3, 4), engine.warmup + 5)
    result = engine.evaluate(bars, date(2024, 3, 5))
    assert sum(result.allocation.values()) <= Decimal(1)
    assert sum(result.allocation.values()) > Decimal("0.999999")
    assert result.trace["asof"] == "2024-03-04" and result.trace["decision_session"] == "2024-03-05"
    assert result.trace["steps"]


def test_missing_history_is_a_strategy_error(reference_strategies_dir: Path) -> None:
    cal = TradingCalendar(start=date(2020, 1, 1))
    engine = SymphonyEngine.from_entry(StrategyEntry(file=reference_strategies_dir / "nuclear.clj", weight=1.0))
    bars = _bars(cal, engine.symbols, date(2024, 3, 4), 3)
    with pytest.raises(StrategyError, match=r"nuclear on 2024-03-04"):
        engine.evaluate(bars, date(2024, 3, 5))


def test_broken_file_and_duplicate_names(tmp_path: Path) -> None:
    bad = tmp_path / "bad.clj"
    bad.write_text('(defsymphony "x" {} (asset "SPY"')
    with pytest.raises(StrategyError, match=r"bad\.clj"):
        load_engines([StrategyEntry(file=bad, weight=1.0)])
    a = tmp_path / "a"
    a.mkdir()
    (a / "s.clj").write_text('(defsymphony "x" {} (asset "SPY" "S&P"))')
    (tmp_path / "s.clj").write_text('(defsymphony "y" {} (asset "TLT" "bonds"))')
    with pytest.raises(StrategyError, match="share the name"):
        load_engines([StrategyEntry(file=a / "s.clj", weight=0.5), StrategyEntry(file=tmp_path / "s.clj", weight=0.5)])
