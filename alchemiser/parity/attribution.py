"""Attribution of the gap between the account and its shadow (implementation shortfall), to the cent.

For one session, with per symbol ``p`` the decision price, ``c0`` the previous close, ``c`` the close, ``q0``/``qs0``
the account's/shadow's positions before, ``q_p`` the planned and ``t`` the filled signed quantity, ``ts`` the
shadow's trade, and ``T = q0 + q_p`` / ``Ts = qs0 + ts`` the positions each side meant to hold:

    (live change) - (shadow change)
      = sum (q0 - qs0)(p - c0)      carry: yesterday's position differences, kept by the cause that made them
      + sum (T - Ts)(c - p)         signal (symbols whose target the replay decides differently) or rounding
      + sum (t - q_p)(c - p)        timing: quantity planned but not filled (partial, unfilled)
      - sum t (f - p)               execution: the account's fills vs the decision price (a late order: timing)
      + sum ts (fs - p)             execution: minus the shadow's modelled cost
      - fees + shadow commissions   fees
      + unexplained                 whatever the model does not account for (broker marks vs bar closes,
                                    dividends, interest, a trade that is not ours) — shown, never hidden

A session with several decisions (a manual rebalance after the scheduled one, a retried decision) is a chain of
legs: decision ``k`` trades at its own prices ``p_k`` and the differences it leaves run from ``p_k`` to the next
decision's prices (the last one's to the close ``c``), so the sum telescopes to the same identity; the carry term
runs from ``c0`` to the first decision's prices only. Fees the broker charged that no order carries (a daily
regulatory fee) are booked under fees as well.

Every part is a ``Decimal`` rounded to the cent; ``unexplained`` takes the rounding, so the parts add up to the
measured gap exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from alchemiser.parity.facts import ZERO, DecisionLeg, LiveSession, OrderFacts
from alchemiser.parity.parts import PARTS
from alchemiser.parity.shadow import CARRY_CAUSES, ShadowSession, ShadowState, ShadowTrade

CENT = Decimal("0.01")
BPS = Decimal(10_000)
DEFAULT_LATE_AFTER_SECONDS = 300.0


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Cause:
    """One identified reason for a part of the gap: which part, which symbol, what happened, how much ($)."""

    part: str
    symbol: str
    what: str
    amount: Decimal

    def to_json(self) -> dict[str, str]:
        return {"part": self.part, "symbol": self.symbol, "what": self.what, "amount": str(cents(self.amount))}


@dataclass(frozen=True, slots=True)
class SessionAttribution:
    """One session's gap (``session_gap``: live change minus shadow change) and its parts in $ (sum = gap)."""

    session: Any
    live_start: Decimal
    live_end: Decimal
    shadow_start: Decimal
    shadow_end: Decimal
    session_gap: Decimal
    parts: Mapping[str, Decimal]
    causes: tuple[Cause, ...] = ()
    shadow_after: ShadowState = field(default_factory=lambda: ShadowState(ZERO))

    def bps(self, amount: Decimal) -> Decimal:
        return (amount / self.live_start * BPS).quantize(Decimal("0.01")) if self.live_start else ZERO

    def to_json(self) -> dict[str, Any]:
        return {
            "session": str(self.session),
            "live_start": str(self.live_start),
            "live_end": str(self.live_end),
            "shadow_start": str(cents(self.shadow_start)),
            "shadow_end": str(cents(self.shadow_end)),
            "session_gap": str(self.session_gap),
            "parts": {k: str(v) for k, v in self.parts.items()},
            "parts_bps": {k: str(self.bps(v)) for k, v in self.parts.items()},
            "causes": [c.to_json() for c in self.causes],
        }


