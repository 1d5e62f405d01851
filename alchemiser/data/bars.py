"""Daily bar sources: the ``BarSource`` protocol and ``CsvBarSource`` (a folder of ``SYMBOL.csv`` files).

CSV format (as in ``../shared/data/bars``): header exactly ``date,open,high,low,close,adj_close,volume``; one row
per session, dates ``YYYY-MM-DD`` strictly increasing; prices positive; volume may be empty or 0. Indicators use
``adj_close``. A malformed file raises :class:`~alchemiser.errors.DataError` naming the file and the row (the parser
is :mod:`alchemiser.data.bar_csv`, numpy only).
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

from alchemiser.data.bar_csv import CSV_HEADER, parse_bars_csv
from alchemiser.data.prices import DateArray, FloatArray, PriceMatrix, to_date64
from alchemiser.errors import DataError

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
    dates, columns = parse_bars_csv(p)
    return SymbolBars(symbol or p.stem, dates, *(columns[name] for name in CSV_HEADER[1:]))
