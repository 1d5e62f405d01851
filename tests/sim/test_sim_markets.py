"""Synthetic market (determinism, leverage, positivity, history), CSV replay, and the intraday quote model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from alchemiser.errors import DataError
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.market import CsvMarket, QuoteModel, load_csv_series
from alchemiser.sim.synthetic import DEFAULT_DERIVED, SyntheticMarket

# fmt: off
DEFAULT_STRATEGY_TICKERS = [
    "SPY", "IOO", "TQQQ", "VTV", "XLF", "VOX", "UVXY", "BTAL", "UPRO", "SMR", "BWXT", "LEU", "EXC", "NLR", "OKLO",
    "PSQ", "SQQQ", "QQQ", "TLT", "IEF", "XLK", "KMLM", "TECL", "BIL", "BSV", "SPXL", "QQQE", "VOOG", "VOOV", "XLP",
    "XLY", "FAS", "VIXM", "SOXL", "FNGU", "UUP", "FTLS", "LABU", "SVIX", "TMV", "TMF", "SVXY",
]
# fmt: on


def test_covers_every_default_strategy_ticker(synthetic: SyntheticMarket) -> None:
    missing = set(DEFAULT_STRATEGY_TICKERS) - set(synthetic.symbols())
    assert not missing


def test_has_years_of_history_before_the_start(synthetic: SyntheticMarket) -> None:
    for symbol in DEFAULT_STRATEGY_TICKERS:
        series = synthetic.series(symbol)
        assert series is not None
        idx = series.index_of(date(2025, 6, 2))
        assert idx is not None and idx >= 3 * 250, symbol


def test_deterministic_for_a_seed_and_different_across_seeds(xnys: XnysCalendar) -> None:
    a = SyntheticMarket(xnys, seed=3, start=date(2024, 3, 1), history_years=3)
    b = SyntheticMarket(xnys, seed=3, start=date(2024, 3, 1), history_years=3)
    c = SyntheticMarket(xnys, seed=4, start=date(2024, 3, 1), history_years=3)
    for symbol in ("SPY", "TQQQ", "UVXY", "BIL"):
        sa, sb, sc = a.series(symbol), b.series(symbol), c.series(symbol)
        assert sa is not None and sb is not None and sc is not None
        assert np.array_equal(sa.close, sb.close) and np.array_equal(sa.high, sb.high)
        assert not np.array_equal(sa.close, sc.close)


def test_extending_day_by_day_equals_generating_at_once(xnys: XnysCalendar) -> None:
    stepwise = SyntheticMarket(xnys, seed=5, start=date(2024, 1, 2), history_years=1)
    day = date(2024, 1, 2)
    while day < date(2024, 12, 31):
        day += timedelta(days=1)
        stepwise.ensure_through(day)
    at_once = SyntheticMarket(xnys, seed=5, start=date(2024, 1, 2), history_years=1)
    at_once.ensure_through(date(2024, 12, 31))
    for symbol in ("SPY", "SOXL", "VIXM"):
        s1, s2 = stepwise.series(symbol), at_once.series(symbol)
        assert s1 is not None and s2 is not None
        n = min(len(s1), len(s2))
        assert n > 400
        np.testing.assert_allclose(s1.close[:n], s2.close[:n], rtol=1e-12)
        np.testing.assert_array_equal(s1.days[:n], s2.days[:n])


def test_leveraged_daily_returns_are_leverage_times_underlying(synthetic: SyntheticMarket) -> None:
    for spec in DEFAULT_DERIVED:
        lev, und = synthetic.series(spec.symbol), synthetic.series(spec.underlying)
        assert lev is not None and und is not None
        r_lev = lev.close[1:] / lev.close[:-1] - 1
        r_und = und.close[1:] / und.close[:-1] - 1
        np.testing.assert_allclose(r_lev, spec.leverage * r_und, rtol=1e-9, atol=1e-12, err_msg=spec.symbol)


def test_prices_positive_and_bars_consistent(synthetic: SyntheticMarket) -> None:
    synthetic.ensure_through(date(2026, 6, 1))
    for symbol in synthetic.symbols():
        s = synthetic.series(symbol)
        assert s is not None
        assert bool(np.all(s.low > 0)), symbol
        assert bool(np.all(s.high >= np.maximum(s.open, s.close) - 1e-9)), symbol
        assert bool(np.all(s.low <= np.minimum(s.open, s.close) + 1e-9)), symbol
        assert bool(np.all(np.diff(s.days) > 0)), symbol


def test_factor_structure_is_visible(synthetic: SyntheticMarket) -> None:
    def rets(symbol: str) -> np.ndarray:  # type: ignore[type-arg]
        s = synthetic.series(symbol)
        assert s is not None
        return s.close[1:] / s.close[:-1] - 1

    spy, qqq, tlt, uvxy, bil = (rets(s) for s in ("SPY", "QQQ", "TLT", "UVXY", "BIL"))
    assert np.corrcoef(spy, qqq)[0, 1] > 0.8
    assert np.corrcoef(spy, uvxy)[0, 1] < -0.4
    assert np.std(bil) < np.std(tlt) / 20
    assert 0 < np.mean(bil) < 0.0005
    uvxy_series = synthetic.series("UVXY")
    assert uvxy_series is not None
    assert uvxy_series.close[0] > uvxy_series.close[-1]  # volatility products decay


def test_memory_is_numpy_compact(synthetic: SyntheticMarket) -> None:
    per_symbol_day = synthetic.nbytes / (len(synthetic.symbols()) * 800)
    assert per_symbol_day < 400  # bytes; 5 float64 columns + day numbers + generator state


def test_csv_series_adjusts_prices(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text(
        "date,open,high,low,close,adj_close,volume\n2024-01-02,20,22,19,21,21,200\n2024-01-03,10,12,9,11,5.5,\n"
    )
    series = load_csv_series(path)
    assert list(series.close) == [21.0, 5.5]
    assert series.high[1] == pytest.approx(6.0) and series.low[1] == pytest.approx(4.5)
    assert list(series.volume) == [200.0, 0.0]  # an empty volume cell reads as 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,open,high,low\n2024-01-02,1,1,1\n", "header must be"),
        ("date,open,high,low,close,adj_close,volume\nnot-a-date,1,1,1,1,1,1\n", "bad date"),
        ("date,open,high,low,close,adj_close,volume\n2024-01-02,1,1,1,0,1,1\n", "close must be a positive number"),
    ],
)
def test_csv_bad_input_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "BAD.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_csv_series(path)


def test_csv_market_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        CsvMarket(tmp_path / "nope")


def test_csv_market_replays_shared_bars(shared_bars_dir: Path, xnys: XnysCalendar) -> None:
    market = CsvMarket(shared_bars_dir, symbols=["SPY", "TQQQ"])
    quotes = QuoteModel(market, xnys, spread_bps=2.0)
    series = market.series("SPY")
    assert series is not None and len(series) > 1000
    session = date.fromordinal(date(1970, 1, 1).toordinal() + int(series.days[-5]))
    close = xnys.session_close(session)
    assert quotes.mid("SPY", close) == pytest.approx(series.close[-5])


def test_quote_path_follows_the_bar(synthetic: SyntheticMarket, xnys: XnysCalendar) -> None:
    quotes = QuoteModel(synthetic, xnys, spread_bps=10.0, seed=7)
    session = date(2025, 6, 4)
    bar = quotes.latest_bar("SPY", xnys.session_close(session))
    assert bar is not None
    open_at = xnys.session_open(session)
    mids = [quotes.mid("SPY", open_at + timedelta(minutes=m)) for m in range(0, 391)]
    assert mids[0] == pytest.approx(bar.open) and mids[-1] == pytest.approx(bar.close)
    assert max(mids) == pytest.approx(bar.high, rel=1e-4) and min(mids) == pytest.approx(bar.low, rel=1e-4)
    assert bar.low - 1e-9 <= min(mids) and max(mids) <= bar.high + 1e-9
    q = quotes.quote("SPY", open_at + timedelta(minutes=100))
    assert q.bid_price < q.ask_price
    spread_bps = float((q.ask_price - q.bid_price) / q.mid) * 10_000
    assert 9.0 < spread_bps < 11.0
    # Before the open the quote is the previous close; the partial daily bar grows through the session.
    prev = quotes.latest_bar("SPY", open_at - timedelta(hours=1))
    assert prev is not None and prev.session < session
    partial = quotes.latest_bar("SPY", open_at + timedelta(minutes=10))
    assert partial is not None and partial.session == session and partial.close == pytest.approx(mids[10])


def test_no_bars_from_the_future(synthetic: SyntheticMarket, xnys: XnysCalendar) -> None:
    quotes = QuoteModel(synthetic, xnys)
    now = datetime(2025, 6, 4, 15, 0, tzinfo=UTC)
    bars = quotes.daily_bars("SPY", date(2025, 5, 1), date(2025, 12, 31), now)
    assert bars[-1].session == date(2025, 6, 4)
    assert quotes.daily_bars("NOPE", date(2025, 5, 1), date(2025, 6, 1), now) == []
