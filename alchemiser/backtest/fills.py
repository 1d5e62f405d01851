"""The backtest's fill model: the simulated exchange's quote around a reference price, plus slippage and commission.

The simulated exchange quotes ``bid = round_down(mid - half_spread)`` and ``ask = round_up(mid + half_spread)``
(cents at or above $1, 1/100 cent below; ``alchemiser.sim.market``) and fills a marketable order at the touch:
buys at the ask, sells at the bid. The backtest uses the same rounding and touch, takes the session's reference
price as the mid, then applies ``slippage_bps`` against the trader and the commission (per order + per share).
With neither spread nor slippage the fill is at the reference exactly (no tick rounding): a frictionless run.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from alchemiser.backtest.result import Costs
from alchemiser.broker.enums import OrderSide
from alchemiser.sim.market import round_price_down, round_price_up

_BPS = Decimal(10_000)
_CENT = Decimal("0.01")
_TICK_SMALL = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Fill:
    """Price per share and the commission charged for the whole fill."""

    price: Decimal
    commission: Decimal


class FillModel(Protocol):
    def fill(self, symbol: str, side: OrderSide, qty: Decimal, reference: Decimal) -> Fill:
        """The fill of ``qty`` shares of ``symbol`` when the session's reference (mid) price is ``reference``."""
        ...


class QuoteFillModel:
    """Touch of the simulated exchange's quote (spread around the mid), then slippage, then commission."""

    def __init__(self, costs: Costs) -> None:
        for name in ("spread_bps", "slippage_bps", "commission_per_order", "commission_per_share"):
            if getattr(costs, name) < 0:
                raise ValueError(f"costs.{name} must be ≥ 0, got {getattr(costs, name)}")
        self.costs = costs
        self._half_spread = costs.spread_bps / _BPS / 2
        self._slippage = costs.slippage_bps / _BPS

    def quote(self, reference: Decimal) -> tuple[Decimal, Decimal]:
        """(bid, ask) around ``reference`` as the simulated exchange rounds them."""
        half = reference * self._half_spread
        bid = round_price_down(reference - half)
        ask = round_price_up(reference + half)
        if ask <= bid:
            ask = bid + (_CENT if bid >= 1 else _TICK_SMALL)
        return bid, ask

    def fill(self, symbol: str, side: OrderSide, qty: Decimal, reference: Decimal) -> Fill:
        del symbol  # one model for every symbol
        if self._half_spread == 0 and self._slippage == 0:
            price = reference
        else:
            bid, ask = self.quote(reference)
            if side is OrderSide.BUY:
                price = round_price_up(ask * (1 + self._slippage))
            else:
                price = max(round_price_down(bid * (1 - self._slippage)), _TICK_SMALL)
        commission = self.costs.commission_per_order + self.costs.commission_per_share * qty
        return Fill(price=price, commission=commission)
