"""Execution parameters (plain values, usable without a Settings object) and the one mapping from Settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from alchemiser.portfolio.planner import PlannerParams
from alchemiser.portfolio.risk import KillSwitchAction, RiskParams


@dataclass(frozen=True, slots=True)
class ExecutionParams:
    ladder_steps: tuple[float, ...] = (0.5, 0.75, 0.95)
    step_wait_seconds: float = 15.0
    market_fallback: bool = True
    max_concurrent_orders: int = 4
    ack_sla_seconds: float = 10.0
    approval_mode: bool = False
    approval_timeout_seconds: float = 300.0
    #: a run found unfinished after a restart is closed instead of continued this close to the session end
    resume_cutoff_minutes: float = 5.0
    #: how many times a send whose outcome stayed unknown is looked up before the order is declared unresolved
    lookup_attempts: int = 5
    #: how many times an order the broker provably never received (lookup 404) is sent again, same id, with backoff
    send_attempts: int = 6
    #: Alpaca's minimum for fractional orders
    min_order_notional: Decimal = Decimal("1")

    def __post_init__(self) -> None:
        if not self.ladder_steps:
            raise ValueError("execution.ladder_steps must hold at least one step")
        if len(self.ladder_steps) > 9:
            raise ValueError("execution.ladder_steps holds at most 9 steps")
        for step in self.ladder_steps:
            if not 0 <= step <= 1:
                raise ValueError(f"execution.ladder_steps: {step} is not a fraction of the spread in [0, 1]")
        if self.max_concurrent_orders < 1:
            raise ValueError("execution.max_concurrent_orders must be ≥ 1")
        if self.step_wait_seconds <= 0 or self.ack_sla_seconds <= 0:
            raise ValueError("execution.step_wait_seconds and ack_sla_seconds must be > 0")


class RiskSettingsLike(Protocol):
    """The ``risk`` settings as read here (read-only members: frozen pydantic settings satisfy it as they are)."""

    @property
    def market_hours_enforced(self) -> bool: ...

    @property
    def max_position_weight(self) -> float: ...

    @property
    def drift_band(self) -> float: ...

    @property
    def max_order_notional(self) -> Decimal: ...

    @property
    def max_turnover(self) -> float: ...

    @property
    def max_daily_orders(self) -> int: ...

    @property
    def max_daily_notional(self) -> Decimal: ...

    @property
    def limit_collar_pct(self) -> float: ...

    @property
    def drawdown_halt_pct(self) -> float: ...

    @property
    def max_failed_sells_before_blocking_buys(self) -> int: ...

    @property
    def cash_buffer_pct(self) -> float: ...

    @property
    def min_trade_notional(self) -> Decimal: ...

    @property
    def pdt_guard(self) -> bool: ...

    @property
    def pdt_min_equity(self) -> Decimal: ...

    @property
    def kill_switch_action(self) -> str: ...


class ExecutionSettingsLike(Protocol):
    """The ``execution`` settings as read here (read-only members)."""

    @property
    def ladder_steps(self) -> Sequence[float]: ...

    @property
    def step_wait_seconds(self) -> float: ...

    @property
    def market_fallback(self) -> bool: ...

    @property
    def max_concurrent_orders(self) -> int: ...

    @property
    def ack_sla_seconds(self) -> float: ...

    @property
    def approval_mode(self) -> bool: ...

    @property
    def approval_timeout_seconds(self) -> float: ...


def _dec(value: float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def risk_params_from(settings: RiskSettingsLike) -> RiskParams:
    """``risk`` settings → ``RiskParams``. ``drawdown_halt_pct`` is a percentage in settings, a fraction here."""
    return RiskParams(
        market_hours_enforced=settings.market_hours_enforced,
        max_position_weight=_dec(settings.max_position_weight),
        max_order_notional=_dec(settings.max_order_notional),
        max_turnover=_dec(settings.max_turnover),
        max_daily_orders=settings.max_daily_orders,
        max_daily_notional=_dec(settings.max_daily_notional),
        limit_collar_pct=_dec(settings.limit_collar_pct),
        drawdown_halt_pct=_dec(settings.drawdown_halt_pct) / 100,
        max_failed_sells_before_blocking_buys=settings.max_failed_sells_before_blocking_buys,
        pdt_guard=settings.pdt_guard,
        pdt_min_equity=_dec(settings.pdt_min_equity),
        kill_switch_action=KillSwitchAction(settings.kill_switch_action),
    )


def planner_params_from(settings: RiskSettingsLike) -> PlannerParams:
    return PlannerParams(
        min_trade_notional=_dec(settings.min_trade_notional),
        cash_buffer_pct=_dec(settings.cash_buffer_pct),
        drift_band=_dec(settings.drift_band),
    )


def execution_params_from(settings: ExecutionSettingsLike) -> ExecutionParams:
    return ExecutionParams(
        ladder_steps=tuple(float(s) for s in settings.ladder_steps),
        step_wait_seconds=settings.step_wait_seconds,
        market_fallback=settings.market_fallback,
        max_concurrent_orders=settings.max_concurrent_orders,
        ack_sla_seconds=settings.ack_sla_seconds,
        approval_mode=settings.approval_mode,
        approval_timeout_seconds=settings.approval_timeout_seconds,
    )
