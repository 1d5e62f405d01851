"""One session of parity, from the store: gather the inputs (async reads), compute (pure, in a worker thread), save.

``ParityMonitor.snapshot_decision`` keeps the closes a decision read (right after it, so that a later revision by
the data vendor can be named). ``settle(session)`` runs once the session's close snapshot exists (the daemon calls it
after the next decision, when the next session's bars have arrived): replay every strategy of every decision of the
session (a manual rebalance after the scheduled one, a retried decision) with the bars known now, step the shadow
through them under each strategy's rebalance rule and the live planner's parameters, attribute the gap (with the
broker's fees: per order where the fee activity names it, else on the session, ``store.fees``), compute TCA, and
store the lot (``parity_sessions``, ``parity_orders``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from alchemiser.backtest.fills import QuoteFillModel
from alchemiser.backtest.result import Costs
from alchemiser.clock import Clock
from alchemiser.config import ParitySettings
from alchemiser.dsl import Symphony, used_symbols
from alchemiser.parity.attribution import SessionAttribution, attribute_session, cents
from alchemiser.parity.facts import ZERO, DecisionLeg, LiveSession, OrderFacts
from alchemiser.parity.flips import window_digest
from alchemiser.parity.replay import StrategyReplay, merged_targets, replay_strategy
from alchemiser.parity.shadow import ShadowRule, ShadowState, step_shadow
from alchemiser.portfolio import PlannerParams
from alchemiser.portfolio.tca import tca_row
from alchemiser.store.account import AccountHistory, AccountSnapshot
from alchemiser.store.database import Store
from alchemiser.store.decisions import DecisionRecord, DecisionStore
from alchemiser.store.fees import FeeStore
from alchemiser.store.parity import Closes, DecisionBars, ParityRepository, StepRow

SETTLED_STATUSES = ("executed", "no_trade")
#: the closes known *now* (symbols, first, last session) -> symbol -> [(session, close)]: the data vendor asked again
BarSource = Callable[[Sequence[str], date, date], Awaitable[Closes]]  # each list ascending by session
CLOSE_WINDOW_DAYS = 14  # calendar days of closes read around a session (holidays, long weekends)


@dataclass(frozen=True, slots=True)
class ParityStrategy:
    symphony: Symphony
    capital_weight: Decimal
    warmup: int  # bars the decision read


@dataclass(frozen=True, slots=True)
class _Decided:
    """One settled decision of the session, with what it read and how its orders were worked."""

    record: DecisionRecord
    then: DecisionBars
    steps: list[StepRow]
    fill_times: dict[tuple[str, str], datetime]
    fees: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (symbol, side) -> fees its orders bore


@dataclass(frozen=True, slots=True)
class _Inputs:
    decisions: list[_Decided]  # in the order they started
    start: AccountSnapshot
    end: AccountSnapshot
    bars_now: Closes
    previous: dict[str, Any] | None
    other_fees: Decimal = ZERO  # the session's fees that name no order of ours

    @property
    def decision(self) -> DecisionRecord:
        """The session's last decision (the session's row is stored under it)."""
        return self.decisions[-1].record


@dataclass(frozen=True, slots=True)
class SessionResult:
    session: date
    attribution: SessionAttribution
    replays: tuple[StrategyReplay, ...]
    gap: Decimal  # cumulative
    tca: list[dict[str, Any]] = field(default_factory=list)

    @property
    def data_drift(self) -> int:
        return sum(r.data_drift for r in self.replays)

    @property
    def tracking_error_bps(self) -> float:
        live = self.attribution.live_end
        return float(abs(self.gap) / live * 10_000) if live else 0.0


class ParityMonitor:
    def __init__(
        self,
        store: Store,
        strategies: Mapping[str, ParityStrategy],
        settings: ParitySettings,
        *,
        clock: Clock,
        bars: BarSource,
        planner: PlannerParams | None = None,
    ) -> None:
        self._clock = clock
        self.planner = planner or PlannerParams()
        self._bars = bars
        self._repo = ParityRepository(store)
        self._decisions = DecisionStore(store)
        self._history = AccountHistory(store)
        self._fees = FeeStore(store)
        self.strategies = dict(strategies)
        self._rules = {n: ShadowRule(s.capital_weight, s.symphony.rebalance_rule) for n, s in strategies.items()}
        self.configure(settings)

    def configure(self, settings: ParitySettings) -> None:
        """Take new thresholds and shadow costs (a SIGHUP reload); the next settled session uses them."""
        self.settings = settings
        self._fills = QuoteFillModel(
            Costs(spread_bps=settings.shadow_spread_bps, slippage_bps=settings.shadow_slippage_bps)
        )

    @property
    def symbols(self) -> list[str]:
        return sorted(set().union(*(used_symbols(s.symphony) for s in self.strategies.values())))

    async def snapshot_decision(self, decision_id: str, closes: Mapping[str, Sequence[tuple[date, float]]]) -> None:
        """Keep what the decision read: per symbol, its window's start and the recent closes."""
        digests = {s: window_digest(rows) for s, rows in closes.items() if rows}
        await self._repo.save_decision_bars(decision_id, closes, digests)

    async def after_decision(
        self, decision_id: str, closes: Mapping[str, Sequence[tuple[date, float]]]
    ) -> list[SessionResult]:
        """Keep this decision's bars, then settle every earlier session whose close is in (bars have arrived)."""
        results = []
        for session in await self.record_decision(decision_id, closes):
            result = await self.settle(session)
            if result is not None:
                results.append(result)
        return results

    async def record_decision(self, decision_id: str, closes: Mapping[str, Sequence[tuple[date, float]]]) -> list[date]:
        """Keep this decision's bars; the sessions now ready to settle (see ``pending``)."""
        record = await self._decisions.get(decision_id)
        if record is None:
            return []
        await self.snapshot_decision(decision_id, closes)
        return await self.pending(record.session)

    async def pending(self, before: date) -> list[date]:
        """Decided sessions before ``before`` with a close snapshot and no parity result yet, oldest first."""
        done = {s["session"] for s in await self._repo.sessions()}
        out: list[date] = []
        for record in await self._decisions.latest(60):
            wanted = record.session < before and record.session.isoformat() not in done
            if wanted and record.status in SETTLED_STATUSES and await self._history.session_close(record.session):
                out.append(record.session)
        return sorted(set(out))

    async def settle(self, session: date) -> SessionResult | None:
        """Compute and store ``session``'s parity; None when its inputs are not (yet) in the store."""
        inputs = await self._gather(session)
        if inputs is None:
            return None
        result = await asyncio.to_thread(self.compute, session, inputs)
        row = session_row(result, inputs.decision.decision_id, self._clock.now())
        await self._repo.save_session(row, result.tca)
        return result

    async def _gather(self, session: date) -> _Inputs | None:
        decided = [d for d in await self._decisions.for_session(session) if d.status in SETTLED_STATUSES]
        end = await self._history.session_close(session)
        if not decided or end is None:
            return None
        start = await self._history.latest_before(decided[0].started_at)
        if start is None:
            return None
        legs = [
            _Decided(
                record,
                await self._repo.decision_bars(record.decision_id),
                await self._repo.steps_for_run(record.decision_id),
                await self._repo.last_fill_times(record.decision_id),
            )
            for record in decided
        ]
        legs = await self._with_fees(legs)
        as_of = min(d.as_of or session for d in decided)
        starts = [day for leg in legs for day in leg.then.starts.values()]
        first = min(starts, default=as_of - timedelta(days=CLOSE_WINDOW_DAYS))
        bars_now = await self._bars(self.symbols, first, session)
        previous = await self._repo.last_session(session)
        other_fees = sum((f.amount for f in await self._fees.unmatched_on(session)), ZERO)
        return _Inputs(legs, start, end, bars_now, previous, other_fees)

    async def _with_fees(self, legs: list[_Decided]) -> list[_Decided]:
        """Each decision with the fees the broker charged on its orders (fee activities naming the order)."""
        owner = {s.broker_order_id: (k, s.symbol, s.side) for k, leg in enumerate(legs) for s in leg.steps}
        owner.pop(None, None)
        fees: list[dict[tuple[str, str], Decimal]] = [{} for _ in legs]
        for fee in await self._fees.for_orders(o for o in owner if o is not None):
            k, symbol, side = owner[fee.order_id]
            fees[k][(symbol, side)] = fees[k].get((symbol, side), ZERO) + fee.amount
        return [replace(leg, fees=charged) for leg, charged in zip(legs, fees, strict=True)]

    def compute(self, session: date, inputs: _Inputs) -> SessionResult:
        """The pure part: replay, shadow, attribution, TCA (deterministic for the same inputs)."""
        replays: list[StrategyReplay] = []
        legs = []
        capital = {n: s.capital_weight for n, s in self.strategies.items()}
        for decided in inputs.decisions:
            leg_replays, live_alloc, replay_alloc = self._replay(session, decided, inputs.bars_now)
            replays.extend(leg_replays)
            lines = _plan_lines(decided.record)
            legs.append(
                DecisionLeg(
                    decision_id=decided.record.decision_id,
                    orders=_orders(decided, lines),
                    decision_prices={s: Decimal(ln["price"]) for s, ln in lines.items()},
                    live_targets=merged_targets(live_alloc, capital),
                    replay_targets=merged_targets({n: a for n, a in replay_alloc.items() if a is not None}, capital),
                    replay_allocations=replay_alloc,
                )
            )
        live = _live_session(session, inputs, tuple(legs))
        previous = inputs.previous
        if previous is None:
            first = inputs.decisions[0].record
            seed = {d.strategy: d.allocation for d in first.strategies if d.status == "ok"}
            state = ShadowState.mirror(live.start_positions, live.start_equity, live.previous_closes, seed)
        else:
            state = ShadowState.from_json(previous["shadow"])
        shadow = step_shadow(state, live, self._fills, self.planner, self._rules)
        attribution = attribute_session(live, shadow, late_after_seconds=self.settings.late_fill_seconds)
        gap = attribution.session_gap + (Decimal(previous["gap"]) if previous else ZERO)
        tca = [
            {**tca_row(session, o).to_json(), "decision_id": leg.decision_id}
            for leg in live.decisions
            for o in leg.orders
            if o.filled_qty or o.planned_qty
        ]
        return SessionResult(session, attribution, tuple(replays), gap, tca)

    def _replay(
        self, session: date, decided: _Decided, bars_now: Closes
    ) -> tuple[list[StrategyReplay], dict[str, Mapping[str, Decimal]], dict[str, Mapping[str, Decimal] | None]]:
        """Every strategy of one decision replayed: the replays, the live and the replayed allocations."""
        decision = decided.record
        as_of = decision.as_of or session
        replays = []
        live_alloc: dict[str, Mapping[str, Decimal]] = {}
        replay_alloc: dict[str, Mapping[str, Decimal] | None] = {}
        for outcome in decision.strategies:
            strategy = self.strategies.get(outcome.strategy)
            if strategy is None:
                continue
            if outcome.status != "ok":
                replay_alloc[outcome.strategy] = None  # failed closed live: its book drifts on both sides
                continue
            symbols = used_symbols(strategy.symphony)
            replay = replay_strategy(
                outcome.strategy,
                strategy.symphony,
                asof=as_of,
                live_allocation=outcome.allocation,
                live_trace=outcome.trace if isinstance(outcome.trace, Mapping) else None,
                bars_then={s: r for s, r in decided.then.closes.items() if s in symbols},
                starts=decided.then.starts,
                digests={s: d for s, d in decided.then.digests.items() if s in symbols},
                bars_now={s: r for s, r in bars_now.items() if s in symbols},
            )
            replays.append(replay)
            live_alloc[outcome.strategy] = outcome.allocation
            replay_alloc[outcome.strategy] = replay.replayed if replay.error is None else outcome.allocation
        return replays, live_alloc, replay_alloc


