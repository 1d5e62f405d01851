"""Orders & fills: a filterable order table and the totals of fills, notional, fees and slippage by day and by
symbol.

Slippage is measured per fill against the order's decision-time reference price, in dollars (positive = cost) and
in basis points of the filled notional; totals are rounded to cents (for reading, not accounting). Fees: the broker
reports none per fill (Alpaca charges no commission on equities; regulatory fees appear only on statements), so they
are ``None`` — shown as unknown, never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from alchemiser.errors import AlchemiserError
from alchemiser.services.format import NEW_YORK
from alchemiser.store.database import Store

ZERO = Decimal(0)
MAX_ROWS = 500
SIDES = ("buy", "sell")


class FilterError(AlchemiserError):
    """A bad filter value (the message names the parameter)."""


@dataclass(frozen=True, slots=True)
class OrderFilter:
    symbol: str | None = None
    side: str | None = None
    state: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    limit: int = 100

    @classmethod
    def parse(cls, params: dict[str, str]) -> OrderFilter:
        """From query parameters; ``FilterError`` names the bad one."""
        side = params.get("side") or None
        if side is not None and side not in SIDES:
            raise FilterError(f"side must be buy or sell, got {side!r}")
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            raise FilterError(f"limit must be an integer, got {params.get('limit')!r}") from None
        if not 1 <= limit <= MAX_ROWS:
            raise FilterError(f"limit must be within 1..{MAX_ROWS}, got {limit}")
        days = {}
        for key in ("from", "to"):
            text = params.get(key) or None
            try:
                days[key] = None if text is None else date.fromisoformat(text)
            except ValueError:
                raise FilterError(f"{key} must be a date (YYYY-MM-DD), got {text!r}") from None
        symbol = (params.get("symbol") or "").strip().upper() or None
        if symbol is not None and not symbol.replace(".", "").replace("/", "").isalnum():
            raise FilterError(f"symbol must be a ticker, got {symbol!r}")
        return cls(symbol, side, params.get("state") or None, days["from"], days["to"], limit)

    def as_params(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol or "",
            "side": self.side or "",
            "state": self.state or "",
            "from": "" if self.day_from is None else self.day_from.isoformat(),
            "to": "" if self.day_to is None else self.day_to.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_order_id: str
    run_id: str
    created_at: datetime
    symbol: str
    side: str
    step: int
    order_type: str
    qty: Decimal
    limit_price: Decimal | None
    reference_price: Decimal | None
    state: str
    broker_status: str | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None


@dataclass(slots=True)
class Totals:
    key: str
    fills: int = 0
    notional: Decimal = ZERO
    slippage: Decimal = ZERO  # dollars, positive = cost
    fees: Decimal | None = None

    @property
    def slippage_bps(self) -> Decimal | None:
        return None if not self.notional else (self.slippage / self.notional * 10_000).quantize(Decimal("0.1"))


@dataclass(frozen=True, slots=True)
class OrdersView:
    filter: OrderFilter
    rows: tuple[OrderRow, ...]
    total_matching: int
    by_day: tuple[Totals, ...]
    by_symbol: tuple[Totals, ...]
    states: tuple[str, ...]


def _where(f: OrderFilter, alias: str = "") -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if f.symbol:
        clauses.append(f"{alias}symbol = ?")
        params.append(f.symbol)
    if f.side:
        clauses.append(f"{alias}side = ?")
        params.append(f.side)
    if f.state:
        clauses.append(f"{alias}state = ?")
        params.append(f.state)
    # Days are New York days; the stored times are UTC, so compare on the whole UTC range of those days.
    if f.day_from:
        clauses.append(f"{alias}created_at >= ?")
        params.append(_day_start_utc(f.day_from))
    if f.day_to:
        clauses.append(f"{alias}created_at < ?")
        params.append(_day_start_utc(f.day_to + timedelta(days=1)))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _day_start_utc(day: date) -> str:
    """Midnight in New York as the store writes times (UTC ISO-8601), so text comparison orders correctly."""
    return datetime.combine(day, time(0), NEW_YORK).astimezone(UTC).isoformat()


_ORDER_COLUMNS = (
    "SELECT client_order_id, run_id, created_at, symbol, side, step, order_type, qty, limit_price, reference_price,"
    " state, broker_status, filled_qty, filled_avg_price FROM execution_orders"
)
_COUNT = "SELECT COUNT(*) FROM execution_orders"
# Totals are summed by SQLite (a year of fills in a few ms instead of a Python loop) and rounded to cents: they are
# for reading, not accounting. Fills happen inside the session, whose New York date is also its UTC date.
_FILL_TOTALS = (
    "SELECT substr(COALESCE(f.filled_at, f.recorded_at), 1, 10) AS day, f.symbol, COUNT(*),"
    " SUM(CAST(f.qty AS REAL) * CAST(f.price AS REAL)),"
    " SUM(CASE WHEN o.reference_price IS NULL THEN 0.0 ELSE (CAST(f.price AS REAL) - CAST(o.reference_price AS REAL))"
    " * CAST(f.qty AS REAL) * (CASE f.side WHEN 'buy' THEN 1 ELSE -1 END) END)"
    " FROM execution_fills f JOIN execution_orders o ON o.client_order_id = f.client_order_id"
)
_GROUP = " GROUP BY day, f.symbol"


def _cents(value: float | None) -> Decimal:
    return ZERO if value is None else Decimal(repr(value)).quantize(Decimal("0.01"))


async def orders_view(store: Store, f: OrderFilter) -> OrdersView:
    where, params = _where(f)
    # The WHERE clauses are fixed text from _where; every value is a bound parameter.
    rows = await store.fetchall(
        _ORDER_COLUMNS + where + " ORDER BY created_at DESC, client_order_id DESC LIMIT ?", [*params, f.limit]
    )
    total = int(await store.fetchval(_COUNT + where, params) or 0)
    fwhere, fparams = _where(f, "o.")
    by_day: dict[str, Totals] = {}
    by_symbol: dict[str, Totals] = {}
    for day, symbol, fills, notional, slippage in await store.fetchall(_FILL_TOTALS + fwhere + _GROUP, fparams):
        exact_notional, exact_slippage = _cents(notional), _cents(slippage)
        for key, table in ((str(day), by_day), (str(symbol), by_symbol)):
            totals = table.setdefault(key, Totals(key))
            totals.fills += int(fills)
            totals.notional += exact_notional
            totals.slippage += exact_slippage
    states = await store.fetchall("SELECT DISTINCT state FROM execution_orders ORDER BY state")
    return OrdersView(
        filter=f,
        rows=tuple(_order(r) for r in rows),
        total_matching=total,
        by_day=tuple(sorted(by_day.values(), key=lambda t: t.key, reverse=True)),
        by_symbol=tuple(sorted(by_symbol.values(), key=lambda t: t.key)),
        states=tuple(str(s[0]) for s in states),
    )


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _order(row: Any) -> OrderRow:
    return OrderRow(
        client_order_id=row[0],
        run_id=row[1],
        created_at=datetime.fromisoformat(row[2]),
        symbol=row[3],
        side=row[4],
        step=int(row[5]),
        order_type=row[6],
        qty=Decimal(row[7]),
        limit_price=_dec(row[8]),
        reference_price=_dec(row[9]),
        state=row[10],
        broker_status=row[11],
        filled_qty=Decimal(row[12]),
        filled_avg_price=_dec(row[13]),
    )


def totals_json(totals: Totals) -> dict[str, Any]:
    return {
        "key": totals.key,
        "fills": totals.fills,
        "notional": format(totals.notional, "f"),
        "slippage": format(totals.slippage, "f"),
        "slippage_bps": None if totals.slippage_bps is None else format(totals.slippage_bps, "f"),
        "fees": None,
    }


__all__ = ["FilterError", "OrderFilter", "OrderRow", "OrdersView", "Totals", "orders_view", "totals_json"]
