"""``PriceMatrix``: adjusted closes aligned on one trading-day axis (dates × symbols, NaN where no bar).

Missing-data policy (issue 3 §5)
--------------------------------
* The date axis is the sorted union of the dates of the symbols in the matrix (each bar file lists the sessions
  its symbol traded). In ``../shared/data/bars`` every file's dates fall on the SPY (NYSE) calendar, so in
  practice the axis is the exchange calendar over the span of the loaded symbols.
* A symbol has a value only on dates it has a bar. **Nothing is forward-filled**: a date inside a symbol's history
  with no bar (e.g. KMLM's 80 missing sessions in 2020–21) is NaN, so every indicator window that touches it is
  unavailable and recursive indicators (RSI, EMA) restart after it (dsl.md §3, "unavailable").
* A session on which the symbol did not trade is present in the source as a bar with volume 0 and the previous
  close; such bars are ordinary bars here. That is the only "fill", and it is the data vendor's, not ours.
* Dates before a symbol's first bar and after its last bar are NaN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from alchemiser.errors import DataError

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def day_array(dates: Sequence[dt.date | str] | DateArray) -> DateArray:
    """Dates as ``datetime64[D]``; a list of ``datetime.date`` goes through their ordinals, ~50x faster than numpy's
    per-object conversion (a replay of a 2,000-bar window converts tens of thousands of them)."""
    if not isinstance(dates, np.ndarray) and dates and all(type(d) is dt.date for d in dates):
        ordinals = np.fromiter((d.toordinal() for d in dates), dtype=np.int64, count=len(dates))  # type: ignore[union-attr]
        return (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
    return np.asarray(dates, dtype="datetime64[D]")


def to_date64(value: dt.date | str | np.datetime64) -> np.datetime64:
    """A date (``datetime.date``, ISO string or numpy datetime64) as ``datetime64[D]``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    try:
        result: np.datetime64 = np.array(value, dtype="datetime64[D]").reshape(1)[0]
    except ValueError as exc:
        raise DataError(f"not a date: {value!r}") from exc
    if np.isnat(result):
        raise DataError(f"not a date: {value!r}")
    return result


def to_date(value: np.datetime64) -> dt.date:
    result: dt.date = value.astype("datetime64[D]").astype(dt.date)
    return result


