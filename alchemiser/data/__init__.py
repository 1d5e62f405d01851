"""Market data for strategies: bar sources and the aligned price matrix.

Public API::

    BarSource            protocol: available() -> frozenset[str]; bars(symbol) -> SymbolBars | None
    SymbolBars           one symbol's daily OHLCV (float64 arrays, datetime64[D] dates); .until(end)
    CsvBarSource(folder) reads <folder>/<SYMBOL>.csv (date,open,high,low,close,adj_close,volume); .prices(symbols, end)
    read_bars_csv(path)  strict parser of one bar file (DataError names file and line)
    price_matrix(source, symbols, end=None) -> PriceMatrix
    PriceMatrix          dates × symbols of adj_close, NaN where no bar; from_columns({sym: (dates, closes)}),
                         .column(sym), .index_of(date), .truncate(end), .select(symbols),
                         .with_row(date, {sym: price}) (provisional bar for the dsl.md §4 live policy)

Missing-data policy: see :mod:`alchemiser.data.prices` (union date axis, no forward fill, gaps make windows
unavailable).
"""

from __future__ import annotations

from alchemiser.data.bars import CSV_HEADER, BarSource, CsvBarSource, SymbolBars, price_matrix, read_bars_csv
from alchemiser.data.prices import PriceMatrix, to_date, to_date64

__all__ = [
    "CSV_HEADER",
    "BarSource",
    "CsvBarSource",
    "PriceMatrix",
    "SymbolBars",
    "price_matrix",
    "read_bars_csv",
    "to_date",
    "to_date64",
]
