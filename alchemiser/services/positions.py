"""Positions: per symbol quantity, price, value, cost basis, weight against the target weight, drift, unrealised
P&L, and the split across the strategy books — the one computation behind the dashboard's positions page, its JSON
twin, ``/status`` and ``alchemiser status`` (``services/money.py`` formats the same rows).

Targets are the last successful allocation of each strategy, merged by its capital weight (what the next
rebalance aims for). Book quantities come from the execution store's ``strategy_books``.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from alchemiser.broker.models import Position
from alchemiser.errors import AlchemiserError
from alchemiser.services.sources import LiveSources
from alchemiser.store.database import Store

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionRow:
    symbol: str
    qty: Decimal
    price: Decimal | None
    value: Decimal
    weight: Decimal | None
    target_weight: Decimal
    drift: Decimal | None  # weight - target
    unrealized_pnl: Decimal | None
    books: dict[str, Decimal] = field(default_factory=dict)  # strategy → quantity
    cost_basis: Decimal | None = ZERO  # None: the broker did not say


@dataclass(frozen=True, slots=True)
class PositionsView:
    rows: tuple[PositionRow, ...]
    strategies: tuple[str, ...]
    equity: Decimal | None
    cash: Decimal | None
    invested: Decimal
    error: str | None = None


def merged_targets(
    last_per_strategy: Mapping[str, Mapping[str, Any]], capital_weights: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Symbol → target weight: each strategy's last successful allocation scaled by its capital weight."""
    targets: dict[str, Decimal] = {}
    for strategy, capital in capital_weights.items():
        last = last_per_strategy.get(strategy)
        if not last or last.get("status") != "ok":
            continue
        for symbol, w in (last.get("allocation") or {}).items():
            targets[symbol] = targets.get(symbol, ZERO) + capital * Decimal(str(w))
    return targets


async def last_targets(store: Store, capital_weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """Symbol → merged target weight from each configured strategy's most recent successful allocation."""
    last: dict[str, dict[str, Any]] = {}
    for strategy in capital_weights:
        allocation = await store.fetchval(
            "SELECT s.allocation FROM decision_strategies s JOIN decisions d ON d.decision_id = s.decision_id"
            " WHERE s.strategy = ? AND s.status = 'ok' ORDER BY d.started_at DESC LIMIT 1",
            (strategy,),
        )
        if allocation is not None:
            last[strategy] = {"status": "ok", "allocation": json.loads(allocation)}
    return merged_targets(last, capital_weights)


def position_rows(
    positions: Sequence[Position],
    equity: Decimal | None,
    targets: Mapping[str, Decimal],
    books: Mapping[str, dict[str, Decimal]] | None = None,
) -> list[PositionRow]:
    """One row per held symbol and per symbol with a positive target, by symbol."""
    held = {p.symbol: p for p in positions}
    rows = []
    for symbol in sorted(set(held) | {s for s, w in targets.items() if w > 0}):
        p = held.get(symbol)
        value = ZERO if p is None else (p.market_value if p.market_value is not None else p.qty * p.avg_entry_price)
        weight = value / equity if equity else None
        target = targets.get(symbol, ZERO)
        rows.append(
            PositionRow(
                symbol=symbol,
                qty=ZERO if p is None else p.qty,
                price=None if p is None else p.current_price,
                value=value,
                weight=weight,
                target_weight=target,
                drift=None if weight is None else weight - target,
                unrealized_pnl=None if p is None else p.unrealized_pl,
                books=dict((books or {}).get(symbol, {})),
                cost_basis=ZERO if p is None else p.cost_basis,
            )
        )
    return rows


async def book_quantities(store: Store) -> dict[str, dict[str, Decimal]]:
    """Symbol → strategy → quantity held in that strategy's book (non-zero only)."""
    rows = await store.fetchall("SELECT strategy, symbol, qty FROM strategy_books")
    books: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for strategy, symbol, qty in rows:
        amount = Decimal(qty)
        if amount != 0:
            books[str(symbol)][str(strategy)] = amount
    return dict(books)


async def positions_view(sources: LiveSources, store: Store) -> PositionsView:
    targets = await last_targets(store, sources.capital_weights())
    books = await book_quantities(store)
    strategies = tuple(sorted({s for per in books.values() for s in per} | set(sources.capital_weights())))
    error = None
    positions: list[Position] = []
    equity = cash = None
    try:
        async with asyncio.timeout(sources.broker_timeout_seconds):
            positions = await sources.positions()
            account = await sources.account()
        equity, cash = account.equity, account.cash
    except (TimeoutError, AlchemiserError) as exc:
        error = f"broker unreachable: {'timed out' if isinstance(exc, TimeoutError) else exc}"
    rows = position_rows(positions, equity, targets, books)
    return PositionsView(
        rows=tuple(rows),
        strategies=strategies,
        equity=equity,
        cash=cash,
        invested=sum((r.value for r in rows), ZERO),
        error=error,
    )
