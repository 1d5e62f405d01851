"""Positions: per symbol quantity, price, value, weight against the target weight, drift, unrealised P&L, and the
split across the strategy books.

Targets are the last successful allocation of each strategy, merged by its capital weight (what the next
rebalance aims for). Book quantities come from the execution store's ``strategy_books``.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

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


@dataclass(frozen=True, slots=True)
class PositionsView:
    rows: tuple[PositionRow, ...]
    strategies: tuple[str, ...]
    equity: Decimal | None
    cash: Decimal | None
    invested: Decimal
    error: str | None = None


async def last_targets(store: Store, capital_weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """Symbol → merged target weight from each configured strategy's most recent successful allocation."""
    targets: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for strategy, capital in capital_weights.items():
        allocation = await store.fetchval(
            "SELECT s.allocation FROM decision_strategies s JOIN decisions d ON d.decision_id = s.decision_id"
            " WHERE s.strategy = ? AND s.status = 'ok' ORDER BY d.started_at DESC LIMIT 1",
            (strategy,),
        )
        for symbol, w in json.loads(allocation or "{}").items():
            targets[symbol] += capital * Decimal(w)
    return dict(targets)


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
                books=books.get(symbol, {}),
            )
        )
    return PositionsView(
        rows=tuple(rows),
        strategies=strategies,
        equity=equity,
        cash=cash,
        invested=sum((r.value for r in rows), ZERO),
        error=error,
    )
