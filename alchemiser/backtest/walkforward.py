"""Walk-forward view: the backtest period split into consecutive windows, metrics per window.

One long backtest gives one number; the same strategy measured on consecutive, non-overlapping windows shows
whether that number is stable or carried by a single lucky stretch. Windows hold (almost) equal numbers of
sessions; each window's returns start from the equity at the previous window's last close, so the windows' total
returns compound exactly to the whole period's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from alchemiser.backtest.metrics import Metrics, compute_metrics
from alchemiser.errors import DataError

MIN_SESSIONS_PER_WINDOW = 2


@dataclass(frozen=True)
class Window:
    """One walk-forward window: its number (1-based), first and last session, and metrics."""

    number: int
    start: date
    end: date
    metrics: Metrics
    benchmark: Metrics | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "metrics": self.metrics.to_dict(),
            "benchmark": None if self.benchmark is None else self.benchmark.to_dict(),
        }


def split_windows(sessions: pd.DatetimeIndex, count: int) -> list[tuple[int, int]]:
    """``count`` consecutive windows over ``sessions`` as (first, last) positions, inclusive, sizes within one."""
    if count < 1:
        raise DataError(f"walk-forward needs at least 1 window, got {count}")
    total = len(sessions)
    if total < count * MIN_SESSIONS_PER_WINDOW:
        raise DataError(
            f"walk-forward: {count} windows need at least {count * MIN_SESSIONS_PER_WINDOW} sessions, "
            f"the backtest has {total}"
        )
    edges = np.linspace(0, total, count + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1]) - 1) for i in range(count)]


def _slice_by_date(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    dates = pd.to_datetime(frame["date"])
    return frame.loc[(dates >= start) & (dates <= end)]


def walk_forward(
    equity: pd.Series,
    count: int,
    *,
    initial_equity: float,
    weights: pd.DataFrame | None = None,
    trades: pd.DataFrame | None = None,
    contributions: pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    risk_free_rate: float = 0.0,
) -> list[Window]:
    """Metrics of each of ``count`` consecutive windows (see ``compute_metrics`` for the inputs).

    ``trades`` must carry a ``date`` column; ``benchmark`` is a benchmark equity curve over the same sessions.
    """
    index = pd.DatetimeIndex(equity.index)
    windows: list[Window] = []
    for number, (first, last) in enumerate(split_windows(index, count), start=1):
        start, end = index[first], index[last]
        base = initial_equity if first == 0 else float(equity.iloc[first - 1])
        bench_metrics: Metrics | None = None
        if benchmark is not None:
            bench = benchmark.loc[(benchmark.index >= start) & (benchmark.index <= end)]
            before = benchmark.loc[benchmark.index < start]
            if len(bench):
                bench_base = float(before.iloc[-1]) if len(before) else float(bench.iloc[0])
                bench_metrics = compute_metrics(bench, initial_equity=bench_base, risk_free_rate=risk_free_rate)
        windows.append(
            Window(
                number=number,
                start=start.date(),
                end=end.date(),
                metrics=compute_metrics(
                    equity.iloc[first : last + 1],
                    initial_equity=base,
                    weights=None if weights is None else weights.iloc[first : last + 1],
                    trades=None if trades is None else _slice_by_date(trades, start, end),
                    contributions=None if contributions is None else contributions.iloc[first : last + 1],
                    risk_free_rate=risk_free_rate,
                ),
                benchmark=bench_metrics,
            )
        )
    return windows
