"""Transaction cost analysis: per order, what the fill cost against the decision price and the arrival quote.

``OrderFacts`` is one plan line as execution worked it (all its ladder steps together): the price the planner used
(the *decision price*), the quote the first order was priced from (the *arrival quote*), what filled, when, at which
ladder step and whether the market fallback was needed.

Costs are positive when they hurt: a buy above (a sell below) the reference. Per order (one plan line, all its
ladder steps): slippage vs the decision price and vs the arrival mid in $ and bps, the spread paid (the part of the
cost within the arrival half-spread), time from decision to the last fill, the ladder step that filled, whether the
market fallback was used, the fees the order bore. Summaries add the dollars up by symbol, by strategy (a line's
cost split by each strategy's share of it) and by day; the worst orders are the costliest against the decision
price.

The same rows come from simulated fills (``rows_from_trades``: a backtest's trade table), so the backtest report
and the live parity page (``alchemiser.parity``) read the same columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
MARKET_STEP = 90  # execution's first market step (alchemiser.execution.ids.MARKET_STEP)
BPS = Decimal(10_000)
CENT = Decimal("0.01")
TENTH_BPS = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One plan line as execution worked it. ``side`` is ``buy``/``sell``; quantities are unsigned."""

    symbol: str
    side: str
    planned_qty: Decimal
    filled_qty: Decimal
    decision_price: Decimal
    avg_fill_price: Decimal | None = None
    arrival_bid: Decimal | None = None
    arrival_ask: Decimal | None = None
    fees: Decimal = ZERO
    decided_at: datetime | None = None
    last_fill_at: datetime | None = None
    filled_step: int | None = None  # the highest ladder step that filled (>= 90: a market order)
    strategies: Mapping[str, Decimal] = field(default_factory=dict)  # strategy -> share of the line (sums to 1)

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"{self.symbol}: order side must be 'buy' or 'sell', got {self.side!r}")
        if self.planned_qty < 0 or self.filled_qty < 0:
            raise ValueError(f"{self.symbol}: quantities must be >= 0, got {self.planned_qty}/{self.filled_qty}")
        if self.decision_price <= 0:
            raise ValueError(f"{self.symbol}: decision price must be > 0, got {self.decision_price}")
        if self.filled_qty > 0 and (self.avg_fill_price is None or self.avg_fill_price <= 0):
            raise ValueError(f"{self.symbol}: {self.filled_qty} filled without a fill price")

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def arrival_mid(self) -> Decimal | None:
        if self.arrival_bid is None or self.arrival_ask is None:
            return None
        return (self.arrival_bid + self.arrival_ask) / 2

    @property
    def market_fallback(self) -> bool:
        return self.filled_step is not None and self.filled_step >= MARKET_STEP

    @property
    def seconds_to_fill(self) -> float | None:
        if self.decided_at is None or self.last_fill_at is None:
            return None
        return max(0.0, (self.last_fill_at - self.decided_at).total_seconds())

    def is_late(self, late_after_seconds: float) -> bool:
        seconds = self.seconds_to_fill
        return seconds is not None and seconds > late_after_seconds


