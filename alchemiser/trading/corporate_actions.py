"""Corporate actions in the trading day: the strategy books follow the account, and the user hears early.

``CorporateActionDesk``:

* ``apply(activities)`` — the reconciler's hook: once a reconciliation explained a position change by corporate
  actions, the books are adjusted the same way (``portfolio.corporate_actions``), each event with an audit entry;
  dividends and other cash go to the strategies that held the symbol on the record date (the announcement's, when
  one was seen; else the activity's date), looked up in the daily book record; renames and unusual events alert.
* renames are handed to ``on_rename`` (the bar refresher joins the old and new histories) and to the store, so
  a restarted daemon joins them again (``renames()``);
* ``after_decision()`` — records what each book holds at the end of the day, then looks ahead: announcements
  (``lookahead_days``) and the asset status of every symbol the symphonies name. An unusual announcement (merger,
  redemption, spin-off, a rename) or an inactive/untradable symbol alerts once, days ahead when announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Protocol

from alchemiser.broker.activities import Announcement, NonTradeActivity
from alchemiser.broker.enums import AssetStatus
from alchemiser.broker.models import NEW_YORK, Asset
from alchemiser.clock import Clock
from alchemiser.errors import BrokerError, NotFoundError
from alchemiser.logging import get_logger
from alchemiser.notify.events import CorporateActionAlert
from alchemiser.portfolio.books import Books
from alchemiser.portfolio.corporate_actions import BookEvent, apply_event, book_events
from alchemiser.store.audit import AuditLog
from alchemiser.store.corporate_actions import CorporateActionStore
from alchemiser.trading.decision_ports import Publisher

log = get_logger("corporate_actions")


class BookKeeper(Protocol):
    """Who owns the books (``execution.fills.FillRecorder``)."""

    books: Books

    async def save_books(self) -> None: ...


class CorporateBroker(Protocol):
    async def get_asset(self, symbol: str) -> Asset: ...

    async def list_announcements(self, symbols: Sequence[str], since: date, until: date) -> list[Announcement]: ...


class CorporateActionDesk:
    def __init__(
        self,
        *,
        broker: CorporateBroker,
        keeper: BookKeeper,
        store: CorporateActionStore,
        audit: AuditLog,
        clock: Clock,
        symbols: Callable[[], Iterable[str]],
        notifier: Publisher | None = None,
        lookahead_days: int = 60,
        on_rename: Callable[[str, str, date], None] | None = None,
    ) -> None:
        self._broker = broker
        self._keeper = keeper
        self._store = store
        self._audit = audit
        self._clock = clock
        self._symbols = symbols
        self._notifier = notifier
        self._lookahead = lookahead_days
        #: told of each rename applied (the bar refresher joins the two histories)
        self.on_rename = on_rename
        self._record_dates: dict[tuple[str, date], date] = {}  # (symbol, pay date) → record date

    def _today(self) -> date:
        return self._clock.now().astimezone(NEW_YORK).date()

    async def _alert(self, key: str, symbol: str, message: str, action: str = "", *, warning: bool = True) -> None:
        if not await self._store.alert_once(key, message):
            return
        log.warning("corporate_action_alert", symbol=symbol, message=message, action=action)
        await self._audit.append(
            "corporate_action.alert", data={"symbol": symbol, "message": message, "action": action}
        )
        if self._notifier is not None:
            self._notifier.publish(CorporateActionAlert(symbol, message, self._clock.now(), action, warning))

    # ---- the reconciler's hook ----------------------------------------------------------------------------------

    async def apply(self, activities: Sequence[NonTradeActivity]) -> None:
        books = self._keeper.books
        for event in book_events(activities):
            holders = None
            if event.kind == "cash" and event.symbol:
                record = self._record_dates.get((event.symbol, event.day), event.day)
                holders = await self._store.holders_before(event.symbol, record)
            parts = apply_event(books, event, holders=holders)
            await self._audit.append(
                f"corporate_action.{event.kind}",
                data={
                    "event": event.describe(),
                    "activity_type": event.activity_type,
                    "activity_ids": list(event.activity_ids),
                    "strategies": {name: str(value) for name, value in sorted(parts.items())},
                },
            )
            log.info("corporate_action_applied", what=event.describe(), strategies=sorted(parts))
            await self._follow_up(event)
        await self._keeper.save_books()

    async def _follow_up(self, event: BookEvent) -> None:
        if event.kind == "rename":
            if self.on_rename is not None:
                self.on_rename(event.symbol, event.new_symbol, event.day)
            await self._alert(
                f"rename:{event.symbol}:{event.new_symbol}",
                event.symbol,
                f"{event.symbol} is now {event.new_symbol} (positions and books moved; bar history joined)",
                f"replace {event.symbol} by {event.new_symbol} in the symphony files that name it",
            )
        elif not event.ordinary:
            await self._alert(
                f"event:{event.activity_type}:{event.symbol}:{event.day}",
                event.symbol,
                f"corporate action applied to the books: {event.describe()}",
                "check the symphonies that hold it",
            )

    # ---- after a decision --------------------------------------------------------------------------------------

    async def after_decision(self) -> None:
        today = self._today()
        holdings = {
            name: {s: h.qty for s, h in book.holdings.items() if h.qty}
            for name, book in self._keeper.books.books.items()
        }
        await self._store.save_day(today, holdings)
        symbols = sorted(set(self._symbols()))
        if not symbols:
            return
        try:
            await self._look_ahead(symbols, today)
            await self._check_assets(symbols, today)
        except BrokerError as exc:  # looking ahead is advisory: never block a decision on it
            log.warning("corporate_action_lookahead_failed", error=str(exc))

    async def _look_ahead(self, symbols: Sequence[str], today: date) -> None:
        since = today - timedelta(days=5)
        until = today + timedelta(days=self._lookahead)
        for announcement in await self._broker.list_announcements(symbols, since, until):
            if announcement.ca_type == "dividend" and announcement.payable_date and announcement.record_date:
                for symbol in announcement.symbols:
                    self._record_dates[(symbol, announcement.payable_date)] = announcement.record_date
            if announcement.ordinary:
                continue
            symbol = announcement.initiating_symbol or announcement.target_symbol
            await self._alert(
                f"announcement:{announcement.id}",
                symbol,
                f"announced: {announcement.describe()}",
                f"review the symphonies naming {symbol} before it takes effect",
            )

    async def _check_assets(self, symbols: Sequence[str], today: date) -> None:
        for symbol in symbols:
            try:
                asset = await self._broker.get_asset(symbol)
            except NotFoundError:
                await self._alert(
                    f"asset:{symbol}:unknown",
                    symbol,
                    f"{symbol} is unknown to the broker (delisted or renamed?)",
                    f"update the symphonies naming {symbol}",
                )
                continue
            if asset.status is AssetStatus.INACTIVE:
                await self._alert(
                    f"asset:{symbol}:inactive",
                    symbol,
                    f"{symbol} is inactive at the broker (closed or delisted): it cannot be traded",
                    f"replace {symbol} in the symphonies naming it; its share stays in cash meanwhile",
                )
            elif not asset.tradable:
                await self._alert(
                    f"asset:{symbol}:halted:{today}",
                    symbol,
                    f"{symbol} is not tradable today (halted?): plans leave it out and keep its share in cash",
                )
