"""The daily backtest loop: the daemon's decision timing, planner, risk checks and fill model over history.

Per session D, in order:

1. **Decide.** Each strategy's target is its evaluated allocation as of the as-of policy: ``previous_close``
   (default) takes the row evaluated with bars through D-1's close, ``live`` takes D's own row (D's close standing
   in for the latest trade price). A strategy whose row failed to evaluate keeps its previous target (fail closed:
   its book is not re-decided on a failed evaluation) and the session is counted in the report.
2. **Plan.** ``alchemiser.portfolio.plan_rebalance`` merges the targets by capital weight and applies the drift
   band (``:rebalance-threshold``), whole/fractional rounding, the minimum trade and the buying-power scaling, at
   D's reference prices (the session's close; the daemon decides 15 minutes before it).
3. **Check.** ``alchemiser.portfolio.check_plan`` (mode ``backtest``, market open) may block the plan or single
   symbols; a drawdown-guard breach latches the kill switch and stops trading for the rest of the run, as in the
   daemon. Each order then passes ``check_order`` (collar against the decision price, caps, buying power).
4. **Fill.** Sells, then buys, through the fill model (quote touch, slippage, commission). Cash never goes
   negative: a buy that the cash cannot cover after costs is cut to what it can.
5. **Mark.** Positions are valued at D's close (the last close when a symbol has no bar that day);
   ``equity = cash + sum(qty x close)`` exactly, in ``Decimal``; each fill's costs are paid once, from cash.

Evaluation is not done here: the caller evaluates each symphony once over the whole date axis
(``StrategySignals``) and the loop only reads rows, so a whole-history run costs one evaluation plus a cheap
accounting pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest.fills import FillModel, QuoteFillModel
from alchemiser.backtest.metrics import buy_and_hold
from alchemiser.backtest.quotes import ReferencePrices
from alchemiser.backtest.result import TRADE_COLUMNS, BacktestResult, Costs, StrategyInfo
from alchemiser.backtest.signals import StrategySignals
from alchemiser.broker.enums import OrderSide
from alchemiser.errors import DataError, StrategyError
from alchemiser.portfolio import (
    AccountState,
    AssetInfo,
    OrderCheck,
    PlanError,
    PlannerParams,
    RiskContext,
    RiskParams,
    StrategyTarget,
    TradingMode,
    check_order,
    check_plan,
    plan_rebalance,
)

AsOfPolicy = Literal["previous_close", "live"]
AS_OF_POLICIES: tuple[str, ...] = ("previous_close", "live")
ZERO = Decimal(0)
FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[int, int], None]
PROGRESS_EVERY = 250


def backtest_risk_params() -> RiskParams:
    """The risk rules a backtest applies by default: the daemon's per-plan shape limits (position weight,
    turnover, buying power) without the absolute-money caps and the drawdown halt, which are account-size and
    operator policies rather than properties of a strategy. Pass the configured ``RiskParams`` to apply them all.
    """
    return RiskParams(
        max_order_notional=None,
        max_daily_orders=None,
        max_daily_notional=None,
        drawdown_halt_pct=None,
        pdt_guard=False,
    )


@dataclass(frozen=True)
class EngineConfig:
    """Settings of one run. ``start``/``end`` bound the sessions (the start moves forward if needed)."""

    initial_capital: Decimal = Decimal(100_000)
    as_of_policy: AsOfPolicy = "previous_close"
    costs: Costs = field(default_factory=Costs)
    planner: PlannerParams = field(default_factory=PlannerParams)
    risk: RiskParams | None = field(default_factory=backtest_risk_params)
    whole_shares: frozenset[str] | bool = False
    start: date | None = None
    end: date | None = None
    benchmark_symbol: str | None = "SPY"

    def __post_init__(self) -> None:
        if self.initial_capital <= 0:
            raise ValueError(f"initial capital must be > 0, got {self.initial_capital}")
        if self.as_of_policy not in AS_OF_POLICIES:
            raise ValueError(f"as-of policy must be one of {', '.join(AS_OF_POLICIES)}, got {self.as_of_policy!r}")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")


@dataclass
class _Book:
    """Mutable account state of the loop."""

    cash: Decimal
    positions: dict[str, Decimal] = field(default_factory=dict)
    high_water_mark: Decimal = ZERO
    kill_switch: bool = False


@dataclass
class _Day:
    """Per-session order counters the per-order risk rules look at."""

    orders: int = 0
    notional: Decimal = ZERO
    failed_sells: int = 0


@dataclass
class _Notes:
    failed: dict[str, list[date]] = field(default_factory=dict)
    first_error: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, list[date]] = field(default_factory=dict)
    blocked_orders: dict[str, list[date]] = field(default_factory=dict)
    cash_cut: list[date] = field(default_factory=list)
    untradable: dict[str, list[date]] = field(default_factory=dict)
    halted_on: date | None = None
    halt_reason: str = ""
    plan_errors: list[str] = field(default_factory=list)


def _to_decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _decision_rows(
    signal: StrategySignals, index: pd.DatetimeIndex, policy: AsOfPolicy
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """The strategy's weights and validity aligned on ``index`` and shifted by the as-of policy."""
    aligned = signal.weights.reindex(index)
    weights = aligned.to_numpy(dtype=np.float64, na_value=0.0)
    valid_series = pd.Series(np.asarray(signal.valid, dtype=bool), index=signal.weights.index)
    valid = valid_series.reindex(index, fill_value=False).to_numpy(dtype=bool)
    if policy == "previous_close":
        weights = np.vstack([np.zeros((1, weights.shape[1])), weights[:-1]]) if len(weights) else weights
        valid = np.concatenate([[False], valid[:-1]]) if len(valid) else valid
    return weights, valid


