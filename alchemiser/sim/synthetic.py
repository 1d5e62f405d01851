"""A seeded synthetic market with a factor structure, for the zero-setup default run.

Daily close-to-close returns are built from shared factors:

* an equity index (``SPY``) with GARCH(1,1) volatility and fat-tailed shocks;
* sector / style factors (tech, financials, semis, biotech, nuclear, …) loaded on by ETFs and stocks;
* a rates factor (``TLT``, ``IEF``, ``BSV`` by duration), a dollar factor, a trend factor;
* a short-term VIX futures index (``VIXY``) that spikes when the index falls and decays by contango;
* T-bill-like cash funds (``BIL``) with a small steady drift.

Leveraged and inverse ETFs are *derived*: each day's return is exactly ``leverage × underlying's`` (and their
open/high/low follow the underlying's intraday moves the same way), so ``TQQQ`` is 3 × ``QQQ``, ``SQQQ`` −3 ×.

Determinism: random shocks come in blocks of 256 sessions, each block from its own generator seeded by
``(seed, stream, block)``, and stateful parts (volatility) run forward from the origin; so a market extended day
by day is identical to one generated at once. Prices are scaled once, so that each symbol trades near a realistic
level on ``start`` (the history before it is the "years of history" indicators need on day one).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from alchemiser.errors import DataError
from alchemiser.sim.calendar import XnysCalendar
from alchemiser.sim.market import BarSeries, FloatArray, IntArray, day_number

BLOCK = 256
TRADING_DAYS = 252.0
RETURN_CLIP = 0.25  # underlying daily returns stay in ±25%, so a 3x ETF can never reach zero
INTRADAY_CLIP = 0.3  # and intraday extremes within ±30% of the previous close


@dataclass(frozen=True, slots=True)
class Base:
    """A symbol whose returns come from factors: r = drift + Σ loading × factor + idio × ε."""

    symbol: str
    loadings: dict[str, float]
    idio: float  # daily volatility of the idiosyncratic part
    drift: float = 0.0  # extra daily drift
    price: float = 100.0  # level on the start date
    volume: float = 1e6


@dataclass(frozen=True, slots=True)
class Derived:
    """A leveraged / inverse ETF: daily return = leverage × underlying's daily return."""

    symbol: str
    underlying: str
    leverage: float
    price: float = 50.0
    volume: float = 5e6


_MKT = "market"

