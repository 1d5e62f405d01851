"""The simulated exchange's behaviour knobs (one frozen value, checked when built)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from alchemiser.sim.fees import FeeSchedule


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """Behaviour knobs of the simulated exchange (defaults follow Alpaca paper trading)."""

    initial_cash: Decimal = Decimal(100_000)
    slippage_bps: Decimal = Decimal(1)
    partial_fill_rate: float = 0.10
    partial_fill_delay: float = 2.0  # seconds between a partial fill and the next fill attempt
    ack_delay: float = 0.0  # seconds from pending_new to new
    cancel_delay: float = 0.0  # seconds from pending_cancel to canceled
    # Alpaca queues day orders submitted while the market is closed and routes them at the next open.
    closed_market: Literal["reject", "queue"] = "queue"
    # Share of accepted orders rejected when they are routed (Alpaca's venue / risk checks after the POST said yes):
    # the order goes pending_new → rejected on the stream, with failed_at set and its holds released. Off by default.
    reject_after_accept_rate: float = 0.0
    margin_multiplier: Decimal = Decimal(1)
    seed: int = 0
    account_number: str = "SIM000001"
    # regulatory fees on sells (REG, TAF) posted as FEE activities; none by default, as on Alpaca paper
    fees: FeeSchedule = field(default_factory=FeeSchedule)

    def __post_init__(self) -> None:
        if not 0.0 <= self.partial_fill_rate <= 1.0:
            raise ValueError(f"partial_fill_rate must be within [0, 1], got {self.partial_fill_rate}")
        if not 0.0 <= self.reject_after_accept_rate <= 1.0:
            raise ValueError(f"reject_after_accept_rate must be within [0, 1], got {self.reject_after_accept_rate}")
        if self.initial_cash < 0:
            raise ValueError("initial_cash must be ≥ 0")
        if self.slippage_bps < 0:
            raise ValueError("slippage_bps must be ≥ 0")
        if self.margin_multiplier < 1:
            raise ValueError("margin_multiplier must be ≥ 1")
        if min(self.partial_fill_delay, self.ack_delay, self.cancel_delay) < 0:
            raise ValueError("delays must be ≥ 0")
