"""The decision cycle: bars → symphonies (off the loop) → stored decision → targets → execution → reconcile → report.

One ``DecisionCycle.run(session, trigger)`` call:

1. records the decision as running (scheduled ids are per session, so a session is never decided twice);
2. takes each strategy's bars from the refresher's cache (no network: the refresh ran ``lead`` minutes earlier) —
   a strategy whose symbols are missing or stale *fails closed*: it keeps its previous allocation (no new trade
   of its own) and the reason names the symbol;
3. evaluates the remaining symphonies off the event loop under a timeout (:mod:`.symphony_worker`: a worker
   process for the configured symphonies). An evaluation error, a timeout (the worker is killed) or a crashed
   worker fails that strategy closed. A calendar strategy (weekly to yearly) that holds a book is evaluated only on
   its rebalance day (``dsl.rebalance.evaluation_due``): on other sessions its target is the book it holds and its
   record says "not due; next rebalance <date>" — it cannot fail closed, nor fail the decision. A manual decision
   evaluates every strategy and trades calendar ones to target as on a rebalance day;
4. stores every strategy's allocation, trace or fail-closed reason with the as-of policy;
5. checks the trading gate (kill switch, reconciliation, broker clock, stream) — a closed gate records the
   decision as ``blocked`` with the reason and trades nothing;
6. hands the merged targets to execution (which plans, applies every risk rule and places the orders) and waits for
   its result;
7. reconciles positions, stores the outcome and publishes a run summary (trades, fills, slippage vs the quote,
   per-strategy P&L) to the notifier.

Every dependency is injected as a small protocol (:mod:`.decision_ports`) so the same cycle runs against the Alpaca
adapter, the simulated exchange, or test fakes.
"""

from __future__ import annotations

import asyncio
import time as wall
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from alchemiser.broker.models import Bar
from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, StoreError
from alchemiser.logging import bind_ids, get_logger
from alchemiser.notify.events import Failure
from alchemiser.portfolio.planner import StrategyTarget
from alchemiser.process.crashpoints import crash_point
from alchemiser.store.decisions import (
    DecisionRecord,
    DecisionStatus,
    DecisionStore,
    StrategyDecision,
    Trigger,
    manual_decision_id,
    scheduled_decision_id,
)
from alchemiser.trading.data_refresh import BarRefresher, RefreshReport
from alchemiser.trading.decision_ports import (
    DecisionOutcome,
    DecisionStats,
    ExecutionOutcome,
    FinishListener,
    LivePrices,
    PnlSource,
    PostTrade,
    Publisher,
    StrategyEngine,
    TargetExecutor,
    TradingGate,
    line_json,
    notify_finished,
)
from alchemiser.trading.rebalance_outlook import outlook_after
from alchemiser.trading.rebalancing import (
    BookValues,
    PreviousSession,
    decision_target,
    not_due_book,
    not_due_decision,
)
from alchemiser.trading.run_summary import build_run_summary, log_order_outcomes
from alchemiser.trading.schedule import NEW_YORK, TradingCalendar
from alchemiser.trading.symphony_worker import SymphonyRunner

log = get_logger("decision")


