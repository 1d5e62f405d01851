"""Alpaca payload factories for the adapter tests (shapes from docs/alpaca-protocol.md §2-§4).

Every payload here is also validated against alpaca-py's models in ``test_alpaca_contract.py``, so the fakes
cannot drift from what the official SDK expects.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from alchemiser.adapters.alpaca.auth import AlpacaCredentials
from alchemiser.clock import ensure_utc

TRADING = "https://paper-api.test"
DATA = "https://data.test"
KEY_ID = "PKTESTKEY123"
SECRET = "s3cr3t-value-never-logged"

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
_ids = itertools.count(1)


def credentials() -> AlpacaCredentials:
    return AlpacaCredentials.of(KEY_ID, SECRET)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_json(**overrides: Any) -> dict[str, Any]:
    created = overrides.pop("at", T0)
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "client_order_id": f"cid-{next(_ids)}",
        "created_at": iso(created),
        "updated_at": iso(created),
        "submitted_at": iso(created),
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "SPY",
        "asset_class": "us_equity",
        "notional": None,
        "qty": "10",
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": "market",
        "type": "market",
        "side": "buy",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "status": "new",
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
    }
    body.update(overrides)
    return body


def filled(order: dict[str, Any], qty: str, price: str, at: datetime, *, complete: bool = True) -> dict[str, Any]:
    """The order after a fill bringing its cumulative filled qty to ``qty``."""
    return {
        **order,
        "filled_qty": qty,
        "filled_avg_price": price,
        "status": "filled" if complete else "partially_filled",
        "updated_at": iso(at),
        "filled_at": iso(at) if complete else None,
    }


def account_json(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98",
        "account_number": "010203ABCD",
        "status": "ACTIVE",
        "currency": "USD",
        "buying_power": "262113.632",
        "regt_buying_power": "80680.36",
        "non_marginable_buying_power": "98945.02",
        "cash": "-23140.2",
        "equity": "103820.56",
        "last_equity": "103529.24",
        "portfolio_value": "103820.56",
        "long_market_value": "126960.76",
        "short_market_value": "0",
        "initial_margin": "63480.38",
        "maintenance_margin": "38088.228",
        "last_maintenance_margin": "38000.832",
        "multiplier": "4",
        "sma": "0",
        "shorting_enabled": True,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "created_at": "2019-06-12T22:47:07.99658Z",
        "accrued_fees": "0",
        "options_buying_power": "262113.632",
        "options_approved_level": "1",
        "options_trading_level": "1",
    }
    body.update(overrides)
    return body


def position_json(**overrides: Any) -> dict[str, Any]:
    body = {
        "asset_id": "904837e3-3b76-47ec-b432-046db621571b",
        "symbol": "AAPL",
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": "100.0",
        "qty": "5",
        "qty_available": "5",
        "side": "long",
        "market_value": "600.0",
        "cost_basis": "500.0",
        "unrealized_pl": "100.0",
        "unrealized_plpc": "0.20",
        "unrealized_intraday_pl": "10.0",
        "unrealized_intraday_plpc": "0.0084",
        "current_price": "120.0",
        "lastday_price": "119.0",
        "change_today": "0.0084",
    }
    body.update(overrides)
    return body


def asset_json(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "class": "us_equity",
        "exchange": "NASDAQ",
        "symbol": "AAPL",
        "name": "Apple Inc. Common Stock",
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "cusip": "037833100",
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "attributes": ["has_options"],
    }
    body.update(overrides)
    return body


def clock_json(**overrides: Any) -> dict[str, Any]:
    body = {
        "timestamp": "2022-04-28T14:07:04.451420928-04:00",
        "is_open": True,
        "next_open": "2022-04-29T09:30:00-04:00",
        "next_close": "2022-04-28T16:00:00-04:00",
    }
    body.update(overrides)
    return body


def calendar_json(day: date, close: str = "16:00") -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "open": "09:30",
        "close": close,
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": (day + timedelta(days=1)).isoformat(),
    }


def fill_activity_json(
    order: dict[str, Any], *, qty: str, price: str, cum: str, leaves: str, at: datetime
) -> dict[str, Any]:
    return {
        "activity_type": "FILL",
        "id": f"{at.strftime('%Y%m%d%H%M%S%f')[:17]}::{uuid.uuid4()}",
        "cum_qty": cum,
        "leaves_qty": leaves,
        "price": price,
        "qty": qty,
        "side": order["side"],
        "symbol": order["symbol"],
        "transaction_time": iso(at),
        "order_id": order["id"],
        "type": "fill" if leaves == "0" else "partial_fill",
    }


def trade_update_json(
    event: str,
    order: dict[str, Any],
    *,
    at: datetime = T0,
    execution_id: str | None = None,
    price: str | None = None,
    qty: str | None = None,
    position_qty: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"event": event, "order": order, "timestamp": iso(at)}
    if execution_id is not None:
        data["execution_id"] = execution_id
    if price is not None:
        data.update(price=price, qty=qty, position_qty=position_qty)
    if event_id is not None:
        data["event_id"] = event_id
        data["at"] = iso(at)
    return {"stream": "trade_updates", "data": data}


def bar_json(day: date, close: float) -> dict[str, Any]:
    midnight_ny = datetime(day.year, day.month, day.day, 5, 0, tzinfo=UTC)  # EST; tests use winter dates
    return {
        "t": iso(midnight_ny),
        "o": close - 1,
        "h": close + 1,
        "l": close - 2,
        "c": close,
        "v": 1000,
        "n": 10,
        "vw": close,
    }


def frame(payload: Any) -> str:
    return json.dumps(payload)


class FastClock:
    """Sleeps return at once and move time forward by the amount slept; records every sleep."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = ensure_utc(start)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((ensure_utc(when) - self._now).total_seconds())
