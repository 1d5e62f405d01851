"""Overfitting statistics of a sweep, from the per-block return sums every point stores.

The backtest period is cut into ``B`` consecutive blocks (``backtest.walkforward.split_windows`` over the baseline's
sessions). Each point keeps, per block, the count, sum and sum of squares of its daily returns, which is enough to
get its Sharpe ratio over any union of blocks exactly; nothing else of the curves is kept.

* **Walk-forward selection**: for each block k ≥ 2 choose the point with the best Sharpe on block k−1 (in sample)
  and score it on block k (out of sample); the chosen point's out-of-sample rank shows whether in-sample winners
  keep winning.
* **Deflated Sharpe ratio** (Bailey & López de Prado, 2014): the probability that the best point's true Sharpe is
  above the best Sharpe that ``N`` trials of no skill would show by luck, given the trials' Sharpe dispersion, the
  number of returns and their skewness and kurtosis.
* **Probability of backtest overfitting** by combinatorially symmetric cross-validation (Bailey, Borwein,
  López de Prado & Zhu, 2015): over every split of the blocks into two halves, pick the best point on one half and
  see where it ranks on the other; PBO is the share of splits where it lands in the bottom half (logit ≤ 0).

Sharpe ratios here are per period (daily) unless a name says annualised (× √252).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
EULER_GAMMA = 0.5772156649015329
ANNUAL = math.sqrt(252.0)
COMBO_BATCH = 256
_NORMAL = NormalDist()


@dataclass(frozen=True)
class BlockSums:
    """Per point (rows) and block (columns): return count, sum, sum of squares."""

    n: FloatArray
    s: FloatArray
    q: FloatArray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> BlockSums:
        return cls(
            np.array(frame["block_n"].tolist(), dtype=np.float64),
            np.array(frame["block_sum"].tolist(), dtype=np.float64),
            np.array(frame["block_sumsq"].tolist(), dtype=np.float64),
        )

    def sharpe(self, mask: npt.NDArray[np.bool_]) -> FloatArray:
        """Per-period Sharpe of every point over the blocks in ``mask``: (B,) gives (P,), (C, B) gives (C, P)."""
        weights = mask.astype(np.float64)
        n, s, q = weights @ self.n.T, weights @ self.s.T, weights @ self.q.T
        return _sharpe_from_sums(n, s, q)


def _sharpe_from_sums(n: FloatArray, s: FloatArray, q: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        var = (q - n * mean * mean) / (n - 1.0)
        out: FloatArray = np.where((n > 1) & (var > 0), mean / np.sqrt(np.maximum(var, 0.0)), np.nan)
    return out


@dataclass(frozen=True)
class WalkForwardStep:
    train_block: int
    test_block: int
    chosen: int  # row position of the chosen point
    in_sample_sharpe: float  # annualised
    out_of_sample_sharpe: float  # annualised
    out_of_sample_median: float  # annualised, over every point
    out_of_sample_percentile: float  # the chosen point's rank among all points on the test block, 0..1


def walk_forward_selection(sums: BlockSums) -> list[WalkForwardStep]:
    blocks = sums.n.shape[1]
    steps: list[WalkForwardStep] = []
    for k in range(1, blocks):
        train = _sharpe_per_block(sums, k - 1)
        test = _sharpe_per_block(sums, k)
        if not np.isfinite(train).any():
            continue
        chosen = int(np.nanargmax(train))
        steps.append(
            WalkForwardStep(
                train_block=k - 1,
                test_block=k,
                chosen=chosen,
                in_sample_sharpe=float(train[chosen]) * ANNUAL,
                out_of_sample_sharpe=float(test[chosen]) * ANNUAL,
                out_of_sample_median=float(np.nanmedian(test)) * ANNUAL if np.isfinite(test).any() else math.nan,
                out_of_sample_percentile=_percentile(test, chosen),
            )
        )
    return steps


def _sharpe_per_block(sums: BlockSums, block: int) -> FloatArray:
    return _sharpe_from_sums(sums.n[:, block], sums.s[:, block], sums.q[:, block])


def _percentile(values: FloatArray, chosen: int) -> float:
    """Share of points the chosen one beats on ``values`` (ties count half); NaN counts as the worst."""
    filled = np.where(np.isfinite(values), values, -np.inf)
    mine = filled[chosen]
    below = float(np.sum(filled < mine)) + 0.5 * (float(np.sum(filled == mine)) - 1.0)
    return below / max(1, len(values) - 1)


@dataclass(frozen=True)
class Pbo:
    pbo: float
    splits: int
    logits: FloatArray


def probability_of_overfitting(sums: BlockSums) -> Pbo | None:
    """PBO by CSCV over every half/half split of the blocks; None with fewer than 2 points or blocks."""
    points, blocks = sums.n.shape
    if points < 2 or blocks < 2 or blocks % 2:
        return None
    combos = list(itertools.combinations(range(blocks), blocks // 2))
    logits: list[float] = []
    for start in range(0, len(combos), COMBO_BATCH):
        batch = combos[start : start + COMBO_BATCH]
        mask = np.zeros((len(batch), blocks), dtype=bool)
        for row, combo in enumerate(batch):
            mask[row, list(combo)] = True
        train = np.where(np.isfinite(sums.sharpe(mask)), sums.sharpe(mask), -np.inf)
        test = np.where(np.isfinite(sums.sharpe(~mask)), sums.sharpe(~mask), -np.inf)
        best = np.argmax(train, axis=1)  # first of equal maxima: deterministic
        mine = test[np.arange(len(batch)), best][:, None]
        rank = np.sum(test < mine, axis=1) + 1.0 + 0.5 * (np.sum(test == mine, axis=1) - 1.0)
        omega = rank / (points + 1.0)
        logits.extend(np.log(omega / (1.0 - omega)).tolist())
    values = np.asarray(logits, dtype=np.float64)
    return Pbo(pbo=float(np.mean(values <= 0.0)), splits=len(values), logits=values)


@dataclass(frozen=True)
class DeflatedSharpe:
    dsr: float  # probability, 0..1
    sharpe: float  # the chosen point's per-period Sharpe
    benchmark_sharpe: float  # SR0: the expected maximum per-period Sharpe of `trials` unskilled trials
    trials: int
    observations: int


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0 = √V · ((1−γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))); 0 for a single trial."""
    if trials < 2 or not variance > 0:
        return 0.0
    a = _NORMAL.inv_cdf(1.0 - 1.0 / trials)
    b = _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b)


def deflated_sharpe(
    sharpe: float, observations: int, skew: float, kurtosis: float, trial_sharpes: FloatArray
) -> DeflatedSharpe | None:
    """DSR of a point with per-period ``sharpe`` over ``observations`` returns, chosen among ``trial_sharpes``."""
    finite = trial_sharpes[np.isfinite(trial_sharpes)]
    if not math.isfinite(sharpe) or observations < 3 or finite.size == 0:
        return None
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    sr0 = expected_max_sharpe(int(finite.size), variance)
    skew = skew if math.isfinite(skew) else 0.0
    kurtosis = kurtosis if math.isfinite(kurtosis) else 3.0
    denominator = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if denominator <= 0:
        return None
    z = (sharpe - sr0) * math.sqrt(observations - 1.0) / math.sqrt(denominator)
    return DeflatedSharpe(_NORMAL.cdf(z), sharpe, sr0, int(finite.size), observations)
