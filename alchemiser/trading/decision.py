"""The decision cycle: bars → symphonies (off the loop) → stored decision → targets → execution → reconcile → report.

One ``DecisionCycle.run(session, trigger)`` call:

1. records the decision as running (scheduled ids are per session, so a session is never decided twice);
2. takes each strategy's bars from the refresher's cache (no network: the refresh ran ``lead`` minutes earlier) —
   a strategy whose symbols are missing or stale *fails closed*: it keeps its previous allocation (no new trade
   of its own) and the reason names the symbol;
3. evaluates the remaining symphonies off the event loop under a timeout: engines that offer an
   ``evaluation_call`` (the configured symphonies) in a worker *process* — spawned when the first refresh or
   evaluation needs it and kept for the next decision — so CPU-bound evaluation never holds the daemon's GIL and
   ``/healthz`` stays fast; other engines in a worker thread. An evaluation error, a timeout (the worker is
   killed) or a crashed worker fails that strategy closed. (The worker is *spawned*: like any multiprocessing
   spawn, a script that embeds the daemon must guard its entry point with ``if __name__ == "__main__":``.)
4. stores every strategy's allocation, trace or fail-closed reason with the as-of policy;
5. checks the trading gate (kill switch, reconciliation, broker clock, stream) — a closed gate records the
   decision as ``blocked`` with the reason and trades nothing;
6. hands the merged targets to execution (which plans, applies every risk rule and places the orders) and waits for
   its result;
7. reconciles positions, stores the outcome and publishes a run summary (trades, fills, slippage vs the quote,
   per-strategy P&L) to the notifier.

Every dependency is injected as a small protocol so the same cycle runs against the Alpaca adapter, the simulated
exchange, or test fakes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time as wall
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

from alchemiser.broker.models import Bar
from alchemiser.clock import Clock
from alchemiser.errors import AlchemiserError, StoreError, StrategyError
from alchemiser.logging import bind_ids, get_logger
from alchemiser.notify.events import Failure, RunSummary, TradeLine
from alchemiser.portfolio.planner import StrategyTarget
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
from alchemiser.trading.schedule import NEW_YORK
from alchemiser.trading.worker_init import init_symphony_worker

log = get_logger("decision")
WORKER_NICENESS = 5  # added to the symphony worker's nice value


@dataclass(frozen=True)
class Evaluation:
    """One symphony's answer for a session: weights (summing to 1) and a JSON-able trace."""

    allocation: dict[str, Decimal]
    trace: Any


class StrategyEngine(Protocol):
    """A configured symphony ready to evaluate. ``evaluate`` is synchronous and CPU-bound: it runs in a worker.

    An engine may also offer ``evaluation_call(bars, session) -> (function, args)`` where ``function(*args)``
    returns the same :class:`Evaluation` and both pickle: the cycle then evaluates in its worker process (and a
    picklable ``worker_warm_up()`` it sends to a fresh worker so that the imports happen before the decision)."""

    name: str
    capital_weight: Decimal
    rebalance_threshold: Decimal | None
    symbols: frozenset[str]
    lookback: int  # bars needed (through the as-of session) for every indicator to be available
    warmup: int  # bars to fetch so that exponential indicators have settled (>= lookback)

    def evaluate(self, bars: Mapping[str, Sequence[Bar]], session: date) -> Evaluation:
        """Raise ``StrategyError`` (or ``DataError``) when the symphony cannot be evaluated."""
        ...


@dataclass(frozen=True)
class ExecutedLine:
    """What execution did for one symbol (a neutral shape; execution's own result maps onto it)."""

    symbol: str
    side: str
    requested_qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    reference_price: Decimal | None
    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class ExecutionOutcome:
    status: str  # execution's run status
    ok: bool  # every line filled (or nothing to do)
    lines: tuple[ExecutedLine, ...] = ()
    detail: str = ""
    plan: Any = None  # JSON-able plan, stored with the decision
    last_fill_at: Any = None  # datetime of the last fill, when known


class TargetExecutor(Protocol):
    """Execution's face for the decision cycle: plan, risk-check and execute targets, return the outcome."""

    async def execute_targets(
        self, decision_id: str, targets: Sequence[StrategyTarget], *, trigger: str
    ) -> ExecutionOutcome: ...


@dataclass(frozen=True)
class GateResult:
    open: bool
    reasons: tuple[str, ...] = ()