class _Ledger:
    def __init__(self) -> None:
        self.parts: dict[str, Decimal] = dict.fromkeys(PARTS, ZERO)
        self.causes: list[Cause] = []

    def add(self, part: str, amount: Decimal, symbol: str = "", what: str = "") -> None:
        """Book ``amount`` under ``part``; with ``what``, also name it as a cause (when it is not nothing)."""
        self.parts[part] += amount
        if what and amount:
            self.causes.append(Cause(part, symbol, what, amount))

    def note(self, part: str, amount: Decimal, symbol: str, what: str) -> None:
        """Name a cause whose amount is already booked (always listed, even when the price did not move)."""
        self.causes.append(Cause(part, symbol, what, amount))


def attribute_session(
    live: LiveSession, shadow: ShadowSession, *, late_after_seconds: float = DEFAULT_LATE_AFTER_SECONDS
) -> SessionAttribution:
    """Split ``live.session``'s gap between the account and ``shadow`` into its parts (see the module docstring).

    Every decision of the session is a leg: its trades are priced at its own decision prices, and the position
    differences it leaves run to the next decision's prices (the last one's to the close)."""
    ledger = _Ledger()
    live_positions = dict(live.start_positions)
    shadow_positions = dict(shadow.before.positions)
    differences = shadow.before.differences
    symbols = set(live.start_positions) | set(shadow.before.positions) | {t.symbol for t in shadow.trades}
    symbols |= {o.symbol for o in live.orders}
    for k, leg in enumerate(live.decisions):
        trades = tuple(t for t in shadow.trades if t.leg == k)
        differences = _attribute_leg(
            ledger,
            live,
            k,
            trades=(leg, trades),
            state=(live_positions, shadow_positions, differences),
            symbols=sorted(symbols),
        )
    for order in live.orders:
        if order.filled_qty and order.avg_fill_price is not None:
            cost = order.sign * order.filled_qty * (order.avg_fill_price - order.decision_price)
            if order.is_late(late_after_seconds):
                ledger.add("timing", -cost)
                late_by = f"filled late, {order.seconds_to_fill:.0f}s after the decision"
                ledger.note("timing", -cost, order.symbol, late_by)
            else:
                ledger.add("execution", -cost, order.symbol, "fill vs decision price")
        ledger.add("fees", -order.fees, order.symbol, "fees")
        if order.filled_qty < order.planned_qty:
            kind = "unfilled" if order.filled_qty == 0 else "partially filled"
            missing = order.sign * (order.filled_qty - order.planned_qty)
            amount = missing * (live.close_of(order.symbol) - order.decision_price)
            ledger.note("timing", amount, order.symbol, f"{kind}: {order.filled_qty} of {order.planned_qty}")
    ledger.add("fees", -live.other_fees, "", "fees no order of ours carries")
    live_change = live.end_equity - live.start_equity
    session_gap = cents(live_change - (shadow.end_equity - shadow.start_equity))
    parts = {k: cents(v) for k, v in ledger.parts.items() if k != "unexplained"}
    parts["unexplained"] = session_gap - sum(parts.values(), ZERO)
    after = replace(shadow.after, differences={cause: d for cause, d in differences.items() if d})
    return SessionAttribution(
        session=live.session,
        live_start=live.start_equity,
        live_end=live.end_equity,
        shadow_start=shadow.start_equity,
        shadow_end=shadow.end_equity,
        session_gap=session_gap,
        parts={k: parts[k] for k in PARTS},
        causes=tuple(ledger.causes),
        shadow_after=after,
    )


Positions = dict[str, Decimal]
Differences = Mapping[str, Mapping[str, Decimal]]