@dataclass(frozen=True, slots=True)
class TcaRow:
    session: date
    symbol: str
    side: str
    planned_qty: Decimal
    filled_qty: Decimal
    decision_price: Decimal
    avg_fill_price: Decimal | None
    notional: Decimal
    cost_vs_decision: Decimal  # $ (> 0 hurts)
    cost_vs_arrival: Decimal | None  # $, None without an arrival quote
    spread_paid: Decimal | None
    seconds_to_fill: float | None
    filled_step: int | None
    market_fallback: bool
    fees: Decimal
    strategies: Mapping[str, Decimal]

    @property
    def bps_vs_decision(self) -> Decimal:
        return _bps(self.cost_vs_decision, self.notional)

    @property
    def bps_vs_arrival(self) -> Decimal | None:
        return None if self.cost_vs_arrival is None else _bps(self.cost_vs_arrival, self.notional)

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session.isoformat(),
            "symbol": self.symbol,
            "side": self.side,
            "planned_qty": str(self.planned_qty),
            "filled_qty": str(self.filled_qty),
            "decision_price": str(self.decision_price),
            "avg_fill_price": None if self.avg_fill_price is None else str(self.avg_fill_price),
            "notional": str(self.notional.quantize(CENT)),
            "cost_vs_decision": str(self.cost_vs_decision.quantize(CENT)),
            "bps_vs_decision": str(self.bps_vs_decision),
            "cost_vs_arrival": _opt(self.cost_vs_arrival),
            "bps_vs_arrival": None if self.bps_vs_arrival is None else str(self.bps_vs_arrival),
            "spread_paid": _opt(self.spread_paid),
            "seconds_to_fill": self.seconds_to_fill,
            "filled_step": self.filled_step,
            "market_fallback": self.market_fallback,
            "fees": str(self.fees),
            "strategies": {k: str(v) for k, v in sorted(self.strategies.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TcaRow:
        def dec(key: str) -> Decimal | None:
            value = data.get(key)
            return None if value is None else Decimal(value)

        return cls(
            session=date.fromisoformat(data["session"]),
            symbol=data["symbol"],
            side=data["side"],
            planned_qty=Decimal(data["planned_qty"]),
            filled_qty=Decimal(data["filled_qty"]),
            decision_price=Decimal(data["decision_price"]),
            avg_fill_price=dec("avg_fill_price"),
            notional=Decimal(data["notional"]),
            cost_vs_decision=Decimal(data["cost_vs_decision"]),
            cost_vs_arrival=dec("cost_vs_arrival"),
            spread_paid=dec("spread_paid"),
            seconds_to_fill=data.get("seconds_to_fill"),
            filled_step=data.get("filled_step"),
            market_fallback=bool(data.get("market_fallback")),
            fees=Decimal(data.get("fees", "0")),
            strategies={k: Decimal(v) for k, v in (data.get("strategies") or {}).items()},
        )


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


def _bps(cost: Decimal, notional: Decimal) -> Decimal:
    return (cost / notional * BPS).quantize(TENTH_BPS) if notional else ZERO


def tca_row(session: date, order: OrderFacts) -> TcaRow:
    """One order's costs. An order that filled nothing has no cost (its missed move is timing, not TCA)."""
    price = order.avg_fill_price if order.filled_qty else None
    qty = order.filled_qty
    cost = ZERO if price is None else order.sign * qty * (price - order.decision_price)
    mid = order.arrival_mid
    vs_arrival = spread = None
    if mid is not None and price is not None and order.arrival_ask is not None and order.arrival_bid is not None:
        vs_arrival = order.sign * qty * (price - mid)
        half = (order.arrival_ask - order.arrival_bid) / 2
        spread = qty * max(ZERO, min(order.sign * (price - mid), half))
    return TcaRow(
        session=session,
        symbol=order.symbol,
        side=order.side,
        planned_qty=order.planned_qty,
        filled_qty=qty,
        decision_price=order.decision_price,
        avg_fill_price=price,
        notional=ZERO if price is None else qty * price,
        cost_vs_decision=cost,
        cost_vs_arrival=vs_arrival,
        spread_paid=spread,
        seconds_to_fill=order.seconds_to_fill,
        filled_step=order.filled_step,
        market_fallback=order.market_fallback,
        fees=order.fees,
        strategies=dict(order.strategies),
    )


def rows_from_trades(trades: Iterable[Mapping[str, Any]]) -> list[TcaRow]:
    """TCA rows of simulated fills: a backtest's trades (``date, symbol, side, qty, price, reference, commission``)."""
    rows: list[TcaRow] = []
    for trade in trades:
        order = OrderFacts(
            symbol=str(trade["symbol"]),
            side=str(trade["side"]),
            planned_qty=Decimal(str(trade["qty"])),
            filled_qty=Decimal(str(trade["qty"])),
            decision_price=Decimal(str(trade["reference"])),
            avg_fill_price=Decimal(str(trade["price"])),
            fees=Decimal(str(trade.get("commission", 0))),
        )
        day = trade["date"]
        rows.append(tca_row(day.date() if hasattr(day, "date") else day, order))
    return rows


@dataclass(frozen=True, slots=True)
class TcaSummary:
    key: str
    orders: int
    notional: Decimal
    cost_vs_decision: Decimal
    cost_vs_arrival: Decimal
    spread_paid: Decimal
    market_fallbacks: int
    fees: Decimal = ZERO

    @property
    def bps_vs_decision(self) -> Decimal:
        return _bps(self.cost_vs_decision, self.notional)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "orders": self.orders,
            "notional": str(self.notional.quantize(CENT)),
            "cost_vs_decision": str(self.cost_vs_decision.quantize(CENT)),
            "bps_vs_decision": str(self.bps_vs_decision),
            "cost_vs_arrival": str(self.cost_vs_arrival.quantize(CENT)),
            "spread_paid": str(self.spread_paid.quantize(CENT)),
            "market_fallbacks": self.market_fallbacks,
            "fees": str(self.fees.quantize(CENT)),
        }


def summarise(rows: Sequence[TcaRow], by: str) -> list[TcaSummary]:
    """Totals by ``symbol``, ``strategy`` or ``day``, costliest first."""
    if by not in ("symbol", "strategy", "day"):
        raise ValueError(f"TCA summaries are by symbol, strategy or day, not {by!r}")
    acc: dict[str, list[Decimal]] = {}
    for row in rows:
        keys: Mapping[str, Decimal]
        if by == "strategy":
            keys = row.strategies or {"(unattributed)": Decimal(1)}
        else:
            keys = {row.symbol if by == "symbol" else row.session.isoformat(): Decimal(1)}
        for key, share in keys.items():
            a = acc.setdefault(key, [ZERO] * 7)
            a[0] += 1
            a[1] += row.notional * share
            a[2] += row.cost_vs_decision * share
            a[3] += (row.cost_vs_arrival or ZERO) * share
            a[4] += (row.spread_paid or ZERO) * share
            a[5] += row.market_fallback
            a[6] += row.fees * share
    out = [TcaSummary(k, int(a[0]), a[1], a[2], a[3], a[4], int(a[5]), a[6]) for k, a in acc.items()]
    if by == "day":
        return sorted(out, key=lambda s: s.key)
    return sorted(out, key=lambda s: (-s.cost_vs_decision, s.key))


def worst_orders(rows: Sequence[TcaRow], count: int = 10) -> list[TcaRow]:
    """The ``count`` orders that cost the most against the decision price (in $)."""
    return sorted(rows, key=lambda r: (-r.cost_vs_decision, r.session, r.symbol))[:count]
