"""Builders of parity inputs shared by the parity tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from alchemiser.backtest import Costs, QuoteFillModel
from alchemiser.parity.attribution import SessionAttribution, attribute_session
from alchemiser.parity.facts import ZERO, LiveSession, OrderFacts
from alchemiser.parity.shadow import ShadowSession, ShadowState, step_shadow

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
) -> LiveSession:
    positions = {s: D(q) for s, q in (start_positions or {}).items()}
    prev = {s: D(v) for s, v in previous_closes.items()}
    close = {s: D(v) for s, v in closes.items()}
    cash = D(start_cash)
    end, end_positions = modelled_end_equity(cash, positions, orders, close)
    return LiveSession(
        session=day,
        decision_id=f"sched-{day}",
        start_cash=cash,
        start_positions=positions,
        start_equity=cash + sum((q * prev[s] for s, q in positions.items()), ZERO),
        end_equity=end + D(extra),
        end_positions=end_positions,
        orders=orders,
        decision_prices={o.symbol: o.decision_price for o in orders},
        previous_closes=prev,
        closes=close,
        live_targets={s: D(w) for s, w in live_targets.items()},
        replay_targets={s: D(w) for s, w in (replay_targets or live_targets).items()},
    )


def run(
    live: LiveSession, state: ShadowState | None = None, *, spread_bps: str = "0", late_after: float = 300.0
) -> tuple[ShadowSession, SessionAttribution]:
    if state is None:
        state = ShadowState.mirror(live.start_positions, live.start_equity, live.previous_closes)
    shadow = step_shadow(state, live, QuoteFillModel(Costs(spread_bps=D(spread_bps))))
    return shadow, attribute_session(live, shadow, late_after_seconds=late_after)
