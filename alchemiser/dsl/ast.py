"""Typed AST of a symphony.

Nodes are immutable and *hash-consed* by the parser: structurally identical subtrees are the same object, so the
evaluator computes each distinct subtree once (real files repeat the same filter dozens of times).
``offset`` is the character offset of the node's first token; ``Symphony.where(node)`` turns it into
``file:line:col``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class IndicatorName(StrEnum):
    CURRENT_PRICE = "current-price"
    RSI = "rsi"
    MOVING_AVERAGE_PRICE = "moving-average-price"
    EXPONENTIAL_MOVING_AVERAGE_PRICE = "exponential-moving-average-price"
    MOVING_AVERAGE_RETURN = "moving-average-return"
    CUMULATIVE_RETURN = "cumulative-return"
    STDEV_RETURN = "stdev-return"
    STDEV_PRICE = "stdev-price"
    MAX_DRAWDOWN = "max-drawdown"
    PPO = "percentage-price-oscillator"
    PPO_SIGNAL = "percentage-price-oscillator-signal"


@dataclass(frozen=True, slots=True)
class Metric:
    """An indicator without its ticker: ``name`` plus sorted integer parameters (e.g. ``(("window", 10),)``)."""

    name: IndicatorName
    params: tuple[tuple[str, int], ...]

    def param(self, key: str) -> int:
        for k, v in self.params:
            if k == key:
                return v
        raise KeyError(key)

    def label(self) -> str:
        if not self.params:
            return self.name.value
        inner = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name.value}({inner})"


@dataclass(frozen=True, slots=True)
class Indicator:
    """An indicator applied to one ticker: ``(rsi "SPY" {:window 10})``."""

    metric: Metric
    symbol: str
    offset: int

    def label(self) -> str:
        if not self.metric.params:
            return f"{self.metric.name.value}({self.symbol})"
        inner = ", ".join(f"{k}={v}" for k, v in self.metric.params)
        return f"{self.metric.name.value}({self.symbol}, {inner})"


@dataclass(frozen=True, slots=True)
class Literal:
    value: Decimal
    offset: int

    def label(self) -> str:
        return str(self.value)


Operand = Indicator | Literal


class CompareOp(StrEnum):
    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="
    EQ = "="


@dataclass(frozen=True, slots=True)
class Comparison:
    op: CompareOp
    left: Operand
    right: Operand
    offset: int

    def label(self) -> str:
        return f"{self.left.label()} {self.op.value} {self.right.label()}"


@dataclass(frozen=True, slots=True, eq=False)
class Asset:
    symbol: str
    display_name: str | None
    offset: int


@dataclass(frozen=True, slots=True, eq=False)
class Group:
    name: str
    children: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True, eq=False)
class WeightEqual:
    children: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True, eq=False)
class WeightSpecified:
    weights: tuple[Decimal, ...]
    children: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True, eq=False)
class WeightInverseVolatility:
    window: int
    children: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True, eq=False)
class If:
    condition: Comparison
    then: tuple[Node, ...]
    otherwise: tuple[Node, ...] | None
    offset: int


class SelectKind(StrEnum):
    TOP = "select-top"
    BOTTOM = "select-bottom"


@dataclass(frozen=True, slots=True)
class Select:
    kind: SelectKind
    count: int


@dataclass(frozen=True, slots=True, eq=False)
class Filter:
    metric: Metric
    select: Select | None  # None keeps every candidate with an available score
    candidates: tuple[Node, ...]
    offset: int

    @property
    def asset_mode(self) -> bool:
        """True when every candidate is a bare asset (the metric applies to each ticker's own prices)."""
        return all(isinstance(c, Asset) for c in self.candidates)


Node = Asset | Group | WeightEqual | WeightSpecified | WeightInverseVolatility | If | Filter


def children_of(node: Node) -> tuple[Node, ...]:
    """Direct child nodes (for an ``if``: the then-branch followed by the else-branch)."""
    if isinstance(node, Asset):
        return ()
    if isinstance(node, If):
        return node.then + (node.otherwise or ())
    if isinstance(node, Filter):
        return node.candidates
    return node.children


def node_kind(node: Node) -> str:
    return _KINDS[type(node)]


_KINDS: dict[type, str] = {
    Asset: "asset",
    Group: "group",
    WeightEqual: "weight-equal",
    WeightSpecified: "weight-specified",
    WeightInverseVolatility: "weight-inverse-volatility",
    If: "if",
    Filter: "filter",
}
