"""Walk-forward windows: consecutive, covering, compounding to the whole period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.metrics import compute_metrics
from alchemiser.backtest.walkforward import split_windows, walk_forward
from alchemiser.errors import DataError


def _equity(n: int, seed: int = 7) -> pd.Series:
    rng = np.random.default_rng(seed)
    values = 100.0 * np.cumprod(1.0 + rng.normal(0.0005, 0.01, n))
    return pd.Series(values, index=pd.bdate_range("2020-01-01", periods=n))


def test_split_windows_are_consecutive_and_cover_every_session() -> None:
    idx = pd.bdate_range("2020-01-01", periods=10)
    spans = split_windows(idx, 3)
    assert spans == [(0, 2), (3, 6), (7, 9)]
    covered = [i for a, b in spans for i in range(a, b + 1)]
    assert covered == list(range(10))


def test_split_windows_rejects_bad_counts_with_a_clear_message() -> None:
    idx = pd.bdate_range("2020-01-01", periods=5)
    with pytest.raises(DataError, match="at least 1 window"):
        split_windows(idx, 0)
    with pytest.raises(DataError, match="3 windows need at least 6 sessions, the backtest has 5"):
        split_windows(idx, 3)


def test_window_returns_compound_to_the_whole_period() -> None:
    eq = _equity(300)
    windows = walk_forward(eq, 4, initial_equity=100.0)
    assert [w.number for w in windows] == [1, 2, 3, 4]
    growth = np.prod([1.0 + w.metrics.total_return for w in windows])
    whole = compute_metrics(eq, initial_equity=100.0)
    assert growth - 1.0 == pytest.approx(whole.total_return)
    assert windows[0].start == eq.index[0].date()
    assert windows[-1].end == eq.index[-1].date()
    assert sum(w.metrics.sessions for w in windows) == 300
    # the second window starts from the first window's last close
    assert windows[1].metrics.start_equity == pytest.approx(float(eq.iloc[windows[0].metrics.sessions - 1]))


def test_window_slices_trades_weights_contributions_and_benchmark() -> None:
    eq = _equity(20)
    trades = pd.DataFrame({"date": [eq.index[0], eq.index[1], eq.index[15]], "notional": [100.0, 20.0, 30.0]})
    weights = pd.DataFrame({"A": [1.0] * 10 + [0.0] * 10}, index=eq.index)
    contributions = pd.DataFrame({"s": [0.01] * 20}, index=eq.index)
    bench = pd.Series(np.linspace(100.0, 120.0, 20), index=eq.index)
    first, second = walk_forward(
        eq,
        2,
        initial_equity=100.0,
        weights=weights,
        trades=trades,
        contributions=contributions,
        benchmark=bench,
    )
    assert first.metrics.trades == 2
    assert second.metrics.trades == 1
    assert first.metrics.exposure == pytest.approx(1.0)
    assert second.metrics.exposure == pytest.approx(0.0)
    assert first.metrics.contributions["s"] == pytest.approx(0.10)
    assert first.benchmark is not None and second.benchmark is not None
    assert second.benchmark.total_return == pytest.approx(bench.iloc[19] / bench.iloc[9] - 1.0)
    d = second.to_dict()
    assert d["number"] == 2
    assert d["benchmark"]["sessions"] == 10
