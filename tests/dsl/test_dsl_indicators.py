"""Indicators (dsl.md §3) against slow, independent per-date calculations on small hand-made series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alchemiser.data import PriceMatrix
from alchemiser.dsl import evaluate, indicators, parse_symphony
from alchemiser.dsl.ast import IndicatorName, Metric


def metric(name: IndicatorName, **params: int) -> Metric:
    return Metric(name, tuple(sorted((k.replace("_", "-"), v) for k, v in params.items())))


PRICES = np.array([10.0, 10.5, 10.2, 10.8, 11.0, 10.7, 10.9, 11.4, 11.1, 11.6, 11.5, 12.0, 11.8, 12.3, 12.1])


def slow_rsi(p: list[float], n: int) -> float:
    """Wilder RSI as dsl.md words it, one date at a time, from the first bar of the history."""
    ag = al = 0.0
    for t in range(len(p)):
        d = 0.0 if t == 0 else p[t] - p[t - 1]
        g, loss = max(d, 0.0), max(-d, 0.0)
        if t == 0:
            ag, al = g, loss
        else:
            ag = (1 - 1 / n) * ag + g / n
            al = (1 - 1 / n) * al + loss / n
    if al == 0:
        return 100.0 if ag > 0 else 50.0
    return 100 - 100 / (1 + ag / al)


def slow_ema(p: list[float], alpha: float) -> float:
    y = p[0]
    for x in p[1:]:
        y = (1 - alpha) * y + alpha * x
    return y


def expected(name: str, p: list[float], **k: int) -> float:
    """Value on the last bar of ``p`` or NaN when there are too few bars."""
    n = k.get("window", 0)
    r = [p[i] / p[i - 1] - 1 for i in range(1, len(p))]
    if name == "current-price":
        return p[-1]
    if name == "rsi":
        return slow_rsi(p, n) if len(p) >= n + 1 else math.nan
    if name == "moving-average-price":
        return sum(p[-n:]) / n if len(p) >= n else math.nan
    if name == "exponential-moving-average-price":
        return slow_ema(p, 2 / (n + 1)) if len(p) >= n else math.nan
    if name == "moving-average-return":
        return sum(r[-n:]) / n * 100 if len(p) >= n + 1 else math.nan
    if name == "cumulative-return":
        return (p[-1] / p[-1 - n] - 1) * 100 if len(p) >= n + 1 else math.nan
    if name == "stdev-return":
        if len(p) < n + 1:
            return math.nan
        xs = [100 * x for x in r[-n:]]
        m = sum(xs) / n
        return math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else math.nan
    if name == "stdev-price":
        if len(p) < n or n < 2:
            return math.nan
        xs = p[-n:]
        m = sum(xs) / n
        return math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    if name == "max-drawdown":
        if len(p) < n:
            return math.nan
        xs, peak, worst = p[-n:], -math.inf, 0.0
        for x in xs:
            peak = max(peak, x)
            worst = max(worst, 1 - x / peak)
        return worst * 100
    a, b = k["short_window"], k["long_window"]
    ppo = [
        (slow_ema(p[: i + 1], 2 / (a + 1)) - slow_ema(p[: i + 1], 2 / (b + 1)))
        / slow_ema(p[: i + 1], 2 / (b + 1))
        * 100
        for i in range(len(p))
    ]
    if name == "percentage-price-oscillator":
        return ppo[-1] if len(p) >= b else math.nan
    c = k["smooth_window"]
    return slow_ema(ppo, 2 / (c + 1)) if len(p) >= b + c else math.nan


CASES = [
    ("current-price", {}),
    ("rsi", {"window": 3}),
    ("rsi", {"window": 10}),
    ("moving-average-price", {"window": 4}),
    ("exponential-moving-average-price", {"window": 5}),
    ("moving-average-return", {"window": 3}),
    ("cumulative-return", {"window": 5}),
    ("stdev-return", {"window": 4}),
    ("stdev-price", {"window": 5}),
    ("max-drawdown", {"window": 6}),
    ("percentage-price-oscillator", {"short_window": 3, "long_window": 6}),
    ("percentage-price-oscillator-signal", {"short_window": 3, "long_window": 6, "smooth_window": 4}),
]


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_indicator_matches_slow_calculation_on_every_date(name: str, params: dict[str, int]) -> None:
    got = indicators.compute(metric(IndicatorName(name), **params), PRICES)
    for t in range(len(PRICES)):
        want = expected(name, list(PRICES[: t + 1]), **params)
        if math.isnan(want):
            assert math.isnan(got[t]), f"{name} should be unavailable at bar {t}"
        else:
            assert got[t] == pytest.approx(want, rel=1e-12, abs=1e-12), f"{name} at bar {t}"


def test_rsi_seeding_uses_zero_gain_and_loss_on_first_bar() -> None:
    # Two bars, window 1: G0 = L0 = 0 then α = 1 → AG = gain of bar 1.
    got = indicators.compute(metric(IndicatorName.RSI, window=1), np.array([10.0, 11.0]))
    assert math.isnan(got[0])
    assert got[1] == 100.0
    # window 2: AG = 0.5*0 + 0.5*1 = 0.5, AL = 0 → 100; then a loss of 1: AG 0.25, AL 0.5 → 33.33
    got = indicators.compute(metric(IndicatorName.RSI, window=2), np.array([10.0, 11.0, 10.0]))
    assert got[2] == pytest.approx(100 - 100 / (1 + 0.25 / 0.5))


def test_rsi_flat_history_is_50_and_pure_rise_is_100_and_pure_fall_is_0() -> None:
    m = metric(IndicatorName.RSI, window=3)
    assert indicators.compute(m, np.full(6, 5.0))[-1] == 50.0
    assert indicators.compute(m, np.arange(1.0, 7.0))[-1] == 100.0
    assert indicators.compute(m, np.arange(7.0, 1.0, -1))[-1] == 0.0


def test_stdev_return_is_sample_std_of_daily_percent_returns_not_annualised() -> None:
    # dsl.md §3: Composer's own allocations agree with the sample std (ddof 1), daily scale
    p = np.array([100.0, 101.0, 100.0, 102.0])
    r = np.array([0.01, 100 / 101 - 1, 0.02]) * 100
    want = float(np.std(r, ddof=1))
    got = indicators.compute(metric(IndicatorName.STDEV_RETURN, window=3), p)[-1]
    assert got == pytest.approx(want)
    assert got != pytest.approx(float(np.std(r, ddof=0)))  # not the population std
    assert got < 3.8  # daily scale: comparable with the constants real symphonies use
    # one return has no sample std: unavailable, never 0
    assert math.isnan(indicators.compute(metric(IndicatorName.STDEV_RETURN, window=1), p)[-1])


def test_stdev_price_is_sample_std() -> None:
    p = np.array([1.0, 2.0, 3.0, 4.0])
    assert indicators.compute(metric(IndicatorName.STDEV_PRICE, window=4), p)[-1] == pytest.approx(np.std(p, ddof=1))
    assert math.isnan(indicators.compute(metric(IndicatorName.STDEV_PRICE, window=1), p)[-1])


def test_returns_are_in_percent() -> None:
    p = np.array([100.0, 110.0])
    assert indicators.compute(metric(IndicatorName.CUMULATIVE_RETURN, window=1), p)[-1] == pytest.approx(10.0)
    assert indicators.compute(metric(IndicatorName.MOVING_AVERAGE_RETURN, window=1), p)[-1] == pytest.approx(10.0)


def test_max_drawdown_is_positive_percentage_within_window() -> None:
    p = np.array([100.0, 50.0, 80.0, 40.0, 60.0])
    assert indicators.compute(metric(IndicatorName.MAX_DRAWDOWN, window=5), p)[-1] == pytest.approx(60.0)
    # window 3 sees only [80, 40, 60]
    assert indicators.compute(metric(IndicatorName.MAX_DRAWDOWN, window=3), p)[-1] == pytest.approx(50.0)


def test_missing_bar_makes_windows_unavailable_and_restarts_recursive_history() -> None:
    p = np.array([10.0, 11.0, 12.0, np.nan, 13.0, 14.0, 15.0, 16.0])
    ma = indicators.compute(metric(IndicatorName.MOVING_AVERAGE_PRICE, window=3), p)
    assert math.isnan(ma[3]) and math.isnan(ma[4]) and math.isnan(ma[5])
    assert ma[6] == pytest.approx(14.0)
    rsi = indicators.compute(metric(IndicatorName.RSI, window=2), p)
    assert math.isnan(rsi[5])  # run is 2 bars, needs 3
    assert rsi[6] == pytest.approx(slow_rsi([13.0, 14.0, 15.0], 2))
    # never 0 or 50 in place of unknown
    cur = indicators.compute(metric(IndicatorName.CURRENT_PRICE), p)
    assert math.isnan(cur[3])


def test_unavailable_is_nan_never_a_number_for_every_indicator_on_short_history() -> None:
    short = np.array([10.0, 11.0])
    for name, params in CASES[1:]:
        got = indicators.compute(metric(IndicatorName(name), **params), short)
        need = indicators.bars_needed(metric(IndicatorName(name), **params))
        if need > 2:
            assert np.isnan(got).all(), name


def test_run_lengths() -> None:
    p = np.array([np.nan, 1.0, 1.0, np.nan, 1.0])
    assert indicators.run_lengths(p).tolist() == [0, 1, 2, 0, 1]


WINDOWED = [(n, p) for n, p in CASES if n != "current-price"]  # current-price needs one bar: never too short


@pytest.mark.parametrize(("name", "params"), WINDOWED, ids=[f"{n}-{p}" for n, p in WINDOWED])
def test_window_longer_than_history_fails_an_if_closed_and_leaves_a_filter(name: str, params: dict[str, int]) -> None:
    """dsl.md §3 "insufficient data", the same for every indicator: unavailable → an ``if`` that needs it errors
    naming the symbol; a filter leaves the candidate out (the other one is selected)."""
    days = [f"2024-{m:02d}-{d:02d}" for m in range(1, 4) for d in range(1, 29)]
    young = days[-3:]  # three bars: too few for any window used here
    prices = PriceMatrix.from_columns(
        {
            "OLD": (days, [100.0 + i + (i % 3) for i in range(len(days))]),
            "NEW": (young, [10.0, 11.0, 10.5]),
        }
    )
    opts = " ".join(f":{k.replace('_', '-')} {v}" for k, v in params.items())
    branch = parse_symphony(
        f'(defsymphony "i" {{}} (if (> ({name} "NEW" {{{opts}}}) -1000) [(asset "OLD")] [(asset "OLD")]))'
    )
    last = evaluate(branch, prices).last
    assert last.allocation is None and last.error is not None and "NEW" in last.error and "unavailable" in last.error
    pick = parse_symphony(
        f'(defsymphony "f" {{}} (filter ({name} {{{opts}}}) (select-top 1) [(asset "NEW") (asset "OLD")]))'
    )
    assert evaluate(pick, prices).last.allocation == {"OLD": 1.0}
