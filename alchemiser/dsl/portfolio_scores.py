"""Portfolio-mode filter scores (dsl.md §2.1): a candidate sub-portfolio is measured by the indicator of the price
series made from its own daily returns."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alchemiser.data.prices import FloatArray
from alchemiser.dsl import indicators
from alchemiser.dsl.ast import Metric, Node
from alchemiser.dsl.context import EvalContext
from alchemiser.dsl.slots import IntArray, Slot, normalise_rows


def portfolio_score(ctx: EvalContext, cand: Node, slot: Slot, err: IntArray, metric: Metric) -> FloatArray:
    """``metric`` of the candidate's own price series (cached per candidate node and metric; read-only)."""
    key = (id(cand), metric)
    cached = ctx.portfolio_scores.get(key)
    if cached is not None:
        return cached
    prices, runs = portfolio_price_series(slot, err, [ctx.returns(s) for s in slot.symbols])
    values = indicators.compute(metric, prices, runs)
    values.setflags(write=False)
    ctx.portfolio_scores[key] = values
    return values


def portfolio_price_series(
    slot: Slot, err: IntArray, returns: list[FloatArray]
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Price series of a candidate portfolio from its own daily returns (dsl.md §2.1).

    r(D) = Σ_s w_s(D−1)·r_s(D) with w(D−1) the candidate's normalised allocation evaluated through D−1; r(D) is
    unavailable when the candidate errored or was empty on D−1 or a held symbol has no return on D. The price is
    the cumulative product of (1 + r) from 1 at the start of each run; a date on which the candidate is valid but
    r(D) is unavailable starts a new run (the base), dates neither valid nor reachable are NaN. Returns the prices
    and the run length ending at each date (adjacent runs stay separate).
    """
    w = slot.weights
    n = w.shape[0]
    total = w.sum(axis=1)
    valid = (total > 0) & (err == 0)
    if slot.active is not None:
        valid &= slot.active
    wn = normalise_rows(w, total)
    r = np.full(n, np.nan)
    if n > 1:
        rets = np.column_stack(returns) if returns else np.zeros((n, 0))
        held = wn[:-1] > 0
        nxt = rets[1:]
        bad = np.any(held & np.isnan(nxt), axis=1) | ~valid[:-1]
        contrib = np.where(held, wn[:-1] * np.where(np.isnan(nxt), 0.0, nxt), 0.0).sum(axis=1)
        bad |= contrib <= -1.0
        r[1:] = np.where(bad, np.nan, contrib)
    has_r = ~np.isnan(r)
    defined = has_r | valid
    prices = np.full(n, np.nan)
    runs = np.zeros(n, dtype=np.int64)
    starts = np.flatnonzero(defined & ~has_r)
    for k, start in enumerate(starts.tolist()):
        stop = int(starts[k + 1]) if k + 1 < starts.shape[0] else n
        # the run continues while returns are available
        seg_r = r[start + 1 : stop]
        breaks = np.flatnonzero(np.isnan(seg_r))
        end = start + 1 + (int(breaks[0]) if breaks.shape[0] else seg_r.shape[0])
        prices[start] = 1.0
        runs[start:end] = np.arange(1, end - start + 1)
        if end > start + 1:
            prices[start + 1 : end] = np.cumprod(1.0 + r[start + 1 : end])
    return prices, runs
