"""The daily backtest loop: the daemon's decision timing, planner, risk checks and fill model over history.

Per session D, in order:

1. **Decide.** Each strategy's target is its evaluated allocation as of the as-of policy: ``previous_close``
   (default) takes the row evaluated with bars through D-1's close, ``live`` takes D's own row (D's close standing
   in for the latest trade price). A strategy whose row failed to evaluate keeps its previous target (fail closed:
   its book is not re-decided on a failed evaluation) and the session is counted in the report.
2. **Plan.** ``alchemiser.portfolio.plan_rebalance`` merges the targets by capital weight and applies the drift
   band (``:rebalance-threshold``), whole/fractional rounding, the minimum trade and the buying-power scaling, at
   D's reference prices (the session's close, or the simulated exchange's mid at decision time).
3. **Check.** ``alchemiser.portfolio.check_plan`` (mode ``backtest``, market open) may block the plan or single
   symbols; a drawdown-guard breach latches the kill switch and stops trading for the rest of the run, as in the
   daemon. Each order then passes ``check_order`` (collar against the decision price, caps, buying power).
4. **Fill.** Sells, then buys, through the fill model (quote touch, slippage, commission). Cash never goes
   negative: a buy that the cash cannot cover after costs is cut to what it can.
5. **Mark.** Positions are valued at D's close (the last close when a symbol has no bar that day);
   ``equity = cash + sum(qty x close)`` exactly, in ``Decimal``; each fill's costs are paid once, from cash.

With a ``CorporateReplay`` (``alchemiser.backtest.corporate``) the loop prices fills and marks on the unadjusted
closes and, before step 1, applies the session's splits and dividends to the account and the strategy books
(``alchemiser.backtest.corporate_replay``); decisions and the books' drift still read the adjusted closes.

Evaluation is not done here: the caller evaluates each symphony once over the whole date axis
(``StrategySignals``) and the loop only reads rows (``alchemiser.backtest.timeline``), so a whole-history run
costs one evaluation plus a cheap accounting pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest.attribution import StrategyAttribution
from alchemiser.backtest.book import Book, affordable
from alchemiser.backtest.config import PRICE_MODES, EngineConfig, PriceMode, backtest_risk_params
from alchemiser.backtest.corporate import CorporateReplay
from alchemiser.backtest.corporate_replay import CorporateStep, quoted_marks
from alchemiser.backtest.fills import FillModel, QuoteFillModel
from alchemiser.backtest.metrics import buy_and_hold
from alchemiser.backtest.notes import RunNotes
from alchemiser.backtest.quotes import ReferencePrices
from alchemiser.backtest.rebalancing import StrategyBooks, to_decimal_weights
from alchemiser.backtest.recorder import Recorder
from alchemiser.backtest.result import TRADE_COLUMNS, BacktestResult, StrategyInfo
from alchemiser.backtest.round_trips import book_fill_frame, round_trip_frame
from alchemiser.backtest.signals import StrategySignals
from alchemiser.backtest.timeline import AS_OF_POLICIES, AsOfPolicy, Timeline, build_timeline
from alchemiser.broker.enums import OrderSide
from alchemiser.errors import StrategyError
from alchemiser.portfolio import (
    AccountState,
    AssetInfo,
    OrderCheck,
    Plan,
    PlanError,
    PlanLine,
    RiskContext,
    StrategyTarget,
    TradingMode,
    check_order,
    check_plan,
    plan_rebalance,
)

__all__ = [
    "AS_OF_POLICIES",
    "PRICE_MODES",
    "AsOfPolicy",
    "EngineConfig",
    "PriceMode",
    "ProgressCallback",
    "backtest_risk_params",
    "run_backtest",
]

ZERO = Decimal(0)
FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[int, int], None]
PROGRESS_EVERY = 250


def _to_decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


class _RowCache:
    """Decimal ``{symbol: weight}`` per distinct float row (allocations repeat for long stretches)."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self._cache: dict[bytes, dict[str, Decimal]] = {}

    def get(self, row: FloatArray) -> dict[str, Decimal]:
        key = row.tobytes()
        hit = self._cache.get(key)
        if hit is None:
            hit = {self.symbols[j]: _to_decimal(row[j]) for j in np.nonzero(row > 0)[0]}
            self._cache[key] = hit
        return hit


@dataclass
class _Day:
    """Per-session order counters the per-order risk rules look at, and the net cash spent per symbol column."""

    orders: int = 0
    notional: Decimal = ZERO
    failed_sells: int = 0


