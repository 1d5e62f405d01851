"""The shadow portfolio: what the backtest would have done with the account's capital, session by session.

It starts from the account itself (same positions, cash set so that its equity equals the account's), then every
session it takes the replay's targets (the backtest's decision with the bars known now), plans them with the
daemon's planner at the decision prices, fills every line through the backtest's fill model (quote touch,
slippage, commission — ``alchemiser.backtest.QuoteFillModel``) and marks at the close. A buy the cash cannot cover
is cut to what it can (``alchemiser.backtest.book.affordable``), as in a backtest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from alchemiser.backtest.book import Book, affordable
from alchemiser.backtest.fills import Fill, FillModel
from alchemiser.broker.enums import OrderSide
from alchemiser.parity.facts import ZERO, LiveSession
from alchemiser.portfolio import AccountState, AssetInfo, PlanError, PlannerParams, StrategyTarget, plan_rebalance

#: the causes a position difference between the account and the shadow is kept under, session to session
CARRY_CAUSES = ("signal", "timing", "rounding")


@dataclass(frozen=True, slots=True)
class ShadowTrade:
    symbol: str
    qty: Decimal  # signed: > 0 bought, < 0 sold
    price: Decimal
    commission: Decimal


@dataclass
class ShadowState:
    """The shadow's book after a close, and the account-minus-shadow position difference by cause."""

    cash: Decimal
    positions: dict[str, Decimal] = field(default_factory=dict)
    differences: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # cause -> symbol -> qty

    @classmethod
    def mirror(cls, positions: Mapping[str, Decimal], equity: Decimal, marks: Mapping[str, Decimal]) -> ShadowState:
        """Start as the account: same positions, cash set so that the equity at ``marks`` is ``equity``."""
        held = {s: q for s, q in positions.items() if q}
        return cls(cash=equity - sum((q * marks[s] for s, q in held.items()), ZERO), positions=held)

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        return self.cash + sum((q * marks[s] for s, q in self.positions.items()), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {
            "cash": str(self.cash),
            "positions": {s: str(q) for s, q in sorted(self.positions.items())},
            "differences": {c: {s: str(q) for s, q in sorted(d.items())} for c, d in sorted(self.differences.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShadowState:
        return cls(
            cash=Decimal(data["cash"]),
            positions={s: Decimal(q) for s, q in data.get("positions", {}).items()},
            differences={c: {s: Decimal(q) for s, q in d.items()} for c, d in data.get("differences", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class ShadowSession:
    """One shadow session: its state before and after, and its trades at the fill model's prices."""

    before: ShadowState
    after: ShadowState
    trades: tuple[ShadowTrade, ...]
    start_equity: Decimal  # at the previous closes
    end_equity: Decimal  # at this session's closes


def step_shadow(
    state: ShadowState, live: LiveSession, fills: FillModel, params: PlannerParams | None = None
) -> ShadowSession:
    """The shadow through ``live.session``: plan the replay's targets, fill, mark (``state`` is not changed)."""
    params = params or PlannerParams()
    book = Book(cash=state.cash, positions=dict(state.positions))
    symbols = set(book.positions) | {s for s, w in live.replay_targets.items() if w > 0}
    prices = {s: live.price_at_decision(s) for s in symbols}
    start_equity = book.cash + sum((q * live.previous_close_of(s) for s, q in book.positions.items()), ZERO)
    trades: list[ShadowTrade] = []
    equity = book.equity_at(prices)
    if equity > 0 and symbols:
        target = StrategyTarget("shadow", Decimal(1), dict(live.replay_targets), exact=True)
        assets = {s: AssetInfo(s, fractionable=True, tradable=s in live.closes) for s in symbols}
        try:
            plan = plan_rebalance(
                [target],
                AccountState(equity=equity, cash=book.cash, buying_power=book.cash),
                book.positions,
                prices,
                assets,
                params=params,
            )
        except PlanError as exc:
            raise ValueError(f"{live.session}: the shadow's plan was refused: {exc}") from exc
        for line in plan.trades:
            side = line.side.to_order_side()
            qty = line.order_qty
            fill = fills.fill(line.symbol, side, qty, line.price)
            if side is OrderSide.BUY:
                qty, fill = _affordable(book, fills, (line.symbol, qty, line.price), fill, params.fraction_quantum)
                if qty <= 0:
                    continue
                book.buy(line.symbol, qty, fill)
            else:
                book.sell(line.symbol, qty, fill, full_exit=line.full_exit)
            trades.append(ShadowTrade(line.symbol, qty if side is OrderSide.BUY else -qty, fill.price, fill.commission))
    after = ShadowState(cash=book.cash, positions=dict(book.positions), differences=dict(state.differences))
    end_equity = after.cash + sum((q * live.close_of(s) for s, q in after.positions.items()), ZERO)
    return ShadowSession(state, after, tuple(trades), start_equity, end_equity)


def _affordable(
    book: Book, fills: FillModel, order: tuple[str, Decimal, Decimal], fill: Fill, quantum: Decimal
) -> tuple[Decimal, Fill]:
    """The buy ``order`` (symbol, qty, reference price) cut to what the cash covers after its commission."""
    symbol, qty, price = order
    if qty * fill.price + fill.commission <= book.cash:
        return qty, fill
    per_order = fills.fill(symbol, OrderSide.BUY, ZERO, price).commission
    per_share = (fill.commission - per_order) / qty if qty else ZERO
    cut = affordable(book.cash, fill.price, per_order, per_share, quantum)
    return cut, fills.fill(symbol, OrderSide.BUY, cut, price)
