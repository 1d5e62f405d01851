"""Decision replay: evaluate a symphony again for a decided session with the bars as known now, and compare.

The daemon decided from the closes it had then (stored with the decision, ``parity_decision_bars``); the replay
evaluates the same symphony with the same engine (``alchemiser.dsl.trace``) on the closes known now. When the
allocations differ, the flip finder names the ``if``/filter that decided otherwise and the bars that changed; a
flip with changed bars under it is a **data drift** event.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from alchemiser.data.prices import PriceMatrix
from alchemiser.dsl import Symphony, trace
from alchemiser.errors import AlchemiserError
from alchemiser.parity.flips import BarChange, Closes, Flip, bar_changes, trace_flips, window_digest
from alchemiser.portfolio import StrategyTarget, merge_targets

#: two weights closer than this are the same allocation (stored weights are rounded down to 1e-9)
WEIGHT_TOLERANCE = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class StrategyReplay:
    """One strategy's replay for one session."""

    strategy: str
    same: bool
    live: Mapping[str, Decimal]
    replayed: Mapping[str, Decimal]
    flips: tuple[Flip, ...] = ()
    changed_bars: tuple[BarChange, ...] = ()
    error: str | None = None

    @property
    def data_drift(self) -> bool:
        """The decision flipped and the bars under it changed: the vendor revised what the daemon decided on."""
        return not self.same and bool(self.changed_bars)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "same": self.same,
            "data_drift": self.data_drift,
            "live": {s: str(w) for s, w in sorted(self.live.items())},
            "replayed": {s: str(w) for s, w in sorted(self.replayed.items())},
            "flips": [f.to_json() for f in self.flips],
            "changed_bars": [c.to_json() for c in self.changed_bars],
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Replayed:
    allocation: dict[str, Decimal] | None
    steps: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    error: str | None = None


def evaluate_on(symphony: Symphony, closes: Mapping[str, Closes], asof: date) -> Replayed:
    """The symphony's allocation and trace on ``asof`` from ``closes`` (symbol -> [(session, close)])."""
    columns = {s: ([d for d, _ in rows], [c for _, c in rows]) for s, rows in closes.items() if rows}
    if not columns:
        return Replayed(None, error="no bars to replay")
    try:
        result = trace(symphony, PriceMatrix.from_columns(columns), asof)
    except AlchemiserError as exc:
        return Replayed(None, error=f"{type(exc).__name__}: {exc}")
    if result.error is not None or result.allocation is None:
        return Replayed(None, result.steps, result.error or "no allocation")
    weights = {s: Decimal(repr(w)) for s, w in result.allocation.items() if w > 0}
    return Replayed(weights, result.steps)


def same_allocation(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> bool:
    return all(abs(a.get(s, Decimal(0)) - b.get(s, Decimal(0))) <= WEIGHT_TOLERANCE for s in set(a) | set(b))


def replay_strategy(
    strategy: str,
    symphony: Symphony,
    *,
    asof: date,
    live_allocation: Mapping[str, Decimal],
    live_trace: Mapping[str, Any] | None,
    bars_then: Mapping[str, Closes],
    bars_now: Mapping[str, Closes],
    starts: Mapping[str, date] | None = None,
    digests: Mapping[str, str] | None = None,
) -> StrategyReplay:
    """Replay ``strategy`` on ``asof`` with ``bars_now`` and explain any difference from what was decided live.

    ``starts`` (symbol -> first session the decision read; default: ``bars_then``'s first) keeps the replay on the
    decision's window: an earlier start would change exponential indicators, not the data. With ``digests`` (symbol
    -> ``window_digest`` of the whole window the decision read), a window that is unchanged is not evaluated again:
    the evaluation is deterministic, so the replay is the live decision."""
    first = dict(starts) if starts is not None else {s: rows[0][0] for s, rows in bars_then.items() if rows}
    now = {s: _window(rows, first.get(s), asof) for s, rows in bars_now.items()}
    if digests and all(window_digest(now.get(s, [])) == d for s, d in digests.items()):
        return StrategyReplay(strategy, True, dict(live_allocation), dict(live_allocation))
    replayed = evaluate_on(symphony, now, asof)
    changes = tuple(bar_changes(bars_then, now))
    if replayed.allocation is None:
        return StrategyReplay(strategy, False, dict(live_allocation), {}, (), changes, replayed.error)
    same = same_allocation(live_allocation, replayed.allocation)
    flips: tuple[Flip, ...] = ()
    if not same:
        steps = (live_trace or {}).get("steps") or ()
        flips = tuple(trace_flips(list(steps), list(replayed.steps)))
    return StrategyReplay(strategy, same, dict(live_allocation), replayed.allocation, flips, changes)


def _window(rows: Closes, start: date | None, end: date) -> list[tuple[date, float]]:
    """The rows (ascending by session) from ``start`` (None: the first) through ``end``, found by bisection."""
    lo = 0 if start is None else bisect_left(rows, start, key=itemgetter(0))
    return list(rows[lo : bisect_right(rows, end, key=itemgetter(0))])


def merged_targets(
    allocations: Mapping[str, Mapping[str, Decimal]], capital: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Symbol -> account weight, merged by capital weight exactly as the planner merges them."""
    if not allocations:
        return {}
    merged, _ = merge_targets([StrategyTarget(n, capital.get(n, Decimal(0)), w) for n, w in allocations.items()])
    return merged
