"""A parsed symphony (:class:`Symphony`): name, options and the root of its typed AST."""

from __future__ import annotations

from dataclasses import dataclass, field

from alchemiser.dsl.ast import Node
from alchemiser.dsl.reader import SourceMap
from alchemiser.dsl.rebalance import RebalanceRule


def normalise_ticker(raw: str) -> str:
    """Broker form of a ticker: upper case, ``/`` → ``.`` (``BRK/B`` → ``BRK.B``)."""
    return raw.strip().upper().replace("/", ".")


@dataclass(frozen=True, slots=True)
class SymphonyOptions:
    asset_class: str | None = None
    rebalance_threshold: float | None = None
    rebalance_frequency: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Symphony:
    """A parsed symphony: its name, options and AST root."""

    name: str
    options: SymphonyOptions
    root: Node
    source: SourceMap = field(repr=False, compare=False)

    @property
    def rebalance_threshold(self) -> float | None:
        return self.options.rebalance_threshold

    @property
    def rebalance_rule(self) -> RebalanceRule:
        """When the symphony trades (dsl.md §4.1); validated by the parser."""
        return RebalanceRule.from_options(self.options.rebalance_frequency, self.options.rebalance_threshold)

    def where(self, offset: int) -> str:
        return self.source.where(offset)
