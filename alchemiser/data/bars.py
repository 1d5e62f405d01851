"""Daily bar sources: the ``BarSource`` protocol and ``CsvBarSource`` (a folder of ``SYMBOL.csv`` files).

CSV format (as in ``../shared/data/bars``): header exactly ``date,open,high,low,close,adj_close,volume``; one row
per session, dates ``YYYY-MM-DD`` strictly increasing; prices positive; volume may be empty or 0. Indicators use
``adj_close``. A malformed file raises :class:`~alchemiser.errors.DataError` naming the file and the row.
See :mod:`alchemiser.data.prices` for how symbols are aligned on one date axis (no forward fill).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.data.prices import DateArray, FloatArray, PriceMatrix, to_date64
from alchemiser.errors import DataError

CSV_HEADER = ("date", "open", "high", "low", "close", "adj_close", "volume")
_CSV_DTYPES: dict[str, str | type[str]] = {"date": str, "volume": "float64"}
_SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,14}\Z")


@dataclass(frozen=True, eq=False)
class SymbolBars:
    """Daily bars of one symbol, oldest first (float64 arrays; ``volume`` NaN where the source had none)."""

    symbol: str
    dates: DateArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    adj_close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    def until(self, end: dt.date | str | np.datetime64) -> SymbolBars:
        """Bars on or before ``end``."""
        stop = int(np.searchsorted(self.dates, to_date64(end), side="right"))
        return SymbolBars(
            self.symbol,
            self.dates[:stop],
            self.open[:stop],
            self.high[:stop],
            self.low[:stop],
            self.close[:stop],
            self.adj_close[:stop],
            self.volume[:stop],
        )


@runtime_checkable
class BarSource(Protocol):
    """Where daily bars come from (CSV folder, store cache, synthetic market, Alpaca data API wrapper)."""

    def available(self) -> frozenset[str]:
        """Symbols this source can serve."""
        ...

    def bars(self, symbol: str) -> SymbolBars | None:
        """All bars of ``symbol``, or None when the source has none for it."""
        ...


def price_matrix(source: BarSource, symbols: Iterable[str], end: dt.date | str | None = None) -> PriceMatrix:
    """Adjusted closes of ``symbols`` (those the source has) aligned on the union of their dates, up to ``end``."""
    columns: dict[str, tuple[DateArray, FloatArray]] = {}
    for symbol in dict.fromkeys(symbols):
        bars = source.bars(symbol)
        if bars is None:
            continue
        if end is not None:
            bars = bars.until(end)
        columns[symbol] = (bars.dates, bars.adj_close)
    return PriceMatrix.from_columns(columns)


class CsvBarSource:
    """Reads ``<folder>/<SYMBOL>.csv`` on first use and keeps the parsed bars (one instance per data folder)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(f"bar folder {self.folder} does not exist or is not a directory")
        self._cache: dict[str, SymbolBars | None] = {}

    def available(self) -> frozenset[str]:
        return frozenset(p.stem for p in self.folder.glob("*.csv") if _SYMBOL_RE.match(p.stem))

    def bars(self, symbol: str) -> SymbolBars | None:
        if symbol not in self._cache:
            path = self.folder / f"{symbol}.csv"
            self._cache[symbol] = read_bars_csv(path, symbol) if _SYMBOL_RE.match(symbol) and path.is_file() else None
        return self._cache[symbol]

    def prices(self, symbols: Iterable[str], end: dt.date | str | None = None) -> PriceMatrix:
        return price_matrix(self, symbols, end)


class LoadedBarSource:
    """Bars of some symbols read once from another source, to be shipped whole (to Dask workers, say).

    A symbol whose file was malformed keeps its ``DataError`` and raises it when asked for, as the folder would:
    only the backtests that use that symbol fail.
    """

    def __init__(self, bars: Mapping[str, SymbolBars | DataError]) -> None:
        self._bars = dict(bars)

    @classmethod
    def read(cls, source: BarSource, symbols: Iterable[str]) -> LoadedBarSource:
        """The bars ``source`` has of ``symbols`` (the others stay unavailable)."""
        available = source.available()
        loaded: dict[str, SymbolBars | DataError] = {}
        for symbol in dict.fromkeys(symbols):
            if symbol not in available:
                continue
            try:
                bars = source.bars(symbol)
            except DataError as exc:
                loaded[symbol] = exc
                continue
            if bars is not None:
                loaded[symbol] = bars
        return cls(loaded)

    def available(self) -> frozenset[str]:
        return frozenset(self._bars)

    def bars(self, symbol: str) -> SymbolBars | None:
        found = self._bars.get(symbol)
        if isinstance(found, DataError):
            raise found
        return found


def read_bars_csv(path: str | Path, symbol: str | None = None) -> SymbolBars:
    """Parse one bar file strictly; DataError names the file and the first bad row (1-based line number)."""
    p = Path(path)
    sym = symbol or p.stem
    try:
        with p.open("r", encoding="utf-8-sig", newline="") as fh:
            header = fh.readline().strip()
    except OSError as exc:
        raise DataError(f"{p}: cannot read bar file: {exc.strerror or exc}") from exc
    if tuple(header.split(",")) != CSV_HEADER:
        raise DataError(f"{p}:1: header must be {','.join(CSV_HEADER)!r}, got {header[:80]!r}")
    try:
        frame = pd.read_csv(
            p,
            encoding="utf-8-sig",
            dtype=_CSV_DTYPES,
            skip_blank_lines=False,
            keep_default_na=False,
            na_values={"volume": [""]},
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{p}: malformed bar file: {exc}") from exc
    n = len(frame)
    if n == 0:
        raise DataError(f"{p}: bar file has no rows")
    raw_dates = frame["date"].to_numpy(dtype=object)
    bad = [i for i, d in enumerate(raw_dates) if not (isinstance(d, str) and len(d) == 10)]
    if bad:
        raise DataError(f"{p}:{bad[0] + 2}: bad date {raw_dates[bad[0]]!r} (expected YYYY-MM-DD)")
    try:
        dates = np.array(raw_dates.astype(str), dtype="datetime64[D]")
    except ValueError as exc:
        raise DataError(f"{p}: bad date: {exc}") from exc
    if n > 1:
        not_increasing = np.flatnonzero(dates[1:] <= dates[:-1])
        if not_increasing.shape[0]:
            i = int(not_increasing[0]) + 1
            raise DataError(f"{p}:{i + 2}: date {dates[i]} is not after the previous row's {dates[i - 1]}")
    cols: dict[str, FloatArray] = {}
    for name in CSV_HEADER[1:6]:
        try:
            col = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{p}: column {name!r} holds a non-number: {exc}") from exc
        bad_rows = np.flatnonzero(~(np.isfinite(col) & (col > 0)))
        if bad_rows.shape[0]:
            i = int(bad_rows[0])
            raise DataError(f"{p}:{i + 2}: {name} must be a positive number, got {frame[name].iloc[i]!r}")
        cols[name] = col
    volume: npt.NDArray[np.float64] = frame["volume"].to_numpy(dtype=np.float64)
    return SymbolBars(sym, dates, cols["open"], cols["high"], cols["low"], cols["close"], cols["adj_close"], volume)
