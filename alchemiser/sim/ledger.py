"""The one cash account and its long positions: the state fills change, and the ``Account`` / ``Position`` views.

This is the exchange's account state — identity (id, number, opening instant), ``cash`` and ``holdings`` (shares and
cost basis per symbol). Holds placed by open orders live on the orders (``order_book.py``); the views take them as
arguments. Marks are the current mid, or the cost basis when the symbol has no bar.

``last_equity`` is, as at Alpaca, the equity at the previous session's close: during session D and after its close
(until D+1 opens) the close of D-1, so ``equity - last_equity`` is the latest session's P&L. The ledger takes that
snapshot (``roll``) at the first look or change in a session, before any fill or corporate action of the session
changes cash or holdings: it is what the account held at that close, valued at that close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from alchemiser.broker.enums import PositionSide
from alchemiser.broker.models import Account, Position, Quote
from alchemiser.errors import DataError, NotFoundError
from alchemiser.sim.assets import AssetBook
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.market import QuoteModel
from alchemiser.sim.rules import QTY_QUANTUM

QuoteAt = Callable[[str, datetime], Quote]


@dataclass(slots=True)
class Holding:
    qty: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # cost basis of the shares held


class Ledger:
    """Cash and holdings of the account, and what Alpaca's account and position routes report about them."""

    def __init__(
        self,
        config: ExchangeConfig,
        *,
        account_id: str,
        created_at: datetime,
        quote: QuoteAt,
        quotes: QuoteModel,
        calendar: SessionCalendar,
        assets: AssetBook,
    ) -> None:
        self.config = config
        self.account_id = account_id
        self.created_at = created_at
        self.cash = config.initial_cash
        self.holdings: dict[str, Holding] = {}  # only symbols with shares
        self._quote = quote
        self._quotes = quotes
        self._calendar = calendar
        self._assets = assets
        #: the latest session close seen and the equity at it (``last_equity``); None before the first close
        self.close_mark: datetime | None = None
        self.close_equity: Decimal | None = None

    def roll(self, now: datetime) -> None:
        """Take the equity snapshot of the latest close before ``now`` if not yet taken (call before a change)."""
        close = self._last_close(now)
        if close is None or close == self.close_mark:
            return
        self.close_mark = close
        self.close_equity = self.cash + self.long_market_value(close)

    def _last_close(self, now: datetime) -> datetime | None:
        """The close of the session before the one whose prices apply at ``now`` (open, or closed for the day)."""
        position = self._calendar.position(now)
        if position.start is None:
            return None
        before = self._calendar.position(position.start - timedelta(microseconds=1))
        return before.end if before.session is not None else None

    # ---- changes --------------------------------------------------------------------------------------------

    def buy(self, symbol: str, qty: Decimal, cost: Decimal) -> None:
        holding = self.holdings.setdefault(symbol, Holding())
        self.cash -= cost
        holding.qty += qty
        holding.cost += cost
        if holding.qty == 0:
            del self.holdings[symbol]

    def sell(self, symbol: str, qty: Decimal, proceeds: Decimal) -> None:
        holding = self.holdings.setdefault(symbol, Holding())
        basis = holding.cost * qty / holding.qty if holding.qty else Decimal(0)
        self.cash += proceeds
        holding.qty -= qty
        holding.cost -= basis
        if holding.qty == 0:
            del self.holdings[symbol]

    # ---- values ---------------------------------------------------------------------------------------------

    def qty(self, symbol: str) -> Decimal:
        holding = self.holdings.get(symbol)
        return holding.qty if holding is not None else Decimal(0)

    def _mark(self, symbol: str, now: datetime) -> Decimal:
        try:
            return self._quote(symbol, now).mid
        except DataError:
            holding = self.holdings[symbol]
            return holding.cost / holding.qty if holding.qty else Decimal(0)

    def long_market_value(self, now: datetime) -> Decimal:
        return sum((h.qty * self._mark(s, now) for s, h in self.holdings.items()), Decimal(0))

    def buying_power(self, now: datetime, held_cash: Decimal) -> Decimal:
        multiplier = self.config.margin_multiplier
        if multiplier == 1:
            return max(Decimal(0), self.cash - held_cash)
        equity = self.cash + self.long_market_value(now)
        return max(Decimal(0), equity * multiplier - self.long_market_value(now) - held_cash)

    # ---- views ----------------------------------------------------------------------------------------------

    def account(self, now: datetime, held_cash: Decimal) -> Account:
        self.roll(now)
        lmv = self.long_market_value(now)
        equity = self.cash + lmv
        bp = self.buying_power(now, held_cash)
        return Account.model_validate(
            {
                "id": self.account_id,
                "account_number": self.config.account_number,
                "status": "ACTIVE",
                "currency": "USD",
                "cash": self.cash,
                "buying_power": bp,
                "regt_buying_power": bp,
                "non_marginable_buying_power": max(Decimal(0), self.cash - held_cash),
                "equity": equity,
                "portfolio_value": equity,
                "last_equity": equity if self.close_equity is None else self.close_equity,
                "long_market_value": lmv,
                "short_market_value": Decimal(0),
                "initial_margin": Decimal(0),
                "maintenance_margin": Decimal(0),
                "sma": Decimal(0),
                "multiplier": str(self.config.margin_multiplier),
                "shorting_enabled": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "trade_suspended_by_user": False,
                "pattern_day_trader": False,
                "daytrade_count": 0,
                "accrued_fees": Decimal(0),
                "created_at": self.created_at,
            }
        )

    def positions(self, now: datetime, held_qty: Callable[[str], Decimal]) -> list[Position]:
        """Every position; ``held_qty(symbol)`` is what open sells hold of it."""
        return [self._position(s, h, now, held_qty(s)) for s, h in sorted(self.holdings.items())]

    def position(self, symbol: str, now: datetime, held_qty: Callable[[str], Decimal]) -> Position:
        holding = self.holdings.get(symbol)
        if holding is None:
            raise NotFoundError("position does not exist", status_code=404, code=40410000)
        return self._position(symbol, holding, now, held_qty(symbol))

    def _position(self, symbol: str, holding: Holding, now: datetime, held: Decimal) -> Position:
        asset = self._assets.get(symbol)
        price = self._mark(symbol, now)
        market_value = holding.qty * price
        avg = (holding.cost / holding.qty).quantize(QTY_QUANTUM).normalize() if holding.qty else Decimal(0)
        unrealized = market_value - holding.cost
        return Position.model_validate(
            {
                "asset_id": asset.id,
                "symbol": symbol,
                "exchange": asset.exchange,
                "asset_class": "us_equity",
                "asset_marginable": True,
                "avg_entry_price": avg,
                "qty": holding.qty,
                "qty_available": holding.qty - held,
                "side": PositionSide.LONG.value,
                "market_value": market_value,
                "cost_basis": holding.cost,
                "unrealized_pl": unrealized,
                "unrealized_plpc": (unrealized / holding.cost).quantize(Decimal("0.0001")) if holding.cost else 0,
                "current_price": price,
                "lastday_price": self._lastday_price(symbol, now),
            }
        )

    def _lastday_price(self, symbol: str, now: datetime) -> Decimal | None:
        bars = self._quotes.daily_bars(symbol, now.date() - timedelta(days=10), now.date(), now)
        pos = self._calendar.position(now)
        previous = [b for b in bars if b.session != pos.session]
        return Decimal(repr(previous[-1].close)) if previous else None
