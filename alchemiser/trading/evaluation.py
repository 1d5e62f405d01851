"""What the symphony worker process runs: one symphony evaluated on plain close columns, and its result type.

This module is what a spawned worker imports (the pickled :func:`evaluate_columns` and :func:`worker_warm_up` name
it), so it imports only what evaluation needs: the DSL, the price matrix (numpy) and the errors. Not the
configuration, the store, logging, pydantic or pandas: each import here is resident memory in a second process.
``tests/trading/test_worker_imports.py`` keeps it so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from alchemiser.data.prices import PriceMatrix
from alchemiser.dsl import Symphony, trace
from alchemiser.errors import StrategyError

WEIGHT_QUANTUM = Decimal("0.000000001")


@dataclass(frozen=True)
class Evaluation:
    """One symphony's answer for a session: weights (summing to 1) and a JSON-able trace."""

    allocation: dict[str, Decimal]
    trace: Any


def worker_warm_up() -> int:
    """Sent to a fresh worker process so that it imports this module (and the DSL) before the first decision."""
    return os.getpid()


def evaluate_columns(
    symphony: Symphony, name: str, columns: Mapping[str, tuple[list[date], list[float]]], session: date
) -> Evaluation:
    """Evaluate ``symphony`` on the last session of ``columns`` (symbol → (session dates, closes)).

    Module-level and free of loop or store state: it runs in the daemon's symphony worker process."""
    asof = max(dates[-1] for dates, _ in columns.values())
    prices = PriceMatrix.from_columns(dict(columns))
    result = trace(symphony, prices, asof)
    if result.error is not None or result.allocation is None:
        raise StrategyError(f"{name} on {asof.isoformat()}: {result.error or 'no allocation'}")
    weights = {
        symbol: Decimal(repr(weight)).quantize(WEIGHT_QUANTUM, rounding=ROUND_DOWN)
        for symbol, weight in result.allocation.items()
        if weight > 0
    }
    payload = result.to_dict()
    payload["decision_session"] = session.isoformat()
    return Evaluation({s: w for s, w in weights.items() if w > 0}, payload)
