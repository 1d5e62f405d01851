"""Fixtures for the simulated exchange tests: one NYSE calendar and synthetic market per session (read-only use),
fresh exchanges per test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from alchemiser.broker.models import OrderRequest
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import SessionCalendar, XnysCalendar
from alchemiser.sim.core import SimExchange
from alchemiser.sim.events import ExchangeEvent
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.market import QuoteModel
from alchemiser.sim.synthetic import SyntheticMarket

START = date(2025, 6, 2)  # a Monday
# Tuesday 2025-06-03, 11:00 New York (EDT): mid-session.
MIDDAY = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def xnys() -> XnysCalendar:
    return XnysCalendar(date(2015, 1, 1), date(2030, 12, 31))


@pytest.fixture(scope="session")
def synthetic(xnys: XnysCalendar) -> SyntheticMarket:
    return SyntheticMarket(xnys, seed=7, start=START, history_years=3)


MakeExchange = Callable[..., tuple[SimExchange, list[ExchangeEvent]]]


@pytest.fixture
def make_exchange(xnys: XnysCalendar, synthetic: SyntheticMarket) -> MakeExchange:
    """Build an exchange (config overrides as keyword arguments) and a list collecting its events."""

    def build(
        calendar: SessionCalendar | None = None, spread_bps: float = 2.0, **overrides: object
    ) -> tuple[SimExchange, list[ExchangeEvent]]:
        config = ExchangeConfig(**{"partial_fill_rate": 0.0, **overrides})  # type: ignore[arg-type]
        cal = calendar or xnys
        quotes = QuoteModel(synthetic, cal, spread_bps=spread_bps, seed=7)
        exchange = SimExchange(quotes, cal, AssetBook(synthetic.symbols()), config, created_at=MIDDAY)
        events: list[ExchangeEvent] = []
        exchange.subscribe(events.append)
        return exchange, events

    return build


def order(
    symbol: str = "SPY",
    side: str = "buy",
    *,
    qty: str | None = "10",
    notional: str | None = None,
    limit: str | None = None,
    tif: str = "day",
    cid: str = "c-1",
) -> OrderRequest:
    return OrderRequest.model_validate(
        {
            "symbol": symbol,
            "side": side,
            "type": "limit" if limit is not None else "market",
            "time_in_force": tif,
            "client_order_id": cid,
            "qty": Decimal(qty) if qty is not None and notional is None else None,
            "notional": Decimal(notional) if notional is not None else None,
            "limit_price": Decimal(limit) if limit is not None else None,
        }
    )