class _RowCache:
    """Decimal ``{symbol: weight}`` per distinct float row (allocations repeat for long stretches)."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self._cache: dict[bytes, dict[str, Decimal]] = {}

    def get(self, row: FloatArray) -> dict[str, Decimal]:
        key = row.tobytes()
        hit = self._cache.get(key)
        if hit is None:
            nz = np.nonzero(row > 0)[0]
            hit = {self.symbols[j]: _to_decimal(row[j]) for j in nz}
            self._cache[key] = hit
        return hit


def _first_session(tradable: npt.NDArray[np.bool_], lo: int, hi: int) -> int | None:
    hits = np.nonzero(tradable[lo : hi + 1])[0]
    return None if hits.size == 0 else lo + int(hits[0])


def _default_end(
    tradable: npt.NDArray[np.bool_],
    *,
    decisions: Sequence[tuple[FloatArray, npt.NDArray[np.bool_]]],
    has_bar: npt.NDArray[np.bool_],
    symbols: Sequence[str],
    strategies: Sequence[StrategySignals],
    first: int,
    hi: int,
    index: pd.DatetimeIndex,
) -> tuple[int, str]:
    """Without an explicit end: the last session on which every strategy can trade, and no later than the last bar
    of any symbol the strategies hold in between (a position must not outlive its data)."""
    last = first + int(np.nonzero(tradable[first : hi + 1])[0][-1])
    col = {sym: j for j, sym in enumerate(symbols)}
    end, reason = last, "the last session on which every strategy can evaluate and trade"
    for s, (w, v) in zip(strategies, decisions, strict=True):
        window = w[first : last + 1][v[first : last + 1]]
        for k in np.nonzero((window > 0).any(axis=0))[0] if window.size else []:
            sym = s.symbols[int(k)]
            bars = np.nonzero(has_bar[: last + 1, col[sym]])[0]
            sym_end = int(bars[-1]) if bars.size else first
            if sym_end < end:
                end = max(sym_end, first)
                reason = f"the last bar of {sym}, which the strategies hold"
    return end, f"End {index[end].date().isoformat()}: {reason}."


def run_backtest(
    strategies: Sequence[StrategySignals],
    closes: pd.DataFrame,
    config: EngineConfig | None = None,
    *,
    fill_model: FillModel | None = None,
    reference: ReferencePrices | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Simulate ``strategies`` (merged by capital weight) over the sessions of ``closes``.

    Decisions are priced at each session's close unless ``reference`` gives another price (the simulated
    exchange's mid at decision time, ``DecisionTimeQuotes``); positions are always marked at the close.

    ``closes`` holds adjusted closes (sessions x symbols, NaN where a symbol has no bar) for every symbol the
    strategies can hold, plus the benchmark symbol when wanted. Raises ``StrategyError``/``DataError`` naming the
    problem when the inputs cannot give a single session to trade.
    """
    config = config or EngineConfig()
    fills = fill_model or QuoteFillModel(config.costs)
    started = time.perf_counter()
    if not strategies:
        raise StrategyError("no strategies to backtest")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise StrategyError(f"strategy names must be unique, got {names}")
    capital_total = sum((s.capital_weight for s in strategies), ZERO)
    if capital_total > Decimal("1.000001"):
        raise StrategyError(f"capital weights sum to {capital_total} > 1")
    if not isinstance(closes.index, pd.DatetimeIndex) or not closes.index.is_monotonic_increasing:
        raise DataError("closes must be indexed by increasing session dates")
    if closes.index.has_duplicates:
        raise DataError("closes hold duplicate session dates")
    held_symbols = sorted({sym for s in strategies for sym in s.symbols})
    missing = [sym for sym in held_symbols if sym not in closes.columns]
    if missing:
        raise DataError(f"no price data for {', '.join(missing)} (needed by the strategies)")

    index = pd.DatetimeIndex(closes.index)
    symbols = held_symbols
    col = {sym: j for j, sym in enumerate(symbols)}
    px = closes[symbols].to_numpy(dtype=np.float64, copy=True) if symbols else np.zeros((len(index), 0))
    has_bar = np.isfinite(px) & (px > 0)
    marks = pd.DataFrame(np.where(has_bar, px, np.nan), index=index, columns=symbols).ffill().to_numpy()

    decisions = [_decision_rows(s, index, config.as_of_policy) for s in strategies]
    row_caches = [_RowCache(s.symbols) for s in strategies]
    # a session can start the run when every strategy decides and every symbol it targets has a bar
    priced = np.ones(len(index), dtype=bool)
    for s, (w, _v) in zip(strategies, decisions, strict=True):
        cols = [col[sym] for sym in s.symbols]
        if cols:
            wanted = w > 0
            priced &= ~np.any(wanted & ~has_bar[:, cols], axis=1)
    lo = 0 if config.start is None else int(index.searchsorted(pd.Timestamp(config.start)))
    hi = len(index) - 1 if config.end is None else int(index.searchsorted(pd.Timestamp(config.end), "right")) - 1
    if lo > hi:
        raise DataError(
            f"no sessions in the data between {config.start or 'the start'} and {config.end or 'the end'} "
            f"(data covers {index[0].date() if len(index) else '–'} to {index[-1].date() if len(index) else '–'})"
        )
    tradable = np.logical_and.reduce([v for _w, v in decisions]) & priced
    first = _first_session(tradable, lo, hi)
    if first is None:
        firsts = ", ".join(f"{s.name}: {s.first_valid() or 'never'}" for s in strategies)
        last_day = index[hi].date()
        why = "; ".join(f"{s.name} on {last_day}: {s.error_on(last_day)}" for s in strategies if s.errors)
        raise StrategyError(
            f"no session between {index[lo].date()} and {last_day} on which every strategy evaluates "
            f"(first valid evaluation — {firsts}; the {config.as_of_policy} policy decides on the next session)"
            + (f". {why}" if why else "")
        )
    end_note = ""
    if config.end is None:
        hi, end_note = _default_end(
            tradable,
            decisions=decisions,
            has_bar=has_bar,
            symbols=symbols,
            strategies=strategies,
            first=first,
            hi=hi,
            index=index,
        )

    assets_ok = {
        sym: AssetInfo(sym, fractionable=not _whole(config.whole_shares, sym), tradable=True) for sym in symbols
    }
    assets_halted = {
        sym: AssetInfo(sym, fractionable=info.fractionable, tradable=False) for sym, info in assets_ok.items()
    }
    risk = config.risk
    book = _Book(cash=config.initial_capital, high_water_mark=config.initial_capital)
    notes = _Notes()
    targets: list[dict[str, Decimal]] = [{} for _ in strategies]
    selections: list[frozenset[str] | None] = [None for _ in strategies]
    shares: dict[str, dict[str, float]] = {}
    sessions = hi - first + 1
    equity_out = np.empty(sessions)
    cash_out = np.empty(sessions)
    values_out = np.zeros((sessions, len(symbols)))
    targets_out = np.zeros((sessions, len(symbols)))
    strategy_out = [np.zeros((sessions, len(s.symbols))) for s in strategies]
    contrib_out = np.zeros((sessions, len(strategies) + 1))
    strat_pos = {s.name: k for k, s in enumerate(strategies)}
    strat_cols = [np.array([col[sym] for sym in s.symbols], dtype=np.int64) for s in strategies]
    trade_rows: list[tuple[object, ...]] = []
    dec_cache: dict[tuple[int, int], Decimal] = {}

    def mark(i: int, j: int) -> Decimal:
        key = (i, j)
        hit = dec_cache.get(key)
        if hit is None:
            hit = _to_decimal(marks[i, j])
            dec_cache[key] = hit
        return hit

    def decision_price(i: int, sym: str) -> Decimal:
        """The session's reference price: the close, or the decision-time mid when a reference source is given."""
        j = col[sym]
        if reference is None or not has_bar[i, j]:
            return mark(i, j)
        value = reference.price(index[i].date(), sym)
        if value is None or not math.isfinite(value) or value <= 0:
            return mark(i, j)
        return _to_decimal(round(value, 6))  # the bar data's precision

    prev_equity = float(config.initial_capital)
    for out_i, i in enumerate(range(first, hi + 1)):
        session = index[i].date()
        # 1. decide
        strategy_targets: list[StrategyTarget] = []
        for k, s in enumerate(strategies):
            w, v = decisions[k]
            unpriced = v[i] and bool(np.any((w[i] > 0) & ~np.isfinite(marks[i, strat_cols[k]])))
            if v[i] and not unpriced:
                targets[k] = row_caches[k].get(w[i])
                strategy_out[k][out_i] = w[i]
            else:
                notes.failed.setdefault(s.name, []).append(session)
                src_row = i - 1 if config.as_of_policy == "previous_close" else i
                src_date = index[src_row].date() if src_row >= 0 else session
                reason = "it targets a symbol with no price yet" if unpriced else s.error_on(src_date)
                notes.first_error.setdefault(s.name, f"{src_date}: {reason}")
                prev = strategy_out[k][out_i - 1] if out_i > 0 else np.zeros(len(s.symbols))
                strategy_out[k][out_i] = prev
            strategy_targets.append(
                StrategyTarget(
                    name=s.name,
                    capital_weight=s.capital_weight,
                    weights=targets[k],
                    rebalance_threshold=s.rebalance_threshold,
                    previous_selection=selections[k],
                )
            )
        # 2. plan at the session's reference prices
        involved = set(book.positions) | {sym for t in targets for sym in t}
        prices = {sym: decision_price(i, sym) for sym in involved}
        assets = {sym: assets_ok[sym] if has_bar[i, col[sym]] else assets_halted[sym] for sym in involved}
        for sym in involved:
            if not has_bar[i, col[sym]]:
                notes.untradable.setdefault(sym, []).append(session)
        equity_ref = book.cash + sum((q * prices[sym] for sym, q in book.positions.items()), ZERO)
        spent: dict[str, float] = {}
        if book.kill_switch:
            plan = None
        else:
            try:
                plan = plan_rebalance(
                    strategy_targets,
                    AccountState(equity=equity_ref, cash=book.cash, buying_power=book.cash),
                    book.positions,
                    prices,
                    assets,
                    params=config.planner,
                )
            except PlanError as exc:
                raise StrategyError(f"{session}: the rebalance planner refused the inputs: {exc}") from exc
        blocked: frozenset[str] = frozenset()
        allowed = plan is not None
        if plan is not None and risk is not None:
            verdict = check_plan(
                plan,
                RiskContext(
                    mode=TradingMode.BACKTEST,
                    market_open=True,
                    equity=equity_ref,
                    cash=book.cash,
                    buying_power=book.cash,
                    high_water_mark=book.high_water_mark,
                    kill_switch_latched=book.kill_switch,
                ),
                risk,
            )
            for rule_result in verdict.blocking:
                notes.blocked.setdefault(rule_result.rule.value, []).append(session)
            if verdict.latch_kill_switch:
                book.kill_switch = True
                notes.halted_on = session
                notes.halt_reason = verdict.kill_switch_reason
            allowed = verdict.allowed and not verdict.latch_kill_switch
            blocked = verdict.blocked_symbols
        # 3. fill: sells first, then buys
        if plan is not None and allowed:
            for line in plan.lines:
                if line.target_weight > 0 and line.contributions:
                    shares[line.symbol] = {
                        name: float(c / line.target_weight) for name, c in line.contributions.items()
                    }
            day = _Day()
            for line in plan.trades:
                if line.symbol in blocked:
                    continue
                side = line.side.to_order_side()
                qty = line.order_qty
                fill = fills.fill(line.symbol, side, qty, line.price)
                if side is OrderSide.BUY:
                    cost = qty * fill.price + fill.commission
                    if cost > book.cash:
                        qty = _affordable(
                            book.cash,
                            fill.price,
                            config=config,
                            fractionable=line.fractionable,
                            fills=fills,
                            symbol=line.symbol,
                        )
                        notes.cash_cut.append(session)
                        if qty <= 0:
                            continue
                        fill = fills.fill(line.symbol, side, qty, line.price)
                        cost = qty * fill.price + fill.commission
                if risk is not None:
                    order_verdict = check_order(
                        OrderCheck(line.symbol, side, qty, fill.price, line.price, is_flatten=False),
                        RiskContext(
                            mode=TradingMode.BACKTEST,
                            market_open=True,
                            equity=equity_ref,
                            cash=book.cash,
                            buying_power=book.cash,
                            high_water_mark=book.high_water_mark,
                            orders_today=day.orders,
                            notional_today=day.notional,
                            failed_sells=day.failed_sells,
                        ),
                        risk,
                    )
                    if not order_verdict.fully_allowed:
                        for rule_result in order_verdict.blocking:
                            notes.blocked_orders.setdefault(rule_result.rule.value, []).append(session)
                        if side is OrderSide.SELL:
                            day.failed_sells += 1
                        continue
                day.orders += 1
                day.notional += qty * fill.price
                if side is OrderSide.BUY:
                    book.cash -= cost
                    book.positions[line.symbol] = book.positions.get(line.symbol, ZERO) + qty
                    spent[line.symbol] = spent.get(line.symbol, 0.0) + float(cost)
                else:
                    proceeds = qty * fill.price - fill.commission
                    book.cash += proceeds
                    left = book.positions.get(line.symbol, ZERO) - qty
                    if left <= 0 or line.full_exit:
                        book.positions.pop(line.symbol, None)
                    else:
                        book.positions[line.symbol] = left
                    spent[line.symbol] = spent.get(line.symbol, 0.0) - float(proceeds)
                trade_rows.append(
                    (
                        index[i],
                        line.symbol,
                        side.value,
                        qty,
                        fill.price,
                        qty * fill.price,
                        fill.commission,
                        line.reason.value,
                    )
                )
            for k in range(len(strategies)):
                selections[k] = frozenset(targets[k])
        if plan is not None:
            for line in plan.lines:
                targets_out[out_i, col[line.symbol]] = float(line.target_weight)
        elif out_i > 0:
            targets_out[out_i] = targets_out[out_i - 1]
        # 4. mark to market at the close
        position_value = ZERO
        for sym, qty in book.positions.items():
            value = qty * mark(i, col[sym])
            position_value += value
            values_out[out_i, col[sym]] = float(value)
        equity = book.cash + position_value
        equity_f = float(equity)
        book.high_water_mark = max(book.high_water_mark, equity)
        equity_out[out_i] = equity_f
        cash_out[out_i] = float(book.cash)
        # 5. attribute the session's P&L to strategies by their share of each symbol
        if prev_equity > 0:
            held_before = {symbols[j] for j in np.nonzero(values_out[out_i - 1])[0]} if out_i > 0 else set()
            for sym in set(spent) | set(book.positions) | held_before:
                j = col[sym]
                start_value = values_out[out_i - 1, j] if out_i > 0 else 0.0
                pnl = values_out[out_i, j] - start_value - spent.get(sym, 0.0)
                owners = shares.get(sym)
                if not owners:
                    contrib_out[out_i, -1] += pnl / prev_equity
                    continue
                for name, share in owners.items():
                    contrib_out[out_i, strat_pos[name]] += share * pnl / prev_equity
        prev_equity = equity_f
        if progress is not None and (out_i % PROGRESS_EVERY == 0 or i == hi):
            progress(out_i + 1, sessions)

    out_index = index[first : hi + 1]
    contributions = pd.DataFrame(contrib_out[:, :-1], index=out_index, columns=names)
    if np.any(np.abs(contrib_out[:, -1]) > 0):
        contributions["unattributed"] = contrib_out[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        weights_arr = np.where(equity_out[:, None] > 0, values_out / equity_out[:, None], 0.0)
    weights_df = pd.DataFrame(weights_arr, index=out_index, columns=symbols)
    weights_df = weights_df.loc[:, (weights_df != 0).any(axis=0)]
    targets_df = pd.DataFrame(targets_out, index=out_index, columns=symbols)
    targets_df = targets_df.loc[:, (targets_df != 0).any(axis=0)]
    strategy_frames = {
        s.name: pd.DataFrame(strategy_out[k], index=out_index, columns=list(s.symbols))
        for k, s in enumerate(strategies)
    }
    trades = pd.DataFrame(trade_rows, columns=list(TRADE_COLUMNS))
    benchmark, bench_symbol, bench_note = _benchmark(closes, config, out_index)
    result = BacktestResult(
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
                failed_sessions=len(notes.failed.get(s.name, [])),
            )
            for s in strategies
        ],
        requested_start=config.start,
        requested_end=config.end,
        equity=pd.Series(equity_out, index=out_index, name="equity"),
        cash=pd.Series(cash_out, index=out_index, name="cash"),
        weights=weights_df,
        targets=targets_df,
        strategy_targets=strategy_frames,
        trades=trades,
        contributions=contributions,
        benchmark=benchmark,
        benchmark_symbol=bench_symbol,
        notes=_render_notes(
            notes,
            strategies=strategies,
            config=config,
            start=index[first].date(),
            bench_note=bench_note,
            end_note=end_note,
        ),
    )
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _whole(setting: frozenset[str] | bool, symbol: str) -> bool:
    return setting if isinstance(setting, bool) else symbol in setting


