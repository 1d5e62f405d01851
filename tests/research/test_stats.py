"""Overfitting statistics on known inputs."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from alchemiser.research.stats import (
    BlockSums,
    deflated_sharpe,
    expected_max_sharpe,
    probability_of_overfitting,
    walk_forward_selection,
)


def _sums(returns: np.ndarray, blocks: int) -> BlockSums:
    parts = np.array_split(returns, blocks, axis=1)
    return BlockSums(
        np.array([[p.shape[1]] * returns.shape[0] for p in parts], dtype=float).T,
        np.array([p.sum(axis=1) for p in parts]).T,
        np.array([(p**2).sum(axis=1) for p in parts]).T,
    )


def test_sharpe_from_block_sums_equals_the_direct_sharpe() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0005, 0.01, size=(3, 400))
    sums = _sums(returns, 8)
    mask = np.zeros(8, dtype=bool)
    mask[[0, 3, 5]] = True
    chosen = np.concatenate([np.array_split(returns, 8, axis=1)[k] for k in (0, 3, 5)], axis=1)
    direct = chosen.mean(axis=1) / chosen.std(axis=1, ddof=1)
    assert np.allclose(sums.sharpe(mask), direct)


def test_pbo_is_low_when_one_point_is_truly_better_and_about_half_for_noise() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 0.01, size=(40, 2000))
    pbo_noise = probability_of_overfitting(_sums(noise, 10))
    assert pbo_noise is not None and pbo_noise.splits == math.comb(10, 5)
    assert 0.25 < pbo_noise.pbo < 0.75
    skilled = noise.copy()
    skilled[3] += 0.004
    pbo_skill = probability_of_overfitting(_sums(skilled, 10))
    assert pbo_skill is not None and pbo_skill.pbo == 0.0
    assert probability_of_overfitting(_sums(noise[:1], 10)) is None


def test_deflated_sharpe_matches_the_formula_and_falls_with_more_trials() -> None:
    trials = np.array([0.01, 0.03, 0.02, 0.05, 0.04])
    result = deflated_sharpe(0.05, 1000, -0.5, 6.0, trials)
    assert result is not None
    sr0 = expected_max_sharpe(5, float(np.var(trials, ddof=1)))
    z = (0.05 - sr0) * math.sqrt(999) / math.sqrt(1 + 0.5 * 0.05 + 5 / 4 * 0.05**2)
    assert result.dsr == pytest.approx(NormalDist().cdf(z))
    many = deflated_sharpe(0.05, 1000, -0.5, 6.0, np.tile(trials, 40))
    assert many is not None and many.dsr < result.dsr
    assert expected_max_sharpe(1, 0.1) == 0.0
    assert deflated_sharpe(float("nan"), 1000, 0, 3, trials) is None


def test_walk_forward_selection_chooses_on_the_previous_block() -> None:
    returns = np.zeros((2, 40))
    rng = np.random.default_rng(3)
    returns += rng.normal(0, 0.01, size=returns.shape)
    returns[0, :10] += 0.02  # point 0 wins block 0 only
    returns[1, 10:] += 0.02  # point 1 wins afterwards
    steps = walk_forward_selection(_sums(returns, 4))
    assert [s.chosen for s in steps] == [0, 1, 1]
    assert steps[0].out_of_sample_percentile == 0.0 and steps[1].out_of_sample_percentile == 1.0
