"""Capital-weighted merge of several strategies' allocations."""

from __future__ import annotations

import math
from collections.abc import Mapping

from alchemiser.errors import StrategyError


def merge_allocations(parts: Mapping[str, tuple[float, Mapping[str, float]]]) -> dict[str, float]:
    """Σ capital_i · allocation_i / Σ capital_i over ``{strategy: (capital weight, allocation)}``.

    Each allocation is normalised first (so rounding in the inputs does not leak); the result sums to 1 with zero
    weights removed, keys sorted. Raises StrategyError on a negative/non-finite capital weight, an empty input,
    a zero total or an empty/invalid allocation (the caller decides what an erroring strategy means; this function
    never invents a holding).
    """
    if not parts:
        raise StrategyError("merge_allocations: no strategies given")
    total_capital = 0.0
    for name, (capital, allocation) in parts.items():
        if not math.isfinite(capital) or capital < 0:
            raise StrategyError(f"merge_allocations: strategy {name!r} has an invalid capital weight {capital!r}")
        if capital > 0 and not allocation:
            raise StrategyError(f"merge_allocations: strategy {name!r} has an empty allocation")
        total_capital += capital
    if total_capital <= 0:
        raise StrategyError("merge_allocations: capital weights sum to 0")
    merged: dict[str, float] = {}
    for name, (capital, allocation) in parts.items():
        if capital == 0:
            continue
        alloc_total = 0.0
        for symbol, weight in allocation.items():
            if not math.isfinite(weight) or weight < 0:
                raise StrategyError(
                    f"merge_allocations: strategy {name!r} has an invalid weight {weight!r} for {symbol}"
                )
            alloc_total += weight
        if alloc_total <= 0:
            raise StrategyError(f"merge_allocations: strategy {name!r} has an empty allocation")
        for symbol, weight in allocation.items():
            if weight > 0:
                merged[symbol] = merged.get(symbol, 0.0) + capital / total_capital * weight / alloc_total
    return dict(sorted(merged.items()))