def _affordable(
    cash: Decimal, price: Decimal, *, config: EngineConfig, fractionable: bool, fills: FillModel, symbol: str
) -> Decimal:
    """The largest quantity whose cost (price x qty + commission) fits in ``cash``."""
    per_order = fills.fill(symbol, OrderSide.BUY, ZERO, price).commission
    per_share = config.costs.commission_per_share
    room = cash - per_order
    if room <= 0:
        return ZERO
    quantum = config.planner.fraction_quantum if fractionable else Decimal(1)
    qty = (room / (price + per_share)).quantize(quantum, rounding=ROUND_DOWN)
    while qty > 0 and qty * price + per_order + per_share * qty > cash:
        qty -= quantum
    return max(qty, ZERO)


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


def _dates(days: list[date], limit: int = 3) -> str:
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return shown + (", …" if len(days) > limit else "")


def _render_notes(
    notes: _Notes,
    *,
    strategies: Sequence[StrategySignals],
    config: EngineConfig,
    start: date,
    bench_note: str,
    end_note: str,
) -> list[str]:
    lines: list[str] = []
    firsts = "; ".join(f"{s.name} evaluates from {s.first_valid() or 'never'}" for s in strategies)
    timing = "the evaluation of the session before it" if config.as_of_policy == "previous_close" else "its own close"
    if config.start is not None and start > config.start:
        lines.append(
            f"Start moved from {config.start.isoformat()} to {start.isoformat()}: the first session on which every "
            f"strategy can evaluate ({firsts}; under the {config.as_of_policy} policy a session's decision uses "
            f"{timing})."
        )
    elif config.start is None:
        lines.append(
            f"Start {start.isoformat()}: the first session on which every strategy can evaluate ({firsts}; under "
            f"the {config.as_of_policy} policy a session's decision uses {timing})."
        )
    if end_note:
        lines.append(end_note)
    for name, days in notes.failed.items():
        lines.append(
            f"{name} failed to evaluate on {len(days)} session(s) ({_dates(days)}); it kept its previous target "
            f"on those sessions (fail closed). First error: {notes.first_error.get(name, '')}"
        )
    for rule, days in notes.blocked.items():
        lines.append(f"Risk rule {rule} blocked trading on {len(days)} session(s) ({_dates(days)}).")
    for rule, days in notes.blocked_orders.items():
        lines.append(f"Risk rule {rule} blocked {len(days)} order(s) ({_dates(days)}).")
    if notes.halted_on is not None:
        lines.append(
            f"The kill switch latched on {notes.halted_on.isoformat()} ({notes.halt_reason}); no trades after it."
        )
    if notes.cash_cut:
        lines.append(
            f"Buys were cut to the available cash after costs on {len(notes.cash_cut)} occasion(s) "
            f"({_dates(notes.cash_cut)})."
        )
    for sym, days in notes.untradable.items():
        lines.append(
            f"{sym} had no bar on {len(days)} session(s) ({_dates(days)}): valued at its last close, not traded."
        )
    if bench_note:
        lines.append(bench_note)
    return lines
