"""Non-trade account activities and corporate-action announcements, and what alchemiser makes of each type.

Alpaca reports everything that changed the account other than a fill as a *non-trade activity* (NTA) on
``GET /v2/account/activities?activity_types=…`` (``{"activity_type":"DIV","id":"…::…","date":"2019-08-01",
"net_amount":"2.5","symbol":"T","qty":"5","per_share_amount":"0.51","status":"executed"}``). A position change is
two rows of the same type and date — ``qty`` negative for what left, positive for what arrived — so a 1:10 reverse
split of 100 UVXY is ``SSP −100 UVXY`` and ``SSP +10 UVXY`` (fractional leftovers either stay as a fraction or come
as cash in lieu: a row with ``net_amount`` > 0), and a rename is ``NC −qty OLD`` and ``NC +qty NEW``.

``ActivityTreatment`` is the one table of how each type is treated (the closing list of the corporate-actions work):

* ``POSITION`` — explains a position change in reconciliation and adjusts the strategy books (splits, renames,
  spin-offs, mergers, reorganisations); the unusual ones also raise an alert;
* ``INCOME`` / ``EXPENSE`` — cash credited to (or taken from) the strategy books that held the symbol, booked as
  realised P&L (dividends of every kind, interest, fees; cash in lieu rides on its ``SSP`` row);
* ``CAPITAL`` — money or shares the user moved (deposits, withdrawals, journals, ACATS): never strategy P&L, and a
  *share* transfer is not explained — reconciliation still fails closed on it, as before;
* ``IGNORED`` — options events, pass-through charges and anything new (kept, logged, never acted on).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, field_validator

from alchemiser.broker.models import BrokerModel, Money


class ActivityTreatment(StrEnum):
    POSITION = "position"
    INCOME = "income"
    EXPENSE = "expense"
    CAPITAL = "capital"
    IGNORED = "ignored"


#: activity type → (treatment, what it is, whether it is ordinary: no alert)
ACTIVITY_TYPES: dict[str, tuple[ActivityTreatment, str, bool]] = {
    "SSP": (ActivityTreatment.POSITION, "stock split or reverse split", True),
    "NC": (ActivityTreatment.POSITION, "name change", False),
    "SC": (ActivityTreatment.POSITION, "symbol change", False),
    "SSO": (ActivityTreatment.POSITION, "stock spin-off", False),
    "MA": (ActivityTreatment.POSITION, "merger or acquisition (a closed fund's cash-out too)", False),
    "REORG": (ActivityTreatment.POSITION, "reorganisation", False),
    "DIV": (ActivityTreatment.INCOME, "dividend", True),
    "DIVCGL": (ActivityTreatment.INCOME, "dividend (long-term capital gain)", True),
    "DIVCGS": (ActivityTreatment.INCOME, "dividend (short-term capital gain)", True),
    "DIVROC": (ActivityTreatment.INCOME, "dividend (return of capital)", True),
    "DIVTXEX": (ActivityTreatment.INCOME, "dividend (tax exempt)", True),
    "DIVNRA": (ActivityTreatment.EXPENSE, "dividend adjustment (NRA withheld)", True),
    "DIVTW": (ActivityTreatment.EXPENSE, "dividend adjustment (tax withheld)", True),
    "DIVFT": (ActivityTreatment.EXPENSE, "dividend adjustment (foreign tax withheld)", True),
    "DIVFEE": (ActivityTreatment.EXPENSE, "dividend fee", True),
    "INT": (ActivityTreatment.INCOME, "interest", True),
    "INTNRA": (ActivityTreatment.EXPENSE, "interest adjustment (NRA withheld)", True),
    "INTTW": (ActivityTreatment.EXPENSE, "interest adjustment (tax withheld)", True),
    "FEE": (ActivityTreatment.EXPENSE, "fee", True),
    "CFEE": (ActivityTreatment.EXPENSE, "crypto fee", True),
    "CSD": (ActivityTreatment.CAPITAL, "cash deposit", True),
    "CSW": (ActivityTreatment.CAPITAL, "cash withdrawal", True),
    "CSR": (ActivityTreatment.CAPITAL, "cash receipt", True),
    "TRANS": (ActivityTreatment.CAPITAL, "cash transfer", True),
    "JNL": (ActivityTreatment.CAPITAL, "journal entry", True),
    "JNLC": (ActivityTreatment.CAPITAL, "journal entry (cash)", True),
    "JNLS": (ActivityTreatment.CAPITAL, "journal entry (stock)", False),
    "ACATC": (ActivityTreatment.CAPITAL, "ACATS transfer (cash)", True),
    "ACATS": (ActivityTreatment.CAPITAL, "ACATS transfer (securities)", False),
    "PTC": (ActivityTreatment.IGNORED, "pass-through charge", True),
    "PTR": (ActivityTreatment.IGNORED, "pass-through rebate", True),
    "OPASN": (ActivityTreatment.IGNORED, "option assignment", False),
    "OPEXP": (ActivityTreatment.IGNORED, "option expiry", False),
    "OPXRC": (ActivityTreatment.IGNORED, "option exercise", False),
    "MISC": (ActivityTreatment.IGNORED, "miscellaneous", False),
}

#: the types alchemiser asks for (``activity_types=`` on the activities route): everything but fills
NON_TRADE_TYPES: tuple[str, ...] = tuple(ACTIVITY_TYPES)
#: activity types that are a fee charged to the account (recorded per order in the fee table, migration 0011)
FEE_TYPES = frozenset({"FEE", "CFEE", "TAF", "REG"})
#: the regulatory fees Alpaca posts as ``FEE`` rows, named in their description (FINRA's trading activity fee, the
#: SEC's section 31 fee)
REGULATORY_FEES = ("TAF", "REG")


def _date_part(value: Any) -> Any:
    """NTA dates are ``YYYY-MM-DD``; some rows carry a full timestamp: keep its date."""
    if isinstance(value, str) and len(value) > 10 and value[4] == "-":
        return value[:10]
    if isinstance(value, datetime):
        return value.date()
    return value


ActivityDate = Annotated[date, BeforeValidator(_date_part)]


class NonTradeActivity(BrokerModel):
    """One row of the activities route that is not a fill."""

    id: str
    activity_type: str
    date: ActivityDate
    net_amount: Money = Decimal(0)
    symbol: str | None = None
    qty: Money | None = None
    per_share_amount: Money | None = None
    description: str = ""
    status: str = "executed"
    order_id: str | None = None  # the broker's order id, when the activity charges one order (a fee)

    @field_validator("activity_type", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def treatment(self) -> ActivityTreatment:
        known = ACTIVITY_TYPES.get(self.activity_type)
        return known[0] if known else ActivityTreatment.IGNORED

    @property
    def ordinary(self) -> bool:
        known = ACTIVITY_TYPES.get(self.activity_type)
        return known[2] if known else False

    @property
    def label(self) -> str:
        known = ACTIVITY_TYPES.get(self.activity_type)
        return known[1] if known else f"unknown activity type {self.activity_type}"

    @property
    def canceled(self) -> bool:
        return self.status.lower() == "canceled"

    @property
    def fee_kind(self) -> str | None:
        """``TAF``/``REG`` for a regulatory fee, the activity type for another fee, None when it is not a fee."""
        if self.activity_type not in FEE_TYPES:
            return None
        words = self.description.upper().replace("/", " ").split()
        return next((kind for kind in REGULATORY_FEES if kind in words), self.activity_type)


class Announcement(BrokerModel):
    """A corporate-action announcement (``GET /v2/corporate_actions/announcements``)."""

    id: str
    corporate_action_id: str = ""
    ca_type: str  # dividend, merger, spinoff, split
    ca_sub_type: str = ""  # cash, stock, forward_split, reverse_split, unit_split, merger_completion, redemption…
    initiating_symbol: str = ""
    target_symbol: str = ""
    declaration_date: ActivityDate | None = None
    ex_date: ActivityDate | None = None
    record_date: ActivityDate | None = None
    payable_date: ActivityDate | None = None
    cash: Money | None = None
    old_rate: Money | None = None
    new_rate: Money | None = None

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(s for s in (self.initiating_symbol, self.target_symbol) if s)

    @property
    def effective_date(self) -> date | None:
        return self.ex_date or self.payable_date or self.record_date

    @property
    def ordinary(self) -> bool:
        """Splits and cash dividends need nothing from the user; mergers, spin-offs and redemptions do."""
        return self.ca_type in ("split", "dividend") and self.ca_sub_type != "redemption"

    def describe(self) -> str:
        what = f"{self.ca_type}/{self.ca_sub_type}" if self.ca_sub_type else self.ca_type
        when = self.effective_date.isoformat() if self.effective_date else "date unknown"
        target = (
            f" → {self.target_symbol}" if self.target_symbol and self.target_symbol != self.initiating_symbol else ""
        )
        rate = f" {self.new_rate}:{self.old_rate}" if self.old_rate and self.new_rate else ""
        return f"{self.initiating_symbol or self.target_symbol}{target}: {what}{rate} effective {when}"
