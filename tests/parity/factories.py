"""Builders of parity inputs shared by the parity tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from alchemiser.backtest import Costs, QuoteFillModel
from alchemiser.parity.attribution import SessionAttribution, attribute_session
from alchemiser.parity.facts import ZERO, DecisionLeg, LiveSession, OrderFacts
from alchemiser.parity.shadow import ShadowRule, ShadowSession, ShadowState, step_shadow
from alchemiser.portfolio import PlannerParams

D = Decimal
DECIDED = datetime(2024, 3, 5, 20, 45, tzinfo=UTC)


def order(  # noqa: PLR0917 - an order reads best as one positional line in the tests
    symbol: str,
    side: str,
    planned: str,
    filled: str,
    decision: str,
    fill: str | None,
    *,
    bid: str | None = None,
    ask: str | None = None,
    seconds: float = 30.0,
    step: int = 0,
) -> OrderFacts:
    return OrderFacts(
        symbol=symbol,
        side=side,
        planned_qty=D(planned),
        filled_qty=D(filled),
        decision_price=D(decision),
        avg_fill_price=None if fill is None else D(fill),
        arrival_bid=None if bid is None else D(bid),
        arrival_ask=None if ask is None else D(ask),
        decided_at=DECIDED,
        last_fill_at=DECIDED + timedelta(seconds=seconds) if fill is not None else None,
        filled_step=step if fill is not None else None,
        strategies={"alpha": D(1)},
    )


def modelled_end_equity(
    start_cash: Decimal,
    start_positions: Mapping[str, Decimal],
    orders: tuple[OrderFacts, ...],
    closes: Mapping[str, Decimal],
) -> tuple[Decimal, dict[str, Decimal]]:
    """The account's close if nothing but our fills happened (then nothing is unexplained)."""
    cash, positions = start_cash, dict(start_positions)
    for o in orders:
        if o.filled_qty and o.avg_fill_price is not None:
            cash -= o.sign * o.filled_qty * o.avg_fill_price + o.fees
            positions[o.symbol] = positions.get(o.symbol, ZERO) + o.sign * o.filled_qty
    return cash + sum((q * closes[s] for s, q in positions.items()), ZERO), positions


def session(
    *,
    orders: tuple[OrderFacts, ...],
    start_cash: str = "10000",
    start_positions: Mapping[str, str] | None = None,
    previous_closes: Mapping[str, str],
    closes: Mapping[str, str],
    live_targets: Mapping[str, str],
    replay_targets: Mapping[str, str] | None = None,
    extra: str = "0",
    day: date = date(2024, 3, 5),
    later: tuple[DecisionLeg, ...] = (),
) -> LiveSession:
    """One session; ``later`` are decisions after the first (their orders count in the modelled close)."""
    positions = {s: D(q) for s, q in (start_positions or {}).items()}
    prev = {s: D(v) for s, v in previous_closes.items()}
    close = {s: D(v) for s, v in closes.items()}
    cash = D(start_cash)
    every = orders + tuple(o for lg in later for o in lg.orders)
    end, end_positions = modelled_end_equity(cash, positions, every, close)
    first = leg(orders, live_targets, replay_targets, decision_id=f"sched-{day}")
    return LiveSession(
        session=day,
        start_cash=cash,
        start_positions=positions,
        start_equity=cash + sum((q * prev[s] for s, q in positions.items()), ZERO),
        end_equity=end + D(extra),
        end_positions=end_positions,
        decisions=(first, *later),
        previous_closes=prev,
        closes=close,
        previous_session=day - timedelta(days=1),
    )


def leg(
    orders: tuple[OrderFacts, ...],
    live_targets: Mapping[str, str],
    replay_targets: Mapping[str, str] | None = None,
    *,
    decision_id: str = "manual-1",
    prices: Mapping[str, str] | None = None,
    allocations: Mapping[str, Mapping[str, str] | None] | None = None,
) -> DecisionLeg:
    """One decision of a session; ``prices`` are the planner's (default: each order's decision price)."""
    return DecisionLeg(
        decision_id=decision_id,
        orders=orders,
        decision_prices={s: D(p) for s, p in prices.items()}
        if prices
        else {o.symbol: o.decision_price for o in orders},
        live_targets={s: D(w) for s, w in live_targets.items()},
        replay_targets={s: D(w) for s, w in (replay_targets or live_targets).items()},
        replay_allocations={
            n: None if a is None else {s: D(w) for s, w in a.items()} for n, a in (allocations or {}).items()
        },
    )


def run(
    live: LiveSession,
    state: ShadowState | None = None,
    *,
    spread_bps: str = "0",
    late_after: float = 300.0,
    params: PlannerParams | None = None,
    rules: Mapping[str, ShadowRule] | None = None,
) -> tuple[ShadowSession, SessionAttribution]:
    if state is None:
        state = ShadowState.mirror(live.start_positions, live.start_equity, live.previous_closes)
    shadow = step_shadow(state, live, QuoteFillModel(Costs(spread_bps=D(spread_bps))), params, rules)
    return shadow, attribute_session(live, shadow, late_after_seconds=late_after)
