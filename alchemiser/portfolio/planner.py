"""Rebalance planner (pure): strategies' target allocations + account state → a typed ``Plan``.

Rules, in the order they apply:

1. **Merge by capital weight.** Each strategy's weights (summing to ≤ 1) are scaled by its capital weight and
   added per symbol. Target value = merged weight × investable equity, where investable equity is
   ``equity × (1 − cash_buffer_pct)``: the cash buffer is never invested.
2. **When a strategy's book trades** (decided by the caller with ``alchemiser.dsl.rebalance``, dsl.md §4.1). A
   strategy that ``hold``s (between calendar rebalance days, inside its corridor, failed closed) drifts with the
   market: a symbol that only holding strategies hold is not traded (``held``). A strategy marked ``exact``
   (calendar rebalance day, corridor breach) or whose selected set changed is brought exactly to target (band 0).
   Otherwise the account-level **drift band** applies: a holding whose |current − target| account weight is within
   ``drift_band`` is not traded (``in_band``); a symbol entering or leaving the portfolio always trades.
3. **Rounding.** Order quantities round toward zero: whole shares for non-fractionable assets, 6 decimals
   otherwise. A full exit (target 0) sells the exact position, fractional remainder included.
4. **Minimum trade notional.** A non-exit trade below ``min_trade_notional`` is skipped.
5. **Sells before buys; buys fit the money.** Buys are priced at ``price × (1 + buy_price_margin_pct)`` and sells
   at ``price × (1 − sell_price_margin_pct)``; if total buys exceed ``min(cash, buying_power)`` + sell proceeds,
   every buy is scaled down by one factor (then re-rounded toward zero; those falling under the minimum drop out).

The same function serves the daemon and the backtester; inputs are plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from alchemiser.broker.enums import OrderSide

ZERO = Decimal(0)
ONE = Decimal(1)
FRACTION_QUANTUM = Decimal("0.000001")
WHOLE_QUANTUM = Decimal(1)
MONEY_QUANTUM = Decimal("0.01")


class PlanError(ValueError):
    """Planner input is inconsistent; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class StrategyTarget:
    """One strategy's wish: symbol → weight within the strategy (weights sum to ≤ 1)."""

    name: str
    capital_weight: Decimal
    weights: Mapping[str, Decimal]
    #: the symbols this strategy selected at its previous rebalance; None = unknown (treated as unchanged)
    previous_selection: frozenset[str] | None = None
    #: the book drifts: nothing of this strategy trades today (``weights`` are its current, drifted weights)
    hold: bool = False
    #: bring the book exactly to target today (no drift band): a calendar rebalance day or a corridor breach
    exact: bool = False

    @property
    def selection(self) -> frozenset[str]:
        return frozenset(s for s, w in self.weights.items() if w > 0)

    @property
    def selection_changed(self) -> bool:
        return self.previous_selection is not None and self.previous_selection != self.selection


@dataclass(frozen=True, slots=True)
class AssetInfo:
    symbol: str
    fractionable: bool = True
    tradable: bool = True


@dataclass(frozen=True, slots=True)
class AccountState:
    equity: Decimal
    cash: Decimal
    buying_power: Decimal


@dataclass(frozen=True, slots=True)
class PlannerParams:
    min_trade_notional: Decimal = Decimal("1.00")
    cash_buffer_pct: Decimal = Decimal("0.01")
    buy_price_margin_pct: Decimal = Decimal("0.005")
    sell_price_margin_pct: Decimal = Decimal("0.005")
    fraction_quantum: Decimal = FRACTION_QUANTUM
    #: account-weight band inside which a holding of a daily strategy whose selection did not change is not traded
    drift_band: Decimal = ZERO

    def __post_init__(self) -> None:
        names = ("min_trade_notional", "cash_buffer_pct", "buy_price_margin_pct", "sell_price_margin_pct", "drift_band")
        for name in names:
            value = getattr(self, name)
            if value < 0:
                raise PlanError(f"planner parameter {name} must be ≥ 0, got {value}")
        if self.cash_buffer_pct >= 1:
            raise PlanError(f"planner parameter cash_buffer_pct must be < 1, got {self.cash_buffer_pct}")


class LineReason(StrEnum):
    ENTER = "enter"  # symbol newly selected
    EXIT = "exit"  # symbol no longer selected: sell the exact position
    REBALANCE = "rebalance"  # drifted outside its band
    IN_BAND = "in_band"  # inside the drift band: not traded
    HELD = "held"  # every strategy holding it lets its book drift today (no rebalance day, inside its corridor)
    BELOW_MIN = "below_min_notional"  # trade smaller than the minimum
    ROUNDED_AWAY = "rounded_to_zero"  # whole-share rounding left nothing to trade
    SCALED = "scaled_to_buying_power"  # buy reduced to fit cash + sells
    NOT_TRADABLE = "not_tradable"
    ON_TARGET = "on_target"