class _Simulation:
    """The loop's state and its five steps; one instance per run."""

    def __init__(
        self,
        strategies: Sequence[StrategySignals],
        timeline: Timeline,
        config: EngineConfig,
        fills: FillModel,
        reference: ReferencePrices | None,
        *,
        replay: CorporateReplay | None = None,
    ) -> None:
        self.strategies = strategies
        self.timeline = timeline
        self.config = config
        self.fills = fills
        self.reference = reference
        self.col = timeline.column
        self.book = Book(cash=config.initial_capital, high_water_mark=config.initial_capital)
        self.notes = RunNotes()
        self.attribution = StrategyAttribution([s.name for s in strategies])
        self.recorder = Recorder(
            len(timeline.sessions), timeline.symbols, [s.symbols for s in strategies], [s.name for s in strategies]
        )
        self.rows = [_RowCache(s.symbols) for s in strategies]
        self.targets: list[dict[str, Decimal]] = [{} for _ in strategies]
        self.books = StrategyBooks(strategies, timeline.marks, timeline.column)
        self.quoted = timeline.marks if replay is None else quoted_marks(replay, timeline)
        self.corporate = None
        if replay is not None:
            self.corporate = CorporateStep(
                replay.events,
                timeline.index,
                book=self.book,
                books=self.attribution.books,
                last_close=lambda k, sym: self.mark(k, self.col[sym]),
                fractionable=config.fractionable,
            )
        self.replay_notes = () if replay is None else replay.notes
        self.trades: list[tuple[object, ...]] = []
        self._marks: dict[tuple[int, int], Decimal] = {}
        self._tradable = {
            sym: AssetInfo(sym, fractionable=config.fractionable(sym), tradable=True) for sym in timeline.symbols
        }
        self._halted = {
            sym: AssetInfo(sym, fractionable=config.fractionable(sym), tradable=False) for sym in timeline.symbols
        }

    # prices -------------------------------------------------------------------------------------------------
    def mark(self, i: int, j: int) -> Decimal:
        key = (i, j)
        hit = self._marks.get(key)
        if hit is None:
            hit = self._marks[key] = _to_decimal(self.quoted[i, j])
        return hit

    def decision_price(self, i: int, sym: str) -> Decimal:
        """The session's reference price: the close, or the decision-time mid when a reference source is given."""
        j = self.col[sym]
        if self.reference is None or not self.timeline.has_bar[i, j]:
            return self.mark(i, j)
        value = self.reference.price(self.timeline.session(i), sym)
        if value is None or not math.isfinite(value) or value <= 0:
            return self.mark(i, j)
        if self.quoted is not self.timeline.marks:  # the reference is on the adjusted scale: quote it as traded
            value *= float(self.quoted[i, j]) / float(self.timeline.marks[i, j])
        return _to_decimal(round(value, 6))  # the bar data's precision

    # 1. decide ----------------------------------------------------------------------------------------------
    def decide(self, r: int, i: int, session: date) -> list[StrategyTarget]:
        out: list[StrategyTarget] = []
        previous = self.timeline.session(i - 1) if i > 0 else None
        for k, signal in enumerate(self.strategies):
            decided = self.timeline.decisions[k]
            row = decided.weights[i]
            unpriced = bool(decided.valid[i]) and bool(
                np.any((row > 0) & ~np.isfinite(self.timeline.marks[i, decided.columns]))
            )
            target: dict[str, float] | None = None
            if decided.valid[i] and not unpriced:
                target = {s: float(w) for s, w in zip(signal.symbols, row.tolist(), strict=True) if w > 0}
            else:
                src = i - 1 if self.config.as_of_policy == "previous_close" else i
                src_date = self.timeline.session(src) if src >= 0 else session
                reason = "it targets a symbol with no price yet" if unpriced else signal.error_on(src_date)
                self.notes.strategy_failed(signal.name, session, f"{src_date}: {reason}")
            book = self.books.decide(k, i, session, previous, target)
            if target is not None and not book.hold:
                self.targets[k] = self.rows[k].get(row)
                self.recorder.decided[k][r] = row
            else:
                self.targets[k] = to_decimal_weights(book.weights)
                if r > 0:
                    self.recorder.decided[k][r] = self.recorder.decided[k][r - 1]
            out.append(
                StrategyTarget(
                    name=signal.name,
                    capital_weight=signal.capital_weight,
                    weights=self.targets[k],
                    previous_selection=book.previous_selection,
                    hold=book.hold,
                    exact=book.exact,
                )
            )
        return out

    # 2. plan ------------------------------------------------------------------------------------------------
    def plan(self, i: int, session: date, targets: list[StrategyTarget]) -> tuple[Plan | None, Decimal]:
        involved = set(self.book.positions) | {sym for t in self.targets for sym in t}
        prices = {sym: self.decision_price(i, sym) for sym in involved}
        assets: dict[str, AssetInfo] = {}
        for sym in involved:
            if self.timeline.has_bar[i, self.col[sym]]:
                assets[sym] = self._tradable[sym]
            else:
                assets[sym] = self._halted[sym]
                self.notes.no_bar(sym, session)
        equity = self.book.equity_at(prices)
        if self.book.kill_switch:
            return None, equity
        try:
            plan = plan_rebalance(
                targets,
                AccountState(equity=equity, cash=self.book.cash, buying_power=self.book.cash),
                self.book.positions,
                prices,
                assets,
                params=self.config.planner,
            )
        except PlanError as exc:
            raise StrategyError(f"{session}: the rebalance planner refused the inputs: {exc}") from exc
        return plan, equity

    # 3. check -----------------------------------------------------------------------------------------------
    def check(self, plan: Plan, equity: Decimal, session: date) -> tuple[bool, frozenset[str]]:
        risk = self.config.risk
        if risk is None:
            return True, frozenset()
        verdict = check_plan(plan, self._context(equity, _Day()), risk)
        for result in verdict.blocking:
            self.notes.plan_blocked(result.rule.value, session)
        if verdict.latch_kill_switch:
            self.book.kill_switch = True
            self.notes.halted(session, verdict.kill_switch_reason)
        return verdict.allowed and not verdict.latch_kill_switch, verdict.blocked_symbols

    def _context(self, equity: Decimal, day: _Day) -> RiskContext:
        return RiskContext(
            mode=TradingMode.BACKTEST,
            market_open=True,
            equity=equity,
            cash=self.book.cash,
            buying_power=self.book.cash,
            high_water_mark=self.book.high_water_mark,
            kill_switch_latched=self.book.kill_switch,
            orders_today=day.orders,
            notional_today=day.notional,
            failed_sells=day.failed_sells,
        )

    # 4. fill ------------------------------------------------------------------------------------------------
    def execute(self, i: int, session: date, plan: Plan, blocked: frozenset[str], equity: Decimal) -> None:
        day = _Day()
        self.attribution.planned(plan, session)
        for line in plan.trades:
            if line.symbol not in blocked:
                self._order(i, session, line, equity, day)

    def _order(self, i: int, session: date, line: PlanLine, equity: Decimal, day: _Day) -> None:
        side = line.side.to_order_side()
        qty = line.order_qty
        fill = self.fills.fill(line.symbol, side, qty, line.price)
        if side is OrderSide.BUY and qty * fill.price + fill.commission > self.book.cash:
            self.notes.cash_cut.append(session)
            quantum = self.config.planner.fraction_quantum if line.fractionable else Decimal(1)
            per_order = self.fills.fill(line.symbol, side, ZERO, line.price).commission
            qty = affordable(self.book.cash, fill.price, per_order, self.config.costs.commission_per_share, quantum)
            if qty <= 0:
                return
            fill = self.fills.fill(line.symbol, side, qty, line.price)
        if self.config.risk is not None:
            order = OrderCheck(line.symbol, side, qty, fill.price, line.price)
            verdict = check_order(order, self._context(equity, day), self.config.risk)
            if not verdict.fully_allowed:
                for result in verdict.blocking:
                    self.notes.order_blocked(result.rule.value, session)
                day.failed_sells += side is OrderSide.SELL
                return
        day.orders += 1
        day.notional += qty * fill.price
        if side is OrderSide.BUY:
            self.book.buy(line.symbol, qty, fill)
        else:
            self.book.sell(line.symbol, qty, fill, full_exit=line.full_exit)
        self.attribution.filled(line.symbol, side, qty, fill, session)
        self.trades.append(
            (
                self.timeline.stamps[i],
                line.symbol,
                side.value,
                qty,
                fill.price,
                line.price,
                qty * fill.price,
                fill.commission,
                line.reason.value,
            )
        )

    # 5. mark ------------------------------------------------------------------------------------------------
    def mark_to_market(self, r: int, i: int) -> float:
        value = ZERO
        for sym, qty in self.book.positions.items():
            j = self.col[sym]
            position = qty * self.mark(i, j)
            value += position
            self.recorder.values[r, j] = float(position)
        equity = self.book.cash + value
        self.book.high_water_mark = max(self.book.high_water_mark, equity)
        self.recorder.equity[r] = float(equity)
        self.recorder.cash[r] = float(self.book.cash)
        return float(equity)

    def step(self, r: int, i: int, previous_equity: float) -> float:
        session = self.timeline.session(i)
        if self.corporate is not None:  # the books' ledger sees the splits and dividends too
            self.attribution.adjusted(session, partial(self.corporate.apply, i, session))
        targets = self.decide(r, i, session)
        plan, equity = self.plan(i, session, targets)
        if plan is not None:
            allowed, blocked = self.check(plan, equity, session)
            if allowed:
                self.execute(i, session, plan, blocked, equity)
            for line in plan.lines:
                self.recorder.targets[r, self.col[line.symbol]] = float(line.target_weight)
        elif r > 0:
            self.recorder.targets[r] = self.recorder.targets[r - 1]
        closing = self.mark_to_market(r, i)
        self.recorder.books(r, self.attribution.closed(lambda sym: self.mark(i, self.col[sym]), previous_equity))
        return closing


