"""Validation shared by the form builders: argument types, tickers, windows, child positions, and error messages
that name the file, line and column (:class:`StrategyError`). Also the values forms are converted into before
they become AST nodes (vectors, keyword maps, the symphony definition)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from alchemiser.dsl.ast import (
    Asset,
    Comparison,
    Filter,
    Group,
    If,
    Indicator,
    Metric,
    Node,
    Select,
    WeightEqual,
    WeightInverseVolatility,
    WeightSpecified,
)
from alchemiser.dsl.reader import RawKeyword, RawNumber, RawString, RawSymbol, SourceMap
from alchemiser.dsl.symphony import SymphonyOptions, normalise_ticker
from alchemiser.errors import StrategyError

_TICKER_RE = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,14}\Z")
_MAX_WINDOW = 100_000


@dataclass(frozen=True, slots=True)
class Vector:
    items: tuple[object, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class KeywordMap:
    items: dict[str, object]
    offset: int


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    options: SymphonyOptions
    root: Node


class FormChecker:
    """Checks converted arguments and interns nodes (hash-consing); :class:`FormBuilder` builds on it."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.interned: dict[tuple[object, ...], Node] = {}

    def fail(self, offset: int, message: str) -> StrategyError:
        return StrategyError(f"{self.source.where(offset)}: {message}")

    def intern(self, key: tuple[object, ...], make: Callable[[], Node]) -> Node:
        node = self.interned.get(key)
        if node is None:
            node = make()
            self.interned[key] = node
        return node

    @staticmethod
    def describe(value: object) -> str:
        if isinstance(value, RawString):
            return f'string "{value.value[:30]}"'
        if isinstance(value, RawNumber):
            return f"number {value.value}"
        if isinstance(value, RawKeyword):
            return f"keyword :{value.name}"
        if isinstance(value, RawSymbol):
            return f"symbol {value.name}"
        if isinstance(value, Vector):
            return "a list"
        if isinstance(value, KeywordMap):
            return "a map"
        if isinstance(value, Metric):
            return f"indicator ({value.name.value}) without a ticker"
        if isinstance(value, Indicator):
            return f"indicator ({value.metric.name.value} ...)"
        if isinstance(value, Comparison):
            return f"comparison ({value.op.value} ...)"
        if isinstance(value, Select):
            return f"({value.kind.value} ...)"
        return f"({type(value).__name__.lower()} ...)"

    def nodes(self, value: object, offset: int, what: str) -> tuple[Node, ...]:
        """A child position: one node or a list of nodes."""
        items = value.items if isinstance(value, Vector) else (value,)
        out: list[Node] = []
        for item in items:
            if not isinstance(
                item, Asset | Group | WeightEqual | WeightSpecified | WeightInverseVolatility | If | Filter
            ):
                raise self.fail(
                    offset,
                    f"{what} must be a portfolio form (asset, group, weight-*, if, filter), got {self.describe(item)}",
                )
            out.append(item)
        return tuple(out)

    def one_node(self, value: object, offset: int, what: str) -> Node:
        items = self.nodes(value, offset, what)
        if not items:
            raise self.fail(offset, f"{what} is empty")
        if len(items) == 1:
            return items[0]
        return self.intern(("weight-equal", *(id(c) for c in items)), lambda: WeightEqual(items, offset))

    def positive_int(self, value: object, offset: int, what: str) -> int:
        if not isinstance(value, RawNumber) or value.value != value.value.to_integral_value() or value.value < 1:
            raise self.fail(offset, f"{what} must be a positive integer, got {self.describe(value)}")
        if value.value > _MAX_WINDOW:
            raise self.fail(offset, f"{what} {value.value} is larger than the limit of {_MAX_WINDOW}")
        return int(value.value)

    def string(self, value: object, offset: int, what: str) -> str:
        if not isinstance(value, RawString):
            raise self.fail(offset, f"{what} must be a string, got {self.describe(value)}")
        return value.value

    def ticker(self, value: object, offset: int, what: str) -> str:
        raw = self.string(value, offset, what)
        ticker = normalise_ticker(raw)
        if not _TICKER_RE.match(ticker):
            raise self.fail(offset, f"{what} {raw!r} is not a valid ticker")
        return ticker