class LineSide(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"

    def to_order_side(self) -> OrderSide:
        if self is LineSide.HOLD:
            raise PlanError("a hold line has no order side")
        return OrderSide(self.value)


@dataclass(frozen=True, slots=True)
class PlanLine:
    symbol: str
    price: Decimal
    current_qty: Decimal
    current_value: Decimal
    target_weight: Decimal
    target_value: Decimal
    target_qty: Decimal
    delta_qty: Decimal  # signed: > 0 buy, < 0 sell
    delta_notional: Decimal  # signed, at ``price``
    side: LineSide
    reason: LineReason
    fractionable: bool
    full_exit: bool
    band: Decimal
    #: strategy name → this strategy's share of the symbol's target weight (sums to target_weight)
    contributions: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def order_qty(self) -> Decimal:
        return abs(self.delta_qty)

    @property
    def is_trade(self) -> bool:
        return self.side is not LineSide.HOLD


@dataclass(frozen=True, slots=True)
class PlanTotals:
    equity: Decimal
    sell_notional: Decimal
    buy_notional: Decimal
    turnover: Decimal  # (buys + sells) / equity
    cash_before: Decimal
    cash_residual: Decimal  # estimated cash after all trades, at the margins
    buy_scale: Decimal  # 1 = no scaling


@dataclass(frozen=True, slots=True)
class Plan:
    lines: tuple[PlanLine, ...]
    totals: PlanTotals
    strategies: tuple[str, ...]

    @property
    def sells(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.side is LineSide.SELL)

    @property
    def buys(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.side is LineSide.BUY)

    @property
    def trades(self) -> tuple[PlanLine, ...]:
        """Sells first, then buys (each in symbol order)."""
        return self.sells + self.buys

    def line(self, symbol: str) -> PlanLine:
        for candidate in self.lines:
            if candidate.symbol == symbol:
                return candidate
        raise KeyError(symbol)


def merge_targets(strategies: Sequence[StrategyTarget]) -> tuple[dict[str, Decimal], dict[str, dict[str, Decimal]]]:
    """Merged account weights per symbol and each strategy's contribution to them."""
    if not strategies:
        raise PlanError("no strategies to plan for")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise PlanError(f"duplicate strategy names: {sorted(names)}")
    total_capital = sum((s.capital_weight for s in strategies), ZERO)
    merged: dict[str, Decimal] = {}
    contributions: dict[str, dict[str, Decimal]] = {}
    for strategy in strategies:
        if strategy.capital_weight < 0:
            raise PlanError(f"strategy {strategy.name!r}: capital weight {strategy.capital_weight} is negative")
        weight_sum = sum(strategy.weights.values(), ZERO)
        if any(w < 0 for w in strategy.weights.values()):
            raise PlanError(f"strategy {strategy.name!r}: negative weight in {dict(strategy.weights)}")
        if weight_sum > ONE + Decimal("1e-9"):
            raise PlanError(f"strategy {strategy.name!r}: weights sum to {weight_sum} > 1")
        for symbol, weight in strategy.weights.items():
            if weight == 0:
                continue
            share = strategy.capital_weight * weight
            merged[symbol] = merged.get(symbol, ZERO) + share
            contributions.setdefault(symbol, {})[strategy.name] = share
    if total_capital > ONE + Decimal("1e-9"):
        raise PlanError(f"capital weights sum to {total_capital} > 1")
    return merged, contributions


def _involved(symbol: str, strategy: StrategyTarget) -> bool:
    return strategy.weights.get(symbol, ZERO) > 0 or symbol in (strategy.previous_selection or frozenset())


def _held(symbol: str, strategies: Sequence[StrategyTarget]) -> bool:
    """True when every strategy that holds (or held) ``symbol`` lets its book drift today."""
    involved = [s for s in strategies if _involved(symbol, s)]
    return bool(involved) and all(s.hold for s in involved)


def _band(symbol: str, strategies: Sequence[StrategyTarget], drift_band: Decimal) -> Decimal:
    for strategy in strategies:
        if _involved(symbol, strategy) and not strategy.hold and (strategy.exact or strategy.selection_changed):
            return ZERO
    return drift_band


def _round_toward_zero(qty: Decimal, fractionable: bool, fraction_quantum: Decimal) -> Decimal:
    quantum = fraction_quantum if fractionable else WHOLE_QUANTUM
    return qty.quantize(quantum, rounding=ROUND_DOWN)


def plan_rebalance(
    strategies: Sequence[StrategyTarget],
    account: AccountState,
    positions: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    assets: Mapping[str, AssetInfo],
    *,
    params: PlannerParams | None = None,
) -> Plan:
    """Build the plan. ``positions`` maps symbol → held qty (long only); ``prices`` are reference prices."""
    params = params or PlannerParams()
    if account.equity <= 0:
        raise PlanError(f"account equity must be > 0, got {account.equity}")
    merged, contributions = merge_targets(strategies)
    for symbol, qty in positions.items():
        if qty < 0:
            raise PlanError(f"position {symbol} is short ({qty}); the planner handles long-only accounts")
    symbols = sorted(set(merged) | {s for s, q in positions.items() if q != 0})
    missing_prices = [s for s in symbols if s not in prices]
    if missing_prices:
        raise PlanError(f"no price for {', '.join(missing_prices)}")
    bad_prices = [f"{s}={prices[s]}" for s in symbols if prices[s] <= 0]
    if bad_prices:
        raise PlanError(f"prices must be > 0: {', '.join(bad_prices)}")
    missing_assets = [s for s in symbols if s not in assets]
    if missing_assets:
        raise PlanError(f"no asset info for {', '.join(missing_assets)}")

    investable = account.equity * (ONE - params.cash_buffer_pct)
    lines: list[PlanLine] = []
    for symbol in symbols:
        price = prices[symbol]
        info = assets[symbol]
        current_qty = positions.get(symbol, ZERO)
        current_value = current_qty * price
        target_weight = merged.get(symbol, ZERO)
        target_value = target_weight * investable
        target_qty = target_value / price
        band = _band(symbol, strategies, params.drift_band)
        current_weight = current_value / account.equity
        full_exit = target_weight == 0 and current_qty > 0
        raw_delta = -current_qty if full_exit else target_qty - current_qty
        reason: LineReason
        delta = ZERO
        if not info.tradable:
            reason = LineReason.NOT_TRADABLE
        elif _held(symbol, strategies):
            reason = LineReason.HELD
        elif full_exit:
            reason, delta = LineReason.EXIT, raw_delta
        elif current_qty == 0 and target_qty > 0:
            reason = LineReason.ENTER
            delta = _round_toward_zero(raw_delta, info.fractionable, params.fraction_quantum)
        elif abs(current_weight - target_value / account.equity) <= band and band > 0:  # both net of the buffer
            reason = LineReason.IN_BAND
        else:
            reason = LineReason.REBALANCE
            delta = _round_toward_zero(raw_delta, info.fractionable, params.fraction_quantum)
        if reason in (LineReason.ENTER, LineReason.REBALANCE):
            if delta == 0:
                reason = LineReason.ROUNDED_AWAY if raw_delta != 0 else LineReason.ON_TARGET
            elif abs(delta) * price < params.min_trade_notional:
                reason, delta = LineReason.BELOW_MIN, ZERO
        lines.append(
            PlanLine(
                symbol=symbol,
                price=price,
                current_qty=current_qty,
                current_value=current_value,
                target_weight=target_weight,
                target_value=target_value,
                target_qty=target_qty,
                delta_qty=delta,
                delta_notional=delta * price,
                side=LineSide.BUY if delta > 0 else LineSide.SELL if delta < 0 else LineSide.HOLD,
                reason=reason,
                fractionable=info.fractionable,
                full_exit=reason is LineReason.EXIT,
                band=band,
                contributions=dict(contributions.get(symbol, {})),
            )
        )

    sell_margin = ONE - params.sell_price_margin_pct
    buy_margin = ONE + params.buy_price_margin_pct
    sell_proceeds = sum((-ln.delta_qty * ln.price * sell_margin for ln in lines if ln.delta_qty < 0), ZERO)
    buy_cost = sum((ln.delta_qty * ln.price * buy_margin for ln in lines if ln.delta_qty > 0), ZERO)
    spendable = max(ZERO, min(account.cash, account.buying_power)) + sell_proceeds
    scale = ONE
    if buy_cost > spendable:
        scale = spendable / buy_cost if buy_cost > 0 else ZERO
        lines = [_scale_buy(ln, scale, params) if ln.delta_qty > 0 else ln for ln in lines]
        buy_cost = sum((ln.delta_qty * ln.price * buy_margin for ln in lines if ln.delta_qty > 0), ZERO)

    sell_notional = sum((-ln.delta_notional for ln in lines if ln.delta_qty < 0), ZERO)
    buy_notional = sum((ln.delta_notional for ln in lines if ln.delta_qty > 0), ZERO)
    totals = PlanTotals(
        equity=account.equity,
        sell_notional=sell_notional,
        buy_notional=buy_notional,
        turnover=(sell_notional + buy_notional) / account.equity,
        cash_before=account.cash,
        cash_residual=account.cash + sell_proceeds - buy_cost,
        buy_scale=scale,
    )
    return Plan(lines=tuple(lines), totals=totals, strategies=tuple(s.name for s in strategies))


def _scale_buy(line: PlanLine, scale: Decimal, params: PlannerParams) -> PlanLine:
    qty = _round_toward_zero(line.delta_qty * scale, line.fractionable, params.fraction_quantum)
    reason = LineReason.SCALED
    if qty <= 0 or qty * line.price < params.min_trade_notional:
        qty, reason = ZERO, LineReason.BELOW_MIN
    return PlanLine(
        symbol=line.symbol,
        price=line.price,
        current_qty=line.current_qty,
        current_value=line.current_value,
        target_weight=line.target_weight,
        target_value=line.target_value,
        target_qty=line.target_qty,
        delta_qty=qty,
        delta_notional=qty * line.price,
        side=LineSide.BUY if qty > 0 else LineSide.HOLD,
        reason=reason,
        fractionable=line.fractionable,
        full_exit=False,
        band=line.band,
        contributions=line.contributions,
    )
