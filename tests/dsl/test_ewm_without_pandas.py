"""Long EMAs without pandas (the symphony worker does not import it) give pandas' floats bit for bit."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemiser.dsl import indicators
from alchemiser.dsl.indicators import ewm_mean_like_pandas

ALPHAS = [2.0 / (window + 1.0) for window in (2, 3, 9, 10, 12, 20, 26, 50, 200)] + [1.0 / w for w in (2, 7, 14, 60)]


def pandas_ewm(x: np.ndarray, alpha: float) -> np.ndarray:  # type: ignore[type-arg]
    return pd.Series(x).ewm(alpha=alpha, adjust=False).mean().to_numpy(dtype=np.float64)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("kind", ["prices", "gains", "flat stretches"])
def test_the_loop_matches_pandas_exactly(alpha: float, kind: str) -> None:
    rng = np.random.default_rng(int(alpha * 1e6))
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 1500)))
    if kind == "gains":  # RSI's input: many exact zeros
        x = np.maximum(np.diff(x, prepend=x[0]), 0.0)
    if kind == "flat stretches":  # pandas keeps the mean unchanged on a repeated value
        x = np.round(x, 1)
        x[300:500] = x[300]
    assert np.array_equal(ewm_mean_like_pandas(x, alpha), pandas_ewm(x, alpha))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(min_value=1e-4, max_value=1e6), min_size=256, max_size=600),
    alpha=st.floats(min_value=1e-3, max_value=1.0),
)
def test_any_series_and_alpha(values: list[float], alpha: float) -> None:
    x = np.array(values, dtype=np.float64)
    assert np.array_equal(ewm_mean_like_pandas(x, alpha), pandas_ewm(x, alpha))


def test_indicators_take_the_loop_when_pandas_is_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    x = 100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.02, 800)))
    expected = pandas_ewm(x, 2.0 / 13.0)
    calls: list[int] = []

    def spy(series: np.ndarray, alpha: float) -> np.ndarray:  # type: ignore[type-arg]
        calls.append(len(series))
        return ewm_mean_like_pandas(series, alpha)

    monkeypatch.setattr(indicators, "ewm_mean_like_pandas", spy)
    monkeypatch.delitem(sys.modules, "pandas")  # as in the symphony worker (restored after the call)
    result = indicators._ema(x, 2.0 / 13.0)
    monkeypatch.undo()
    assert calls == [800] and np.array_equal(result, expected)
