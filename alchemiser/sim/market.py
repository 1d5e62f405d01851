"""Daily-bar markets for the simulated exchange, and the intraday quote model built on them.

* ``BarSeries`` — one symbol's daily bars as float64 numpy arrays (days since the epoch, o/h/l/c/v).
* ``Market`` — what the exchange needs from a market (``CsvMarket`` here, ``SyntheticMarket`` in ``synthetic.py``).
* ``CsvMarket`` — replay of a folder of ``SYMBOL.csv`` files (``date,open,high,low,close,adj_close,volume``).
  Prices are dividend/split adjusted (o/h/l scaled by ``adj_close / close``): the simulator pays no dividends, so
  adjusted prices are the consistent total-return choice and match what ``adjustment=all`` serves.
* ``QuoteModel`` — within a session the mid follows open → first extreme → second extreme → close (which extreme
  comes first, and when, is a deterministic function of seed, symbol and date), with a spread in bps around it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from alchemiser.broker.models import NEW_YORK, Bar, Quote
from alchemiser.data.bars import read_bars_csv
from alchemiser.errors import DataError
from alchemiser.sim.calendar import SessionCalendar
from alchemiser.sim.fastmodel import trusted

_EPOCH_DATE = date(1970, 1, 1)
_CENT = Decimal("0.01")
_TICK_SMALL = Decimal("0.0001")
_LOT = Decimal(100)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def day_number(session: date) -> int:
    return (session - _EPOCH_DATE).days


def day_date(number: int) -> date:
    return _EPOCH_DATE + timedelta(days=number)


# Intraday paths cached per (symbol, session): quotes only ever need the current sessions (a backtest walks forward),
# so the cache is small and a year of simulation does not accumulate ~0.5 KB per symbol and day.
_MAX_PATHS = 4096


@dataclass(frozen=True, slots=True)
class DailyBar:
    session: date
    open: float
    high: float
    low: float
    close: float
    volume: float

    def to_bar(self) -> Bar:
        """As the broker model (``t`` = NY midnight of the session, in UTC)."""
        midnight = datetime(self.session.year, self.session.month, self.session.day, tzinfo=NEW_YORK)
        return Bar.model_construct(
            t=midnight.astimezone(UTC), o=self.open, h=self.high, low=self.low, c=self.close, v=self.volume
        )

    def scaled(self, factor: float) -> DailyBar:
        """Prices × ``factor``, volume ÷ it (a split's unadjusting)."""
        if factor == 1.0:
            return self
        o, h, lo, c = (v * factor for v in (self.open, self.high, self.low, self.close))
        return DailyBar(self.session, o, h, lo, c, self.volume / factor)


class PriceAdjuster(Protocol):
    """Corporate actions as the quote model sees them (``sim.corporate_actions.CorporateActions``)."""

    def series_symbol(self, symbol: str) -> str: ...

    def price_factor(self, symbol: str, session: date) -> float: ...


class BarSeries:
    """One symbol's daily bars, ascending by day, as parallel numpy arrays."""

    __slots__ = ("close", "days", "high", "low", "open", "volume")

    def __init__(  # noqa: PLR0917 - the OHLCV columns read best positionally
        self,
        days: IntArray,
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> None:
        n = len(days)
        if not all(len(a) == n for a in (open_, high, low, close, volume)):
            raise DataError("bar arrays differ in length")
        if n > 1 and bool(np.any(np.diff(days) <= 0)):
            raise DataError("bar days must be strictly ascending")
        self.days = days
        self.open = open_
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    def __len__(self) -> int:
        return len(self.days)

    def index_of(self, session: date) -> int | None:
        day = day_number(session)
        idx = int(np.searchsorted(self.days, day))
        if idx < len(self.days) and int(self.days[idx]) == day:
            return idx
        return None

    def bar_at(self, idx: int) -> DailyBar:
        return DailyBar(
            day_date(int(self.days[idx])),
            float(self.open[idx]),
            float(self.high[idx]),
            float(self.low[idx]),
            float(self.close[idx]),
            float(self.volume[idx]),
        )

    def slice(self, start: date, end: date) -> tuple[int, int]:
        """Index range [lo, hi) of bars with start ≤ session ≤ end."""
        lo = int(np.searchsorted(self.days, day_number(start), side="left"))
        hi = int(np.searchsorted(self.days, day_number(end), side="right"))
        return lo, hi

    def last_before(self, session: date) -> int | None:
        """Index of the latest bar strictly before ``session``."""
        idx = int(np.searchsorted(self.days, day_number(session), side="left")) - 1
        return idx if idx >= 0 else None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.days, self.open, self.high, self.low, self.close, self.volume))