TradingGate = Callable[[], Awaitable[GateResult]]
PostTrade = Callable[[str], Awaitable[str | None]]  # decision id → problem (e.g. reconcile mismatch) or None
PnlSource = Callable[[], Awaitable[tuple[dict[str, Decimal], Decimal | None, Decimal | None]]]  # pnl, equity, cash


LivePrices = Callable[[Sequence[str]], Awaitable[dict[str, float]]]  # symbols → latest price (live as-of policy)


class Publisher(Protocol):
    def publish(self, event: Any) -> None: ...


@dataclass
class DecisionStats:
    """Counters for metrics and /status."""

    decisions: int = 0
    failed_closed: int = 0
    blocked: int = 0
    failures: int = 0
    last_duration_seconds: float | None = None
    last_decision_to_fill_seconds: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionOutcome:
    decision_id: str
    status: DecisionStatus
    reason: str | None
    strategies: tuple[StrategyDecision, ...]
    execution: ExecutionOutcome | None = None
    already_decided: bool = False


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
    ) -> None:
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
        self._evaluation_timeout = evaluation_timeout
        self._run_id = run_id
        self._on_metrics = on_metrics
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="symphony-eval")
        self._use_process = worker_process
        self._process_pool: ProcessPoolExecutor | None = None
        self._warm_up: Future[Any] | None = None
        self._worker_start_timeout = worker_start_timeout
        self._lock = asyncio.Lock()
        self.stats = DecisionStats()

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
        self._prewarm()
        return await self._refresher.refresh(sorted(self.symbols), session, self.warmup)

    @property
    def worker_pid(self) -> int | None:
        """The symphony worker process, while one runs (for /status and the benchmarks' RSS figures)."""
        pool = self._process_pool
        processes = getattr(pool, "_processes", None) or {}
        return next(iter(processes), None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._stop_worker(kill=False)

    # ------------------------------------------------------------------------------------------ worker process

    def _remote_engines(self) -> bool:
        return self._use_process and any(callable(getattr(e, "evaluation_call", None)) for e in self._engines)

    def _worker(self) -> tuple[ProcessPoolExecutor, Future[Any]]:
        """The worker process and its warm-up call (done once the worker has imported what evaluation needs)."""
        if self._process_pool is None or self._warm_up is None:
            # spawn: a fresh interpreter (never a fork of this threaded process); it imports only what evaluation
            # needs. One worker: decisions evaluate their strategies one after the other anyway.
            # Niced: on a busy host the loop (health checks, order updates) wins the CPU over a batch evaluation.
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_symphony_worker,
                initargs=(WORKER_NICENESS,),
            )
            warm_up = next((w for e in self._engines if callable(w := getattr(e, "worker_warm_up", None))), os.getpid)
            future: Future[Any] = pool.submit(warm_up)
            future.add_done_callback(_log_warm_up)
            self._process_pool, self._warm_up = pool, future
        return self._process_pool, self._warm_up

    def _prewarm(self) -> None:
        if self._remote_engines():
            self._worker()

    def _stop_worker(self, *, kill: bool) -> None:
        """Shut the worker down; ``kill`` stops a runaway or hung evaluation at once (the next call spawns anew)."""
        pool, self._process_pool, self._warm_up = self._process_pool, None, None
        if pool is None:
            return
        if kill:
            # ProcessPoolExecutor cannot cancel a running call: kill its process (3.14 adds terminate_workers()).
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def _ready_worker(self) -> ProcessPoolExecutor:
        """The worker, once started (its start-up does not count against the evaluation timeout, only this bound)."""
        pool, warm_up = self._worker()
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(warm_up)), timeout=self._worker_start_timeout)
        except TimeoutError as exc:
            self._stop_worker(kill=True)
            raise StrategyError(
                f"the symphony worker process did not start within {self._worker_start_timeout:.0f}s"
            ) from exc
        except (BrokenProcessPool, OSError, ImportError) as exc:
            self._stop_worker(kill=True)
            raise StrategyError(f"the symphony worker process failed to start ({type(exc).__name__}: {exc})") from exc
        return pool

    async def _evaluate_elsewhere(
        self, engine: StrategyEngine, bars: Mapping[str, Sequence[Bar]], session: date
    ) -> Evaluation:
        """Run the evaluation in the worker process (or thread), bounded by the evaluation timeout."""
        loop = asyncio.get_running_loop()
        call = getattr(engine, "evaluation_call", None)
        if call is None or not self._use_process:
            work: Awaitable[Evaluation] = loop.run_in_executor(self._pool, engine.evaluate, bars, session)
            return await asyncio.wait_for(work, timeout=self._evaluation_timeout)
        pool = await self._ready_worker()
        function, args = await loop.run_in_executor(self._pool, call, bars, session)
        try:
            result: Evaluation = await asyncio.wait_for(
                loop.run_in_executor(pool, function, *args), timeout=self._evaluation_timeout
            )
        except TimeoutError:
            self._stop_worker(kill=True)
            raise
        except BrokenProcessPool as exc:
            self._stop_worker(kill=True)
            raise StrategyError(f"the symphony worker process died ({exc})") from exc
        return result

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
                return await self._run_locked(decision_id, session, trigger)

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
        log.info("decision_started", session=session.isoformat(), trigger=trigger, as_of=expected_last.isoformat())
        self.stats.decisions += 1
        results = await self._evaluate_all(session)
        previous = await self._decisions.last_per_strategy()
        for result in results:
            await self._decisions.record_strategy(decision_id, result)
        failed = {r.strategy: r.fail_reason or "" for r in results if r.status == "failed_closed"}
        self.stats.failed_closed += len(failed)
        targets = [self._target(r, previous) for r in results]
        targets_json = {r.strategy: dict(r.allocation) for r in results if r.status == "ok"}

        if len(failed) == len(results):
            reason = "every strategy failed closed: " + "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))
            return await self._finish(
                decision_id=decision_id,
                session=session,
                trigger=trigger,
                status="failed",
                reason=reason,
                results=results,
                execution=None,
                wall_start=wall_start,
            )

        gate = await self._gate()
        if not gate.open:
            reason = "trading gate closed: " + "; ".join(gate.reasons)
            self.stats.blocked += 1
            return await self._finish(
                decision_id=decision_id,
                session=session,
                trigger=trigger,
                status="blocked",
                reason=reason,
                results=results,
                execution=None,
                wall_start=wall_start,
            )

        try:
            execution = await self._executor.execute_targets(decision_id, targets, trigger=trigger)
        except AlchemiserError as exc:
            reason = f"execution failed: {type(exc).__name__}: {exc}"
            self.stats.failures += 1
            self._publish(Failure("execution", reason, self._clock.now(), decision_id))
            return await self._finish(
                decision_id=decision_id,
                session=session,
                trigger=trigger,
                status="failed",
                reason=reason,
                results=results,
                execution=None,
                wall_start=wall_start,
            )

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
        outcome = await self._finish(
            decision_id=decision_id,
            session=session,
            trigger=trigger,
            status=status,
            reason=" | ".join(reason_parts) or None,
            results=results,
            execution=execution,
            wall_start=wall_start,
        )
        await self._report(
            decision_id=decision_id,
            session=session,
            trigger=trigger,
            execution=execution,
            targets=targets_json,
            failed=failed,
            problem=problem,
        )
        return outcome

    async def _finish(
        self,
        *,
        decision_id: str,
        session: date,
        trigger: Trigger,
        status: DecisionStatus,
        reason: str | None,
        results: Sequence[StrategyDecision],
        execution: ExecutionOutcome | None,
        wall_start: float,
    ) -> DecisionOutcome:
        summary: dict[str, Any] = {
            "failed_closed": {r.strategy: r.fail_reason for r in results if r.status == "failed_closed"},
        }
        if execution is not None:
            summary["execution"] = {
                "status": execution.status,
                "ok": execution.ok,
                "detail": execution.detail,
                "lines": [_line_json(line) for line in execution.lines],
            }
        await self._decisions.finish(
            decision_id,
            status=status,
            finished_at=self._clock.now(),
            reason=reason,
            plan=None if execution is None else execution.plan,
            summary=summary,
        )
        self.stats.last_duration_seconds = wall.monotonic() - wall_start
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if self._on_metrics is not None:
            self._on_metrics(self.stats)
        level = log.info if status in ("executed", "no_trade") else log.warning
        level("decision_finished", status=status, reason=reason, session=session.isoformat(), trigger=trigger)
        if status in ("failed", "blocked"):
            self._publish(Failure("decision", f"{decision_id} {status}: {reason}", self._clock.now(), decision_id))
        return DecisionOutcome(decision_id, status, reason, tuple(results), execution)

    # ------------------------------------------------------------------------------------------ strategies

    async def _evaluate_all(self, session: date) -> list[StrategyDecision]:
        provisional: dict[str, float] = {}
        problems: dict[str, str] = {}
        if self.as_of_policy == "live":
            provisional, problems = await self._live_prices(session)
        results: list[StrategyDecision] = []
        for engine in self._engines:
            results.append(await self._evaluate_one(engine, session, provisional, problems))
        return results

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
        snapshot = await asyncio.get_running_loop().run_in_executor(
            self._pool, self._refresher.snapshot, sorted(engine.symbols), session, engine.lookback
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
            evaluation = await self._evaluate_elsewhere(engine, bars, session)
        except TimeoutError:
            reason = f"evaluation timed out after {self._evaluation_timeout:.0f}s"
            log.error("strategy_failed_closed", strategy=engine.name, reason=reason)
            return StrategyDecision(engine.name, engine.capital_weight, "failed_closed", fail_reason=reason)
        except AlchemiserError as exc:
            reason = f"evaluation error: {type(exc).__name__}: {exc}"
            log.error("strategy_failed_closed", strategy=engine.name, reason=reason)
            return StrategyDecision(engine.name, engine.capital_weight, "failed_closed", fail_reason=reason)
        return StrategyDecision(
            engine.name, engine.capital_weight, "ok", allocation=dict(evaluation.allocation), trace=evaluation.trace
        )

    def _target(self, result: StrategyDecision, previous: Mapping[str, Mapping[str, Any]]) -> StrategyTarget:
        engine = next(e for e in self._engines if e.name == result.strategy)
        last = previous.get(result.strategy)
        last_weights: dict[str, Decimal] = {}
        if last is not None and last.get("status") == "ok":
            last_weights = {s: Decimal(w) for s, w in (last.get("allocation") or {}).items()}
        # Fail closed: a failed strategy keeps its previous allocation (no new trade of its own making).
        weights = dict(result.allocation) if result.status == "ok" else last_weights
        return StrategyTarget(
            name=result.strategy,
            capital_weight=result.capital_weight,
            weights=weights,
            rebalance_threshold=engine.rebalance_threshold,
            previous_selection=frozenset(s for s, w in last_weights.items() if w > 0) if last_weights else None,
        )

    # ------------------------------------------------------------------------------------------ reporting

    async def _report(
        self,
        *,
        decision_id: str,
        session: date,
        trigger: str,
        execution: ExecutionOutcome,
        targets: Mapping[str, Mapping[str, Decimal]],
        failed: Mapping[str, str],
        problem: str | None,
    ) -> None:
        pnl: dict[str, Decimal] = {}
        equity: Decimal | None = None
        cash: Decimal | None = None
        if self._pnl is not None:
            try:
                pnl, equity, cash = await self._pnl()
            except (AlchemiserError, StoreError) as exc:
                log.warning("pnl_unavailable", error=str(exc))
        trades = tuple(
            TradeLine(
                symbol=line.symbol,
                side=line.side,
                qty=line.requested_qty,
                filled_qty=line.filled_qty,
                avg_price=line.avg_price,
                quote_mid=line.reference_price,
                status=line.outcome,
            )
            for line in execution.lines
        )
        note = problem or execution.detail
        self._publish(
            RunSummary(
                decision_id=decision_id,
                session=session.isoformat(),
                at=self._clock.now(),
                trigger=trigger,
                trades=trades,
                targets={k: dict(v) for k, v in targets.items()},
                failed_closed=dict(failed),
                strategy_pnl=pnl,
                equity=equity,
                cash=cash,
                note=note,
            )
        )
        for line in execution.lines:
            log.info(
                "order_outcome",
                symbol=line.symbol,
                side=line.side,
                qty=str(line.filled_qty),
                price=None if line.avg_price is None else str(line.avg_price),
                outcome=line.outcome,
            )

    def _publish(self, event: Any) -> None:
        if self._notifier is not None:
            self._notifier.publish(event)


def _log_warm_up(future: Future[Any]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is None:
        log.info("symphony_worker_started", pid=future.result())
    else:
        log.warning("symphony_worker_failed", error=f"{type(error).__name__}: {error}")


def _line_json(line: ExecutedLine) -> dict[str, Any]:
    return {
        "symbol": line.symbol,
        "side": line.side,
        "requested_qty": str(line.requested_qty),
        "filled_qty": str(line.filled_qty),
        "avg_price": None if line.avg_price is None else str(line.avg_price),
        "reference_price": None if line.reference_price is None else str(line.reference_price),
        "outcome": line.outcome,
        "reason": line.reason,
    }


def _outcome_from_record(record: DecisionRecord) -> DecisionOutcome:
    return DecisionOutcome(
        decision_id=record.decision_id,
        status=record.status,
        reason=record.reason,
        strategies=record.strategies,
        already_decided=True,
    )
