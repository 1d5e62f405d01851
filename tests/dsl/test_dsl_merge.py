"""Capital-weighted merge of strategy allocations, and the inverse-volatility trace."""

from __future__ import annotations

import math

import pytest

from alchemiser.dsl import merge_allocations, parse_symphony, requirements, trace
from alchemiser.errors import StrategyError
from tests.dsl.market import cycle, matrix


def test_merge_weights_by_capital_and_normalises_inputs() -> None:
    merged = merge_allocations({"a": (0.3, {"X": 0.5, "Y": 0.5}), "b": (0.7, {"X": 2.0})})  # b not normalised
    assert merged == {"X": pytest.approx(0.85), "Y": pytest.approx(0.15)}
    assert list(merged) == ["X", "Y"]
    assert math.isclose(sum(merged.values()), 1.0)
    # capital weights need not sum to 1; zero-capital strategies are ignored even when empty
    assert merge_allocations({"a": (2.0, {"X": 1.0}), "b": (0.0, {})}) == {"X": 1.0}


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ({}, "no strategies"),
        ({"a": (-1.0, {"X": 1.0})}, "invalid capital weight"),
        ({"a": (float("nan"), {"X": 1.0})}, "invalid capital weight"),
        ({"a": (1.0, {})}, "empty allocation"),
        ({"a": (1.0, {"X": 0.0})}, "empty allocation"),
        ({"a": (1.0, {"X": -0.5, "Y": 1.5})}, "invalid weight"),
        ({"a": (0.0, {"X": 1.0})}, "sum to 0"),
    ],
)
def test_merge_rejects_bad_input(parts: dict[str, tuple[float, dict[str, float]]], fragment: str) -> None:
    with pytest.raises(StrategyError, match=fragment):
        merge_allocations(parts)


def test_inverse_volatility_requirements_and_trace() -> None:
    s = parse_symphony('(defsymphony "v" {} (weight-inverse-volatility 5 [(asset "A") (asset "B")]))')
    assert requirements(s).min_bars == {"A": 6, "B": 6}
    n = 12
    prices = matrix(n, {"A": cycle(n, 0.01, -0.01), "B": cycle(n, 0.03, -0.03)})
    t = trace(s, prices, str(prices.dates[-1]))
    step = t.to_dict()["steps"][0]
    assert set(step["volatility"]) == {"A", "B"}
    assert step["volatility"]["B"] > step["volatility"]["A"] > 0
    assert t.allocation is not None and t.allocation["A"] > t.allocation["B"]
    assert "volatility: A" in t.render()
