"""The shadow portfolio: what the backtest would have done with the account's capital, session by session.

It starts from the account itself (same positions, cash set so that its equity equals the account's), then at every
decision of a session it takes the replay's targets (the backtest's decision with the bars known now), plans them
with the daemon's planner and its parameters (drift band, minimum trade, cash buffer) at that decision's prices,
fills every line through the backtest's fill model (quote touch, slippage, commission —
``alchemiser.backtest.QuoteFillModel``) and marks at the close. A buy the cash cannot cover is cut to what it can
(``alchemiser.backtest.book.affordable``), as in a backtest.

Each strategy's book follows its symphony's rebalance rule as the live account's does (``alchemiser.dsl.rebalance``:
calendar days, corridor, selection change): the shadow keeps per strategy the weights it was last brought to and the
prices then, drifts them with the decision prices (``drifted``) and asks ``action_on`` whether the book holds,
trades inside the planner's drift band, or is brought exactly to target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from alchemiser.backtest.book import Book, affordable
from alchemiser.backtest.fills import Fill, FillModel
from alchemiser.broker.enums import OrderSide
from alchemiser.dsl.rebalance import RebalanceAction, RebalanceRule, action_on, drifted
from alchemiser.parity.facts import ZERO, DecisionLeg, LiveSession
from alchemiser.portfolio import AccountState, AssetInfo, PlanError, PlannerParams, StrategyTarget, plan_rebalance

#: the causes a position difference between the account and the shadow is kept under, session to session
CARRY_CAUSES = ("signal", "timing", "rounding")
#: strategy -> symbol -> (weight at its last rebalance, the price then)
Books = dict[str, dict[str, tuple[Decimal, Decimal]]]


@dataclass(frozen=True, slots=True)
class ShadowRule:
    """How one strategy's book trades: its symphony's rebalance rule and its share of the account."""

    capital_weight: Decimal
    rule: RebalanceRule = field(default_factory=RebalanceRule)


@dataclass(frozen=True, slots=True)
class ShadowTrade:
    symbol: str
    qty: Decimal  # signed: > 0 bought, < 0 sold
    price: Decimal
    commission: Decimal
    leg: int = 0  # which decision of the session


@dataclass
class ShadowState:
    """The shadow's book after a close, and the account-minus-shadow position difference by cause."""

    cash: Decimal
    positions: dict[str, Decimal] = field(default_factory=dict)
    differences: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # cause -> symbol -> qty
    books: Books = field(default_factory=dict)

    @classmethod
    def mirror(
        cls,
        positions: Mapping[str, Decimal],
        equity: Decimal,
        marks: Mapping[str, Decimal],
        allocations: Mapping[str, Mapping[str, Decimal]] | None = None,
    ) -> ShadowState:
        """Start as the account: same positions, cash set so that the equity at ``marks`` is ``equity``; with
        ``allocations`` (strategy -> weights the live books were last brought to), books on those weights."""
        held = {s: q for s, q in positions.items() if q}
        books: Books = {}
        if held:
            for name, weights in (allocations or {}).items():
                books[name] = {s: (w, marks[s]) for s, w in weights.items() if w > 0 and s in marks}
        cash = equity - sum((q * marks[s] for s, q in held.items()), ZERO)
        return cls(cash=cash, positions=held, books={n: b for n, b in books.items() if b})

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        return self.cash + sum((q * marks[s] for s, q in self.positions.items()), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {
            "cash": str(self.cash),
            "positions": {s: str(q) for s, q in sorted(self.positions.items())},
            "differences": {c: {s: str(q) for s, q in sorted(d.items())} for c, d in sorted(self.differences.items())},
            "books": {
                n: {s: [str(w), str(p)] for s, (w, p) in sorted(b.items())} for n, b in sorted(self.books.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShadowState:
        return cls(
            cash=Decimal(data["cash"]),
            positions={s: Decimal(q) for s, q in data.get("positions", {}).items()},
            differences={c: {s: Decimal(q) for s, q in d.items()} for c, d in data.get("differences", {}).items()},
            books={
                n: {s: (Decimal(w), Decimal(p)) for s, (w, p) in b.items()} for n, b in data.get("books", {}).items()
            },
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
    state: ShadowState,
    live: LiveSession,
    fills: FillModel,
    params: PlannerParams | None = None,
    rules: Mapping[str, ShadowRule] | None = None,
) -> ShadowSession:
    """The shadow through ``live.session``: at each decision plan the replay's targets, fill; mark at the close
    (``state`` is not changed). Without ``rules`` (or a decision without per-strategy allocations) the shadow trades
    to the merged replay targets exactly, as one book."""
    params = params or PlannerParams()
    book = Book(cash=state.cash, positions=dict(state.positions))
    books: Books = {n: dict(b) for n, b in state.books.items()}
    start_equity = book.cash + sum((q * live.previous_close_of(s) for s, q in book.positions.items()), ZERO)
    trades: list[ShadowTrade] = []
    for k, leg in enumerate(live.decisions):
        symbols = set(book.positions) | {s for s, w in leg.replay_targets.items() if w > 0}
        symbols |= {s for b in books.values() for s in b}
        prices = {s: live.price_at_decision(s, k) for s in symbols}
        equity = book.equity_at(prices)
        if equity <= 0 or not symbols:
            continue
        targets = _targets(live, leg, prices, books, rules or {})
        assets = {s: AssetInfo(s, fractionable=True, tradable=s in live.closes) for s in symbols}
        account = AccountState(equity=equity, cash=book.cash, buying_power=book.cash)
        try:
            plan = plan_rebalance(targets, account, book.positions, prices, assets, params=params)
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
            signed = qty if side is OrderSide.BUY else -qty
            trades.append(ShadowTrade(line.symbol, signed, fill.price, fill.commission, k))
    after = ShadowState(book.cash, dict(book.positions), dict(state.differences), books)
    end_equity = after.cash + sum((q * live.close_of(s) for s, q in after.positions.items()), ZERO)
    return ShadowSession(state, after, tuple(trades), start_equity, end_equity)


def _targets(
    live: LiveSession,
    leg: DecisionLeg,
    prices: Mapping[str, Decimal],
    books: Books,
    rules: Mapping[str, ShadowRule],
) -> list[StrategyTarget]:
    """The planner targets of one decision: per strategy by its rule (``books`` is updated where a book trades)."""
    if not leg.replay_allocations or not rules:
        return [StrategyTarget("shadow", Decimal(1), dict(leg.replay_targets), exact=True)]
    out = []
    for name, allocation in sorted(leg.replay_allocations.items()):
        rule = rules.get(name)
        if rule is None:
            continue
        book = books.get(name, {})
        growth = {s: float(prices[s] / p) for s, (_, p) in book.items() if p > 0 and s in prices}
        held = drifted({s: float(w) for s, (w, _) in book.items()}, growth) or None
        previous = None if held is None else frozenset(held)
        wanted = None if allocation is None else {s: float(w) for s, w in allocation.items() if w > 0}
        action = (
            RebalanceAction.HOLD
            if wanted is None
            else action_on(rule.rule, live.session, live.previous_session, held, wanted)
        )
        if action is RebalanceAction.HOLD or allocation is None:
            keep = {s: Decimal(repr(w)) for s, w in (held or {}).items()}
            out.append(StrategyTarget(name, rule.capital_weight, keep, previous, hold=True))
            continue
        books[name] = {s: (w, prices[s]) for s, w in allocation.items() if w > 0 and s in prices}
        exact = action is RebalanceAction.FULL
        out.append(StrategyTarget(name, rule.capital_weight, dict(allocation), previous, exact=exact))
    return out


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