def _closes_on(bars: Closes, day: date) -> tuple[dict[str, Decimal], dict[str, Decimal], date | None]:
    """(closes of ``day``, the last close before ``day`` per symbol, the data's last session before ``day``)."""
    today: dict[str, Decimal] = {}
    before: dict[str, Decimal] = {}
    previous_session: date | None = None
    for symbol, rows in bars.items():
        for d, c in rows:
            if d == day:
                today[symbol] = Decimal(repr(c))
            elif d < day:
                before[symbol] = Decimal(repr(c))
                previous_session = d if previous_session is None else max(previous_session, d)
    return today, before, previous_session


def _plan_lines(decision: DecisionRecord) -> dict[str, Mapping[str, Any]]:
    plan = decision.plan if isinstance(decision.plan, Mapping) else {}
    return {ln["symbol"]: ln for ln in plan.get("lines", [])}


def _live_session(session: date, inputs: _Inputs, legs: tuple[DecisionLeg, ...]) -> LiveSession:
    start, end = inputs.start, inputs.end
    closes, previous, previous_session = _closes_on(inputs.bars_now, session)
    held = {s: p.qty for s, p in start.positions.items()}
    for symbol in held:
        previous.setdefault(symbol, start.positions[symbol].price or closes.get(symbol, Decimal(1)))
    return LiveSession(
        session=session,
        start_cash=start.cash,
        start_positions=held,
        start_equity=start.equity,
        end_equity=end.equity,
        end_positions={s: p.qty for s, p in end.positions.items()},
        decisions=legs,
        previous_closes=previous,
        closes=closes,
        previous_session=previous_session,
        other_fees=inputs.other_fees,
    )