class DecisionCycle:
    def __init__(
        self,
        *,
        engines: Sequence[StrategyEngine],
        refresher: BarRefresher,
        decisions: DecisionStore,
        executor: TargetExecutor,
        clock: Clock,
        gate: TradingGate,
        notifier: Publisher | None = None,
        post_trade: PostTrade | None = None,
        pnl: PnlSource | None = None,
        as_of_policy: str = "previous_close",
        evaluation_timeout: float = 120.0,
        run_id: str | None = None,
        on_metrics: Callable[[DecisionStats], None] | None = None,
        live_prices: LivePrices | None = None,
        worker_process: bool = True,
        worker_start_timeout: float = 120.0,
        book_values: BookValues | None = None,
        previous_session: PreviousSession | None = None,
        worker_lock: Path | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self._book_values = book_values
        self._previous_session = previous_session
        self._calendar = calendar  # names a held strategy's next rebalance (None: the XNYS table)
        if as_of_policy not in ("previous_close", "live"):
            raise ValueError(f"unknown as-of policy {as_of_policy!r}")
        self._live_price_source = live_prices
        names = [e.name for e in engines]
        if not engines:
            raise ValueError("a decision cycle needs at least one strategy")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate strategy names: {sorted(names)}")
        self._engines = list(engines)
        self._refresher = refresher
        self._decisions = decisions
        self._executor = executor
        self._clock = clock
        self._gate = gate
        self._notifier = notifier
        self._post_trade = post_trade
        self._pnl = pnl
        self.as_of_policy = as_of_policy
        self._run_id = run_id
        self._on_metrics = on_metrics
        self._runner = SymphonyRunner(
            engines,
            use_process=worker_process,
            evaluation_timeout=evaluation_timeout,
            worker_start_timeout=worker_start_timeout,
            worker_lock=worker_lock,
        )
        self._lock = asyncio.Lock()
        self.evaluating = False  # the symphonies are being evaluated (a sim's clock runs at real speed meanwhile)
        self.stats = DecisionStats()
        # Called after every decision that ran (not for one already decided), outside the decision lock.
        self.finish_listeners: list[FinishListener] = []

    # ------------------------------------------------------------------------------------------ inputs

    @property
    def engines(self) -> list[StrategyEngine]:
        return list(self._engines)

    @property
    def symbols(self) -> frozenset[str]:
        """Exactly the symbols the configured symphonies reference."""
        return frozenset().union(*(e.symbols for e in self._engines))

    @property
    def warmup(self) -> int:
        return max(max(e.warmup, e.lookback) for e in self._engines)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    async def refresh(self, session: date) -> RefreshReport:
        """Refresh bars for the decision on ``session`` (called ``lead`` minutes ahead by the scheduler).

        Also starts the symphony worker process meanwhile, so the decision does not wait for its imports."""
        self._runner.prewarm()
        return await self._refresher.refresh(sorted(self.symbols), session, self.warmup)

    @property
    def worker_pid(self) -> int | None:
        """The symphony worker process, while one runs (for /status and the benchmarks' RSS figures)."""
        return self._runner.worker_pid

    def close(self) -> None:
        self._runner.close()

    # ------------------------------------------------------------------------------------------ the cycle

    async def run(self, session: date, trigger: Trigger, *, decision_id: str | None = None) -> DecisionOutcome:
        """Run one decision for ``session``. Never raises for a strategy, data or broker problem: the outcome
        (and the store) says what happened. Only store failures propagate (nothing can be recorded).

        ``decision_id`` may be given for manual decisions (the API answers with it before the run ends)."""
        async with self._lock:
            if decision_id is None or trigger != "manual":
                decision_id = (
                    manual_decision_id(self._clock.now()) if trigger == "manual" else scheduled_decision_id(session)
                )
            with bind_ids(decision_id=decision_id):
                outcome = await self._run_locked(decision_id, session, trigger)
        if not outcome.already_decided:
            await notify_finished(self.finish_listeners, outcome, session, trigger)
        return outcome

    async def _run_locked(self, decision_id: str, session: date, trigger: Trigger) -> DecisionOutcome:
        started = self._clock.now()
        wall_start = wall.monotonic()
        if trigger != "manual" and await self._decisions.exists(decision_id):
            existing = await self._decisions.get(decision_id)
            if existing is None:
                raise StoreError(f"decision {decision_id} vanished between two reads")
            log.info("decision_already_made", session=session.isoformat(), status=existing.status)
            return _outcome_from_record(existing)
        expected_last = session if self.as_of_policy == "live" else self._refresher.expected_last_session(session)
        await self._decisions.start(
            decision_id,
            session=session,
            trigger=trigger,
            as_of_policy=self.as_of_policy,
            as_of=expected_last,
            started_at=started,
            run_id=self._run_id,
        )
        log.debug("decision_started", session=session.isoformat(), trigger=trigger, as_of=expected_last.isoformat())
        self.stats.decisions += 1
        previous = await self._decisions.last_per_strategy()
        books = await self._book_values() if self._book_values is not None else {}
        self.evaluating = True
        try:
            decided = await self._decide_all(session, trigger, previous, books)
        finally:
            self.evaluating = False
        results = [result for result, _ in decided]
        targets = [target for _, target in decided]
        for result in results:
            await self._decisions.record_strategy(decision_id, result)
        crash_point("after_decision_stored")
        deciding = _Deciding(decision_id, session, trigger, tuple(results), wall_start)
        failed = {r.strategy: r.fail_reason or "" for r in results if r.status == "failed_closed"}
        self.stats.failed_closed += len(failed)
        targets_json = {r.strategy: dict(r.allocation) for r in results if r.status == "ok"}

        if len(failed) == len(results):
            reason = "every strategy failed closed: " + "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))
            return await self._finish(deciding, "failed", reason)

        gate = await self._gate()
        if not gate.open:
            reason = "trading gate closed: " + "; ".join(gate.reasons)
            self.stats.blocked += 1
            return await self._finish(deciding, "blocked", reason)

        try:
            execution = await self._executor.execute_targets(decision_id, targets, trigger=trigger)
        except AlchemiserError as exc:
            reason = f"execution failed: {type(exc).__name__}: {exc}"
            self.stats.failures += 1
            self._publish(Failure("execution", reason, self._clock.now(), decision_id))
            return await self._finish(deciding, "failed", reason)

        problem = await self._post_trade(decision_id) if self._post_trade is not None else None
        if execution.last_fill_at is not None:
            self.stats.last_decision_to_fill_seconds = max(0.0, (execution.last_fill_at - started).total_seconds())
        status: DecisionStatus = "executed" if execution.lines else "no_trade"
        reason_parts = [execution.detail] if execution.detail else []
        if not execution.ok:
            issues = [
                f"{line.symbol} {line.outcome}: {line.reason}" for line in execution.lines if line.outcome != "filled"
            ]
            reason_parts.append(f"execution {execution.status}" + (": " + "; ".join(issues) if issues else ""))
        if failed:
            reason_parts.append("failed closed: " + "; ".join(f"{k}: {v}" for k, v in sorted(failed.items())))
        if problem:
            reason_parts.append(problem)
        outcome = await self._finish(deciding, status, " | ".join(reason_parts) or None, execution)
        summary = await build_run_summary(
            pnl_source=self._pnl,
            clock=self._clock,
            decision_id=decision_id,
            session=session,
            trigger=trigger,
            execution=execution,
            targets=targets_json,
            failed=failed,
            problem=problem,
        )
        self._publish(summary)
        log_order_outcomes(execution)
        return outcome

    async def _finish(
        self, deciding: _Deciding, status: DecisionStatus, reason: str | None, execution: ExecutionOutcome | None = None
    ) -> DecisionOutcome:
        decision_id, results = deciding.decision_id, deciding.results
        summary: dict[str, Any] = {
            "failed_closed": {r.strategy: r.fail_reason for r in results if r.status == "failed_closed"},
            "not_due": {r.strategy: r.not_due for r in results if r.not_due is not None},
        }
        if execution is not None:
            summary["execution"] = {
                "status": execution.status,
                "ok": execution.ok,
                "detail": execution.detail,
                "lines": [line_json(line) for line in execution.lines],
            }
        await self._decisions.finish(
            decision_id,
            status=status,
            finished_at=self._clock.now(),
            reason=reason,
            plan=None if execution is None else execution.plan,
            summary=summary,
        )
        self.stats.last_duration_seconds = wall.monotonic() - deciding.wall_start
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if self._on_metrics is not None:
            self._on_metrics(self.stats)
        level = log.info if status in ("executed", "no_trade") else log.warning
        session, trigger = deciding.session.isoformat(), deciding.trigger
        level("decision_finished", status=status, reason=reason, session=session, trigger=trigger)
        if status in ("failed", "blocked"):
            self._publish(Failure("decision", f"{decision_id} {status}: {reason}", self._clock.now(), decision_id))
        return DecisionOutcome(decision_id, status, reason, results, execution)

    # ------------------------------------------------------------------------------------------ strategies

    async def _decide_all(
        self, session: date, trigger: Trigger, previous: Mapping[str, Any], books: Mapping[str, Any]
    ) -> list[tuple[StrategyDecision, StrategyTarget]]:
        """Each strategy's stored decision and planner target: evaluated when due, else holding its book."""
        before = None if self._previous_session is None else self._previous_session(session)
        held: dict[str, dict[str, float]] = {}
        for engine in self._engines if trigger != "manual" else ():
            book = not_due_book(
                engine.rebalance_rule, session, before, books.get(engine.name), previous.get(engine.name)
            )
            if book is not None:
                held[engine.name] = book
        provisional: dict[str, float] = {}
        problems: dict[str, str] = {}
        if self.as_of_policy == "live" and len(held) < len(self._engines):
            provisional, problems = await self._live_prices(session)
        decided: list[tuple[StrategyDecision, StrategyTarget]] = []
        for engine in self._engines:
            if engine.name in held:
                decided.append(self._not_due(engine, session, held[engine.name], previous.get(engine.name)))
                continue
            result = await self._evaluate_one(engine, session, provisional, problems)
            # A manual decision counts as the first session of a period: the operator asked for a rebalance now.
            opens = None if trigger == "manual" else before
            decided.append((result, self._target(result, previous, session, books, opens)))
        return decided

    def _not_due(
        self, engine: StrategyEngine, session: date, held: Mapping[str, float], last: Mapping[str, Any] | None
    ) -> tuple[StrategyDecision, StrategyTarget]:
        outlook = outlook_after(engine.rebalance_rule, session, self._calendar)
        log.debug("strategy_not_due", strategy=engine.name, next_rebalance=outlook.headline)
        return not_due_decision(
            engine.rebalance_rule,
            name=engine.name,
            capital_weight=engine.capital_weight,
            session=session,
            held=held,
            outlook=outlook,
            last=last,
        )

    async def _live_prices(self, session: date) -> tuple[dict[str, float], dict[str, str]]:
        """The ``live`` as-of policy: the latest price of every symbol, as a provisional bar for ``session``."""
        symbols = sorted(self.symbols)
        if self._live_price_source is None:
            return {}, {s: f"{s}: no live price source configured" for s in symbols}
        try:
            prices = await self._live_price_source(symbols)
        except AlchemiserError as exc:
            return {}, {s: f"{s}: live price unavailable ({exc})" for s in symbols}
        problems = {s: f"{s}: no live price" for s in symbols if not prices.get(s, 0.0) > 0}
        return {s: p for s, p in prices.items() if p > 0}, problems

    async def _evaluate_one(
        self, engine: StrategyEngine, session: date, provisional: Mapping[str, float], live_problems: Mapping[str, str]
    ) -> StrategyDecision:
        # Off the loop: the snapshot rebuilds thousands of Bar objects from the refresher's compact cache.
        snapshot = await self._runner.in_thread(
            self._refresher.snapshot, sorted(engine.symbols), session, engine.lookback
        )
        problems = snapshot.problems_for(sorted(engine.symbols))
        problems.update({s: live_problems[s] for s in engine.symbols if s in live_problems})
        if problems:
            reason = "; ".join(problems[s] for s in sorted(problems))
            log.warning("strategy_failed_closed", strategy=engine.name, reason=reason)
            return StrategyDecision(engine.name, engine.capital_weight, "failed_closed", fail_reason=reason)
        bars: dict[str, Sequence[Bar]] = {s: snapshot.bars[s] for s in engine.symbols}
        if provisional:
            stamp = datetime.combine(session, time(0), NEW_YORK).astimezone(UTC)
            bars = {
                s: [*series, Bar(t=stamp, o=provisional[s], h=provisional[s], low=provisional[s], c=provisional[s])]
                for s, series in bars.items()
            }
        try:
            evaluation = await self._runner.evaluate(engine, bars, session)
        except TimeoutError:
            reason = f"evaluation timed out after {self._runner.evaluation_timeout:.0f}s"
            log.error("strategy_failed_closed", strategy=engine.name, reason=reason)
            return StrategyDecision(engine.name, engine.capital_weight, "failed_closed", fail_reason=reason)
        except AlchemiserError as exc:
            reason = f"evaluation error: {type(exc).__name__}: {exc}"
            log.error("strategy_failed_closed", strategy=engine.name, reason=reason)
            return StrategyDecision(engine.name, engine.capital_weight, "failed_closed", fail_reason=reason)
        return StrategyDecision(
            engine.name, engine.capital_weight, "ok", allocation=dict(evaluation.allocation), trace=evaluation.trace
        )

    def _target(
        self,
        result: StrategyDecision,
        previous: Mapping[str, Any],
        session: date,
        books: Mapping[str, Any],
        before: date | None,
    ) -> StrategyTarget:
        """Hold, trade or rebalance exactly (:mod:`.rebalancing`); a failed strategy's book drifts (fail closed).
        ``before`` is the session before ``session`` (None: ``session`` opens every calendar period)."""
        engine = next(e for e in self._engines if e.name == result.strategy)
        return decision_target(
            engine.rebalance_rule,
            result,
            previous.get(result.strategy),
            session=session,
            previous_session=before,
            books=books,
        )

    def _publish(self, event: Any) -> None:
        if self._notifier is not None:
            self._notifier.publish(event)


@dataclass(frozen=True, slots=True)
class _Deciding:
    """One decision in progress: what every way of ending it needs to record it."""

    decision_id: str
    session: date
    trigger: Trigger
    results: tuple[StrategyDecision, ...]
    wall_start: float


def _outcome_from_record(record: DecisionRecord) -> DecisionOutcome:
    return DecisionOutcome(
        decision_id=record.decision_id,
        status=record.status,
        reason=record.reason,
        strategies=record.strategies,
        already_decided=True,
    )
