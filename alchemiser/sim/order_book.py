"""The exchange's order book: every order it accepted (by id, by client order id, in submission order), the open
ones, and the executions — with the holds open orders place and the queries Alpaca's order and activity routes
serve.

Records are kept for the exchange's lifetime (Alpaca serves the whole history); only the open set shrinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from alchemiser.broker.enums import OrderSide, OrderStatus
from alchemiser.broker.models import FillActivity, Order
from alchemiser.errors import NotFoundError
from alchemiser.sim.events import FillRecord
from alchemiser.sim.orders import OrderRecord


def _not_found() -> NotFoundError:
    return NotFoundError("order not found", status_code=404, code=40410000)


class OrderBook:
    """Orders and fills of the one account; the lifecycle mutates the records, the book indexes them."""

    __slots__ = ("_by_client", "_by_id", "_open", "_seq", "fills", "records")

    def __init__(self) -> None:
        self._by_id: dict[str, OrderRecord] = {}
        self._by_client: dict[str, OrderRecord] = {}
        self.records: list[OrderRecord] = []  # every order, in submission order
        self._open: dict[str, OrderRecord] = {}  # not yet terminal, in submission order
        self.fills: list[FillRecord] = []  # every execution, in time order
        self._seq = 0  # the last order number handed out

    def next_seq(self) -> int:
        """The number of the next order accepted (1, 2, …)."""
        self._seq += 1
        return self._seq

    @property
    def seq(self) -> int:
        """The number of the last order accepted (0 before the first)."""
        return self._seq

    def restore(self, records: Sequence[OrderRecord], fills: Sequence[FillRecord], *, seq: int) -> None:
        """Replace the book's contents with saved ones (``sim/persist.py``); open records keep their holds."""
        self._by_id, self._by_client, self._open = {}, {}, {}
        self.records, self.fills = [], []
        for rec in records:
            self._by_id[rec.id] = rec
            self._by_client[rec.client_order_id] = rec
            self.records.append(rec)
            if not rec.status.is_terminal:
                self._open[rec.id] = rec
        self.fills.extend(fills)
        self._seq = seq

    def add(self, rec: OrderRecord) -> None:
        self._by_id[rec.id] = rec
        self._by_client[rec.client_order_id] = rec
        self.records.append(rec)
        self._open[rec.id] = rec

    def has_client_order_id(self, client_order_id: str) -> bool:
        return client_order_id in self._by_client

    def record(self, order_id: str) -> OrderRecord:
        rec = self._by_id.get(order_id)
        if rec is None:
            raise _not_found()
        return rec

    def finalize(self, rec: OrderRecord, status: OrderStatus, at: datetime) -> None:
        """Move ``rec`` to a terminal status: release its holds and drop its scheduled actions."""
        rec.status = status
        rec.updated_at = at
        rec.reserved_cash = Decimal(0)
        rec.reserved_qty = Decimal(0)
        rec.token += 1
        self._open.pop(rec.id, None)

    def open_records(self) -> list[OrderRecord]:
        return list(self._open.values())

    def held_cash(self) -> Decimal:
        """Cash held by open buys."""
        return sum([o.reserved_cash for o in self._open.values()], Decimal(0))

    def held_qty(self, symbol: str) -> Decimal:
        """Shares of ``symbol`` held by open sells."""
        return sum([o.reserved_qty for o in self._open.values() if o.symbol == symbol], Decimal(0))

    # ---- queries --------------------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        return self.record(order_id).to_order()

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        rec = self._by_client.get(client_order_id)
        if rec is None:
            raise _not_found()
        return rec.to_order()

    def list_orders(
        self,
        *,
        status: Literal["open", "closed", "all"] = "open",
        after: datetime | None = None,
        until: datetime | None = None,
        symbols: Sequence[str] | None = None,
        side: OrderSide | None = None,
        limit: int = 50,
        direction: Literal["asc", "desc"] = "desc",
    ) -> list[Order]:
        wanted = {s.upper() for s in symbols} if symbols else None
        picked: list[OrderRecord] = []
        for rec in self.records:
            if status == "open" and rec.status.is_terminal:
                continue
            if status == "closed" and not rec.status.is_terminal:
                continue
            if after is not None and rec.submitted_at <= after:
                continue
            if until is not None and rec.submitted_at >= until:
                continue
            if wanted is not None and rec.symbol not in wanted:
                continue
            if side is not None and rec.side is not side:
                continue
            picked.append(rec)
        if direction == "desc":
            picked.reverse()
        return [rec.to_order() for rec in picked[:limit]]

    def fill_activities(
        self,
        *,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: Literal["asc", "desc"] = "desc",
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> list[FillActivity]:
        fills = self.fills
        if after is not None:
            fills = [f for f in fills if f.at > after]
        if until is not None:
            fills = [f for f in fills if f.at < until]
        rows = [f.activity() for f in fills]
        if direction == "desc":
            rows.reverse()
        if page_token is not None:
            ids = [r.id for r in rows]
            if page_token in ids:
                rows = rows[ids.index(page_token) + 1 :]
        return rows[:page_size] if page_size is not None else rows

    def fills_with_mids(self) -> list[tuple[FillActivity, Decimal]]:
        """Every fill with the mid price at its instant (for cost accounting and tests)."""
        return [(f.activity(), f.mid) for f in self.fills]