@dataclass(frozen=True, eq=False)
class PriceMatrix:
    """Adjusted closes: ``values[i, j]`` is the close of ``symbols[j]`` on ``dates[i]`` (NaN = no bar).

    ``dates`` is strictly increasing ``datetime64[D]``; ``symbols`` are unique. Build it with
    :meth:`from_columns` (per-symbol date/close arrays, e.g. from a :class:`~alchemiser.data.bars.BarSource`) or
    directly from aligned arrays.
    """

    dates: DateArray
    symbols: tuple[str, ...]
    values: FloatArray
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates, dtype="datetime64[D]")
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (dates.shape[0], len(self.symbols)):
            raise DataError(
                f"price matrix shape {values.shape} does not match {dates.shape[0]} dates × {len(self.symbols)} symbols"
            )
        if dates.shape[0] > 1 and not bool(np.all(dates[1:] > dates[:-1])):
            raise DataError("price matrix dates must be strictly increasing")
        if len(set(self.symbols)) != len(self.symbols):
            raise DataError("price matrix symbols must be unique")
        finite = values[~np.isnan(values)]
        if finite.size and not bool(np.all((finite > 0) & np.isfinite(finite))):
            raise DataError("price matrix holds a non-positive or infinite price")
        values.setflags(write=False)
        dates.setflags(write=False)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.symbols)})

    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, tuple[Sequence[dt.date | str] | DateArray, Sequence[float] | FloatArray]],
        *,
        axis: DateArray | None = None,
    ) -> PriceMatrix:
        """Align per-symbol ``(dates, closes)`` on the union of their dates (or on ``axis`` when given)."""
        parsed: dict[str, tuple[DateArray, FloatArray]] = {}
        for symbol, (dates, closes) in columns.items():
            d = day_array(dates)
            c = np.asarray(closes, dtype=np.float64)
            if d.shape != c.shape:
                raise DataError(f"{symbol}: {d.shape[0]} dates but {c.shape[0]} closes")
            if d.shape[0] > 1 and not bool(np.all(d[1:] > d[:-1])):
                raise DataError(f"{symbol}: dates must be strictly increasing")
            parsed[symbol] = (d, c)
        if axis is None:
            all_dates = [d for d, _ in parsed.values()]
            axis = np.unique(np.concatenate(all_dates)) if all_dates else np.array([], dtype="datetime64[D]")
        else:
            axis = np.asarray(axis, dtype="datetime64[D]")
        symbols = tuple(parsed)
        values = np.full((axis.shape[0], len(symbols)), np.nan, dtype=np.float64)
        for j, (d, c) in enumerate(parsed.values()):
            pos = np.searchsorted(axis, d)
            ok = (pos < axis.shape[0]) & (axis[np.minimum(pos, axis.shape[0] - 1)] == d) if axis.shape[0] else pos < 0
            values[pos[ok], j] = c[ok]
        return cls(axis, symbols, values)

    @classmethod
    def empty(cls) -> PriceMatrix:
        return cls(np.array([], dtype="datetime64[D]"), (), np.zeros((0, 0)))

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    def has(self, symbol: str) -> bool:
        return symbol in self._index

    def column(self, symbol: str) -> FloatArray | None:
        """Closes of ``symbol`` on the axis, or None when the matrix does not hold it."""
        j: int | None = self._index.get(symbol)
        if j is None:
            return None
        col: FloatArray = self.values[:, j]
        return col

    def index_of(self, date: dt.date | str | np.datetime64) -> int | None:
        """Row of ``date`` on the axis, or None if it is not a date of the axis."""
        d = to_date64(date)
        i = int(np.searchsorted(self.dates, d))
        if i < self.dates.shape[0] and self.dates[i] == d:
            return i
        return None

    def truncate(self, end: dt.date | str | np.datetime64) -> PriceMatrix:
        """Only the rows on or before ``end`` (the data an as-of evaluation at ``end`` may see)."""
        stop = int(np.searchsorted(self.dates, to_date64(end), side="right"))
        if stop == self.dates.shape[0]:
            return self
        return PriceMatrix(self.dates[:stop], self.symbols, self.values[:stop])

    def with_row(self, date: dt.date | str | np.datetime64, closes: Mapping[str, float]) -> PriceMatrix:
        """A copy with one provisional bar appended (dsl.md §4 ``live`` policy: latest trade prices for ``date``).

        ``date`` must be after the last date; symbols missing from ``closes`` have no bar on it (NaN). Unknown
        symbols are an error (they would silently not count).
        """
        d = to_date64(date)
        if len(self) and d <= self.dates[-1]:
            raise DataError(f"provisional bar {d} must be after the last date {self.dates[-1]}")
        unknown = sorted(set(closes) - set(self.symbols))
        if unknown:
            raise DataError(f"provisional bar names symbols the matrix does not hold: {', '.join(unknown)}")
        row = np.full((1, len(self.symbols)), np.nan)
        for symbol, price in closes.items():
            row[0, self._index[symbol]] = float(price)
        return PriceMatrix(np.append(self.dates, d), self.symbols, np.vstack([self.values, row]))

    def select(self, symbols: Iterable[str]) -> PriceMatrix:
        """The given symbols only (those the matrix holds), on the union of their own dates."""
        keep = [s for s in dict.fromkeys(symbols) if self.has(s)]
        cols = [self._index[s] for s in keep]
        values = self.values[:, cols]
        rows = ~np.all(np.isnan(values), axis=1) if cols else np.zeros(len(self), dtype=bool)
        return PriceMatrix(self.dates[rows], tuple(keep), values[rows])

    @property
    def first_date(self) -> dt.date | None:
        return to_date(self.dates[0]) if len(self) else None

    @property
    def last_date(self) -> dt.date | None:
        return to_date(self.dates[-1]) if len(self) else None