DEFAULT_BASES: tuple[Base, ...] = (
    Base("SPY", {_MKT: 1.0}, 0.0, price=560.0, volume=7e7),
    Base("IOO", {_MKT: 0.9, "intl": 0.5}, 0.003, price=95.0),
    Base("QQQ", {_MKT: 1.1, "tech": 0.8}, 0.002, price=480.0, volume=4e7),
    Base("QQQE", {_MKT: 1.0, "tech": 0.5}, 0.003, price=90.0),
    Base("VTV", {_MKT: 0.85, "value": 0.6}, 0.002, price=165.0),
    Base("VOOG", {_MKT: 1.05, "tech": 0.4}, 0.002, price=330.0),
    Base("VOOV", {_MKT: 0.9, "value": 0.6}, 0.002, price=185.0),
    Base("XLK", {_MKT: 1.15, "tech": 1.0}, 0.003, price=220.0),
    Base("XLF", {_MKT: 1.1, "fin": 1.0}, 0.003, price=45.0),
    Base("XLP", {_MKT: 0.55, "staples": 0.8}, 0.003, price=80.0),
    Base("XLY", {_MKT: 1.1, "disc": 0.9}, 0.003, price=190.0),
    Base("VOX", {_MKT: 0.95, "comm": 0.9}, 0.004, price=140.0),
    Base("SOXX", {_MKT: 1.3, "tech": 0.8, "semis": 1.0}, 0.005, price=220.0),
    Base("FNGS", {_MKT: 1.2, "tech": 1.1}, 0.006, price=55.0),
    Base("XBI", {_MKT: 1.1, "biotech": 1.0}, 0.008, price=95.0),
    Base("NLR", {_MKT: 0.8, "nuclear": 0.6}, 0.006, price=90.0),
    Base("BWXT", {_MKT: 0.9, "nuclear": 0.5}, 0.015, price=110.0),
    Base("LEU", {_MKT: 1.2, "nuclear": 1.2}, 0.035, price=70.0),
    Base("SMR", {_MKT: 1.4, "nuclear": 1.5}, 0.05, price=20.0),
    Base("OKLO", {_MKT: 1.5, "nuclear": 1.6}, 0.05, price=25.0),
    Base("EXC", {_MKT: 0.45, "utilities": 0.8, "nuclear": 0.2}, 0.010, price=42.0),
    Base("TLT", {"rates": 1.0, _MKT: -0.15}, 0.001, price=92.0),
    Base("IEF", {"rates": 0.45, _MKT: -0.05}, 0.0008, price=95.0),
    Base("BSV", {"rates": 0.12}, 0.0005, price=78.0),
    Base("BIL", {}, 0.00003, drift=0.00016, price=91.5),
    Base("UUP", {"dollar": 1.0, _MKT: -0.05}, 0.002, price=28.0),
    Base("KMLM", {"trend": 1.0, _MKT: -0.1}, 0.004, price=27.0),
    Base("BTAL", {_MKT: -0.45, "value": -0.3}, 0.005, price=20.0),
    Base("FTLS", {_MKT: 0.45}, 0.003, price=66.0),
    Base("GLD", {"gold": 1.0, "dollar": -0.4}, 0.003, price=240.0),
    Base("VIXY", {"vix": 1.0}, 0.0, price=14.0, volume=5e6),
    Base("VIXM", {"vix": 0.45}, 0.006, drift=0.0008, price=45.0),
)

DEFAULT_DERIVED: tuple[Derived, ...] = (
    Derived("TQQQ", "QQQ", 3.0, price=75.0),
    Derived("SQQQ", "QQQ", -3.0, price=8.0),
    Derived("PSQ", "QQQ", -1.0, price=38.0),
    Derived("UPRO", "SPY", 3.0, price=85.0),
    Derived("SPXL", "SPY", 3.0, price=160.0),
    Derived("TECL", "XLK", 3.0, price=90.0),
    Derived("FAS", "XLF", 3.0, price=140.0),
    Derived("SOXL", "SOXX", 3.0, price=30.0),
    Derived("FNGU", "FNGS", 3.0, price=400.0),
    Derived("LABU", "XBI", 3.0, price=110.0),
    Derived("TMF", "TLT", 3.0, price=45.0),
    Derived("TMV", "TLT", -3.0, price=35.0),
    Derived("UVXY", "VIXY", 1.5, price=30.0),
    Derived("SVXY", "VIXY", -0.5, price=48.0),
    Derived("SVIX", "VIXY", -1.0, price=25.0),
)

# Daily volatilities of the non-market factors.
FACTOR_VOLS: dict[str, float] = {
    "intl": 0.004,
    "tech": 0.006,
    "value": 0.004,
    "fin": 0.007,
    "staples": 0.004,
    "disc": 0.006,
    "comm": 0.006,
    "semis": 0.010,
    "biotech": 0.012,
    "nuclear": 0.020,
    "utilities": 0.007,
    "rates": 0.009,
    "dollar": 0.004,
    "trend": 0.006,
    "gold": 0.008,
}

MARKET_DRIFT = 0.0004  # ≈ 10 % a year
MARKET_VOL = 0.011  # long-run daily volatility (≈ 17.5 % a year)
GARCH_ALPHA = 0.09
GARCH_BETA = 0.89
VIX_BETA = -3.0  # VIX futures move ≈ −3 × the index
VIX_CARRY = -0.002  # contango decay per day
VIX_SPIKE_PROB = 0.01
VIX_NOISE = 0.02


