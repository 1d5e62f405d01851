"""Configured symphonies as decision-cycle engines: parse once at start, evaluate one session off the loop.

The decision cycle runs ``SymphonyEngine.evaluation_call`` → :func:`.evaluation.evaluate_columns` in a worker *process*
(evaluation is CPU-bound numpy/pandas work that would otherwise hold the daemon's GIL and stall ``/healthz``);
``SymphonyEngine.evaluate`` runs the same code in-process.

``SymphonyEngine`` adapts :mod:`alchemiser.dsl` to :class:`alchemiser.trading.decision.StrategyEngine`: it knows the
symbols the symphony references, how many bars it needs (``lookback``: the longest availability window, the hard
minimum; ``warmup``: the history to fetch so exponential indicators settle), and turns the trace of the as-of
session into an allocation (weights as ``Decimal`` rounded down to 1e-9, so they never sum above 1) plus the
JSON trace that is stored with the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from alchemiser.broker.models import Bar
from alchemiser.config import StrategyEntry
from alchemiser.dsl import Symphony, load_symphony, requirements
from alchemiser.errors import DataError, StrategyError
from alchemiser.trading.evaluation import Evaluation, evaluate_columns, worker_warm_up

MAX_WARMUP = 2000


class SymphonyEngine:
    def __init__(self, symphony: Symphony, *, name: str, capital_weight: Decimal) -> None:
        self.symphony = symphony
        self.name = name
        self.capital_weight = capital_weight
        threshold = symphony.rebalance_threshold
        self.rebalance_threshold: Decimal | None = None if threshold is None else Decimal(str(threshold))
        self.rebalance_rule = symphony.rebalance_rule
        needs = requirements(symphony)
        self.symbols: frozenset[str] = needs.symbols
        self.lookback: int = max(1, max(needs.min_bars.values(), default=1))
        self.warmup: int = min(MAX_WARMUP, max(self.lookback, needs.longest))

    @classmethod
    def from_entry(cls, entry: StrategyEntry, *, base_dir: Path | None = None) -> SymphonyEngine:
        path = entry.file if base_dir is None or entry.file.is_absolute() else base_dir / entry.file
        symphony = load_symphony(path)
        return cls(symphony, name=path.stem, capital_weight=Decimal(str(entry.weight)))

    # a plain function of the lean evaluation module: unpickling it in the worker imports only what evaluation needs
    worker_warm_up = staticmethod(worker_warm_up)

    def evaluate(self, bars: Mapping[str, Sequence[Bar]], session: date) -> Evaluation:
        """Allocation on the last session in ``bars`` (the as-of date) and its trace."""
        function, args = self.evaluation_call(bars, session)
        return function(*args)

    def evaluation_call(
        self, bars: Mapping[str, Sequence[Bar]], session: date
    ) -> tuple[Callable[..., Evaluation], tuple[Any, ...]]:
        """``evaluate`` split for a worker process: ``function(*args)`` is the evaluation, and both pickle cheaply
        (the parsed symphony and plain date/close columns instead of thousands of ``Bar`` models)."""
        columns = {
            symbol: ([b.session_date for b in series], [b.c for b in series])
            for symbol, series in bars.items()
            if series
        }
        if not columns:
            raise DataError(f"{self.name}: no bars to evaluate")
        return evaluate_columns, (self.symphony, self.name, columns, session)


def load_engines(entries: Sequence[StrategyEntry], *, base_dir: Path | None = None) -> list[SymphonyEngine]:
    """Parse every configured symphony; a broken file raises ``StrategyError`` naming file:line:col."""
    engines = [SymphonyEngine.from_entry(entry, base_dir=base_dir) for entry in entries]
    names = [e.name for e in engines]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StrategyError(f"two strategies share the name(s) {duplicates}: rename one of the files")
    return engines
