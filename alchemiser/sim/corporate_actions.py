"""Corporate actions on the simulated exchange: splits, dividends, halts, fund closings and renames, applied at the
open of their day to the account as Alpaca applies them, and reported as Alpaca's non-trade activities.

* **Split** (ratio r = new per old): at the open of the ex-date every holding becomes qty × r with the same cost
  basis; open orders in the symbol are canceled (as Alpaca does); with ``cash_in_lieu`` the fractional leftover is
  paid in cash at the open's price. Activities: ``SSP −old`` and ``SSP +new`` (``net_amount`` = cash in lieu).
* **Dividend**: shares held at the open of the ex-date are entitled; the cash arrives at the open of the pay date
  (``DIV``, ``qty`` = entitled shares, ``per_share_amount``).
* **Halt / resume**: the asset turns ``tradable: false`` / ``true`` at the open (orders are refused meanwhile).
* **Close**: the fund stops trading at the open (``status: inactive``, not tradable), open orders are canceled and
  holdings are redeemed for cash at the open's price (``MA −qty``, ``net_amount`` = proceeds).
* **Rename**: at the open the holding moves to the new symbol (``NC −qty OLD``, ``NC +qty NEW``), open orders are
  canceled, and the new symbol serves the old one's price history.

Prices: the market's series are *fully adjusted* (to its last day). The trading price on session d is the series ×
Π r over splits with an ex-date after d (``price_factor``); bars served at a given instant are adjusted as of that
instant (the same factor for every bar), like Alpaca's ``adjustment=all`` bars. Dividends do not move the price (the
synthetic series already is a total-return path); the cash is paid on top.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from decimal import ROUND_DOWN, Decimal

from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.enums import AssetStatus
from alchemiser.broker.models import NEW_YORK
from alchemiser.errors import DataError
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.corporate_events import CorporateEvent, announcement_json
from alchemiser.sim.ledger import Ledger
from alchemiser.sim.order_book import OrderBook
from alchemiser.sim.orders import OrderRecord
from alchemiser.sim.rules import QTY_QUANTUM

_NAMESPACE = uuid.UUID("2d0c7e57-3c1e-4b0e-8f5a-1f6b7c8d9e0a")
CENT = Decimal("0.01")
Cancel = Callable[[OrderRecord, datetime], None]
PriceAt = Callable[[str, datetime], Decimal]


def _activity_id(day: date, key: str) -> str:
    return f"{day:%Y%m%d}000000000::{uuid.uuid5(_NAMESPACE, key)}"


class CorporateActions:
    """The calendar of events, the instants they take effect, and the activities posted so far."""

    def __init__(self, events: Iterable[CorporateEvent], calendar: SessionCalendar) -> None:
        self.events = sorted(events, key=lambda e: (e.effective, e.kind, e.symbol))
        self._calendar = calendar
        self.activities: list[NonTradeActivity] = []
        self._steps: list[tuple[datetime, int, str, CorporateEvent]] = []
        for n, event in enumerate(self.events):
            self._steps.append((self._open_of(event.effective), n, "effect", event))
            if event.kind == "dividend":
                self._steps.append((self._open_of(event.paid_on), n, "pay", event))
        self._steps.sort(key=lambda s: (s[0], s[1], s[2]))
        self._done = 0
        self._entitled: dict[str, Decimal] = {}  # dividend key → shares held at the ex-date open
        self._aliases: dict[str, str] = {e.new_symbol: e.symbol for e in self.events if e.kind == "rename"}

    def _open_of(self, day: date) -> datetime:
        return self._calendar.next_open(datetime.combine(day, time(0, 0), NEW_YORK))

    # ---- prices -----------------------------------------------------------------------------------------------

    def series_symbol(self, symbol: str) -> str:
        """The market series a symbol's prices come from (a renamed symbol's new name reads the old history)."""
        seen = 0
        while symbol in self._aliases and seen < 10:
            symbol, seen = self._aliases[symbol], seen + 1
        return symbol

    def price_factor(self, symbol: str, session: date) -> float:
        """Trading price ÷ adjusted price on ``session``: Π ratio over the symbol's splits after ``session``."""
        factor = 1.0
        names = {symbol, self.series_symbol(symbol)}
        for event in self.events:
            if event.kind == "split" and event.symbol in names and event.effective > session:
                factor *= float(event.ratio)
        return factor

    # ---- time -------------------------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        return self._steps[self._done][0] if self._done < len(self._steps) else None

    def run_next(
        self, *, ledger: Ledger, book: OrderBook, assets: AssetBook, cancel: Cancel, price: PriceAt
    ) -> CorporateEvent:
        """Apply the next due step (the caller checks ``next_due`` against its now)."""
        at, _, step, event = self._steps[self._done]
        self._done += 1
        ledger.roll(at)  # the previous close's equity is taken before the action changes the account
        if step == "pay":
            self._pay_dividend(event, ledger)
        elif event.kind == "dividend":
            self._entitled[event.key] = ledger.qty(event.symbol)
        elif event.kind == "split":
            self._cancel_open(event.symbol, book, cancel, at)
            self._split(event, ledger, price, at)
        elif event.kind in ("halt", "resume"):
            assets.update(event.symbol, tradable=event.kind == "resume")
        elif event.kind == "close":
            self._cancel_open(event.symbol, book, cancel, at)
            assets.update(event.symbol, tradable=False, status=AssetStatus.INACTIVE)
            self._close(event, ledger, price, at)
        else:
            self._cancel_open(event.symbol, book, cancel, at)
            assets.rename(event.symbol, event.new_symbol)
            self._rename(event, ledger)
        return event

    # ---- the steps --------------------------------------------------------------------------------------------

    def _post(self, event: CorporateEvent, day: date, part: str, **fields: object) -> None:
        body = {"id": _activity_id(day, f"{event.key}:{part}"), "date": day.isoformat(), "status": "executed"}
        self.activities.append(NonTradeActivity.model_validate({**body, **fields}))

    @staticmethod
    def _cancel_open(symbol: str, book: OrderBook, cancel: Cancel, at: datetime) -> None:
        for rec in book.open_records():
            if rec.symbol == symbol:
                cancel(rec, at)

    def _split(self, event: CorporateEvent, ledger: Ledger, price: PriceAt, at: datetime) -> None:
        holding = ledger.holdings.get(event.symbol)
        if holding is None or holding.qty == 0:
            return
        old = holding.qty
        new = (old * event.ratio).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)
        cash = Decimal(0)
        if event.cash_in_lieu and new % 1 != 0:
            whole = new.to_integral_value(rounding=ROUND_DOWN)
            leftover = new - whole
            try:
                cash = (leftover * price(event.symbol, at)).quantize(CENT)
            except DataError:
                cash = (holding.cost / new * leftover).quantize(CENT)
            holding.cost -= holding.cost * leftover / new
            new = whole
            ledger.cash += cash
        holding.qty = new
        if new == 0:
            del ledger.holdings[event.symbol]
        day = event.effective
        description = f"{'reverse ' if event.ratio < 1 else ''}split {event.ratio:f} new per old"
        self._post(event, day, "out", activity_type="SSP", symbol=event.symbol, qty=-old, description=description)
        self._post(
            event,
            day,
            "in",
            activity_type="SSP",
            symbol=event.symbol,
            qty=new,
            net_amount=cash,
            description=description,
        )

    def _pay_dividend(self, event: CorporateEvent, ledger: Ledger) -> None:
        qty = self._entitled.pop(event.key, Decimal(0))
        if qty <= 0:
            return
        amount = (qty * event.amount).quantize(CENT)
        ledger.cash += amount
        self._post(
            event,
            event.paid_on,
            "pay",
            activity_type="DIV",
            symbol=event.symbol,
            qty=qty,
            per_share_amount=event.amount,
            net_amount=amount,
            description=f"cash dividend {event.amount:f} per share",
        )

    def _close(self, event: CorporateEvent, ledger: Ledger, price: PriceAt, at: datetime) -> None:
        holding = ledger.holdings.pop(event.symbol, None)
        if holding is None or holding.qty == 0:
            return
        try:
            proceeds = (holding.qty * price(event.symbol, at)).quantize(CENT)
        except DataError:
            proceeds = holding.cost.quantize(CENT)
        ledger.cash += proceeds
        self._post(
            event,
            event.effective,
            "redeem",
            activity_type="MA",
            symbol=event.symbol,
            qty=-holding.qty,
            net_amount=proceeds,
            description="fund closed: shares redeemed for cash",
        )

    def _rename(self, event: CorporateEvent, ledger: Ledger) -> None:
        holding = ledger.holdings.pop(event.symbol, None)
        if holding is None or holding.qty == 0:
            return
        ledger.holdings[event.new_symbol] = holding
        text = f"name change {event.symbol} → {event.new_symbol}"
        self._post(event, event.effective, "out", activity_type="NC", symbol=event.symbol, qty=-holding.qty)
        self._post(
            event, event.effective, "in", activity_type="NC", symbol=event.new_symbol, qty=holding.qty, description=text
        )

    # ---- routes -----------------------------------------------------------------------------------------------

    def list_activities(
        self, *, after: date | None = None, types: frozenset[str] | None = None
    ) -> list[NonTradeActivity]:
        return [
            a
            for a in self.activities
            if (after is None or a.date > after) and (types is None or a.activity_type in types)
        ]

    def announcements(self, today: date, since: date, until: date, symbol: str | None = None) -> list[Announcement]:
        """Announced by ``today`` with an ex/effective date in [since, until]."""
        out: list[Announcement] = []
        for event in self.events:
            announce_on = event.announce_on
            if announce_on is None or announce_on > today or not since <= event.effective <= until:
                continue
            if symbol is not None and symbol.upper() not in (event.symbol, event.new_symbol):
                continue
            body = announcement_json(event, str(uuid.uuid5(_NAMESPACE, event.key)))
            if body is not None:
                out.append(Announcement.model_validate(body))
        return out
