"""The money view of ``/status`` and ``alchemiser status``: account, positions against targets, open orders, last
fills — read from the broker, written as fixed-point strings rounded for display (cents for dollars, four decimals
for weights and share prices under a dollar keep cents). Full precision stays in the store and at the broker.

The figures are the dashboard's: day P&L is ``services.account.day_pnl`` and the position rows (value, weight vs
target, cost basis, unrealised P&L) are ``services.positions.position_rows``; this module only formats them.
``targets`` are the merged target weights of the strategies' latest successful allocations (what the next
rebalance aims for): ``services.positions.merged_targets``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from alchemiser.broker.models import Account, FillActivity, Order, Position
from alchemiser.broker.protocol import Broker
from alchemiser.errors import AlchemiserError
from alchemiser.services.account import day_pnl
from alchemiser.services.positions import position_rows

CENT = Decimal("0.01")
WEIGHT = Decimal("0.0001")
QTY = Decimal("0.000001")
RECENT_FILLS = 10


def cents(value: Decimal | None) -> str | None:
    """``Decimal("27614.38905")`` → ``"27614.39"`` (``None`` stays ``None``); never exponent notation."""
    return None if value is None else f"{value.quantize(CENT, rounding=ROUND_HALF_EVEN):f}"


def weight(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(WEIGHT, rounding=ROUND_HALF_EVEN):f}"


def shares(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = f"{value.quantize(QTY, rounding=ROUND_HALF_EVEN).normalize():f}"
    return "0" if text in ("-0", "0E-6") else text


async def money_view(
    broker: Broker,
    targets: Mapping[str, Decimal],
    *,
    initial_equity: Decimal | None = None,
    fills_after: datetime | None = None,
    broker_seconds: float = 2.0,
) -> dict[str, Any]:
    """``{"account", "positions", "open_orders", "recent_fills"}``, or ``{"error": ...}`` when the broker fails."""
    try:
        async with asyncio.timeout(broker_seconds):
            account, positions, orders, fills = await asyncio.gather(
                broker.get_account(),
                broker.list_positions(),
                broker.list_orders(status="open"),
                broker.list_fill_activities(after=fills_after),
            )
    except (TimeoutError, AlchemiserError) as exc:
        return {"error": f"broker unreachable: {exc or 'timed out'}"}
    return {
        "account": account_json(account, positions, initial_equity),
        "positions": positions_json(positions, account.equity, targets),
        "open_orders": [order_json(o) for o in orders],
        "recent_fills": [fill_json(f) for f in sorted(fills, key=lambda f: f.transaction_time)[-RECENT_FILLS:]],
    }


def account_json(account: Account, positions: Sequence[Position], initial_equity: Decimal | None) -> dict[str, Any]:
    pnl, _fraction = day_pnl(account)
    unrealized = sum((p.unrealized_pl or Decimal(0) for p in positions), Decimal(0))
    return {
        "equity": cents(account.equity),
        "cash": cents(account.cash),
        "buying_power": cents(account.buying_power),
        "day_pnl": cents(pnl),
        "total_pnl": cents(None if initial_equity is None else account.equity - initial_equity),
        "unrealized_pnl": cents(unrealized),
    }


def positions_json(
    positions: Sequence[Position], equity: Decimal, targets: Mapping[str, Decimal]
) -> dict[str, dict[str, Any]]:
    return {
        row.symbol: {
            "qty": shares(row.qty),
            "price": cents(row.price),
            "market_value": cents(row.value),
            "cost_basis": cents(row.cost_basis),
            "unrealized_pnl": cents(row.unrealized_pnl if row.qty else Decimal(0)),
            "weight": weight(row.weight if row.qty else Decimal(0)),
            "target_weight": weight(row.target_weight),
        }
        for row in position_rows(positions, equity, targets)
    }


def order_json(order: Order) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "qty": shares(order.qty),
        "notional": cents(order.notional),
        "filled_qty": shares(order.filled_qty),
        "limit_price": cents(order.limit_price),
        "status": order.status.value,
        "submitted_at": None if order.submitted_at is None else order.submitted_at.isoformat(),
    }


def fill_json(fill: FillActivity) -> dict[str, Any]:
    return {
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": shares(fill.qty),
        "price": cents(fill.price),
        "at": fill.transaction_time.isoformat(),
    }


class MoneySnapshot:
    """One money view shared by the ``/status`` sections that show parts of it (``account``, ``positions``).

    The sections are read one after the other while a snapshot is built; the view is fetched once and reused for
    ``max_age`` wall seconds, so a ``/status`` costs one round of broker calls, not one per section.
    """

    def __init__(
        self,
        broker: Broker,
        targets: Callable[[], Awaitable[Mapping[str, Decimal]]],
        now: Callable[[], datetime],
        *,
        initial_equity: Decimal | None = None,
        max_age: float = 1.0,
    ) -> None:
        self._broker = broker
        self._targets = targets
        self._now = now
        self._initial_equity = initial_equity
        self._max_age = max_age
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def view(self) -> dict[str, Any]:
        if self._cached is not None and time.monotonic() - self._cached[0] < self._max_age:
            return self._cached[1]
        view = await money_view(
            self._broker,
            await self._targets(),
            initial_equity=self._initial_equity,
            fills_after=self._now() - timedelta(days=7),
        )
        self._cached = (time.monotonic(), view)
        return view

    async def account_section(self) -> dict[str, Any]:
        view = await self.view()
        if "error" in view:
            return view
        return {**view["account"], "open_orders": view["open_orders"], "recent_fills": view["recent_fills"]}

    async def positions_section(self) -> dict[str, Any]:
        view = await self.view()
        return view if "error" in view else dict(view["positions"])
