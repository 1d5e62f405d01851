"""The Broker interface: the one contract the execution layer, the daemon and the backtester program against.

Implemented by the Alpaca adapter (``alchemiser.adapters.alpaca``) and the simulated exchange's in-process face
(``alchemiser.sim``). Every method returns a typed result or raises an ``alchemiser.errors.BrokerError``
subclass; none returns ``None`` for failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.models import (
    Account,
    Asset,
    Bar,
    CalendarDay,
    FillActivity,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
    SubmitResult,
    TradeUpdate,
)

OrderQueryStatus = Literal["open", "closed", "all"]


@runtime_checkable
class Broker(Protocol):
    async def get_account(self) -> Account: ...

    async def list_positions(self) -> list[Position]: ...

    async def get_asset(self, symbol: str) -> Asset:
        """Raises ``NotFoundError`` for an unknown symbol."""
        ...

    async def submit_order(self, request: OrderRequest) -> SubmitResult:
        """Never blindly retried: an unclear outcome is resolved by client_order_id lookup or reported UNKNOWN.

        Raises ``OrderRejectedError`` (and subclasses) when the broker refuses the order.
        """
        ...

    async def get_order(self, order_id: str) -> Order: ...

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """Raises ``NotFoundError`` when no order has this client id."""
        ...

    async def cancel_order(self, order_id: str) -> None:
        """Request accepted only (Alpaca 204); confirm through events or ``get_order``.

        Raises ``NotCancelableError`` if the order is already terminal.
        """
        ...

    async def list_orders(
        self,
        *,
        status: OrderQueryStatus = "all",
        after: datetime | None = None,
        symbols: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[Order]:
        """Orders submitted after ``after``, oldest first; pages through the whole range."""
        ...

    async def list_fill_activities(self, *, after: datetime | None = None) -> list[FillActivity]:
        """Fill activities after ``after``, oldest first; pages through the whole range."""
        ...

    async def list_non_trade_activities(self, *, after: date | None = None) -> list[NonTradeActivity]:
        """Non-trade activities (splits, dividends, renames, fees…) dated on or after ``after``, oldest first."""
        ...

    async def list_announcements(self, symbols: Sequence[str], since: date, until: date) -> list[Announcement]:
        """Corporate-action announcements for ``symbols`` with a date in [since, until] (≤ 90 days apart)."""
        ...

    async def get_clock(self) -> MarketClock: ...

    async def get_calendar(self, start: date, end: date) -> list[CalendarDay]: ...

    async def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]: ...

    async def get_daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, list[Bar]]:
        """Adjusted (``adjustment=all``) daily bars, ascending, for exactly the symbols asked for."""
        ...


@runtime_checkable
class TradeUpdateFeed(Protocol):
    """A source of order events: the Alpaca ``trade_updates`` stream or the simulated exchange in-process."""

    async def next_event(self) -> TradeUpdate:
        """The next event (deduplicated), waiting if none is ready."""
        ...
