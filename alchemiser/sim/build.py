"""Assemble a simulated exchange from a few options (used by the CLI, the daemon's ``sim`` mode and tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from alchemiser.broker.models import NEW_YORK
from alchemiser.errors import ConfigError
from alchemiser.sim.assets import DEFAULT_NON_FRACTIONABLE, AssetBook
from alchemiser.sim.calendar import AlwaysOpenCalendar, SessionCalendar, XnysCalendar
from alchemiser.sim.core import SimExchange
from alchemiser.sim.corporate_actions import CorporateActions
from alchemiser.sim.corporate_events import CorporateEvent
from alchemiser.sim.exchange_config import ExchangeConfig
from alchemiser.sim.market import CsvMarket, Market, QuoteModel
from alchemiser.sim.synthetic import SyntheticMarket

SYNTHETIC = "synthetic"


@dataclass(frozen=True, slots=True)
class SimOptions:
    """What to simulate. ``data`` is ``"synthetic"`` or a folder of ``SYMBOL.csv`` daily bars."""

    data: str | Path = SYNTHETIC
    seed: int = 0
    start: date | None = None  # first simulated session (synthetic: history runs up to it)
    history_years: int = 5
    always_open: bool = False
    spread_bps: float = 2.0
    extra_symbols: tuple[str, ...] = ()
    non_fractionable: frozenset[str] = DEFAULT_NON_FRACTIONABLE
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    corporate_events: tuple[CorporateEvent, ...] = ()  # splits, dividends, halts, closings, renames


@dataclass(frozen=True, slots=True)
class SimParts:
    exchange: SimExchange
    market: Market
    calendar: SessionCalendar
    xnys: XnysCalendar
    start: date


def default_start(today: date) -> date:
    """The synthetic market's default first session: the most recent weekday before ``today``."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def csv_last_session(folder: Path) -> date:
    """The most common last date across a folder's ``SYMBOL.csv`` files (a CSV replay's default session)."""
    counts: Counter[date] = Counter()
    for path in folder.glob("*.csv"):
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 256))
            lines = fh.read().decode(errors="replace").strip().splitlines()
        if lines:
            try:
                counts[date.fromisoformat(lines[-1].split(",", 1)[0])] += 1
            except ValueError:
                continue  # a malformed file is reported when the market loads it
    if not counts:
        raise ConfigError([f"sim data: no readable bar CSVs in {folder}"])
    return counts.most_common(1)[0][0]


def build_sim(options: SimOptions, *, now: datetime, extra_symbols: Iterable[str] = ()) -> SimParts:
    """Build calendar, market, quote model, assets and exchange. ``now`` is the exchange's creation instant."""
    xnys = XnysCalendar()
    market: Market
    if str(options.data) == SYNTHETIC:
        start = options.start or default_start(now.astimezone(NEW_YORK).date())
        session = xnys.session_dates(start, start + timedelta(days=10))
        if not session:
            raise ConfigError([f"sim start {start}: no NYSE session within 10 days"])
        market = SyntheticMarket(
            xnys,
            seed=options.seed,
            start=session[0],
            history_years=options.history_years,
            extra_symbols=(*options.extra_symbols, *extra_symbols),
        )
        start = session[0]
    else:
        folder = Path(options.data)
        if not folder.is_dir():
            raise ConfigError([f"sim data: {folder} is not a folder of bar CSVs (or use 'synthetic')"])
        market = CsvMarket(folder)
        start = options.start or now.astimezone(NEW_YORK).date()
    calendar: SessionCalendar = AlwaysOpenCalendar(xnys) if options.always_open else xnys
    quotes = QuoteModel(market, calendar, spread_bps=options.spread_bps, seed=options.seed)
    assets = AssetBook(market.symbols(), non_fractionable=options.non_fractionable)
    renamed_to = {e.new_symbol for e in options.corporate_events if e.kind == "rename"}
    for event in options.corporate_events:
        if assets.find(event.symbol) is None and event.symbol not in renamed_to:
            raise ConfigError([f"corporate event {event.kind} {event.effective}: unknown symbol {event.symbol}"])
    corporate = CorporateActions(options.corporate_events, calendar)
    exchange = SimExchange(quotes, calendar, assets, options.exchange, created_at=now, corporate=corporate)
    return SimParts(exchange, market, calendar, xnys, start)


def instant_before_close(calendar: XnysCalendar, session: date, minutes: float) -> datetime:
    """``minutes`` before the close of ``session`` (e.g. to start the sim shortly before a decision time)."""
    return calendar.session_close(session) - timedelta(minutes=minutes)


def session_open_instant(session: date) -> datetime:
    """09:30 New York on ``session``, as UTC (not checked against the calendar)."""
    return datetime.combine(session, time(9, 30), NEW_YORK).astimezone(UTC)