class Market(Protocol):
    """Daily bars by symbol. ``ensure_through`` lets a generated market grow as the sim clock advances."""

    def symbols(self) -> Sequence[str]: ...

    def series(self, symbol: str) -> BarSeries | None:
        """The symbol's bars, or ``None`` for an unknown symbol."""
        ...

    def ensure_through(self, session: date) -> None:
        """Make bars available up to and including ``session`` where the market can (no-op for replays)."""
        ...


class CsvMarket:
    """Replay of a folder of daily bar CSVs, one ``SYMBOL.csv`` per symbol."""

    def __init__(self, folder: Path, symbols: Sequence[str] | None = None) -> None:
        if not folder.is_dir():
            raise DataError(f"bar folder {folder} does not exist")
        wanted = {s.upper() for s in symbols} if symbols is not None else None
        self._series: dict[str, BarSeries] = {}
        for path in sorted(folder.glob("*.csv")):
            symbol = path.stem.upper()
            if wanted is not None and symbol not in wanted:
                continue
            self._series[symbol] = load_csv_series(path)
        if not self._series:
            raise DataError(f"no bar CSVs found in {folder}")

    def symbols(self) -> Sequence[str]:
        return sorted(self._series)

    def series(self, symbol: str) -> BarSeries | None:
        return self._series.get(symbol.upper())

    def ensure_through(self, session: date) -> None:
        del session

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._series.values())


def load_csv_series(path: Path) -> BarSeries:
    """Read one bar file with the shared strict parser (``alchemiser.data.bars``) into adjusted arrays.

    o/h/l/c are scaled by ``adj_close / close`` (total-return prices; the simulator pays no dividends).
    """
    bars = read_bars_csv(path, path.stem.upper())
    factor = bars.adj_close / bars.close
    return BarSeries(
        bars.dates.astype("datetime64[D]").astype(np.int64),
        bars.open * factor,
        bars.high * factor,
        bars.low * factor,
        bars.adj_close.copy(),
        np.nan_to_num(bars.volume),
    )


def round_price_down(value: Decimal) -> Decimal:
    return value.quantize(_CENT if value >= 1 else _TICK_SMALL, rounding=ROUND_FLOOR)


def round_price_up(value: Decimal) -> Decimal:
    return value.quantize(_CENT if value >= 1 else _TICK_SMALL, rounding=ROUND_CEILING)


