"""The flip finder: which ``if``/filter of a symphony decided differently, and which bars changed under it.

Two traces of the same symphony on the same session (``alchemiser.dsl.trace``: the active path, depth first) are
matched step by step on the node's source position; an ``if`` that took the other branch, or a filter that kept
other candidates, is a *flip*. Two versions of the bars a decision read (closes per symbol and session) are
compared over the sessions the first one covered: a close that moved is *revised*, a session that appeared is a
*filled-in* missing bar, one that disappeared is *removed*, and a whole history scaled by one ratio (a split or a
dividend applied to the past) is one *adjusted* change.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

Closes = Sequence[tuple[date, float]]
#: closes within this relative distance are the same (vendors round; floats round-trip through JSON)
TOLERANCE = 1e-7


@dataclass(frozen=True, slots=True)
class BarChange:
    symbol: str
    session: date
    kind: str  # revised | filled_in | removed | adjusted
    before: float | None
    after: float | None

    def describe(self) -> str:
        if self.kind == "adjusted":
            ratio = (self.after or 0.0) / (self.before or 1.0)
            return f"{self.symbol}: history adjusted by x{ratio:.6g} (split or dividend) up to {self.session}"
        if self.kind == "filled_in":
            return f"{self.symbol}: missing bar of {self.session} filled in (close {self.after})"
        if self.kind == "removed":
            return f"{self.symbol}: bar of {self.session} removed (was close {self.before})"
        return f"{self.symbol}: close of {self.session} revised {self.before} -> {self.after}"

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "session": self.session.isoformat(),
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "text": self.describe(),
        }


@dataclass(frozen=True, slots=True)
class Flip:
    at: str  # source position of the node
    kind: str  # if | filter
    name: str
    before: str
    after: str

    def describe(self) -> str:
        label = f'{self.kind} "{self.name}"' if self.name else self.kind
        return f"{label} at {self.at}: {self.before} -> {self.after}"

    def to_json(self) -> dict[str, str]:
        return {
            "at": self.at,
            "kind": self.kind,
            "name": self.name,
            "before": self.before,
            "after": self.after,
            "text": self.describe(),
        }


def window_digest(rows: Closes) -> str:
    """A fingerprint of every (session, close) a decision read: equal digests mean the replay would see the same
    data (the evaluation is deterministic), so it need not run."""
    if not rows:
        return ""
    digest = hashlib.sha256(f"{rows[0][0]}:{rows[-1][0]}:{len(rows)};".encode())  # a bar added or removed
    digest.update(array("d", [close for _, close in rows]).tobytes())  # every close, bit for bit
    return digest.hexdigest()[:32]


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=1e-12)


def bar_changes(before: Mapping[str, Closes], after: Mapping[str, Closes]) -> list[BarChange]:
    """What changed in ``after`` over the sessions ``before`` covered, per symbol (sorted by symbol, session)."""
    changes: list[BarChange] = []
    for symbol in sorted(before):
        old = dict(before[symbol])
        if not old:
            continue
        first, last = min(old), max(old)
        new = {d: c for d, c in after.get(symbol, ()) if first <= d <= last}
        changes.extend(_symbol_changes(symbol, old, new))
    return changes


def _symbol_changes(symbol: str, old: dict[date, float], new: dict[date, float]) -> list[BarChange]:
    common = sorted(set(old) & set(new))
    moved = [d for d in common if not _same(old[d], new[d])]
    out: list[BarChange] = []
    if len(moved) >= 2 and old[moved[0]]:
        ratio = new[moved[0]] / old[moved[0]]
        if all(old[d] and _same(new[d] / old[d], ratio) for d in moved):
            # one factor over a stretch of history: the vendor applied a split/dividend adjustment
            out.append(BarChange(symbol, moved[-1], "adjusted", old[moved[-1]], new[moved[-1]]))
            moved = []
    out.extend(BarChange(symbol, d, "revised", old[d], new[d]) for d in moved)
    out.extend(BarChange(symbol, d, "filled_in", None, new[d]) for d in sorted(set(new) - set(old)))
    out.extend(BarChange(symbol, d, "removed", old[d], None) for d in sorted(set(old) - set(new)))
    return sorted(out, key=lambda c: (c.session, c.kind))


def trace_flips(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[Flip]:
    """The ``if``/filter steps active in both traces that decided differently, in ``before``'s order."""
    later = {(step.get("at"), step.get("kind")): step for step in after}
    flips: list[Flip] = []
    for step in before:
        kind = step.get("kind")
        other = later.get((step.get("at"), kind))
        if other is None:
            continue
        name = str(step.get("name") or "")
        at = str(step.get("at"))
        if kind == "if" and step.get("branch") != other.get("branch"):
            flips.append(Flip(at, "if", name, _branch(step), _branch(other)))
        elif kind == "filter" and _kept(step) != _kept(other):
            flips.append(Flip(at, "filter", name, _fmt_kept(_kept(step)), _fmt_kept(_kept(other))))
    return flips


def _branch(step: Mapping[str, Any]) -> str:
    branch = step.get("branch") or "unavailable"
    cond = step.get("condition")
    if not isinstance(cond, Mapping):
        return str(branch)
    return f"{branch} ({cond.get('expression')}: {_num(cond.get('left'))} vs {_num(cond.get('right'))})"


def _num(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _kept(step: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(str(e.get("candidate")) for e in step.get("ranking") or () if e.get("kept")))


def _fmt_kept(kept: tuple[str, ...]) -> str:
    return "kept " + (", ".join(kept) if kept else "nothing")