def _orders(decided: _Decided, lines: Mapping[str, Mapping[str, Any]]) -> tuple[OrderFacts, ...]:
    grouped: dict[tuple[str, str], list[StepRow]] = {}
    for step in decided.steps:
        grouped.setdefault((step.symbol, step.side), []).append(step)
    out: list[OrderFacts] = []
    for (symbol, side), steps in sorted(grouped.items()):
        line = lines.get(symbol, {})
        filled = sum((s.filled_qty for s in steps), ZERO)
        paid = sum((s.filled_qty * (s.filled_avg_price or ZERO) for s in steps), ZERO)
        first = min(steps, key=lambda s: s.step)
        contributions = {k: Decimal(v) for k, v in (line.get("contributions") or {}).items()}
        total = sum(contributions.values(), ZERO)
        reference = first.reference_price or Decimal(line.get("price", "0"))
        out.append(
            OrderFacts(
                symbol=symbol,
                side=side,
                planned_qty=abs(Decimal(line["delta_qty"])) if line else filled,
                filled_qty=filled,
                decision_price=reference,
                avg_fill_price=paid / filled if filled else None,
                arrival_bid=first.arrival_bid,
                arrival_ask=first.arrival_ask,
                decided_at=decided.record.started_at,
                last_fill_at=decided.fill_times.get((symbol, side)),
                filled_step=max((s.step for s in steps if s.filled_qty), default=None),
                fees=decided.fees.get((symbol, side), ZERO),
                strategies={k: v / total for k, v in contributions.items()} if total else {},
            )
        )
    return tuple(out)


def session_row(result: SessionResult, decision_id: str, now: datetime) -> dict[str, Any]:
    """The stored form of one settled session (``parity_sessions``)."""
    attribution = result.attribution
    return {
        "session": result.session.isoformat(),
        "decision_id": decision_id,
        "computed_at": now.isoformat(),
        "live_equity": str(attribution.live_end),
        "shadow_equity": str(cents(attribution.shadow_end)),
        "gap": str(result.gap),
        "session_gap": str(attribution.session_gap),
        "data_drift": result.data_drift,
        "parts": attribution.to_json(),
        "replay": [r.to_json() for r in result.replays],
        "shadow": attribution.shadow_after.to_json(),
    }
