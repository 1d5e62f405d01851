"""The points of a sweep: a full grid, or a seeded random sample; each with a stable key.

A point is one value per parameter, in the order the sweep file declares them. Its key hashes the sweep's input
fingerprint (symphony texts, settings, bar data) with its values, so a re-run with the same inputs recognises the
points it has already finished and a changed input never reuses an old result. Random search draws with
``numpy.random.default_rng(seed)``, one parameter after the other, and drops repeated points: the same seed gives
the same points in the same order, whatever runs them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from alchemiser.research.spec import Number, Param, SweepSpec

RANDOM_DECIMALS = 6
MAX_DRAW_ATTEMPTS = 20  # random draws per wanted point before giving up on finding new ones


@dataclass(frozen=True)
class Point:
    index: int
    key: str
    values: tuple[Number, ...]

    def as_dict(self, params: tuple[Param, ...]) -> dict[str, Number]:
        return {p.name: v for p, v in zip(params, self.values, strict=True)}


def point_key(fingerprint: str, values: tuple[Number, ...]) -> str:
    payload = json.dumps([fingerprint, [repr(v) for v in values]], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def grid_size(spec: SweepSpec) -> int:
    size = 1
    for param in spec.params:
        size *= len(param.values)
    return size


def _grid(spec: SweepSpec) -> Iterator[tuple[Number, ...]]:
    return itertools.product(*(p.values for p in spec.params))


def _draw(param: Param, rng: np.random.Generator) -> Number:
    if param.values:
        return param.values[int(rng.integers(len(param.values)))]
    low, high = param.low, param.high
    if low is None or high is None:  # the spec loader requires values or bounds for random search
        raise ValueError(f"param {param.name!r} has neither values nor low/high")
    if isinstance(low, int) and isinstance(high, int):
        return int(rng.integers(low, high + 1))
    return round(float(rng.uniform(low, high)), RANDOM_DECIMALS)


def _random(spec: SweepSpec) -> Iterator[tuple[Number, ...]]:
    rng = np.random.default_rng(spec.seed)
    finite = all(p.values for p in spec.params)
    wanted = min(spec.samples, grid_size(spec)) if finite else spec.samples
    seen: set[tuple[Number, ...]] = set()
    attempts = 0
    while len(seen) < wanted and attempts < wanted * MAX_DRAW_ATTEMPTS:
        attempts += 1
        values = tuple(_draw(p, rng) for p in spec.params)
        if values not in seen:
            seen.add(values)
            yield values


def points(spec: SweepSpec, fingerprint: str) -> list[Point]:
    """Every point of the sweep in a fixed order."""
    source = _grid(spec) if spec.method == "grid" else _random(spec)
    return [Point(i, point_key(fingerprint, values), values) for i, values in enumerate(source)]