def run_backtest(
    strategies: Sequence[StrategySignals],
    closes: pd.DataFrame,
    config: EngineConfig | None = None,
    *,
    fill_model: FillModel | None = None,
    reference: ReferencePrices | None = None,
    progress: ProgressCallback | None = None,
    replay: CorporateReplay | None = None,
) -> BacktestResult:
    """Simulate ``strategies`` (merged by capital weight) over the sessions of ``closes``.

    ``closes`` holds adjusted closes (sessions x symbols, NaN where a symbol has no bar) for every symbol the
    strategies can hold, plus the benchmark symbol when wanted; ``replay`` (unadjusted closes, splits, dividends)
    makes fills, marks and cash those of an account (module docstring). Decisions are priced at each session's
    close unless ``reference`` gives another price (``DecisionTimeQuotes``); positions are always marked at the
    close. Raises ``StrategyError``/``DataError`` naming the problem when no single session can be traded.
    """
    config = config or EngineConfig()
    started = time.perf_counter()
    timeline = build_timeline(strategies, closes, policy=config.as_of_policy, start=config.start, end=config.end)
    fills = fill_model or QuoteFillModel(config.costs)
    sim = _Simulation(strategies, timeline, config, fills, reference, replay=replay)
    total = timeline.last - timeline.first + 1
    equity = float(config.initial_capital)
    for r, i in enumerate(range(timeline.first, timeline.last + 1)):
        equity = sim.step(r, i, equity)
        if progress is not None and (r % PROGRESS_EVERY == 0 or r == total - 1):
            progress(r + 1, total)
    result = _result(sim, closes)
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _result(sim: _Simulation, closes: pd.DataFrame) -> BacktestResult:
    timeline, config, recorder = sim.timeline, sim.config, sim.recorder
    sessions = timeline.sessions
    frames = recorder.frames(sessions)
    benchmark, bench_symbol, bench_note = _benchmark(closes, config, sessions)
    notes = sim.notes.render(
        strategies=sim.strategies,
        policy=config.as_of_policy,
        requested_start=config.start,
        start=timeline.session(timeline.first),
        extra=[timeline.end_note],
        prices=None if sim.corporate is None else [*sim.replay_notes, sim.corporate.counts.note()],
    )
    if bench_note:
        notes.append(bench_note)
    return BacktestResult(
        initial_capital=config.initial_capital,
        as_of_policy=config.as_of_policy,
        costs=config.costs,
        strategies=[
            StrategyInfo(
                name=s.name,
                source=s.source,
                capital_weight=s.capital_weight,
                rebalance_threshold=s.rebalance_threshold,
                first_valid=s.first_valid(),
                failed_sessions=len(sim.notes.failed.get(s.name, [])),
                rebalance=s.rule.describe(),
                rebalances=sim.books.rebalances[k],
                rebalance_sessions=tuple(sim.books.rebalance_sessions[k]),
            )
            for k, s in enumerate(sim.strategies)
        ],
        requested_start=config.start,
        requested_end=config.end,
        equity=pd.Series(recorder.equity, index=sessions, name="equity"),
        cash=pd.Series(recorder.cash, index=sessions, name="cash"),
        weights=frames["weights"],
        targets=frames["targets"],
        strategy_targets={
            s.name: pd.DataFrame(recorder.decided[k], index=sessions, columns=list(s.symbols))
            for k, s in enumerate(sim.strategies)
        },
        trades=pd.DataFrame(sim.trades, columns=list(TRADE_COLUMNS)),
        contributions=frames["contributions"],
        book_fills=book_fill_frame(sim.attribution.ledger),
        round_trips=round_trip_frame(sim.attribution.round_trips(timeline.session(timeline.last))),
        book_pnl=frames["book_pnl"],
        book_invested=frames["book_invested"],
        benchmark=benchmark,
        benchmark_symbol=bench_symbol,
        notes=notes,
    )


def _benchmark(
    closes: pd.DataFrame, config: EngineConfig, sessions: pd.DatetimeIndex
) -> tuple[pd.Series | None, str | None, str]:
    symbol = config.benchmark_symbol
    if symbol is None:
        return None, None, ""
    if symbol not in closes.columns:
        return None, None, f"No benchmark: {symbol} is not in the data."
    prices = closes[symbol].reindex(sessions)
    if not np.isfinite(float(prices.iloc[0])):
        return None, None, f"No benchmark: {symbol} has no bar on the first session {sessions[0].date()}."
    return buy_and_hold(prices, float(config.initial_capital)).reindex(sessions).ffill(), symbol, ""
