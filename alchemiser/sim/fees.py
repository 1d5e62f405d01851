"""Regulatory fees on sells, charged the way Alpaca charges a live account: the SEC's section 31 fee on the proceeds
(``REG``) and FINRA's trading activity fee per share sold, capped per trade (``TAF``), each rounded up to the cent,
taken from cash and posted as a ``FEE`` activity naming the order (``GET /v2/account/activities``).

Alpaca paper trading charges no regulatory fees (docs/alpaca-protocol.md), and the exchange's defaults follow paper:
the default schedule is empty. ``ALPACA_LIVE_2024`` is the live schedule of 2024 (SEC $27.80 per million of
proceeds, TAF $0.000166 a share up to $8.30 a trade) for a simulation that should look like a live account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from alchemiser.broker.activities import NonTradeActivity

ZERO = Decimal(0)
CENT = Decimal("0.01")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    sec_per_million: Decimal = ZERO  # $ per $1,000,000 of sell proceeds
    taf_per_share: Decimal = ZERO  # $ per share sold
    taf_max: Decimal = ZERO  # $ cap per trade (0: no cap)

    def __post_init__(self) -> None:
        for name in ("sec_per_million", "taf_per_share", "taf_max"):
            if getattr(self, name) < 0:
                raise ValueError(f"fee schedule {name} must be ≥ 0, got {getattr(self, name)}")

    def on_sell(self, qty: Decimal, proceeds: Decimal) -> dict[str, Decimal]:
        """The fees of one sell fill by kind (``REG``, ``TAF``), rounded up to the cent; nothing owed is left out."""
        taf = (qty * self.taf_per_share).quantize(CENT, rounding=ROUND_CEILING)
        if self.taf_max:
            taf = min(taf, self.taf_max)
        fees = {"REG": (proceeds * self.sec_per_million / MILLION).quantize(CENT, rounding=ROUND_CEILING), "TAF": taf}
        return {kind: amount for kind, amount in fees.items() if amount > 0}


ALPACA_LIVE_2024 = FeeSchedule(Decimal("27.80"), Decimal("0.000166"), Decimal("8.30"))


class FeeDesk:
    """Charges the schedule on sell fills and keeps the ``FEE`` activities it posted."""

    def __init__(self, schedule: FeeSchedule) -> None:
        self.schedule = schedule
        self.activities: list[NonTradeActivity] = []

    def charge(self, order_id: str, symbol: str, qty: Decimal, proceeds: Decimal, day: date) -> Decimal:
        """Post the fees of one sell fill of ``order_id``; the total to take from cash."""
        total = ZERO
        for kind, amount in self.schedule.on_sell(qty, proceeds).items():
            self.activities.append(
                NonTradeActivity(
                    id=f"{day:%Y%m%d}000000000::fee-{order_id}-{len(self.activities)}",
                    activity_type="FEE",
                    date=day,
                    net_amount=-amount,
                    symbol=symbol,
                    qty=qty,
                    description=f"{kind} fee for the sale of {qty} {symbol}",
                    order_id=order_id,
                )
            )
            total += amount
        return total