class QuoteModel:
    """Intraday prices consistent with the day's bar, and quotes with a spread around them."""

    def __init__(self, market: Market, calendar: SessionCalendar, *, spread_bps: float = 2.0, seed: int = 0) -> None:
        if spread_bps < 0:
            raise ValueError(f"spread_bps must be ≥ 0, got {spread_bps}")
        self.market = market
        self.calendar = calendar
        self.spread_bps = spread_bps
        self.seed = seed
        self.adjuster: PriceAdjuster | None = None  # set by the exchange when it has corporate actions
        self._paths: dict[tuple[str, date], tuple[tuple[float, ...], tuple[float, ...]]] = {}

    def _path(self, symbol: str, session: date) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """Waypoints (fractions, prices) of the session's intraday mid path, or ``None`` without a bar."""
        key = (symbol, session)
        cached = self._paths.get(key)
        if cached is not None:
            return cached
        bar = self._bar(symbol, session)
        if bar is None:
            return None
        h = zlib.crc32(f"{self.seed}:{symbol}:{session.toordinal()}".encode())
        first_at = 0.08 + (h & 0xFF) / 255.0 * 0.35  # in [0.08, 0.43]
        second_at = 0.55 + ((h >> 8) & 0xFF) / 255.0 * 0.35  # in [0.55, 0.90]
        extremes = (bar.high, bar.low) if (h >> 16) & 1 else (bar.low, bar.high)
        path = (0.0, first_at, second_at, 1.0), (bar.open, extremes[0], extremes[1], bar.close)
        if len(self._paths) >= _MAX_PATHS:
            self._paths.clear()  # recomputing a path is cheap; a long run must not keep every session's
        self._paths[key] = path
        return path

    def _series(self, symbol: str) -> BarSeries | None:
        adjuster = self.adjuster
        return self.market.series(symbol if adjuster is None else adjuster.series_symbol(symbol))

    def _factor(self, symbol: str, session: date) -> float:
        return 1.0 if self.adjuster is None else self.adjuster.price_factor(symbol, session)

    def _bar(self, symbol: str, session: date) -> DailyBar | None:
        """The session's bar at the prices that traded that day (unadjusted for later splits)."""
        series = self._series(symbol)
        if series is None:
            return None
        idx = series.index_of(session)
        if idx is None:
            self.market.ensure_through(session)
            series = self._series(symbol)
            idx = series.index_of(session) if series is not None else None
        if series is None or idx is None:
            return None
        return series.bar_at(idx).scaled(self._factor(symbol, session))

    def mid(self, symbol: str, moment: datetime) -> float:
        """The mid price at ``moment``; raises ``DataError`` when the symbol has no bar for the session."""
        pos = self.calendar.position(moment)
        if pos.session is None:
            raise DataError(f"no session before {moment.isoformat()}")
        path = self._path(symbol, pos.session)
        if path is None:
            raise DataError(f"no bar for {symbol} on {pos.session}")
        return _interp(pos.fraction, path)

    def first_crossing(self, symbol: str, after: datetime, limit: Decimal, *, buy: bool) -> datetime | None:
        """First instant ≥ ``after`` in the current session when a limit order becomes marketable.

        Buy: the ask ≤ ``limit``; sell: the bid ≥ ``limit``. Solved exactly on the piecewise-linear path, with one
        tick of margin for the quote's rounding. ``None`` when it does not happen before the session ends.
        """
        pos = self.calendar.position(after)
        if pos.session is None or not pos.is_open or pos.start is None or pos.end is None:
            return None
        path = self._path(symbol, pos.session)
        if path is None:
            return None
        half = self.spread_bps / 20000.0
        tick = 0.01 if limit >= 1 else 0.0001
        lim = float(limit)
        threshold = (lim - tick) / (1.0 + half) if buy else (lim + tick) / (1.0 - half)
        hit = _first_crossing(path, pos.fraction, threshold, below=buy)
        if hit is None:
            return None
        span = (pos.end - pos.start).total_seconds()
        return pos.start + timedelta(seconds=hit * span)

    def quote(self, symbol: str, moment: datetime) -> Quote:
        mid = Decimal(repr(self.mid(symbol, moment)))
        half = mid * Decimal(repr(self.spread_bps)) / Decimal(20000)
        bid = round_price_down(mid - half)
        ask = round_price_up(mid + half)
        if ask <= bid:
            ask = bid + (_CENT if bid >= 1 else _TICK_SMALL)
        return trusted(
            Quote,
            {
                "symbol": symbol,
                "timestamp": moment,
                "bid_price": bid,
                "ask_price": ask,
                "bid_size": _LOT,
                "ask_size": _LOT,
            },
        )

    def daily_bars(self, symbol: str, start: date, end: date, now: datetime) -> list[DailyBar]:
        """Bars in [start, end] as known at ``now``: completed sessions plus today's partial bar while open."""
        pos = self.calendar.position(now)
        if pos.session is None:
            return []
        self.market.ensure_through(pos.session)
        series = self._series(symbol)
        if series is None:
            return []
        last = min(end, pos.session)
        lo, hi = series.slice(start, last)
        factor = self._factor(symbol, pos.session)  # adjusted as of now, like Alpaca's adjustment=all
        bars = [series.bar_at(i).scaled(factor) for i in range(lo, hi)]
        if bars and bars[-1].session == pos.session and pos.fraction < 1.0:
            bars[-1] = self._partial(symbol, bars[-1], pos.fraction)
        return bars

    def _partial(self, symbol: str, bar: DailyBar, fraction: float) -> DailyBar:
        path = self._path(symbol, bar.session)
        if path is None:
            return bar
        xs, ys = path
        now_price = _interp(fraction, path)
        seen = [ys[i] for i in range(len(xs)) if xs[i] <= fraction] + [now_price]
        return DailyBar(bar.session, bar.open, max(seen), min(seen), now_price, bar.volume * fraction)

    def latest_bar(self, symbol: str, now: datetime) -> DailyBar | None:
        pos = self.calendar.position(now)
        if pos.session is None:
            return None
        bars = self.daily_bars(symbol, pos.session - timedelta(days=10), pos.session, now)
        return bars[-1] if bars else None


def _interp(fraction: float, path: tuple[tuple[float, ...], tuple[float, ...]]) -> float:
    xs, ys = path
    if fraction <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if fraction <= xs[i]:
            x0, x1 = xs[i - 1], xs[i]
            return ys[i - 1] + (ys[i] - ys[i - 1]) * (fraction - x0) / (x1 - x0)
    return ys[-1]


def _first_crossing(
    path: tuple[tuple[float, ...], tuple[float, ...]], start: float, threshold: float, *, below: bool
) -> float | None:
    """Smallest fraction f ≥ start with path(f) ≤ threshold (``below``) or ≥ threshold; ``None`` if never."""

    def ok(value: float) -> bool:
        return value <= threshold if below else value >= threshold

    xs, ys = path
    if ok(_interp(start, path)):
        return start
    for i in range(1, len(xs)):
        x0, x1 = xs[i - 1], xs[i]
        if x1 <= start:
            continue
        lo = max(x0, start)
        y_lo, y1 = _interp(lo, path), ys[i]
        if ok(y1):
            if y1 == y_lo:
                return lo
            return lo + (x1 - lo) * (threshold - y_lo) / (y1 - y_lo)
    return None
