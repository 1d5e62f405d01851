"""Risk engine (pure): every pre-trade rule in one place, each configurable and named when it blocks.

Two entry points, both returning a ``RiskVerdict`` (never raising for a blocked trade):

* ``check_plan(plan, context, params)`` — before a rebalance starts. Plan-wide rules (market hours, kill switch,
  drawdown, turnover, daily caps, buying power, max position weight) block the whole plan; per-line rules
  (max order notional, PDT) block only their symbol.
* ``check_order(order, context, params)`` — immediately before each order is sent (every ladder step and the market
  fallback): market hours, kill switch, collar, daily caps, failed-sells-block-buys, buying power.

Rule names (``RuleName``) appear in verdicts, ``RiskError.rule``, logs, metrics and the audit journal.
``live`` mode enforces market hours whatever ``market_hours_enforced`` says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from alchemiser.broker.enums import OrderSide
from alchemiser.errors import RiskError
from alchemiser.portfolio.planner import Plan

ZERO = Decimal(0)
ONE = Decimal(1)


class TradingMode(StrEnum):
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"
    BACKTEST = "backtest"


class KillSwitchAction(StrEnum):
    """What happens when the kill switch latches."""

    FREEZE = "freeze"  # place no new orders; leave open orders alone
    CANCEL = "cancel"  # also cancel every open order
    FLATTEN = "flatten"  # cancel open orders, then sell every position (market hours still apply)


class RuleName(StrEnum):
    MARKET_HOURS = "market_hours"
    KILL_SWITCH = "kill_switch"
    DRAWDOWN_GUARD = "drawdown_guard"
    MAX_POSITION_WEIGHT = "max_position_weight"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_TURNOVER = "max_turnover"
    MAX_DAILY_ORDERS = "max_daily_orders"
    MAX_DAILY_NOTIONAL = "max_daily_notional"
    LIMIT_COLLAR = "limit_collar"
    FAILED_SELLS_BLOCK_BUYS = "failed_sells_block_buys"
    BUYING_POWER = "buying_power"
    PDT_GUARD = "pdt_guard"


@dataclass(frozen=True, slots=True)
class RiskParams:
    """Every limit, all on by default. ``None`` switches a cap off."""

    market_hours_enforced: bool = True
    max_position_weight: Decimal | None = Decimal("1.0")
    max_order_notional: Decimal | None = Decimal("250000")
    max_turnover: Decimal | None = Decimal("2.5")
    max_daily_orders: int | None = 400
    max_daily_notional: Decimal | None = Decimal("1000000")
    limit_collar_pct: Decimal = Decimal("0.03")
    drawdown_halt_pct: Decimal | None = Decimal("0.30")
    max_failed_sells_before_blocking_buys: int = 0
    pdt_guard: bool = True
    pdt_min_equity: Decimal = Decimal("25000")
    kill_switch_action: KillSwitchAction = KillSwitchAction.FREEZE

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kill_switch_action", KillSwitchAction(self.kill_switch_action))
        except ValueError as exc:
            choices = ", ".join(a.value for a in KillSwitchAction)
            raise ValueError(
                f"risk.kill_switch_action must be one of {choices}, got {self.kill_switch_action!r}"
            ) from exc
        if self.limit_collar_pct <= 0:
            raise ValueError(f"risk.limit_collar_pct must be > 0, got {self.limit_collar_pct}")
        if self.drawdown_halt_pct is not None and not ZERO < self.drawdown_halt_pct < ONE:
            raise ValueError(f"risk.drawdown_halt_pct must be in (0, 1), got {self.drawdown_halt_pct}")
        if self.max_failed_sells_before_blocking_buys < 0:
            raise ValueError("risk.max_failed_sells_before_blocking_buys must be ≥ 0")


@dataclass(frozen=True, slots=True)
class RiskContext:
    """The state the rules look at, gathered by the caller (execution actor or backtester)."""

    mode: TradingMode
    market_open: bool
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    high_water_mark: Decimal = ZERO
    kill_switch_latched: bool = False
    orders_today: int = 0
    notional_today: Decimal = ZERO
    failed_sells: int = 0
    bought_today: frozenset[str] = frozenset()
    sold_today: frozenset[str] = frozenset()
    #: proceeds of sells already filled in this run, available to buys
    realized_sell_proceeds: Decimal = ZERO
    #: notional of buys already sent in this run (counted against buying power)
    committed_buy_notional: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: RuleName
    passed: bool
    message: str
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    results: tuple[RuleResult, ...]
    latch_kill_switch: bool = False
    kill_switch_reason: str = ""
    blocked_symbols: frozenset[str] = field(default_factory=frozenset)

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def allowed(self) -> bool:
        """True when no plan-wide rule blocked (per-symbol blocks are in ``blocked_symbols``)."""
        return not any(not r.passed and r.symbol is None for r in self.results)

    @property
    def fully_allowed(self) -> bool:
        return not self.blocking

    def raise_if_blocked(self) -> None:
        for result in self.blocking:
            raise RiskError(result.rule.value, result.message, symbol=result.symbol)

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "latch_kill_switch": self.latch_kill_switch,
            "blocked_symbols": sorted(self.blocked_symbols),
            "results": [
                {"rule": r.rule.value, "passed": r.passed, "message": r.message, "symbol": r.symbol}
                for r in self.results
            ],
        }


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """One order about to be sent. ``price`` is the limit price, or the expected fill price of a market order
    (ask for a buy, bid for a sell); ``reference_price`` is the decision-time quote the collar is centred on."""

    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    reference_price: Decimal
    is_flatten: bool = False


def update_high_water_mark(high_water_mark: Decimal, equity: Decimal) -> Decimal:
    return max(high_water_mark, equity)


def _verdict(results: Iterable[RuleResult], latch_reason: str = "") -> RiskVerdict:
    materialised = tuple(results)
    return RiskVerdict(
        results=materialised,
        latch_kill_switch=bool(latch_reason),
        kill_switch_reason=latch_reason,
        blocked_symbols=frozenset(r.symbol for r in materialised if not r.passed and r.symbol is not None),
    )


def _market_hours(context: RiskContext, params: RiskParams) -> RuleResult:
    enforced = params.market_hours_enforced or context.mode is TradingMode.LIVE
    if enforced and not context.market_open:
        return RuleResult(RuleName.MARKET_HOURS, False, f"market is closed ({context.mode.value} mode)")
    return RuleResult(RuleName.MARKET_HOURS, True, "market open" if context.market_open else "not enforced")


def _kill_switch(context: RiskContext, *, flatten: bool = False) -> RuleResult:
    if context.kill_switch_latched and not flatten:
        return RuleResult(RuleName.KILL_SWITCH, False, "kill switch is latched; an operator must reset it")
    return RuleResult(RuleName.KILL_SWITCH, True, "off" if not context.kill_switch_latched else "flatten order")


def _drawdown(context: RiskContext, params: RiskParams) -> tuple[RuleResult, str]:
    if params.drawdown_halt_pct is None or context.high_water_mark <= 0:
        return RuleResult(RuleName.DRAWDOWN_GUARD, True, "no high-water mark"), ""
    floor = context.high_water_mark * (ONE - params.drawdown_halt_pct)
    if context.equity < floor:
        drawdown = ONE - context.equity / context.high_water_mark
        message = (
            f"equity {context.equity} is {drawdown:.2%} below the high-water mark {context.high_water_mark} "
            f"(limit {params.drawdown_halt_pct:.2%}); kill switch latches"
        )
        return RuleResult(RuleName.DRAWDOWN_GUARD, False, message), message
    return RuleResult(RuleName.DRAWDOWN_GUARD, True, f"equity above floor {floor:.2f}"), ""


def check_plan(plan: Plan, context: RiskContext, params: RiskParams) -> RiskVerdict:
    results: list[RuleResult] = [_market_hours(context, params), _kill_switch(context)]
    drawdown, latch_reason = _drawdown(context, params)
    results.append(drawdown)

    trades = plan.trades
    if params.max_position_weight is not None:
        heavy = [ln for ln in plan.lines if ln.target_weight > params.max_position_weight]
        for line in heavy:
            results.append(
                RuleResult(
                    RuleName.MAX_POSITION_WEIGHT,
                    False,
                    f"{line.symbol} target weight {line.target_weight:.4f} > max {params.max_position_weight}",
                )
            )
        if not heavy:
            results.append(RuleResult(RuleName.MAX_POSITION_WEIGHT, True, "all targets within the cap"))
    if params.max_turnover is not None:
        passed = plan.totals.turnover <= params.max_turnover
        results.append(
            RuleResult(
                RuleName.MAX_TURNOVER,
                passed,
                f"turnover {plan.totals.turnover:.4f} {'≤' if passed else '>'} max {params.max_turnover}",
            )
        )
    if params.max_daily_orders is not None:
        planned = context.orders_today + len(trades)
        passed = planned <= params.max_daily_orders
        results.append(
            RuleResult(
                RuleName.MAX_DAILY_ORDERS,
                passed,
                f"{context.orders_today} orders today + {len(trades)} planned = {planned} "
                f"{'≤' if passed else '>'} max {params.max_daily_orders}",
            )
        )
    if params.max_daily_notional is not None:
        planned_notional = context.notional_today + plan.totals.buy_notional + plan.totals.sell_notional
        passed = planned_notional <= params.max_daily_notional
        results.append(
            RuleResult(
                RuleName.MAX_DAILY_NOTIONAL,
                passed,
                f"notional today + planned = {planned_notional:.2f} "
                f"{'≤' if passed else '>'} max {params.max_daily_notional}",
            )
        )
    spendable = max(ZERO, min(context.cash, context.buying_power)) + plan.totals.sell_notional
    passed = plan.totals.buy_notional <= spendable
    results.append(
        RuleResult(
            RuleName.BUYING_POWER,
            passed,
            f"buys {plan.totals.buy_notional:.2f} {'≤' if passed else '>'} cash/buying power + sells {spendable:.2f}",
        )
    )
    for line in trades:
        notional = abs(line.delta_notional)
        if params.max_order_notional is not None and notional > params.max_order_notional:
            results.append(
                RuleResult(
                    RuleName.MAX_ORDER_NOTIONAL,
                    False,
                    f"{line.symbol} {line.side.value} {notional:.2f} > max order notional {params.max_order_notional}",
                    symbol=line.symbol,
                )
            )
        pdt = _pdt(line.symbol, line.side.to_order_side(), context, params)
        if pdt is not None:
            results.append(pdt)
    return _verdict(results, latch_reason)


def _pdt(symbol: str, side: OrderSide, context: RiskContext, params: RiskParams) -> RuleResult | None:
    if not params.pdt_guard or context.equity >= params.pdt_min_equity:
        return None
    opposite_today = context.sold_today if side is OrderSide.BUY else context.bought_today
    if symbol in opposite_today:
        done = "sold" if side is OrderSide.BUY else "bought"
        return RuleResult(
            RuleName.PDT_GUARD,
            False,
            f"{side.value} {symbol} would complete a day trade ({done} today) with equity {context.equity} "
            f"< {params.pdt_min_equity}",
            symbol=symbol,
        )
    return None


def check_order(order: OrderCheck, context: RiskContext, params: RiskParams) -> RiskVerdict:
    results: list[RuleResult] = [_market_hours(context, params), _kill_switch(context, flatten=order.is_flatten)]
    notional = order.qty * order.price
    if order.reference_price > 0:
        deviation = abs(order.price - order.reference_price) / order.reference_price
        adverse = (
            order.price > order.reference_price if order.side is OrderSide.BUY else order.price < order.reference_price
        )
        passed = not adverse or deviation <= params.limit_collar_pct
        results.append(
            RuleResult(
                RuleName.LIMIT_COLLAR,
                passed,
                f"{order.side.value} {order.symbol} at {order.price} is {deviation:.2%} from the decision quote "
                f"{order.reference_price} (collar {params.limit_collar_pct:.2%})",
                symbol=order.symbol,
            )
        )
    if params.max_order_notional is not None and not order.is_flatten:
        passed = notional <= params.max_order_notional
        results.append(
            RuleResult(
                RuleName.MAX_ORDER_NOTIONAL,
                passed,
                f"{order.symbol} order {notional:.2f} {'≤' if passed else '>'} max {params.max_order_notional}",
                symbol=order.symbol,
            )
        )
    if params.max_daily_orders is not None:
        passed = context.orders_today + 1 <= params.max_daily_orders
        results.append(
            RuleResult(
                RuleName.MAX_DAILY_ORDERS,
                passed,
                f"order #{context.orders_today + 1} today (max {params.max_daily_orders})",
                symbol=order.symbol,
            )
        )
    if params.max_daily_notional is not None:
        passed = context.notional_today + notional <= params.max_daily_notional
        results.append(
            RuleResult(
                RuleName.MAX_DAILY_NOTIONAL,
                passed,
                f"notional today {context.notional_today + notional:.2f} (max {params.max_daily_notional})",
                symbol=order.symbol,
            )
        )
    if order.side is OrderSide.BUY:
        limit = params.max_failed_sells_before_blocking_buys
        passed = context.failed_sells <= limit
        results.append(
            RuleResult(
                RuleName.FAILED_SELLS_BLOCK_BUYS,
                passed,
                f"{context.failed_sells} failed sells (buys blocked above {limit})",
                symbol=order.symbol,
            )
        )
        available = max(ZERO, min(context.cash, context.buying_power)) - context.committed_buy_notional
        available += context.realized_sell_proceeds
        passed = notional <= available
        results.append(
            RuleResult(
                RuleName.BUYING_POWER,
                passed,
                f"buy {notional:.2f} {'≤' if passed else '>'} available {available:.2f}",
                symbol=order.symbol,
            )
        )
    pdt = _pdt(order.symbol, order.side, context, params)
    if pdt is not None:
        results.append(pdt)
    drawdown, latch_reason = _drawdown(context, params)
    results.append(drawdown)
    return _verdict(results, latch_reason)