def _stream_seed(seed: int, stream: str, block: int) -> list[int]:
    return [seed & 0xFFFFFFFF, zlib.crc32(stream.encode()), block]


@dataclass(slots=True)
class _Columns:
    """Growing per-symbol arrays (returns and intraday ratios to the previous close)."""

    ret: list[FloatArray] = field(default_factory=list)
    open_r: list[FloatArray] = field(default_factory=list)
    high_r: list[FloatArray] = field(default_factory=list)
    low_r: list[FloatArray] = field(default_factory=list)
    vol_m: list[FloatArray] = field(default_factory=list)


class SyntheticMarket:
    """Seeded synthetic daily bars from ``start − history_years`` onward, extended on demand.

    ``extra_symbols`` adds plain equities (market beta ≈ 1 plus idiosyncratic noise) for strategies that reference
    tickers outside the default universe.
    """

    def __init__(
        self,
        calendar: XnysCalendar,
        *,
        seed: int = 0,
        start: date,
        history_years: int = 5,
        bases: Sequence[Base] = DEFAULT_BASES,
        derived: Sequence[Derived] = DEFAULT_DERIVED,
        extra_symbols: Iterable[str] = (),
    ) -> None:
        if history_years < 0:
            raise ValueError("history_years must be ≥ 0")
        self.calendar = calendar
        self.seed = seed
        self.start = start
        extra = [
            Base(s.upper(), {_MKT: 1.0}, 0.012, price=50.0)
            for s in extra_symbols
            if s.upper() not in {b.symbol for b in bases} | {d.symbol for d in derived}
        ]
        self.bases: tuple[Base, ...] = (*bases, *extra)
        self.derived: tuple[Derived, ...] = tuple(derived)
        base_names = {b.symbol for b in self.bases}
        for d in self.derived:
            if d.underlying not in base_names:
                raise ValueError(f"{d.symbol}: underlying {d.underlying} is not a base symbol")
            if abs(d.leverage) * INTRADAY_CLIP >= 1.0:
                raise ValueError(f"{d.symbol}: leverage {d.leverage} could drive the price to zero")
        self._index = {b.symbol: i for i, b in enumerate(self.bases)}
        self._factors = [_MKT, "vix", *FACTOR_VOLS]
        origin = start - timedelta(days=int(history_years * 365.25) + 7)
        self._days: IntArray = calendar.session_days(origin, start)
        if len(self._days) < 2:
            raise DataError(f"no sessions between {origin} and {start}")
        self._origin_day = int(self._days[0])
        # Stateful parts carried across extensions.
        self._var = MARKET_VOL**2
        self._last_mkt = 0.0
        self._blocks: dict[tuple[str, int], FloatArray] = {}
        n_sym = len(self.bases)
        self._ret = np.zeros((0, n_sym))
        self._open_r = np.zeros((0, n_sym))
        self._high_r = np.zeros((0, n_sym))
        self._low_r = np.zeros((0, n_sym))
        self._vol_m = np.zeros((0, n_sym))
        self._generate(len(self._days))
        self._scale = self._initial_scale()
        self._series: dict[str, BarSeries] = {}

    # ---- shocks -------------------------------------------------------------------------------------------------

    def _shocks(self, stream: str, first: int, count: int, width: int = 1) -> FloatArray:
        """Standard-normal shocks for sessions [first, first+count) of ``stream``, chunking-independent."""
        out = np.empty((count, width))
        pos = 0
        while pos < count:
            day = first + pos
            block, offset = divmod(day, BLOCK)
            key = (stream, block)
            data = self._blocks.get(key)
            if data is None:
                rng = np.random.default_rng(_stream_seed(self.seed, stream, block))
                data = rng.standard_normal((BLOCK, width))
                self._blocks[key] = data
            take = min(BLOCK - offset, count - pos)
            out[pos : pos + take] = data[offset : offset + take]
            pos += take
        return out

    # ---- generation ---------------------------------------------------------------------------------------------

    def _generate(self, upto: int) -> None:
        """Generate returns for sessions [len(self._ret), upto)."""
        first = len(self._ret)
        count = upto - first
        if count <= 0:
            return
        z_mkt = self._shocks("market", first, count)[:, 0]
        z_tail = self._shocks("market-tail", first, count)[:, 0]
        z_vix = self._shocks("vix", first, count)[:, 0]
        u_spike = self._shocks("vix-spike", first, count)[:, 0]
        z_fac = self._shocks("factors", first, count, len(FACTOR_VOLS))
        z_idio = np.column_stack([self._shocks(f"idio:{b.symbol}", first, count)[:, 0] for b in self.bases])
        z_intra = np.hstack([self._shocks(f"intra:{b.symbol}", first, count, 3) for b in self.bases])
        omega = MARKET_VOL**2 * (1.0 - GARCH_ALPHA - GARCH_BETA)
        mkt = np.empty(count)
        sig = np.empty(count)
        var, last = self._var, self._last_mkt
        for i in range(count):
            var = omega + GARCH_ALPHA * last * last + GARCH_BETA * var
            s = float(np.sqrt(var))
            # Fat tails: occasionally scale the shock up (a mixture, cheap and deterministic).
            shock = z_mkt[i] * (2.5 if z_tail[i] > 2.0 else 1.0)
            last = float(np.clip(MARKET_DRIFT + s * shock, -0.12, 0.12))
            mkt[i], sig[i] = last, s
        self._var, self._last_mkt = var, last
        spikes = np.where(u_spike > 2.58, np.abs(z_vix) * 0.1 + 0.05, 0.0)  # ≈ 0.5 % of days
        vix = np.clip(
            VIX_BETA * (mkt - MARKET_DRIFT) * (sig / MARKET_VOL) ** 0.5 + VIX_CARRY + VIX_NOISE * z_vix + spikes,
            -RETURN_CLIP,
            RETURN_CLIP,
        )
        factors = {_MKT: mkt, "vix": vix}
        for j, name in enumerate(FACTOR_VOLS):
            factors[name] = FACTOR_VOLS[name] * z_fac[:, j]
        n_sym = len(self.bases)
        ret = np.empty((count, n_sym))
        for k, b in enumerate(self.bases):
            r = np.full(count, b.drift)
            for name, loading in b.loadings.items():
                r += loading * factors[name]
            r += b.idio * z_idio[:, k]
            ret[:, k] = np.clip(r, -RETURN_CLIP, RETURN_CLIP)
        # Intraday shape relative to the previous close: open gaps part of the way, extremes beyond open/close.
        vol_scale = np.maximum(np.abs(ret), 0.004)
        z_o, z_h, z_l = z_intra[:, 0::3], z_intra[:, 1::3], z_intra[:, 2::3]
        open_r = np.clip(0.3 * ret + 0.25 * vol_scale * z_o, -RETURN_CLIP, RETURN_CLIP)
        top = np.maximum(open_r, ret)
        bottom = np.minimum(open_r, ret)
        high_r = np.minimum(top + 0.4 * vol_scale * np.abs(z_h), INTRADAY_CLIP)
        low_r = np.maximum(bottom - 0.4 * vol_scale * np.abs(z_l), -INTRADAY_CLIP)
        vol_m = np.exp(0.3 * z_o + 2.0 * np.abs(ret))
        self._ret = np.vstack([self._ret, ret])
        self._open_r = np.vstack([self._open_r, open_r])
        self._high_r = np.vstack([self._high_r, high_r])
        self._low_r = np.vstack([self._low_r, low_r])
        self._vol_m = np.vstack([self._vol_m, vol_m])
        done = len(self._ret) // BLOCK  # blocks entirely consumed are never needed again
        for key in [k for k in self._blocks if k[1] < done]:
            del self._blocks[key]

    def _initial_scale(self) -> FloatArray:
        """Per-base multipliers so each base closes at its nominal price on the start session."""
        growth = np.prod(1.0 + self._ret, axis=0)
        prices = np.array([b.price for b in self.bases])
        return np.asarray(prices / growth, dtype=np.float64)

    def _extend_to(self, day: int) -> None:
        if day <= int(self._days[-1]):
            return
        last = date(1970, 1, 1) + timedelta(days=int(self._days[-1]))
        target = date(1970, 1, 1) + timedelta(days=day)
        new_days = self.calendar.session_days(last + timedelta(days=1), target + timedelta(days=BLOCK // 4))
        if len(new_days) == 0:
            raise DataError(f"no sessions after {last} in the calendar range")
        self._days = np.concatenate([self._days, new_days])
        self._generate(len(self._days))
        self._series.clear()

    # ---- Market protocol ----------------------------------------------------------------------------------------

    def symbols(self) -> Sequence[str]:
        return sorted([b.symbol for b in self.bases] + [d.symbol for d in self.derived])

    def ensure_through(self, session: date) -> None:
        self._extend_to(day_number(session))

    def series(self, symbol: str) -> BarSeries | None:
        symbol = symbol.upper()
        cached = self._series.get(symbol)
        if cached is not None:
            return cached
        if symbol in self._index:
            k = self._index[symbol]
            ohlc = self._build(self._ret[:, k], self._open_r[:, k], self._high_r[:, k], self._low_r[:, k])
            built = self._with_prices(ohlc, float(self._scale[k]), self.bases[k].volume * self._vol_m[:, k])
        else:
            spec = next((d for d in self.derived if d.symbol == symbol), None)
            if spec is None:
                return None
            k = self._index[spec.underlying]
            lev = spec.leverage
            columns = (self._ret[:, k], self._open_r[:, k], self._high_r[:, k], self._low_r[:, k])
            ret, o, h, lo = (lev * a for a in columns)
            if lev < 0:
                h, lo = lo, h
            growth = float(np.prod(1.0 + ret[: self._start_count()]))
            ohlc = self._build(ret, o, h, lo)
            built = self._with_prices(ohlc, spec.price / growth, spec.volume * self._vol_m[:, k])
        self._series[symbol] = built
        return built

    def _start_count(self) -> int:
        return int(np.searchsorted(self._days, day_number(self.start), side="right"))

    def _build(
        self, ret: FloatArray, open_r: FloatArray, high_r: FloatArray, low_r: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Unit-scaled OHLC from returns: close_t = Π(1 + r), others relative to the previous close."""
        close: FloatArray = np.cumprod(1.0 + ret, dtype=np.float64)
        prev: FloatArray = np.concatenate(([1.0], close[:-1]))
        return prev * (1.0 + open_r), prev * (1.0 + high_r), prev * (1.0 + low_r), close

    def _with_prices(
        self, ohlc: tuple[FloatArray, FloatArray, FloatArray, FloatArray], scale: float, volume: FloatArray
    ) -> BarSeries:
        o, h, lo, c = (a * scale for a in ohlc)
        return BarSeries(self._days.copy(), o, h, lo, c, np.round(volume))

    @property
    def nbytes(self) -> int:
        arrays = (self._ret, self._open_r, self._high_r, self._low_r, self._vol_m, self._days)
        blocks = sum(a.nbytes for a in self._blocks.values())
        return sum(a.nbytes for a in arrays) + blocks + sum(s.nbytes for s in self._series.values())

    @property
    def last_session(self) -> date:
        return date(1970, 1, 1) + timedelta(days=int(self._days[-1]))

    @property
    def first_session(self) -> date:
        return date(1970, 1, 1) + timedelta(days=int(self._days[0]))
