"""Builders of parity inputs shared by the parity tests: plain sessions, and the store rows the daemon writes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from alchemiser.backtest import Costs, QuoteFillModel
from alchemiser.parity.attribution import SessionAttribution, attribute_session
from alchemiser.parity.facts import ZERO, DecisionLeg, LiveSession, OrderFacts
from alchemiser.parity.monitor import SessionResult, session_row
from alchemiser.parity.shadow import ShadowRule, ShadowSession, ShadowState, step_shadow
from alchemiser.portfolio import PlannerParams
from alchemiser.portfolio.tca import tca_row
from alchemiser.store.account import AccountHistory, AccountSnapshot, HeldPosition
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionStore, StrategyDecision, Trigger
from alchemiser.store.parity import ParityRepository

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


# ------------------------------------------------------------------------------------ the store, as the daemon fills it


async def decide(
    store: Store,
    session_day: date,
    *,
    as_of: date,
    at: datetime,
    allocation: Mapping[str, Decimal],
    lines: list[dict[str, Any]],
    decision_id: str | None = None,
    trigger: Trigger = "schedule",
    strategy: str = "flip",
) -> str:
    """A finished decision with one strategy's allocation and its plan lines (``symbol, price, delta_qty``)."""
    decisions = DecisionStore(store)
    decision_id = decision_id or f"sched-{session_day}"
    await decisions.start(
        decision_id, session=session_day, trigger=trigger, as_of_policy="previous_close", as_of=as_of, started_at=at
    )
    await decisions.record_strategy(decision_id, StrategyDecision(strategy, D(1), "ok", allocation=allocation))
    await decisions.finish(decision_id, status="executed", finished_at=at + timedelta(minutes=5), plan={"lines": lines})
    return decision_id


async def worked_order(  # noqa: PLR0917 - an order reads best as one positional line in the tests
    store: Store,
    run_id: str,
    symbol: str,
    side: str,
    qty: str,
    filled: str,
    reference: str,
    price: str,
    at: datetime,
    *,
    bid: str | None = None,
    ask: str | None = None,
    broker_order_id: str | None = None,
) -> None:
    """One ladder step of ``run_id`` as execution stores it (the run row is added once)."""
    await store.execute(
        "INSERT OR IGNORE INTO execution_runs (run_id, status, mode, created_at, updated_at, plan_json)"
        " VALUES (?, 'finished', 'sim', ?, ?, '{}')",
        (run_id, at.isoformat(), at.isoformat()),
    )
    await store.execute(
        "INSERT INTO execution_orders (client_order_id, run_id, symbol, side, step, order_type, qty, reference_price,"
        " state, filled_qty, filled_avg_price, created_at, updated_at, arrival_bid, arrival_ask, broker_order_id)"
        " VALUES (?, ?, ?, ?, 0, 'limit', ?, ?, 'closed', ?, ?, ?, ?, ?, ?, ?)",
        (
            f"{run_id}-{symbol}-{side}",
            run_id,
            symbol,
            side,
            qty,
            reference,
            filled,
            price,
            at.isoformat(),
            at.isoformat(),
            bid,
            ask,
            broker_order_id,
        ),
    )


async def account_at(
    store: Store,
    at: datetime,
    *,
    cash: str,
    positions: Mapping[str, tuple[str, str]] | None = None,
    close_of: date | None = None,
) -> None:
    """An account snapshot (``positions``: symbol -> (qty, price)); with ``close_of``, that session's close."""
    held = {s: HeldPosition(D(q), D(p), D(q) * D(p)) for s, (q, p) in (positions or {}).items()}
    value = sum((h.value for h in held.values()), ZERO)
    kind = "session_close" if close_of is not None else "start"
    await AccountHistory(store).record(
        AccountSnapshot(at, kind, D(cash) + value, D(cash), D(cash), value, held, session=close_of)
    )


async def save_settled(
    store: Store,
    live: LiveSession,
    state: ShadowState | None = None,
    *,
    gap_before: Decimal = ZERO,
    spread_bps: str = "0",
    late_after: float = 300.0,
) -> SessionAttribution:
    """Attribute ``live`` (after ``state``) and store it as the monitor does (``gap_before``: the cumulative gap of
    the sessions before)."""
    _, attribution = run(live, state, spread_bps=spread_bps, late_after=late_after)
    tca = [tca_row(live.session, o).to_json() for o in live.orders]
    result = SessionResult(live.session, attribution, (), gap_before + attribution.session_gap, tca)
    row = session_row(result, live.decision_id, datetime(2024, 3, 6, tzinfo=UTC))
    await ParityRepository(store).save_session(row, result.tca)
    return attribution
