"""The quote model's intraday-path cache is bounded and forgetting a path never changes a quote."""

from __future__ import annotations

from datetime import date, timedelta

from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.market import _MAX_PATHS, QuoteModel
from alchemiser.sim.synthetic import SyntheticMarket


def test_path_cache_stays_bounded_and_quotes_do_not_change(xnys: XnysCalendar, synthetic: SyntheticMarket) -> None:
    symbols = list(synthetic.symbols())
    sessions = xnys.session_dates(date(2023, 1, 3), date(2025, 5, 30))
    needed = len(symbols) * len(sessions)
    assert needed > _MAX_PATHS, "the test must ask for more paths than the cache holds"
    model = QuoteModel(synthetic, xnys, seed=7)
    first: dict[tuple[str, date], object] = {}
    for session in sessions:
        at = xnys.session_open(session) + timedelta(hours=2)
        for symbol in symbols:
            first[(symbol, session)] = model.quote(symbol, at).bid_price
            assert len(model._paths) <= _MAX_PATHS
    # Ask again for early sessions (long since evicted): the same quotes as a fresh model gives.
    fresh = QuoteModel(synthetic, xnys, seed=7)
    for session in sessions[:5]:
        at = xnys.session_open(session) + timedelta(hours=2)
        for symbol in symbols[:5]:
            assert model.quote(symbol, at).bid_price == first[(symbol, session)] == fresh.quote(symbol, at).bid_price
