"""Market data for strategies: bar sources and the aligned price matrix.

Public API::

    BarSource            protocol: available() -> frozenset[str]; bars(symbol) -> SymbolBars | None
    SymbolBars           one symbol's daily OHLCV (float64 arrays, datetime64[D] dates); .until(end)
    CsvBarSource(folder) reads <folder>/<SYMBOL>.csv (date,open,high,low,close,adj_close,volume); .prices(symbols, end)
    LoadedBarSource      bars of some symbols read once (.read(source, symbols)), to ship to other processes
    read_bars_csv(path)  strict parser of one bar file (DataError names file and line)
    price_matrix(source, symbols, end=None) -> PriceMatrix
    PriceMatrix          dates × symbols of adj_close, NaN where no bar; from_columns({sym: (dates, closes)}),
                         .column(sym), .index_of(date), .truncate(end), .select(symbols),
                         .with_row(date, {sym: price}) (provisional bar for the dsl.md §4 live policy)

Missing-data policy: see :mod:`alchemiser.data.prices` (union date axis, no forward fill, gaps make windows
unavailable).

The bar-file names are loaded on first use (PEP 562 ``__getattr__``): the symphony worker process needs only
:mod:`.prices`, and importing ``alchemiser.data.prices`` runs this package first. (:mod:`.bars` once read CSV with
pandas, which cost the worker about 55 MiB of resident memory; it reads with numpy alone now, see :mod:`.bar_csv`.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alchemiser.data.prices import PriceMatrix, to_date, to_date64

if TYPE_CHECKING:
    from alchemiser.data.bar_csv import CSV_HEADER
    from alchemiser.data.bars import (
        BarSource,
        CsvBarSource,
        LoadedBarSource,
        SymbolBars,
        price_matrix,
        read_bars_csv,
    )

_FROM_BARS = frozenset(
    {"CSV_HEADER", "BarSource", "CsvBarSource", "LoadedBarSource", "SymbolBars", "price_matrix", "read_bars_csv"}
)

__all__ = [
    "CSV_HEADER",
    "BarSource",
    "CsvBarSource",
    "LoadedBarSource",
    "PriceMatrix",
    "SymbolBars",
    "price_matrix",
    "read_bars_csv",
    "to_date",
    "to_date64",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_BARS:
        bars = importlib.import_module("alchemiser.data.bars")
        return getattr(bars, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
