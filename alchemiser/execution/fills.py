"""Fill bookkeeping: every new fill is stored, attributed to the strategy books (in one transaction), measured
(slippage vs the decision-time quote, submit→fill latency) and journaled. Keeps the day's traded symbols and
notional for the PDT guard and the daily caps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog

from alchemiser.broker.enums import OrderSide
from alchemiser.clock import Clock
from alchemiser.execution.journal import Journal
from alchemiser.execution.metrics import ExecutionMetrics
from alchemiser.execution.state import FillDelta
from alchemiser.portfolio.books import Books
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.execution import ExecutionRepository, FillRecord

ZERO = Decimal(0)
log = structlog.get_logger("alchemiser.execution.fills")


@dataclass(slots=True)
class OrderMeta:
    """What execution knows about one of its client order ids."""

    run_id: str
    symbol: str
    side: OrderSide
    reference_price: Decimal  # the decision-time quote the slippage is measured against
    submitted_at: datetime | None = None


class FillRecorder:
    def __init__(
        self,
        repo: ExecutionRepository,
        books: Books,
        metrics: ExecutionMetrics,
        clock: Clock,
        journal: Journal,
    ) -> None:
        self._repo = repo
        self.books = books
        self._metrics = metrics
        self._clock = clock
        self._journal = journal
        self.meta: dict[str, OrderMeta] = {}
        self.bought_today: set[str] = set()
        self.sold_today: set[str] = set()
        self.fill_notional = ZERO  # notional of the fills this process recorded

    def remember(self, client_order_id: str, meta: OrderMeta) -> OrderMeta:
        return self.meta.setdefault(client_order_id, meta)

    async def load_books(self) -> None:
        holdings, pending = await self._repo.load_books()
        for strategy, symbols in holdings.items():
            book = self.books.book(strategy)
            for symbol, (qty, cost, realized) in symbols.items():
                held = book.holding(symbol)
                held.qty, held.cost, held.realized_pnl = qty, cost, realized
        self.books.pending = {s: dict(p) for s, p in pending.items()}

    async def save_books(self) -> None:
        holdings = {
            name: {s: (h.qty, h.cost, h.realized_pnl) for s, h in book.holdings.items()}
            for name, book in self.books.books.items()
        }
        await self._repo.save_books(holdings, self.books.pending)

    async def on_fill(self, fill: FillDelta) -> None:
        meta = self.meta.get(fill.client_order_id)
        if meta is None:
            intent = await self._repo.get_intent(fill.client_order_id)
            if intent is None:
                log.warning("execution.fill_for_unknown_order", client_order_id=fill.client_order_id)
                return
            meta = self.remember(
                fill.client_order_id,
                OrderMeta(intent.run_id, intent.symbol, intent.side, intent.reference_price or fill.price),
            )
        record = FillRecord(
            fill_key=fill.key,
            client_order_id=fill.client_order_id,
            broker_order_id=fill.order_id,
            run_id=meta.run_id,
            symbol=fill.symbol,
            side=meta.side,
            qty=fill.qty,
            price=fill.price,
            cum_qty=fill.cum_qty,
            filled_at=fill.at,
            source=fill.source,
        )
        async with self._repo.store.transaction():
            new = await self._repo.add_fill(record)
            if new:
                self.books.apply_fill(fill.symbol, meta.side, fill.qty, fill.price)
                await self.save_books()
        if not new:
            return
        crash_point("after_fill_recorded")
        (self.bought_today if meta.side is OrderSide.BUY else self.sold_today).add(fill.symbol)
        self.fill_notional += fill.qty * fill.price
        self._metrics.observe_slippage(meta.side, fill.price, meta.reference_price)
        if fill.completes_order and meta.submitted_at is not None:
            self._metrics.submit_to_fill.observe((self._clock.now() - meta.submitted_at).total_seconds())
            meta.submitted_at = None
        await self._journal.record(
            "execution.fill",
            meta.run_id,
            {
                "symbol": fill.symbol,
                "side": meta.side.value,
                "qty": str(fill.qty),
                "price": str(fill.price),
                "cum_qty": str(fill.cum_qty),
                "source": fill.source,
            },
            order_id=fill.client_order_id,
        )
