"""The values the vectorised evaluator passes between nodes (dsl.md §6).

A node's value is a list of *slots* plus an error-code vector. A slot is a ``(dates × its symbols)`` weight matrix
with an optional per-date *active* mask; rows summing to 0 are *empty* (e.g. a filter that selected nothing).
Ordinary nodes yield one always-active slot; an ``if`` yields the slots of both branches, each masked by the
condition, which is how branch list items get flattened into the parent's children (dsl.md §2). Parents treat each
slot as a distribution (they normalise it) and combine slots per date. Error codes index the engine's ``messages``
(0 = no error); an error only counts on dates where its branch is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alchemiser.data.prices import FloatArray
from alchemiser.dsl.ast import Node

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int32]


@dataclass(slots=True)
class Slot:
    symbols: tuple[str, ...]
    weights: FloatArray  # dates × len(symbols), rows not necessarily normalised
    active: BoolArray | None = None  # None = active on every date
    is_asset: bool = False
    node: Node | None = None
    sums: FloatArray | None = None  # cached row sums of ``weights`` (shared by slots with the same weights)


@dataclass(slots=True)
class Value:
    slots: list[Slot]
    err: IntArray


@dataclass(slots=True)
class RankEntry:
    """One filter candidate on the recorded date (trace mode)."""

    candidate: str
    score: float | None
    kept: bool
    node: Node | None = None


def row_sums(slot: Slot) -> FloatArray:
    """Row sums of the slot's weights (computed once per weight matrix; read-only)."""
    if slot.sums is None:
        w = slot.weights
        sums: FloatArray = w[:, 0].copy() if w.shape[1] == 1 else w.sum(axis=1)
        sums.setflags(write=False)
        slot.sums = sums
    return slot.sums


def usable(slot: Slot, sums: FloatArray) -> BoolArray:
    """Dates on which the slot is active and holds something."""
    use: BoolArray = sums > 0.0
    if slot.active is not None:
        use &= slot.active
    return use


def normalise_rows(matrix: FloatArray, totals: FloatArray) -> FloatArray:
    """Each row divided by its total; rows with a total ≤ 0 become 0."""
    out: FloatArray = np.divide(matrix, totals[:, None], out=np.zeros_like(matrix), where=(totals > 0)[:, None])
    return out


def symbol_union(symbol_lists: Iterable[tuple[str, ...]]) -> dict[str, int]:
    """Column of each symbol in the union of ``symbol_lists``, in first-seen order."""
    union: dict[str, int] = {}
    for symbols in symbol_lists:
        for s in symbols:
            if s not in union:
                union[s] = len(union)
    return union


def finite_or_none(x: float) -> float | None:
    """A value for a trace: None when unavailable (and for ±inf, which JSON cannot carry)."""
    v = float(x)
    return v if math.isfinite(v) else None
