"""Per-strategy books (pure): each strategy's virtual holdings and P&L, attributed from the account's fills.

The account holds one merged position per symbol; users still want to see what each strategy earned. Method:

1. **Intent shares.** When a plan is made, each strategy's wanted quantity of a symbol is its contribution to the
   symbol's target weight × the plan's target quantity (``PlanLine.contributions`` / ``target_weight``). A
   strategy's *delta* is wanted − its current book quantity.
2. **Internal crosses.** If one strategy wants to sell what another wants to buy, the overlap never reaches the
   broker: it is transferred between the books at the plan's reference price (``cross_from_plan``). The seller
   realises P&L against its average cost; the buyer takes the reference price as its cost.
   Before that, the books are reconciled to the account (``reconcile``): a position the books do not know about
   (held before alchemiser, bought by hand) sits in ``unattributed`` and is crossed to the strategies that want it.
3. **Fill attribution.** Each broker fill of a symbol is split among the strategies whose remaining delta has the
   fill's sign, in proportion to that remaining delta (``apply_fill``). A fill beyond every strategy's delta (e.g.
   rounding) goes pro rata to the strategies holding the symbol for a sell, or wanting it for a buy; when none do,
   to an ``unattributed`` book so the books always sum to the account.
4. **P&L.** Average-cost accounting per strategy and symbol: a buy raises quantity and cost; a sell realises
   (price − average cost) × qty; unrealised P&L = (mark − average cost) × qty.

Books are plain data; the execution store persists them (``alchemiser.store.execution``) after every fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from alchemiser.broker.enums import OrderSide
from alchemiser.portfolio.planner import Plan

ZERO = Decimal(0)
UNATTRIBUTED = "unattributed"
QTY_QUANTUM = Decimal("0.000000001")


@dataclass(slots=True)
class Holding:
    qty: Decimal = ZERO
    cost: Decimal = ZERO  # total cost basis of ``qty``
    realized_pnl: Decimal = ZERO

    @property
    def avg_cost(self) -> Decimal:
        return self.cost / self.qty if self.qty else ZERO

    def buy(self, qty: Decimal, price: Decimal) -> None:
        self.qty += qty
        self.cost += qty * price

    def sell(self, qty: Decimal, price: Decimal) -> None:
        avg = self.avg_cost
        self.realized_pnl += (price - avg) * qty
        self.cost -= avg * qty
        self.qty -= qty
        if self.qty == 0:
            self.cost = ZERO


@dataclass(slots=True)
class StrategyBook:
    name: str
    holdings: dict[str, Holding] = field(default_factory=dict)

    def holding(self, symbol: str) -> Holding:
        return self.holdings.setdefault(symbol, Holding())

    def qty(self, symbol: str) -> Decimal:
        held = self.holdings.get(symbol)
        return held.qty if held else ZERO

    @property
    def realized_pnl(self) -> Decimal:
        return sum((h.realized_pnl for h in self.holdings.values()), ZERO)

    def unrealized_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum(
            ((marks[s] - h.avg_cost) * h.qty for s, h in self.holdings.items() if h.qty and s in marks),
            ZERO,
        )

    def market_value(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum((marks[s] * h.qty for s, h in self.holdings.items() if h.qty and s in marks), ZERO)


@dataclass(frozen=True, slots=True)
class FillShare:
    strategy: str
    qty: Decimal


class Books:
    """All strategies' books plus the pending deltas of the plan being executed."""

    def __init__(self, strategies: list[str] | tuple[str, ...] = ()) -> None:
        self.books: dict[str, StrategyBook] = {name: StrategyBook(name) for name in strategies}
        #: symbol → strategy → signed remaining quantity to trade at the broker
        self.pending: dict[str, dict[str, Decimal]] = {}

    def book(self, name: str) -> StrategyBook:
        return self.books.setdefault(name, StrategyBook(name))

    def symbol_qty(self, symbol: str) -> Decimal:
        return sum((b.qty(symbol) for b in self.books.values()), ZERO)

    def wanted(self, plan: Plan) -> dict[str, dict[str, Decimal]]:
        """symbol → strategy → wanted quantity after the plan."""
        wanted: dict[str, dict[str, Decimal]] = {}
        for line in plan.lines:
            per: dict[str, Decimal] = {}
            final_qty = line.current_qty + line.delta_qty
            if line.target_weight > 0:
                for name, share in line.contributions.items():
                    per[name] = final_qty * share / line.target_weight
            wanted[line.symbol] = per
        return wanted

    def reconcile(self, symbol: str, account_qty: Decimal, price: Decimal) -> None:
        """Make the books add up to the account's position: a surplus the books do not know (held before the books
        existed, or bought outside alchemiser) goes to ``unattributed`` at ``price``; a shortfall (sold outside) is
        taken from the holders pro rata at ``price``."""
        gap = account_qty - self.symbol_qty(symbol)
        if gap > 0:
            self.book(UNATTRIBUTED).holding(symbol).buy(gap, price)
        elif gap < 0:
            holders = {n: b.qty(symbol) for n, b in self.books.items() if b.qty(symbol) > 0}
            total = sum(holders.values(), ZERO)
            taken = ZERO
            names = sorted(holders)
            for i, name in enumerate(names):
                part = -gap - taken if i == len(names) - 1 else (-gap * holders[name] / total).quantize(QTY_QUANTUM)
                self.book(name).holding(symbol).sell(min(part, holders[name]), price)
                taken += part

    def cross_from_plan(self, plan: Plan) -> list[tuple[str, str, str, Decimal, Decimal]]:
        """Reconcile the books to the plan's current positions, set pending deltas, and transfer internal crosses
        (including from ``unattributed`` to the strategies that want a holding). Returns (symbol, from, to, qty,
        price) per transfer."""
        transfers: list[tuple[str, str, str, Decimal, Decimal]] = []
        self.pending = {}
        for line in plan.lines:
            self.reconcile(line.symbol, line.current_qty, line.price)
        for symbol, per in self.wanted(plan).items():
            price = plan.line(symbol).price
            names = set(per) | {n for n, b in self.books.items() if b.qty(symbol)}
            deltas = {n: (per.get(n, ZERO) - self.book(n).qty(symbol)).quantize(QTY_QUANTUM) for n in sorted(names)}
            sellers = {n: -d for n, d in deltas.items() if d < 0}
            buyers = {n: d for n, d in deltas.items() if d > 0}
            total_sell = sum(sellers.values(), ZERO)
            total_buy = sum(buyers.values(), ZERO)
            crossed = min(total_sell, total_buy)
            if crossed > 0:
                for seller, sell_qty in sellers.items():
                    give = (crossed * sell_qty / total_sell).quantize(QTY_QUANTUM)
                    for buyer, buy_qty in buyers.items():
                        moved = (give * buy_qty / total_buy).quantize(QTY_QUANTUM)
                        if moved <= 0:
                            continue
                        self.book(seller).holding(symbol).sell(moved, price)
                        self.book(buyer).holding(symbol).buy(moved, price)
                        deltas[seller] += moved
                        deltas[buyer] -= moved
                        transfers.append((symbol, seller, buyer, moved, price))
            self.pending[symbol] = {n: d for n, d in deltas.items() if d != 0}
        return transfers

    def apply_fill(self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal) -> list[FillShare]:
        """Attribute one broker fill; returns how it was split."""
        sign = Decimal(1) if side is OrderSide.BUY else Decimal(-1)
        pending = self.pending.setdefault(symbol, {})
        candidates = {n: d * sign for n, d in pending.items() if d * sign > 0}
        shares: list[FillShare] = []
        remaining = qty
        total = sum(candidates.values(), ZERO)
        if total > 0:
            take = min(qty, total)
            names = sorted(candidates)
            for i, name in enumerate(names):
                part = (
                    take - sum((s.qty for s in shares), ZERO)
                    if i == len(names) - 1
                    else (take * candidates[name] / total).quantize(QTY_QUANTUM)
                )
                if part <= 0:
                    continue
                shares.append(FillShare(name, part))
                pending[name] -= part * sign
            remaining = qty - take
        if remaining > 0:
            shares.extend(self._overflow(symbol, side, remaining))
        for share in shares:
            holding = self.book(share.strategy).holding(symbol)
            if side is OrderSide.BUY:
                holding.buy(share.qty, price)
            else:
                holding.sell(share.qty, price)
        return shares

    def _overflow(self, symbol: str, side: OrderSide, qty: Decimal) -> list[FillShare]:
        if side is OrderSide.SELL:
            holders = {n: b.qty(symbol) for n, b in self.books.items() if b.qty(symbol) > 0}
            total = sum(holders.values(), ZERO)
            if total > 0:
                names = sorted(holders)
                out: list[FillShare] = []
                for i, name in enumerate(names):
                    part = (
                        qty - sum((s.qty for s in out), ZERO)
                        if i == len(names) - 1
                        else (qty * holders[name] / total).quantize(QTY_QUANTUM)
                    )
                    out.append(FillShare(name, part))
                return out
        return [FillShare(UNATTRIBUTED, qty)]

    def summary(self, marks: Mapping[str, Decimal]) -> dict[str, dict[str, str]]:
        return {
            name: {
                "market_value": str(book.market_value(marks)),
                "realized_pnl": str(book.realized_pnl),
                "unrealized_pnl": str(book.unrealized_pnl(marks)),
            }
            for name, book in sorted(self.books.items())
        }