def _attribute_leg(
    ledger: _Ledger,
    live: LiveSession,
    k: int,
    *,
    trades: tuple[DecisionLeg, tuple[ShadowTrade, ...]],
    state: tuple[Positions, Positions, Differences],
    symbols: list[str],
) -> dict[str, dict[str, Decimal]]:
    """Book decision ``k``'s share of the gap; moves both position books past it and returns the differences by
    cause it leaves. The first decision also carries the earlier sessions' differences from the previous close."""
    leg, shadow_trades = trades
    live_positions, shadow_positions, before = state
    planned, filled = _signed_quantities(leg.orders)
    shadow_traded: dict[str, Decimal] = {}
    for trade in shadow_trades:
        shadow_traded[trade.symbol] = shadow_traded.get(trade.symbol, ZERO) + trade.qty
    signal_symbols = {
        s
        for s in set(leg.live_targets) | set(leg.replay_targets)
        if leg.live_targets.get(s, ZERO) != leg.replay_targets.get(s, ZERO)
    }
    after: dict[str, dict[str, Decimal]] = {cause: {} for cause in CARRY_CAUSES}
    for sym in symbols:
        path = live.prices_along(sym)
        c0, p, c = (path[0] if k == 0 else path[k + 1]), path[k + 1], path[k + 2]
        q0, qs0 = live_positions.get(sym, ZERO), shadow_positions.get(sym, ZERO)
        if k == 0:
            explained = ZERO
            for cause in CARRY_CAUSES:
                qty = before.get(cause, {}).get(sym, ZERO)
                explained += qty
                ledger.add(cause, qty * (p - c0), sym, f"{cause} difference held since an earlier session")
            ledger.add("unexplained", (q0 - qs0 - explained) * (p - c0), sym, "position difference of unknown cause")
        q_p, t, ts = planned.get(sym, ZERO), filled.get(sym, ZERO), shadow_traded.get(sym, ZERO)
        target_gap = (q0 + q_p) - (qs0 + ts)
        kept = _persisted(before, sym, target_gap)
        for carried, qty in kept.items():
            ledger.add(carried, qty * (c - p), sym, f"{carried} difference kept from an earlier session")
            after[carried][sym] = after[carried].get(sym, ZERO) + qty
        fresh = target_gap - sum(kept.values(), ZERO)
        if sym in signal_symbols:  # named even when the price did not move: the decision differed
            ledger.add("signal", fresh * (c - p))
            ledger.note("signal", fresh * (c - p), sym, "the replay decides a different target")
        else:
            ledger.add("rounding", fresh * (c - p), sym, "planned quantity differs")
        cause = "signal" if sym in signal_symbols else "rounding"
        ledger.add("timing", (t - q_p) * (c - p))
        for trade in shadow_trades:
            if trade.symbol == sym:
                ledger.add("execution", trade.qty * (trade.price - p))
                ledger.add("fees", trade.commission)
        if fresh:
            after[cause][sym] = after[cause].get(sym, ZERO) + fresh
        if t != q_p:
            after["timing"][sym] = after["timing"].get(sym, ZERO) + t - q_p
        live_positions[sym] = q0 + t
        shadow_positions[sym] = qs0 + ts
    return {cause: d for cause, d in after.items() if d}


def _persisted(
    differences: Mapping[str, Mapping[str, Decimal]], symbol: str, target_gap: Decimal
) -> dict[str, Decimal]:
    """The part of today's target difference that is yesterday's difference still held, split by its causes.

    A difference the planner did not close (in its band, below the minimum) keeps the cause that made it; only
    what is new (or larger, or of the other sign) is today's signal or rounding."""
    old = {cause: differences.get(cause, {}).get(symbol, ZERO) for cause in CARRY_CAUSES}
    total = sum(old.values(), ZERO)
    if not total or not target_gap or (total > 0) != (target_gap > 0):
        return {}
    persisted = target_gap if abs(target_gap) <= abs(total) else total
    return {cause: persisted * qty / total for cause, qty in old.items() if qty}


def _signed_quantities(orders: tuple[OrderFacts, ...]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    planned: dict[str, Decimal] = {}
    filled: dict[str, Decimal] = {}
    for order in orders:
        planned[order.symbol] = planned.get(order.symbol, ZERO) + order.sign * order.planned_qty
        filled[order.symbol] = filled.get(order.symbol, ZERO) + order.sign * order.filled_qty
    return planned, filled


def cumulative(sessions: list[SessionAttribution]) -> dict[str, Decimal]:
    """The parts summed over sessions (their total is the cumulative gap)."""
    total = dict.fromkeys(PARTS, ZERO)
    for item in sessions:
        for k, v in item.parts.items():
            total[k] += v
    return total
