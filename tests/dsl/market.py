"""Hand-made price series for DSL tests (no files, no randomness unless asked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from alchemiser.data import PriceMatrix

START = np.datetime64("2020-01-01")


def business_days(n: int, start: np.datetime64 = START) -> np.ndarray:
    """n weekdays from ``start`` (a stand-in trading calendar)."""
    days = np.arange(start, start + np.timedelta64(n * 2 + 10, "D"), dtype="datetime64[D]")
    weekdays = days[np.is_busday(days)]
    return weekdays[:n]


def cycle(n: int, *returns: float, start: float = 100.0) -> np.ndarray:
    """Closes whose daily returns repeat ``returns`` (e.g. cycle(n, 0.02, -0.01)); ``cycle(n)`` is flat."""
    rets = [0.0] if not returns else list(returns)
    out = np.empty(n)
    price = start
    for i in range(n):
        if i:
            price *= 1.0 + rets[(i - 1) % len(rets)]
        out[i] = price
    return out


def matrix(n: int, series: Mapping[str, Sequence[float] | np.ndarray], dates: np.ndarray | None = None) -> PriceMatrix:
    d = business_days(n) if dates is None else dates
    return PriceMatrix.from_columns({sym: (d, np.asarray(v, dtype=float)) for sym, v in series.items()})
