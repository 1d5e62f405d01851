"""The settings of one backtest run (``EngineConfig``) and the risk rules a backtest applies by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from alchemiser.backtest.result import Costs
from alchemiser.backtest.timeline import AS_OF_POLICIES, AsOfPolicy
from alchemiser.portfolio import PlannerParams, RiskParams
from alchemiser.sim.corporate_events import CorporateEvent

__all__ = ["PRICE_MODES", "EngineConfig", "PriceMode", "backtest_risk_params"]

#: ``events``: fills on unadjusted prices with splits and dividends as events when the data allows (the default: an
#: account's share counts and cash); ``adjusted``: fills on adjusted prices, dividends reinvested (Composer's view)
PriceMode = Literal["events", "adjusted"]
PRICE_MODES: tuple[str, ...] = ("events", "adjusted")


def backtest_risk_params() -> RiskParams:
    """The risk rules a backtest applies by default: the daemon's per-plan shape limits (position weight,
    turnover, buying power, collar) without the absolute-money caps and the drawdown halt, which are account-size
    and operator policies rather than properties of a strategy. Pass the configured ``RiskParams`` to apply them.
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
    #: a strategy failing closed on more than this share of sessions puts a WARNING at the top of the report
    fail_closed_warn_share: float = 0.05
    #: how ``run_files`` prices fills (``PriceMode``) and the splits/dividends it adds to those the data shows
    prices: PriceMode = "events"
    corporate_events: tuple[CorporateEvent, ...] = ()
    corporate_events_source: str = ""

    def __post_init__(self) -> None:
        if self.initial_capital <= 0:
            raise ValueError(f"initial capital must be > 0, got {self.initial_capital}")
        if self.as_of_policy not in AS_OF_POLICIES:
            raise ValueError(f"as-of policy must be one of {', '.join(AS_OF_POLICIES)}, got {self.as_of_policy!r}")
        if self.prices not in PRICE_MODES:
            raise ValueError(f"prices must be one of {', '.join(PRICE_MODES)}, got {self.prices!r}")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    def fractionable(self, symbol: str) -> bool:
        return not (self.whole_shares if isinstance(self.whole_shares, bool) else symbol in self.whole_shares)
